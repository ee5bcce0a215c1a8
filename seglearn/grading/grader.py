"""Grading a class: every student's notebooks, scored, resumable, with a progress line.

See :func:`grade`. One student's notebooks run one after another in the
student's own folder ``<out>/work/<student>/``; students run in parallel
(``jobs``). When a student is done, their results are saved in
``<out>/results/<student>.json``, so an interrupted grading loses at most the
students it was running, and a second ``grade`` into the same folder skips
the students already graded (unless ``force``).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

import nbformat

from .._validation import check_real, describe
from .notebooks import _SKIP_NAMES, Check, _copy_assets, _notebooks, _read, _scan, _source, prepare_submission
from .report import GRADESCOPE_VISIBILITIES, CheckResult, GradeTable, read_student_record, write_student_record
from .runner import (
    GradingEnvironmentError,
    _BrokenRun,
    _environment_error,
    _machinery_failure,
    _preflight,
    _run_notebook,
    _stop_all_runs,
)

__all__ = ["DEFAULT_CELL_TIMEOUT", "DEFAULT_NOTEBOOK_TIMEOUT", "grade"]

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_NOTEBOOK_TIMEOUT = 1800.0
# Bump when a change to the grader changes the scores of the same notebooks:
# students graded by an older grader are then graded again.
_GRADER_VERSION = "2"
_CALLS_AWARD = re.compile(r"\baward(?:_tiers)?\s*\(")


@dataclasses.dataclass(frozen=True)
class _Reference:
    """The instructor's copy of one notebook: its checks and the cells to restore."""

    notebook: object
    checks: tuple[Check, ...]
    awards: frozenset  # names of the checks whose code calls award()/award_tiers()
    digest: str  # of the check cells: a changed check means graded again


def _load_references(source_dir: Path) -> tuple[dict[str, _Reference], list[str]]:
    """The graded notebooks of ``source_dir`` and the names of all its notebooks.

    Raises ValueError naming the file (and cell) for an unreadable notebook,
    a broken check, or a hidden check that is only a placeholder (the folder
    holds student versions).
    """
    references, known = {}, []
    for path in _notebooks(source_dir):
        known.append(path.name)
        nb = _read(path)
        checks, placeholders = _scan(nb, path.name)
        if placeholders:
            where = f"{path}, cell {placeholders[0].cell_index}"
            raise ValueError(
                f"{where}: hidden check {placeholders[0].name!r} is only a placeholder here, so {source_dir} holds "
                f"student versions; grade with the instructor's notebooks (e.g. --source chapters/), which hold "
                f"the hidden checks")
        if not checks:  # notebooks without checks are not graded
            continue
        cells = [nb.cells[c.cell_index] for c in checks]
        digest = hashlib.sha256(json.dumps([[_source(c), c.get("metadata", {})] for c in cells],
                                           sort_keys=True).encode()).hexdigest()
        awards = frozenset(c.name for c, cell in zip(checks, cells) if _CALLS_AWARD.search(_source(cell)))
        references[path.name] = _Reference(nb, tuple(checks), awards, digest)
    if not references:
        raise ValueError(f"`source_dir` has no notebook with check cells. Received: source_dir={str(source_dir)!r}")
    return references, known


def _submitted_notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb")
                  if p.is_file() and not any(part in _SKIP_NAMES or part.startswith(".")
                                             for part in p.relative_to(folder).parts))


def _find_submission(folder: Path, name: str) -> tuple[Path | None, str]:
    direct = folder / name
    if direct.is_file():
        return direct, ""
    found = [p for p in _submitted_notebooks(folder) if p.name == name]
    if len(found) == 1:
        return found[0], ""
    if found:
        return None, f"{len(found)} files named {name}: " + ", ".join(str(p.relative_to(folder)) for p in found)
    return None, "missing"


def _unknown_notebooks(folder: Path, known: list[str]) -> dict[str, str]:
    """``{relative path: note}`` for each handed-in notebook whose name is not one of the course's."""
    notes = {}
    for path in _submitted_notebooks(folder):
        if path.name in known:
            continue
        close = difflib.get_close_matches(path.name, known, n=1, cutoff=0.6)
        hint = (f"did you mean {close[0]}? Rename it to be graded" if close
                else f"the course's notebooks are {', '.join(known)}")
        notes[path.relative_to(folder).as_posix()] = f"not a notebook of this course, so not graded ({hint})"
    return notes


def _fingerprint(folder: Path, expected: list[str], references: dict, unknown: dict) -> str:
    """What a student's grade depends on: the handed-in files and the instructor's checks."""
    h = hashlib.sha256(_GRADER_VERSION.encode())
    for name in expected:
        reference = references.get(name)
        h.update(f"\0{name}\0{reference.digest if reference else ''}\0".encode())
        path, problem = _find_submission(folder, name)
        if path is None:
            h.update(problem.encode())
        else:
            h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(json.dumps(sorted(unknown)).encode())
    return h.hexdigest()


def _award_result(student, name, check: Check, record: dict, award: dict) -> CheckResult:
    """The result of a check that gave partial credit: its last award, whatever the cell did next."""
    if award.get("of") != check.points:
        return CheckResult(student, name, check.name, check.points, 0, False,
                           f"award(..., of={award.get('of')}) but the check is worth {check.points} points",
                           check.hidden)
    points = min(max(float(award["points"]), 0.0), float(check.points))
    points = int(points) if points.is_integer() else points
    passed = points == check.points
    reason = "" if passed and record["outcome"] == "passed" else award.get("text", "")
    if record["outcome"] != "passed":
        reason = f"{reason}; then {record['message']}" if reason else record["message"]
    return CheckResult(student, name, check.name, check.points, points, passed, reason, check.hidden)


def _grader_works(python: str) -> bool:
    """Run the preflight again: whether the grader's machinery works now."""
    try:
        _preflight(python)
    except GradingEnvironmentError:
        return False
    return True


def _grade_notebook(student: str, folder: Path, name: str, reference: _Reference | None, workdir: Path,
                    logdir: Path, cell_timeout: float, notebook_timeout: float, python: str | None = None,
                    stop: threading.Event | None = None,
                    recheck: Callable[[], bool] | None = None) -> tuple[list[CheckResult], str]:
    """Grade one notebook of one student; return the results and a note.

    A run that looks as if the grader's machinery broke (no cell ran, the
    kernel did not start, pytest killed or failing) is checked by
    ``recheck`` (the preflight, again): when the grader works, the notebook
    broke its own run (a file it wrote shadows a module the kernel needs,
    its code killed pytest) and its checks that did not run score 0; when it
    does not work, or without ``recheck``, ``_BrokenRun`` is raised.
    """
    ref_checks = list(reference.checks) if reference else None

    def all_fail(checks, reason):
        return [CheckResult(student, name, c.name, c.points, 0, False, reason, c.hidden) for c in checks]

    path, problem = _find_submission(folder, name)
    if path is None:
        return all_fail(ref_checks or [], problem), problem
    try:
        submitted = _read(path)
    except ValueError as exc:
        return all_fail(ref_checks or [], "unreadable notebook"), str(exc)
    if ref_checks is None:
        try:
            checks, _ = _scan(submitted, name)
        except ValueError as exc:
            return [], f"not graded: {exc}"
        awards = frozenset(c.name for c in checks if _CALLS_AWARD.search(_source(submitted.cells[c.cell_index])))
    else:
        checks, awards = ref_checks, reference.awards
    prepared = prepare_submission(submitted, reference.notebook if reference else None, name)
    if not checks:
        return [], "; ".join(prepared.notes)
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / name
    nbformat.write(prepared.notebook, str(target))
    run = _run_notebook(target, cell_timeout, notebook_timeout, python, stop, log_dir=logdir)
    problem = _machinery_failure(run, run.log)
    if problem is not None and (recheck is None or not recheck()):
        raise _BrokenRun(problem, f"found while grading {student}/{name}, see {run.log}; the reports were not "
                                  f"written, the students graded before are saved in results/")
    by_cell = {}
    for record in run.records:
        if "cell" in record:
            by_cell.setdefault(record["cell"], record)  # setup failure or call result, first one
    if run.timed_out:
        not_run = f"not run: the notebook exceeded its time limit of {notebook_timeout:g} s"
        note = f"killed after {notebook_timeout:g} s"
    elif problem is not None:
        not_run = f"not run: {problem}"
        note = (f"its run broke ({problem}), but the grader works (checked again), so the notebook broke it: "
                f"the files it writes may hide a module the kernel needs (a json.py, say)")
    else:
        not_run = "not run"
        note = ""
    results = []
    for check in checks:
        if check.name not in prepared.cells:
            results.append(CheckResult(student, name, check.name, check.points, 0, False, "check cell missing",
                                       check.hidden))
            continue
        record = by_cell.get(prepared.cells[check.name])
        if record is None:
            results.append(CheckResult(student, name, check.name, check.points, 0, False, not_run, check.hidden))
        elif check.name in awards and isinstance(record.get("award"), dict):
            results.append(_award_result(student, name, check, record, record["award"]))
        elif record["outcome"] == "passed":
            results.append(CheckResult(student, name, check.name, check.points, check.points, True, "", check.hidden))
        else:
            results.append(CheckResult(student, name, check.name, check.points, 0, False, record["message"],
                                       check.hidden))
    if not note:
        failed = [r for r in run.records if r.get("outcome") == "failed"]
        timeouts = [r["cell"] for r in failed if str(r.get("message", "")).startswith("Timeout")]
        dead = [r["cell"] for r in failed if "Kernel dead" in str(r.get("message", ""))]
        parts = []
        if timeouts:
            parts.append(f"cell {timeouts[0]} (nbval numbering) exceeded the cell time limit of {cell_timeout:g} s")
        if dead:
            parts.append(f"the kernel died before cell {dead[0]}, so the cells after it did not run")
        note = "; ".join(parts)
    note = "; ".join([*prepared.notes, *([note] if note else []), f"ran in {run.seconds:.1f} s"])
    return results, note


def _clock(seconds: float) -> str:
    """``1:05`` or ``1:02:05``."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Progress:
    """Counts notebooks done and says, after each, how long the rest should take."""

    def __init__(self, total: int, report: Callable[[str], None] | None):
        self.total, self.report, self.done = total, report, 0
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def say(self, text: str) -> None:
        if self.report is not None:
            self.report(text)

    def step(self, text: str) -> None:
        with self.lock:
            self.done += 1
            elapsed = time.monotonic() - self.start
            left = elapsed / self.done * (self.total - self.done)
            self.say(f"[{self.done}/{self.total}] {text}; {_clock(elapsed)} elapsed, about {_clock(left)} left")


def _names(names: list[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def grade(
    submissions_dir,
    out_dir,
    source_dir=None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
    *,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    python=None,
    force: bool = False,
    hidden_visibility: str = "after_published",
) -> GradeTable:
    """Grade a class: run every submitted notebook with nbval and score its checks.

    ``submissions_dir`` holds one folder per student (hidden folders and
    ``out_dir`` are ignored); a notebook is found directly in the student's
    folder or, if only one file has its name, anywhere below it. Each
    notebook is cleaned (outputs cleared; with ``source_dir``, every check
    cell restored to the instructor's version and every hidden check put
    back where its placeholder stands) and written to
    ``out_dir/work/<student>/``, where it runs as
    ``python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=T``
    in a subprocess with its own kernel; the student's notebooks run one
    after another in that folder, so files one chapter writes are there for
    the next. A check earns its points when its cell runs without error, or
    the points of its last ``award`` call (partial credit, see
    :func:`seglearn.grading.award`).

    Before it grades anyone, ``grade`` runs a one-cell notebook the same way
    (a few seconds): if pytest, nbval, ipykernel or seglearn cannot be
    imported by ``python``, or its kernel does not start, it raises
    :class:`GradingEnvironmentError` instead of scoring correct notebooks 0.

    A notebook that is missing, unreadable, crashes its kernel or hangs costs
    only its own points: a cell over ``cell_timeout`` is interrupted and the
    notebook goes on; a notebook over ``notebook_timeout`` is killed with its
    kernel, and checks that had not run yet score 0. The grader goes on with
    the next notebook. A run that shows the grader itself broke (pytest ran
    no cell, exited with code 2-5, or the kernel did not start) is not
    scored: grading stops with :class:`GradingEnvironmentError`. A handed-in
    notebook whose name is not one of ``source_dir``'s is named in the
    student's notes (with the closest course notebook's name).

    **Resume.** Each student's results are saved when the student is done,
    in ``out_dir/results/<student>.json``. A later ``grade`` into the same
    ``out_dir`` skips a student graded before on the same handed-in files
    and the same checks (and says so), grades again one whose files or
    checks changed, and keeps in the reports every student saved there
    (also those no longer in ``submissions_dir``). ``force=True`` grades
    everyone again.

    Written to ``out_dir``: ``scores.csv`` (one row per student, notebook
    and check), ``totals.csv`` (one row per student), ``scores.md`` (both,
    with the reason for every failed check), ``feedback/<student>.md`` and
    ``.html`` (for the student: hidden checks show only name, points and
    pass/fail), ``gradescope/<student>/results.json``, ``results/`` (the
    saved results), ``work/<student>/`` (the graded copies) and
    ``logs/<student>/`` (each run's pytest output ``<notebook>.log``, capped
    at :data:`seglearn.grading.MAX_LOG_BYTES`, and its records).

    Parameters
    ----------
    submissions_dir : str or path
        One sub-folder per student.
    out_dir : str or path
        Report folder (created; the reports in it are rewritten).
    source_dir : str or path, optional
        The instructor's notebooks (with the hidden checks; the released
        ones do if there are none). Their names say which notebooks are
        expected, so a missing one scores 0 with reason "missing", and their
        check cells replace the students' copies. Without it, each
        submission is graded on the check cells it contains (a student who
        edits or deletes a check changes the grade, and hidden checks are
        not graded): always pass it for real grading.
    cell_timeout : float, default 300
        Seconds a cell may run (``--nbval-cell-timeout``).
    notebook_timeout : float, default 1800
        Seconds a whole notebook may run, kernel start included.
    jobs : int, default 1
        Students graded in parallel (each notebook uses one kernel).
    progress : callable, optional
        Called with one line of text after each notebook (with the count
        done, the time elapsed and an estimate of the time left), and for
        students skipped or graded again.
    python : str or path, optional
        The Python interpreter that runs pytest, nbval and the kernels; by
        default the one running the grader (``sys.executable``). It needs
        pytest, nbval, ipykernel and seglearn (``pip install -e .`` in the
        course folder installs them all).
    force : bool, default False
        Grade again the students already graded in ``out_dir``.
    hidden_visibility : str, default "after_published"
        Gradescope visibility of the hidden checks in ``results.json``.

    Returns
    -------
    GradeTable
        All results (skipped students' included); ``str()`` gives the
        totals table.

    Raises
    ------
    FileNotFoundError
        When ``submissions_dir`` or ``source_dir`` does not exist.
    ValueError
        For bad timeouts or ``jobs``, no student folders, or a source
        notebook that is unreadable, breaks the check convention (the
        message names the file and cell) or holds only placeholders of its
        hidden checks.
    TypeError
        When ``python`` is not a path.
    GradingEnvironmentError
        When the grader's machinery does not work (see above); the message
        names what is missing. No report is written; students finished
        before it stay saved in ``out_dir/results``.
    """
    submissions_dir, out_dir = Path(submissions_dir), Path(out_dir)
    if not submissions_dir.is_dir():
        raise FileNotFoundError(
            f"`submissions_dir` must be an existing folder. Received: submissions_dir={str(submissions_dir)!r}")
    cell_timeout = check_real(cell_timeout, "cell_timeout", low=0, low_inclusive=False)
    notebook_timeout = check_real(notebook_timeout, "notebook_timeout", low=0, low_inclusive=False)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be an integer >= 1. Received: jobs={describe(jobs)}")
    if not isinstance(force, bool):
        raise TypeError(f"`force` must be a bool. Received: force={describe(force)}")
    if hidden_visibility not in GRADESCOPE_VISIBILITIES:
        raise ValueError(f"`hidden_visibility` must be one of {GRADESCOPE_VISIBILITIES}. "
                         f"Received: hidden_visibility={hidden_visibility!r}")
    if python is None:
        python = sys.executable
    if not isinstance(python, (str, os.PathLike)):
        raise TypeError(f"`python` must be the path of a Python interpreter. Received: python={describe(python)}")
    python = os.fspath(python)
    if os.path.dirname(python):  # a path, not a name to look up on PATH: the runs start in other folders
        python = os.path.abspath(python)
    if not python:
        raise GradingEnvironmentError(
            "grading needs a Python interpreter to run the notebooks, and sys.executable is empty: "
            "pass its path as `python`", python)
    out_resolved = out_dir.resolve()
    students = sorted(
        p for p in submissions_dir.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and p.resolve() != out_resolved
    )
    if not students:
        raise ValueError(f"`submissions_dir` has no student folders. Received: submissions_dir={str(submissions_dir)!r}")

    references: dict[str, _Reference | None]
    if source_dir is not None:
        source_dir = Path(source_dir)
        if not source_dir.is_dir():
            raise FileNotFoundError(f"`source_dir` must be an existing folder. Received: source_dir={str(source_dir)!r}")
        references, known = _load_references(source_dir)
        expected = sorted(references)
    else:
        expected = sorted({p.name for s in students for p in _submitted_notebooks(s)})
        references, known = dict.fromkeys(expected), None

    # Who needs grading: nothing is written before the preflight has passed.
    results_dir = out_dir / "results"
    unknown = {s.name: _unknown_notebooks(s, known) if known is not None else {} for s in students}
    fingerprints = {s.name: _fingerprint(s, expected, references, unknown[s.name]) for s in students}
    kept: dict[str, tuple[list[CheckResult], dict]] = {}
    todo, skipped, changed = [], [], []
    for folder in students:
        record = read_student_record(results_dir / f"{folder.name}.json")
        if record is not None and not force and record[0] == fingerprints[folder.name]:
            kept[folder.name] = record[1:]
            skipped.append(folder.name)
        else:
            todo.append(folder)
            if record is not None and not force:
                changed.append(folder.name)
    names = {s.name for s in students}
    others = sorted(p.stem for p in results_dir.glob("*.json") if p.stem not in names) if results_dir.is_dir() else []
    for name in others:
        record = read_student_record(results_dir / f"{name}.json")
        if record is not None:
            kept[name] = record[1:]

    tracker = _Progress(len(todo) * len(expected), progress)
    if skipped:
        tracker.say(f"{len(skipped)} of {len(students)} students graded before on the same notebooks and checks, "
                    f"skipped (force=True, --force, grades them again): {_names(skipped)}")
    if changed:
        tracker.say(f"{len(changed)} students handed in other files or have other checks since they were graded, "
                    f"graded again: {_names(changed)}")
    if others:
        tracker.say(f"{len(others)} students graded before are not in {submissions_dir}; their saved results stay "
                    f"in the reports: {_names(others)}")

    if todo:
        _preflight(python)  # before anything is written: a broken grader must not score anyone
    tracker.start = time.monotonic()  # the estimate counts notebooks, not the preflight
    work, logs = out_dir / "work", out_dir / "logs"
    out_dir.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()

    def grade_student(folder: Path):
        try:
            return grade_one(folder)
        except BaseException:  # the grader broke (or was stopped): start no other notebook
            stop.set()
            raise

    def grade_one(folder: Path):
        results, notes = [], {(folder.name, path): text for path, text in unknown[folder.name].items()}
        if stop.is_set():
            return None
        workdir, logdir = work / folder.name, logs / folder.name
        for path in (workdir, logdir):
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
        if source_dir is not None:
            _copy_assets(source_dir, workdir)
        for name in expected:
            if stop.is_set():
                return None  # stopped half-way: save nothing, so the next run grades this student again
            rows, note = _grade_notebook(folder.name, folder, name, references[name], workdir, logdir,
                                         cell_timeout, notebook_timeout, python, stop,
                                         recheck=lambda: _grader_works(python))
            if note == "missing":
                hints = [p for p, text in unknown[folder.name].items() if f"did you mean {name}?" in text]
                if hints:
                    note = f"missing; a notebook named {hints[0]} was handed in: rename it to {name}"
            results += rows
            if note:
                notes[(folder.name, name)] = note
            got = sum(r.points for r in rows), sum(r.possible for r in rows)
            tracker.step(f"{folder.name} / {name}: {got[0]:g}/{got[1]} points" + (f" ({note})" if note else ""))
        write_student_record(results_dir / f"{folder.name}.json", folder.name, results, notes,
                             fingerprints[folder.name])
        return results, notes

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(grade_student, folder) for folder in todo]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
                failed = next((f for f in futures if f.done() and not f.cancelled() and f.exception()), None)
                if failed is not None:
                    raise failed.exception()
            except BaseException:
                # Ctrl+C, SIGTERM, or one student's grading failed (the grader broke):
                # stop every notebook still running, and their kernels.
                stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                _stop_all_runs()
                raise
    except _BrokenRun as broken:
        raise _environment_error(python, broken.problem, broken.context) from None
    graded = {folder.name: f.result() for folder, f in zip(todo, futures)}
    order = sorted({*names, *kept})
    results, notes = [], {}
    for student in order:
        rows, student_notes = graded.get(student) or kept[student]
        results += rows
        notes.update(student_notes)
    table = GradeTable(results, notes, order)
    table.write_reports(out_dir, hidden_visibility=hidden_visibility)
    return table
