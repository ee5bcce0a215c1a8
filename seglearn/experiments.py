"""Small experiment helpers for the FAQ chapters and the capstone.

The FAQ chapters (07-09) answer practical questions with small experiments on
the course data. The pieces they share live here so that no notebook defines
them twice:

- :func:`quick_train` trains a model for an experiment (any optimiser, loss,
  weight decay, augmentation, with or without early stopping) and scores it
  on the validation set; :func:`keras_loss` gives the Keras form of the
  course's losses (Dice, focal) for sparse label maps;
- :func:`corrupt` applies test-time corruptions (noise, blur, brightness) of a
  given severity, for robustness curves;
- :func:`random_crops` cuts training windows out of larger images;
- :func:`distance_to_border`, :func:`border_centre_error` and
  :func:`error_by_border_distance` measure where the errors are, for the
  boundary-effect experiments;
- :func:`activation_memory` and :func:`training_memory` estimate memory from
  the layer output shapes (FLOPs are :func:`seglearn.models.count_flops`);
- :func:`tflite_convert` and :func:`tflite_predict` convert a Keras model to
  TensorFlow Lite (float, dynamic-range or full-integer int8) and run it;
- :func:`time_call` times a function (median of repeats);
- :func:`feature_maps`, :func:`grad_cam` and :func:`pixel_confidence` look
  inside a trained model;
- :func:`set_trainable` freezes or unfreezes layers by name, for transfer
  learning;
- :func:`format_table` prints result tables and :func:`plot_runs` draws the
  learning curves of several runs side by side.

Like the other NumPy modules, importing this one does not import TensorFlow:
the functions that need it import it when called.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    check_array,
    check_bool,
    check_choice,
    check_int,
    check_int_pair,
    check_positive_int,
    check_real,
    check_same_shape,
    describe,
)

__all__ = [
    "CORRUPTIONS",
    "LOSSES",
    "OPTIMIZERS",
    "QuickRun",
    "TFLITE_MODES",
    "activation_memory",
    "border_centre_error",
    "corrupt",
    "distance_to_border",
    "error_by_border_distance",
    "feature_maps",
    "format_table",
    "grad_cam",
    "keras_loss",
    "pixel_confidence",
    "plot_runs",
    "quick_train",
    "random_crops",
    "set_trainable",
    "time_call",
    "tflite_convert",
    "tflite_predict",
    "training_memory",
]

#: The corruptions :func:`corrupt` knows, with what one unit of severity means.
CORRUPTIONS = {
    "noise": "additive Gaussian noise, standard deviation 0.04 * severity",
    "blur": "Gaussian blur, standard deviation 0.5 * severity pixels",
    "brightness": "brightness shift, + 0.1 * severity",
}


#: Loss names understood by :func:`keras_loss` and :func:`quick_train`.
LOSSES = ("ce", "dice", "focal", "ce+dice")

#: Optimiser names understood by :func:`quick_train`.
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def _check_images(images, name="images"):
    arr = check_array(images, name, ndim=4, layout="(N, H, W, C)")
    return arr.astype(np.float32, copy=False)


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
    x = _check_images(images)
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
    masks = check_array(masks, "masks", ndim=3, layout="(N, H, W)", kind="integer")
    if masks.shape != images.shape[:3]:
        raise ValueError(
            f"`masks` must have shape (N, H, W) = {images.shape[:3]} to match `images`. "
            f"Received: masks={describe(masks)}"
        )
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
# memory
# ---------------------------------------------------------------------------


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={describe(model)}")
    return model


def _model_input(model):
    """The model's input tensor (Sequential models have no ``.input`` before a call)."""
    inputs = model.inputs
    return inputs[0] if len(inputs) == 1 else inputs


def _output_shapes(model, input_size):
    """Per-example output shape of every layer of ``model`` (nested models flattened)."""
    import keras

    _check_model(model)
    shape = tuple(model.input_shape[1:])
    if input_size is not None:
        height, width = check_int_pair(input_size, "input_size")
        if shape[:2] != (None, None) and shape[:2] != (height, width):
            raise ValueError(
                "`input_size` must match a model built for a fixed size (build one "
                "with input_shape=(None, None, C) to vary it). "
                f"Received: input_size={input_size!r} with model.input_shape={model.input_shape}"
            )
        shape = (height, width, *shape[2:])
    if any(s is None for s in shape):
        raise ValueError(
            "`input_size` is required for a model whose input size is None. "
            f"Received: input_size=None with model.input_shape={model.input_shape}"
        )
    layers = []

    def walk(m):
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                walk(layer)
            elif not isinstance(layer, keras.layers.InputLayer):
                layers.append(layer)

    walk(model)
    # One symbolic pass at the requested size: no arithmetic is done.
    probe = keras.Model(_model_input(model), [layer.output for layer in layers])
    specs = probe.compute_output_spec(keras.KerasTensor((1, *shape)))
    if not isinstance(specs, (list, tuple)):
        specs = [specs]
    return shape, [(layer.name, tuple(spec.shape[1:])) for layer, spec in zip(layers, specs)]


def activation_memory(model, input_size=None, batch_size=1, *, bytes_per_value=4):
    """Bytes of activations a training step keeps for the backward pass.

    Backpropagation needs every layer's output, so the estimate is

    ``memory = batch_size * bytes_per_value * (H * W * C_in + sum_layers prod(output_shape))``

    (input included). It grows linearly with the batch size and with the
    number of pixels ``H * W``. Real frameworks fuse some layers and keep some
    extra buffers, so read it as an order of magnitude.

    Parameters
    ----------
    model : keras.Model
        A built (functional or sequential) model.
    input_size : tuple (H, W), optional
        Image size to estimate for; required when the model's input size is
        None (``input_shape=(None, None, C)``), and must equal it otherwise.
    batch_size : int
        Images per step.
    bytes_per_value : int
        4 for float32, 2 for float16.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same")])
    >>> activation_memory(model, batch_size=10)  # 10 * 4 * (8*8*1 + 8*8*2)
    7680
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    bytes_per_value = check_positive_int(bytes_per_value, "bytes_per_value")
    shape, outputs = _output_shapes(model, input_size)
    values = int(np.prod(shape)) + sum(int(np.prod(s)) for _, s in outputs)
    return batch_size * bytes_per_value * values


def training_memory(model, input_size=None, batch_size=1, *, optimizer_slots=2, bytes_per_value=4):
    """Estimated memory of one training step, by part.

    - ``weights``: ``P * b`` for ``P`` parameters of ``b`` bytes;
    - ``gradients``: ``P * b`` (one gradient per trainable weight);
    - ``optimizer``: ``optimizer_slots * P * b`` (Adam keeps two moments,
      SGD with momentum one, plain SGD none);
    - ``activations``: :func:`activation_memory`;
    - ``total``: the sum.

    Parameters
    ----------
    model : keras.Model
    input_size : tuple (H, W), optional
    batch_size : int
    optimizer_slots : int >= 0
        Values the optimiser stores per weight.
    bytes_per_value : int

    Returns
    -------
    dict of str to int
        Bytes per part.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same")])
    >>> training_memory(model, batch_size=10)  # P = 3*3*1*2 + 2 = 20 parameters
    {'weights': 80, 'gradients': 80, 'optimizer': 160, 'activations': 7680, 'total': 8000}
    """
    _check_model(model)
    optimizer_slots = check_positive_int(optimizer_slots, "optimizer_slots", minimum=0)
    bytes_per_value = check_positive_int(bytes_per_value, "bytes_per_value")
    acts = activation_memory(model, input_size, batch_size, bytes_per_value=bytes_per_value)
    params = int(model.count_params())
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    parts = {
        "weights": params * bytes_per_value,
        "gradients": trainable * bytes_per_value,
        "optimizer": optimizer_slots * trainable * bytes_per_value,
        "activations": acts,
    }
    parts["total"] = sum(parts.values())
    return parts


# ---------------------------------------------------------------------------
# TensorFlow Lite
# ---------------------------------------------------------------------------

TFLITE_MODES = ("float", "dynamic", "int8")


@contextlib.contextmanager
def _quiet():
    """Silence Python warnings, TensorFlow's Python logger and C++ stdout/stderr.

    The TFLite converter and interpreter print progress notes from C++
    straight to the process's file descriptors 1 and 2 (which Jupyter shows);
    they are pointed at ``os.devnull`` for the duration and restored after.
    """
    import logging

    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = []
    try:
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        tf_logger.setLevel(level)


def tflite_convert(model, mode="float", representative_data=None, *, num_calibration=64):
    """Convert a Keras model to a TensorFlow Lite flatbuffer.

    - ``"float"``: float32 weights and arithmetic, no quantisation;
    - ``"dynamic"``: dynamic-range quantisation: weights stored as int8
      (about 4x smaller), activations quantised on the fly at run time; the
      converter leaves small weight tensors (under 1024 values) in float;
    - ``"int8"``: full-integer quantisation: weights and activations int8,
      also the model's input and output. Each activation tensor gets a scale
      ``s`` and zero point ``z`` (``real = s * (q - z)``) calibrated on
      ``representative_data``, which must look like the real inputs.

    Uses ``tf.lite.TFLiteConverter.from_keras_model`` (TensorFlow 2.21); the
    converter's console chatter (Python and C++) is silenced.

    Parameters
    ----------
    model : keras.Model
        The trained model; its input size must be fixed (not None).
    mode : {"float", "dynamic", "int8"}
        Quantisation mode.
    representative_data : float ndarray of shape (N, H, W, C), optional
        Calibration images; required for ``"int8"``.
    num_calibration : int
        Use at most this many calibration images.

    Returns
    -------
    bytes
        The ``.tflite`` model; ``len()`` of it is the file size.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    >>> tflite_convert(model, "int8")
    Traceback (most recent call last):
    ...
    ValueError: `representative_data` is required for mode='int8' (calibration images of shape (N, H, W, C)). Received: representative_data=None
    """
    import tensorflow as tf

    _check_model(model)
    mode = check_choice(mode, "mode", TFLITE_MODES)
    num_calibration = check_positive_int(num_calibration, "num_calibration")
    if any(s is None for s in model.input_shape[1:]):
        raise ValueError(
            "`model` must have a fixed input size for TensorFlow Lite. "
            f"Received: model.input_shape={model.input_shape}"
        )
    if mode == "int8":
        if representative_data is None:
            raise ValueError(
                "`representative_data` is required for mode='int8' (calibration "
                "images of shape (N, H, W, C)). Received: representative_data=None"
            )
        calib = _check_images(representative_data, "representative_data")[:num_calibration]
        if calib.shape[1:] != tuple(model.input_shape[1:]):
            raise ValueError(
                f"`representative_data` images must have the model's input shape "
                f"{tuple(model.input_shape[1:])}. Received: representative_data={describe(calib)}"
            )

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":

        def representative_dataset():
            for image in calib:
                yield [image[None]]

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    # The converter exports a SavedModel first and prints where, and reports
    # from C++; keep the notebooks' output readable.
    with _quiet():
        return converter.convert()


def _interpreter(model_content):
    """A TFLite interpreter: ``ai_edge_litert`` if installed, else ``tf.lite``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ModuleNotFoundError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # deprecated in favour of ai_edge_litert
    with _quiet():
        return Interpreter(model_content=model_content)


def tflite_predict(model_content, images):
    """Run a TensorFlow Lite model on a batch and return float outputs.

    For a full-integer model the images are quantised with the input tensor's
    scale ``s`` and zero point ``z`` (``q = clip(round(x / s) + z, -128, 127)``)
    and the int8 outputs are dequantised (``y = s_out * (q - z_out)``), so every
    mode returns comparable float logits.

    Parameters
    ----------
    model_content : bytes
        A model from :func:`tflite_convert`.
    images : float ndarray of shape (N, H, W, C)

    Returns
    -------
    float32 ndarray
        The model's output for the batch, e.g. logits of shape
        ``(N, H, W, num_classes)``.
    """
    if not isinstance(model_content, (bytes, bytearray)):
        raise TypeError(
            "`model_content` must be the bytes returned by tflite_convert. "
            f"Received: model_content={describe(model_content)}"
        )
    x = _check_images(images)
    interpreter = _interpreter(bytes(model_content))
    inp = interpreter.get_input_details()[0]
    if tuple(inp["shape"][1:]) != x.shape[1:]:
        raise ValueError(
            f"`images` must have the model's input shape {tuple(int(s) for s in inp['shape'][1:])}. "
            f"Received: images={describe(x)}"
        )
    interpreter.resize_tensor_input(inp["index"], x.shape)
    with _quiet():  # the XNNPACK delegate announces itself here
        interpreter.allocate_tensors()
    out = interpreter.get_output_details()[0]
    if inp["dtype"] == np.int8:
        scale, zero = inp["quantization"]
        x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        scale, zero = out["quantization"]
        y = scale * (y.astype(np.float32) - zero)
    return np.asarray(y, dtype=np.float32)


# ---------------------------------------------------------------------------
# timing and tables
# ---------------------------------------------------------------------------


def time_call(fn, *args, repeat=5, warmup=1, **kwargs):
    """Median wall-clock seconds of ``fn(*args, **kwargs)``.

    ``warmup`` untimed calls come first (tracing, caches), then ``repeat``
    timed ones; the median is robust to a busy machine's outliers.

    Parameters
    ----------
    fn : callable
    *args, **kwargs
        Passed to ``fn``.
    repeat : int >= 1
    warmup : int >= 0

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> time_call(sum, [1, 2, 3]) >= 0
    True
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable. Received: fn={describe(fn)}")
    repeat = check_positive_int(repeat, "repeat")
    warmup = check_positive_int(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        fn(*args, **kwargs)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def format_table(rows, headers, *, floatfmt=".3f"):
    """Format rows as a plain-text table with aligned columns.

    Parameters
    ----------
    rows : sequence of sequences
        One sequence of cells per row, as many cells as ``headers``.
    headers : sequence of str
    floatfmt : str
        Format spec for float cells.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table([("relu", 0.91234), ("tanh", 0.8)], ["activation", "IoU"]))
    activation  IoU
    ----------  -----
    relu        0.912
    tanh        0.800
    """
    headers = [str(h) for h in headers]

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return format(float(value), floatfmt)
        return str(value)

    body = []
    for index, row in enumerate(rows):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(
                f"`rows` must have {len(headers)} cells per row like `headers`. "
                f"Received: rows[{index}]={describe(row)}"
            )
        body.append([cell(v) for v in row])
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def plot_runs(histories, metrics=("loss", "val_loss"), *, title=None):
    """Learning curves of several runs, one axes per metric.

    Parameters
    ----------
    histories : dict of str to dict or QuickRun
        Label of each run -> its per-epoch history (``QuickRun.history``, a
        Keras ``History.history`` dict, or a :class:`QuickRun`).
    metrics : sequence of str
        History keys to plot, e.g. ``("loss", "val_loss")`` or
        ``("val_mean_iou",)``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_runs({"a": {"loss": [1.0, 0.5]}, "b": {"loss": [1.0, 0.8]}}, ["loss"])
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['a', 'b']
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not isinstance(histories, dict) or not histories:
        raise TypeError(
            "`histories` must be a non-empty dict of label -> history dict. "
            f"Received: histories={describe(histories)}"
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    logs = {label: getattr(h, "history", h) for label, h in histories.items()}
    for label, log in logs.items():
        missing = [m for m in metrics if m not in log]
        if missing:
            raise ValueError(
                f"`metrics` must be keys of every history; run {label!r} has no {missing}. "
                f"Received: metrics={tuple(metrics)!r}"
            )
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for label, log in logs.items():
            values = log[metric]
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# looking inside a model
# ---------------------------------------------------------------------------


def _get_layer(model, layer_name):
    if not isinstance(layer_name, str):
        raise TypeError(f"`layer_name` must be a layer name (str). Received: layer_name={describe(layer_name)}")
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ValueError(
            f"`layer_name` must name a layer of the model ({shown}). "
            f"Received: layer_name={layer_name!r}"
        )
    return model.get_layer(layer_name)


def feature_maps(model, images, layer_name):
    """The output of one layer for a batch of images.

    Parameters
    ----------
    model : keras.Model
    images : float ndarray of shape (N, H, W, C)
    layer_name : str
        For the course U-Net e.g. ``"enc0_act2"`` (first encoder block) or
        ``"bottleneck_act2"``.

    Returns
    -------
    float32 ndarray of shape (N, h, w, k)
        The ``k`` feature maps of the layer.
    """
    import keras

    _check_model(model)
    x = _check_images(images)
    layer = _get_layer(model, layer_name)
    probe = keras.Model(_model_input(model), layer.output)
    return np.asarray(probe(x, training=False), dtype=np.float32)


def grad_cam(model, image, class_id, layer_name, region=None):
    """Grad-CAM map of a segmented region with respect to one layer.

    For a segmentation model the score explained is the summed logit of class
    ``c`` over a region ``R`` of pixels, ``y = sum_{(i,j) in R} z[i, j, c]``.
    With ``A^k`` the ``k``-th feature map of the chosen layer (``h x w``):

    - channel weights ``alpha_k = mean_{u,v} dy / dA^k[u, v]``;
    - map ``L = ReLU(sum_k alpha_k A^k)``, resized bilinearly to ``H x W``
      and divided by its maximum (all zeros if the maximum is 0).

    Bright pixels are where that layer's features pushed the region towards
    class ``c`` (Selvaraju et al., 2017; for segmentation Vinogradova et al.,
    2020).

    Parameters
    ----------
    model : keras.Model
        Returns per-pixel logits ``(N, H, W, num_classes)``.
    image : float ndarray of shape (H, W, C)
        One image.
    class_id : int
        The class ``c``.
    layer_name : str
        The layer whose features are weighted, e.g. ``"enc1_act2"``.
    region : bool ndarray of shape (H, W), optional
        The pixels ``R``; default the pixels the model predicts as ``c``.

    Returns
    -------
    float32 ndarray of shape (H, W)
        Values in ``[0, 1]``.
    """
    import keras
    import tensorflow as tf

    _check_model(model)
    x = check_array(image, "image", ndim=3, layout="(H, W, C)").astype(np.float32)
    num_classes = int(model.output_shape[-1])
    class_id = check_int(class_id, "class_id")
    if not 0 <= class_id < num_classes:
        raise ValueError(f"`class_id` must be in [0, {num_classes}). Received: class_id={class_id}")
    layer = _get_layer(model, layer_name)
    probe = keras.Model(_model_input(model), [layer.output, model.outputs[0]])
    if region is not None:
        region = check_array(region, "region", ndim=2, layout="(H, W)", kind="bool")
        if region.shape != x.shape[:2]:
            raise ValueError(
                f"`region` must have the image's size {x.shape[:2]}. Received: region={describe(region)}"
            )
    inputs = tf.constant(x[None])
    with tf.GradientTape() as tape:
        features, logits = probe(inputs, training=False)
        if region is None:
            mask = tf.cast(tf.argmax(logits[0], axis=-1) == class_id, logits.dtype)
        else:
            mask = tf.constant(region, dtype=logits.dtype)
        score = tf.reduce_sum(logits[0, :, :, class_id] * mask)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, x.shape[:2], method="bilinear")[0, :, :, 0].numpy()
    top = cam.max()
    return (cam / top if top > 0 else np.zeros_like(cam)).astype(np.float32)


def pixel_confidence(logits):
    """Per-pixel confidence and uncertainty of a segmentation.

    With ``p = softmax(z)`` over the classes:

    - confidence ``max_c p_c`` (1 = certain, ``1/C`` = uniform);
    - entropy ``H = -sum_c p_c log p_c`` in nats (0 = certain, ``log C`` =
      uniform).

    Parameters
    ----------
    logits : float ndarray of shape (..., C)

    Returns
    -------
    tuple of float ndarray of shape (...)
        ``(confidence, entropy)``.

    Examples
    --------
    >>> conf, ent = pixel_confidence(np.array([[0.0, 0.0], [10.0, -10.0]]))
    >>> conf.round(4), ent.round(4)
    (array([0.5, 1. ]), array([0.6931, 0.    ]))
    """
    z = check_array(logits, "logits", ndim=range(1, 6), layout="(..., C)").astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    p = np.exp(log_p)
    entropy = -(p * log_p).sum(axis=-1)
    return p.max(axis=-1), np.maximum(entropy, 0.0)


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
    _check_model(model)
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


# ---------------------------------------------------------------------------
# training for experiments
# ---------------------------------------------------------------------------


def keras_loss(name, num_classes, *, gamma=2.0, alpha=0.25, smooth=1.0):
    """A Keras loss for logits ``(B, H, W, K)`` and sparse labels ``(B, H, W)``.

    The same formulas as the NumPy references in :mod:`seglearn.losses`, in
    Keras ops so that they can be trained with:

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

    Per-pixel losses (``"ce"``, ``"focal"``) return one value per pixel, so
    Keras averages them and applies per-pixel sample weights; the Dice loss
    is one number per batch and ignores sample weights.

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
        ``loss(y_true, y_pred)`` for ``model.compile``; its ``__name__`` is
        the loss name.
    """
    import keras

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
        return ce(y_true, y_pred) + dice(y_true, y_pred)

    loss = {"ce": ce, "focal": focal, "dice": dice, "ce+dice": ce_dice}[name]
    loss.__name__ = name.replace("+", "_")
    return loss


def _make_optimizer(optimizer, learning_rate, weight_decay):
    import keras

    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    name = check_choice(optimizer, "optimizer", OPTIMIZERS)
    decay = weight_decay if weight_decay > 0 else None
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, weight_decay=decay)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, weight_decay=decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, weight_decay=decay)
    return keras.optimizers.Adam(learning_rate, weight_decay=decay)


@dataclass
class QuickRun:
    """The result of :func:`quick_train`.

    Attributes
    ----------
    model : keras.Model
        The trained model (last epoch's weights, or the best epoch's with
        early stopping).
    history : dict of str to list of float
        Per-epoch ``loss``, ``pixel_accuracy``, ``mean_iou`` and, with
        validation data, their ``val_`` versions.
    val : dict or None
        :func:`seglearn.training.evaluate` on the validation data at the end
        (``"mean_iou"``, per-class ``"iou"``, ...).
    seconds : float
        Wall-clock time of the training (not of the evaluation).
    config : dict
        The options of the run, for tables.
    """

    model: object
    history: dict
    val: dict | None
    seconds: float
    config: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of epochs actually run."""
        return len(self.history["loss"])


def quick_train(
    model_fn,
    train,
    val=None,
    *,
    epochs=3,
    batch_size=16,
    optimizer="adam",
    learning_rate=1e-3,
    weight_decay=0.0,
    loss="ce",
    class_weight=None,
    augment=False,
    patience=None,
    bn_momentum=0.9,
    seed=0,
):
    """Train one model for an experiment and score it on the validation set.

    The lab-bench counterpart of :func:`seglearn.training.train`: it exposes
    the knobs the FAQ experiments turn (optimiser, weight decay, loss,
    augmentation) and, unless ``patience`` is given, keeps the *last* epoch's
    weights, so that the effect of overfitting stays visible. The steps:

    1. ``keras.utils.set_random_seed(seed)``, then ``model = model_fn()``
       (so the initial weights depend only on ``seed``);
    2. the training images go through
       :func:`seglearn.pipeline.make_dataset` (shuffled every epoch with
       ``seed``; augmented with :func:`seglearn.pipeline.augment_pair` if
       ``augment``; per-pixel weights if ``class_weight``);
    3. ``model.compile`` with the optimiser, :func:`keras_loss` and the
       metrics pixel accuracy and mean IoU, then ``model.fit`` for ``epochs``
       epochs (with ``EarlyStopping(patience, restore_best_weights=True)`` on
       the validation loss if ``patience`` is given);
    4. :func:`seglearn.training.evaluate` on ``val``.

    Parameters
    ----------
    model_fn : callable or keras.Model
        Builds a fresh model, e.g. ``lambda: unet((32, 32, 3), depth=2,
        base_filters=8)``; a ``keras.Model`` is trained as it is (for
        fine-tuning a trained model).
    train : (images, masks)
        Float images ``(N, H, W, C)`` in ``[0, 1]`` and class ids ``(N, H, W)``.
    val : (images, masks), optional
        Validation data: per-epoch validation curves and the final scores.
    epochs : int
    batch_size : int
    optimizer : {"sgd", "momentum", "rmsprop", "adam"} or keras optimizer
        ``"momentum"`` is SGD with momentum 0.9.
    learning_rate : float > 0
    weight_decay : float >= 0
        Decoupled weight decay (each step shrinks every weight by
        ``learning_rate * weight_decay`` times itself; AdamW for Adam).
    loss : {"ce", "dice", "focal", "ce+dice"} or callable
        See :func:`keras_loss`.
    class_weight : sequence of K floats, optional
        Per-class weights, applied as per-pixel sample weights (not with a
        Dice loss, which has no per-pixel terms).
    augment : bool
        Random flips, 90-degree rotations, zoom, brightness and contrast.
    patience : int, optional
        Early stopping on the validation loss (needs ``val``).
    bn_momentum : float in [0, 1) or None
        Momentum ``m`` of every batch-normalisation layer's moving statistics
        (``mu <- m mu + (1 - m) mu_batch``), set before training; None keeps
        the model's. Keras' default 0.99 needs several hundred steps to
        forget the initial statistics (``0.99^128 = 0.28`` of them remain after
        128 steps), so the validation scores of a short run would be computed
        with wrong statistics; 0.9 follows the weights within about 20 steps.
    seed : int >= 0

    Returns
    -------
    QuickRun
    """
    import keras

    from . import pipeline, training

    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    learning_rate = check_real(learning_rate, "learning_rate", low=0, low_inclusive=False)
    weight_decay = check_real(weight_decay, "weight_decay", low=0)
    augment = check_bool(augment, "augment")
    seed = check_positive_int(seed, "seed", minimum=0)
    if patience is not None:
        patience = check_positive_int(patience, "patience", minimum=0)
        if val is None:
            raise ValueError(f"`patience` needs validation data `val`. Received: patience={patience}, val=None")
    if bn_momentum is not None:
        bn_momentum = check_real(bn_momentum, "bn_momentum", low=0, high=1, high_inclusive=False)
    train = _check_split(train, "train")
    if val is not None:
        val = _check_split(val, "val")

    keras.utils.set_random_seed(seed)
    if isinstance(model_fn, keras.Model):
        model = model_fn
    elif callable(model_fn):
        model = model_fn()
        _check_model(model)
    else:
        raise TypeError(
            f"`model_fn` must be a function that builds a keras.Model, or a keras.Model. "
            f"Received: model_fn={describe(model_fn)}"
        )
    if bn_momentum is not None:
        for layer in _all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum
    num_classes = int(model.output_shape[-1])
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    loss_fn = keras_loss(loss, num_classes) if isinstance(loss, str) else loss
    if not callable(loss_fn):
        raise TypeError(f"`loss` must be a loss name or a callable. Received: loss={describe(loss)}")
    if class_weight is not None and loss_name == "dice":
        raise ValueError(
            "`class_weight` does not apply to the Dice loss (it has no per-pixel terms). "
            f"Received: class_weight={describe(class_weight)} with loss='dice'"
        )
    if class_weight is not None:
        class_weight = check_array(class_weight, "class_weight", ndim=1, dtype=np.float32)
        if class_weight.shape != (num_classes,) or np.any(class_weight < 0):
            raise ValueError(
                f"`class_weight` must hold {num_classes} weights >= 0 (one per class). "
                f"Received: class_weight={describe(class_weight)}"
            )

    data = pipeline.make_dataset(
        train[0], train[1], batch_size, augment=augment, shuffle=True, seed=seed,
        num_classes=num_classes,
        class_weight=None if class_weight is None else class_weight.tolist(),
    )
    fit_args = {}
    if val is not None:
        fit_args["validation_data"] = (val[0], val[1].astype(np.int32))
    callbacks = []
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        )
    training.compile_for_segmentation(model, _make_optimizer(optimizer, learning_rate, weight_decay), loss_fn)
    start = time.perf_counter()
    history = model.fit(data, epochs=epochs, callbacks=callbacks, shuffle=False, verbose=0, **fit_args)
    seconds = time.perf_counter() - start
    scores = training.evaluate(model, val[0], val[1]) if val is not None else None
    config = dict(
        optimizer=optimizer if isinstance(optimizer, str) else type(optimizer).__name__,
        learning_rate=learning_rate, weight_decay=weight_decay, loss=loss_name,
        class_weight=None if class_weight is None else class_weight.tolist(),
        augment=augment, patience=patience, bn_momentum=bn_momentum, epochs=epochs,
        batch_size=batch_size, seed=seed,
    )
    return QuickRun(model, {k: [float(v) for v in vals] for k, vals in history.history.items()},
                    scores, seconds, config)


def _all_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _check_split(split, name):
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise TypeError(f"`{name}` must be a pair (images, masks). Received: {name}={describe(split)}")
    images = _check_images(split[0], f"{name}[0]")
    masks = check_array(split[1], f"{name}[1]", ndim=3, layout="(N, H, W)", kind="integer")
    if masks.shape != images.shape[:3]:
        raise ValueError(
            f"`{name}[1]` must have shape (N, H, W) = {images.shape[:3]} to match the images. "
            f"Received: {name}[1]={describe(masks)}"
        )
    return images, masks
