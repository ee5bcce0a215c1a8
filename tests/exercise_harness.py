"""Run a chapter's check cell against other answers than the instructor's, without a kernel.

A check must accept every correct form of an answer and reject the plausible wrong
ones (STYLE.md, "Test the checks"). :class:`Chapter` executes a notebook's code cells
in one namespace (``exec``, matplotlib's Agg backend, the working directory
``chapters/`` as under JupyterLab and nbval) up to the exercise of a check, once, and
then runs the exercise with its solution region replaced by a given answer and the
check cell after it, on a copy of that namespace::

    chapter = Chapter("05_first_cnn.ipynb")
    outcome = chapter.check("fixed compile call", 'repaired = ...')
    assert outcome.passed, outcome.message

Checks can be asked for in any order: the namespace is kept as it stands before every
exercise the run passed. The copies are shallow: an answer that mutates an object of
the chapter in place (rather than rebinding a name) changes it for the answers run
after it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import textwrap
import warnings
from pathlib import Path

from seglearn.grading import BEGIN_SOLUTION, END_SOLUTION, find_checks

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


def _source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _python(source: str) -> str:
    """A code cell as plain Python: IPython's line magics and shell lines commented out."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def replace_solution(source: str, answer: str) -> str:
    """``source`` with its one solution region (markers included) replaced by ``answer``.

    ``answer`` is dedented and then indented like the ``### BEGIN SOLUTION`` line, so
    an answer for a region inside a function body can be written flush left.
    """
    lines = source.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN_SOLUTION]
    ends = [i for i, line in enumerate(lines) if line.strip() == END_SOLUTION]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ValueError(f"the exercise cell must hold exactly one solution region; it has {len(begins)}")
    begin, end = begins[0], ends[0]
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    body = textwrap.indent(textwrap.dedent(answer).strip("\n"), indent, lambda line: True).splitlines()
    return "\n".join(lines[:begin] + body + lines[end + 1:])


# What seglearn.grading.award prints outside a kernel: "<points> of <of> points[: reason]".
_AWARD_LINE = re.compile(r"^(\d+(?:\.\d+)?) of \d+ points", re.M)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a check cell did with one answer.

    ``passed`` is True when the check ran through; False when it raised an
    ``AssertionError``, whose text is ``message``. Any other exception is not an
    outcome but a broken check (or answer): it propagates. ``output`` is what the
    check cell printed.
    """

    passed: bool
    message: str
    output: str

    @property
    def awarded(self) -> float | None:
        """The points of the check's last award (the ``N of M points`` line that
        ``seglearn.grading.award`` prints outside a kernel), or None when it printed none."""
        found = _AWARD_LINE.findall(self.output)
        return float(found[-1]) if found else None


class Chapter:
    """One chapter, executed cell by cell up to the exercise of a check, once.

    Parameters
    ----------
    name : str
        The notebook's file name in ``chapters/``, e.g. ``"05_first_cnn.ipynb"``.
    seed : int, default 0
        The course seed (``SEGLEARN_SEED``) the chapter runs with.
    """

    def __init__(self, name: str, *, seed: int = 0):
        self.name = name
        self.seed = seed
        self.cells = json.loads((CHAPTERS / name).read_text(encoding="utf-8"))["cells"]
        self.checks = {check.name: check for check in find_checks(CHAPTERS / name)}
        self.namespace: dict = {"__name__": "__main__"}
        self._next = 0  # the first cell not yet executed into self.namespace
        self._snapshots: dict[int, dict] = {}  # exercise cell -> the namespace before it

    # -- running cells ---------------------------------------------------------
    @contextlib.contextmanager
    def _notebook_context(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        import numpy as np

        old_seed = os.environ.get("SEGLEARN_SEED")
        os.environ["SEGLEARN_SEED"] = str(self.seed)
        print_options = np.get_printoptions()  # a chapter's np.set_printoptions must not leak into other tests
        try:
            with contextlib.chdir(CHAPTERS), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*non-interactive.*")  # plt.show() under Agg
                yield
        finally:
            plt.close("all")
            np.set_printoptions(**print_options)
            if old_seed is None:
                os.environ.pop("SEGLEARN_SEED", None)
            else:
                os.environ["SEGLEARN_SEED"] = old_seed

    def _run(self, index: int, source: str, namespace: dict) -> None:
        code = compile(_python(source), f"<{self.name} cell {index}>", "exec")
        exec(code, namespace)  # noqa: S102 - the course's own notebooks

    def _exercise_of(self, check_name: str) -> tuple[int, int]:
        if check_name not in self.checks:
            raise KeyError(f"{self.name} has no check {check_name!r}; it has {sorted(self.checks)}")
        check_index = self.checks[check_name].cell_index
        solutions = [i for i in range(check_index) if BEGIN_SOLUTION in _source(self.cells[i])]
        if not solutions:
            raise ValueError(f"{self.name}: no solution region before the check {check_name!r}")
        return solutions[-1], check_index

    def prepare(self, check_name: str) -> None:
        """Execute every code cell before the exercise of ``check_name`` (once; later calls are free).

        The namespace is kept as it stands at every exercise passed, so the checks can
        be asked for in any order.
        """
        exercise, _ = self._exercise_of(check_name)
        if exercise in self._snapshots:
            return
        if self._next > exercise:
            raise ValueError(f"{self.name}: the cells before the exercise of {check_name!r} ran past it")
        with self._notebook_context(), contextlib.redirect_stdout(io.StringIO()):
            for index in range(self._next, exercise + 1):
                if BEGIN_SOLUTION in _source(self.cells[index]):
                    self._snapshots[index] = dict(self.namespace)
                if index < exercise and self.cells[index]["cell_type"] == "code":
                    self._run(index, _source(self.cells[index]), self.namespace)
        self._next = exercise

    def check(self, check_name: str, answer: str | None = None) -> Outcome:
        """Run the exercise of ``check_name`` with ``answer`` as its solution, then the check.

        ``answer=None`` runs the instructor's solution. The code cells between the
        exercise and its check run too (with the answer's names).
        """
        self.prepare(check_name)
        exercise, check_index = self._exercise_of(check_name)
        namespace = dict(self._snapshots[exercise])
        with self._notebook_context():
            with contextlib.redirect_stdout(io.StringIO()):
                for index in range(exercise, check_index):
                    cell = self.cells[index]
                    if cell["cell_type"] != "code":
                        continue
                    source = _source(cell)
                    if index == exercise and answer is not None:
                        source = replace_solution(source, answer)
                    self._run(index, source, namespace)
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    self._run(check_index, _source(self.cells[check_index]), namespace)
            except AssertionError as error:
                return Outcome(False, str(error), printed.getvalue())
        return Outcome(True, "", printed.getvalue())


# --------------------------------------------------------------------------- the test modules' convention
# Each tests/test_exercise_checks_chNN.py declares, per check name of its chapter,
#     RIGHT_ANSWERS = {"<check>": {"instructor": None, "<another correct form>": "<code>", ...}}
#     WRONG_ANSWERS = {"<check>": {"<plausible mistake>": ("<code>", "<regex the message must match>"), ...}}
# and parametrizes its two tests with right_cases / wrong_cases. tests/test_repository.py
# reads the two dicts to prove every graded check has its wrong answers and correct forms.


def right_cases(right_answers: dict) -> list:
    """``pytest.param(check, answer)`` for each correct form, with the id ``check: form``."""
    import pytest

    return [pytest.param(check, code, id=f"{check}: {label}")
            for check, forms in right_answers.items() for label, code in forms.items()]


def wrong_cases(wrong_answers: dict) -> list:
    """``pytest.param(check, answer, hint)`` for each wrong answer, with the id ``check: mistake``."""
    import pytest

    return [pytest.param(check, code, hint, id=f"{check}: {label}")
            for check, mistakes in wrong_answers.items() for label, (code, hint) in mistakes.items()]
