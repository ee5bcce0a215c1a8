"""Robustness: test-time corruptions and where a segmentation's errors are.

- :func:`corrupt` applies a test-time corruption (noise, blur, brightness;
  see :data:`CORRUPTIONS`) of a given severity, for robustness curves;
- :func:`distance_to_border`, :func:`error_by_border_distance` and
  :func:`border_centre_error` measure how the error rate depends on the
  distance to the image border, for the boundary-effect experiments;
- :func:`label_objects` and :func:`object_recall` find the objects of a
  label map and how much of each a prediction found, to relate errors to
  object size;
- :func:`random_crops` cuts training windows out of larger images, as in
  patch-based training; :func:`random_corruptions` makes corrupted copies of
  training images (a corruption and a severity drawn per image).

NumPy only: importing this module does not import TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import (
    check_array,
    check_choice,
    check_images,
    check_int_pair,
    check_masks,
    check_positive_int,
    check_real,
    check_same_shape,
    check_seed,
)

__all__ = [
    "CORRUPTIONS",
    "border_centre_error",
    "corrupt",
    "distance_to_border",
    "error_by_border_distance",
    "label_objects",
    "object_recall",
    "random_corruptions",
    "random_crops",
]

#: The corruptions :func:`corrupt` knows, with what one unit of severity means.
CORRUPTIONS = {
    "noise": "additive Gaussian noise, standard deviation 0.04 * severity",
    "blur": "Gaussian blur, standard deviation 0.5 * severity pixels",
    "brightness": "brightness shift, + 0.1 * severity",
}


# ---------------------------------------------------------------------------
# test-time corruptions
# ---------------------------------------------------------------------------


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, math.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _blur_axis(x: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``x`` with a 1-D ``kernel`` along ``axis``, mirror padding."""
    radius = len(kernel) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(x, pad, mode="symmetric")
    n = x.shape[axis]
    out = np.zeros_like(x, dtype=np.float64)
    for i, weight in enumerate(kernel):
        out += weight * np.take(padded, np.arange(i, i + n), axis=axis)
    return out


def corrupt(images, kind, severity, *, seed=0):
    """Corrupt a batch of images as a shifted test distribution would.

    Each kind has one ``severity`` knob (0 leaves the images unchanged); the
    result is clipped to ``[0, 1]``:

    - ``"noise"``: ``x + e`` with ``e ~ N(0, s^2)``, ``s = 0.04 * severity``;
    - ``"blur"``: a Gaussian blur of standard deviation ``0.5 * severity``
      pixels (separable, kernel radius ``ceil(3 sigma)``, mirror padding at
      the border, each channel on its own);
    - ``"brightness"``: ``x + 0.1 * severity``.

    Parameters
    ----------
    images : float ndarray of shape (N, H, W, C)
        Images with values in ``[0, 1]``.
    kind : {"noise", "blur", "brightness"}
        The corruption (see :data:`CORRUPTIONS`).
    severity : float >= 0
        Strength; the course uses 0 to 5.
    seed : int
        Seed of the noise (only ``"noise"`` is random).

    Returns
    -------
    float32 ndarray of shape (N, H, W, C)
        A new array; ``images`` is not changed.

    Examples
    --------
    >>> x = np.full((1, 2, 2, 1), 0.5, dtype=np.float32)
    >>> corrupt(x, "brightness", 2)[0, :, :, 0]
    array([[0.7, 0.7],
           [0.7, 0.7]], dtype=float32)
    >>> corrupt(x, "brightness", 6).max()  # clipped at 1
    np.float32(1.0)
    >>> bool(np.allclose(corrupt(x, "blur", 3), x))  # a constant image stays constant
    True
    >>> corrupt(x, "fog", 1)
    Traceback (most recent call last):
    ...
    ValueError: `kind` must be one of 'noise', 'blur', 'brightness'. Received: kind='fog'
    """
    x = check_images(images)
    kind = check_choice(kind, "kind", tuple(CORRUPTIONS))
    severity = check_real(severity, "severity", low=0)
    seed = check_seed(seed)
    if severity == 0:
        return x.copy()
    if kind == "noise":
        rng = np.random.default_rng(seed)
        out = x + rng.normal(0.0, 0.04 * severity, size=x.shape)
    elif kind == "blur":
        kernel = _gaussian_kernel(0.5 * severity)
        out = _blur_axis(_blur_axis(x.astype(np.float64), kernel, axis=1), kernel, axis=2)
    else:
        out = x + 0.1 * severity
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------
# where are the errors: border versus centre
# ---------------------------------------------------------------------------


def distance_to_border(height, width):
    """Distance in pixels from each pixel to the nearest image edge.

    ``d[i, j] = min(i, j, H - 1 - i, W - 1 - j)``: 0 on the outermost ring,
    1 on the next one, and so on.

    Parameters
    ----------
    height, width : int
        Image size.

    Returns
    -------
    int ndarray of shape (height, width)

    Examples
    --------
    >>> distance_to_border(4, 5)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    height = check_positive_int(height, "height")
    width = check_positive_int(width, "width")
    rows = np.arange(height)
    cols = np.arange(width)
    dr = np.minimum(rows, height - 1 - rows)[:, None]
    dc = np.minimum(cols, width - 1 - cols)[None, :]
    return np.minimum(dr, dc)


def _check_label_pair(y_true, y_pred):
    y_true = check_array(y_true, "y_true", ndim=(2, 3), layout="(N, H, W) or (H, W)", kind="integer")
    y_pred = check_array(y_pred, "y_pred", ndim=(2, 3), layout="(N, H, W) or (H, W)", kind="integer")
    check_same_shape(y_true, "y_true", y_pred, "y_pred")
    if y_true.ndim == 2:
        y_true, y_pred = y_true[None], y_pred[None]
    return y_true, y_pred


def error_by_border_distance(y_true, y_pred):
    """Pixel error rate as a function of the distance to the image border.

    ``error[d] = mean(y_true != y_pred)`` over all pixels of all images whose
    :func:`distance_to_border` is ``d``.

    Parameters
    ----------
    y_true, y_pred : int ndarray of shape (N, H, W) or (H, W)
        True and predicted label maps.

    Returns
    -------
    float ndarray of shape (min(H, W) // 2 + (min(H, W) % 2),)
        ``error[d]`` for ``d = 0, 1, ...`` up to the centre.

    Examples
    --------
    Wrong only on the outer ring of a 4x4 image:

    >>> y_true = np.zeros((4, 4), dtype=int)
    >>> y_pred = np.ones((4, 4), dtype=int)
    >>> y_pred[1:3, 1:3] = 0
    >>> error_by_border_distance(y_true, y_pred)
    array([1., 0.])
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    dist = distance_to_border(*y_true.shape[1:3])
    wrong = (y_true != y_pred).mean(axis=0)  # (H, W) error rate over images
    counts = np.bincount(dist.ravel())
    sums = np.bincount(dist.ravel(), weights=wrong.ravel())
    return sums / counts


def border_centre_error(y_true, y_pred, border=4):
    """Pixel error rates near the border and in the centre of the images.

    The border region holds the pixels whose :func:`distance_to_border` is
    less than ``border``; the centre holds the others.

    Parameters
    ----------
    y_true, y_pred : int ndarray of shape (N, H, W) or (H, W)
        True and predicted label maps.
    border : int
        Width of the border band in pixels, ``1 <= border`` and
        ``2 * border < min(H, W)`` so that both regions are non-empty.

    Returns
    -------
    tuple of float
        ``(border_error, centre_error)``, each a fraction of pixels in [0, 1].

    Examples
    --------
    >>> y_true = np.zeros((4, 4), dtype=int)
    >>> y_pred = y_true.copy()
    >>> y_pred[0, :2] = 1   # 2 of the 12 border pixels wrong
    >>> border_centre_error(y_true, y_pred, border=1)
    (0.16666666666666666, 0.0)
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    border = check_positive_int(border, "border")
    height, width = y_true.shape[1:3]
    if 2 * border >= min(height, width):
        raise ValueError(
            f"`border` must be less than half the image size {min(height, width)} "
            f"so that a centre region remains. Received: border={border}"
        )
    band = distance_to_border(height, width) < border
    wrong = y_true != y_pred
    return float(wrong[:, band].mean()), float(wrong[:, ~band].mean())


# ---------------------------------------------------------------------------
# objects: errors by object size
# ---------------------------------------------------------------------------


def label_objects(masks):
    """Number the objects of label maps: connected regions of one class.

    An object is a maximal 4-connected set of pixels of the same class
    ``c > 0`` (class 0 is the background and belongs to no object). Two
    touching shapes of the same class are one object; of different classes,
    two.

    The labelling propagates the smallest pixel index over each region:
    every pixel starts with its own index, then repeatedly takes the minimum
    of its neighbours' labels (same class only) and jumps to its label's
    label, until nothing changes.

    Parameters
    ----------
    masks : int ndarray of shape (N, H, W) or (H, W)
        Class ids.

    Returns
    -------
    int ndarray of the shape of ``masks``
        0 on the background, ``1..R`` on the ``R`` objects of the whole batch
        (numbered in the order of their first pixel; no object spans two
        images).

    Examples
    --------
    >>> m = np.array([[1, 1, 0, 2],
    ...               [0, 0, 0, 2],
    ...               [1, 0, 1, 1]])
    >>> label_objects(m)
    array([[1, 1, 0, 2],
           [0, 0, 0, 2],
           [3, 0, 4, 4]])
    """
    masks = check_array(masks, "masks", ndim=(2, 3), layout="(N, H, W) or (H, W)", kind="integer")
    single = masks.ndim == 2
    m = masks[None] if single else masks
    flat_index = np.arange(1, m.size + 1, dtype=np.int64).reshape(m.shape)
    labels = np.where(m > 0, flat_index, 0)
    while True:
        before = labels
        best = labels.copy()
        for axis in (1, 2):
            for shift in (1, -1):
                neighbour = np.roll(labels, shift, axis=axis)
                same = np.roll(m, shift, axis=axis) == m
                edge = [slice(None)] * 3  # np.roll wraps around: drop the wrapped row/column
                edge[axis] = 0 if shift == 1 else -1
                same[tuple(edge)] = False
                take = same & (m > 0) & (neighbour < best)
                best[take] = neighbour[take]
        jumped = best.ravel()[np.maximum(best, 1).ravel() - 1].reshape(best.shape)
        labels = np.where(m > 0, np.minimum(best, jumped), 0)
        if np.array_equal(labels, before):
            break
    _, numbered = np.unique(labels, return_inverse=True)
    numbered = numbered.reshape(labels.shape)
    if (labels == 0).any():
        out = numbered  # 0 is the smallest label, so the background keeps id 0
    else:
        out = numbered + 1
    return out[0] if single else out


def object_recall(y_true, y_pred):
    """How much of each true object a prediction found, with the object's size.

    The objects are those of :func:`label_objects` applied to ``y_true``.
    For object ``o`` of class ``c`` with pixel set ``P_o``:
    ``size_o = |P_o|`` and ``recall_o = |{p in P_o : y_pred[p] = c}| / size_o``.

    Parameters
    ----------
    y_true, y_pred : int ndarray of shape (N, H, W) or (H, W)
        True and predicted label maps.

    Returns
    -------
    sizes : int ndarray of shape (R,)
        Pixels of each of the ``R`` objects.
    recall : float ndarray of shape (R,)
        The share of each object's pixels predicted as its class, in [0, 1].
    classes : int ndarray of shape (R,)
        Each object's class.

    Examples
    --------
    A two-pixel object found in half, a one-pixel object found whole:

    >>> y_true = np.array([[1, 1, 0, 2]])
    >>> y_pred = np.array([[1, 0, 0, 2]])
    >>> sizes, recall, classes = object_recall(y_true, y_pred)
    >>> sizes.tolist(), recall.tolist(), classes.tolist()
    ([2, 1], [0.5, 1.0], [1, 2])
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    objects = label_objects(y_true).ravel()
    inside = objects > 0
    ids = objects[inside] - 1
    count = int(objects.max())
    sizes = np.bincount(ids, minlength=count)
    hits = np.bincount(ids, weights=(y_true.ravel() == y_pred.ravel())[inside], minlength=count)
    classes = np.zeros(count, dtype=np.int64)
    classes[ids] = y_true.ravel()[inside]
    return sizes, hits / np.maximum(sizes, 1), classes


# ---------------------------------------------------------------------------
# training windows
# ---------------------------------------------------------------------------


def random_crops(images, masks, size, *, per_image=1, seed=0):
    """Cut random windows of ``size`` out of images and their masks.

    Crop ``m`` of image ``i`` has its top-left corner uniform over the valid
    positions ``[0, H - h] x [0, W - w]``; objects cut by the window edge stay
    cut, as in patch-based training on large images.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C)
    masks : ndarray of shape (N, H, W)
    size : int or (int, int)
        Window ``(h, w)``, at most the image size.
    per_image : int
        Windows per image.
    seed : int >= 0

    Returns
    -------
    images : ndarray of shape (N * per_image, h, w, C)
    masks : ndarray of shape (N * per_image, h, w)
        Crops of image 0 first, then of image 1, ...

    Examples
    --------
    >>> x = np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
    >>> cx, cy = random_crops(x, x[..., 0], 2, per_image=3)
    >>> cx.shape, cy.shape, bool(np.array_equal(cx[..., 0], cy))
    ((6, 2, 2, 1), (6, 2, 2), True)
    """
    images = check_array(images, "images", ndim=4, layout="(N, H, W, C)")
    masks = check_masks(masks, images.shape)
    h, w = check_int_pair(size, "size")
    if h > images.shape[1] or w > images.shape[2]:
        raise ValueError(
            f"`size` must fit in the images of size {images.shape[1:3]}. Received: size={size!r}"
        )
    per_image = check_positive_int(per_image, "per_image")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    n = images.shape[0]
    index = np.repeat(np.arange(n), per_image)
    top = rng.integers(0, images.shape[1] - h + 1, size=index.size)
    left = rng.integers(0, images.shape[2] - w + 1, size=index.size)
    rows = top[:, None] + np.arange(h)[None, :]  # (M, h)
    cols = left[:, None] + np.arange(w)[None, :]  # (M, w)
    out_images = images[index[:, None, None], rows[:, :, None], cols[:, None, :]]
    out_masks = masks[index[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out_images, out_masks


def random_corruptions(images, *, max_severity, seed=0):
    """Corrupted copies of images, one random corruption per image.

    Image ``i`` gets a kind drawn uniformly from :data:`CORRUPTIONS` and a
    severity ``s_i`` uniform in ``[0, max_severity]``, and is corrupted by
    :func:`corrupt` with them: a fixed, offline form of augmentation with the
    shifts expected at test time.

    Parameters
    ----------
    images : float ndarray of shape (N, H, W, C)
        Images with values in ``[0, 1]``.
    max_severity : float >= 0
        Largest severity drawn.
    seed : int >= 0
        Seeds the kinds, the severities and the noise.

    Returns
    -------
    float32 ndarray of shape (N, H, W, C)
        A new array; ``images`` is not changed.

    Examples
    --------
    >>> x = np.full((6, 4, 4, 3), 0.5, dtype=np.float32)
    >>> out = random_corruptions(x, max_severity=2, seed=0)
    >>> out.shape, bool(out.min() >= 0 and out.max() <= 1)
    ((6, 4, 4, 3), True)
    >>> bool(np.array_equal(out, random_corruptions(x, max_severity=2, seed=0)))
    True
    """
    x = check_images(images)
    max_severity = check_real(max_severity, "max_severity", low=0)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    kinds = tuple(CORRUPTIONS)
    chosen = rng.integers(0, len(kinds), size=len(x))
    severities = rng.uniform(0.0, max_severity, size=len(x))
    noise_seeds = rng.integers(0, 2**31, size=len(x))
    out = np.empty_like(x, dtype=np.float32)
    for i in range(len(x)):
        out[i] = corrupt(x[i : i + 1], kinds[chosen[i]], severities[i], seed=int(noise_seeds[i]))[0]
    return out
