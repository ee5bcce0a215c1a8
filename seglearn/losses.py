"""Loss functions for segmentation, in NumPy, equal to their Keras counterparts.

Every loss takes a batch of targets ``y_true`` and predictions ``y_pred`` and
returns one number, the mean over the batch, as Keras does with its default
``reduction="sum_over_batch_size"``. The channel (class) axis is always the
last one (``channels_last``, as in the rest of the course). For segmentation a
"sample" is one pixel: a batch of ``N`` images of ``H x W`` pixels holds
``M = N * H * W`` samples.

All arithmetic is done in float64, so these functions are references against
which the float32 Keras values are checked.

- ``mse`` is ``C`` times ``keras.losses.MeanSquaredError`` (see its docstring);
- ``sparse_categorical_crossentropy`` equals ``keras.losses.SparseCategoricalCrossentropy``;
- ``categorical_focal_crossentropy`` equals ``keras.losses.CategoricalFocalCrossentropy``;
- ``dice_loss(..., smooth=0)`` equals ``keras.losses.Dice(axis=(0, 1, 2))`` when
  every class is present.
"""

from __future__ import annotations

import numpy as np

from .ops import log_softmax
from ._validation import (
    check_array,
    check_class_weight,
    check_not_empty,
    check_bool,
    check_int,
    check_labels,
    check_real,
    check_same_shape,
    describe,
)

__all__ = [
    "EPSILON",
    "categorical_focal_crossentropy",
    "dice_loss",
    "mse",
    "sparse_categorical_crossentropy",
]

#: The fuzz factor Keras uses to clip probabilities (``keras.backend.epsilon()``).
EPSILON = 1e-7


# --------------------------------------------------------------------------- helpers
def _check_scores(y_pred, name="y_pred"):
    """Scores of shape (..., C) with at least one sample axis, as float64."""
    scores = check_array(y_pred, name, ndim=(2, 3, 4, 5), layout="(N, C) or (N, H, W, C)", dtype=np.float64)
    return check_not_empty(scores, name)


def _check_probabilities(p, name="y_pred"):
    """Refuse values outside [0, 1], a sign that logits were passed."""
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError(
            f"`{name}` must hold probabilities in [0, 1] when from_logits=False "
            f"(found values in [{p.min():.4g}, {p.max():.4g}]); pass "
            f"from_logits=True for raw scores (logits). Received: {name}={describe(p)}"
        )


def _sparse_or_one_hot(y_true, y_pred):
    """Return ``y_true`` as a float64 one-hot (or soft) array shaped like ``y_pred``.

    Integer class ids of shape ``y_pred.shape[:-1]`` are one-hot encoded; an
    array of ``y_pred``'s own shape is taken as one-hot (or soft) targets.
    """
    y = check_array(y_true, "y_true")
    num_classes = y_pred.shape[-1]
    if y.shape == y_pred.shape[:-1]:
        labels = check_labels(y, "y_true", num_classes)
        return np.eye(num_classes)[labels]
    check_same_shape(y, "y_true", y_pred, "y_pred")
    y = y.astype(np.float64)
    if y.min() < 0.0 or y.max() > 1.0:
        raise ValueError(
            "`y_true` must hold one-hot (or soft) targets in [0, 1] when it has the "
            f"shape of y_pred, or class ids of shape {y_pred.shape[:-1]}. "
            f"Received: y_true={describe(y)} with values in [{y.min():.4g}, {y.max():.4g}]"
        )
    return y


def _class_vector(value, name, num_classes):
    """A scalar or a length-``num_classes`` vector of non-negative numbers."""
    arr = check_array(value, name, ndim=(0, 1), layout="(C,)", dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] != num_classes:
        raise ValueError(
            f"`{name}` must be a number or have one entry per class "
            f"({num_classes}), but has {arr.shape[0]}. Received: {name}={describe(value)}"
        )
    if np.any(arr < 0):
        raise ValueError(f"`{name}` must be >= 0. Received: {name}={describe(value)}")
    return arr


# --------------------------------------------------------------------------- losses
def mse(y_true, y_pred):
    r"""Mean squared error, summed over outputs and averaged over samples.

    The course's formula, for ``N`` samples with ``C`` outputs each:

    .. math:: L = \frac{1}{N} \sum_{i=1}^{N} \sum_{c=1}^{C} (y_c^i - \hat y_c^i)^2

    For images of shape ``(N, H, W, C)`` every pixel is a sample: the sum over
    ``c`` runs over the last axis and the mean over all other axes, so the
    divisor is the number of pixels ``N * H * W``.

    ``keras.losses.MeanSquaredError`` averages over the ``C`` outputs as well
    (it divides by ``N * C``), so ``mse(y_true, y_pred) == C * keras_value``.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (N, C) or (N, H, W, C)
        Targets and predictions, of the same shape. The last axis holds the
        ``C`` outputs of one sample.

    Returns
    -------
    float
        The loss ``L``.

    Examples
    --------
    Two samples with two outputs: ``((1-0)^2 + (2-2)^2 + (0-3)^2 + (1-1)^2) / 2 = 5``.

    >>> mse([[1.0, 2.0], [0.0, 1.0]], [[0.0, 2.0], [3.0, 1.0]])
    5.0
    """
    y_true = check_array(
        y_true, "y_true", ndim=(2, 3, 4, 5), layout="(N, C) or (N, H, W, C)", dtype=np.float64
    )
    y_pred = check_array(
        y_pred, "y_pred", ndim=(2, 3, 4, 5), layout="(N, C) or (N, H, W, C)", dtype=np.float64
    )
    check_same_shape(y_true, "y_true", y_pred, "y_pred")
    check_not_empty(y_true, "y_true")
    num_samples = int(np.prod(y_true.shape[:-1]))
    return float(np.sum((y_true - y_pred) ** 2) / num_samples)


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, class_weight=None, *, ignore_index=None
):
    r"""Cross-entropy between integer labels and per-pixel class scores.

    For pixel ``i`` with label ``y_i`` and predicted class probabilities
    ``p_i`` (a softmax of the logits when ``from_logits=True``):

    .. math::

        \ell_i = -\log p_{i, y_i}, \qquad
        L = \frac{1}{M} \sum_{i} w_{y_i} \, \ell_i

    where ``M`` is the number of (not ignored) pixels and ``w`` the class
    weights (all 1 by default). The divisor stays ``M``, not the sum of the
    weights: this is Keras's ``sample_weight`` semantics, so the result equals
    ``SparseCategoricalCrossentropy()(y_true, y_pred, sample_weight=w[y_true])``.

    With ``from_logits=False`` Keras (TensorFlow backend) first clips the
    probabilities to ``[EPSILON, 1 - EPSILON]`` and then renormalises them
    (it feeds their logarithm to a softmax cross-entropy); this function does
    exactly the same, ``q = clip(p) / sum_c clip(p)_c`` and ``l_i = -log q_{i, y_i}``,
    so a probability of 0 gives a large but finite loss (about 16.1).
    With ``from_logits=True`` the loss is computed stably as
    ``logsumexp(z_i) - z_{i, y_i}``.

    Parameters
    ----------
    y_true : int ndarray of shape (N, H, W) (or (N, H, W, 1), or (N,))
        Class ids in ``[0, C)``, one per pixel; a trailing axis of length 1
        is dropped, as Keras does.
    y_pred : ndarray of shape (N, H, W, C) (or (N, C))
        Probabilities (``from_logits=False``) or logits (``from_logits=True``).
    from_logits : bool
        Whether ``y_pred`` holds logits rather than probabilities.
    class_weight : sequence of C floats, optional
        Weight ``w_c >= 0`` of each class; pixel ``i`` is weighted by ``w_{y_i}``.
    ignore_index : int, optional
        Label of unlabelled pixels: they add nothing to the sum and are not
        counted in ``M`` (Keras's ``ignore_class``). When every pixel is
        ignored the loss is 0, as in Keras.

    Returns
    -------
    float
        The loss ``L``.

    Examples
    --------
    A 2x2 label map and two classes; the predicted probabilities of the true
    classes are 0.9, 0.6, 0.5 and 0.2, so
    ``L = -(log 0.9 + log 0.6 + log 0.5 + log 0.2) / 4 = 0.7297``:

    >>> y_true = [[[0, 1], [1, 0]]]
    >>> y_pred = [[[[0.9, 0.1], [0.4, 0.6]], [[0.5, 0.5], [0.2, 0.8]]]]
    >>> round(sparse_categorical_crossentropy(y_true, y_pred), 4)
    0.7297
    """
    y_pred = _check_scores(y_pred)
    from_logits = check_bool(from_logits, "from_logits")
    num_classes = y_pred.shape[-1]
    labels = check_array(y_true, "y_true", kind="integer")
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            "`y_true` must have the shape of `y_pred` without its class axis "
            f"(y_pred.shape[:-1] = {y_pred.shape[:-1]}). "
            f"Received: y_true.shape={np.shape(y_true)}, y_pred.shape={y_pred.shape}"
        )
    if ignore_index is not None:
        ignore_index = check_int(ignore_index, "ignore_index")
    labels = check_labels(labels, "y_true", num_classes, ignore_index=ignore_index)

    if from_logits:
        log_q = log_softmax(y_pred)
    else:
        _check_probabilities(y_pred)
        clipped = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        log_q = np.log(clipped) - np.log(clipped.sum(axis=-1, keepdims=True))

    valid = np.ones(labels.shape, dtype=bool) if ignore_index is None else labels != ignore_index
    safe = np.where(valid, labels, 0)
    per_pixel = -np.take_along_axis(log_q, safe[..., None], axis=-1)[..., 0]
    if class_weight is not None:
        weights = check_class_weight(class_weight, num_classes).astype(np.float64)
        per_pixel = per_pixel * weights[safe]
    count = int(valid.sum())
    if count == 0:
        return 0.0
    return float(np.sum(per_pixel[valid]) / count)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False):
    r"""Focal cross-entropy (Lin et al., 2017), equal to Keras's.

    For pixel ``i`` with one-hot target ``y_i`` and probabilities ``p_i``:

    .. math::

        \ell_i = -\sum_{c} \alpha_c \, (1 - p_{i,c})^\gamma \, y_{i,c} \log p_{i,c},
        \qquad L = \frac{1}{M} \sum_i \ell_i

    with ``M`` the number of pixels. ``(1 - p)^gamma`` down-weights pixels that
    are already well classified; ``gamma = 0`` and ``alpha = 1`` give the plain
    cross-entropy. As in Keras, the probabilities (the softmax of ``y_pred``
    when ``from_logits=True``) are first divided by their sum over classes and
    clipped to ``[EPSILON, 1 - EPSILON]``, without renormalising afterwards.

    Parameters
    ----------
    y_true : ndarray of shape (N, H, W, C), or int ndarray of shape (N, H, W)
        One-hot (or soft) targets of ``y_pred``'s shape, or class ids in
        ``[0, C)``: an array with one axis fewer than ``y_pred`` is read as
        class ids and one-hot encoded (Keras accepts only the one-hot form).
    y_pred : ndarray of shape (N, H, W, C) (or (N, C))
        Probabilities, or logits when ``from_logits=True``.
    alpha : float or sequence of C floats
        Class balancing factor ``alpha_c >= 0`` (one number for all classes).
    gamma : float
        Focusing parameter, ``>= 0``.
    from_logits : bool
        Whether ``y_pred`` holds logits.

    Returns
    -------
    float
        The loss ``L``.

    Examples
    --------
    One pixel, true class 1 predicted with probability 0.5:
    ``0.25 * (1 - 0.5)^2 * -log(0.5) = 0.25 * 0.25 * 0.6931 = 0.04332``.

    >>> round(categorical_focal_crossentropy([[0, 1]], [[0.5, 0.5]]), 5)
    0.04332
    """
    y_pred = _check_scores(y_pred)
    y_true = _sparse_or_one_hot(y_true, y_pred)
    from_logits = check_bool(from_logits, "from_logits")
    gamma = check_real(gamma, "gamma", low=0)
    alpha = _class_vector(alpha, "alpha", y_pred.shape[-1])
    if from_logits:
        probs = np.exp(log_softmax(y_pred))
    else:
        _check_probabilities(y_pred)
        probs = y_pred
    total = probs.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(
            "`y_pred` must have a positive sum over classes at every pixel "
            f"(found a pixel whose probabilities are all 0). Received: y_pred={describe(y_pred)}"
        )
    output = np.clip(probs / total, EPSILON, 1.0 - EPSILON)
    focal = alpha * (1.0 - output) ** gamma * (-y_true * np.log(output))
    return float(np.mean(focal.sum(axis=-1)))


def dice_loss(y_true, y_pred, *, smooth=1.0, from_logits=False):
    r"""Soft Dice loss: one minus the mean over classes of the soft Dice score.

    For class ``c``, with the sums running over every pixel of every image in
    the batch (one score per class for the whole batch):

    .. math::

        D_c = \frac{2 \sum_i y_{i,c} \, p_{i,c} + s}{\sum_i y_{i,c} + \sum_i p_{i,c} + s},
        \qquad L = 1 - \frac{1}{C} \sum_{c} D_c

    ``s = smooth`` keeps the ratio defined for a class absent from both
    targets and predictions (it then scores ``D_c = 1``) and makes the loss
    smoother for small regions. With ``smooth=0`` a class with zero
    denominator is also given ``D_c = 1`` (perfect agreement on an empty
    region).

    Relation with Keras: ``keras.losses.Dice(axis=(0, 1, 2))`` computes, per
    class, ``1 - 2 I_c / (S_c + EPSILON)`` (no smoothing in the numerator,
    ``EPSILON`` in the denominator) and averages over classes; it agrees with
    ``dice_loss(..., smooth=0)`` to a relative ``1e-7 / S_c`` whenever every
    class occurs in ``y_true`` or ``y_pred``. For an empty class Keras scores
    ``D_c = 0`` (loss 1) where this function scores 1. ``keras.losses.Dice()``
    with its default ``axis=None`` pools all classes into one ratio; that
    equals this function only for a single class (``C = 1``).

    Parameters
    ----------
    y_true : ndarray of shape (N, H, W, C), or int ndarray of shape (N, H, W)
        One-hot (or soft) targets, or class ids in ``[0, C)`` (an array with
        one axis fewer than ``y_pred`` is read as class ids).
    y_pred : ndarray of shape (N, H, W, C)
        Probabilities (softmax output), or logits when ``from_logits=True``.
    smooth : float
        The smoothing term ``s >= 0``.
    from_logits : bool
        Apply a softmax over the last axis to ``y_pred`` first.

    Returns
    -------
    float
        The loss ``L`` in ``[0, 1]``.

    Examples
    --------
    A 2x2 mask, one class (foreground); the target covers the top row, the
    prediction puts 1 on the top-left and 0.5 on both bottom pixels.
    ``I = 1*1 + 1*0 = 1``, ``sum y = 2``, ``sum p = 2``, so with ``s = 0``
    ``D = 2 * 1 / (2 + 2) = 0.5`` and ``L = 0.5``; with ``s = 1``
    ``D = 3 / 5`` and ``L = 0.4``.

    >>> y_true = [[[[1.0], [1.0]], [[0.0], [0.0]]]]
    >>> y_pred = [[[[1.0], [0.0]], [[0.5], [0.5]]]]
    >>> dice_loss(y_true, y_pred, smooth=0.0)
    0.5
    >>> round(dice_loss(y_true, y_pred, smooth=1.0), 6)
    0.4
    """
    y_pred = _check_scores(y_pred)
    y_true = _sparse_or_one_hot(y_true, y_pred)
    smooth = check_real(smooth, "smooth", low=0)
    from_logits = check_bool(from_logits, "from_logits")
    if from_logits:
        y_pred = np.exp(log_softmax(y_pred))
    else:
        _check_probabilities(y_pred)
    pixel_axes = tuple(range(y_pred.ndim - 1))
    intersection = np.sum(y_true * y_pred, axis=pixel_axes)
    denominator = np.sum(y_true, axis=pixel_axes) + np.sum(y_pred, axis=pixel_axes) + smooth
    empty = denominator == 0
    score = np.where(empty, 1.0, (2.0 * intersection + smooth) / np.where(empty, 1.0, denominator))
    return float(1.0 - np.mean(score))
