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

Only the cells the checks need run before an exercise (:func:`live_cells`): a cell
runs when it binds or may change a name that a later cell which runs, an exercise, a
check or one of the answers given to :class:`Chapter` reads. A chapter's measurements
and figures that no check reads are skipped; the notebook tests (nbval) run them.
"""

from __future__ import annotations

import ast
import builtins
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


def _root(node) -> str | None:
    """The name at the root of ``a.b[c].d`` (``a``), or None for ``f().x``."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
           ast.GeneratorExp)


def _stored(nodes) -> set:
    """The names stored in ``nodes`` (targets, with their tuples and starred parts)."""
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _scope_locals(node) -> set:
    """The names local to a function, lambda or comprehension (its arguments and targets)."""
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return _stored(g.target for g in node.generators)
    args = node.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    if not isinstance(node, ast.Lambda):
        declared = {n for s in ast.walk(node) if isinstance(s, (ast.Global, ast.Nonlocal)) for n in s.names}
        names |= {s.name for stmt in node.body for s in ast.walk(stmt)
                  if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        names |= {n.id for stmt in node.body for n in ast.walk(stmt)
                  if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)} - declared
        names |= {alias.asname or alias.name.split(".")[0] for stmt in node.body for s in ast.walk(stmt)
                  if isinstance(s, (ast.Import, ast.ImportFrom)) for alias in s.names}
    return names


def _reads(node, local=frozenset()) -> set:
    """The global names ``node`` reads: those of nested functions and comprehensions
    that are not their own arguments or locals."""
    if isinstance(node, ast.Name):
        return {node.id} - local if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, _SCOPES):
        inner = local | _scope_locals(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            outer = [*node.args.defaults, *(d for d in node.args.kw_defaults if d), *getattr(node, "decorator_list", [])]
            body = node.body if isinstance(node.body, list) else [node.body]
        else:  # the first iterable is read outside the comprehension
            outer = [node.generators[0].iter]
            body = [node.elt] if hasattr(node, "elt") else [node.key, node.value]
            body += [*node.generators[0].ifs, *(part for g in node.generators[1:] for part in (g.iter, *g.ifs))]
        return set().union(*(_reads(n, local) for n in outer), *(_reads(n, inner) for n in body))
    return set().union(set(), *(_reads(child, local) for child in ast.iter_child_nodes(node)))


def _binds(statement) -> set:
    """The names a top-level statement binds whenever it runs (not those of a loop or branch)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {alias.asname or alias.name.split(".")[0] for alias in statement.names if alias.name != "*"}
    if isinstance(statement, ast.Assign):
        return _stored(statement.targets)
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        return _stored([statement.target])
    return set()


def _exposed(statements, bound) -> tuple[set, set]:
    """The names ``statements`` read before they bind them, and those they bind
    (at their own level; a loop's, a branch's or a ``with``'s block is read in order
    too, but what it binds counts after it only for a ``with``)."""
    reads, bound = set(), set(bound)
    for statement in statements:
        blocks = [getattr(statement, field) for field in ("body", "orelse", "finalbody")
                  if isinstance(getattr(statement, field, None), list)]
        blocks += [handler.body for handler in getattr(statement, "handlers", [])]
        if isinstance(statement, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)):
            heads = {ast.For: ["iter"], ast.AsyncFor: ["iter"], ast.While: ["test"], ast.If: ["test"]}
            for field in heads.get(type(statement), []):
                reads |= _reads(getattr(statement, field)) - bound
            inside = set(bound)
            if isinstance(statement, (ast.For, ast.AsyncFor)):
                inside |= _stored([statement.target])
            for item in getattr(statement, "items", []):
                reads |= _reads(item.context_expr) - bound
                inside |= _stored([item.optional_vars]) if item.optional_vars else set()
            for handler in getattr(statement, "handlers", []):
                reads |= _reads(handler.type) - bound if handler.type else set()
            for block in blocks:
                block_reads, block_bound = _exposed(block, inside)
                reads |= block_reads
                if isinstance(statement, (ast.With, ast.AsyncWith)):
                    bound |= block_bound
        else:
            reads |= _reads(statement) - bound
            bound |= _binds(statement)
    return reads, bound


def _writes(node, modules) -> set:
    """The global names ``node`` binds or may change, outside function bodies (see :class:`CellNames`)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, _SCOPES):
        return set()
    names = set()
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        names.add(node.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        names |= _binds(node)
    elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
        names.add(_root(node))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        call = node.value
        changed = {_root(call.func)} if isinstance(call.func, (ast.Attribute, ast.Subscript)) else set()
        changed |= {arg.id for arg in call.args if isinstance(arg, ast.Name) and not arg.id.isupper()}
        names |= changed - modules
    for child in ast.iter_child_nodes(node):
        names |= _writes(child, modules)
    names.discard(None)
    return names


@dataclasses.dataclass(frozen=True)
class CellNames:
    """The global names a code cell binds or may change (``writes``), and those it reads
    before binding them (``reads``).

    ``writes`` holds, besides the names assigned, imported, defined or deleted, the
    root of every attribute or item assigned (``model.trainable = ...``,
    ``scores[k] = ...``), and what a call made as a statement may change in place:
    its object (``history.append(...)``, ``model.fit(...)``) and its positional
    arguments that are names (``set_trainable(model, False)``; not the constants
    spelled in capitals), except modules, whose calls
    (``np.testing.assert_allclose(...)``) change nothing of the chapter's. Names
    local to the cell's functions and comprehensions are neither. ``binds`` are the
    names its top-level statements bind whatever else it does (assignments, imports,
    definitions): their earlier values are not needed after the cell. ``reads`` leaves
    out a name the cell binds at top level before it reads it. ``star`` is True for
    ``from ... import *``.
    """

    writes: frozenset
    reads: frozenset
    binds: frozenset = frozenset()
    star: bool = False

    @classmethod
    def of(cls, source: str) -> "CellNames":
        tree = ast.parse(_python(source))
        modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                   if isinstance(node, ast.Import) for alias in node.names}
        reads, bound = _exposed(tree.body, set())
        star = any(isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names) for node in tree.body)
        return cls(frozenset(_writes(tree, modules)), frozenset(reads), frozenset(bound), star)


def live_cells(cells, roots, given=()) -> set:
    """The indices of the code cells that must run for ``roots`` to see what they read.

    ``roots`` maps the cells that run in any case (the exercises, the cells between
    them and their checks, the checks) to extra names they need (those the answers
    read). A backward pass over ``cells`` (a notebook's cells): a code cell is live
    when it writes (:class:`CellNames`) a name needed after it, the names read by the
    live cells and the roots after it; then what it reads is needed too, and what it
    binds is not needed before it (unless it reads it). The names in ``given`` are
    never needed: the caller provides them.
    """
    given, needed, live = set(given), set(), set()
    for index in range(len(cells) - 1, -1, -1):
        if cells[index]["cell_type"] != "code":
            continue
        names = CellNames.of(_source(cells[index]))
        if names.star or names.writes & needed:
            live.add(index)
            needed = (needed - names.binds) | (names.reads - given)
        if index in roots:
            needed |= (names.reads | set(roots[index])) - given
    return live


def _answer_codes(answers, check) -> list:
    """The code of every answer for ``check`` in ``answers`` (dicts like RIGHT_ANSWERS, WRONG_ANSWERS)."""
    forms = [form for table in answers for form in table.get(check, {}).values()]
    return [form[0] if isinstance(form, tuple) else form for form in forms]


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
    answers : dicts of check -> {label: code}, optional
        The answers the tests will give (RIGHT_ANSWERS, WRONG_ANSWERS): the names they
        read are computed before an exercise even where the instructor's solution does
        not read them. An answer that reads a name of a skipped cell raises ValueError.
    given : dict of str to callable, optional
        Names the test provides instead of the chapter's cells: ``given[name](namespace)``
        is the value, computed from the namespace as it stands before each exercise (with
        the values given before it in the dict) and bound there (the cells that computed
        them, a training run say, then need not run). The checks are then tested on those
        values rather than on the chapter's.
    """

    def __init__(self, name: str, *, seed: int = 0, answers=(), given=None):
        self.name = name
        self.seed = seed
        self.cells = json.loads((CHAPTERS / name).read_text(encoding="utf-8"))["cells"]
        self.checks = {check.name: check for check in find_checks(CHAPTERS / name)}
        self.namespace: dict = {"__name__": "__main__"}
        self._next = 0  # the first cell not yet executed into self.namespace
        self._snapshots: dict[int, dict] = {}  # exercise cell -> the namespace before it
        self._failed: str | None = None  # why the run before an exercise failed: later checks fail at once
        roots = {}
        for check in self.checks:
            exercise, check_index = self._exercise_of(check)
            roots.update({index: set() for index in range(exercise, check_index + 1)})
            roots[exercise] = set().union(set(), *(self._answer_reads(exercise, code)
                                                   for code in _answer_codes(answers, check)))
        self.given = dict(given or {})
        self.live = live_cells(self.cells, roots, self.given)
        self._skipped_writes = {index: CellNames.of(_source(cell)).writes for index, cell in enumerate(self.cells)
                                if cell["cell_type"] == "code" and index not in self.live}

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

    def _answer_reads(self, exercise: int, answer: str | None) -> set:
        """The global names the exercise cell reads with ``answer`` as its solution."""
        source = _source(self.cells[exercise])
        return set(CellNames.of(source if answer is None else replace_solution(source, answer)).reads)

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
        if self._failed:
            raise RuntimeError(f"{self.name}: not run, an earlier cell failed: {self._failed}")
        if self._next > exercise:
            raise ValueError(f"{self.name}: the cells before the exercise of {check_name!r} ran past it")
        with self._notebook_context(), contextlib.redirect_stdout(io.StringIO()):
            for index in range(self._next, exercise + 1):
                try:
                    if BEGIN_SOLUTION in _source(self.cells[index]):
                        for key, value in self.given.items():  # in order: a value can use those before it
                            self.namespace[key] = value(self.namespace)
                        self._snapshots[index] = dict(self.namespace)
                    if index < exercise and index in self.live:
                        self._run(index, _source(self.cells[index]), self.namespace)
                except BaseException as error:
                    self._failed = f"cell {index}: {type(error).__name__}: {error}"
                    raise
        self._next = exercise

    def check(self, check_name: str, answer: str | None = None) -> Outcome:
        """Run the exercise of ``check_name`` with ``answer`` as its solution, then the check.

        ``answer=None`` runs the instructor's solution. The code cells between the
        exercise and its check run too (with the answer's names).
        """
        self.prepare(check_name)
        exercise, check_index = self._exercise_of(check_name)
        namespace = dict(self._snapshots[exercise])
        skipped = {name for index, writes in self._skipped_writes.items() if index < exercise for name in writes}
        unseen = (self._answer_reads(exercise, answer) & skipped) - set(namespace) - set(dir(builtins))
        if unseen:
            raise ValueError(f"the answer reads {sorted(unseen)}, which only cells skipped before the exercise of "
                             f"{check_name!r} bind: give the answer to Chapter(answers=...)")
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


def check_tests(notebook: str, right_answers: dict, wrong_answers: dict, *, given=None, confirmation: str = "",
                awards=None):
    """The fixture and the two tests every ``tests/test_exercise_checks_chNN.py`` runs::

        chapter, test_check_accepts, test_check_rejects = check_tests(
            "01_background.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, confirmation="correct")

    - ``test_check_accepts``: every correct form passes and prints a line matching
      ``confirmation`` (a regex, searched line by line); if it prints an award, the
      award is the check's full points;
    - ``test_check_rejects``: every wrong answer fails with a message matching its hint.

    ``awards`` maps a case's id, ``"<check>: <label>"``, to the points the check must
    award for it (a missing award counts as 0), or to None for "prints no award".
    ``given`` is passed to :class:`Chapter`.
    """
    import pytest

    awards = dict(awards or {})

    def _expect_award(outcome, case):
        if case not in awards:
            return
        expected = awards[case]
        if expected is None:
            assert outcome.awarded is None, f"{case}: no award expected; the check printed {outcome.output!r}"
        else:
            assert (outcome.awarded or 0.0) == pytest.approx(expected), f"{case}: {outcome.output!r}"

    @pytest.fixture(scope="module")
    def chapter():
        return Chapter(notebook, answers=(right_answers, wrong_answers), given=given)

    @pytest.mark.slow
    @pytest.mark.parametrize("check, code", right_cases(right_answers))
    def test_check_accepts(chapter, check, code, request):
        outcome = chapter.check(check, code)
        assert outcome.passed, outcome.message
        assert re.search(confirmation, outcome.output, re.M), f"no confirmation printed: {outcome.output!r}"
        full = chapter.checks[check].points
        assert outcome.awarded in (None, full), f"a right answer earns all {full} points: {outcome.output!r}"
        _expect_award(outcome, request.node.callspec.id)

    @pytest.mark.slow
    @pytest.mark.parametrize("check, code, hint", wrong_cases(wrong_answers))
    def test_check_rejects(chapter, check, code, hint, request):
        outcome = chapter.check(check, code)
        assert not outcome.passed, f"the check passed a wrong answer; it printed {outcome.output!r}"
        assert re.search(hint, outcome.message), outcome.message
        _expect_award(outcome, request.node.callspec.id)

    unknown = set(awards) - {p.id for p in [*right_cases(right_answers), *wrong_cases(wrong_answers)]}
    if unknown:
        raise ValueError(f"`awards` names cases that are not among the answers: {sorted(unknown)}")
    return chapter, test_check_accepts, test_check_rejects
