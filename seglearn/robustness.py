"""Robustness: test-time corruptions and where a segmentation's errors are.

- :func:`corrupt` applies a test-time corruption (noise, blur, brightness;
  see :data:`CORRUPTIONS`) of a given severity, for robustness curves;
- :func:`distance_to_border`, :func:`error_by_border_distance` and
  :func:`border_centre_error` measure how the error rate depends on the
  distance to the image border, for the boundary-effect experiments;
- :func:`random_crops` cuts training windows out of larger images, as in
  patch-based training.

NumPy only: importing this module does not import TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import (
    check_array,
    check_choice,
    check_images,
    check_masks,
    check_int,
    check_int_pair,
    check_positive_int,
    check_real,
    check_same_shape,
)

__all__ = [
    "CORRUPTIONS",
    "border_centre_error",
    "corrupt",
    "distance_to_border",
    "error_by_border_distance",
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
    seed = check_int(seed, "seed")
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
    seed = check_positive_int(seed, "seed", minimum=0)
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
