"""Settings for every test run, notebooks included (nbval kernels inherit them)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Real microscopy images beside the project (CI and developers have them; course
# users do not). The capstone chapter reads SEGLEARN_NUCLEI_DIR and falls back to
# the course data set without it; tests that need the images skip without them.
_SHARED_NUCLEI = ROOT.parent / "shared" / "data" / "dsb2018-nuclei"
if "SEGLEARN_NUCLEI_DIR" not in os.environ and (_SHARED_NUCLEI / "images").is_dir():
    os.environ["SEGLEARN_NUCLEI_DIR"] = str(_SHARED_NUCLEI)

collect_ignore = ["build", "benchmarks"]
