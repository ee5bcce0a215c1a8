"""Train, evaluate, apply, save and load segmentation models.

The functions here wrap Keras so that a notebook needs one call per step:

- :func:`train` compiles a model (Adam, sparse cross-entropy on logits) and
  fits it with a progress bar, validation, early stopping that restores the
  best weights, and optional best-weights checkpointing;
- :func:`evaluate` predicts label maps and scores them with
  :mod:`seglearn.metrics` (mean and per-class IoU and Dice, pixel accuracy,
  confusion matrix);
- :func:`predict` returns label maps (and optionally class probabilities) and
  segments images larger than the model's input by overlap-tiling;
- :func:`save_model` and :func:`load_model` store a model in one ``.keras``
  file together with what is needed to use it (class names, input size,
  normalisation), kept as ``seglearn.json`` inside the file's zip archive.

Every model here is expected to map ``(N, H, W, C)`` images to
``(N, H, W, K)`` per-pixel logits, as :mod:`seglearn.models` builds them.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seglearn import metrics  # noqa: E402
from seglearn._validation import (  # noqa: E402
    check_array,
    check_bool,
    check_choice,
    check_int_pair,
    check_labels,
    check_positive_int,
    check_real,
    describe,
)

__all__ = [
    "ModelInfo",
    "compile_for_segmentation",
    "evaluate",
    "load_model",
    "predict",
    "save_model",
    "train",
]

#: The default training recipe (tuned on the shapes data set; see
#: ``benchmarks/bench_training.py``).
DEFAULT_EPOCHS = 30
DEFAULT_LEARNING_RATE = 3e-3
DEFAULT_BATCH_SIZE = 8
DEFAULT_PATIENCE = 10

#: Name of the metadata member inside a saved ``.keras`` archive.
METADATA_NAME = "seglearn.json"
_FORMAT = "seglearn-model"
_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------
# checks against a model
# ---------------------------------------------------------------------------


def _check_model(model) -> tuple[tuple, int]:
    """Check a segmentation model; return its input shape (H, W, C) and K."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={describe(model)}")
    in_shape, out_shape = model.input_shape, model.output_shape
    if (
        not isinstance(in_shape, tuple)
        or not isinstance(out_shape, tuple)
        or len(in_shape) != 4
        or len(out_shape) != 4
    ):
        raise ValueError(
            "`model` must map (N, H, W, C) images to (N, H, W, K) per-pixel logits. "
            f"Received: model with input_shape={in_shape} and output_shape={out_shape}"
        )
    return tuple(in_shape[1:]), int(out_shape[-1])


def _num_classes(model) -> int:
    return _check_model(model)[1]


def _check_images(images, model, name="images") -> np.ndarray:
    """Images (N, H, W, C) as float32 with the model's channels (and size, if fixed)."""
    (height, width, channels), _ = _check_model(model)
    images = check_array(images, name, ndim=4, layout="(N, H, W, C)", dtype=np.float32)
    if images.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one image. Received: {name}={describe(images)}")
    if images.shape[-1] != channels:
        raise ValueError(
            f"`{name}` must have {channels} channels, as the model's input. "
            f"Received: {name}={describe(images)}"
        )
    return images


def _check_fixed_size(images, model, name="images"):
    (height, width, _), _ = _check_model(model)
    if None not in (height, width) and images.shape[1:3] != (height, width):
        raise ValueError(
            f"`{name}` must have the model's input size {height}x{width}. "
            f"Received: {name}={describe(images)}"
        )


def _check_pair(images, masks, model, images_name="images", masks_name="masks"):
    images = _check_images(images, model, images_name)
    masks = check_array(masks, masks_name, ndim=3, layout="(N, H, W)", kind="integer")
    if masks.shape != images.shape[:3]:
        raise ValueError(
            f"`{masks_name}` must have shape (N, H, W) = {images.shape[:3]} to match "
            f"`{images_name}`. Received: {masks_name}={describe(masks)}"
        )
    masks = check_labels(masks, masks_name, _num_classes(model))
    return images, masks


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------


def _class_weight_vector(class_weight, num_classes) -> np.ndarray:
    if isinstance(class_weight, Mapping):
        weights = np.ones(num_classes, dtype=np.float32)
        for key, value in class_weight.items():
            key = check_positive_int(key, "class_weight", minimum=0)
            if key >= num_classes:
                raise ValueError(
                    f"`class_weight` keys must be class ids in [0, {num_classes}). "
                    f"Received: class_weight={describe(class_weight)}"
                )
            weights[key] = check_real(value, "class_weight", low=0)
        return weights
    weights = check_array(class_weight, "class_weight", ndim=1, dtype=np.float32)
    if weights.shape != (num_classes,) or np.any(weights < 0):
        raise ValueError(
            f"`class_weight` must hold {num_classes} weights >= 0 (one per class), "
            f"or be a dict {{class id: weight}}. Received: class_weight={describe(class_weight)}"
        )
    return weights


def _check_dataset(dataset, model, name):
    """Check that a tf.data.Dataset yields (images, masks) batches for ``model``."""
    (_, _, channels), _ = _check_model(model)
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) in (2, 3)):
        raise ValueError(
            f"`{name}` must yield (images, masks) pairs or (images, masks, weights) "
            f"triples. Received: {name} with element_spec={spec}"
        )
    x_spec, y_spec = spec[:2]
    if x_spec.shape.rank != 4 or x_spec.shape[-1] not in (None, channels):
        raise ValueError(
            f"`{name}` must yield batched images of shape (N, H, W, {channels}). "
            f"Received: {name} with image spec {x_spec}"
        )
    if y_spec.shape.rank not in (3, 4) or (y_spec.shape.rank == 4 and y_spec.shape[-1] != 1):
        raise ValueError(
            f"`{name}` must yield batched masks of shape (N, H, W). "
            f"Received: {name} with mask spec {y_spec}"
        )


def _as_fit_data(data, model, name, batch_size, weights):
    """``(x, y, sample_weight)`` arrays or a dataset, ready for ``model.fit``."""
    if isinstance(data, tf.data.Dataset):
        _check_dataset(data, model, name)
        if weights is not None and len(data.element_spec) == 3:
            raise ValueError(
                f"`class_weight` cannot be combined with a `{name}` that already yields "
                "per-pixel weights (images, masks, weights). Received: class_weight given"
            )
        if weights is not None:
            table = tf.constant(weights)
            data = data.map(
                lambda x, y: (x, y, tf.gather(table, tf.cast(y, tf.int32))),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return dict(x=data, shuffle=False)  # a dataset shuffles itself (or not)
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            f"`{name}` must be a pair (images, masks) of arrays or a tf.data.Dataset "
            f"of (images, masks) batches. Received: {name}={describe(data)}"
        )
    images, masks = _check_pair(data[0], data[1], model, f"{name}[0]", f"{name}[1]")
    _check_fixed_size(images, model, f"{name}[0]")
    out = dict(x=images, y=masks.astype(np.int32), batch_size=batch_size)
    if weights is not None:
        out["sample_weight"] = weights[masks]
    return out


def _steps_per_epoch(fit_args) -> int:
    if "y" in fit_args:
        return math.ceil(len(fit_args["x"]) / fit_args["batch_size"])
    steps = int(fit_args["x"].cardinality())
    if steps < 1:
        raise ValueError(
            "`schedule='cosine'` needs a `train_data` dataset of known, finite length "
            f"(its cardinality is {steps}). Received: schedule='cosine'"
        )
    return steps


def compile_for_segmentation(model, optimizer, loss):
    """Compile ``model`` with the course's two metrics and build the optimiser.

    The metrics are ``pixel_accuracy`` (``SparseCategoricalAccuracy``) and
    ``mean_iou`` (``MeanIoU`` over the model's ``K`` output channels, read as
    logits). The optimiser's slot variables (Adam's two moments per weight)
    are created here, for the weights trainable now, instead of inside the
    first training step: otherwise TensorFlow traces that step twice (once
    creating the variables, once using them), which costs about 3 s per new
    model on a 2-core CPU, more than a short experiment's training.

    Parameters
    ----------
    model : keras.Model
        A segmentation model whose output is ``(N, H, W, K)`` logits.
    optimizer : keras.optimizers.Optimizer
    loss : keras loss or callable ``loss(y_true, y_pred)``

    Returns
    -------
    keras.Model
        ``model``, compiled.

    Examples
    --------
    >>> from seglearn.models import unet
    >>> model = unet(input_shape=(16, 16, 1), num_classes=2, depth=1, base_filters=4)
    >>> adam = keras.optimizers.Adam(1e-3)
    >>> loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> model = compile_for_segmentation(model, adam, loss)
    >>> adam.built, len(adam.variables) > 2 * len(model.trainable_variables)
    (True, True)
    """
    _, num_classes = _check_model(model)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"`optimizer` must be a keras.optimizers.Optimizer. Received: optimizer={describe(optimizer)}")
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
            keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou"),
        ],
    )
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return model


def train(
    model,
    train_data,
    val_data=None,
    *,
    epochs=DEFAULT_EPOCHS,
    learning_rate=DEFAULT_LEARNING_RATE,
    batch_size=DEFAULT_BATCH_SIZE,
    schedule="cosine",
    loss=None,
    class_weight=None,
    patience=DEFAULT_PATIENCE,
    checkpoint_path=None,
    callbacks=(),
    verbose="auto",
):
    """Compile and fit a segmentation model, keeping the best weights.

    The model is compiled by :func:`compile_for_segmentation` with
    ``keras.optimizers.Adam`` (step size ``learning_rate``, lowered along a
    cosine by default), the given ``loss`` (default: sparse categorical
    cross-entropy on logits, ``L = -mean_i log softmax(z_i)[y_i]`` over all
    pixels ``i``) and two metrics, ``pixel_accuracy`` and ``mean_iou``; then
    ``model.fit`` runs for at most ``epochs`` epochs with Keras' progress bar.

    When ``val_data`` is given, the validation loss is computed after every
    epoch; with ``patience`` training stops once it has not improved for
    ``patience`` epochs, and in any case the weights of the epoch with the
    lowest validation loss are restored at the end (without ``val_data`` the
    training loss is monitored instead). With ``checkpoint_path`` the best
    model is also written to disk whenever the monitored loss improves.

    Parameters
    ----------
    model : keras.Model
        Maps ``(N, H, W, C)`` images to ``(N, H, W, K)`` logits.
    train_data : (images, masks) or tf.data.Dataset
        Arrays of shape ``(N, H, W, C)`` (float) and ``(N, H, W)`` (class ids in
        ``[0, K)``), or a dataset of such batches (for example
        ``seglearn.pipeline.make_dataset(..., augment=True)``), which is then
        used as is (``batch_size`` does not apply); a dataset may also yield
        per-pixel weights as a third element (``make_dataset(class_weight=...)``).
    val_data : (images, masks) or tf.data.Dataset, optional
        Validation data of the same kind.
    epochs : int
        Maximum number of passes over ``train_data``.
    learning_rate : float
        Adam's step size, > 0 (the initial one with ``schedule="cosine"``).
    batch_size : int
        Images per gradient step for array data.
    schedule : {"constant", "cosine"}
        ``"cosine"`` lowers the step size from ``learning_rate`` to 0 along a
        half cosine over the ``epochs * steps_per_epoch`` steps,
        ``lr_t = learning_rate * (1 + cos(pi t / T)) / 2``, which settles the
        weights at the end of a short training.
    loss : keras loss, optional
        Replaces the default ``SparseCategoricalCrossentropy(from_logits=True)``.
    class_weight : sequence of K floats or dict {class id: weight}, optional
        Per-class weights; each pixel's loss is multiplied by the weight of
        its true class (missing dict entries weigh 1). Keras' own
        ``class_weight`` does not apply to per-pixel targets, so this becomes a
        per-pixel ``sample_weight``.
    patience : int or None
        Epochs without improvement before stopping; None never stops early
        (the best weights are still restored).
    checkpoint_path : str or Path, optional
        Where to save the best model: a ``.keras`` file (whole model) or a
        ``.weights.h5`` file (weights only).
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks passed to ``model.fit``.
    verbose : "auto", 0, 1 or 2
        Keras' verbosity: 1 shows a progress bar, 2 one line per epoch, 0 nothing.

    The defaults (``DEFAULT_EPOCHS``, ``DEFAULT_LEARNING_RATE``,
    ``DEFAULT_BATCH_SIZE``, cosine schedule) are the recipe that
    ``benchmarks/bench_training.py`` measures for the default
    :func:`seglearn.models.unet` on the shapes data set. Measured on a 2-core
    CPU: 30 epochs in about 130 s to a test mean IoU of about 0.71 (the rare
    star class about 0.29, the other shapes 0.72-0.78).

    Returns
    -------
    keras.callbacks.History
        ``history.history`` maps ``"loss"``, ``"pixel_accuracy"``,
        ``"mean_iou"`` (and their ``"val_"`` versions) to per-epoch lists.

    Examples
    --------
    >>> import numpy as np
    >>> from seglearn.models import unet
    >>> rng = np.random.default_rng(0)
    >>> images = rng.random((4, 16, 16, 1), dtype=np.float32)
    >>> masks = (images[..., 0] > 0.5).astype(np.uint8)
    >>> model = unet(input_shape=(16, 16, 1), num_classes=2, depth=1, base_filters=4)
    >>> history = train(model, (images, masks), epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """
    _, num_classes = _check_model(model)
    epochs = check_positive_int(epochs, "epochs")
    learning_rate = check_real(learning_rate, "learning_rate", low=0, low_inclusive=False)
    batch_size = check_positive_int(batch_size, "batch_size")
    if patience is not None:
        patience = check_positive_int(patience, "patience", minimum=0)
    if verbose not in ("auto", 0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be one of 'auto', 0, 1, 2. Received: verbose={verbose!r}")
    weights = None if class_weight is None else _class_weight_vector(class_weight, num_classes)

    fit_args = _as_fit_data(train_data, model, "train_data", batch_size, weights)
    if val_data is not None:
        val = _as_fit_data(val_data, model, "val_data", batch_size, None)
        fit_args["validation_data"] = val["x"] if "y" not in val else (val["x"], val["y"])
    monitor = "val_loss" if val_data is not None else "loss"

    # EarlyStopping also when patience is None: it is what restores the best weights.
    extra = list(callbacks)
    extra.append(
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            patience=patience if patience is not None else epochs,
            restore_best_weights=True,
        )
    )
    if checkpoint_path is not None:
        path = Path(checkpoint_path)
        if not (path.name.endswith(".keras") or path.name.endswith(".weights.h5")):
            raise ValueError(
                "`checkpoint_path` must end with '.keras' (whole model) or "
                f"'.weights.h5' (weights only). Received: checkpoint_path={str(checkpoint_path)!r}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        extra.append(
            keras.callbacks.ModelCheckpoint(
                str(path),
                monitor=monitor,
                save_best_only=True,
                save_weights_only=path.name.endswith(".weights.h5"),
            )
        )

    schedule = check_choice(schedule, "schedule", ("constant", "cosine"))
    if schedule == "cosine":
        steps = epochs * _steps_per_epoch(fit_args)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    compile_for_segmentation(
        model,
        keras.optimizers.Adam(learning_rate),
        loss if loss is not None else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model.fit(epochs=epochs, callbacks=extra, verbose=verbose, **fit_args)


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


def _tiled_logits(model, image, tile, overlap, batch_size):
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
    logits = np.asarray(model.predict(tiles, batch_size=batch_size, verbose=0))
    k = logits.shape[-1]
    centres = logits.reshape(ny, nx, th, tw, k)[:, :, mh : mh + sh, mw : mw + sw]
    return centres.transpose(0, 2, 1, 3, 4).reshape(ny * sh, nx * sw, k)[:height, :width]


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
    (height, width, _), num_classes = _check_model(model)
    if num_classes > 256:
        raise ValueError(f"`model` must have at most 256 classes for uint8 labels. Received: {num_classes}")
    single = np.ndim(images) == 3
    images = _check_images(images[None] if single else images, model)
    batch_size = check_positive_int(batch_size, "batch_size")
    return_probabilities = check_bool(return_probabilities, "return_probabilities")
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
            logits = np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
        except ValueError as exc:
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
            [_tiled_logits(model, image, tile, overlap, batch_size) for image in images]
        )
    labels = np.argmax(logits, axis=-1).astype(np.uint8)
    if single:
        labels, logits = labels[0], logits[0]
    if not return_probabilities:
        return labels
    probabilities = np.asarray(keras.ops.softmax(logits, axis=-1), dtype=np.float32)
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
    _, k = _check_model(model)
    if num_classes is not None and check_positive_int(num_classes, "num_classes") != k:
        raise ValueError(
            f"`model` must output num_classes={num_classes} classes, but it outputs {k}. "
            f"Received: model with output_shape={model.output_shape}"
        )
    images = _check_images(images, model)
    masks = check_array(masks, "masks", ndim=3, layout="(N, H, W)", kind="integer")
    if masks.shape != images.shape[:3]:
        raise ValueError(
            f"`masks` must have shape (N, H, W) = {images.shape[:3]} to match `images`. "
            f"Received: masks={describe(masks)}"
        )
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


# ---------------------------------------------------------------------------
# save and load
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What is needed to use a saved model besides its weights.

    Attributes
    ----------
    class_names : tuple of str
        Name of each class; index = class id = output channel.
    input_size : (int, int)
        The (H, W) the model was trained on (the tile size for larger images).
    channels : int
        Image channels the model takes (1 grey, 3 RGB).
    normalisation : dict
        ``{"mean": m, "std": s}`` (floats or one per channel): the model's
        input is ``(x - m) / s`` for images ``x`` scaled to ``[0, 1]``.
    """

    class_names: tuple
    input_size: tuple
    channels: int
    normalisation: dict = field(default_factory=lambda: {"mean": 0.0, "std": 1.0})

    @property
    def num_classes(self) -> int:
        """Number of classes, ``len(class_names)``."""
        return len(self.class_names)

    def prepare(self, images) -> np.ndarray:
        """Scale images to ``[0, 1]`` (uint8 / 255) and apply the normalisation.

        Parameters
        ----------
        images : ndarray of shape (..., H, W, channels)
            uint8 images in ``[0, 255]`` or float images in ``[0, 1]``.

        Returns
        -------
        ndarray, float32, same shape
        """
        images = np.asarray(images)
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        images = check_array(images, "images", ndim=(3, 4), layout="(N, H, W, C)", dtype=np.float32)
        if images.shape[-1] != self.channels:
            raise ValueError(
                f"`images` must have {self.channels} channels, as the model's input. "
                f"Received: images={describe(images)}"
            )
        mean = np.asarray(self.normalisation["mean"], dtype=np.float32)
        std = np.asarray(self.normalisation["std"], dtype=np.float32)
        return ((images / scale - mean) / std).astype(np.float32)

    def to_json(self) -> dict:
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "class_names": list(self.class_names),
            "input_size": list(self.input_size),
            "channels": self.channels,
            "normalisation": self.normalisation,
        }


def _check_normalisation(normalisation, channels) -> dict:
    if normalisation is None:
        return {"mean": 0.0, "std": 1.0}
    if not isinstance(normalisation, Mapping) or set(normalisation) != {"mean", "std"}:
        raise ValueError(
            "`normalisation` must be a dict with the keys 'mean' and 'std'. "
            f"Received: normalisation={describe(normalisation)}"
        )
    out = {}
    for key in ("mean", "std"):
        value = check_array(normalisation[key], "normalisation", ndim=(0, 1), dtype=np.float64)
        if value.ndim == 1 and value.shape != (channels,):
            raise ValueError(
                f"`normalisation` {key!r} must be one number or {channels} (one per channel). "
                f"Received: normalisation={describe(normalisation)}"
            )
        if key == "std" and np.any(value <= 0):
            raise ValueError(f"`normalisation` 'std' must be > 0. Received: normalisation={describe(normalisation)}")
        out[key] = value.tolist()
    return out


def _check_info(model, info: ModelInfo, source: str) -> None:
    (height, width, channels), k = _check_model(model)
    if info.num_classes != k:
        raise ValueError(
            f"{source}: the model outputs {k} classes but {info.num_classes} class names "
            f"are given ({', '.join(info.class_names)})"
        )
    if channels != info.channels:
        raise ValueError(f"{source}: the model takes {channels} channels, the metadata says {info.channels}")
    if None not in (height, width) and (height, width) != tuple(info.input_size):
        raise ValueError(
            f"{source}: the model's input size is {height}x{width}, the metadata says "
            f"{info.input_size[0]}x{info.input_size[1]}"
        )


def save_model(model, path, *, class_names, input_size=None, normalisation=None) -> Path:
    """Save a model and its metadata in one ``.keras`` file.

    The file is Keras' own archive (``model.save``) with one more member,
    ``seglearn.json``, holding a :class:`ModelInfo`; ``keras.models.load_model``
    still reads it, and :func:`load_model` reads both parts and checks them
    against each other.

    Parameters
    ----------
    model : keras.Model
        A segmentation model (``(N, H, W, K)`` logits).
    path : str or Path
        Target file, ending with ``.keras``; parent folders are created.
    class_names : sequence of str
        One name per output channel, index = class id.
    input_size : (int, int), optional
        The training size; default the model's input size (required when it
        is None).
    normalisation : dict, optional
        ``{"mean": m, "std": s}`` applied to ``[0, 1]`` images before the model;
        default identity ``{"mean": 0.0, "std": 1.0}``.

    Returns
    -------
    Path
        The written file.
    """
    (height, width, channels), k = _check_model(model)
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"`path` must end with '.keras'. Received: path={str(path)!r}")
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not all(
        isinstance(name, str) for name in class_names
    ):
        raise TypeError(f"`class_names` must be a sequence of str. Received: class_names={describe(class_names)}")
    if len(class_names) != k:
        raise ValueError(
            f"`class_names` must have one name per model output ({k}). "
            f"Received: class_names={describe(list(class_names))}"
        )
    if input_size is None:
        if None in (height, width):
            raise ValueError(
                "`input_size` is required for a model whose input size is None. Received: input_size=None"
            )
        input_size = (height, width)
    info = ModelInfo(
        class_names=tuple(class_names),
        input_size=check_int_pair(input_size, "input_size"),
        channels=channels,
        normalisation=_check_normalisation(normalisation, channels),
    )
    _check_info(model, info, "save_model")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(METADATA_NAME, json.dumps(info.to_json(), indent=2))
    return path


def load_model(path):
    """Load a model saved by :func:`save_model`, and check it.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file written by :func:`save_model`.

    Returns
    -------
    model : keras.Model
        The model, not compiled (:func:`train` compiles it).
    info : ModelInfo
        Class names, input size, channels and normalisation.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a ``.keras`` archive, has no seglearn metadata, or
        the metadata does not match the model (number of classes, channels,
        input size).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an existing .keras file. Received: path={str(path)!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"`path` must be a .keras model file (a zip archive). Received: path={str(path)!r}")
    with zipfile.ZipFile(path) as archive:
        if METADATA_NAME not in archive.namelist():
            raise ValueError(
                f"{path} has no {METADATA_NAME}: it was not saved by seglearn.training.save_model "
                "(load it with keras.models.load_model and save it with save_model)"
            )
        try:
            meta = json.loads(archive.read(METADATA_NAME))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: {METADATA_NAME} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or meta.get("version") != _FORMAT_VERSION:
        raise ValueError(f"{path}: {METADATA_NAME} is not seglearn model metadata of version {_FORMAT_VERSION}")
    try:
        channels = check_positive_int(meta["channels"], "channels")
        info = ModelInfo(
            class_names=tuple(str(name) for name in meta["class_names"]),
            input_size=check_int_pair(meta["input_size"], "input_size"),
            channels=channels,
            normalisation=_check_normalisation(meta["normalisation"], channels),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid {METADATA_NAME} ({exc})") from None
    model = keras.models.load_model(path, compile=False)
    _check_info(model, info, str(path))
    return model, info
