"""Apply a trained segmentation model: label maps and their scores.

- :func:`predict` returns label maps (and optionally class probabilities) and
  segments images larger than the model's input by overlap-tiling;
- :func:`evaluate` predicts label maps and scores them with
  :mod:`seglearn.metrics` (mean and per-class IoU and Dice, pixel accuracy,
  confusion matrix).

Both run the model through the training engine's traced forward pass
(:mod:`seglearn._engine`), so predicting after :func:`seglearn.training.train`
costs no tracing. Every model is expected to map ``(N, H, W, C)`` images to
``(N, H, W, K)`` per-pixel logits, as :mod:`seglearn.models` builds them.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from seglearn import metrics, ops
from seglearn._engine import _engine_for, _forward_logits
from seglearn._validation import (
    check_bool,
    check_int_pair,
    check_labels,
    check_masks,
    check_model_images,
    check_positive_int,
    check_segmentation_model,
)

__all__ = ["evaluate", "predict"]


# ---------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------


def _check_tiling(tile_size, overlap):
    tile = check_int_pair(tile_size, "tile_size")
    if overlap is None:
        # A quarter of the tile on each axis, rounded down to an even number.
        overlap = tuple(2 * (t // 8) for t in tile)
    overlap = check_int_pair(overlap, "overlap", minimum=0)
    for t, o in zip(tile, overlap):
        if o % 2 or o >= t:
            raise ValueError(
                "`overlap` must be even (half of it is cut from each side of a tile) "
                f"and smaller than tile_size={tile}. Received: overlap={overlap}"
            )
    return tile, overlap


def _tiled_logits(model, image, tile, overlap, batch_size, engine):
    """Logits of one (H, W, C) image by overlap-tiling; see :func:`predict`."""
    height, width, channels = image.shape
    (th, tw), (oh, ow) = tile, overlap
    sh, sw = th - oh, tw - ow  # the kept centre of each tile, and the stride
    mh, mw = oh // 2, ow // 2  # the margin cut from each side
    ny, nx = math.ceil(height / sh), math.ceil(width / sw)
    ph, pw = ny * sh + oh, nx * sw + ow
    padded = np.pad(
        image, ((mh, ph - height - mh), (mw, pw - width - mw), (0, 0)), mode="reflect"
    )
    tiles = np.stack(
        [padded[i * sh : i * sh + th, j * sw : j * sw + tw] for i in range(ny) for j in range(nx)]
    )
    logits = _forward_logits(model, tiles, batch_size, engine)
    k = logits.shape[-1]
    centres = logits.reshape(ny, nx, th, tw, k)[:, :, mh : mh + sh, mw : mw + sw]
    return centres.transpose(0, 2, 1, 3, 4).reshape(ny * sh, nx * sw, k)[:height, :width]


def _predict_logits(model, images, *, tile_size, overlap, batch_size, engine=None) -> np.ndarray:
    """Logits (N, H, W, K) of checked images (N, H, W, C); tiles them when needed (see :func:`predict`).

    ``engine``: ``_engine_for(model)`` when the caller has it already.
    """
    (height, width, _), _ = check_segmentation_model(model)
    engine = engine or _engine_for(model)
    fixed = None not in (height, width)

    if tile_size is None and fixed and images.shape[1:3] != (height, width):
        tile_size = (height, width)
    if tile_size is None:
        if overlap is not None:
            raise ValueError(
                "`overlap` needs `tile_size` (or a model whose fixed input size "
                f"differs from the images'). Received: overlap={overlap}, tile_size=None"
            )
        try:
            logits = _forward_logits(model, images, batch_size, engine)
        except (ValueError, tf.errors.InvalidArgumentError) as exc:
            raise ValueError(
                f"`images` of size {images.shape[1]}x{images.shape[2]} do not fit the model "
                f"(a U-Net of depth d needs sizes divisible by 2**d); pass tile_size=. "
                f"Keras said: {str(exc).splitlines()[0]}"
            ) from None
    else:
        tile, overlap = _check_tiling(tile_size, overlap)
        if fixed and tile != (height, width):
            raise ValueError(
                f"`tile_size` must equal the model's fixed input size ({height}, {width}). "
                f"Received: tile_size={tile_size}"
            )
        logits = np.stack(
            [_tiled_logits(model, image, tile, overlap, batch_size, engine) for image in images]
        )
    return logits


def predict(
    model,
    images,
    *,
    tile_size=None,
    overlap=None,
    batch_size=16,
    return_probabilities=False,
):
    """Label maps (and class probabilities) for images of any size.

    Images of the model's input size go through the model in batches. Other
    sizes, or any size when ``tile_size`` is given, are segmented by
    **overlap-tiling** (Ronneberger et al., 2015), one image at a time:

    1. the image is padded by reflection by ``m = overlap // 2`` pixels (plus
       what is needed to fill the last tile) on each side;
    2. tiles of ``tile_size`` are cut with stride ``s = tile_size - overlap``,
       so neighbouring tiles overlap by ``overlap`` pixels;
    3. of each tile's logits only the centre ``s x s`` is kept (the margin,
       where the network saw padding instead of image, is thrown away) and the
       centres are laid side by side.

    A fully convolutional network is (away from padding) translation
    equivariant for shifts that are multiples of its total downsampling
    factor ``2**depth``. So when ``m`` and ``s`` are multiples of it and ``m`` is
    at least the radius of the receptive field, the tiled logits equal the
    untiled ones; with smaller margins they differ only slightly and there is
    still no seam, since every kept pixel lies ``m`` pixels inside its tile.

    Parameters
    ----------
    model : keras.Model
        Maps ``(N, h, w, C)`` images to ``(N, h, w, K)`` logits.
    images : ndarray of shape (N, H, W, C) or (H, W, C)
        Float images, already normalised as the model expects.
    tile_size : int or (int, int), optional
        Tile size ``(t_h, t_w)``. Default: the model's input size when it is
        fixed and differs from the images' size; otherwise no tiling. A model
        with a fixed input size only accepts that tile size.
    overlap : int or (int, int), optional
        Even overlap of neighbouring tiles, ``0 <= overlap < tile_size``.
        Default: a quarter of the tile, rounded down to an even number
        (16 pixels for 64-pixel tiles).
    batch_size : int
        Images (or tiles) per forward pass.
    return_probabilities : bool
        Also return the softmax of the logits.

    Returns
    -------
    labels : ndarray of shape (N, H, W) (or (H, W)), uint8
        ``argmax`` of the logits over the classes.
    probabilities : ndarray of shape (N, H, W, K) (or (H, W, K)), float32
        Only with ``return_probabilities=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from seglearn.models import unet
    >>> model = unet(input_shape=(16, 16, 1), num_classes=2, depth=1, base_filters=4)
    >>> image = np.random.default_rng(0).random((40, 24, 1), dtype=np.float32)
    >>> predict(model, image).shape
    (40, 24)
    >>> labels, probs = predict(model, image[None], return_probabilities=True)
    >>> probs.shape, bool(np.allclose(probs.sum(axis=-1), 1, atol=1e-5))
    ((1, 40, 24, 2), True)
    """
    (height, width, _), num_classes = check_segmentation_model(model)
    if num_classes > 256:
        raise ValueError(f"`model` must have at most 256 classes for uint8 labels. Received: {num_classes}")
    single = np.ndim(images) == 3
    images = check_model_images(images[None] if single else images, model)
    batch_size = check_positive_int(batch_size, "batch_size")
    return_probabilities = check_bool(return_probabilities, "return_probabilities")
    logits = _predict_logits(model, images, tile_size=tile_size, overlap=overlap, batch_size=batch_size)
    labels = np.argmax(logits, axis=-1).astype(np.uint8)
    if single:
        labels, logits = labels[0], logits[0]
    if not return_probabilities:
        return labels
    probabilities = ops.softmax(logits, axis=-1).astype(np.float32, copy=False)
    return labels, probabilities


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------


def _mean_present(scores: np.ndarray) -> float:
    """Mean over the classes that have a score (not NaN), as metrics.mean_iou."""
    present = ~np.isnan(scores)
    return float(scores[present].mean()) if present.any() else float("nan")


def evaluate(model, images, masks, *, num_classes=None, batch_size=16, tile_size=None,
             overlap=None, ignore_index=None):
    """Score a model's label maps against true masks with :mod:`seglearn.metrics`.

    One confusion matrix ``cm`` (rows true, columns predicted) is accumulated
    over all pixels of all images; every score is derived from it:
    ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, ``Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``,
    pixel accuracy ``= trace(cm) / sum(cm)``. The means are over the classes
    that occur in the true or predicted maps (the others are NaN).

    Parameters
    ----------
    model : keras.Model
        Maps ``(N, H, W, C)`` images to ``(N, H, W, K)`` logits.
    images : ndarray of shape (N, H, W, C)
        Float images, normalised as the model expects.
    masks : int ndarray of shape (N, H, W)
        True class ids in ``[0, K)`` (or ``ignore_index``).
    num_classes : int, optional
        Expected number of classes; when given, a model with a different
        number of outputs is refused (a model trained on other data).
    batch_size, tile_size, overlap
        Passed to :func:`predict`.
    ignore_index : int, optional
        Mask value of pixels that are not scored.

    Returns
    -------
    dict
        ``"mean_iou"``, ``"mean_dice"``, ``"pixel_accuracy"`` (floats),
        ``"iou"``, ``"dice"`` (ndarrays of shape (K,), NaN for absent classes),
        ``"confusion_matrix"`` (int64 ndarray (K, K)) and ``"num_pixels"`` (int).

    Examples
    --------
    >>> import numpy as np
    >>> from seglearn.models import unet
    >>> model = unet(input_shape=(16, 16, 1), num_classes=2, depth=1, base_filters=4)
    >>> rng = np.random.default_rng(0)
    >>> result = evaluate(model, rng.random((2, 16, 16, 1)), rng.integers(0, 2, (2, 16, 16)))
    >>> result["confusion_matrix"].sum() == result["num_pixels"] == 2 * 16 * 16
    True
    """
    _, k = check_segmentation_model(model)
    if num_classes is not None and check_positive_int(num_classes, "num_classes") != k:
        raise ValueError(
            f"`model` must output num_classes={num_classes} classes, but it outputs {k}. "
            f"Received: model with output_shape={model.output_shape}"
        )
    images = check_model_images(images, model)
    masks = check_masks(masks, images.shape)
    masks = check_labels(masks, "masks", k, ignore_index=ignore_index)
    predicted = predict(model, images, tile_size=tile_size, overlap=overlap, batch_size=batch_size)
    cm = metrics.confusion_matrix(masks, predicted, k, ignore_index=ignore_index)
    iou = metrics.iou_from_confusion(cm)
    dice = metrics.dice_from_confusion(cm)
    return {
        "mean_iou": _mean_present(iou),
        "iou": iou,
        "mean_dice": _mean_present(dice),
        "dice": dice,
        "pixel_accuracy": metrics.accuracy_from_confusion(cm),
        "confusion_matrix": cm,
        "num_pixels": int(cm.sum()),
    }
