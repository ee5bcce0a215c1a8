"""Shared fixtures for the test suite."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
# Real microscopy images for loader tests and real-data benchmarks. Course users
# do not have them, so every test that needs them skips when they are absent.
NUCLEI_DIR = Path(os.environ.get("SEGLEARN_NUCLEI_DIR", ROOT.parent / "shared" / "data" / "dsb2018-nuclei"))


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def nuclei_dir() -> Path:
    """The shared 2018 Data Science Bowl nuclei folder, or skip when it is absent."""
    if not (NUCLEI_DIR / "images").is_dir():
        pytest.skip(f"shared nuclei data not found at {NUCLEI_DIR}")
    return NUCLEI_DIR
