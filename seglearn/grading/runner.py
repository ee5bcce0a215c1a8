"""Running one notebook: one ``python -m pytest --nbval`` process and kernel, with time limits.

How nbval behaves matters for the points (verified with nbval 0.11): it runs
the cells of a notebook in one kernel, one test item per code cell
(``notebook.ipynb::Cell N``, N counting code cells from 0), and goes on after
a failing cell, so a wrong exercise costs only the checks that depend on it.
After a cell times out it interrupts the kernel and still runs the remaining
cells, but marks them ``xfail``; the plugin (:mod:`seglearn.grading.plugin`)
logs each cell's real outcome. When the kernel dies, the remaining cells fail
with "Kernel dead on test start".

What the student's code can reach is kept away from what decides the grade:
pytest runs in a fresh private folder (its ``pytest.ini`` there, no
``conftest.py`` loaded), not in the notebook's folder where the kernel runs;
the log records are signed with a key the kernel never sees; the kernel's
process group is killed after every run (so nothing it started lives on);
and pytest's output, which the student's code can fill, is kept up to
:data:`MAX_LOG_BYTES` (its start and its end).

A grader whose own machinery fails must not award zeros: ``_preflight``
runs a one-cell notebook through the same runner and raises
:class:`GradingEnvironmentError` (naming what is missing) when pytest, nbval,
ipykernel or seglearn cannot be imported or a kernel cannot start.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from .plugin import KEY_ENV, MAX_MESSAGE_CHARS, sign

__all__ = ["MAX_LOG_BYTES", "GradingEnvironmentError"]

#: Bytes of a notebook run's pytest output kept in its ``.log`` (the first
#: 90% and the last 10%); the rest is dropped and the cut is marked.
MAX_LOG_BYTES = 1_000_000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class GradingEnvironmentError(RuntimeError):
    """The grader's own machinery does not work, so it cannot score anyone.

    :func:`~seglearn.grading.grade` raises it, before writing any score, when
    the Python that runs the notebooks cannot import pytest, nbval, ipykernel
    or seglearn, when a Jupyter kernel cannot start, or when a notebook's
    pytest run ends in a way that shows the machinery broke (no cell ran, or
    pytest exited with code 2, 3, 4 or 5: interrupted, internal error, usage
    error, no tests collected). Scoring such runs would give correct
    notebooks 0 points. The message says what is missing and how to install
    it, e.g. ``grading needs nbval, which is not installed in
    /usr/bin/python3: ...``.

    Parameters
    ----------
    message : str
        What does not work and how to fix it.
    python : str, optional
        The interpreter that runs the notebooks.
    missing : tuple of str, default ()
        The modules it cannot import, e.g. ``("pytest", "nbval")``.
    """

    def __init__(self, message: str, python: str | None = None, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.python = python
        self.missing = tuple(missing)


@dataclasses.dataclass
class _Run:
    records: list[dict]
    returncode: int | None
    timed_out: bool
    seconds: float
    kernel_pid: int | None = None
    log: Path | None = None


def _read_log(path: Path, key: bytes | None = None) -> list[dict]:
    """The records of a run's JSON-lines log; with ``key``, only those the plugin signed."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        if not isinstance(record, dict):
            continue
        if key is not None:
            signature = record.pop("sig", None)
            if not isinstance(signature, str) or not hmac.compare_digest(signature, sign(record, key)):
                continue  # not written by the plugin: the student's code may have appended it
        records.append(record)
    return records


def _kill_group(pid: int) -> None:
    if os.name == "posix":
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
    else:  # Windows: end the process and its children
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True, check=False)


def _pytest_command(notebook: Path, config_dir: Path, cell_timeout: float, python: str, log: Path) -> list[str]:
    return [
        python, "-m", "pytest", "--nbval", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout:g}",
        "-p", "no:cacheprovider", "-p", "seglearn.grading.plugin", "--noconftest",
        "-c", str(config_dir / "pytest.ini"), "--rootdir", str(config_dir), "-q", "-rN",
        f"--seglearn-log={log}", str(notebook),
    ]


# Grading subprocesses still running, so that an interrupted grader (Ctrl+C,
# SIGTERM) can stop them and their kernels: both run in sessions of their own
# and would not receive the terminal's signal.
_RUNNING: dict[int, tuple[subprocess.Popen, Path, bytes]] = {}
_RUNNING_LOCK = threading.Lock()


def _kernel_pids(log: Path, key: bytes) -> list[int]:
    return [r["kernel_pid"] for r in _read_log(log, key) if isinstance(r.get("kernel_pid"), int)]


def _stop_run(proc: subprocess.Popen, log: Path, key: bytes) -> None:
    """Kill a grading subprocess, its process group and its kernel."""
    # The kernel runs in a session of its own (jupyter_client starts it so),
    # so killing pytest's group does not reach it: kill it by its logged pid.
    for pid in _kernel_pids(log, key):
        _kill_group(pid)
    _kill_group(proc.pid)
    proc.wait()


def _stop_all_runs() -> None:
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for proc, log, key in running:
        _stop_run(proc, log, key)


def _runner_env() -> dict[str, str]:
    """The environment of a grading subprocess (and of the preflight's probe)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", KEY_ENV)}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    return env


def _drain(pipe, path: Path, limit: int) -> None:
    """Copy a run's output to ``path``, keeping its first 90% and last 10% of ``limit`` bytes."""
    head_room, tail_room = limit - limit // 10, limit // 10
    tail = bytearray()
    written = dropped = 0
    with open(path, "wb") as out:
        while True:
            chunk = pipe.read1(65536)
            if not chunk:
                break
            if written < head_room:
                part = chunk[: head_room - written]
                out.write(part)
                out.flush()
                written += len(part)
                chunk = chunk[len(part):]
            if chunk:
                tail += chunk
                if len(tail) > tail_room:
                    dropped += len(tail) - tail_room
                    del tail[: len(tail) - tail_room]
        if dropped:
            out.write(f"\n[seglearn grade: {dropped} bytes of output dropped here, past the limit of {limit} "
                      f"bytes per notebook]\n".encode())
        out.write(bytes(tail))
    pipe.close()


def _run_notebook(notebook: Path, cell_timeout: float, notebook_timeout: float, python: str | None = None,
                  stop: threading.Event | None = None, *, log_dir: Path | None = None) -> _Run:
    """Run one notebook with nbval in its own pytest process and kernel.

    ``python`` (default ``sys.executable``) runs pytest; with
    ``--nbval-current-env`` the kernel runs in the same interpreter, in the
    notebook's folder. pytest runs in a fresh temporary folder and writes
    ``<log_dir>/<notebook>.log`` (its output, capped) and ``.jsonl`` (the
    plugin's records). A run that starts after ``stop`` was set is killed at
    once (the grading was stopped while it started, too late for
    ``_stop_all_runs`` to see it).
    """
    notebook = notebook.resolve()
    log_dir = Path(log_dir or notebook.parent).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    log, out_path = log_dir / f"{notebook.stem}.jsonl", log_dir / f"{notebook.stem}.log"
    log.unlink(missing_ok=True)
    key = secrets.token_hex(16)
    env = _runner_env()
    config_dir = Path(tempfile.mkdtemp(prefix="seglearn-grading-"))
    (config_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # ignore any project config
    command = _pytest_command(notebook, config_dir, cell_timeout, python or sys.executable, log)
    kwargs: dict = {}
    if os.name == "posix":
        read_end, write_end = os.pipe()
        os.write(write_end, key.encode("ascii"))
        os.close(write_end)
        command.insert(-1, f"--seglearn-key-fd={read_end}")
        kwargs = {"start_new_session": True, "pass_fds": (read_end,)}
    else:
        read_end = None
        env[KEY_ENV] = key
        kwargs = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    start = time.monotonic()
    try:
        proc = subprocess.Popen(command, cwd=config_dir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
    except BaseException:
        shutil.rmtree(config_dir, ignore_errors=True)
        raise
    finally:
        if read_end is not None:
            os.close(read_end)
    drain = threading.Thread(target=_drain, args=(proc.stdout, out_path, MAX_LOG_BYTES), daemon=True)
    drain.start()
    key_bytes = key.encode("ascii")
    with _RUNNING_LOCK:
        _RUNNING[proc.pid] = (proc, log, key_bytes)
    timed_out = False
    try:
        if stop is not None and stop.is_set():
            _stop_run(proc, log, key_bytes)
        returncode = proc.wait(timeout=notebook_timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop_run(proc, log, key_bytes)
        returncode = proc.returncode
    except BaseException:  # interrupted: leave nothing running
        _stop_run(proc, log, key_bytes)
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(proc.pid, None)
        for pid in _kernel_pids(log, key_bytes):  # whatever the kernel started and left behind
            _kill_group(pid)
        drain.join(timeout=10)
        shutil.rmtree(config_dir, ignore_errors=True)
    records = _read_log(log, key_bytes)
    kernel = next((r["kernel_pid"] for r in records if "kernel_pid" in r), None)
    return _Run(records, returncode, timed_out, time.monotonic() - start, kernel, out_path)


# pytest's exit codes that mean it did not (or could not) run the tests:
# 1 means tests failed, which for a notebook is the student's doing.
_PYTEST_EXIT = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
_GRADER_MODULES = ("pytest", "nbval", "ipykernel", "seglearn.grading.plugin")
_PREFLIGHT_TIMEOUT = 120.0
# Run by the notebooks' interpreter: which of the grader's modules it cannot import, and why.
_PROBE = """\
import importlib, json, sys
missing = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        absent = isinstance(exc, ModuleNotFoundError) and exc.name in (name, name.split(".")[0])
        missing[name] = {"absent": absent, "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(missing))
"""


class _BrokenRun(Exception):
    """A notebook's run shows the grader's machinery broke (internal: becomes GradingEnvironmentError)."""

    def __init__(self, problem: str, context: str):
        super().__init__(problem)
        self.problem, self.context = problem, context


def _log_reason(log: Path) -> str:
    """The line of a pytest log that says why it stopped, or ""."""
    try:
        lines = [_ANSI.sub("", line).strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    internal = [line.removeprefix("INTERNALERROR>").strip() for line in lines if line.startswith("INTERNALERROR>")]
    reason = (next((line for line in lines if "No module named" in line), None)
              or next((line for line in lines if line.startswith("ERROR:")), None)
              or next((line for line in reversed(internal) if line), None)
              or (lines[-1] if lines else ""))
    return reason if len(reason) <= MAX_MESSAGE_CHARS else reason[: MAX_MESSAGE_CHARS - 3] + "..."


def _machinery_failure(run: _Run, log: Path) -> str | None:
    """Why a run shows that pytest, nbval or the kernel broke; None when its results can be scored.

    A timed-out run is scored (its unfinished checks are the notebook's fault).
    Otherwise pytest must have run the cells and exited with 0 (all passed)
    or 1 (some failed), and the kernel must have started: nbval starts it when
    setting up the first cell, so a failed setup means it did not.
    """
    if run.timed_out:
        return None
    cells = [r for r in run.records if "cell" in r]
    if run.returncode in (0, 1) and cells:
        setup = next((r for r in cells if r.get("when") == "setup" and r.get("outcome") == "failed"), None)
        return None if setup is None else f"the Jupyter kernel did not start ({setup.get('message', '')})"
    if run.returncode is not None and run.returncode < 0:
        problem = f"pytest was killed by signal {-run.returncode}"
    else:
        meaning = _PYTEST_EXIT.get(run.returncode)
        problem = f"pytest exited with code {run.returncode}" + (f" ({meaning})" if meaning else "")
    if not cells:
        problem += " without running any cell"
    reason = _log_reason(log)
    return problem + (f": {reason}" if reason else "")


def _missing_modules(python: str) -> dict[str, dict]:
    """``{module: {"absent": bool, "error": str}}`` for the grader's modules ``python`` cannot import.

    Runs in an empty folder with the grading subprocess's environment, as the
    runner does (so a ``seglearn`` importable only from the current folder
    counts as missing). Empty when the probe itself cannot run.
    """
    with tempfile.TemporaryDirectory(prefix="seglearn-grading-probe-") as tmp:
        try:
            done = subprocess.run([python, "-c", _PROBE, *_GRADER_MODULES], cwd=tmp, env=_runner_env(),
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=_PREFLIGHT_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError):
            return {}
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _course_root() -> str:
    root = Path(__file__).resolve().parents[2]
    return str(root) if (root / "pyproject.toml").is_file() else "."


def _environment_error(python: str, problem: str, context: str) -> GradingEnvironmentError:
    """The error to raise for a broken grader: what ``python`` lacks, else ``problem``."""
    missing = _missing_modules(python)
    parts = []
    absent = [m for m in _GRADER_MODULES if m in missing and missing[m].get("absent") and m != "seglearn.grading.plugin"]
    if absent:
        names = " and ".join([", ".join(absent[:-1]), absent[-1]] if len(absent) > 1 else absent)
        parts.append(f"grading needs {names}, which {'is' if len(absent) == 1 else 'are'} not installed in "
                     f"{python}: run `{python} -m pip install {' '.join(absent)}` (the course install, "
                     f"`{python} -m pip install -e {_course_root()}`, includes the grader)")
    if missing.get("seglearn.grading.plugin", {}).get("absent"):
        parts.append(f"grading needs seglearn (its pytest plugin seglearn.grading.plugin runs in every grading "
                     f"process), which {python} cannot import outside the course folder: run "
                     f"`{python} -m pip install -e {_course_root()}`")
    for module in _GRADER_MODULES:
        if module in missing and not missing[module].get("absent"):
            parts.append(f"grading needs {module}, which cannot be imported in {python}: {missing[module].get('error')}")
    if not parts:
        parts.append(f"grading cannot run notebooks with {python}: {problem}")
    return GradingEnvironmentError("; ".join(parts) + f" ({context})", python, tuple(m for m in _GRADER_MODULES
                                                                                    if m in missing))


def _preflight(python: str) -> None:
    """Run a one-cell notebook through the grading runner; raise GradingEnvironmentError if it does not pass."""
    context = "checked before grading; no notebook was graded"
    with tempfile.TemporaryDirectory(prefix="seglearn-grading-check-") as tmp:
        target = Path(tmp) / "grader_check.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys\nprint(sys.version)")]),
                       str(target))
        try:
            run = _run_notebook(target, _PREFLIGHT_TIMEOUT, _PREFLIGHT_TIMEOUT, python)
        except OSError as exc:  # no such interpreter, or not executable
            raise GradingEnvironmentError(
                f"grading runs the notebooks with python={python!r}, which cannot be started: {exc}", python
            ) from None
        problem = _machinery_failure(run, run.log)
        cell = next((r for r in run.records if r.get("cell") == 0), None)
        if run.timed_out:
            problem = f"a one-cell notebook did not finish within {_PREFLIGHT_TIMEOUT:g} s (the kernel did not start?)"
        elif problem is None and (cell is None or cell.get("outcome") != "passed"):
            problem = f"a one-cell notebook (print(sys.version)) failed: {cell.get('message') if cell else 'not run'}"
        if problem is not None:
            raise _environment_error(python, problem, context)


