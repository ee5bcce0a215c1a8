"""Time every chapter top to bottom in a fresh kernel, as a student would run it.

Usage::

    python benchmarks/bench_notebooks.py [chapters/02_convolution.ipynb ...]

Prints one row per notebook (wall seconds, with the machine's load average, since
other work on the machine inflates the figures) and the totals.
Targets: each core chapter under 90 s, the FAQ chapters together under 360 s, the
capstone under 180 s, all on a 2-core CPU.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv):
    paths = [Path(p) for p in argv] or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    total = 0.0
    rows = []
    for path in paths:
        seconds = run(path)
        total += seconds
        rows.append((path.name, seconds))
        print(f"{path.name:45s} {seconds:7.1f} s   (load {os.getloadavg()[0]:.2f})", flush=True)
    faq = sum(s for name, s in rows if "faq" in name)
    print(f"{'total':45s} {total:7.1f} s")
    if faq:
        print(f"{'FAQ chapters together (target < 360 s)':45s} {faq:7.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
