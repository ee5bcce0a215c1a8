"""seglearn: a course in image segmentation with deep learning.

The package holds what the notebooks in ``chapters/`` use: NumPy reference
implementations of every formula the course teaches (``ops``, ``losses``,
``metrics``, ``backprop``, ``batchnorm``, ``optim``), the course data set and loaders
(``datasets``, ``pipeline``), Keras models and their use (``models``;
``training``, the one training loop; ``inference``: predict and evaluate;
``saving``: save and load with metadata), the FAQ chapters' experiments by topic (``robustness``: test-time
corruptions and border errors; ``cost``: memory and timing; ``deploy``:
TensorFlow Lite; ``interpret``: feature maps, Grad-CAM, confidence), plain-text
result tables (``tables``), the design exercises' trial log and its review
(``experiments``), plots, diagrams and interactive explorers (``viz``,
``diagrams``, ``widgets``), and the instructor's tools (``grading``, ``cli``).

``import seglearn`` is cheap: submodules load on first attribute access, and
only ``models``, ``training``, ``inference``, ``saving`` and ``pipeline`` import
TensorFlow when they are imported (``cost``, ``deploy`` and ``interpret`` import it inside the functions
that need a Keras model). No import changes an environment variable.

Conventions (what a new function follows):

- **Arguments**: the data first (``x``, ``images``, ``masks``, ``y_true``,
  ``y_pred``, ``model``), then what defines the operation (``kernel``,
  ``pool_size``, ``num_classes``), then options; options added later are
  keyword-only.
- **Shapes**: images ``(N, H, W, C)`` channels-last, masks ``(N, H, W)`` of
  integer class ids, scores ``(..., K)``; docstrings give every shape and the
  formula the code follows.
- **num_classes**: required only where the result depends on it (one-hot
  encoding, confusion matrices, per-class scores); otherwise optional, and when
  given the labels are checked against it. Models know it from their output.
- **Bad input**: a ``ValueError`` (wrong value) or ``TypeError`` (wrong kind)
  that names the argument, the rule and the value, from the one check in
  :mod:`seglearn._validation`. **An empty batch** (``N = 0``) is such a
  ``ValueError`` everywhere, never an ``IndexError``, a NaN or a silent 0.
- **Seeds**: ``seed=`` takes an integer ``>= 0``; a chapter's seed comes from
  :func:`course_seed`.
- **Defaults** live once, in ``seglearn._defaults`` (the training recipe, the
  version minimums read from the package metadata).
- **Spelling**: British in prose (normalisation, optimiser, colour); code
  follows the names of the libraries it mirrors (Keras's ``normalize``,
  ``BatchNormalization``).
"""

import importlib
import os

__version__ = "0.1.0"

#: The environment variable every chapter reads its seed from (:func:`course_seed`).
SEED_VARIABLE = "SEGLEARN_SEED"

_SUBMODULES = (
    "backprop",
    "batchnorm",
    "cli",
    "cost",
    "datasets",
    "deploy",
    "diagrams",
    "experiments",
    "grading",
    "inference",
    "interpret",
    "losses",
    "metrics",
    "models",
    "ops",
    "optim",
    "pipeline",
    "robustness",
    "saving",
    "tables",
    "training",
    "viz",
    "widgets",
)

__all__ = ["SEED_VARIABLE", "__version__", "course_seed", *_SUBMODULES]


def course_seed() -> int:
    """The course's seed: ``$SEGLEARN_SEED`` as an integer, 0 when it is not set.

    Every chapter starts with ``SEED = seglearn.course_seed()`` and derives all
    its random draws from ``SEED``, so ``SEGLEARN_SEED=1 jupyter lab`` (or
    ``SEGLEARN_SEED=1 pytest --nbval chapters``) reruns the whole course with
    other draws: a conclusion that holds for seeds 0, 1 and 2 is not luck.

    Returns
    -------
    int
        A non-negative integer below ``2**32`` (what NumPy and Keras accept).

    Raises
    ------
    ValueError
        When the variable is set to anything else, naming the variable and its value.

    Examples
    --------
    >>> saved = os.environ.pop("SEGLEARN_SEED", None)
    >>> course_seed()
    0
    >>> os.environ["SEGLEARN_SEED"] = "2"
    >>> course_seed()
    2
    >>> os.environ["SEGLEARN_SEED"] = "two"
    >>> course_seed()
    Traceback (most recent call last):
    ...
    ValueError: SEGLEARN_SEED must be a non-negative integer below 2**32, like 0, 1 or 2. Received: SEGLEARN_SEED='two'
    >>> if saved is None: del os.environ["SEGLEARN_SEED"]
    ... else: os.environ["SEGLEARN_SEED"] = saved
    """
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed < 2**32:
        raise ValueError(
            f"{SEED_VARIABLE} must be a non-negative integer below 2**32, like 0, 1 or 2. "
            f"Received: {SEED_VARIABLE}={os.environ[SEED_VARIABLE]!r}"
        )
    return seed


def __getattr__(name):
    # PEP 562: load a submodule the first time it is used, so that
    # ``import seglearn`` never pays for TensorFlow.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
