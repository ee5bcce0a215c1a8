"""Time every chapter top to bottom in a fresh kernel, as a student would run it, per seed.

Usage::

    python benchmarks/bench_notebooks.py [--seeds 0 1 2] [chapters/02_convolution.ipynb ...]

Each chapter runs once per seed with ``SEGLEARN_SEED`` set (every chapter takes its
seed from ``seglearn.course_seed()``), so this is also the proof that the course
passes with other random draws: a cell that fails stops the run with its error.
Prints one row per notebook and seed (wall seconds, with the machine's load
average, since other work on the machine inflates the figures) and, per seed,
each budget against its target: each core chapter under 90 s, the FAQ chapters
together under 360 s, the capstone under 180 s, all on a 2-core CPU.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CORE_TARGET, FAQ_TARGET, CAPSTONE_TARGET = 90.0, 360.0, 180.0


def run(path: Path, seed: int) -> float:
    """Seconds to execute ``path`` in a fresh kernel with ``SEGLEARN_SEED=seed``."""
    nb = nbformat.read(path, as_version=4)
    os.environ["SEGLEARN_SEED"] = str(seed)  # the kernel inherits the environment
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def budgets(rows):
    """(label, seconds, target) of each budget over ``rows`` = [(name, seconds)]."""
    out = []
    for name, seconds in rows:
        if "faq" not in name and "capstone" not in name:
            out.append((f"core {name}", seconds, CORE_TARGET))
    faq = [s for name, s in rows if "faq" in name]
    if faq:
        out.append((f"FAQ chapters together ({len(faq)})", sum(faq), FAQ_TARGET))
    out += [(f"capstone {name}", s, CAPSTONE_TARGET) for name, s in rows if "capstone" in name]
    return out


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="course seeds to run (default: 0)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for seed in args.seeds:
        rows = []
        for path in paths:
            seconds = run(path, seed)
            rows.append((path.name, seconds))
            print(f"seed {seed}  {path.name:45s} {seconds:7.1f} s   (load {os.getloadavg()[0]:.2f})", flush=True)
        print(f"seed {seed}  {'total':45s} {sum(s for _, s in rows):7.1f} s")
        for label, seconds, target in budgets(rows):
            verdict = "MET" if seconds <= target else "NOT MET"
            print(f"seed {seed}  budget {label:38s} {seconds:7.1f} s of {target:.0f} s: {verdict}")


if __name__ == "__main__":
    main(sys.argv[1:])
