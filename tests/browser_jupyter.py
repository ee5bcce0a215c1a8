"""Helpers for the browser test: a throwaway JupyterLab server and notebook-page actions.

``tests/test_browser.py`` uses these to open the chapters in JupyterLab in
Debian's headless Chromium, driven by Playwright (no browser download).
Nothing here is a test; the module name does not start with ``test_``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Flags for Chromium in a container: no sandbox (root, no user namespaces),
#: no GPU, and nothing that talks to Google's servers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
INSTALL_HINT = "sudo apt-get install chromium"

# JupyterLab user settings for the test server: no news or update check (they
# would reach the network and pop up a notification over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def find_chromium() -> str | None:
    """Path of Debian's Chromium (``SEGLEARN_CHROMIUM`` overrides), or None."""
    override = os.environ.get("SEGLEARN_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_group(pid: int, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 with a random port and token.

    Started from this Python environment (``sys.executable -m jupyter lab``)
    in a session of its own, with its config, data, settings and workspaces
    in ``home`` so nothing of the developer's own set-up leaks in. Use as a
    context manager, or call :meth:`stop` (safe to call twice).
    """

    def __init__(self, root_dir: Path, home: Path, startup_timeout: float = 120.0):
        self.root_dir = Path(root_dir)
        self.home = Path(home)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "jupyterlab.log"
        settings = self.home / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        })
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(cmd, cwd=self.root_dir, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    def api(self, path: str, method: str = "GET", timeout: float = 10.0):
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log()}")
            try:
                self.api("/api/status", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer within {timeout:g} s:\n{self.log()}")

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path}{sep}token={self.token}"

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel (each notebook opened starts one)."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", method="DELETE")
        for kernel in self.api("/api/kernels"):
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        """Stop kernels and server, whatever state they are in."""
        if self.process.poll() is None:
            try:
                self.shutdown_kernels()
            except (OSError, urllib.error.URLError, ValueError):
                pass  # the server is not answering: the signals below still stop it
            _kill_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.process.pid, signal.SIGKILL)  # anything left in the server's group
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------- page actions


def open_notebook(page, lab: JupyterLab, name: str, timeout: float = 120.0) -> None:
    """Open ``name`` in JupyterLab (a fresh workspace) and wait for an idle kernel."""
    page.goto(lab.url(f"lab/tree/{name}?reset"), wait_until="domcontentloaded", timeout=timeout * 1000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="attached", timeout=timeout * 1000)
    wait_kernel_idle(page, timeout)


# The status bar reads "Python 3 (ipykernel) | Idle" once the kernel is up
# ("No Kernel | Initializing" before); clicking Run earlier opens the
# "Select Kernel" dialog.
_KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-StatusBar-Item')]
    .some(item => /^(?!No Kernel).+ \\| Idle$/.test(item.innerText.trim()))"""


def wait_kernel_idle(page, timeout: float = 120.0) -> None:
    page.wait_for_function(_KERNEL_IDLE_JS, timeout=timeout * 1000, polling=200)


def run_all_cells(page) -> None:
    """Run > Run All Cells, with the mouse, as a student would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def wait_all_cells_ran(page, timeout: float) -> None:
    """Wait until every code cell shows ``[n]:`` and the kernel is idle."""
    page.wait_for_function(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            if (!panel) return false;
            const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .map(p => p.textContent.trim());
            const idle = [...document.querySelectorAll('.jp-StatusBar-Item')]
                .some(item => /^(?!No Kernel).+ \\| Idle$/.test(item.innerText.trim()));
            return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t)) && idle;
        }""",
        timeout=timeout * 1000,
        polling=250,
    )


# Texts are read with textContent, not innerText: JupyterLab skips the rendering
# of cells out of view (CSS content-visibility), and innerText of those is "".


def output_texts(page) -> list[str]:
    """Texts of all outputs in the open notebook."""
    return page.eval_on_selector_all(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output",
        "nodes => nodes.map(n => n.textContent.slice(0, 2000))",
    )


def error_outputs(page) -> list[str]:
    """Texts of error outputs (tracebacks) shown in the open notebook."""
    return page.eval_on_selector_all(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']",
        "nodes => nodes.map(n => n.textContent.slice(0, 2000))",
    )


def dialogs(page) -> list[str]:
    """Texts of open JupyterLab dialogs (kernel errors, failed saves, ...)."""
    return page.eval_on_selector_all(".jp-Dialog", "nodes => nodes.map(n => n.textContent.slice(0, 500))")


def slider(container, description: str):
    """The ipywidgets slider labelled ``description`` inside ``container``."""
    return container.locator(".widget-slider").filter(
        has=container.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(description)}$")))


def readout(slider_locator) -> int:
    return int(slider_locator.locator(".widget-readout").text_content().strip())


def press_on_slider(slider_locator, key: str) -> None:
    """Focus the slider's handle (as a click or Tab would) and press ``key``."""
    handle = slider_locator.locator(".noUi-handle")
    handle.focus()
    handle.press(key)
