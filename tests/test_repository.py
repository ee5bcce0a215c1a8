"""Checks on the repository itself: set-up commands, notebooks, package hygiene."""

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Modules that must stay importable without TensorFlow (STYLE.md: NumPy first).
# cost, deploy and interpret need TensorFlow, but only inside their functions.
NUMPY_MODULES = ["ops", "losses", "metrics", "backprop", "batchnorm", "optim", "datasets", "viz", "diagrams",
                 "widgets", "robustness", "cost", "deploy", "interpret", "tables", "experiments"]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell):
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


# --- set-up commands -------------------------------------------------------


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"^TEST_COMMAND='(.+)'$", ci, flags=re.M).group(1)
    assert command in README, f"README.md must show the test command CI runs: {command}"


def test_readme_has_a_command_that_opens_the_course():
    assert re.search(r"jupyter lab chapters", README), "README.md must show the command that opens the course"


def test_readme_lists_every_chapter():
    missing = [nb.stem for nb in CHAPTERS if nb.name not in README]
    assert not missing, f"README.md chapter list is missing {missing}"


def test_environment_yml_installs_the_package_with_its_test_extra():
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert "python=3.11" in env and '-e ".[test]"' in env


# --- notebooks ---------------------------------------------------------------


def test_there_are_chapters():
    assert len(CHAPTERS) >= 7


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = _load(path)
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, f"{path.name}: extra notebook metadata {set(nb['metadata'])}"
    assert set(nb["metadata"].get("language_info", {})) <= {"name"}, f"{path.name}: platform details in language_info"
    for index, cell in enumerate(nb["cells"]):
        where = f"{path.name} cell {index}"
        assert set(cell.get("metadata", {})) <= {"seglearn", "tags"}, f"{where}: metadata {cell['metadata']}"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{where} has outputs: clear them before committing"
            assert cell["execution_count"] is None, f"{where} has an execution count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_layout(path):
    cells = _load(path)["cells"]
    number = path.name[:2]
    first, last = _source(cells[0]), _source(cells[-1])
    assert cells[0]["cell_type"] == "markdown" and first.startswith(f"# Chapter {number}:"), f"{path.name}: title"
    assert re.search(r"what you will learn", first, re.I), f"{path.name}: learning goals at the top"
    assert cells[-1]["cell_type"] == "markdown" and re.search(r"^## Summary", last, re.M), f"{path.name}: summary at the end"
    assert any(_source(c).startswith("## ") for c in cells if c["cell_type"] == "markdown"), f"{path.name}: ## sections"


def _checks(cells):
    """The check cells, public (``# CHECK:``) and instructor-only (``# HIDDEN CHECK:``)."""
    return [c for c in cells if c["cell_type"] == "code" and _source(c).startswith(("# CHECK:", "# HIDDEN CHECK:"))]


_CHECK_HEADER = re.compile(r"# (?:HIDDEN )?CHECK: (.+) \((\d+) points?\)")


def _check_headers(cells):
    """(name, points) of each check cell, read from its ``# [HIDDEN ]CHECK: <name> (<points> points)`` line."""
    return [(m.group(1), int(m.group(2))) for m in (_CHECK_HEADER.fullmatch(_source(c).splitlines()[0])
                                                    for c in _checks(cells)) if m]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_have_solutions_and_checks(path):
    cells = _load(path)["cells"]
    number = int(path.name[:2])
    checks = _checks(cells)
    needed = 3 if 1 <= number <= 10 else 0  # issue 16: at least 3 graded exercises in chapters 01-10
    assert len(checks) >= needed, f"{path.name}: {len(checks)} check cells, at least {needed} needed"
    for cell in checks:
        meta = cell["metadata"].get("seglearn", {})
        first = _source(cell).splitlines()[0]
        match = _CHECK_HEADER.fullmatch(first)
        assert match, f"{path.name}: check header {first!r}"
        assert meta == {"check": match.group(1), "points": int(match.group(2))}, f"{path.name}: metadata of {first!r}"
        assert "assert" in _source(cell), f"{path.name}: {first!r} asserts nothing"
    for cell in cells:
        src = _source(cell)
        assert src.count("### BEGIN SOLUTION") == src.count("### END SOLUTION"), f"{path.name}: unbalanced markers"


def test_the_course_has_enough_graded_work():
    """Issue 16: at least 45 checks and 110 points over the course."""
    points = [points for path in CHAPTERS for _, points in _check_headers(_load(path)["cells"])]
    assert len(points) >= 45 and sum(points) >= 110, f"{len(points)} checks, {sum(points)} points"


@pytest.mark.parametrize("path", [p for p in CHAPTERS if 1 <= int(p.name[:2]) <= 10], ids=lambda p: p.stem)
def test_every_check_keeps_its_right_and_wrong_answers_in_tests(path):
    """Issue 16: per check, the instructor's answer and another correct form, and two wrong answers,
    in tests/test_exercise_checks_chNN.py (which proves the check accepts and rejects them)."""
    test_file = ROOT / "tests" / f"test_exercise_checks_ch{path.name[:2]}.py"
    assert test_file.is_file(), f"{path.name}: no {test_file.name} tests its checks"
    module = importlib.import_module(test_file.stem)  # tests/ is on sys.path (pytest's rootdir conftest)
    for name, _ in _check_headers(_load(path)["cells"]):
        right, wrong = list(module.RIGHT_ANSWERS.get(name, {})), list(module.WRONG_ANSWERS.get(name, {}))
        assert "instructor" in right and len(right) >= 2, f"{path.name}, {name!r}: correct forms {right}"
        assert len(wrong) >= 2, f"{path.name}, {name!r}: wrong answers {wrong}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_takes_its_seed_from_the_course_seed(path):
    # One place for the seed (issue 15): SEGLEARN_SEED=1 reruns every chapter with other
    # draws. Every random generator is seeded from SEED, never from a literal.
    code = [_source(c) for c in _load(path)["cells"] if c["cell_type"] == "code"]
    assert sum("SEED = seglearn.course_seed()" in c for c in code) == 1, path.name
    literal = re.compile(r"(set_random_seed|default_rng|RandomState)\(\s*\d+\s*\)")
    offenders = [line.strip() for c in code for line in c.splitlines() if literal.search(line)]
    assert not offenders, f"{path.name} seeds a generator with a literal: {offenders}"


def test_course_seed_reads_the_environment_and_names_a_bad_value(monkeypatch):
    import seglearn

    monkeypatch.delenv("SEGLEARN_SEED", raising=False)
    assert seglearn.course_seed() == 0
    monkeypatch.setenv("SEGLEARN_SEED", " 7 ")
    assert seglearn.course_seed() == 7
    for bad in ("-1", "1.5", "seven", str(2**32)):
        monkeypatch.setenv("SEGLEARN_SEED", bad)
        with pytest.raises(ValueError, match=f"SEGLEARN_SEED='{re.escape(bad)}'"):
            seglearn.course_seed()


def test_no_helper_is_defined_in_two_notebooks():
    seen = {}
    for path in CHAPTERS:
        for cell in _load(path)["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "\n".join(l for l in _source(cell).splitlines() if not l.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(src)):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    seen.setdefault(node.name, set()).add(path.name)
    twice = {name: sorted(where) for name, where in seen.items() if len(where) > 1}
    assert not twice, f"helpers defined in several notebooks (move them to seglearn): {twice}"


# --- package -----------------------------------------------------------------


def test_import_seglearn_and_numpy_modules_do_not_import_tensorflow():
    code = (
        "import sys, seglearn\n"
        + "".join(f"import seglearn.{m}\n" for m in NUMPY_MODULES)
        + "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], "a NumPy module imports TensorFlow or Keras at import time"


PUBLIC_MODULES = [
    m for m in ["ops", "losses", "metrics", "backprop", "batchnorm", "optim", "datasets", "pipeline", "viz", "diagrams",
                "widgets", "models", "training", "grading", "experiments", "robustness", "cost", "deploy", "interpret", "tables"]
    if (ROOT / "seglearn" / f"{m}.py").exists() or (ROOT / "seglearn" / m / "__init__.py").exists()
]  # datasets and grading are packages: their __all__ re-exports every public name


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_functions_have_numpydoc_docstrings(name):
    module = importlib.import_module(f"seglearn.{name}")
    assert hasattr(module, "__all__"), f"seglearn.{name} must declare __all__"
    undocumented = []
    for attr in module.__all__:
        obj = getattr(module, attr)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        takes_args = bool([p for p in inspect.signature(obj).parameters if p != "self"])
        # Classes may document their fields in an Attributes section instead
        # (records such as named tuples and dataclasses).
        sections = ("Parameters", "Attributes") if inspect.isclass(obj) else ("Parameters",)
        if not doc or (takes_args and not any(section in doc for section in sections)):
            undocumented.append(attr)
    assert not undocumented, f"seglearn.{name}: no numpydoc Parameters section for {undocumented}"


def test_importing_any_module_changes_no_environment_variable():
    # Issue 18: quiet TensorFlow where the course starts it (the chapters' first cell,
    # the CLI's main), never as a side effect of an import. TensorFlow, Keras and
    # threadpoolctl (which sets KMP_DUPLICATE_LIB_OK) set variables of their own on
    # import, so they are imported before the snapshot.
    code = (
        "import os, tensorflow, keras, seglearn\n"
        "try:\n    import threadpoolctl\nexcept ImportError:\n    pass\n"
        "before = dict(os.environ)\n"
        "for name in seglearn._SUBMODULES:\n"
        "    __import__('seglearn.' + name)\n"
        "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
        "print(changed)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
