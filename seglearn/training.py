"""Train, evaluate, apply, save and load segmentation models.

The functions here wrap Keras so that a notebook needs one call per step:

- :func:`train` is the course's one training loop (chapters, FAQ
  experiments, capstone, command line, benchmarks): any of five optimisers,
  four losses, class weights, augmentation, random crops, a cosine schedule
  over epochs or a time budget, validation after every epoch, the best
  epoch's weights restored, a progress bar with the ETA. Its step is traced
  once per architecture and reused by every later model of the same shapes
  (see :class:`_Engine`), so that comparing seeds or settings costs no
  tracing;
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
import re
import time
import zipfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from seglearn import metrics
from seglearn.models import _iter_layers
from seglearn._imageio import to_unit_float
from seglearn._defaults import DEFAULT_AUGMENT, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE  # noqa: F401 (the recipe, re-exported)
from seglearn._validation import (
    check_array,
    check_bool,
    check_choice,
    check_class_weight,
    check_crop_size,
    check_images,
    check_int_pair,
    check_labels,
    check_masks,
    check_model,
    check_positive_int,
    check_real,
    check_seed,
    describe,
)

__all__ = [
    "LOSSES",
    "ModelInfo",
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainingRun",
    "evaluate",
    "random_symmetries",
    "load_model",
    "predict",
    "save_model",
    "segmentation_loss",
    "train",
]


#: Name of the metadata member inside a saved ``.keras`` archive.
METADATA_NAME = "seglearn.json"
_FORMAT = "seglearn-model"
_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------
# checks against a model
# ---------------------------------------------------------------------------


def _check_model(model) -> tuple[tuple, int]:
    """Check a segmentation model; return its input shape (H, W, C) and K."""
    check_model(model)
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
    images = check_images(images, name)
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
    masks = check_masks(masks, images.shape, masks_name, images_name)
    masks = check_labels(masks, masks_name, _num_classes(model))
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


def _mean_loss(loss_fn, y, logits, weights):
    """The scalar training loss: the mean of per-pixel losses times their weights."""
    if isinstance(loss_fn, keras.losses.Loss):
        return loss_fn(y, logits, sample_weight=weights)
    value = loss_fn(y, logits)
    if weights is not None:
        value = value * weights
    return tf.reduce_mean(value)


def _slot_count(optimizer: str) -> int:
    return {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 2, "adam": 2}[optimizer]


def _apply_update(optimizer, variables, grads, slots, lr, step, weight_decay):
    """One optimiser step with TensorFlow's fused kernels (one op per variable).

    ``slots[i]`` holds variable ``i``'s state (Adam's two moments, the
    momentum, RMSprop's mean square); ``step`` is the 1-based step number.
    Decoupled weight decay (AdamW's) shrinks each weight first:
    ``w <- w - lr * weight_decay * w``.
    """
    t = tf.cast(step, tf.float32)
    for i, (var, grad) in enumerate(zip(variables, grads)):
        if weight_decay:
            var.assign_sub(lr * weight_decay * var)
        if optimizer == "sgd":
            tf.raw_ops.ResourceApplyGradientDescent(var=var.handle, alpha=lr, delta=grad)
        elif optimizer in ("momentum", "nesterov"):
            tf.raw_ops.ResourceApplyKerasMomentum(
                var=var.handle, accum=slots[i][0].handle, lr=lr, grad=grad, momentum=0.9,
                use_nesterov=optimizer == "nesterov",
            )
        elif optimizer == "rmsprop":
            tf.raw_ops.ResourceApplyRMSProp(
                var=var.handle, ms=slots[i][0].handle, mom=slots[i][1].handle, lr=lr, rho=0.9,
                momentum=0.0, epsilon=1e-7, grad=grad,
            )
        else:
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=slots[i][0].handle, v=slots[i][1].handle,
                beta1_power=0.9**t, beta2_power=0.999**t, lr=lr, beta1=0.9, beta2=0.999,
                epsilon=1e-7, grad=grad,
            )


def random_symmetries(images, masks, seed):
    """Each image and its mask turned by one of the 8 symmetries of the square, at random.

    Per image ``b``, three fair coins ``t, v, h`` (stateless, from ``seed``)
    choose: transpose (swap the H and W axes; square images only), then flip
    upside down, then flip left-right. Together they reach the 4 rotations by
    90 degrees and their 4 mirror images, each with probability 1/8 (1/4 of
    the 4 flips for non-square images). Image and mask move together, so
    every label stays on its pixel. Used inside :func:`train`'s step
    (``augment="flips"``): a few cheap tensor ops per batch, no input
    pipeline.

    Parameters
    ----------
    images : float tensor of shape (B, H, W, C)
    masks : int tensor of shape (B, H, W)
    seed : int tensor of shape (2,)
        Seed of the stateless random draws (same seed, same choices).

    Returns
    -------
    images, masks : tensors of the same shapes and dtypes

    Examples
    --------
    >>> x = tf.reshape(tf.range(8, dtype=tf.float32), (2, 2, 2, 1))
    >>> y = tf.cast(tf.reshape(tf.range(8), (2, 2, 2)), tf.int32)
    >>> x2, y2 = random_symmetries(x, y, tf.constant([0, 1], tf.int64))
    >>> bool(np.array_equal(x2.numpy()[..., 0], y2.numpy()))  # moved together
    True
    """
    images, masks = tf.convert_to_tensor(images), tf.convert_to_tensor(masks)
    coins = tf.random.stateless_uniform([tf.shape(images)[0], 3], tf.cast(seed, tf.int64)) < 0.5

    def choose(coin, changed, x):
        return tf.where(tf.reshape(coin, [-1] + [1] * (len(x.shape) - 1)), changed, x)

    square = images.shape[1] is not None and images.shape[1] == images.shape[2]
    if square:
        images = choose(coins[:, 0], tf.transpose(images, [0, 2, 1, 3]), images)
        masks = choose(coins[:, 0], tf.transpose(masks, [0, 2, 1]), masks)
    for coin, axis in ((coins[:, 1], 1), (coins[:, 2], 2)):
        images = choose(coin, tf.reverse(images, [axis]), images)
        masks = choose(coin, tf.reverse(masks, [axis]), masks)
    return images, masks


# ---------------------------------------------------------------------------
# the engine: one traced step per architecture, shared by every model of it
# ---------------------------------------------------------------------------


def _tf_variables(variables):
    """The ``tf.Variable`` behind each Keras variable."""
    return [v.value if isinstance(getattr(v, "value", None), tf.Variable) else v for v in variables]


def _architecture_key(model):
    """What a traced step depends on: the model's structure, not its names or values.

    Two models built by the same code (``unet()`` twice) get the same key,
    whatever names Keras gave their layers; the key changes with any layer
    setting (filters, momentum, trainable, dropout rate, ...) and with the
    shape, dtype and trainability of any variable.
    """
    try:
        text = json.dumps(model.get_config(), sort_keys=True, default=repr)
    except (NotImplementedError, TypeError):
        return ("model", id(model))
    index = {layer.name: i for i, layer in enumerate(_iter_layers(model, include_models=True))}
    index[model.name] = -1
    text = re.sub(r'"([^"]*)"', lambda m: f'"#{index[m[1]]}"' if m[1] in index else m[0], text)
    variables = tuple((tuple(v.shape), str(v.dtype), bool(v.trainable)) for v in model.variables)
    return (type(model).__name__, text, variables)


class _Engine:
    """The traced training step and forward pass of one architecture.

    Both are ``tf.function`` s that take the variables of the model to train
    as arguments and run ``template.stateless_call`` on them, so that the
    graph traced for the first model of an architecture serves every later
    model of it: training a second, third, ... model of the same shapes costs
    no tracing at all. Keras' own ``model.fit`` traces a new step (and a new
    validation and prediction step) for every model.
    """

    def __init__(self, template):
        self.template = template
        self.num_classes = int(template.output_shape[-1])
        self._steps = {}
        self.forward = tf.function(self._forward)

    def _forward(self, trainable, non_trainable, images):
        values = [v.read_value() for v in trainable]
        logits, _ = self.template.stateless_call(values, [v.read_value() for v in non_trainable], images, training=False)
        return tf.cast(logits, tf.float32)

    def step(self, optimizer, loss_fn, weighted, weight_decay, loss_key, symmetries=False):
        """The training step for these settings, traced on first use.

        ``loss_key`` identifies the loss: its name for the built-in ones
        (a new but equal loss function then reuses the step), else the
        function's ``id``.
        """
        key = (optimizer, loss_key, weighted, weight_decay, symmetries)
        if key not in self._steps:
            step = self._make_step(optimizer, loss_fn, weighted, weight_decay, symmetries)
            self._steps[key] = (tf.function(step), loss_fn)
        return self._steps[key][0]

    def _make_step(self, optimizer, loss_fn, weighted, weight_decay, symmetries):
        template, k = self.template, self.num_classes

        def step(trainable, non_trainable, slots, counter, lr, images, masks, class_weight, seed):
            if symmetries:
                images, masks = random_symmetries(images, masks, tf.stack([seed, counter.read_value()]))
            values = [v.read_value() for v in trainable]
            with tf.GradientTape() as tape:
                tape.watch(values)
                logits, updated = template.stateless_call(
                    values, [v.read_value() for v in non_trainable], images, training=True
                )
                logits = tf.cast(logits, tf.float32)
                weights = tf.gather(class_weight, masks) if weighted else None
                loss = _mean_loss(loss_fn, masks, logits, weights)
            grads = tape.gradient(loss, values)
            for var, value in zip(non_trainable, updated):
                var.assign(value)
            _apply_update(optimizer, trainable, grads, slots, lr, counter.assign_add(1), weight_decay)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            cm = tf.math.bincount(tf.reshape(masks * k + predicted, [-1]), minlength=k * k, maxlength=k * k)
            return loss, cm

        return step


_ENGINES: OrderedDict = OrderedDict()
_MAX_ENGINES = 16


def _engine(model) -> _Engine:
    """The engine of ``model``'s architecture (the last 16 kept)."""
    key = _architecture_key(model)
    if key in _ENGINES:
        _ENGINES.move_to_end(key)
    else:
        # A private copy, so that changing the model later (freezing layers, say)
        # cannot change what the engine traces for the models of this key.
        try:
            template = keras.models.clone_model(model)
        except (ValueError, TypeError, NotImplementedError):
            template = model  # a subclassed model without get_config: its key is its id anyway
        _ENGINES[key] = _Engine(template)
        while len(_ENGINES) > _MAX_ENGINES:
            _ENGINES.popitem(last=False)
    return _ENGINES[key]


def _forward_logits(model, images, batch_size) -> np.ndarray:
    """Logits of ``images`` (N, H, W, C) in equal batches of at most ``batch_size``.

    The last batch is padded with zeros (and the padding's logits dropped) so
    that one traced graph serves every batch.
    """
    engine = _engine(model)
    trainable = _tf_variables(model.trainable_variables)
    non_trainable = _tf_variables(model.non_trainable_variables)
    batch = math.ceil(len(images) / math.ceil(len(images) / batch_size))  # equal batches: little padding
    out = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        if len(chunk) < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), chunk.dtype)])
        out.append(engine.forward(trainable, non_trainable, tf.constant(chunk)).numpy())
    return np.concatenate(out)[: len(images)]


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------


def _check_dataset(dataset, model, name):
    """Check that a tf.data.Dataset yields (images, masks) batches for ``model``."""
    (_, _, channels), _ = _check_model(model)
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
        (height, width, _), _ = _check_model(model)
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


def _validate(model, val, loss_fn, batch_size, tile_size):
    """Validation loss, pixel accuracy and mean IoU of ``model`` on ``val``."""
    images, masks = val
    logits = _predict_logits(model, images, tile_size=tile_size, overlap=None, batch_size=batch_size)
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
    _, num_classes = _check_model(model)
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
    (height, width, _), _ = _check_model(model)
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
    engine = _engine(model)
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
            logs.update(_validate(model, val, loss_fn, max(batch_size, 16), tile_size))
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
    logits = _forward_logits(model, tiles, batch_size)
    k = logits.shape[-1]
    centres = logits.reshape(ny, nx, th, tw, k)[:, :, mh : mh + sh, mw : mw + sw]
    return centres.transpose(0, 2, 1, 3, 4).reshape(ny * sh, nx * sw, k)[:height, :width]


def _predict_logits(model, images, *, tile_size, overlap, batch_size) -> np.ndarray:
    """Logits (N, H, W, K) of checked images (N, H, W, C); tiles them when needed (see :func:`predict`)."""
    (height, width, _), _ = _check_model(model)
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
            logits = _forward_logits(model, images, batch_size)
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
            [_tiled_logits(model, image, tile, overlap, batch_size) for image in images]
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
    (height, width, _), num_classes = _check_model(model)
    if num_classes > 256:
        raise ValueError(f"`model` must have at most 256 classes for uint8 labels. Received: {num_classes}")
    single = np.ndim(images) == 3
    images = _check_images(images[None] if single else images, model)
    batch_size = check_positive_int(batch_size, "batch_size")
    return_probabilities = check_bool(return_probabilities, "return_probabilities")
    logits = _predict_logits(model, images, tile_size=tile_size, overlap=overlap, batch_size=batch_size)
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
        """Scale images to ``[0, 1]`` (uint8 / 255, uint16 / 65535) and apply the normalisation.

        Parameters
        ----------
        images : ndarray of shape (..., H, W, channels)
            uint8 or uint16 images, or float images in ``[0, 1]``.

        Returns
        -------
        ndarray, float32, same shape
        """
        images = np.asarray(images)
        if images.dtype.kind == "u":
            images = to_unit_float(images)
        images = check_array(images, "images", ndim=(3, 4), layout="(N, H, W, C)", dtype=np.float32)
        if images.shape[-1] != self.channels:
            raise ValueError(
                f"`images` must have {self.channels} channels, as the model's input. "
                f"Received: images={describe(images)}"
            )
        mean = np.asarray(self.normalisation["mean"], dtype=np.float32)
        std = np.asarray(self.normalisation["std"], dtype=np.float32)
        return ((images - mean) / std).astype(np.float32)

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
    model = keras.models.load_model(path, compile=False, safe_mode=True)  # never run code from the file
    _check_info(model, info, str(path))
    return model, info
