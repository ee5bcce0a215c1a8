"""The course's training engine: one traced step and forward pass per architecture.

:func:`seglearn.training.train` and :func:`seglearn.inference.predict` run every
model through an :class:`_Engine`. Its step and forward pass are ``tf.function`` s
that take the model's variables as arguments, so the graph traced for the first
model of an architecture serves every later model of the same shapes (a second
seed, another learning rate) without tracing again. Here too: the fused
optimiser updates the step applies, the weighted mean loss and
:func:`random_symmetries`, the step's augmentation.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict

import keras
import numpy as np
import tensorflow as tf

from seglearn.models import _iter_layers

__all__ = ["random_symmetries"]


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
    every label stays on its pixel. Used inside :func:`seglearn.training.train`'s step
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


class _ConcreteCalls:
    """A ``tf.function`` called through the concrete function of its arguments' shapes.

    Calling a ``tf.function`` works out the trace type of every argument on
    every call; with the step's 100-200 variables that takes several
    milliseconds, as long as a small model's whole step. Here it happens once
    per shape of the tensor arguments (the variables' shapes are the
    architecture's, fixed); later calls go straight to the traced graph.
    With ``any_batch=True`` the first axis of every tensor argument is left
    free: one graph serves every batch size.
    """

    def __init__(self, function, *, any_batch=False):
        self.function = function
        self.any_batch = any_batch
        self._concrete = {}

    def _spec(self, tensor):
        shape = tensor.shape.as_list()
        if self.any_batch and shape:
            shape[0] = None
        return tf.TensorSpec(shape, tensor.dtype)

    def __call__(self, *args):
        specs = [self._spec(a) if isinstance(a, tf.Tensor) else a for a in args]
        key = tuple(spec for spec in specs if isinstance(spec, tf.TensorSpec))
        if key not in self._concrete:
            self._concrete[key] = self.function.get_concrete_function(*specs)
        return self._concrete[key](*args)

    def experimental_get_tracing_count(self):
        return self.function.experimental_get_tracing_count()


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
        # traced once per image size, for any batch size: validation, predict
        # and evaluate share one graph whatever their batches
        self.forward = _ConcreteCalls(tf.function(self._forward), any_batch=True)

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
            self._steps[key] = (_ConcreteCalls(tf.function(step)), loss_fn)
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


def _engine_for(model) -> _Engine:
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


def _forward_logits(model, images, batch_size, engine) -> np.ndarray:
    """Logits of ``images`` (N, H, W, C) in equal batches of at most ``batch_size``.

    ``engine`` is ``_engine_for(model)``, which the caller looks up once for
    all its calls (tiling calls this per image; the lookup reads the model's
    whole config).
    """
    trainable = _tf_variables(model.trainable_variables)
    non_trainable = _tf_variables(model.non_trainable_variables)
    batch = math.ceil(len(images) / math.ceil(len(images) / batch_size))  # equal batches
    out = [
        engine.forward(trainable, non_trainable, tf.constant(images[start : start + batch])).numpy()
        for start in range(0, len(images), batch)
    ]
    return np.concatenate(out)
