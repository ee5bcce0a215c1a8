"""Reading, checking and releasing notebooks; restoring the instructor's checks for grading.

The convention (see the package docstring): solution regions between
``### BEGIN SOLUTION`` and ``### END SOLUTION``; check cells whose first line
is ``# CHECK: <name> (<points> points)`` (with the cell metadata
``{"seglearn": {"check": "<name>", "points": <int>}}``); and instructor-only
hidden checks whose first line is ``# HIDDEN CHECK: <name> (<points> points)``
(the metadata is optional for them). :func:`release` replaces each hidden
check by a markdown placeholder (metadata
``{"seglearn": {"hidden_check": "<name>", "points": <int>}}``) that tells the
student a hidden check runs there at grading; :func:`prepare_submission` puts
the instructor's cell back in its place.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import nbformat

from .._validation import check_bool, describe
from ..tables import format_table
from ._headers import (
    BEGIN_SOLUTION,
    CHECK_FORM,
    CODE_STUB,
    END_SOLUTION,
    HIDDEN_CHECK_FORM,
    MARKDOWN_STUB,
    cell_header,
    looks_like_header,
    parse_header,
)

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "Check",
    "NotebookRelease",
    "PointsTable",
    "ReleaseReport",
    "find_checks",
    "points_table",
    "PreparedNotebook",
    "prepare_submission",
    "release",
    "release_notebook",
    "strip_solutions",
]

# Comment markers and cell tags that change what nbval does with a cell; a
# check cell must not carry them (NBVAL_RAISES_EXCEPTION would make it pass).
_NBVAL_MARKER = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_IGNORE_OUTPUT)\s*$", re.M)
_SKIP_NAMES = {"outputs", ".ipynb_checkpoints", "__pycache__"}


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
    """One check of a notebook.

    Parameters
    ----------
    name : str
        The check's short name (from its header; ``seglearn.check`` in the
        cell metadata).
    points : int
        Points the check is worth, at least 1.
    cell_index : int
        Index of the cell in ``notebook.cells`` (all cells, from 0).
    code_index : int
        Index among the code cells only, from 0: nbval names this cell's
        test item ``notebook.ipynb::Cell <code_index>``. For the placeholder
        of a hidden check (a markdown cell), the index the check's code cell
        gets when the grader puts it back.
    hidden : bool, default False
        Whether it is a hidden check (``# HIDDEN CHECK: ...``), or its
        placeholder in a student version.
    """

    name: str
    points: int
    cell_index: int
    code_index: int
    hidden: bool = False


def _first_line(cell) -> str:
    return next((line.strip() for line in _source(cell).splitlines() if line.strip()), "")


def _header_error(where: str, line: str) -> ValueError:
    header = parse_header(line)
    if header is not None:  # a valid header, but not on the first line
        return ValueError(f"{where}: the check header {line!r} must be the cell's first line")
    return ValueError(
        f"{where}: malformed check header {line!r}; a check's first line is {CHECK_FORM!r}, "
        f"a hidden check's {HIDDEN_CHECK_FORM!r}")


def _scan(nb, name: str) -> tuple[list[Check], list[Check]]:
    """The checks (code cells, public and hidden) and the hidden-check placeholders of a notebook.

    Validates the convention; the errors name the notebook and the cell.
    """
    checks: list[Check] = []
    placeholders: list[Check] = []
    code_index = -1
    for index, cell in enumerate(nb.cells):
        is_code = cell.cell_type == "code"
        code_index += is_code
        header = cell_header(_source(cell))
        meta = cell.get("metadata", {}).get("seglearn")
        meta = meta if isinstance(meta, Mapping) else {}
        where = _where(name, index, cell)
        if not is_code and "hidden_check" in meta:
            title, points = meta["hidden_check"], meta.get("points")
            if not isinstance(title, str) or not title.strip():
                raise ValueError(f"{where}: `seglearn.hidden_check` must be the check's name. Received: {title!r}")
            if isinstance(points, bool) or not isinstance(points, int) or points < 1:
                raise ValueError(f"{where}: `seglearn.points` must be an integer >= 1. Received: points={points!r}")
            if any(c.name == title for c in (*checks, *placeholders)):
                raise ValueError(f"{where}: a second check named {title!r}; check names must be unique in a notebook")
            placeholders.append(Check(title, points, index, code_index + 1, hidden=True))
            continue
        if header is None:
            if is_code and looks_like_header(_first_line(cell)):
                raise _header_error(where, _first_line(cell))
            if "check" not in meta:
                continue
        if not is_code:
            raise ValueError(f"{where}: a check must be a code cell")
        if header is None:
            raise ValueError(
                f"{where}: the cell has check metadata {dict(meta)} but its first line is not {CHECK_FORM!r}")
        title, points_text, hidden = header
        if header.points is None:
            raise ValueError(f"{where}: the first line must end in '(<points> points)'. Received: ({points_text})")
        if header.points < 1:
            raise ValueError(f"{where}: the points must be an integer >= 1. Received: ({points_text})")
        has_meta = "check" in meta or "points" in meta
        if not hidden and ("check" not in meta or "points" not in meta):
            raise ValueError(
                f"{where}: a check cell needs the metadata "
                f'{{"seglearn": {{"check": "{title}", "points": {header.points}}}}}; '
                f"it has {json.dumps(dict(meta)) if meta else 'none'}"
            )
        if has_meta:  # optional for a hidden check, but then it must agree
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, int) or points < 1:
                raise ValueError(f"{where}: `seglearn.points` must be an integer >= 1. Received: points={points!r}")
            if meta.get("check") != title or points != header.points:
                raise ValueError(
                    f"{where}: the first line says check {title!r} worth {header.points} points but the "
                    f"metadata says {meta.get('check')!r} worth {points}; make them agree"
                )
        if any(c.name == title for c in (*checks, *placeholders)):
            raise ValueError(f"{where}: a second check named {title!r}; check names must be unique in a notebook")
        checks.append(Check(title, header.points, index, code_index, hidden))
    return checks, placeholders


def find_checks(notebook, name: str = "notebook") -> list[Check]:
    """List the check cells of a notebook, validating the convention.

    A check cell is a code cell whose first line is
    ``# CHECK: <name> (<points> points)`` (with the metadata
    ``{"seglearn": {"check": "<name>", "points": <points>}}``, which must
    agree) or, for an instructor-only check, ``# HIDDEN CHECK: <name>
    (<points> points)`` (metadata optional). A code cell whose first line
    looks like a check header but is not one (``# check: x (1 point)``,
    ``# CHECK: x`` without points, ``# HIDDEN CHECK x (2 points)``) is an
    error, so that no check is silently left ungraded. The placeholders
    that :func:`release` leaves for hidden checks are not check cells (see
    :func:`points_table`, which counts them).

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
        In notebook order; ``hidden=True`` for hidden checks.

    Raises
    ------
    ValueError
        For a malformed check header, a check cell without points metadata,
        metadata that disagrees with the first line, points that are not a
        positive integer, a check in a markdown cell, or two checks with the
        same name. The message names the notebook and the cell.

    Examples
    --------
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell(
    ...     "# CHECK: shape (2 points)\\nassert True",
    ...     metadata={"seglearn": {"check": "shape", "points": 2}})
    >>> hidden = nbformat.v4.new_code_cell("# HIDDEN CHECK: edge cases (1 point)\\nassert True")
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), cell, hidden])
    >>> find_checks(nb)
    [Check(name='shape', points=2, cell_index=1, code_index=1, hidden=False), Check(name='edge cases', points=1, cell_index=2, code_index=2, hidden=True)]
    >>> del cell.metadata["seglearn"]
    >>> find_checks(nb)
    Traceback (most recent call last):
    ...
    ValueError: notebook, cell 1 (code cell starting '# CHECK: shape (2 points)'): a check cell needs the metadata {"seglearn": {"check": "shape", "points": 2}}; it has none
    >>> find_checks(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# HIDDEN CHECK edges (1 point)")]))
    Traceback (most recent call last):
    ...
    ValueError: notebook, cell 0 (code cell starting '# HIDDEN CHECK edges (1 point)'): malformed check header '# HIDDEN CHECK edges (1 point)'; a check's first line is '# CHECK: <name> (<points> points)', a hidden check's '# HIDDEN CHECK: <name> (<points> points)'
    """
    nb, name = _as_notebook(notebook, name)
    return _scan(nb, name)[0]


@dataclasses.dataclass(frozen=True)
class PointsTable:
    """The graded checks of one notebook and their points.

    Shown as a Markdown table in a notebook (``_repr_markdown_``) and as
    plain text by ``str``; hidden checks are marked "(hidden)".

    Parameters
    ----------
    notebook : str
        The notebook's file name.
    checks : tuple of Check
        The checks in notebook order, hidden ones (or their placeholders)
        included.
    """

    notebook: str
    checks: tuple[Check, ...]

    @property
    def total(self) -> int:
        """Sum of the points of all checks."""
        return sum(c.points for c in self.checks)

    @staticmethod
    def _label(check: Check) -> str:
        return f"{check.name} (hidden)" if check.hidden else check.name

    def __str__(self) -> str:
        rows = [(self._label(c), c.points) for c in self.checks] + [("total", self.total)]
        return format_table(rows, ["check", "points"], align="<>")

    def _repr_markdown_(self) -> str:
        rows = [f"| {_md(self._label(c))} | {c.points} |" for c in self.checks]
        return "\n".join(["| Check | Points |", "|---|---:|", *rows, f"| **Total** | **{self.total}** |"])


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def points_table(notebook) -> PointsTable:
    """The checks of a notebook and their points, with the total.

    A chapter can show its own table so the student sees what is graded:
    ``seglearn.grading.points_table("02_convolution.ipynb")`` (the kernel's
    working directory is the notebook's folder). Hidden checks count in
    both versions: in the instructor's as check cells, in the student's as
    their placeholders.

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
    ------  ------
    shape        2
    values       3
    total        5
    """
    nb, name = _as_notebook(notebook)
    checks, placeholders = _scan(nb, name)
    return PointsTable(name, tuple(sorted([*checks, *placeholders], key=lambda c: c.cell_index)))


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
        Checks, hidden ones included.
    points : int
        Sum of the checks' points.
    hidden : int, default 0
        How many of the checks are hidden (replaced by placeholders).
    """

    notebook: str
    regions: int
    checks: int
    points: int
    hidden: int = 0


def _plural(n, word: str) -> str:
    return f"{n:g} {word}{'' if n == 1 else 's'}"


def placeholder_cell(check: Check, cell_id: str | None = None):
    """The markdown cell that stands for a hidden check in the student version."""
    text = (f"**Hidden check: {check.name} ({_plural(check.points, 'point')}).** When your notebook is "
            "graded, the instructor's check for the exercise above runs here; you do not see it. It tests "
            "your answer on cases the visible checks leave out, so make the answer right in general, not "
            "only for the examples above.")
    cell = nbformat.v4.new_markdown_cell(text, metadata={
        "seglearn": {"hidden_check": check.name, "points": check.points}, "editable": False, "deletable": False})
    if cell_id is not None:
        cell["id"] = cell_id
    return cell


def release_notebook(notebook, name: str = "notebook"):
    """Make the student version of one solution notebook.

    Solution regions become stubs (:func:`strip_solutions`), all outputs and
    execution counts are cleared, check cells get the JupyterLab cell
    metadata ``editable: false, deletable: false`` so a student cannot change
    or delete them by accident, and each hidden check cell becomes a
    read-only markdown placeholder that says a hidden check runs there at
    grading (with its name and points; nothing of its code). Everything else
    is kept as it is.

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
        Counts of regions, checks, hidden checks and points.

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
    ...         metadata={"seglearn": {"check": "answer", "points": 1}}),
    ...     nbformat.v4.new_code_cell("# HIDDEN CHECK: not a string (1 point)\\nassert answer != '42'")])
    >>> student, report = release_notebook(nb, "quiz.ipynb")
    >>> print(student.cells[0].source)
    # YOUR CODE HERE
    raise NotImplementedError
    >>> student.cells[2].cell_type, student.cells[2].metadata["seglearn"]
    ('markdown', {'hidden_check': 'not a string', 'points': 1})
    >>> report
    NotebookRelease(notebook='quiz.ipynb', regions=1, checks=2, points=2, hidden=1)
    """
    nb, name = _as_notebook(notebook, name)
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy we may change
    checks, placeholders = _scan(nb, name)
    check_cells = {c.cell_index: c for c in checks}
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
            if check_cells[index].hidden:
                nb.cells[index] = placeholder_cell(check_cells[index], cell.get("id"))
            else:
                cell.metadata["editable"] = False
                cell.metadata["deletable"] = False
    nbformat.validate(nb)
    every = [*checks, *placeholders]
    return nb, NotebookRelease(name, regions, len(every), sum(c.points for c in every),
                               sum(c.hidden for c in every))


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
        rows = [(n.notebook, n.regions, n.checks, n.hidden, n.points) for n in self.notebooks]
        total = [sum(getattr(n, field) for n in self.notebooks) for field in ("regions", "checks", "hidden")]
        rows.append(("total", *total, self.points))
        lines = [f"Released {len(self.notebooks)} notebooks from {self.source_dir} to {self.out_dir}",
                 format_table(rows, ["notebook", "solutions", "checks", "hidden", "points"], align="<>>>>")]
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
    notebook    solutions  checks  hidden  points
    ----------  ---------  ------  ------  ------
    quiz.ipynb          1       1       0       1
    total               1       1       0       1
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



# --------------------------------------------------------------------------- grading copies
@dataclasses.dataclass(frozen=True)
class PreparedNotebook:
    """A submission made ready to run: see :func:`prepare_submission`.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        The notebook to run.
    cells : dict of str to int
        ``{check name: nbval cell number}`` of every check found in it.
    notes : tuple of str
        What the preparation had to do or could not do (a hidden check's
        placeholder was missing, hidden checks without the instructor's copy).
    """

    notebook: object
    cells: dict
    notes: tuple = ()


def _copy_cell(cell):
    copy = nbformat.from_dict(json.loads(json.dumps(cell)))
    if copy.cell_type == "code":
        copy.outputs, copy.execution_count = [], None
    return copy


def prepare_submission(submitted, instructor=None, name: str = "notebook") -> PreparedNotebook:
    """Clean a student's notebook for grading and put the instructor's checks in it.

    Outputs and execution counts are cleared (so nbval compares nothing:
    only errors count). With ``instructor``, every check cell (found by its
    metadata, else by its header) gets back the instructor's source and
    metadata, so editing a check cannot change it, and every hidden-check
    placeholder becomes the instructor's hidden check; a hidden check whose
    placeholder the student deleted runs at the end of the notebook.
    Without ``instructor``, check cells only lose nbval's markers and tags
    (``# NBVAL_RAISES_EXCEPTION`` would make a failing check pass), and
    hidden checks cannot be graded.

    Parameters
    ----------
    submitted : notebook
        The student's notebook (not modified).
    instructor : notebook, optional
        The instructor's notebook, with its hidden checks.
    name : str, default "notebook"
        Name used in messages.

    Returns
    -------
    PreparedNotebook
        The notebook, the nbval cell number of each check, and notes.

    Raises
    ------
    ValueError
        When ``instructor`` holds hidden-check placeholders (it is a student
        version), or breaks the convention.

    Examples
    --------
    >>> import nbformat
    >>> solution = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("answer = 42"),
    ...     nbformat.v4.new_code_cell("# HIDDEN CHECK: exact (1 point)\\nassert answer == 42")])
    >>> student, _ = release_notebook(solution)
    >>> prepared = prepare_submission(student, solution)
    >>> prepared.cells, prepared.notebook.cells[1].source.splitlines()[0]
    ({'exact': 1}, '# HIDDEN CHECK: exact (1 point)')
    """
    nb = nbformat.from_dict(json.loads(json.dumps(submitted)))  # a deep copy we may change
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    reference = None
    if instructor is not None:
        instructor, _ = _as_notebook(instructor, name)
        checks, placeholders = _scan(instructor, name)
        if placeholders:
            raise ValueError(
                f"{name}: the instructor's notebook has only a placeholder for hidden check "
                f"{placeholders[0].name!r} (it is a student version); grade with the instructor's notebooks, "
                f"which hold the hidden checks")
        reference = {c.name: instructor.cells[c.cell_index] for c in checks}
    found: dict[str, int] = {}
    ungraded: list[str] = []
    for index, cell in enumerate(nb.cells):
        header = cell_header(_source(cell))
        meta = cell.get("metadata", {}).get("seglearn")
        meta = meta if isinstance(meta, Mapping) else {}
        meta_name = meta.get("check", meta.get("hidden_check"))
        check_name = meta_name if isinstance(meta_name, str) else (header.name if header else None)
        if check_name is None or check_name in found:
            continue
        if reference is not None:
            if check_name not in reference:
                continue
            restored = _copy_cell(reference[check_name])
            if "id" in cell:
                restored["id"] = cell["id"]
            nb.cells[index] = restored
        elif cell.cell_type == "code":
            cell.source = _NBVAL_MARKER.sub("", _source(cell))
            cell.metadata.pop("tags", None)
        else:
            if "hidden_check" in meta:
                ungraded.append(check_name)
            continue
        found[check_name] = index
    notes = []
    if reference is not None:
        for check_name, cell in reference.items():
            if check_name not in found and cell_header(_source(cell)).hidden:
                nb.cells.append(_copy_cell(cell))
                found[check_name] = len(nb.cells) - 1
                notes.append(f"the placeholder of hidden check {check_name!r} was missing, so it ran at the end "
                             f"of the notebook")
    if ungraded:
        notes.append(f"hidden checks not graded ({', '.join(map(repr, ungraded))}): grading them needs the "
                     f"instructor's notebooks (--source)")
    code_index, counter = {}, -1
    for index, cell in enumerate(nb.cells):
        counter += cell.cell_type == "code"
        code_index[index] = counter
    return PreparedNotebook(nb, {n: code_index[i] for n, i in found.items()}, tuple(notes))
