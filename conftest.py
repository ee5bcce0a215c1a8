"""Settings for every test run, notebooks included (nbval kernels inherit them)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Chapter 10 runs on the 40 nucleus images shipped in data/nuclei-v1 unless
# SEGLEARN_NUCLEI_DIR names another folder: the notebook tests run what a student
# runs. Tests that need the project's full set of 120 images (../shared) use the
# ``nuclei_dir`` fixture of tests/conftest.py and skip without it.

collect_ignore = ["build", "benchmarks"]

# The fast loop is `pytest -m "not slow"`. Slow: every notebook (nbval), and the test
# files that run notebooks, a browser or training runs; a test elsewhere can opt in
# with @pytest.mark.slow.
# The grading files that grade notebooks are slow; its unit files (credit, hidden checks,
# resume, safety) take seconds and stay in the fast loop.
SLOW_TEST_FILES = {
    "test_browser.py",
    "test_cli.py",
    "test_grading.py",
    "test_grading_class.py",
    "test_grading_gradescope.py",
    "test_training.py",
}


# The longest files first: `-n 2 --dist loadfile` hands whole files to the two workers in
# collection order, so a long chapter collected last would run alone at the end. Chapters in
# the order of their measured time (benchmarks/bench_notebooks.py), then the rest as collected.
LONGEST_FIRST = ("10_", "07_", "08_", "09_", "06_", "05_", "04_")


def _rank(path: Path) -> int:
    if path.suffix == ".ipynb":
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.name.startswith(prefix)), len(LONGEST_FIRST))
    return len(LONGEST_FIRST) + 1


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" or path.name in SLOW_TEST_FILES:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: _rank(Path(str(item.fspath))))  # stable: a file's cells stay in order
