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
