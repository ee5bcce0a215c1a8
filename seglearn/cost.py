"""Cost: the memory and the time a model needs.

- :func:`activation_memory` and :func:`training_memory` estimate the memory
  of a training step from the layers' output shapes and dtypes and the
  parameter count (the FLOPs of a forward pass are
  :func:`seglearn.models.count_flops`); :func:`layer_activation_bytes` lists
  the terms, :func:`checkpointed_memory` redoes the sum for gradient
  checkpointing;
- :func:`measure_training_steps` *measures* the memory of one training step:
  each setting (batch size, mixed precision, gradient clipping,
  checkpointing) runs in a fresh Python process, whose peak resident memory
  is read from the operating system (``resource.getrusage``), on
  :func:`conv_chain`, the textbook model of these experiments;
- :func:`time_call` times a function (median of repeats).

Importing this module does not import TensorFlow: the functions that need a
Keras model import Keras when called.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import (
    check_choice,
    check_int_pair,
    check_model,
    check_positive_int,
    check_real,
    check_seed,
    describe,
)

__all__ = [
    "DTYPE_POLICIES",
    "StepMemory",
    "activation_memory",
    "checkpointed_memory",
    "conv_chain",
    "layer_activation_bytes",
    "measure_training_steps",
    "time_call",
    "training_memory",
]

#: The Keras dtype policies a measured training step can use: ``"float32"``,
#: or mixed precision (float32 weights, 16-bit activations and arithmetic).
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


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
    return shape, [(layer.name, tuple(spec.shape[1:]), str(spec.dtype)) for layer, spec in zip(layers, specs)]


def _itemsize(dtype) -> int:
    """Bytes of one value of ``dtype`` (``"float32"`` -> 4, ``"bfloat16"`` -> 2)."""
    name = str(dtype)
    if name == "bfloat16":  # NumPy has no bfloat16
        return 2
    return int(np.dtype(name).itemsize)


def layer_activation_bytes(model, input_size=None, batch_size=1, *, bytes_per_value=None):
    """Bytes of the input and of every layer's output for one batch, in layer order.

    The terms that :func:`activation_memory` adds up: the input
    ``N * H * W * C_in * b_in``, then for each layer
    ``N * prod(output_shape) * b`` with ``N = batch_size`` and ``b`` the
    bytes per value of the tensor's dtype (4 for float32; 2 for the float16
    or bfloat16 outputs of a mixed-precision layer).

    Parameters
    ----------
    model : keras.Model
    input_size : tuple (H, W), optional
        As for :func:`activation_memory`.
    batch_size : int
    bytes_per_value : int, optional
        Use this many bytes for every value instead of each tensor's dtype.

    Returns
    -------
    list of (str, int)
        ``("input", bytes)`` first, then ``(layer name, bytes)``.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same", name="c")])
    >>> layer_activation_bytes(model, batch_size=10)  # 10 * 8*8*1 * 4 and 10 * 8*8*2 * 4
    [('input', 2560), ('c', 5120)]
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if bytes_per_value is not None:
        bytes_per_value = check_positive_int(bytes_per_value, "bytes_per_value")
    shape, outputs = _output_shapes(model, input_size)
    input_dtype = str(getattr(model.inputs[0], "dtype", "float32")) if model.inputs else "float32"

    def size(values, dtype):
        return batch_size * int(np.prod(values)) * (bytes_per_value or _itemsize(dtype))

    return [("input", size(shape, input_dtype))] + [(name, size(s, dtype)) for name, s, dtype in outputs]


def activation_memory(model, input_size=None, batch_size=1, *, bytes_per_value=None):
    """Bytes of activations a training step keeps for the backward pass.

    Backpropagation needs every layer's output, so the estimate is

    ``memory = N * (H * W * C_in * b_in + sum_layers prod(output_shape) * b_layer)``

    (input included; ``N`` the batch size, ``b`` the bytes per value of each
    tensor's dtype, 4 for float32, 2 for float16 and bfloat16). It grows
    linearly with the batch size and with the number of pixels ``H * W``.
    Real frameworks fuse some layers and keep some extra buffers, so read it
    as an order of magnitude; :func:`measure_training_steps` measures it.

    Parameters
    ----------
    model : keras.Model
        A built (functional or sequential) model.
    input_size : tuple (H, W), optional
        Image size to estimate for; required when the model's input size is
        None (``input_shape=(None, None, C)``), and must equal it otherwise.
    batch_size : int
        Images per step.
    bytes_per_value : int, optional
        Bytes of every value (4 for float32, 2 for float16); by default each
        tensor's own dtype decides.

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
    >>> half = keras.Sequential([keras.Input((8, 8, 1)),
    ...                          keras.layers.Conv2D(2, 3, padding="same", dtype="mixed_bfloat16")])
    >>> activation_memory(half, batch_size=10)  # 10 * (8*8*1 * 4 + 8*8*2 * 2): a bfloat16 output
    5120
    """
    return sum(b for _, b in layer_activation_bytes(model, input_size, batch_size,
                                                    bytes_per_value=bytes_per_value))


def checkpointed_memory(activation_bytes, segment_length):
    """Activation bytes a chain of layers keeps with gradient checkpointing.

    Without checkpointing the backward pass keeps every activation:
    ``M = a_0 + a_1 + ... + a_L`` (``a_0`` the input, ``a_l`` the output of
    layer ``l``). Checkpointing cuts the chain into segments of
    ``k = segment_length`` layers and keeps only each segment's input (and
    the last output, which the loss needs); during the backward pass one
    segment at a time is recomputed from its input, so its ``k`` outputs are
    held once more. The peak is

    ``M_ckpt = sum_j a_(jk) + a_L + max_j (a_(jk+1) + ... + a_(jk+k))``

    over the segments ``j = 0, 1, ...``, at the price of one more forward pass
    per step. For ``L`` equal activations ``a``: ``M = (L + 1) a`` against
    ``(ceil(L / k) + 1 + k) a``, smallest near ``k = sqrt(L)`` (Chen et al.,
    2016, "Training deep nets with sublinear memory cost").

    Parameters
    ----------
    activation_bytes : sequence of int
        ``a_0 .. a_L`` in chain order, e.g. the values of
        :func:`layer_activation_bytes` for a sequential model.
    segment_length : int >= 1
        Layers per segment; 1 keeps everything (each layer is recomputed
        from its own input, which is kept anyway).

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> checkpointed_memory([1, 1, 1, 1, 1, 1, 1, 1, 1], 4)  # L = 8: inputs a_0, a_4; a_8; one segment of 4
    7
    >>> checkpointed_memory([1, 1, 1, 1, 1, 1, 1, 1, 1], 1)  # everything: L + 1
    9
    """
    try:
        values = [int(v) for v in activation_bytes]
    except (TypeError, ValueError):
        values = []
    if len(values) < 2 or min(values) < 0:
        raise ValueError(
            "`activation_bytes` must hold at least two sizes >= 0 (the input, then each layer's "
            f"output). Received: activation_bytes={describe(activation_bytes)}"
        )
    k = check_positive_int(segment_length, "segment_length")
    outputs = values[1:]
    if k == 1:
        return sum(values)
    segments = [outputs[i:i + k] for i in range(0, len(outputs), k)]
    kept = [values[0]] + [segment[-1] for segment in segments[:-1]] + [outputs[-1]]
    return sum(kept) + max(sum(segment) for segment in segments)


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
# measured memory of a training step
# ---------------------------------------------------------------------------


def conv_chain(input_shape=(128, 128, 3), num_classes=5, *, num_layers=16, filters=16, dtype=None):
    """A chain of ``num_layers`` 3 x 3 convolutions ('same' padding, ReLU) and a 1 x 1 head.

    The textbook model of the memory experiments: no pooling, so every hidden
    activation has the same shape ``(N, H, W, filters)``, the training step
    keeps ``num_layers`` equal tensors, and gradient checkpointing can cut the
    chain anywhere (:func:`checkpointed_memory`).

    Parameters
    ----------
    input_shape : tuple (H, W, C)
    num_classes : int >= 2
        Channels of the 1 x 1 head (logits).
    num_layers, filters : int >= 1
    dtype : str, optional
        A Keras dtype policy for every layer (e.g. ``"mixed_bfloat16"``);
        None uses the global policy.

    Returns
    -------
    keras.Sequential
        Layers ``conv1 .. conv{num_layers}``, then ``logits``.

    Examples
    --------
    >>> model = conv_chain((8, 8, 3), 2, num_layers=3, filters=4)
    >>> [layer.name for layer in model.layers], model.output_shape
    (['conv1', 'conv2', 'conv3', 'logits'], (None, 8, 8, 2))
    """
    import keras

    num_layers = check_positive_int(num_layers, "num_layers")
    filters = check_positive_int(filters, "filters")
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    layers = [keras.Input(tuple(input_shape))]
    layers += [keras.layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=dtype, name=f"conv{i}")
               for i in range(1, num_layers + 1)]
    layers.append(keras.layers.Conv2D(num_classes, 1, dtype=dtype, name="logits"))
    return keras.Sequential(layers, name="conv_chain")


@dataclass(frozen=True)
class StepMemory:
    """One training step, measured in a fresh process by :func:`measure_training_steps`.

    Attributes
    ----------
    setting : dict
        The options of the step (batch size, dtype policy, ...).
    step_bytes : int
        Peak resident memory of the process during the step minus its
        resident memory just before: what the step needed on top of Python,
        TensorFlow, the model and the batch.
    rss_before_bytes, peak_rss_bytes : int
        Resident memory just before the step, and the process's peak.
    estimated_bytes : int
        The activations the step keeps by the shapes and dtypes
        (:func:`activation_memory`; :func:`checkpointed_memory` with
        checkpointing).
    gradient_bytes : int
        One float32 copy of the gradients (4 bytes per trainable weight).
    seconds_per_step : float
        Wall time of the fastest step after the first (the one least slowed
        down by other work on the machine).
    extra : dict
        Other numbers of the run: ``first_loss``, the loss of the measured step.
    """

    setting: dict
    step_bytes: int
    rss_before_bytes: int
    peak_rss_bytes: int
    estimated_bytes: int
    gradient_bytes: int
    seconds_per_step: float
    extra: dict = field(default_factory=dict)


_STEP_DEFAULTS = dict(image_size=128, batch_size=16, num_layers=16, filters=16, num_classes=5,
                      dtype_policy="float32", clipnorm=None, checkpoint_every=None, steps=3, seed=0)


def _check_setting(name, setting) -> dict:
    if not isinstance(setting, dict):
        raise TypeError(f"`settings[{name!r}]` must be a dict of step options. Received: {describe(setting)}")
    unknown = set(setting) - set(_STEP_DEFAULTS)
    if unknown:
        raise ValueError(
            f"`settings[{name!r}]` has unknown options {sorted(unknown)}; the options are "
            f"{sorted(_STEP_DEFAULTS)}. Received: {setting!r}"
        )
    full = {**_STEP_DEFAULTS, **setting}
    for key in ("image_size", "batch_size", "num_layers", "filters", "steps"):
        full[key] = check_positive_int(full[key], f"settings[{name!r}][{key!r}]")
    full["steps"] = check_positive_int(full["steps"], f"settings[{name!r}]['steps']", minimum=2)
    full["num_classes"] = check_positive_int(full["num_classes"], f"settings[{name!r}]['num_classes']", minimum=2)
    full["seed"] = check_seed(full["seed"], f"settings[{name!r}]['seed']")
    full["dtype_policy"] = check_choice(full["dtype_policy"], f"settings[{name!r}]['dtype_policy']",
                                        DTYPE_POLICIES)
    if full["clipnorm"] is not None:
        full["clipnorm"] = check_real(full["clipnorm"], f"settings[{name!r}]['clipnorm']", low=0,
                                      low_inclusive=False)
    if full["checkpoint_every"] is not None:
        full["checkpoint_every"] = check_positive_int(full["checkpoint_every"],
                                                      f"settings[{name!r}]['checkpoint_every']")
    return full


def measure_training_steps(settings, *, processes=1, timeout=600.0):
    """Measure the memory of one training step of :func:`conv_chain` per setting.

    Each setting runs in a fresh Python process (a process's peak memory
    cannot be reset, and a dtype policy is global), ``processes`` of them at
    a time. The process builds the chain for ``image_size`` squares, an Adam
    optimiser and a random batch, traces the step (forward pass, softmax
    cross-entropy, gradients by ``tf.GradientTape``, one update), then reads
    its resident memory, runs the step once and reads its peak resident
    memory (``resource.getrusage(...).ru_maxrss``); the difference is
    :attr:`StepMemory.step_bytes`. It then times ``steps - 1`` more steps
    (:attr:`StepMemory.seconds_per_step`: the fastest).
    (One process cannot measure several settings in turn: TensorFlow keeps
    the memory of a step in its allocator's pool for the next one.)

    Options of a setting (the defaults in brackets):

    - ``image_size`` [128], ``batch_size`` [16], ``num_layers`` [16],
      ``filters`` [16], ``num_classes`` [5]: the chain and the batch;
    - ``dtype_policy`` [``"float32"``]: or ``"mixed_bfloat16"`` /
      ``"mixed_float16"`` (Keras mixed precision: 16-bit activations and
      arithmetic, float32 weights; float16 with loss scaling,
      ``keras.optimizers.LossScaleOptimizer``);
    - ``clipnorm`` [None]: Adam rescales each gradient ``g`` to norm at most
      ``c``, ``g <- g min(1, c / ||g||)``;
    - ``checkpoint_every`` [None]: gradient checkpointing, the chain's
      convolutions cut into segments of this many, each run through
      ``tf.recompute_grad`` (its activations recomputed in the backward pass
      instead of kept);
    - ``steps`` [3] (>= 2), ``seed`` [0]: steps run, seed of the batch and weights.

    Parameters
    ----------
    settings : dict of str to dict
        Name -> options (only those that differ from the defaults).
    processes : int >= 1
        Settings measured at the same time (each process uses the cores too,
        so times are only comparable within one call).
    timeout : float
        Seconds allowed per process.

    Returns
    -------
    dict of str to StepMemory
        In the order of ``settings``.

    Raises
    ------
    RuntimeError
        Where the operating system reports no peak memory (native Windows;
        WSL does), or when a process fails or times out (its error is quoted).

    Notes
    -----
    On Linux the memory before the step is the current resident memory
    (``/proc/self/statm``); elsewhere (macOS) only the peak so far is known,
    which can hide part of a small step.
    """
    if not isinstance(settings, dict) or not settings:
        raise ValueError(f"`settings` must be a non-empty dict of name -> options. Received: {describe(settings)}")
    full = {str(name): _check_setting(name, setting) for name, setting in settings.items()}
    processes = check_positive_int(processes, "processes")
    timeout = check_real(timeout, "timeout", low=0, low_inclusive=False)
    try:
        import resource  # noqa: F401  (the workers read their peak memory with it)
    except ImportError:
        raise RuntimeError("measure_training_steps needs the `resource` module (Linux, macOS, WSL), "
                           f"which this system ({sys.platform}) does not have") from None
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    command = [sys.executable, "-c", "from seglearn.cost import _step_worker; _step_worker()"]
    results, waiting, running = {}, list(full.items()), []
    try:
        while waiting or running:
            while waiting and len(running) < processes:
                name, setting = waiting.pop(0)
                proc = subprocess.Popen([*command, json.dumps(setting)], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                running.append((name, setting, proc))
            name, setting, proc = running[0]
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"the step of setting {name!r} took longer than timeout={timeout} s") from None
            running.pop(0)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                tail = "\n".join(err.strip().splitlines()[-5:])
                raise RuntimeError(f"the step of setting {name!r} failed (exit code {proc.returncode}):\n{tail}")
            results[name] = StepMemory(setting=setting, **json.loads(lines[-1]))
    finally:
        for _, _, proc in running:  # after an error: stop the processes still at work
            proc.kill()
            proc.communicate()
    return {name: results[name] for name in full}


def _peak_rss_bytes() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS: bytes; Linux: KiB


def _rss_bytes() -> int:
    """Resident memory now (Linux: /proc); elsewhere the peak so far, an upper bound."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return _peak_rss_bytes()


def _step_worker():
    """Run in a fresh process by :func:`measure_training_steps`: one setting, a JSON line out."""
    setting = json.loads(sys.argv[1])
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(setting["seed"])
    policy = setting["dtype_policy"]
    keras.config.set_dtype_policy(policy)
    size, n = setting["image_size"], setting["batch_size"]
    model = conv_chain((size, size, 3), setting["num_classes"], num_layers=setting["num_layers"],
                       filters=setting["filters"])
    optimizer = keras.optimizers.Adam(1e-3, clipnorm=setting["clipnorm"])
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(setting["seed"])
    images = tf.constant(rng.random((n, size, size, 3), dtype=np.float32))
    masks = tf.constant(rng.integers(0, setting["num_classes"], (n, size, size)), tf.int32)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    k = setting["checkpoint_every"]
    convs, head = model.layers[:-1], model.layers[-1]
    segments = None
    if k:
        segments = [tf.recompute_grad(keras.Sequential(convs[i:i + k])) for i in range(0, len(convs), k)]

    def forward(x):
        if segments is None:
            return model(x, training=True)
        for segment in segments:
            x = segment(x)
        return head(x)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, tf.cast(forward(x), tf.float32))
            scaled = optimizer.scale_loss(loss) if policy == "mixed_float16" else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    step.get_concrete_function(images, masks)          # trace first: not part of the step
    before = _rss_bytes()
    loss = float(step(images, masks))
    peak = _peak_rss_bytes()
    times = []
    for _ in range(setting["steps"] - 1):
        start = time.perf_counter()
        float(step(images, masks))
        times.append(time.perf_counter() - start)
    sizes = [b for _, b in layer_activation_bytes(model, batch_size=n)]
    estimated = checkpointed_memory(sizes[:-1], k) + sizes[-1] if k else sum(sizes)
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    print(json.dumps(dict(step_bytes=peak - before, rss_before_bytes=before, peak_rss_bytes=peak,
                          estimated_bytes=int(estimated), gradient_bytes=4 * trainable,
                          seconds_per_step=float(min(times)), extra={"first_loss": loss})))


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
