"""How long `seglearn grade` takes for a class (issue 17, item 5).

Fabricates a class from the chapters (default 30 students on chapters 02-05)
and grades it as an instructor would, ``--jobs 2``, printing one progress line
per notebook, then the wall time, the time per student and the machine's load.
The students come in three kinds, in turn:

* ``solved``: the instructor's notebooks (every check passes);
* ``released``: the student versions handed in untouched (every check fails);
* ``half``: the instructor's notebooks with the first exercise of each chapter
  put back to its stub (the checks that depend on it fail).

The run checks that each kind scores what it should (full, 0, in between), so
the figure is for a grading that works.

    .venv/bin/python benchmarks/bench_grading.py                      # 30 students, 02-05, --jobs 2
    .venv/bin/python benchmarks/bench_grading.py --students 6 --chapters 02 03

On a shared machine the figure grows with the load printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seglearn.grading import BEGIN_SOLUTION, grade, release, release_notebook, strip_solutions  # noqa: E402

KINDS = ("solved", "released", "half")


def _half(solution):
    """The solution with its first exercise put back to the stub."""
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    cell = next(c for c in nb.cells if c.cell_type == "code" and BEGIN_SOLUTION in c.source)
    cell.source, _ = strip_solutions(cell.source)
    return nb


def fabricate(chapters: list[Path], students: int, folder: Path) -> dict[str, str]:
    """Write ``students`` submission folders; return {student: kind}."""
    released = {path.name: release_notebook(path)[0] for path in chapters}
    kinds = {}
    for i in range(students):
        kind = KINDS[i % len(KINDS)]
        name = f"student{i + 1:02d}_{kind}"
        kinds[name] = kind
        (folder / name).mkdir(parents=True)
        for path in chapters:
            solution = nbformat.read(str(path), as_version=4)
            nb = {"solved": solution, "released": released[path.name], "half": _half(solution)}[kind]
            nbformat.write(nb, str(folder / name / path.name))
    return kinds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--chapters", nargs="+", default=["02", "03", "04", "05"], metavar="NN")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=300)
    parser.add_argument("--notebook-timeout", type=float, default=900)
    parser.add_argument("--keep", metavar="DIR", help="grade in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)

    chapters = [next(iter(sorted((ROOT / "chapters").glob(f"{n}_*.ipynb")))) for n in args.chapters]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        source = work / "chapters"
        shutil.copytree(ROOT / "chapters", source, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if n.endswith(".ipynb")
                                                 and not any(n == c.name for c in chapters)])
        release(source, work / "release", force=True)
        kinds = fabricate(chapters, args.students, work / "submissions")
        load_before = os.getloadavg()
        print(f"grading {args.students} students x {len(chapters)} chapters ({', '.join(c.stem for c in chapters)}) "
              f"with jobs={args.jobs}; load average before: {load_before[0]:.1f} (1 min), {load_before[1]:.1f} "
              f"(5 min) on {os.cpu_count()} CPUs", flush=True)
        start = time.perf_counter()
        table = grade(work / "submissions", work / "report", source, args.cell_timeout, args.notebook_timeout,
                      jobs=args.jobs, force=True, progress=lambda line: print(line, file=sys.stderr, flush=True))
        wall = time.perf_counter() - start
        load_after = os.getloadavg()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    totals = {s: row["total"] for s, row in table.totals().items()}
    possible = next(iter(totals.values()))[1]
    by_kind = {kind: sorted({totals[s][0] for s, k in kinds.items() if k == kind}) for kind in KINDS}
    print(f"points out of {possible} by kind of student: "
          + "; ".join(f"{kind} {by_kind[kind]}" for kind in KINDS if by_kind[kind]))
    problems = []
    if by_kind["solved"] and by_kind["solved"] != [possible]:
        problems.append(f"solved notebooks should score {possible}")
    if by_kind["released"] and by_kind["released"] != [0]:
        problems.append("released notebooks should score 0")
    if by_kind["half"] and not all(0 < p < possible for p in by_kind["half"]):
        problems.append(f"half-solved notebooks should score between 0 and {possible}")
    print(f"graded {args.students} students ({args.students * len(chapters)} notebooks) in {wall:.0f} s wall: "
          f"{wall / args.students:.1f} s per student with jobs={args.jobs}; load average after: "
          f"{load_after[0]:.1f} (1 min), {load_after[2]:.1f} (15 min)")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
