"""Input checks shared by every public function of seglearn.

Every public function validates its arguments here, so that a student who
passes the wrong thing reads one clear message that names the argument, the
rule and the value, in the style Keras uses::

    ValueError: `strides` must be a positive integer or a pair of positive
    integers. Received: strides=(0, 1)

Rules for this module: raise ``ValueError`` or ``TypeError`` (never
``assert``); put a check here once and call it from everywhere, never copy it.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "check_array",
    "check_bool",
    "check_choice",
    "check_int_pair",
    "check_labels",
    "check_positive_int",
    "check_real",
    "check_same_shape",
    "describe",
]


def describe(value) -> str:
    """Short text for a value in an error message (arrays by shape and dtype)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(name: str, rule: str, value, error=ValueError):
    raise error(f"`{name}` {rule}. Received: {name}={describe(value)}")


def check_array(
    x,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    layout: str | None = None,
    kind: str = "numeric",
    finite: bool = True,
    dtype=None,
) -> np.ndarray:
    """Convert ``x`` to an ndarray and check its rank, element kind and values.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        The argument's name, used in the error message.
    ndim : int or sequence of int, optional
        Allowed number of dimensions.
    layout : str, optional
        Human description of the expected axes, for example ``"(N, H, W, C)"``;
        shown in the rank error.
    kind : {"numeric", "integer", "bool", "any"}
        ``"numeric"`` accepts bool, integer and real floating arrays;
        ``"integer"`` accepts integer arrays (and floats holding whole numbers);
        ``"any"`` skips the check.
    finite : bool
        Refuse NaN and infinity (numeric kinds only).
    dtype : dtype, optional
        Cast the checked array to this dtype before returning it.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> check_array([[1, 2], [3, 4]], "x", ndim=2).shape
    (2, 2)
    >>> check_array([1.0, float("nan")], "x")
    Traceback (most recent call last):
    ...
    ValueError: `x` must contain only finite values (found 1 NaN or infinite). Received: x=array of shape (2,) and dtype float64
    """
    if isinstance(x, (str, bytes)) or x is None:
        _fail(name, "must be an array of numbers", x, TypeError)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and similar
        raise TypeError(
            f"`{name}` must be an array of numbers; could not convert it: {exc}. "
            f"Received: {name}={describe(x)}"
        ) from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, numbers.Integral) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            shape = f" {layout}" if layout else ""
            raise ValueError(
                f"`{name}` must have {want} dimensions{shape}, but has {arr.ndim}. "
                f"Received: {name}={describe(arr)}"
            )
    if kind != "any":
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            _fail(name, "must hold real numbers (bool, int or float)", arr, TypeError)
        if kind == "integer" and arr.dtype.kind == "f":
            if finite and not np.all(np.isfinite(arr)):
                _fail(name, "must hold integer labels, not NaN or infinity", arr)
            if not np.all(arr == np.round(arr)):
                _fail(name, "must hold integer labels (whole numbers)", arr, TypeError)
        if kind == "bool" and arr.dtype.kind != "b":
            _fail(name, "must be a boolean array", arr, TypeError)
        if finite and arr.dtype.kind == "f":
            bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            if bad:
                _fail(name, f"must contain only finite values (found {bad} NaN or infinite)", arr)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer ``>= minimum`` (bool refused).

    Examples
    --------
    >>> check_positive_int(3, "kernel_size")
    3
    >>> check_positive_int(0, "kernel_size")
    Traceback (most recent call last):
    ...
    ValueError: `kernel_size` must be an integer >= 1. Received: kernel_size=0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(name, f"must be an integer >= {minimum}", value, TypeError)
    if value < minimum:
        _fail(name, f"must be an integer >= {minimum}", value)
    return int(value)


def check_int_pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Accept an int or a pair of ints, each ``>= minimum``, as Keras does.

    Examples
    --------
    >>> check_int_pair(2, "strides")
    (2, 2)
    >>> check_int_pair((1, 3), "strides")
    (1, 3)
    >>> check_int_pair((0, 1), "strides")
    Traceback (most recent call last):
    ...
    ValueError: `strides` must be a positive integer or a pair of positive integers. Received: strides=(0, 1)
    """
    rule = (
        "must be a positive integer or a pair of positive integers"
        if minimum == 1
        else f"must be an integer >= {minimum} or a pair of such integers"
    )

    def ok(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))

    if ok(value):
        pair = (int(value), int(value))
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        items = tuple(value)
        if len(items) != 2 or not all(ok(v) for v in items):
            _fail(name, rule, value, TypeError if not all(map(ok, items)) else ValueError)
        pair = (int(items[0]), int(items[1]))
    else:
        _fail(name, rule, value, TypeError)
    if min(pair) < minimum:
        _fail(name, rule, value)
    return pair


def check_choice(value, name: str, choices: Sequence[str], *, lower: bool = True):
    """Check that ``value`` is one of ``choices`` (case-insensitive for strings).

    Examples
    --------
    >>> check_choice("SAME", "padding", ("valid", "same"))
    'same'
    >>> check_choice("full", "padding", ("valid", "same"))
    Traceback (most recent call last):
    ...
    ValueError: `padding` must be one of 'valid', 'same'. Received: padding='full'
    """
    key = value.lower() if (lower and isinstance(value, str)) else value
    if key not in choices:
        options = ", ".join(repr(c) for c in choices)
        _fail(name, f"must be one of {options}", value, ValueError)
    return key


def check_bool(value, name: str) -> bool:
    """Check that ``value`` is a bool (``True``/``False``, NumPy bools allowed)."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, "must be True or False", value, TypeError)
    return bool(value)


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Check that ``value`` is a finite real number within the given bounds.

    Examples
    --------
    >>> check_real(0.5, "alpha", low=0, high=1)
    0.5
    >>> check_real(-1, "learning_rate", low=0, low_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: `learning_rate` must be a finite number > 0. Received: learning_rate=-1
    """
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inclusive else '>'} {low:g}")
    if high is not None:
        parts.append(f"{'<=' if high_inclusive else '<'} {high:g}")
    rule = "must be a finite number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _fail(name, rule, value, TypeError)
    v = float(value)
    if not np.isfinite(v):
        _fail(name, rule, value)
    if low is not None and (v < low or (v == low and not low_inclusive)):
        _fail(name, rule, value)
    if high is not None and (v > high or (v == high and not high_inclusive)):
        _fail(name, rule, value)
    return v


def check_same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    """Refuse two arrays whose shapes differ, naming both.

    Examples
    --------
    >>> import numpy as np
    >>> check_same_shape(np.zeros((2, 2)), "y_true", np.zeros((2, 3)), "y_pred")
    Traceback (most recent call last):
    ...
    ValueError: `y_true` and `y_pred` must have the same shape. Received: y_true.shape=(2, 2), y_pred.shape=(2, 3)
    """
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"`{a_name}` and `{b_name}` must have the same shape. "
            f"Received: {a_name}.shape={np.shape(a)}, {b_name}.shape={np.shape(b)}"
        )


def check_labels(
    y,
    name: str,
    num_classes: int,
    *,
    ignore_index: int | None = None,
) -> np.ndarray:
    """Check an integer label map: every value in ``[0, num_classes)``.

    Values equal to ``ignore_index`` are allowed anywhere. Returns an int64 array.

    Examples
    --------
    >>> check_labels([[0, 1], [2, 1]], "y_true", 3).dtype
    dtype('int64')
    >>> check_labels([[0, 3]], "y_true", 3)
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must hold class ids in [0, 3) (found 3 at index (0, 1)). Received: y_true=array of shape (1, 2) and dtype int64
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    arr = check_array(y, name, kind="integer")
    labels = arr.astype(np.int64, copy=False)
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        where_text = where[0] if len(where) == 1 else where
        raise ValueError(
            f"`{name}` must hold class ids in [0, {num_classes}) "
            f"(found {labels[where]} at index {where_text}). Received: {name}={describe(arr)}"
        )
    return labels
