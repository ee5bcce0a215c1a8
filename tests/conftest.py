"""Shared fixtures for the test suite."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def nuclei_dir() -> Path:
    """The real nucleus images (``SEGLEARN_NUCLEI_DIR``, set by the root conftest when
    ``../shared/data/dsb2018-nuclei`` exists), or skip when they are absent."""
    folder = Path(os.environ.get("SEGLEARN_NUCLEI_DIR", ROOT.parent / "shared" / "data" / "dsb2018-nuclei"))
    if not (folder / "images").is_dir():
        pytest.skip(f"real nucleus images not found at {folder} (set SEGLEARN_NUCLEI_DIR)")
    return folder
