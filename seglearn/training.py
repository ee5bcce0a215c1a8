"""Train segmentation models: the course's one training loop.

:func:`train` serves the chapters, the FAQ experiments, the capstone, the
command line and the benchmarks: any of five optimisers, four losses
(:func:`segmentation_loss`), class weights, augmentation
(:func:`random_symmetries`), random crops, a cosine schedule over epochs or a
time budget, validation after every epoch, the best epoch's weights restored, a
progress bar with the ETA. Its step is traced once per architecture and reused
by every later model of the same shapes (:mod:`seglearn._engine`), so that
comparing seeds or settings costs no tracing.

Applying a model is :mod:`seglearn.inference` (``predict``, ``evaluate``);
storing it is :mod:`seglearn.saving` (``save_model``, ``load_model``). Every
model here maps ``(N, H, W, C)`` images to ``(N, H, W, K)`` per-pixel logits, as
:mod:`seglearn.models` builds them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from seglearn import metrics
from seglearn.models import _iter_layers
from seglearn._defaults import DEFAULT_AUGMENT, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE  # noqa: F401 (the recipe, re-exported)
from seglearn._engine import _engine_for, _mean_loss, _slot_count, _tf_variables, random_symmetries
from seglearn._validation import (
    check_bool,
    check_choice,
    check_class_weight,
    check_crop_size,
    check_int_pair,
    check_labels,
    check_masks,
    check_model_images,
    check_positive_int,
    check_real,
    check_seed,
    check_segmentation_model,
    describe,
)
from seglearn.inference import _mean_present, _predict_logits, evaluate

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainingRun",
    "random_symmetries",
    "segmentation_loss",
    "train",
]


# ---------------------------------------------------------------------------
# checks against a model
# ---------------------------------------------------------------------------


def _check_fixed_size(images, model, name="images"):
    (height, width, _), _ = check_segmentation_model(model)
    if None not in (height, width) and images.shape[1:3] != (height, width):
        raise ValueError(
            f"`{name}` must have the model's input size {height}x{width}. "
            f"Received: {name}={describe(images)}"
        )


def _check_pair(images, masks, model, images_name="images", masks_name="masks"):
    images = check_model_images(images, model, images_name)
    masks = check_masks(masks, images.shape, masks_name, images_name)
    masks = check_labels(masks, masks_name, check_segmentation_model(model)[1])
    return images, masks


# ---------------------------------------------------------------------------
# losses and optimiser updates, in TensorFlow ops
# ---------------------------------------------------------------------------

#: Loss names understood by :func:`segmentation_loss` and :func:`train`.
LOSSES = ("ce", "dice", "focal", "ce+dice")

#: Optimiser names understood by :func:`train`, with the update each applies.
OPTIMIZERS = {
    "sgd": "w <- w - lr g",
    "momentum": "a <- 0.9 a - lr g; w <- w + a (Keras' SGD(momentum=0.9))",
    "nesterov": "a <- 0.9 a - lr g; w <- w + 0.9 a - lr g (Keras' SGD(momentum=0.9, nesterov=True))",
    "rmsprop": "s <- 0.9 s + 0.1 g^2; w <- w - lr g / sqrt(s + 1e-7)",
    "adam": "Keras' Adam (beta1 0.9, beta2 0.999, epsilon 1e-7)",
}

SCHEDULES = ("constant", "cosine")


def segmentation_loss(name, num_classes, *, gamma=2.0, alpha=0.25, smooth=1.0):
    """A loss for logits ``(B, H, W, K)`` and sparse labels ``(B, H, W)``, in Keras ops.

    The same formulas as the NumPy references in :mod:`seglearn.losses`:

    - ``"ce"``: sparse categorical cross-entropy on logits,
      ``l_i = -log softmax(z_i)[y_i]`` per pixel
      (:func:`seglearn.losses.sparse_categorical_crossentropy`);
    - ``"focal"``: ``l_i = -alpha (1 - p_{i,y_i})^gamma log p_{i,y_i}`` per
      pixel (:func:`seglearn.losses.categorical_focal_crossentropy`);
    - ``"dice"``: ``1 - mean_c D_c`` with the soft Dice score
      ``D_c = (2 sum_i y_ic p_ic + s) / (sum_i y_ic + sum_i p_ic + s)`` over
      the whole batch (:func:`seglearn.losses.dice_loss`): every class counts
      equally, however few pixels it has;
    - ``"ce+dice"``: the sum of the two.

    ``"ce"`` and ``"focal"`` return one value per pixel, ``(B, H, W)``, which
    :func:`train` averages (after multiplying by per-pixel class weights);
    the Dice losses return one number per batch.

    Parameters
    ----------
    name : {"ce", "dice", "focal", "ce+dice"}
    num_classes : int
        ``K``, to one-hot encode the labels.
    gamma, alpha : float
        Focal loss parameters (Keras' defaults).
    smooth : float
        Dice smoothing ``s``.

    Returns
    -------
    callable
        ``loss(y_true, logits)``; its ``__name__`` is the loss name.

    Examples
    --------
    >>> import numpy as np
    >>> loss = segmentation_loss("ce", 2)
    >>> logits = np.zeros((1, 2, 2, 2), dtype=np.float32)
    >>> per_pixel = np.asarray(loss(np.zeros((1, 2, 2)), logits))
    >>> per_pixel.shape, bool(np.allclose(per_pixel, np.log(2)))  # log 2 per pixel
    ((1, 2, 2), True)
    """
    name = check_choice(name, "name", LOSSES)
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    gamma = check_real(gamma, "gamma", low=0)
    alpha = check_real(alpha, "alpha", low=0)
    smooth = check_real(smooth, "smooth", low=0)
    ops = keras.ops

    def one_hot(y_true):
        return ops.one_hot(ops.cast(y_true, "int32"), num_classes, dtype="float32")

    def ce(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

    def focal(y_true, y_pred):
        return keras.losses.categorical_focal_crossentropy(
            one_hot(y_true), y_pred, alpha=alpha, gamma=gamma, from_logits=True
        )

    def dice(y_true, y_pred):
        y = one_hot(y_true)
        p = ops.softmax(y_pred, axis=-1)
        axes = tuple(range(len(y_pred.shape) - 1))
        intersection = ops.sum(y * p, axis=axes)
        denominator = ops.sum(y, axis=axes) + ops.sum(p, axis=axes) + smooth
        return 1.0 - ops.mean((2.0 * intersection + smooth) / denominator)

    def ce_dice(y_true, y_pred):
        return ops.mean(ce(y_true, y_pred)) + dice(y_true, y_pred)

    loss = {"ce": ce, "focal": focal, "dice": dice, "ce+dice": ce_dice}[name]
    loss.__name__ = name.replace("+", "_")
    # Two losses made with the same arguments compute the same thing: train() keys its
    # traced step by this, so a fresh segmentation_loss(...) per run does not retrace.
    loss._seglearn_key = ("segmentation_loss", name, num_classes, gamma, alpha, smooth)
    return loss



# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------


def _check_dataset(dataset, model, name):
    """Check that a tf.data.Dataset yields (images, masks) batches for ``model``."""
    (_, _, channels), _ = check_segmentation_model(model)
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            f"`{name}` must yield (images, masks) pairs of batches (per-pixel weights come from "
            f"`class_weight`). Received: {name} with element_spec={spec}"
        )
    x_spec, y_spec = spec
    if x_spec.shape.rank != 4 or x_spec.shape[-1] not in (None, channels):
        raise ValueError(
            f"`{name}` must yield batched images of shape (N, H, W, {channels}). "
            f"Received: {name} with image spec {x_spec}"
        )
    if y_spec.shape.rank != 3:
        raise ValueError(
            f"`{name}` must yield batched masks of shape (N, H, W). Received: {name} with mask spec {y_spec}"
        )


def _check_split(data, model, name):
    """``(images, masks)`` arrays checked against ``model``."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            f"`{name}` must be a pair (images, masks) of arrays or a tf.data.Dataset "
            f"of (images, masks) batches. Received: {name}={describe(data)}"
        )
    return _check_pair(data[0], data[1], model, f"{name}[0]", f"{name}[1]")


class _Batches:
    """The training batches of one epoch, from arrays or a dataset.

    Arrays are shuffled every epoch by a NumPy generator and cut into batches
    of exactly ``batch_size`` (the last, smaller one is dropped, so that one
    traced step serves the whole run; every image is still seen, in another
    epoch's order). With ``augment`` or ``crop_size`` they go through
    :func:`seglearn.pipeline.make_dataset` instead.
    """

    def __init__(self, data, model, *, batch_size, augment, crop_size, seed):
        self.dataset = None
        if isinstance(data, tf.data.Dataset):
            _check_dataset(data, model, "train_data")
            if augment not in (False, "flips") or crop_size is not None:
                raise ValueError(
                    "`augment` (but 'flips') and `crop_size` apply to array data; a `train_data` dataset is "
                    "used as it is. "
                    f"Received: augment={augment!r}, crop_size={crop_size!r}"
                )
            self.dataset, self.steps = data, int(data.cardinality())
            if self.steps == 0:
                raise ValueError("`train_data` must yield at least one batch. Received: an empty dataset")
            self.steps = self.steps if self.steps > 0 else None  # unknown or infinite
            return
        images, masks = _check_split(data, model, "train_data")
        (height, width, _), _ = check_segmentation_model(model)
        size = check_crop_size(crop_size, images.shape) if crop_size is not None else images.shape[1:3]
        if None not in (height, width) and tuple(size) != (height, width):
            raise ValueError(
                f"`{'crop_size' if crop_size is not None else 'train_data[0]'}` must give training images of "
                f"the model's input size {height}x{width}. Received: "
                + (f"crop_size={crop_size!r}" if crop_size is not None else f"train_data[0]={describe(images)}")
            )
        self.batch_size = min(batch_size, len(images))
        self.steps = len(images) // self.batch_size
        pipelined = augment not in (False, "flips")
        if pipelined or crop_size is not None:
            from seglearn import pipeline

            self.dataset = pipeline.make_dataset(
                images, masks, self.batch_size, augment=pipelined, shuffle=True, seed=seed,
                augment_options=augment if isinstance(augment, Mapping) else None,
                drop_remainder=True, crop_size=crop_size,
            )
        else:
            self.images, self.masks = tf.constant(images), tf.constant(masks.astype(np.int32))
            self.rng = np.random.default_rng(seed)

    def __iter__(self):
        if self.dataset is not None:
            for images, masks in self.dataset:
                yield images, tf.cast(masks, tf.int32)
            return
        order = self.rng.permutation(len(self.images))
        for i in range(self.steps):
            index = tf.constant(order[i * self.batch_size : (i + 1) * self.batch_size])
            yield tf.gather(self.images, index), tf.gather(self.masks, index)


@dataclass
class TrainingRun:
    """What :func:`train` returns: the trained model and how it got there.

    Attributes
    ----------
    model : keras.Model
        The trained model (the best epoch's weights with ``restore_best``).
    history : dict of str to list of float
        Per epoch: ``loss`` (mean training loss), ``pixel_accuracy`` and
        ``mean_iou`` (of the training batches' predictions, during the
        epoch), ``lr`` (the step size at the epoch's end), ``seconds`` (wall
        time since the start of training) and, with validation data,
        ``val_loss``, ``val_pixel_accuracy`` and ``val_mean_iou``.
    val : dict or None
        :func:`evaluate` on the validation data with the final weights.
    seconds : float
        Wall-clock time of the whole training, validation included.
    first_step_seconds : float
        Wall-clock time of the first step: the tracing of the step when this
        architecture had not been trained before in this process (about
        0 s when it had), plus one step.
    steps : int
        Gradient steps taken.
    images : int
        Training images (or crops) seen.
    config : dict
        The options of the run, for tables.
    """

    model: object
    history: dict
    val: dict | None
    seconds: float
    first_step_seconds: float
    steps: int
    images: int
    config: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of epochs run (the last may have been cut by the time budget)."""
        return len(self.history["loss"])

    @property
    def best_epoch(self) -> int:
        """1-based epoch with the lowest monitored loss (``val_loss``, else ``loss``)."""
        monitored = self.history.get("val_loss") or self.history["loss"]
        return int(np.nanargmin(monitored)) + 1


class _Progress:
    """One line of progress: epoch, a bar over the whole run, ETA and the latest figures."""

    def __init__(self, verbose, total_steps, time_budget, epochs):
        self.verbose, self.total, self.budget, self.epochs = verbose, total_steps, time_budget, epochs
        self.interactive = verbose == 1
        self._last = 0.0

    def fraction(self, steps, elapsed):
        parts = []
        if self.total:
            parts.append(steps / self.total)
        if self.budget:
            parts.append(elapsed / self.budget)
        return min(1.0, max(parts)) if parts else None

    def _line(self, epoch, steps, elapsed, logs):
        done = self.fraction(steps, elapsed)
        of = f"/{self.epochs}" if self.epochs else ""
        text = f"epoch {epoch}{of}"
        if done is not None:
            filled = int(round(20 * done))
            eta = elapsed / done - elapsed if done > 0 else float("nan")
            text += f" [{'=' * filled}{'.' * (20 - filled)}] {done:4.0%} {elapsed:.0f} s, ETA {eta:.0f} s"
        else:
            text += f" {elapsed:.0f} s"
        figures = ", ".join(f"{name} {value:.4f}" for name, value in logs.items() if name not in ("seconds", "lr"))
        return f"{text}: {figures}" if figures else text

    def step(self, epoch, steps, elapsed, logs):
        if self.interactive and elapsed - self._last >= 0.5:
            self._last = elapsed
            print("\r" + self._line(epoch, steps, elapsed, logs), end="", flush=True)

    def epoch_end(self, epoch, steps, elapsed, logs):
        if self.verbose == 2:
            print(self._line(epoch, steps, elapsed, logs), flush=True)
        elif self.interactive:
            print("\r" + self._line(epoch, steps, elapsed, logs), end="", flush=True)

    def close(self):
        if self.interactive:
            print(flush=True)


#: Pixels per forward batch of the validation pass: 2**18 (256 images of 32 x 32,
#: 16 of 128 x 128), so that small images validate in a few large batches.
VALIDATION_BATCH_PIXELS = 2**18


def _validate(model, val, loss_fn, batch_size, tile_size, engine):
    """Validation loss, pixel accuracy and mean IoU of ``model`` on ``val``.

    The forward pass runs in batches of at least ``batch_size`` images and
    :data:`VALIDATION_BATCH_PIXELS` pixels (the batch does not change the
    logits: batch normalisation uses its moving statistics here).
    """
    images, masks = val
    pixels = (tile_size[0] * tile_size[1]) if tile_size is not None else images.shape[1] * images.shape[2]
    batch_size = max(batch_size, VALIDATION_BATCH_PIXELS // pixels)
    logits = _predict_logits(model, images, tile_size=tile_size, overlap=None, batch_size=batch_size, engine=engine)
    loss = float(_mean_loss(loss_fn, tf.constant(masks.astype(np.int32)), tf.constant(logits), None))
    k = logits.shape[-1]
    cm = metrics.confusion_matrix(masks, np.argmax(logits, axis=-1), k)
    return {
        "val_loss": loss,
        "val_pixel_accuracy": metrics.accuracy_from_confusion(cm),
        "val_mean_iou": _mean_present(metrics.iou_from_confusion(cm)),
    }


def _train_logs(losses, cms, k):
    cm = tf.add_n(cms).numpy().reshape(k, k).astype(np.int64)
    return {
        "loss": float(tf.reduce_mean(tf.stack(losses))),
        "pixel_accuracy": metrics.accuracy_from_confusion(cm),
        "mean_iou": _mean_present(metrics.iou_from_confusion(cm)),
    }


def train(
    model,
    train_data,
    val_data=None,
    *,
    epochs=DEFAULT_EPOCHS,
    time_budget=None,
    batch_size=DEFAULT_BATCH_SIZE,
    learning_rate=DEFAULT_LEARNING_RATE,
    schedule="cosine",
    optimizer="adam",
    weight_decay=0.0,
    loss="ce",
    class_weight=None,
    augment=False,
    crop_size=None,
    bn_momentum=None,
    patience=None,
    restore_best=True,
    seed=0,
    checkpoint_path=None,
    callbacks=(),
    verbose="auto",
):
    """Train a segmentation model: the course's one training loop.

    Every chapter, the FAQ experiments, the capstone, the command line and
    the benchmarks train with this function. Each step computes the mean
    per-pixel loss ``L = 1/N sum_i w_{y_i} l_i`` of a batch (``l_i`` the loss
    of pixel ``i``, ``w`` the class weights, 1 by default), its gradient by
    backpropagation (``tf.GradientTape``) and one optimiser update of every
    trainable weight. After every epoch the validation data are scored; at
    the end the weights of the epoch with the lowest validation loss are
    restored (``restore_best``).

    What makes it fast on a CPU:

    - the step is traced once per *architecture*, not per model: it takes the
      model's variables as arguments (``model.stateless_call``), so that a
      second model of the same shapes (another seed, another learning rate,
      another optimiser of the same kind) starts training at once;
    - optimiser updates use TensorFlow's fused kernels (one op per weight);
    - batches are cut to one size, so nothing is traced twice;
    - validation and :func:`predict` reuse one traced forward pass.

    Parameters
    ----------
    model : keras.Model or callable
        Maps ``(N, H, W, C)`` images to ``(N, H, W, K)`` logits; or a function
        with no arguments that builds such a model, called after
        ``keras.utils.set_random_seed(seed)`` so that the initial weights
        depend on ``seed`` only.
    train_data : (images, masks) or tf.data.Dataset
        Arrays of shape ``(N, H, W, C)`` (float) and ``(N, H, W)`` (class ids
        in ``[0, K)``), shuffled every epoch; or a dataset of such batches,
        used as it is.
    val_data : (images, masks) or tf.data.Dataset, optional
        Validation arrays (or a finite dataset of batches, read once into
        arrays), scored after every epoch (images larger than a fixed-size
        model's input are tiled, as by :func:`predict`).
    epochs : int or None
        Passes over ``train_data``; None trains until ``time_budget``.
    time_budget : float, optional
        Seconds of wall time, > 0: training stops once they are spent (the
        current epoch is cut short and validated), and the cosine schedule
        runs over them. Results then depend on the machine's speed.
    batch_size : int
        Images per step (array data).
    learning_rate : float
        The optimiser's step size ``lr`` > 0 (the initial one with ``schedule="cosine"``).
    schedule : {"constant", "cosine"}
        ``"cosine"`` lowers the step size along a half cosine,
        ``lr_t = lr (1 + cos(pi p)) / 2``, where ``p`` in ``[0, 1]`` is the
        fraction of the run done (of the ``epochs`` steps, or of the
        ``time_budget``, whichever is further).
    optimizer : {"sgd", "momentum", "nesterov", "rmsprop", "adam"}
        The update rule; see ``OPTIMIZERS``.
    weight_decay : float >= 0
        Decoupled weight decay: each step first shrinks every weight by
        ``lr * weight_decay`` times itself (AdamW with ``"adam"``).
    loss : {"ce", "dice", "focal", "ce+dice"} or callable
        See :func:`segmentation_loss`; a callable ``loss(y_true, logits)``
        returns per-pixel losses or one number; a ``keras.losses.Loss`` gets
        the class weights as ``sample_weight``.
    class_weight : sequence of K floats or dict {class id: weight}, optional
        Each pixel's loss is multiplied by the weight of its true class
        (missing dict entries weigh 1). Not with a Dice loss, which has no
        per-pixel terms.
    augment : bool, "flips" or dict
        ``"flips"``: each training image and its mask turned by one of the 8
        symmetries of the square (:func:`random_symmetries`), inside the
        training step, at almost no cost; ``True``: random flips, 90-degree
        turns, zoom, brightness and contrast in a ``tf.data`` pipeline
        (:func:`seglearn.pipeline.augment_pair`; a dict gives its options).
    crop_size : int or (int, int), optional
        Train on one random window of this size per image and epoch (for
        images larger than the model's fixed input; at most the images' size).
    bn_momentum : float in [0, 1), optional
        Momentum ``m`` of every batch-normalisation layer's moving statistics
        (``mu <- m mu + (1 - m) mu_batch``), set before training. Keras'
        default 0.99 needs several hundred steps to forget its initial
        statistics (``0.99^128 = 0.28`` of them remain after 128 steps); 0.9
        follows the weights within about 20 steps.
    patience : int, optional
        Stop once the monitored loss (``val_loss``, else ``loss``) has not
        improved for ``patience`` epochs.
    restore_best : bool
        Restore the weights of the epoch with the lowest monitored loss at the
        end; False keeps the last epoch's (to show overfitting).
    seed : int >= 0
        Seeds the model's construction (when ``model`` is a function), the
        order of the batches, the crops and the augmentation.
    checkpoint_path : str or Path, optional
        Save the best model whenever the monitored loss improves: a
        ``.keras`` file (whole model) or a ``.weights.h5`` file (weights).
    callbacks : sequence of keras.callbacks.Callback
        Their epoch hooks (``on_train_begin``, ``on_epoch_begin``,
        ``on_epoch_end`` with this epoch's figures, ``on_train_end``) are
        called; setting ``model.stop_training = True`` stops training.
    verbose : "auto", 0, 1 or 2
        1 shows a progress bar with the ETA, 2 one line per epoch, 0 nothing;
        "auto" means 1.

    The defaults (``DEFAULT_EPOCHS``, ``DEFAULT_LEARNING_RATE``,
    ``DEFAULT_BATCH_SIZE``, cosine schedule, Adam), with
    ``augment=DEFAULT_AUGMENT``, are the recipe of ``seglearn train``, measured
    by ``benchmarks/bench_training.py --only recipe`` for the default
    :func:`seglearn.models.unet` on the shapes data set (2-core CPU): test mean
    IoU 0.98, 0.90 and 0.96 for seeds 0, 1 and 2, in 113-122 s each.

    Returns
    -------
    TrainingRun

    Raises
    ------
    ValueError, TypeError
        For a bad argument, naming it and its value.

    Examples
    --------
    >>> import numpy as np
    >>> from seglearn.models import unet
    >>> rng = np.random.default_rng(0)
    >>> images = rng.random((4, 16, 16, 1), dtype=np.float32)
    >>> masks = (images[..., 0] > 0.5).astype(np.uint8)
    >>> build = lambda: unet(input_shape=(16, 16, 1), num_classes=2, depth=1, base_filters=4)
    >>> run = train(build, (images, masks), epochs=2, batch_size=2, verbose=0)
    >>> run.epochs, run.steps, sorted(run.history)[:3]
    (2, 4, ['loss', 'lr', 'mean_iou'])
    """
    seed = check_seed(seed)
    if not isinstance(model, keras.Model):
        if not callable(model):
            raise TypeError(
                "`model` must be a keras.Model or a function that builds one. "
                f"Received: model={describe(model)}"
            )
        keras.utils.set_random_seed(seed)
        model = model()
    _, num_classes = check_segmentation_model(model)
    if epochs is not None:
        epochs = check_positive_int(epochs, "epochs")
    if time_budget is not None:
        time_budget = check_real(time_budget, "time_budget", low=0, low_inclusive=False)
    if epochs is None and time_budget is None:
        raise ValueError("`epochs` or `time_budget` must be given. Received: epochs=None, time_budget=None")
    batch_size = check_positive_int(batch_size, "batch_size")
    learning_rate = check_real(learning_rate, "learning_rate", low=0, low_inclusive=False)
    schedule = check_choice(schedule, "schedule", SCHEDULES)
    if not isinstance(optimizer, str):
        raise TypeError(
            f"`optimizer` must be one of {', '.join(repr(o) for o in OPTIMIZERS)}. "
            f"Received: optimizer={describe(optimizer)}"
        )
    optimizer = check_choice(optimizer, "optimizer", tuple(OPTIMIZERS))
    weight_decay = check_real(weight_decay, "weight_decay", low=0)
    if isinstance(loss, str):
        loss_name, loss_fn = check_choice(loss, "loss", LOSSES), None
    elif callable(loss):
        loss_name, loss_fn = getattr(loss, "name", None) or getattr(loss, "__name__", "custom"), loss
    else:
        raise TypeError(f"`loss` must be a loss name or a callable. Received: loss={describe(loss)}")
    if isinstance(augment, str):
        augment = check_choice(augment, "augment", ("flips",))
    elif not isinstance(augment, Mapping):
        if not isinstance(augment, (bool, np.bool_)):
            raise TypeError(
                f"`augment` must be False, True, 'flips' or a dict of augment_pair options. Received: augment={augment!r}"
            )
        augment = bool(augment)
    if bn_momentum is not None:
        bn_momentum = check_real(bn_momentum, "bn_momentum", low=0, high=1, high_inclusive=False)
    if patience is not None:
        patience = check_positive_int(patience, "patience", minimum=0)
    restore_best = check_bool(restore_best, "restore_best")
    if verbose not in ("auto", 0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be one of 'auto', 0, 1, 2. Received: verbose={verbose!r}")
    verbose = 1 if verbose == "auto" else verbose
    weights = None if class_weight is None else check_class_weight(class_weight, num_classes)
    if weights is not None and loss_name in ("dice", "ce+dice"):
        raise ValueError(
            "`class_weight` does not apply to a Dice loss (it has no per-pixel terms). "
            f"Received: class_weight={describe(class_weight)} with loss={loss_name!r}"
        )
    checkpoint = None
    if checkpoint_path is not None:
        checkpoint = Path(checkpoint_path)
        if not (checkpoint.name.endswith(".keras") or checkpoint.name.endswith(".weights.h5")):
            raise ValueError(
                "`checkpoint_path` must end with '.keras' (whole model) or "
                f"'.weights.h5' (weights only). Received: checkpoint_path={str(checkpoint_path)!r}"
            )
    batches = _Batches(train_data, model, batch_size=batch_size, augment=augment, crop_size=crop_size, seed=seed)
    val = None
    if isinstance(val_data, tf.data.Dataset):
        _check_dataset(val_data, model, "val_data")
        if int(val_data.cardinality()) < 0:
            raise ValueError("`val_data` must be a finite dataset. Received: val_data with unknown or infinite length")
        batches_of_val = list(val_data.as_numpy_iterator())
        val_data = (np.concatenate([b[0] for b in batches_of_val]), np.concatenate([b[1] for b in batches_of_val]))
    if val_data is not None:
        val = _check_split(val_data, model, "val_data")
    tile_size = None
    (height, width, _), _ = check_segmentation_model(model)
    if val is not None and None in (height, width) and crop_size is not None:
        tile_size = check_int_pair(crop_size, "crop_size")
    if loss_fn is None:
        loss_key = ("builtin", loss_name)
    else:
        loss_key = getattr(loss_fn, "_seglearn_key", None) or ("callable", id(loss_fn))
    if loss_fn is None:
        loss_fn = segmentation_loss(loss_name, num_classes)

    if bn_momentum is not None:
        for layer in _iter_layers(model, include_models=True):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum
    engine = _engine_for(model)
    step_fn = engine.step(optimizer, loss_fn, weights is not None, weight_decay, loss_key, augment == "flips")
    seed_tensor = tf.constant(seed, tf.int64)
    trainable = _tf_variables(model.trainable_variables)
    non_trainable = _tf_variables(model.non_trainable_variables)
    slots = [[tf.Variable(tf.zeros_like(v), trainable=False) for _ in range(_slot_count(optimizer))] for v in trainable]
    counter = tf.Variable(0, dtype=tf.int64, trainable=False)
    class_weight_tensor = tf.constant(weights if weights is not None else np.ones(num_classes, np.float32))

    total_steps = epochs * batches.steps if (epochs and batches.steps) else None
    if schedule == "cosine" and total_steps is None and time_budget is None:
        raise ValueError(
            "`schedule='cosine'` needs the run's length to lower the step size along it: give "
            "`epochs` with training data of known length, or a `time_budget`, or use "
            f"schedule='constant'. Received: epochs={epochs!r}, time_budget=None and train_data "
            "of unknown length"
        )
    progress = _Progress(verbose, total_steps, time_budget, epochs)
    callback_list = keras.callbacks.CallbackList(list(callbacks), model=model)
    model.stop_training = False
    history: dict = {}
    best, best_weights, waited = float("inf"), None, 0
    steps = images_seen = 0
    first_step = None
    start = time.perf_counter()
    callback_list.on_train_begin()
    epoch = 0
    out_of_time = False
    while (epochs is None or epoch < epochs) and not out_of_time and not model.stop_training:
        callback_list.on_epoch_begin(epoch)
        losses, cms = [], []
        for images, masks in batches:
            elapsed = time.perf_counter() - start
            fraction = progress.fraction(steps, elapsed) if schedule == "cosine" else 0.0
            lr = learning_rate * (1 + math.cos(math.pi * fraction)) / 2 if schedule == "cosine" else learning_rate
            loss_value, cm = step_fn(trainable, non_trainable, slots, counter, tf.constant(lr, tf.float32),
                                     images, masks, class_weight_tensor, seed_tensor)
            losses.append(loss_value)
            cms.append(cm)
            steps += 1
            images_seen += int(images.shape[0])
            if first_step is None:
                loss_value.numpy()
                first_step = time.perf_counter() - start
            elapsed = time.perf_counter() - start
            if time_budget is not None and elapsed >= time_budget:
                out_of_time = True
                break
            progress.step(epoch + 1, steps, elapsed, {})
        if not losses:
            raise ValueError("`train_data` yielded no batch in an epoch. Received: an empty train_data")
        logs = _train_logs(losses, cms, num_classes)
        if not np.isfinite(logs["loss"]):
            raise FloatingPointError(
                f"the training loss became {logs['loss']} in epoch {epoch + 1}: lower `learning_rate` "
                f"(Received: learning_rate={learning_rate})"
            )
        if val is not None:
            logs.update(_validate(model, val, loss_fn, max(batch_size, 16), tile_size, engine))
        logs["lr"] = lr
        logs["seconds"] = time.perf_counter() - start
        for name, value in logs.items():
            history.setdefault(name, []).append(float(value))
        monitored = logs["val_loss" if val is not None else "loss"]
        if monitored < best:
            best, waited = monitored, 0
            if restore_best:
                best_weights = [v.numpy() for v in model.variables]
            if checkpoint is not None:
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                if checkpoint.name.endswith(".weights.h5"):
                    model.save_weights(checkpoint)
                else:
                    model.save(checkpoint)
        else:
            waited += 1
            if patience is not None and waited >= max(patience, 1):
                model.stop_training = True
        progress.epoch_end(epoch + 1, steps, logs["seconds"], logs)
        callback_list.on_epoch_end(epoch, logs)
        epoch += 1
    progress.close()
    if restore_best and best_weights is not None:
        for variable, value in zip(model.variables, best_weights):
            variable.assign(value)
    seconds = time.perf_counter() - start
    callback_list.on_train_end()
    config = dict(
        optimizer=optimizer, learning_rate=learning_rate, schedule=schedule, weight_decay=weight_decay,
        loss=loss_name, class_weight=None if weights is None else weights.tolist(), augment=augment,
        crop_size=crop_size, bn_momentum=bn_momentum, patience=patience, restore_best=restore_best,
        epochs=epochs, time_budget=time_budget, batch_size=batch_size, seed=seed,
    )
    scores = evaluate(model, val[0], val[1], tile_size=tile_size) if val is not None else None
    return TrainingRun(model, history, scores, seconds, first_step, steps, images_seen, config)
