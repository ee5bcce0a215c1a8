"""Deployment: TensorFlow Lite conversion and inference.

- :func:`tflite_convert` converts a Keras model to a TensorFlow Lite
  flatbuffer, in float, with dynamic-range or with full-integer (int8)
  quantisation (see :data:`TFLITE_MODES`);
- :func:`tflite_predict` runs such a model on a batch of images and returns
  float outputs whatever the mode, so that the modes can be compared.

Importing this module does not import TensorFlow: the functions import it
when called.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings

import numpy as np

from ._validation import check_choice, check_images, check_model, check_positive_int, describe

__all__ = [
    "TFLITE_MODES",
    "tflite_convert",
    "tflite_predict",
]

#: The quantisation modes :func:`tflite_convert` knows.
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

    check_model(model)
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
        calib = check_images(representative_data, "representative_data")[:num_calibration]
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
    x = check_images(images)
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
