"""Defaults defined once: the training recipe, the CLI's model, the version minimums.

Standard library only, so that the CLI and the set-up report read them without
importing TensorFlow. :mod:`seglearn.training` and :mod:`seglearn.cli` take the
training recipe from here; :mod:`seglearn.widgets` takes the version minimums,
which are read from the installed package's metadata (the ``dependencies`` and
``requires-python`` of ``pyproject.toml``), so they cannot drift from it.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

#: The default training recipe, chosen on the shapes validation split over 3
#: seeds (``benchmarks/bench_training.py --only recipe``): 120 epochs of batches
#: of 32 at a step size of 1e-2 along a cosine, each image turned by a random
#: symmetry of the square (``augment=DEFAULT_AUGMENT``, what ``seglearn train``
#: uses; ``training.train`` itself does not augment unless asked).
DEFAULT_EPOCHS = 120
DEFAULT_LEARNING_RATE = 1e-2
DEFAULT_BATCH_SIZE = 32
DEFAULT_AUGMENT = "flips"
#: Early stopping is off by default (the cosine schedule ends the run).
DEFAULT_PATIENCE = None

#: The U-Net that ``seglearn train`` builds (``models.unet``'s own defaults).
DEFAULT_UNET_DEPTH = 3
DEFAULT_UNET_BASE_FILTERS = 8

#: ``seglearn train`` trains folder images larger than this on random crops of this size.
DEFAULT_CROP_SIZE = 128

#: The packages whose oldest supported version the set-up report checks.
CHECKED_PACKAGES = ("python", "numpy", "tensorflow", "keras", "matplotlib", "ipywidgets", "jupyterlab")


def _requirements() -> tuple[list[str], str]:
    """(dependency strings, requires-python) of the installed package, else of pyproject.toml."""
    try:
        meta = metadata.metadata("seglearn")
        return list(metadata.requires("seglearn") or []), meta.get("Requires-Python", "")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
        block = re.search(r"^dependencies = \[(.*?)^\]", text, flags=re.S | re.M).group(1)
        python = re.search(r'^requires-python = "([^"]+)"', text, flags=re.M).group(1)
        return re.findall(r'^\s*"([^"]+)"', block, flags=re.M), python


def minimum_versions() -> dict[str, str]:
    """Package -> oldest supported version, from the package's own requirements.

    Returns
    -------
    dict of str to str
        One entry per name of :data:`CHECKED_PACKAGES`, e.g. ``{"python": "3.10",
        "keras": "3.11", ...}``: the ``>=`` bound of each requirement (extras'
        requirements are ignored).

    Examples
    --------
    >>> minimum_versions()["keras"]
    '3.11'
    """
    dependencies, python = _requirements()
    pins = {"python": python.strip().removeprefix(">=")}
    for dep in dependencies:
        if "extra ==" in dep:
            continue
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", dep)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return {name: pins[name] for name in CHECKED_PACKAGES if name in pins}


#: Oldest versions the course supports (:func:`minimum_versions`, read once).
MINIMUM_VERSIONS = minimum_versions()
