"""The pytest plugin that the grading subprocess loads (``-p seglearn.grading.plugin``).

It logs, as JSON lines, each notebook cell's real outcome (nbval turns the
cells after a time-out into ``xfail``), the award of a check that gives
partial credit (:func:`seglearn.grading.award`, read from the cell's own
output), and the kernel's process id (so that a hung notebook can be killed).
Its hooks do nothing unless the grader passes ``--seglearn-log=PATH``.

Each record is signed with a key that the grader hands to this process on a
pipe (``--seglearn-key-fd``; on Windows in an environment variable that the
plugin removes before the kernel starts). The kernel, which runs the
student's code, never sees the key, so a line that student code appends to
the log is not signed and the grader drops it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import numbers
import os
import re
from collections.abc import Mapping

from .credit import AWARD_MIME

__all__: list[str] = []  # only pytest hooks

KEY_ENV = "SEGLEARN_GRADING_KEY"
#: Longest message kept per cell (an assertion message, an award's text).
MAX_MESSAGE_CHARS = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def sign(record: dict, key: bytes) -> str:
    """The signature of one log record (HMAC-SHA256 of its sorted JSON)."""
    return hmac.new(key, json.dumps(record, sort_keys=True).encode("utf-8"), hashlib.sha256).hexdigest()


def _cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def pytest_addoption(parser):
    group = parser.getgroup("seglearn grading")
    group.addoption("--seglearn-log", default=None, help="(seglearn grade) JSON-lines log of the cells' outcomes")
    group.addoption("--seglearn-key-fd", type=int, default=None, help="(seglearn grade) pipe with the log's key")


def pytest_configure(config):
    key = os.environ.pop(KEY_ENV, "")  # the kernel starts later and must not inherit it
    fd = config.getoption("seglearn_key_fd", None)
    if fd is not None:
        with os.fdopen(fd, "rb") as pipe:  # closing it leaves nothing for the kernel to find
            key = pipe.read(1024).decode("ascii", errors="replace").strip()
    config._seglearn_log = config.getoption("seglearn_log", None)
    config._seglearn_key = key.encode("ascii", errors="replace")


def _log(config, record: dict) -> None:
    path = getattr(config, "_seglearn_log", None)
    if path:
        record = {**record, "sig": sign(record, config._seglearn_key)}
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _error_text(excinfo) -> str:
    """One line saying why a cell failed, e.g. ``AssertionError: shape wrong``."""
    exc = excinfo.value
    headline = str(exc).strip()
    if headline.startswith("Timeout"):
        return _cap(headline)
    traceback = _ANSI.sub("", getattr(exc, "inner_traceback", None) or "")
    lines = [line.rstrip() for line in traceback.splitlines()]
    error = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning)\b")
    for start in range(len(lines) - 1, -1, -1):
        if error.match(lines[start]):
            return _cap(" ".join(line.strip() for line in lines[start:] if line.strip()).rstrip(":"))
    return _cap(f"{excinfo.typename}: {headline}" if headline else excinfo.typename)


def _award(item) -> dict | None:
    """The last award a cell displayed (:func:`seglearn.grading.award`), checked; None without one."""
    found = None
    for output in getattr(item, "test_outputs", None) or []:
        data = output.get("data") if isinstance(output, Mapping) else None
        if isinstance(data, Mapping) and AWARD_MIME in data:
            found = data[AWARD_MIME]
    if not isinstance(found, Mapping):
        return None
    points, of, text = found.get("points"), found.get("of"), found.get("text", "")
    if (isinstance(points, bool) or not isinstance(points, numbers.Real) or not math.isfinite(points)
            or isinstance(of, bool) or not isinstance(of, numbers.Real)):
        return {"points": 0.0, "of": 0, "text": "invalid award"}
    return {"points": float(points), "of": int(of), "text": _cap(str(text))}


def pytest_runtest_call(item):
    """Log the kernel's process id once, so a hung notebook can be killed."""
    config = item.config
    if not getattr(config, "_seglearn_log", None) or getattr(config, "_seglearn_kernel_logged", False):
        return
    km = getattr(getattr(item.parent, "kernel", None), "km", None)
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    if pid:
        config._seglearn_kernel_logged = True
        _log(config, {"kernel_pid": int(pid)})


def pytest_runtest_makereport(item, call):
    """Log each cell's real outcome (nbval turns cells after a timeout into xfail)."""
    cell = getattr(item, "cell_num", None)
    if cell is None or not getattr(item.config, "_seglearn_log", None):
        return None
    if call.when == "call" or call.excinfo is not None:
        if call.excinfo is None:
            outcome, message = "passed", ""
        elif call.excinfo.typename == "Skipped":
            outcome, message = "skipped", "skipped (NBVAL_SKIP)"
        else:
            outcome, message = "failed", _error_text(call.excinfo)
        record = {"cell": cell, "when": call.when, "outcome": outcome, "message": message,
                  "duration": round(call.duration, 3)}
        award = _award(item) if call.when == "call" else None
        if award is not None:
            record["award"] = award
        _log(item.config, record)
    return None  # let pytest build its report as usual
