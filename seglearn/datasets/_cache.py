"""Where the data lives: the cache folder, the source checkout's ``data/``, file checksums."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def get_cache_dir() -> Path:
    """The folder where seglearn writes downloads and regenerated data.

    ``$SEGLEARN_DATA_DIR`` when that environment variable is set, else
    ``~/.cache/seglearn``. The folder is not created here.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> saved = os.environ.pop("SEGLEARN_DATA_DIR", None)
    >>> get_cache_dir() == Path.home() / ".cache" / "seglearn"
    True
    >>> os.environ["SEGLEARN_DATA_DIR"] = "/tmp/seglearn-data"
    >>> str(get_cache_dir())
    '/tmp/seglearn-data'
    >>> if saved is None: del os.environ["SEGLEARN_DATA_DIR"]
    ... else: os.environ["SEGLEARN_DATA_DIR"] = saved
    """
    env = os.environ.get("SEGLEARN_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seglearn"


def _repo_data_dir() -> Path | None:
    """``data/`` of a source checkout (repository layout or editable install), else None."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root / "data"
    return None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

