"""Keras models of the course: the seed classifier, an FCN, a U-Net and a reference.

Every segmentation model here maps images of shape ``(N, H, W, C)`` to
per-pixel **logits** of shape ``(N, H, W, num_classes)``: there is no softmax at
the end, so train them with
``keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` (what
:func:`seglearn.training.train` does) and take ``argmax`` over the last axis for
a label map (what :func:`seglearn.inference.predict` does).

- :func:`seed_cnn` is the image classifier the course started from, kept with
  its historical bug behind a flag so that chapter 4 can show the bug.
- :func:`fcn` is a fully convolutional network in the style of FCN-32s: an
  encoder, a 1x1 classifier and one big upsampling step. Its boundaries are
  coarse, which is the point of comparing it with the U-Net.
- :func:`unet` is the U-Net of Ronneberger et al. (2015) with "same" padding:
  an encoder, a decoder and skip connections that carry the fine detail.
- :func:`reference_unet` is the Xception-style U-Net of the Keras example
  "Image segmentation with a U-Net-like architecture", used as the baseline of
  the training benchmark.
- :func:`count_flops` counts the multiply-adds of a model's forward pass.
- :func:`set_trainable` freezes or unfreezes layers by name, for transfer
  learning.

All inputs are checked in :mod:`seglearn._validation`; the messages name the
argument, the rule and the value.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from seglearn._defaults import DEFAULT_UNET_BASE_FILTERS, DEFAULT_UNET_DEPTH
from seglearn._validation import (
    check_bool,
    check_choice,
    check_int_pair,
    check_model,
    check_positive_int,
    check_real,
    describe,
)
from seglearn.datasets import SHAPE_CLASSES

__all__ = [
    "FusedBatchNormalization",
    "count_flops",
    "fcn",
    "reference_unet",
    "seed_cnn",
    "set_trainable",
    "unet",
]

#: Number of classes of the course's shapes data set (background included).
NUM_SHAPE_CLASSES = len(SHAPE_CLASSES)

#: Momentum of the batch-normalisation moving averages. Keras' default 0.99
#: averages over the last ~100 steps, so after a short training (a few hundred
#: steps, as in the course) the statistics used at inference still lag behind
#: the weights and the test scores drop; 0.9 averages over ~10 steps.
BN_MOMENTUM = 0.9

#: What Keras 3 says when the seed classifier's bug is reproduced (captured
#: with Keras 3.15 during the first training step; see :func:`seed_cnn`).
SEED_CNN_BUG_WARNING = (
    "`sparse_categorical_crossentropy` received `from_logits=True`, but the "
    "`output` argument was produced by a Softmax activation and thus does not "
    "represent logits. Was this intended?"
)


# ---------------------------------------------------------------------------
# batch normalisation with TensorFlow's fused kernel
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="seglearn")
class FusedBatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that trains with TensorFlow's fused kernel.

    The same layer, the same weights and the same formulas: in training mode
    each channel ``c`` of a batch ``x`` (N, H, W, C) is normalised with the
    batch's mean and (biased) variance over N, H and W,
    ``y = gamma_c (x - mu_c) / sqrt(var_c + eps) + beta_c``, and the moving
    statistics follow ``mu <- m mu + (1 - m) mu_batch`` (``m`` the momentum).
    The difference is speed: Keras 3 computes this with separate reductions
    and element-wise ops (and their gradients), while
    ``tf.compat.v1.nn.fused_batch_norm`` does it in one kernel forward and one
    backward, as ``tf.keras`` 2 did by default. On a 2-core CPU the default
    U-Net trains about 1.3 times faster with it (``benchmarks/bench_training.py``).
    Inference (the moving statistics), masks, other layouts and non-float32
    inputs use Keras' own code.

    Parameters
    ----------
    **kwargs
        Those of ``keras.layers.BatchNormalization`` (``axis``, ``momentum``,
        ``epsilon``, ``center``, ``scale``, ...), with the same defaults.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(2.0, 3.0, (4, 5, 5, 3)).astype("float32")
    >>> fused, plain = FusedBatchNormalization(momentum=0.9), layers.BatchNormalization(momentum=0.9)
    >>> a, b = fused(x, training=True), plain(x, training=True)
    >>> bool(np.allclose(a, b, atol=1e-5)), bool(np.allclose(fused.moving_variance, plain.moving_variance))
    (True, True)
    >>> bool(np.allclose(fused(x, training=False), plain(x, training=False), atol=1e-5))
    True
    """

    def call(self, inputs, training=None, mask=None):
        # Training only: at inference TensorFlow's remapper would fuse the kernel with the
        # convolution before it and the activation after it, which fails for some
        # activations (tanh: "Fusion is not implemented: [FusedBatchNorm,Tanh]").
        fusable = (
            training and self.trainable and mask is None and len(inputs.shape) == 4 and self.axis in (-1, 3)
            and inputs.dtype == "float32" and not self.renorm
        )
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = self.gamma.value if self.scale else tf.ones(channels)
        offset = self.beta.value if self.center else tf.zeros(channels)
        outputs, mean, variance, *_ = tf.compat.v1.nn.fused_batch_norm(
            inputs, scale, offset, epsilon=self.epsilon, is_training=True
        )
        # The kernel returns the unbiased variance (divided by n - 1); Keras keeps the biased one.
        n = tf.cast(tf.size(inputs) // channels, tf.float32)
        variance = variance * (n - 1.0) / n
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs


# ---------------------------------------------------------------------------
# argument checks shared by the builders
# ---------------------------------------------------------------------------


def _check_input_shape(input_shape, *, divisor: int = 1, allow_none: bool = True):
    """Check ``(H, W, C)``: H and W positive multiples of ``divisor`` (or None)."""
    rule = "must be a tuple (H, W, C) of positive integers"
    if allow_none:
        rule += " (H and W may be None)"
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise TypeError(f"`input_shape` {rule}. Received: input_shape={describe(input_shape)}")
    if len(input_shape) != 3:
        raise ValueError(f"`input_shape` {rule}. Received: input_shape={describe(input_shape)}")
    height, width, channels = input_shape
    spatial = []
    for size in (height, width):
        if size is None and allow_none:
            spatial.append(None)
            continue
        try:
            spatial.append(check_positive_int(size, "input_shape"))
        except (TypeError, ValueError):
            raise ValueError(
                f"`input_shape` {rule}. Received: input_shape={describe(input_shape)}"
            ) from None
        if spatial[-1] % divisor:
            raise ValueError(
                f"`input_shape` must have H and W divisible by {divisor} "
                f"(2**depth, one halving per pooling step). "
                f"Received: input_shape={describe(input_shape)}"
            )
    try:
        channels = check_positive_int(channels, "input_shape")
    except (TypeError, ValueError):
        raise ValueError(
            f"`input_shape` {rule}. Received: input_shape={describe(input_shape)}"
        ) from None
    return (spatial[0], spatial[1], channels)


def _check_odd_kernel(kernel_size) -> int:
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(
            "`kernel_size` must be odd, so that 'same' padding is symmetric. "
            f"Received: kernel_size={kernel_size}"
        )
    return kernel_size


def _check_activation(activation) -> str:
    if not isinstance(activation, str):
        raise TypeError(
            "`activation` must be the name of a Keras activation such as 'relu'. "
            f"Received: activation={describe(activation)}"
        )
    try:
        keras.activations.get(activation)
    except ValueError:
        raise ValueError(
            "`activation` must be the name of a Keras activation such as 'relu'. "
            f"Received: activation={activation!r}"
        ) from None
    return activation


def _check_common(input_shape, num_classes, depth, base_filters, kernel_size,
                  batch_norm, dropout, activation):
    depth = check_positive_int(depth, "depth")
    return dict(
        input_shape=_check_input_shape(input_shape, divisor=2**depth),
        num_classes=check_positive_int(num_classes, "num_classes", minimum=2),
        depth=depth,
        base_filters=check_positive_int(base_filters, "base_filters"),
        kernel_size=_check_odd_kernel(kernel_size),
        batch_norm=check_bool(batch_norm, "batch_norm"),
        dropout=check_real(dropout, "dropout", low=0, high=1, high_inclusive=False),
        activation=_check_activation(activation),
    )


def _conv_block(x, filters, *, kernel_size, activation, batch_norm, dropout, name):
    """Two ``kernel_size`` convolutions ('same' padding), each + BN + activation."""
    for i in (1, 2):
        # A bias before batch normalisation is cancelled by its mean subtraction.
        x = layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=not batch_norm,
            name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            x = FusedBatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{i}")(x)
        x = layers.Activation(activation, name=f"{name}_act{i}")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def _encoder(inputs, *, depth, base_filters, **block):
    """``depth`` blocks of (two convolutions, 2x2 max pooling); returns skips too."""
    x = inputs
    skips = []
    for level in range(depth):
        x = _conv_block(x, base_filters * 2**level, name=f"enc{level}", **block)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    return x, skips


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


def seed_cnn(input_shape=(32, 32, 3), num_classes=10, reproduce_bug=False):
    """The course's seed image classifier, compiled, with or without its bug.

    This is the small CIFAR-10 classifier the course was first built from,
    layer by layer as the source wrote it::

        Conv2D(32, 3x3, relu) -> MaxPool(2) -> Conv2D(64, 3x3, relu) -> MaxPool(2)
        -> Conv2D(64, 3x3, relu) -> Flatten -> Dense(64, relu)
        -> Dense(num_classes, softmax)

    compiled with ``optimizer="adam"`` and ``metrics=["accuracy"]``.

    **The bug.** The source compiled this softmax model with
    ``SparseCategoricalCrossentropy(from_logits=True)``. The loss then applies
    a second softmax to outputs that already are probabilities: the values it
    sees lie in [0, 1], so the softmax over them is nearly uniform, the loss
    stays near ``log(num_classes)`` and its gradients are squashed, so the
    model learns much more slowly (or not at all). Keras 3 notices the softmax
    and warns during the first training step::

        UserWarning: "`sparse_categorical_crossentropy` received
        `from_logits=True`, but the `output` argument was produced by a Softmax
        activation and thus does not represent logits. Was this intended?"

    (the text is kept as :data:`SEED_CNN_BUG_WARNING`). The fix is to pair a
    softmax output with ``from_logits=False`` (the default here) or to drop the
    softmax and keep ``from_logits=True`` (what the segmentation models do).

    Parameters
    ----------
    input_shape : tuple of int (H, W, C)
        Image size; H and W at least 18 so the three valid 3x3 convolutions and
        two poolings leave a feature map. Default CIFAR-10's (32, 32, 3).
    num_classes : int
        Number of classes (units of the last Dense layer), >= 2.
    reproduce_bug : bool
        If True, compile with ``from_logits=True`` as the source did.

    Returns
    -------
    keras.Sequential
        Outputs class probabilities of shape ``(N, num_classes)``.
        Parameter count with the default arguments: 122,570.

    Examples
    --------
    >>> model = seed_cnn()
    >>> model.output_shape
    (None, 10)
    >>> model.loss.get_config()["from_logits"]
    False
    >>> seed_cnn(reproduce_bug=True).loss.get_config()["from_logits"]
    True
    """
    height, width, channels = _check_input_shape(input_shape, allow_none=False)
    if min(height, width) < 18:
        raise ValueError(
            "`input_shape` must have H and W >= 18 (three valid 3x3 convolutions "
            f"and two 2x2 poolings). Received: input_shape={describe(input_shape)}"
        )
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    reproduce_bug = check_bool(reproduce_bug, "reproduce_bug")
    model = keras.Sequential(
        [
            keras.Input((height, width, channels)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="seed_cnn_with_bug" if reproduce_bug else "seed_cnn",
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=reproduce_bug),
        metrics=["accuracy"],
    )
    return model


def fcn(
    input_shape=(64, 64, 3),
    num_classes=NUM_SHAPE_CLASSES,
    *,
    depth=3,
    base_filters=8,
    kernel_size=3,
    activation="relu",
    batch_norm=True,
    dropout=0.0,
    upsampling="transpose",
):
    """A fully convolutional network (FCN-32s style) returning per-pixel logits.

    The encoder has ``depth`` blocks; block ``l`` applies two ``kernel_size``
    convolutions with ``base_filters * 2**l`` filters ('same' padding, each
    followed by batch normalisation if asked and ``activation``) and a 2x2 max
    pooling. A 1x1 convolution then scores each of the ``H / 2**depth`` by
    ``W / 2**depth`` cells, and one upsampling step by the factor
    ``f = 2**depth`` brings the scores back to the input size:

    - ``upsampling="transpose"``: a learned transposed convolution with kernel
      ``2f`` and stride ``f`` (output size ``H_out = f * H_in``, 'same' padding);
    - ``upsampling="resize"``: fixed bilinear interpolation by ``f``.

    Without skip connections every output pixel is decided at the coarse
    resolution, so boundaries are blocky: compare with :func:`unet`.

    Parameters
    ----------
    input_shape : tuple (H, W, C)
        H and W must be divisible by ``2**depth``; they may be None for a model
        that accepts any (divisible) size.
    num_classes : int
        Number of output channels (classes, background included), >= 2.
        Default: the shapes data set's ``len(SHAPE_CLASSES)``.
    depth : int
        Number of pooling steps, >= 1.
    base_filters : int
        Filters of the first block; doubled after each pooling.
    kernel_size : int
        Odd size of the square convolution kernels.
    activation : str
        Keras activation after each convolution.
    batch_norm : bool
        Batch normalisation after each convolution (then the convolutions have
        no bias, which the normalisation would cancel).
    dropout : float in [0, 1)
        Dropout rate after each block (0 disables it).
    upsampling : {"transpose", "resize"}
        How the scores are brought back to full resolution.

    Returns
    -------
    keras.Model
        Maps ``(N, H, W, C)`` images to ``(N, H, W, num_classes)`` logits.
        Parameter count with the default arguments: 25,090.

    Examples
    --------
    >>> model = fcn(input_shape=(32, 32, 3), num_classes=3, depth=2, base_filters=4)
    >>> model.output_shape
    (None, 32, 32, 3)
    >>> fcn(input_shape=(30, 30, 3), depth=2)
    Traceback (most recent call last):
    ...
    ValueError: `input_shape` must have H and W divisible by 4 (2**depth, one halving per pooling step). Received: input_shape=(30, 30, 3)
    """
    cfg = _check_common(input_shape, num_classes, depth, base_filters, kernel_size,
                        batch_norm, dropout, activation)
    upsampling = check_choice(upsampling, "upsampling", ("transpose", "resize"))
    block = {k: cfg[k] for k in ("kernel_size", "activation", "batch_norm", "dropout")}
    factor = 2 ** cfg["depth"]

    inputs = keras.Input(cfg["input_shape"], name="image")
    x, _ = _encoder(inputs, depth=cfg["depth"], base_filters=cfg["base_filters"], **block)
    x = layers.Conv2D(cfg["num_classes"], 1, name="score")(x)
    if upsampling == "transpose":
        logits = layers.Conv2DTranspose(
            cfg["num_classes"], 2 * factor, strides=factor, padding="same", name="logits"
        )(x)
    else:
        logits = layers.UpSampling2D(factor, interpolation="bilinear", name="logits")(x)
    return keras.Model(inputs, logits, name="fcn")


def unet(
    input_shape=(64, 64, 3),
    num_classes=NUM_SHAPE_CLASSES,
    *,
    depth=DEFAULT_UNET_DEPTH,
    base_filters=DEFAULT_UNET_BASE_FILTERS,
    kernel_size=3,
    activation="relu",
    batch_norm=True,
    dropout=0.0,
    upsampling="transpose",
):
    """A U-Net (Ronneberger et al., 2015) with 'same' padding, returning logits.

    The architecture, for ``F = base_filters`` and ``D = depth``::

        encoder level l = 0 .. D-1:  block(F * 2**l)  -> skip_l, 2x2 max pool
        bottleneck:                  block(F * 2**D)
        decoder level l = D-1 .. 0:  up(F * 2**l), concatenate skip_l, block(F * 2**l)
        head:                        1x1 convolution to num_classes logits

    where ``block(n)`` is two ``kernel_size`` convolutions with ``n`` filters,
    each followed by batch normalisation (if ``batch_norm``) and ``activation``,
    then dropout (if ``dropout > 0``); and ``up(n)`` doubles the resolution and
    sets the channels to ``n``:

    - ``upsampling="transpose"``: a 2x2 transposed convolution with stride 2;
    - ``upsampling="resize"``: bilinear 2x resize, then a 1x1 convolution.

    Each pooling halves H and W, so both must be divisible by ``2**depth``. The
    skip connections hand the decoder the encoder's full-resolution features,
    which is why U-Net boundaries are sharp where :func:`fcn`'s are blocky.

    Parameters
    ----------
    input_shape : tuple (H, W, C)
        H and W must be divisible by ``2**depth``; they may be None for a model
        that accepts any (divisible) size, as tiled prediction at a new size
        needs.
    num_classes : int
        Number of output channels (classes, background included), >= 2.
        Default: the shapes data set's ``len(SHAPE_CLASSES)``.
    depth : int
        Number of pooling steps, >= 1.
    base_filters : int
        Filters of the first block; doubled at each level down.
    kernel_size : int
        Odd size of the square convolution kernels.
    activation : str
        Keras activation after each convolution.
    batch_norm : bool
        Batch normalisation after each convolution (then the convolutions have
        no bias, which the normalisation would cancel).
    dropout : float in [0, 1)
        Dropout rate after each block (0 disables it).
    upsampling : {"transpose", "resize"}
        How the decoder doubles the resolution.

    Returns
    -------
    keras.Model
        Maps ``(N, H, W, C)`` images to ``(N, H, W, num_classes)`` logits.
        Parameter count with the default arguments: 121,917; forward pass
        with the default arguments: 73,662,464 FLOPs per image
        (:func:`count_flops`), about 0.22 GFLOP per training example.

    Examples
    --------
    >>> model = unet(input_shape=(32, 32, 1), num_classes=2, depth=2, base_filters=4)
    >>> model.output_shape
    (None, 32, 32, 2)
    >>> unet(depth=0)
    Traceback (most recent call last):
    ...
    ValueError: `depth` must be an integer >= 1. Received: depth=0
    """
    cfg = _check_common(input_shape, num_classes, depth, base_filters, kernel_size,
                        batch_norm, dropout, activation)
    upsampling = check_choice(upsampling, "upsampling", ("transpose", "resize"))
    block = {k: cfg[k] for k in ("kernel_size", "activation", "batch_norm", "dropout")}
    depth, base = cfg["depth"], cfg["base_filters"]

    inputs = keras.Input(cfg["input_shape"], name="image")
    x, skips = _encoder(inputs, depth=depth, base_filters=base, **block)
    x = _conv_block(x, base * 2**depth, name="bottleneck", **block)
    for level in reversed(range(depth)):
        filters = base * 2**level
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"dec{level}_up")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level}_resize")(x)
            x = layers.Conv2D(filters, 1, name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        x = _conv_block(x, filters, name=f"dec{level}", **block)
    logits = layers.Conv2D(cfg["num_classes"], 1, name="logits")(x)
    return keras.Model(inputs, logits, name="unet")


def reference_unet(input_shape=(64, 64, 3), num_classes=NUM_SHAPE_CLASSES):
    """The Keras example's Xception-style U-Net, returning per-pixel logits.

    A faithful copy of ``get_model`` in the Keras example "Image segmentation
    with a U-Net-like architecture" (F. Chollet, keras.io, 2019-2020), used as
    the baseline of ``benchmarks/bench_training.py``:

    - entry: Conv2D(32, 3x3, stride 2) + BN + ReLU;
    - three down blocks with 64, 128, 256 filters: (ReLU, SeparableConv2D 3x3,
      BN) twice, MaxPooling2D(3, strides=2, 'same'), plus the block input
      projected by a 1x1 convolution with stride 2 (residual);
    - four up blocks with 256, 128, 64, 32 filters: (ReLU, Conv2DTranspose 3x3,
      BN) twice, UpSampling2D(2), plus the block input upsampled and projected
      by a 1x1 convolution (residual);
    - head: Conv2D(num_classes, 3x3).

    The one change: the example's head has ``activation="softmax"``; here it
    returns logits like the other segmentation models, so the same loss
    (``from_logits=True``) and the same prediction code apply to all of them.

    Parameters
    ----------
    input_shape : tuple (H, W, C)
        H and W must be divisible by 16 (four halvings); None is allowed.
    num_classes : int
        Number of output channels (classes), >= 2.

    Returns
    -------
    keras.Model
        Maps ``(N, H, W, C)`` images to ``(N, H, W, num_classes)`` logits.
        Parameter count with the default arguments: 2,059,557 (the example's
        model for 3 classes has 2,058,979).

    Examples
    --------
    >>> reference_unet(input_shape=(32, 32, 3), num_classes=3).output_shape
    (None, 32, 32, 3)
    """
    input_shape = _check_input_shape(input_shape, divisor=16)
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)

    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x  # set aside for the residual
    for filters in (64, 128, 256):
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous)
        x = layers.add([x, residual])
        previous = x
    for filters in (256, 128, 64, 32):
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])
        previous = x
    logits = layers.Conv2D(num_classes, 3, padding="same", name="logits")(x)
    return keras.Model(inputs, logits, name="reference_unet")


# ---------------------------------------------------------------------------
# cost
# ---------------------------------------------------------------------------


def count_flops(model, input_size=None) -> int:
    """Floating-point operations of one forward pass of one example.

    Counts the layers that dominate the cost, with one multiply-add = 2 FLOPs:

    - ``Conv2D``: ``2 * H_out * W_out * k_h * k_w * C_in * C_out / groups``;
    - ``Conv2DTranspose``: ``2 * H_in * W_in * k_h * k_w * C_in * C_out``
      (each input pixel scatters one kernel);
    - ``SeparableConv2D``: depthwise ``2 * H_out * W_out * k_h * k_w * C_in * m``
      plus pointwise ``2 * H_out * W_out * C_in * m * C_out``
      (``m`` = depth multiplier);
    - ``DepthwiseConv2D``: ``2 * H_out * W_out * k_h * k_w * C_in * m``;
    - ``Dense``: ``2 * (inputs per example) * units``.

    Biases, batch normalisation, activations, pooling and resizing are
    ignored (they are O(H W C), not O(H W C^2 k^2)). Training costs about three
    forward passes (the backward pass computes two products per layer: the
    gradient with respect to the input and to the weights).

    Parameters
    ----------
    model : keras.Model
        A built model.
    input_size : tuple (H, W), optional
        The image size to count for, required when the model's input size is
        None; ignored otherwise.

    Returns
    -------
    int
        FLOPs per example.

    Examples
    --------
    One 3x3 convolution from 1 to 2 channels on a 4x4 image, 'valid' padding:
    2 x 2 output pixels x 9 taps x 1 x 2 channels x 2 FLOPs = 144.

    >>> model = keras.Sequential([keras.Input((4, 4, 1)), layers.Conv2D(2, 3)])
    >>> count_flops(model)
    144
    """
    check_model(model)
    if None in tuple(model.input_shape[1:3]):
        if input_size is None:
            raise ValueError(
                "`input_size` is required for a model whose input size is None. "
                f"Received: input_size=None with model.input_shape={model.input_shape}"
            )
        model = _rebuild_at_size(model, check_int_pair(input_size, "input_size"))
    return sum(_layer_flops(layer) for layer in _iter_layers(model))


def _rebuild_at_size(model, size):
    """A copy of ``model`` (same architecture, new weights) for ``size`` inputs."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], *size, shape[-1]]
    return model.__class__.from_config(config)


def _model_input(model):
    """The model's input tensor (Sequential models have no ``.input`` before a call)."""
    inputs = model.inputs
    return inputs[0] if len(inputs) == 1 else inputs


def _iter_layers(model, *, include_models=False):
    """Every layer of ``model`` in order, descending into nested models.

    The one walk over nested layers: the FLOP and memory counts want the leaves
    only; ``include_models=True`` also yields each nested model before its
    layers (the training engine's graph key and its batch-norm momentum).
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            if include_models:
                yield layer
            yield from _iter_layers(layer, include_models=include_models)
        else:
            yield layer


def _layer_flops(layer) -> int:
    def prod(values):
        out = 1
        for v in values:
            out *= int(v)
        return out

    if isinstance(layer, layers.SeparableConv2D):
        _, h, w, c_out = layer.output.shape
        c_in = layer.input.shape[-1]
        kh, kw = layer.kernel_size
        m = layer.depth_multiplier
        return 2 * h * w * (kh * kw * c_in * m + c_in * m * c_out)
    if isinstance(layer, layers.DepthwiseConv2D):
        _, h, w, _ = layer.output.shape
        c_in = layer.input.shape[-1]
        kh, kw = layer.kernel_size
        return 2 * h * w * kh * kw * c_in * layer.depth_multiplier
    if isinstance(layer, layers.Conv2DTranspose):
        _, h, w, c_in = layer.input.shape
        kh, kw = layer.kernel_size
        return 2 * h * w * kh * kw * c_in * layer.filters
    if isinstance(layer, layers.Conv2D):
        _, h, w, c_out = layer.output.shape
        c_in = layer.input.shape[-1]
        kh, kw = layer.kernel_size
        return 2 * h * w * kh * kw * c_in * c_out // layer.groups
    if isinstance(layer, layers.Dense):
        return 2 * prod(layer.input.shape[1:]) * layer.units
    return 0


# ---------------------------------------------------------------------------
# transfer learning
# ---------------------------------------------------------------------------


def set_trainable(model, prefixes, trainable):
    """Freeze or unfreeze the layers whose names start with one of ``prefixes``.

    For the course U-Net ``prefixes=("enc",)`` selects the encoder
    (``enc0_conv1``, ``enc0_bn1``, ...) and ``("enc", "bottleneck")`` adds the
    bottleneck. A frozen batch-normalisation layer also stops updating its
    statistics (Keras 3 runs it in inference mode). Recompile the model
    afterwards, as Keras requires.

    Parameters
    ----------
    model : keras.Model
    prefixes : str or sequence of str
    trainable : bool

    Returns
    -------
    list of str
        Names of the layers changed.
    """
    check_model(model)
    trainable = check_bool(trainable, "trainable")
    if isinstance(prefixes, str):
        prefixes = (prefixes,)
    prefixes = tuple(prefixes)
    if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
        raise ValueError(
            "`prefixes` must be a non-empty string or sequence of non-empty strings. "
            f"Received: prefixes={describe(prefixes)}"
        )
    changed = [layer for layer in model.layers if layer.name.startswith(prefixes)]
    if not changed:
        raise ValueError(
            f"`prefixes` must match at least one layer name. Received: prefixes={prefixes!r}"
        )
    for layer in changed:
        layer.trainable = trainable
    return [layer.name for layer in changed]
