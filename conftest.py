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
SLOW_TEST_FILES = {"test_browser.py", "test_grading.py", "test_training.py", "test_cli.py"}


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" or path.name in SLOW_TEST_FILES or path.name.startswith("test_grading"):
            item.add_marker(pytest.mark.slow)
