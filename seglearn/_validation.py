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
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "check_array",
    "check_axis",
    "check_axis_size",
    "check_bool",
    "check_choice",
    "check_class_weight",
    "check_crop_size",
    "check_images",
    "check_int",
    "check_int_pair",
    "check_labels",
    "check_masks",
    "check_model",
    "check_model_images",
    "check_not_empty",
    "check_padding",
    "check_positive_int",
    "check_real",
    "check_same_shape",
    "check_segmentation_model",
    "check_window_fits",
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


def check_images(images, name: str = "images") -> np.ndarray:
    """Check a non-empty batch of images of shape ``(N, H, W, C)``; return it as float32.

    The array is not copied when it already is float32. An empty batch
    (``N = 0``) is refused with a ``ValueError`` naming the argument.

    Examples
    --------
    >>> check_images(np.zeros((2, 4, 4, 3))).dtype
    dtype('float32')
    >>> check_images(np.zeros((4, 4, 3)))
    Traceback (most recent call last):
    ...
    ValueError: `images` must have 4 dimensions (N, H, W, C), but has 3. Received: images=array of shape (4, 4, 3) and dtype float64
    """
    arr = check_array(images, name, ndim=4, layout="(N, H, W, C)")
    check_not_empty(arr, name)
    return arr.astype(np.float32, copy=False)


def check_masks(masks, images_shape, name: str = "masks", images_name: str = "images") -> np.ndarray:
    """Check integer masks ``(N, H, W)`` that pair with images of shape ``(N, H, W, ...)``.

    Parameters
    ----------
    masks : array-like
    images_shape : tuple of int
        The shape of the images the masks belong to; its first three entries count.

    Returns
    -------
    ndarray
        The masks, as an integer array (not copied).

    Examples
    --------
    >>> check_masks(np.zeros((2, 4, 4), np.uint8), (2, 4, 4, 3)).shape
    (2, 4, 4)
    >>> check_masks(np.zeros((2, 4, 5), np.uint8), (2, 4, 4, 3))
    Traceback (most recent call last):
    ...
    ValueError: `masks` must have shape (N, H, W) = (2, 4, 4) to match `images`. Received: masks=array of shape (2, 4, 5) and dtype uint8
    """
    arr = check_array(masks, name, ndim=3, layout="(N, H, W)", kind="integer")
    expected = tuple(images_shape[:3])
    if arr.shape != expected:
        _fail(name, f"must have shape (N, H, W) = {expected} to match `{images_name}`", arr)
    return arr


def check_model(model, name: str = "model"):
    """Check that ``model`` is a ``keras.Model``; return it.

    Keras is imported when the check runs (only functions that need a model
    call it), so importing this module does not import TensorFlow.

    Examples
    --------
    >>> check_model("unet")
    Traceback (most recent call last):
    ...
    TypeError: `model` must be a keras.Model. Received: model='unet'
    """
    import keras

    if not isinstance(model, keras.Model):
        _fail(name, "must be a keras.Model", model, TypeError)
    return model


def check_segmentation_model(model, name: str = "model") -> tuple[tuple, int]:
    """Check a segmentation model: ``(N, H, W, C)`` images to ``(N, H, W, K)`` logits.

    Returns
    -------
    input_shape : tuple
        ``(H, W, C)``; ``H`` and ``W`` are None for a model of any size.
    num_classes : int
        ``K``, the model's output channels.
    """
    check_model(model, name)
    in_shape, out_shape = model.input_shape, model.output_shape
    if not (isinstance(in_shape, tuple) and isinstance(out_shape, tuple) and len(in_shape) == len(out_shape) == 4):
        raise ValueError(
            f"`{name}` must map (N, H, W, C) images to (N, H, W, K) per-pixel logits. "
            f"Received: {name} with input_shape={in_shape} and output_shape={out_shape}"
        )
    return tuple(in_shape[1:]), int(out_shape[-1])


def check_model_images(images, model, name: str = "images") -> np.ndarray:
    """Images ``(N, H, W, C)`` as float32, with as many channels as ``model`` takes."""
    (_, _, channels), _ = check_segmentation_model(model)
    images = check_images(images, name)
    if images.shape[-1] != channels:
        raise ValueError(
            f"`{name}` must have {channels} channels, as the model's input. Received: {name}={describe(images)}"
        )
    return images


def check_not_empty(arr: np.ndarray, name: str) -> np.ndarray:
    """Refuse an empty batch (``N = 0`` along axis 0, or no elements at all).

    The course's one rule for empty batches: a ``ValueError`` that names the
    argument, never an ``IndexError``, a NaN or a silent 0.

    Examples
    --------
    >>> check_not_empty(np.zeros((0, 4, 4, 1)), "x")
    Traceback (most recent call last):
    ...
    ValueError: `x` must not be empty (N >= 1 along axis 0). Received: x=array of shape (0, 4, 4, 1) and dtype float64
    """
    if (arr.shape[0] if arr.ndim else arr.size) == 0:
        _fail(name, "must not be empty (N >= 1 along axis 0)", arr)
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


def check_seed(seed, name: str = "seed", *, generator: bool = False):
    """Check a seed: an integer ``>= 0`` (bool refused), or a ``numpy.random.Generator`` when ``generator``.

    The one seed rule of the package; a chapter's seed comes from
    :func:`seglearn.course_seed`.

    Examples
    --------
    >>> check_seed(3)
    3
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: `seed` must be an integer >= 0. Received: seed=-1
    >>> check_seed(np.random.default_rng(0), generator=True)  # doctest: +ELLIPSIS
    Generator(PCG64) at 0x...
    """
    if generator and isinstance(seed, np.random.Generator):
        return seed
    if generator and not isinstance(seed, numbers.Integral):
        _fail(name, "must be an integer >= 0 or a numpy.random.Generator", seed, TypeError)
    return check_positive_int(seed, name, minimum=0)


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


def check_int(value, name: str) -> int:
    """Check that ``value`` is an integer of any sign (bool refused).

    For arguments such as ``ignore_index`` that may be negative (``-1``) or
    large (``255``).

    Examples
    --------
    >>> check_int(255, "ignore_index")
    255
    >>> check_int(1.5, "ignore_index")
    Traceback (most recent call last):
    ...
    TypeError: `ignore_index` must be an integer. Received: ignore_index=1.5
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(name, "must be an integer", value, TypeError)
    return int(value)


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """Check an axis index for an array with ``ndim`` dimensions; return it >= 0.

    Examples
    --------
    >>> check_axis(-1, 4)
    3
    >>> check_axis(4, 4)
    Traceback (most recent call last):
    ...
    ValueError: `axis` must be an integer in [-4, 4) for an input with 4 dimensions. Received: axis=4
    """
    rule = f"must be an integer in [-{ndim}, {ndim}) for an input with {ndim} dimensions"
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        _fail(name, rule, axis, TypeError)
    if not -ndim <= axis < ndim:
        _fail(name, rule, axis)
    return int(axis) % ndim


def check_padding(value, name: str = "padding", *, explicit: bool = True):
    """Check a padding argument of a convolution or pooling layer.

    Accepts ``"valid"`` or ``"same"`` (any case), and when ``explicit`` is
    true also an integer ``p >= 0`` or a pair ``(p_h, p_w)``: that many zeros
    on each side. Returns ``"valid"``, ``"same"`` or a ``(p_h, p_w)`` tuple.

    Examples
    --------
    >>> check_padding("SAME")
    'same'
    >>> check_padding(1)
    (1, 1)
    >>> check_padding("full")
    Traceback (most recent call last):
    ...
    ValueError: `padding` must be 'valid', 'same', an integer >= 0 or a pair of integers >= 0. Received: padding='full'
    >>> check_padding(1, explicit=False)
    Traceback (most recent call last):
    ...
    TypeError: `padding` must be 'valid' or 'same'. Received: padding=1
    """
    rule = (
        "must be 'valid', 'same', an integer >= 0 or a pair of integers >= 0"
        if explicit
        else "must be 'valid' or 'same'"
    )
    if isinstance(value, str):
        key = value.lower()
        if key not in ("valid", "same"):
            _fail(name, rule, value)
        return key
    if not explicit:
        _fail(name, rule, value, TypeError)

    def ok(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))

    if ok(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(ok(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        _fail(name, rule, value, TypeError)
    if min(pair) < 0:
        _fail(name, rule, value)
    return pair


def check_axis_size(arr: np.ndarray, name: str, axis: int, size: int, *, meaning: str = "") -> None:
    """Refuse an array whose length along ``axis`` is not ``size``.

    ``meaning`` says what the axis is, e.g. ``"C_in, to match x.shape[-1]"``.

    Examples
    --------
    >>> import numpy as np
    >>> check_axis_size(np.zeros((3, 3, 4, 8)), "kernel", 2, 3, meaning="C_in, to match x.shape[-1]")
    Traceback (most recent call last):
    ...
    ValueError: `kernel` must have size 3 along axis 2 (C_in, to match x.shape[-1]), but has 4. Received: kernel=array of shape (3, 3, 4, 8) and dtype float64
    """
    got = np.shape(arr)[axis]
    if got != size:
        what = f" ({meaning})" if meaning else ""
        _fail(name, f"must have size {size} along axis {axis}{what}, but has {got}", arr)


def check_window_fits(window, size, name: str, value, *, window_text: str = "window",
                      input_text: str = "input") -> None:
    """Refuse a sliding window larger than the (padded) input it slides over.

    ``window`` and ``size`` are both integers (one axis) or both (h, w) pairs.

    Examples
    --------
    >>> import numpy as np
    >>> check_window_fits((5, 5), (3, 4), "pool_size", 5)
    Traceback (most recent call last):
    ...
    ValueError: `pool_size` must not be larger than the input (3x4); its window is 5x5. Received: pool_size=5
    >>> check_window_fits(7, 5, "kernel_size", 7, input_text="padded input")
    Traceback (most recent call last):
    ...
    ValueError: `kernel_size` must not be larger than the padded input (5); its window is 7. Received: kernel_size=7
    """
    window, size = tuple(np.atleast_1d(window)), tuple(np.atleast_1d(size))
    if any(w > n for w, n in zip(window, size)):
        dims = "x".join
        rule = (
            f"must not be larger than the {input_text} ({dims(map(str, size))}); "
            f"its {window_text} is {dims(map(str, window))}"
        )
        _fail(name, rule, value)


def check_directory(path, name: str):
    """Check that ``path`` names an existing folder; return it as a ``pathlib.Path``.

    A missing path raises ``FileNotFoundError``, a file ``NotADirectoryError``.

    Examples
    --------
    >>> check_directory("/no/such/folder", "images_dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: `images_dir` must be an existing folder; /no/such/folder does not exist. Received: images_dir='/no/such/folder'
    """
    import os
    from pathlib import Path

    if not isinstance(path, (str, os.PathLike)):
        _fail(name, "must be a path to a folder (str or pathlib.Path)", path, TypeError)
    folder = Path(path).expanduser()
    if not folder.exists():
        raise FileNotFoundError(
            f"`{name}` must be an existing folder; {folder} does not exist. Received: {name}={describe(path)}"
        )
    if not folder.is_dir():
        raise NotADirectoryError(
            f"`{name}` must be a folder; {folder} is a file. Received: {name}={describe(path)}"
        )
    return folder


def check_crop_size(crop_size, images_shape, name: str = "crop_size") -> tuple[int, int]:
    """Check a crop size (int or pair) against images of shape (N, H, W, ...); return (h, w).

    Examples
    --------
    >>> check_crop_size(16, (4, 32, 32, 3))
    (16, 16)
    >>> check_crop_size(40, (4, 32, 32, 3))
    Traceback (most recent call last):
    ...
    ValueError: `crop_size` must be at most the images' size 32x32. Received: crop_size=40
    """
    crop = check_int_pair(crop_size, name)
    height, width = images_shape[1], images_shape[2]
    if crop[0] > height or crop[1] > width:
        raise ValueError(f"`{name}` must be at most the images' size {height}x{width}. Received: {name}={crop_size!r}")
    return crop


def check_class_weight(class_weight, num_classes: int, name: str = "class_weight") -> np.ndarray:
    """One non-negative weight per class, from a sequence or a ``{class id: weight}`` dict.

    A dict leaves the classes it does not name at weight 1.

    Returns
    -------
    float32 ndarray of shape (num_classes,)

    Examples
    --------
    >>> check_class_weight({1: 4.0}, 3).tolist()
    [1.0, 4.0, 1.0]
    >>> check_class_weight([1.0, -1.0], 2)
    Traceback (most recent call last):
    ...
    ValueError: `class_weight` must hold 2 weights >= 0 (one per class), or be a dict {class id: weight}. Received: class_weight=[1.0, -1.0]
    """
    rule = f"must hold {num_classes} weights >= 0 (one per class), or be a dict {{class id: weight}}"
    if isinstance(class_weight, Mapping):
        weights = np.ones(num_classes, dtype=np.float32)
        for key, value in class_weight.items():
            key = check_positive_int(key, name, minimum=0)
            if key >= num_classes:
                raise ValueError(
                    f"`{name}` keys must be class ids in [0, {num_classes}). Received: {name}={describe(class_weight)}"
                )
            weights[key] = check_real(value, name, low=0)
        return weights
    weights = check_array(class_weight, name, ndim=(0, 1), dtype=np.float32)
    if weights.shape != (num_classes,) or np.any(weights < 0):
        _fail(name, rule, class_weight)
    return weights
