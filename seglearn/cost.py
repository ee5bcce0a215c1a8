"""Cost: the memory and the time a model needs.

- :func:`activation_memory` and :func:`training_memory` estimate the memory
  of a training step from the layers' output shapes and the parameter count
  (the FLOPs of a forward pass are :func:`seglearn.models.count_flops`);
- :func:`time_call` times a function (median of repeats).

Importing this module does not import TensorFlow: the functions that need a
Keras model import Keras when called.
"""

from __future__ import annotations

import time

import numpy as np

from ._validation import check_int_pair, check_model, check_positive_int, describe

__all__ = [
    "activation_memory",
    "time_call",
    "training_memory",
]


# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------


def _output_shapes(model, input_size):
    """Per-example output shape of every layer of ``model`` (nested models flattened)."""
    import keras

    from .models import _iter_layers, _model_input

    check_model(model)
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
    layers = [layer for layer in _iter_layers(model) if not isinstance(layer, keras.layers.InputLayer)]
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
    check_model(model)
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
# timing
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
