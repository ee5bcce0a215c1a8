"""seglearn: a course in image segmentation with deep learning.

The package holds what the notebooks in ``chapters/`` use: NumPy reference
implementations of every formula the course teaches (``ops``, ``losses``,
``metrics``, ``backprop``, ``optim``), the course data set and loaders
(``datasets``, ``pipeline``), Keras models and training helpers (``models``,
``training``), the FAQ chapters' experiments by topic (``robustness``: test-time
corruptions and border errors; ``cost``: memory and timing; ``deploy``:
TensorFlow Lite; ``interpret``: feature maps, Grad-CAM, confidence), plain-text
result tables (``tables``), plots and interactive explorers (``viz``,
``widgets``), and the instructor's tools (``grading``, ``cli``).

``import seglearn`` is cheap: submodules load on first attribute access, and
only ``models``, ``training`` and ``pipeline`` import TensorFlow when they are
imported (``cost``, ``deploy`` and ``interpret`` import it inside the functions
that need a Keras model).
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "backprop",
    "cli",
    "cost",
    "datasets",
    "deploy",
    "grading",
    "interpret",
    "losses",
    "metrics",
    "models",
    "ops",
    "optim",
    "pipeline",
    "robustness",
    "tables",
    "training",
    "viz",
    "widgets",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    # PEP 562: load a submodule the first time it is used, so that
    # ``import seglearn`` never pays for TensorFlow.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
