"""Instructor tools: release student notebooks and grade submissions with nbval.

The chapters follow one convention (see the team brief and ``chapters/``):

* an exercise cell holds its solution between two lines
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the code around them is
  what the student starts from;
* each exercise is followed by a *check cell* whose first line is
  ``# CHECK: <name> (<points> points)`` and whose cell metadata is
  ``{"seglearn": {"check": "<name>", "points": <int>}}``; it ``assert`` s
  against a reference, so it fails while the exercise is unsolved or wrong.

:func:`release` turns the solution notebooks into student notebooks: each
solution region becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError``
(at the region's indentation), outputs are cleared and check cells are made
read-only in JupyterLab. :func:`grade` runs every submitted notebook with
nbval, one ``python -m pytest --nbval`` subprocess (and so one kernel) per
notebook, with a time limit per cell and per notebook, and writes a score
table. Student code never runs in the grader's process.

How nbval behaves matters for the points (verified with nbval 0.11): it runs
the cells of a notebook in one kernel, one test item per code cell
(``notebook.ipynb::Cell N``, N counting code cells from 0), and goes on after
a failing cell, so a wrong exercise costs only the checks that depend on it.
After a cell times out it interrupts the kernel and still runs the remaining
cells, but marks them ``xfail``; the grader reads each cell's real outcome
(a plain ``pytest --nbval`` run reports later passes as XPASS). When the
kernel dies, the remaining cells fail with "Kernel dead on test start".

A grader whose own machinery fails must not award zeros: :func:`grade` first
runs a one-cell notebook through the same runner, and stops with
:class:`GradingEnvironmentError` (naming what is missing) when pytest, nbval,
ipykernel or seglearn cannot be imported or a kernel cannot start; a
notebook's run that shows the same (pytest ran no cell, exited with code 2-5,
or the kernel did not start) stops the grading too, before any score is written.

The module doubles as the small pytest plugin (``-p seglearn.grading``) that
the grading subprocess loads to log each cell's outcome as JSON lines; its
hooks do nothing unless ``SEGLEARN_GRADING_LOG`` is set.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

import nbformat

from ._validation import check_bool, check_real, describe

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "Check",
    "CheckResult",
    "GradeTable",
    "GradingEnvironmentError",
    "NotebookRelease",
    "PointsTable",
    "ReleaseReport",
    "add_subcommands",
    "find_checks",
    "grade",
    "points_table",
    "release",
    "release_notebook",
    "strip_solutions",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
#: What replaces a solution region in a code cell (after the indentation).
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError")
#: What replaces a solution region in a markdown cell (a written answer).
MARKDOWN_STUB = ("YOUR ANSWER HERE",)

_CHECK_LINE = re.compile(r"#\s*CHECK:\s*(?P<name>.+?)\s*\((?P<points>[^)]*)\)\s*")
_POINTS_TEXT = re.compile(r"(?P<n>\d+) points?")
# Comment markers and cell tags that change what nbval does with a cell; a
# check cell must not carry them (NBVAL_RAISES_EXCEPTION would make it pass).
_NBVAL_MARKER = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_IGNORE_OUTPUT)\s*$", re.M)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SKIP_NAMES = {"outputs", ".ipynb_checkpoints", "__pycache__"}
_LOG_ENV = "SEGLEARN_GRADING_LOG"

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_NOTEBOOK_TIMEOUT = 1800.0


# --------------------------------------------------------------------------- reading notebooks
def _source(cell) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def _read(path: Path):
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # invalid JSON, not a notebook, unreadable file
        raise ValueError(f"{path.name}: cannot read the notebook: {exc}") from None


def _as_notebook(notebook, name: str = "notebook"):
    """Accept a path or an already loaded notebook; return ``(nb, name)``."""
    if isinstance(notebook, (str, os.PathLike)):
        path = Path(notebook)
        if not path.is_file():
            raise FileNotFoundError(f"`notebook` must be an existing .ipynb file. Received: notebook={str(path)!r}")
        return _read(path), path.name
    if isinstance(notebook, Mapping) and "cells" in notebook:
        return nbformat.from_dict(notebook), name
    raise TypeError(f"`notebook` must be a path or a notebook (dict with 'cells'). Received: notebook={describe(notebook)}")


def _where(name: str, index: int, cell) -> str:
    first = next((line.strip() for line in _source(cell).splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"{name}, cell {index} ({cell.get('cell_type', '?')} cell starting {first!r})"


# --------------------------------------------------------------------------- checks
@dataclasses.dataclass(frozen=True)
class Check:
    """One check cell of a notebook.

    Parameters
    ----------
    name : str
        The check's short name (``seglearn.check`` in the cell metadata).
    points : int
        Points the check is worth (``seglearn.points``), at least 1.
    cell_index : int
        Index of the cell in ``notebook.cells`` (all cells, from 0).
    code_index : int
        Index among the code cells only, from 0: nbval names this cell's
        test item ``notebook.ipynb::Cell <code_index>``.
    """

    name: str
    points: int
    cell_index: int
    code_index: int


def _check_header(cell) -> tuple[str, str] | None:
    lines = _source(cell).splitlines()
    if not lines:
        return None
    match = _CHECK_LINE.fullmatch(lines[0].strip())
    return (match["name"], match["points"]) if match else None


def find_checks(notebook, name: str = "notebook") -> list[Check]:
    """List the check cells of a notebook, validating the convention.

    A check cell is a code cell whose first line is
    ``# CHECK: <name> (<points> points)`` or whose metadata has a
    ``seglearn.check`` entry; both must be present and agree.

    Parameters
    ----------
    notebook : str, path or notebook
        A ``.ipynb`` path or a loaded notebook (``nbformat.NotebookNode`` or
        dict).
    name : str, default "notebook"
        Name used in error messages when ``notebook`` is not a path.

    Returns
    -------
    list of Check
        In notebook order.

    Raises
    ------
    ValueError
        For a check cell without points metadata, metadata that disagrees
        with the first line, points that are not a positive integer, a check
        in a markdown cell, or two checks with the same name. The message
        names the notebook and the cell.

    Examples
    --------
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell(
    ...     "# CHECK: shape (2 points)\\nassert True",
    ...     metadata={"seglearn": {"check": "shape", "points": 2}})
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), cell])
    >>> find_checks(nb)
    [Check(name='shape', points=2, cell_index=1, code_index=1)]
    >>> del cell.metadata["seglearn"]
    >>> find_checks(nb)
    Traceback (most recent call last):
    ...
    ValueError: notebook, cell 1 (code cell starting '# CHECK: shape (2 points)'): a check cell needs the metadata {"seglearn": {"check": "shape", "points": 2}}; it has none
    """
    nb, name = _as_notebook(notebook, name)
    checks: list[Check] = []
    code_index = -1
    for index, cell in enumerate(nb.cells):
        is_code = cell.cell_type == "code"
        code_index += is_code
        header = _check_header(cell)
        meta = cell.get("metadata", {}).get("seglearn")
        meta = meta if isinstance(meta, Mapping) else {}
        if header is None and "check" not in meta:
            continue
        where = _where(name, index, cell)
        if not is_code:
            raise ValueError(f"{where}: a check must be a code cell")
        if header is None:
            raise ValueError(
                f"{where}: the cell has check metadata {dict(meta)} but its first line is not "
                f"'# CHECK: <name> (<points> points)'"
            )
        title, points_text = header
        match = _POINTS_TEXT.fullmatch(points_text.strip())
        if not match:
            raise ValueError(f"{where}: the first line must end in '(<points> points)'. Received: ({points_text})")
        if "check" not in meta or "points" not in meta:
            raise ValueError(
                f"{where}: a check cell needs the metadata "
                f'{{"seglearn": {{"check": "{title}", "points": {match["n"]}}}}}; '
                f"it has {json.dumps(dict(meta)) if meta else 'none'}"
            )
        points = meta["points"]
        if isinstance(points, bool) or not isinstance(points, int) or points < 1:
            raise ValueError(f"{where}: `seglearn.points` must be an integer >= 1. Received: points={points!r}")
        if meta["check"] != title or points != int(match["n"]):
            raise ValueError(
                f"{where}: the first line says check {title!r} worth {match['n']} points but the "
                f"metadata says {meta['check']!r} worth {points}; make them agree"
            )
        if any(c.name == title for c in checks):
            raise ValueError(f"{where}: a second check named {title!r}; check names must be unique in a notebook")
        checks.append(Check(title, points, index, code_index))
    return checks


@dataclasses.dataclass(frozen=True)
class PointsTable:
    """The graded checks of one notebook and their points.

    Shown as a Markdown table in a notebook (``_repr_markdown_``) and as
    plain text by ``str``.

    Parameters
    ----------
    notebook : str
        The notebook's file name.
    checks : tuple of Check
        The check cells in notebook order.
    """

    notebook: str
    checks: tuple[Check, ...]

    @property
    def total(self) -> int:
        """Sum of the points of all checks."""
        return sum(c.points for c in self.checks)

    def __str__(self) -> str:
        width = max([len("check"), *(len(c.name) for c in self.checks)])
        lines = [f"{'check':<{width}}  points"]
        lines += [f"{c.name:<{width}}  {c.points:>6}" for c in self.checks]
        lines.append(f"{'total':<{width}}  {self.total:>6}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        rows = [f"| {_md(c.name)} | {c.points} |" for c in self.checks]
        return "\n".join(["| Check | Points |", "|---|---:|", *rows, f"| **Total** | **{self.total}** |"])


def points_table(notebook) -> PointsTable:
    """The checks of a notebook and their points, with the total.

    A chapter can show its own table so the student sees what is graded:
    ``seglearn.grading.points_table("02_convolution.ipynb")`` (the kernel's
    working directory is the notebook's folder).

    Parameters
    ----------
    notebook : str, path or notebook
        A ``.ipynb`` path or a loaded notebook.

    Returns
    -------
    PointsTable
        ``.checks``, ``.total``; renders as a Markdown table in Jupyter.

    Raises
    ------
    ValueError
        When a check cell breaks the convention (see :func:`find_checks`).

    Examples
    --------
    >>> import nbformat
    >>> def check(name, points):
    ...     return nbformat.v4.new_code_cell(f"# CHECK: {name} ({points} points)\\nassert True",
    ...         metadata={"seglearn": {"check": name, "points": points}})
    >>> table = points_table(nbformat.v4.new_notebook(cells=[check("shape", 2), check("values", 3)]))
    >>> table.total
    5
    >>> print(table)
    check   points
    shape        2
    values       3
    total        5
    """
    nb, name = _as_notebook(notebook)
    return PointsTable(name, tuple(find_checks(nb, name)))


# --------------------------------------------------------------------------- release
def strip_solutions(source: str, *, markdown: bool = False) -> tuple[str, int]:
    """Replace every solution region of one cell's source by a stub.

    A region runs from a line ``### BEGIN SOLUTION`` to the next line
    ``### END SOLUTION`` (both included; surrounding spaces allowed). In code
    it becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError``,
    indented like the ``BEGIN`` line; in markdown, ``YOUR ANSWER HERE``.

    Parameters
    ----------
    source : str
        The cell's source.
    markdown : bool, default False
        Whether the cell is a markdown cell.

    Returns
    -------
    source : str
        The source with the regions replaced.
    regions : int
        Number of regions replaced.

    Raises
    ------
    ValueError
        For a ``BEGIN`` inside a region, or an ``END`` without ``BEGIN``, or a
        ``BEGIN`` without ``END`` (the message gives the line number, from 1).

    Examples
    --------
    >>> src = "def area(w, h):\\n    ### BEGIN SOLUTION\\n    return w * h\\n    ### END SOLUTION\\n"
    >>> out, n = strip_solutions(src)
    >>> print(out, end="")
    def area(w, h):
        # YOUR CODE HERE
        raise NotImplementedError
    >>> n
    1
    >>> strip_solutions("### BEGIN SOLUTION\\nx = 1\\n")
    Traceback (most recent call last):
    ...
    ValueError: '### BEGIN SOLUTION' on line 1 has no matching '### END SOLUTION'
    """
    check_bool(markdown, "markdown")
    stub = MARKDOWN_STUB if markdown else CODE_STUB
    out: list[str] = []
    begin_line = None
    regions = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if begin_line is not None:
                raise ValueError(
                    f"{BEGIN_SOLUTION!r} on line {number} is inside the region opened on line "
                    f"{begin_line}; close it with {END_SOLUTION!r} first"
                )
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            newline = "\n" if line.endswith("\n") else ""
            out.extend(f"{indent}{text}\n" for text in stub[:-1])
            out.append(f"{indent}{stub[-1]}{newline}")
        elif marker == END_SOLUTION:
            if begin_line is None:
                raise ValueError(f"{END_SOLUTION!r} on line {number} has no {BEGIN_SOLUTION!r} before it")
            begin_line = None
            regions += 1
            if not line.endswith("\n") and out and out[-1].endswith("\n"):
                out[-1] = out[-1][:-1]  # the region ended the cell: so does the stub
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ValueError(f"{BEGIN_SOLUTION!r} on line {begin_line} has no matching {END_SOLUTION!r}")
    return "".join(out), regions


@dataclasses.dataclass(frozen=True)
class NotebookRelease:
    """What :func:`release_notebook` stripped from one notebook.

    Parameters
    ----------
    notebook : str
        File name.
    regions : int
        Solution regions replaced by stubs.
    checks : int
        Check cells.
    points : int
        Sum of the checks' points.
    """

    notebook: str
    regions: int
    checks: int
    points: int


def release_notebook(notebook, name: str = "notebook"):
    """Make the student version of one solution notebook.

    Solution regions become stubs (:func:`strip_solutions`), all outputs and
    execution counts are cleared, and check cells get the JupyterLab cell
    metadata ``editable: false, deletable: false`` so a student cannot change
    or delete them by accident. Everything else is kept as it is.

    Parameters
    ----------
    notebook : str, path or notebook
        The solution notebook (not modified).
    name : str, default "notebook"
        Name used in messages when ``notebook`` is not a path.

    Returns
    -------
    student : nbformat.NotebookNode
        The student notebook.
    report : NotebookRelease
        Counts of regions, checks and points.

    Raises
    ------
    ValueError
        For unbalanced markers or a check cell that breaks the convention;
        the message names the notebook and the cell.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("### BEGIN SOLUTION\\nanswer = 42\\n### END SOLUTION"),
    ...     nbformat.v4.new_code_cell("# CHECK: answer (1 point)\\nassert answer == 42",
    ...         metadata={"seglearn": {"check": "answer", "points": 1}})])
    >>> student, report = release_notebook(nb, "quiz.ipynb")
    >>> print(student.cells[0].source)
    # YOUR CODE HERE
    raise NotImplementedError
    >>> report
    NotebookRelease(notebook='quiz.ipynb', regions=1, checks=1, points=1)
    """
    nb, name = _as_notebook(notebook, name)
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy we may change
    checks = find_checks(nb, name)
    check_cells = {c.cell_index for c in checks}
    regions = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        try:
            cell.source, n = strip_solutions(_source(cell), markdown=cell.cell_type == "markdown")
        except ValueError as exc:
            raise ValueError(f"{_where(name, index, cell)}: unbalanced solution markers: {exc}") from None
        if n and index in check_cells:
            raise ValueError(f"{_where(name, index, cell)}: a check cell must not contain a solution region")
        regions += n
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if index in check_cells:
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    nbformat.validate(nb)
    return nb, NotebookRelease(name, regions, len(checks), sum(c.points for c in checks))


@dataclasses.dataclass(frozen=True)
class ReleaseReport:
    """What :func:`release` wrote.

    Parameters
    ----------
    source_dir, out_dir : Path
        Where the solution notebooks came from and the student ones went.
    notebooks : tuple of NotebookRelease
        One entry per notebook, in file-name order.
    copied : tuple of str
        Other files and folders copied unchanged (relative paths).
    """

    source_dir: Path
    out_dir: Path
    notebooks: tuple[NotebookRelease, ...]
    copied: tuple[str, ...] = ()

    @property
    def points(self) -> int:
        """Total points over all notebooks."""
        return sum(n.points for n in self.notebooks)

    def __str__(self) -> str:
        width = max([len("notebook"), *(len(n.notebook) for n in self.notebooks)])
        head = f"{'notebook':<{width}}  solutions  checks  points"
        lines = [f"Released {len(self.notebooks)} notebooks from {self.source_dir} to {self.out_dir}", head]
        lines += [f"{n.notebook:<{width}}  {n.regions:>9}  {n.checks:>6}  {n.points:>6}" for n in self.notebooks]
        total = (sum(n.regions for n in self.notebooks), sum(n.checks for n in self.notebooks), self.points)
        lines.append(f"{'total':<{width}}  {total[0]:>9}  {total[1]:>6}  {total[2]:>6}")
        if self.copied:
            lines.append(f"copied unchanged: {', '.join(self.copied)}")
        return "\n".join(lines)


def _assets(source_dir: Path) -> list[Path]:
    """Files and folders beside the notebooks that the notebooks may use."""
    return sorted(
        p for p in source_dir.iterdir()
        if p.suffix != ".ipynb" and p.name not in _SKIP_NAMES and not p.name.startswith(".")
    )


def _copy_assets(source_dir: Path, out_dir: Path) -> list[str]:
    copied = []
    ignore = shutil.ignore_patterns(*_SKIP_NAMES, ".*")
    for path in _assets(source_dir):
        target = out_dir / path.name
        if path.is_dir():
            shutil.copytree(path, target, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target)
        copied.append(path.name)
    return copied


def _notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file())


def release(source_dir, out_dir, force: bool = False) -> ReleaseReport:
    """Write the student versions of all notebooks in a folder.

    Every ``*.ipynb`` directly in ``source_dir`` is released with
    :func:`release_notebook`; the other files and folders beside them (except
    ``outputs/``, checkpoints, caches and hidden files) are copied unchanged.
    All notebooks are checked before anything is written.

    Parameters
    ----------
    source_dir : str or path
        Folder of solution notebooks, e.g. ``chapters/``.
    out_dir : str or path
        Folder for the student notebooks; created if needed. It must not be
        ``source_dir`` or lie inside it.
    force : bool, default False
        Overwrite files in a non-empty ``out_dir``; without it a non-empty
        ``out_dir`` is refused.

    Returns
    -------
    ReleaseReport
        Per notebook: solution regions, checks and points; ``str()`` gives a
        table.

    Raises
    ------
    FileNotFoundError
        When ``source_dir`` does not exist.
    FileExistsError
        When ``out_dir`` is not empty and ``force`` is False.
    ValueError
        For unbalanced markers or a broken check cell (naming notebook and
        cell), an empty ``source_dir``, or an ``out_dir`` inside ``source_dir``.

    Examples
    --------
    >>> import nbformat, tempfile
    >>> from pathlib import Path
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("### BEGIN SOLUTION\\nanswer = 42\\n### END SOLUTION"),
    ...     nbformat.v4.new_code_cell("# CHECK: answer (1 point)\\nassert answer == 42",
    ...         metadata={"seglearn": {"check": "answer", "points": 1}})])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (Path(tmp) / "src").mkdir()
    ...     nbformat.write(nb, str(Path(tmp) / "src" / "quiz.ipynb"))
    ...     print(release(Path(tmp) / "src", Path(tmp) / "student"))  # doctest: +ELLIPSIS
    Released 1 notebooks from .../src to .../student
    notebook    solutions  checks  points
    quiz.ipynb          1       1       1
    total               1       1       1
    """
    force = check_bool(force, "force")
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"`source_dir` must be an existing folder. Received: source_dir={str(source_dir)!r}")
    src, out = source_dir.resolve(), out_dir.resolve()
    if out == src or src in out.parents:
        raise ValueError(
            f"`out_dir` must lie outside `source_dir`. Received: out_dir={str(out_dir)!r}, "
            f"source_dir={str(source_dir)!r}"
        )
    paths = _notebooks(source_dir)
    if not paths:
        raise ValueError(f"`source_dir` holds no .ipynb notebooks. Received: source_dir={str(source_dir)!r}")
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(
            f"`out_dir` {str(out_dir)!r} is not empty; pass force=True (--force) to overwrite the notebooks in it"
        )
    released = [release_notebook(path) for path in paths]  # check everything before writing anything
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, (student, _) in zip(paths, released):
        nbformat.write(student, str(out_dir / path.name))
    copied = _copy_assets(source_dir, out_dir)
    return ReleaseReport(source_dir, out_dir, tuple(r for _, r in released), tuple(copied))


# --------------------------------------------------------------------------- pytest plugin (grading subprocess)
def _log(record: dict) -> None:
    path = os.environ.get(_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _error_text(excinfo) -> str:
    """One line saying why a cell failed, e.g. ``AssertionError: shape wrong``."""
    exc = excinfo.value
    headline = str(exc).strip()
    if headline.startswith("Timeout"):
        return headline
    traceback = _ANSI.sub("", getattr(exc, "inner_traceback", None) or "")
    lines = [line.rstrip() for line in traceback.splitlines()]
    error = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning)\b")
    for start in range(len(lines) - 1, -1, -1):
        if error.match(lines[start]):
            text = " ".join(line.strip() for line in lines[start:] if line.strip()).rstrip(":")
            return text if len(text) <= 300 else text[:297] + "..."
    return f"{excinfo.typename}: {headline}" if headline else excinfo.typename


def pytest_runtest_call(item):
    """Log the kernel's process id once, so a hung notebook can be killed."""
    if not os.environ.get(_LOG_ENV) or getattr(item.config, "_seglearn_kernel_logged", False):
        return
    km = getattr(getattr(item.parent, "kernel", None), "km", None)
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    if pid:
        item.config._seglearn_kernel_logged = True
        _log({"kernel_pid": int(pid)})


def pytest_runtest_makereport(item, call):
    """Log each cell's real outcome (nbval turns cells after a timeout into xfail)."""
    cell = getattr(item, "cell_num", None)
    if cell is None or not os.environ.get(_LOG_ENV):
        return None
    if call.when == "call" or call.excinfo is not None:
        if call.excinfo is None:
            outcome, message = "passed", ""
        elif call.excinfo.typename == "Skipped":
            outcome, message = "skipped", "skipped (NBVAL_SKIP)"
        else:
            outcome, message = "failed", _error_text(call.excinfo)
        _log({"cell": cell, "when": call.when, "outcome": outcome, "message": message,
              "duration": round(call.duration, 3)})
    return None  # let pytest build its report as usual


# --------------------------------------------------------------------------- grading
@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The result of one check of one student's notebook.

    Parameters
    ----------
    student : str
        The student's folder name.
    notebook : str
        Notebook file name.
    check : str
        Check name.
    possible : int
        Points the check is worth.
    points : int
        Points earned: ``possible`` if it passed, else 0.
    passed : bool
        Whether the check cell ran without error.
    reason : str
        Why it failed ("" when it passed), e.g. ``"missing"``,
        ``"AssertionError: ..."``, ``"Timeout of 60 seconds exceeded ..."``.
    """

    student: str
    notebook: str
    check: str
    possible: int
    points: int
    passed: bool
    reason: str = ""


_CSV_FIELDS = ("student", "notebook", "check", "possible", "points", "passed", "reason")


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclasses.dataclass
class GradeTable:
    """Scores of a class: one :class:`CheckResult` per student, notebook and check.

    Parameters
    ----------
    results : list of CheckResult
        Sorted by student, then notebook, then check order in the notebook.
    notes : dict, optional
        ``{(student, notebook): text}``: what happened to a notebook as a
        whole (missing, timed out, ...), shown in the Markdown report.
    student_names : list of str, optional
        Every student graded, also those without any result; by default the
        students that appear in ``results``.
    """

    results: list[CheckResult]
    notes: dict = dataclasses.field(default_factory=dict)
    student_names: list = dataclasses.field(default_factory=list)

    @property
    def students(self) -> list[str]:
        """Student names in order."""
        return list(dict.fromkeys([*self.student_names, *(r.student for r in self.results)]))

    @property
    def notebooks(self) -> list[str]:
        """Graded notebook names in order."""
        return sorted(dict.fromkeys(r.notebook for r in self.results))

    def score(self, student: str, notebook: str | None = None) -> tuple[int, int]:
        """Points earned and possible for a student (in one notebook or in all).

        Parameters
        ----------
        student : str
            The student's folder name.
        notebook : str, optional
            Restrict to this notebook.

        Returns
        -------
        (int, int)
            ``(points, possible)``; ``(0, 0)`` when there is no result.
        """
        rows = [r for r in self.results if r.student == student and notebook in (None, r.notebook)]
        return sum(r.points for r in rows), sum(r.possible for r in rows)

    def totals(self) -> dict[str, dict[str, tuple[int, int]]]:
        """``{student: {notebook: (points, possible), ..., "total": (points, possible)}}``."""
        out = {}
        for student in self.students:
            row = {nb: self.score(student, nb) for nb in self.notebooks
                   if any(r.student == student and r.notebook == nb for r in self.results)}
            row["total"] = self.score(student)
            out[student] = row
        return out

    def write_csv(self, path) -> Path:
        """Write one row per student, notebook and check (``passed`` as 0/1).

        Parameters
        ----------
        path : str or path
            The CSV file to write.

        Returns
        -------
        Path
        """
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(_CSV_FIELDS)
            for r in self.results:
                writer.writerow([r.student, r.notebook, r.check, r.possible, r.points, int(r.passed), r.reason])
        return path

    def write_totals_csv(self, path) -> Path:
        """Write one row per student: points per notebook, total and possible.

        Parameters
        ----------
        path : str or path
            The CSV file to write.

        Returns
        -------
        Path
        """
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student", *self.notebooks, "total", "possible"])
            for student, row in self.totals().items():
                cells = [row[nb][0] if nb in row else "" for nb in self.notebooks]
                writer.writerow([student, *cells, row["total"][0], row["total"][1]])
        return path

    def to_markdown(self) -> str:
        """The totals table, then each student's checks with reasons."""
        names = [Path(nb).stem for nb in self.notebooks]
        lines = ["# Scores", "", "| Student | " + " | ".join(map(_md, names)) + " | Total |",
                 "|---|" + "---:|" * (len(names) + 1)]
        for student, row in self.totals().items():
            cells = [f"{row[nb][0]}/{row[nb][1]}" if nb in row else "" for nb in self.notebooks]
            total = row["total"]
            lines.append(f"| {_md(student)} | " + " | ".join(cells) + f" | **{total[0]}/{total[1]}** |")
        for student in self.students:
            lines += ["", f"## {_md(student)}", "", "| Notebook | Check | Result | Points | Reason |",
                      "|---|---|---|---:|---|"]
            for r in (r for r in self.results if r.student == student):
                result = "pass" if r.passed else "FAIL"
                lines.append(f"| {_md(r.notebook)} | {_md(r.check)} | {result} | {r.points}/{r.possible} | {_md(r.reason)} |")
            notes = [(nb, text) for (s, nb), text in sorted(self.notes.items()) if s == student]
            if notes:
                lines += [""] + [f"- {_md(nb)}: {_md(text)}" for nb, text in notes]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        width = max([len("student"), *(len(s) for s in self.students)])
        names = [Path(nb).stem for nb in self.notebooks]
        widths = [max(len(n), 7) for n in names]
        lines = [f"{'student':<{width}}  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths)) + "    total"]
        for student, row in self.totals().items():
            cells = [f"{row[nb][0]}/{row[nb][1]}" if nb in row else "-" for nb in self.notebooks]
            total = "{}/{}".format(*row["total"])
            lines.append(f"{student:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)) + f"  {total:>7}")
        return "\n".join(lines)


class GradingEnvironmentError(RuntimeError):
    """The grader's own machinery does not work, so it cannot score anyone.

    :func:`grade` raises it, before writing any score, when the Python that
    runs the notebooks cannot import pytest, nbval, ipykernel or seglearn,
    when a Jupyter kernel cannot start, or when a notebook's pytest run ends
    in a way that shows the machinery broke (no cell ran, or pytest exited
    with code 2, 3, 4 or 5: interrupted, internal error, usage error, no
    tests collected). Scoring such runs would give correct notebooks 0
    points. The message says what is missing and how to install it, e.g.
    ``grading needs nbval, which is not installed in /usr/bin/python3: ...``.

    Parameters
    ----------
    message : str
        What does not work and how to fix it.
    python : str, optional
        The interpreter that runs the notebooks.
    missing : tuple of str, default ()
        The modules it cannot import, e.g. ``("pytest", "nbval")``.
    """

    def __init__(self, message: str, python: str | None = None, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.python = python
        self.missing = tuple(missing)


@dataclasses.dataclass
class _Run:
    records: list[dict]
    returncode: int | None
    timed_out: bool
    seconds: float
    kernel_pid: int | None = None


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
    return records


def _kill_group(pid: int) -> None:
    if os.name == "posix":
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    else:  # Windows: end the process and its children
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True, check=False)


def _pytest_command(notebook: Path, workdir: Path, cell_timeout: float, python: str) -> list[str]:
    return [
        python, "-m", "pytest", "--nbval", "--nbval-current-env",
        f"--nbval-cell-timeout={cell_timeout:g}", "-p", "no:cacheprovider", "-p", "seglearn.grading",
        "-c", str(workdir / "pytest.ini"), "--rootdir", str(workdir), "-q", "-rN", notebook.name,
    ]


# Grading subprocesses still running, so that an interrupted grader (Ctrl+C,
# SIGTERM) can stop them and their kernels: both run in sessions of their own
# and would not receive the terminal's signal.
_RUNNING: dict[int, tuple[subprocess.Popen, Path]] = {}
_RUNNING_LOCK = threading.Lock()


def _stop_run(proc: subprocess.Popen, log: Path) -> None:
    """Kill a grading subprocess, its process group and its kernel."""
    # The kernel runs in a session of its own (jupyter_client starts it so),
    # so killing pytest's group does not reach it: kill it by its logged pid.
    for record in _read_log(log):
        if "kernel_pid" in record:
            _kill_group(record["kernel_pid"])
    _kill_group(proc.pid)
    proc.wait()


def _stop_all_runs() -> None:
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for proc, log in running:
        _stop_run(proc, log)


def _runner_env(log: Path | None = None) -> dict[str, str]:
    """The environment of a grading subprocess (and of the preflight's probe)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", _LOG_ENV)}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    if log is not None:
        env[_LOG_ENV] = str(log)
    return env


def _run_notebook(notebook: Path, cell_timeout: float, notebook_timeout: float, python: str | None = None,
                  stop: threading.Event | None = None) -> _Run:
    """Run one notebook with nbval in its own pytest process and kernel.

    ``python`` (default ``sys.executable``) runs pytest; with
    ``--nbval-current-env`` the kernel runs in the same interpreter. A run
    that starts after ``stop`` was set is killed at once (the grading was
    stopped while it started, too late for ``_stop_all_runs`` to see it).
    """
    notebook = notebook.resolve()  # the subprocess runs in the notebook's folder
    workdir = notebook.parent
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # ignore any project config above
    log = notebook.with_suffix(".jsonl")
    log.unlink(missing_ok=True)
    env = _runner_env(log)
    command = _pytest_command(notebook, workdir, cell_timeout, python or sys.executable)
    start = time.monotonic()
    with open(notebook.with_suffix(".log"), "w", encoding="utf-8") as out:
        kwargs = ({"start_new_session": True} if os.name == "posix"
                  else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP})
        proc = subprocess.Popen(command, cwd=workdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
        with _RUNNING_LOCK:
            _RUNNING[proc.pid] = (proc, log)
        timed_out = False
        try:
            if stop is not None and stop.is_set():
                _stop_run(proc, log)
            returncode = proc.wait(timeout=notebook_timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop_run(proc, log)
            returncode = proc.returncode
        except BaseException:  # interrupted: leave nothing running
            _stop_run(proc, log)
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(proc.pid, None)
    records = _read_log(log)
    kernel = next((r["kernel_pid"] for r in records if "kernel_pid" in r), None)
    return _Run(records, returncode, timed_out, time.monotonic() - start, kernel)


# pytest's exit codes that mean it did not (or could not) run the tests:
# 1 means tests failed, which for a notebook is the student's doing.
_PYTEST_EXIT = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
_GRADER_MODULES = ("pytest", "nbval", "ipykernel", "seglearn.grading")
_PREFLIGHT_TIMEOUT = 120.0
# Run by the notebooks' interpreter: which of the grader's modules it cannot import, and why.
_PROBE = """\
import importlib, json, sys
missing = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        absent = isinstance(exc, ModuleNotFoundError) and exc.name in (name, name.split(".")[0])
        missing[name] = {"absent": absent, "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(missing))
"""


class _BrokenRun(Exception):
    """A notebook's run shows the grader's machinery broke (internal: becomes GradingEnvironmentError)."""

    def __init__(self, problem: str, context: str):
        super().__init__(problem)
        self.problem, self.context = problem, context


def _log_reason(log: Path) -> str:
    """The line of a pytest log that says why it stopped, or ""."""
    try:
        lines = [_ANSI.sub("", line).strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    internal = [line.removeprefix("INTERNALERROR>").strip() for line in lines if line.startswith("INTERNALERROR>")]
    reason = (next((line for line in lines if "No module named" in line), None)
              or next((line for line in lines if line.startswith("ERROR:")), None)
              or next((line for line in reversed(internal) if line), None)
              or (lines[-1] if lines else ""))
    return reason if len(reason) <= 300 else reason[:297] + "..."


def _machinery_failure(run: _Run, log: Path) -> str | None:
    """Why a run shows that pytest, nbval or the kernel broke; None when its results can be scored.

    A timed-out run is scored (its unfinished checks are the notebook's fault).
    Otherwise pytest must have run the cells and exited with 0 (all passed)
    or 1 (some failed), and the kernel must have started: nbval starts it when
    setting up the first cell, so a failed setup means it did not.
    """
    if run.timed_out:
        return None
    cells = [r for r in run.records if "cell" in r]
    if run.returncode in (0, 1) and cells:
        setup = next((r for r in cells if r.get("when") == "setup" and r.get("outcome") == "failed"), None)
        return None if setup is None else f"the Jupyter kernel did not start ({setup.get('message', '')})"
    if run.returncode is not None and run.returncode < 0:
        problem = f"pytest was killed by signal {-run.returncode}"
    else:
        meaning = _PYTEST_EXIT.get(run.returncode)
        problem = f"pytest exited with code {run.returncode}" + (f" ({meaning})" if meaning else "")
    if not cells:
        problem += " without running any cell"
    reason = _log_reason(log)
    return problem + (f": {reason}" if reason else "")


def _missing_modules(python: str) -> dict[str, dict]:
    """``{module: {"absent": bool, "error": str}}`` for the grader's modules ``python`` cannot import.

    Runs in an empty folder with the grading subprocess's environment, as the
    runner does (so a ``seglearn`` importable only from the current folder
    counts as missing). Empty when the probe itself cannot run.
    """
    with tempfile.TemporaryDirectory(prefix="seglearn-grading-probe-") as tmp:
        try:
            done = subprocess.run([python, "-c", _PROBE, *_GRADER_MODULES], cwd=tmp, env=_runner_env(),
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=_PREFLIGHT_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError):
            return {}
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _course_root() -> str:
    root = Path(__file__).resolve().parents[1]
    return str(root) if (root / "pyproject.toml").is_file() else "."


def _environment_error(python: str, problem: str, context: str) -> GradingEnvironmentError:
    """The error to raise for a broken grader: what ``python`` lacks, else ``problem``."""
    missing = _missing_modules(python)
    parts = []
    absent = [m for m in _GRADER_MODULES if m in missing and missing[m].get("absent") and m != "seglearn.grading"]
    if absent:
        names = " and ".join([", ".join(absent[:-1]), absent[-1]] if len(absent) > 1 else absent)
        parts.append(f"grading needs {names}, which {'is' if len(absent) == 1 else 'are'} not installed in "
                     f"{python}: run `{python} -m pip install {' '.join(absent)}` (the course install, "
                     f"`{python} -m pip install -e {_course_root()}`, includes the grader)")
    if missing.get("seglearn.grading", {}).get("absent"):
        parts.append(f"grading needs seglearn (its pytest plugin seglearn.grading runs in every grading "
                     f"process), which {python} cannot import outside the course folder: run "
                     f"`{python} -m pip install -e {_course_root()}`")
    for module in _GRADER_MODULES:
        if module in missing and not missing[module].get("absent"):
            parts.append(f"grading needs {module}, which cannot be imported in {python}: {missing[module].get('error')}")
    if not parts:
        parts.append(f"grading cannot run notebooks with {python}: {problem}")
    return GradingEnvironmentError("; ".join(parts) + f" ({context})", python, tuple(m for m in _GRADER_MODULES
                                                                                    if m in missing))


def _preflight(python: str) -> None:
    """Run a one-cell notebook through the grading runner; raise GradingEnvironmentError if it does not pass."""
    context = "checked before grading; no notebook was graded"
    with tempfile.TemporaryDirectory(prefix="seglearn-grading-check-") as tmp:
        target = Path(tmp) / "grader_check.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys\nprint(sys.version)")]),
                       str(target))
        try:
            run = _run_notebook(target, _PREFLIGHT_TIMEOUT, _PREFLIGHT_TIMEOUT, python)
        except OSError as exc:  # no such interpreter, or not executable
            raise GradingEnvironmentError(
                f"grading runs the notebooks with python={python!r}, which cannot be started: {exc}", python
            ) from None
        problem = _machinery_failure(run, target.with_suffix(".log"))
        cell = next((r for r in run.records if r.get("cell") == 0), None)
        if run.timed_out:
            problem = f"a one-cell notebook did not finish within {_PREFLIGHT_TIMEOUT:g} s (the kernel did not start?)"
        elif problem is None and (cell is None or cell.get("outcome") != "passed"):
            problem = f"a one-cell notebook (print(sys.version)) failed: {cell.get('message') if cell else 'not run'}"
        if problem is not None:
            raise _environment_error(python, problem, context)


def _find_submission(folder: Path, name: str) -> tuple[Path | None, str]:
    direct = folder / name
    if direct.is_file():
        return direct, ""
    found = sorted(p for p in folder.rglob(name)
                   if p.is_file() and not any(part in _SKIP_NAMES for part in p.relative_to(folder).parts))
    if len(found) == 1:
        return found[0], ""
    if found:
        return None, f"{len(found)} files named {name}: " + ", ".join(str(p.relative_to(folder)) for p in found)
    return None, "missing"


def _prepare(submitted, name: str, reference_checks: list[Check] | None, reference_nb):
    """Clean a submission for grading; return (notebook, {check name: nbval cell number}).

    Outputs are cleared (so nbval compares nothing, only errors count), and
    every check cell gets back the instructor's source and metadata (or, with
    no reference, loses nbval markers), so editing a check cannot change it.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(submitted)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    found: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        header = _check_header(cell)
        meta = cell.get("metadata", {}).get("seglearn")
        meta_name = meta.get("check") if isinstance(meta, Mapping) else None
        check_name = meta_name if isinstance(meta_name, str) else (header[0] if header else None)
        if check_name is None or check_name in found:
            continue
        if reference_checks is not None:
            reference = next((c for c in reference_checks if c.name == check_name), None)
            if reference is None:
                continue
            restored = nbformat.from_dict(json.loads(json.dumps(reference_nb.cells[reference.cell_index])))
            restored.outputs, restored.execution_count = [], None
            if "id" in cell:
                restored["id"] = cell["id"]
            nb.cells[index] = restored
        elif cell.cell_type == "code":
            cell.source = _NBVAL_MARKER.sub("", _source(cell))
            cell.metadata.pop("tags", None)
        else:
            continue
        found[check_name] = index
    code_index = {}
    counter = -1
    for index, cell in enumerate(nb.cells):
        counter += cell.cell_type == "code"
        code_index[index] = counter
    return nb, {name: code_index[i] for name, i in found.items()}


def _grade_notebook(student: str, folder: Path, name: str, reference, workdir: Path,
                    cell_timeout: float, notebook_timeout: float, python: str | None = None,
                    stop: threading.Event | None = None) -> tuple[list[CheckResult], str]:
    """Grade one notebook of one student; return the results and a note.

    Raises ``_BrokenRun`` when the run shows that the grader's machinery broke.
    """
    ref_checks, ref_nb = reference if reference else (None, None)

    def all_fail(checks, reason):
        return [CheckResult(student, name, c.name, c.points, 0, False, reason) for c in checks]

    path, problem = _find_submission(folder, name)
    if path is None:
        return all_fail(ref_checks or [], problem), problem
    try:
        submitted = _read(path)
    except ValueError as exc:
        return all_fail(ref_checks or [], "unreadable notebook"), str(exc)
    if ref_checks is None:
        try:
            checks = find_checks(submitted, name)
        except ValueError as exc:
            return [], f"not graded: {exc}"
    else:
        checks = ref_checks
    if not checks:
        return [], ""
    nb, cells = _prepare(submitted, name, ref_checks, ref_nb)
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / name
    nbformat.write(nb, str(target))
    run = _run_notebook(target, cell_timeout, notebook_timeout, python, stop)
    log = target.with_suffix(".log")
    problem = _machinery_failure(run, log)
    if problem is not None:
        raise _BrokenRun(problem, f"found while grading {student}/{name}, see {log}; no scores were written")
    by_cell = {}
    for record in run.records:
        if "cell" in record:
            by_cell.setdefault(record["cell"], record)  # setup failure or call result, first one
    if run.timed_out:
        not_run = f"not run: the notebook exceeded its time limit of {notebook_timeout:g} s"
        note = f"killed after {notebook_timeout:g} s"
    else:
        not_run = "not run"
        note = ""
    results = []
    for check in checks:
        if check.name not in cells:
            results.append(CheckResult(student, name, check.name, check.points, 0, False, "check cell missing"))
            continue
        record = by_cell.get(cells[check.name])
        if record is None:
            results.append(CheckResult(student, name, check.name, check.points, 0, False, not_run))
        elif record["outcome"] == "passed":
            results.append(CheckResult(student, name, check.name, check.points, check.points, True, ""))
        else:
            results.append(CheckResult(student, name, check.name, check.points, 0, False, record["message"]))
    if not note:
        failed = [r for r in run.records if r.get("outcome") == "failed"]
        timeouts = [r["cell"] for r in failed if r["message"].startswith("Timeout")]
        dead = [r["cell"] for r in failed if "Kernel dead" in r["message"]]
        parts = []
        if timeouts:
            parts.append(f"cell {timeouts[0]} (nbval numbering) exceeded the cell time limit of {cell_timeout:g} s")
        if dead:
            parts.append(f"the kernel died before cell {dead[0]}, so the cells after it did not run")
        note = "; ".join(parts)
    note = (note + "; " if note else "") + f"ran in {run.seconds:.1f} s"
    return results, note


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
) -> GradeTable:
    """Grade a class: run every submitted notebook with nbval and score its checks.

    ``submissions_dir`` holds one folder per student (hidden folders and
    ``out_dir`` are ignored); a notebook is found directly in the student's
    folder or, if only one file has its name, anywhere below it. Each
    notebook is cleaned (outputs cleared; with ``source_dir``, every check
    cell restored to the instructor's version) and written to
    ``out_dir/work/<student>/``, where it runs as
    ``python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=T``
    in a subprocess with its own kernel; the student's notebooks run one
    after another in that folder, so files one chapter writes are there for
    the next. A check earns its points when its cell runs without error.

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
    scored: grading stops with :class:`GradingEnvironmentError`.

    Written to ``out_dir``: ``scores.csv`` (one row per student, notebook
    and check), ``totals.csv`` (one row per student), ``scores.md`` (both,
    with the reason for every failed check), and ``work/`` (the graded
    copies with each run's pytest log ``<notebook>.log``).

    Parameters
    ----------
    submissions_dir : str or path
        One sub-folder per student.
    out_dir : str or path
        Report folder (created; files in it are overwritten).
    source_dir : str or path, optional
        The released (or solution) notebooks. Their names say which
        notebooks are expected, so a missing one scores 0 with reason
        "missing", and their check cells replace the students' copies.
        Without it, each submission is graded on the check cells it contains
        (a student who edits or deletes a check changes the grade): always
        pass it for real grading.
    cell_timeout : float, default 300
        Seconds a cell may run (``--nbval-cell-timeout``).
    notebook_timeout : float, default 1800
        Seconds a whole notebook may run, kernel start included.
    jobs : int, default 1
        Students graded in parallel (each notebook uses one kernel).
    progress : callable, optional
        Called with one line of text after each notebook.
    python : str or path, optional
        The Python interpreter that runs pytest, nbval and the kernels; by
        default the one running the grader (``sys.executable``). It needs
        pytest, nbval, ipykernel and seglearn (``pip install -e .`` in the
        course folder installs them all).

    Returns
    -------
    GradeTable
        All results; ``str()`` gives the totals table.

    Raises
    ------
    FileNotFoundError
        When ``submissions_dir`` or ``source_dir`` does not exist.
    ValueError
        For bad timeouts or ``jobs``, no student folders, or a source
        notebook that breaks the check convention.
    TypeError
        When ``python`` is not a path.
    GradingEnvironmentError
        When the grader's machinery does not work (see above); the message
        names what is missing. No score file is written.
    """
    submissions_dir, out_dir = Path(submissions_dir), Path(out_dir)
    if not submissions_dir.is_dir():
        raise FileNotFoundError(
            f"`submissions_dir` must be an existing folder. Received: submissions_dir={str(submissions_dir)!r}")
    cell_timeout = check_real(cell_timeout, "cell_timeout", low=0, low_inclusive=False)
    notebook_timeout = check_real(notebook_timeout, "notebook_timeout", low=0, low_inclusive=False)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be an integer >= 1. Received: jobs={describe(jobs)}")
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

    references: dict[str, tuple[list[Check], object] | None] = {}
    if source_dir is not None:
        source_dir = Path(source_dir)
        if not source_dir.is_dir():
            raise FileNotFoundError(f"`source_dir` must be an existing folder. Received: source_dir={str(source_dir)!r}")
        for path in _notebooks(source_dir):
            nb = _read(path)
            checks = find_checks(nb, path.name)
            if checks:  # notebooks without checks are not graded
                references[path.name] = (checks, nb)
        if not references:
            raise ValueError(f"`source_dir` has no notebook with check cells. Received: source_dir={str(source_dir)!r}")
        expected = sorted(references)
    else:
        expected = sorted({p.name for s in students for p in s.rglob("*.ipynb")
                           if not any(part in _SKIP_NAMES for part in p.relative_to(s).parts)})
        references = dict.fromkeys(expected)

    _preflight(python)  # before anything is written: a broken grader must not score anyone
    work = out_dir / "work"
    out_dir.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()

    def grade_student(folder: Path):
        try:
            return grade_one(folder)
        except BaseException:  # the grader broke (or was stopped): start no other notebook
            stop.set()
            raise

    def grade_one(folder: Path):
        results, notes = [], {}
        if stop.is_set():
            return results, notes
        workdir = work / folder.name
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        if source_dir is not None:
            _copy_assets(source_dir, workdir)
        for name in expected:
            if stop.is_set():
                break
            rows, note = _grade_notebook(folder.name, folder, name, references[name], workdir,
                                         cell_timeout, notebook_timeout, python, stop)
            results += rows
            if note:
                notes[(folder.name, name)] = note
            if progress is not None and (rows or note):
                got = sum(r.points for r in rows), sum(r.possible for r in rows)
                progress(f"{folder.name} / {name}: {got[0]}/{got[1]} points" + (f" ({note})" if note else ""))
        return results, notes

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(grade_student, folder) for folder in students]
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
    outcomes = [f.result() for f in futures]
    table = GradeTable([r for rows, _ in outcomes for r in rows], {k: v for _, n in outcomes for k, v in n.items()},
                       [s.name for s in students])
    table.write_csv(out_dir / "scores.csv")
    table.write_totals_csv(out_dir / "totals.csv")
    (out_dir / "scores.md").write_text(table.to_markdown(), encoding="utf-8")
    return table


# --------------------------------------------------------------------------- command line
_RELEASE_EPILOG = """\
examples:
  seglearn release chapters --out release/
  seglearn release chapters --out release/ --force   # overwrite an earlier release
"""

_GRADE_EPILOG = """\
examples:
  seglearn grade submissions/ --source chapters/ --out report/
  seglearn grade submissions/ --source chapters/ --out report/ --cell-timeout 120 --notebook-timeout 900 --jobs 2

submissions/ holds one folder per student (submissions/alice/02_convolution.ipynb, ...).
Each notebook runs in its own `python -m pytest --nbval` subprocess and kernel; the scores
go to report/scores.csv, report/totals.csv and report/scores.md.

Before grading anyone it runs a one-cell notebook the same way; if pytest, nbval or a
Jupyter kernel does not work it stops with exit status 3, writing no scores, and says
what to install (`pip install -e .` in the course folder installs the grader).
"""


def _cmd_release(args) -> int:
    try:
        report = release(args.source_dir, args.out, force=args.force)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"seglearn release: error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def _cmd_grade(args) -> int:
    # SIGTERM ends the grader like Ctrl+C does, through grade()'s clean-up.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        table = grade(args.submissions_dir, args.out, source_dir=args.source, cell_timeout=args.cell_timeout,
                      notebook_timeout=args.notebook_timeout, jobs=args.jobs,
                      progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (FileNotFoundError, ValueError) as exc:
        print(f"seglearn grade: error: {exc}", file=sys.stderr)
        return 2
    except GradingEnvironmentError as exc:  # the grader's machinery is broken: no one was scored
        print(f"seglearn grade: error: {exc}", file=sys.stderr)
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(table)
    out = Path(args.out)
    print(f"\nwrote {out / 'scores.csv'}, {out / 'totals.csv'} and {out / 'scores.md'}")
    return 0


def add_subcommands(subparsers) -> None:
    """Register the ``release`` and ``grade`` subcommands of ``seglearn``.

    Each sub-parser sets ``func``: the CLI calls ``args.func(args)``, which
    returns the exit status (0 on success, 2 for a usage error, 3 when
    ``grade`` finds the grader's own machinery broken: see
    :class:`GradingEnvironmentError`).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="seglearn")
    >>> add_subcommands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["grade", "subs", "--out", "report", "--cell-timeout", "60"])
    >>> args.func.__name__, args.cell_timeout, args.notebook_timeout
    ('_cmd_grade', 60.0, 1800.0)
    """
    raw = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "release", help="write student notebooks without the solutions",
        description=textwrap.dedent("""\
            Write the student version of every notebook in SOURCE_DIR to --out: each region
            between '### BEGIN SOLUTION' and '### END SOLUTION' becomes '# YOUR CODE HERE' and
            'raise NotImplementedError', outputs are cleared, check cells become read-only.
            Prints the solution regions, checks and points of each notebook."""),
        epilog=_RELEASE_EPILOG, formatter_class=raw)
    p.add_argument("source_dir", metavar="SOURCE_DIR", help="folder of solution notebooks, e.g. chapters/")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the student notebooks")
    p.add_argument("--force", action="store_true", help="overwrite the notebooks in a non-empty DIR")
    p.set_defaults(func=_cmd_release)

    g = subparsers.add_parser(
        "grade", help="grade students' notebooks with nbval and write a score table",
        description=textwrap.dedent("""\
            Run every notebook of every student folder in SUBMISSIONS_DIR with nbval (one
            pytest process and kernel per notebook, with time limits) and score its check
            cells. A missing, crashing or hanging notebook costs only its own points."""),
        epilog=_GRADE_EPILOG, formatter_class=raw)
    g.add_argument("submissions_dir", metavar="SUBMISSIONS_DIR", help="one sub-folder per student")
    g.add_argument("--out", required=True, metavar="DIR", help="report folder (scores.csv, totals.csv, scores.md)")
    g.add_argument("--source", metavar="DIR",
                   help="released or solution notebooks: which notebooks are expected, and the "
                        "check cells to grade with (recommended)")
    g.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                   help=f"time limit per cell (default {DEFAULT_CELL_TIMEOUT:g})")
    g.add_argument("--notebook-timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT, metavar="SECONDS",
                   help=f"time limit per notebook (default {DEFAULT_NOTEBOOK_TIMEOUT:g})")
    g.add_argument("--jobs", type=int, default=1, metavar="N", help="students graded in parallel (default 1)")
    g.set_defaults(func=_cmd_grade)
