"""Convolution, pooling, upsampling and activations in NumPy, equal to Keras.

Each function is the NumPy reference for one Keras layer, with the layer's
layout and argument names, and is tested equal to it:

==========================  ==========================================
``conv2d``                  ``keras.layers.Conv2D`` (no activation)
``conv2d_transpose``        ``keras.layers.Conv2DTranspose``
``max_pool2d``              ``keras.layers.MaxPooling2D``
``avg_pool2d``              ``keras.layers.AveragePooling2D``
``upsample2d``              ``keras.layers.UpSampling2D``
``relu``, ``softmax``       ``keras.activations.relu`` / ``softmax``
==========================  ==========================================

Conventions
-----------
Layout
    Images are NHWC: ``x`` has shape ``(N, H, W, C)`` (batch, height, width,
    channels), the Keras default ``data_format="channels_last"``.
    A convolution kernel has shape ``(kh, kw, C_in, C_out)``; a transposed
    convolution kernel ``(kh, kw, C_out, C_in)``, as Keras stores them.
Sizes
    ``strides``, ``pool_size``, ``dilation_rate`` and ``size`` accept an
    integer or an ``(h, w)`` pair, as Keras does.
Padding
    ``"valid"`` adds nothing. ``"same"`` is TensorFlow's rule: the output
    has ``ceil(H / s)`` rows and the ``P = max((H_out - 1) s + d (k - 1) + 1 - H, 0)``
    padding rows go ``floor(P / 2)`` on top and the rest (one more when ``P``
    is odd) at the bottom; likewise for columns. :func:`same_padding` returns
    that pair. Convolutions also accept explicit symmetric zero padding, an
    integer ``p`` or a pair ``(p_h, p_w)``, as in the course's formula
    ``H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1``.
Strides and dilation together
    Keras' ``Conv2D`` refuses ``strides > 1`` together with
    ``dilation_rate > 1``; :func:`conv2d` accepts the combination and computes
    what the formula says, which is what ``tf.nn.conv2d`` computes (tested).
dtype
    Results are floating point: float32 in gives float32 out, float64 in
    gives float64 out. In general the result dtype is
    ``np.result_type(<input dtypes>, np.float32)``: float16, bool and small
    integers give float32; int32/int64 (NumPy promotes them to float64 with
    float32) give float64. Computation happens in that dtype, so float32
    stays float32 with no silent upcast.
Errors
    Bad input raises ``ValueError`` or ``TypeError`` naming the argument and
    the value received (see :mod:`seglearn._validation`).

``conv2d_loop`` and ``max_pool2d_loop`` spell the formulas out with Python
loops, for reading; the vectorised functions are the ones to use.
``im2col`` builds the matrix of windows that ``conv2d`` multiplies with the
kernel.

This module imports only NumPy.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import ThreadpoolController

from seglearn import _geometry as geom
from seglearn._validation import (
    check_array,
    check_axis,
    check_axis_size,
    check_choice,
    check_int_pair,
    check_padding,
    check_positive_int,
    check_real,
    check_window_fits,
    describe,
)

__all__ = [
    "ReceptiveField",
    "ReceptiveFieldLayer",
    "avg_pool2d",
    "conv2d",
    "conv2d_loop",
    "conv2d_transpose",
    "conv_output_size",
    "im2col",
    "log_softmax",
    "max_pool2d",
    "max_pool2d_loop",
    "pad2d",
    "receptive_field",
    "relu",
    "same_padding",
    "softmax",
    "upsample2d",
]

# Rows of the im2col block that conv2d builds at a time: about this many bytes,
# so that the block stays in the CPU cache between the copy and the matmul.
_BLOCK_BYTES = 1 << 20
_MIN_BLOCK_ROWS = 256
_MAX_BLOCK_ROWS = 8192
# Input bytes that pooling reduces at a time (a chunk of whole images).
_POOL_CHUNK_BYTES = 1 << 18
# Upper bound on worker threads (the default uses every core we may run on).
_MAX_WORKERS = 64


# --------------------------------------------------------------------------
# Running independent blocks on all cores
# --------------------------------------------------------------------------
#
# conv2d splits its work into independent blocks (copy the windows, one
# matmul). NumPy releases the GIL in both, so Python threads run them in
# parallel. Meanwhile BLAS is limited to one thread: a multi-threaded BLAS
# inside each of several threads would oversubscribe the cores, and its
# threads wait on each other at every call, which is very slow when the
# machine is busy. Independent single-threaded blocks degrade gracefully.

_lock = threading.Lock()
_executor = None  # ThreadPoolExecutor, created on first use
_executor_size = 0
_blas = None  # threadpoolctl controller of the BLAS libraries NumPy uses
_blas_users = 0
_blas_limit = None


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


def _reset_after_fork():
    # A forked child has none of the parent's threads: start afresh.
    global _lock, _executor, _executor_size, _blas_users, _blas_limit
    _lock, _executor, _executor_size, _blas_users, _blas_limit = threading.Lock(), None, 0, 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@contextmanager
def _single_threaded_blas():
    """Limit BLAS to one thread inside the block; restored by the last user."""
    global _blas, _blas_users, _blas_limit
    with _lock:
        if _blas is None:
            _blas = ThreadpoolController().select(user_api="blas")
        if _blas_users == 0:
            _blas_limit = _blas.limit(limits=1)
        _blas_users += 1
    try:
        yield
    finally:
        with _lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


def _parallel_for(task, items, workers: int) -> None:
    """Call ``task(item, worker)`` for every item, on ``workers`` threads.

    The calling thread is worker 0; items are handed out one at a time, so a
    worker slowed down by other processes simply does fewer of them. BLAS is
    limited to one thread while the workers run.
    """
    global _executor, _executor_size
    if workers == 1 or len(items) == 1:
        for item in items:
            task(item, 0)
        return
    queue, queue_lock = iter(items), threading.Lock()

    def work(worker):
        while True:
            with queue_lock:
                item = next(queue, None)
            if item is None:
                return
            task(item, worker)

    with _lock:
        if _executor_size < workers - 1:
            # A replaced executor's idle threads exit once it is garbage.
            _executor = ThreadPoolExecutor(workers - 1, thread_name_prefix="seglearn-ops")
            _executor_size = workers - 1
        pool = _executor
    with _single_threaded_blas():
        futures = [pool.submit(work, worker) for worker in range(1, workers)]
        try:
            work(0)
        finally:
            for future in futures:
                future.result()


# --------------------------------------------------------------------------
# Sizes and padding
# --------------------------------------------------------------------------


def same_padding(size, kernel_size, strides=1, dilation_rate=1):
    """Padding that TensorFlow adds along one axis for ``padding="same"``.

    The output has ``H_out = ceil(H / s)`` entries. The window
    ``k_eff = d (k - 1) + 1`` needs ``P = max((H_out - 1) s + k_eff - H, 0)``
    padded entries in total; TensorFlow puts ``floor(P / 2)`` before and the
    rest after, so an odd ``P`` pads one more at the end (bottom/right).

    Parameters
    ----------
    size : int
        Input length ``H`` along the axis.
    kernel_size : int
        Window length ``k``.
    strides : int, default 1
        Step ``s``.
    dilation_rate : int, default 1
        Dilation ``d``.

    Returns
    -------
    (before, after) : tuple of int

    Examples
    --------
    >>> same_padding(5, 3)
    (1, 1)
    >>> same_padding(6, 2, strides=2)      # the window tiles 6 exactly
    (0, 0)
    >>> same_padding(6, 3, strides=2)      # P = 1 goes after
    (0, 1)
    """
    size = check_positive_int(size, "size")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    strides = check_positive_int(strides, "strides")
    dilation_rate = check_positive_int(dilation_rate, "dilation_rate")
    return geom.same_pad(size, dilation_rate * (kernel_size - 1) + 1, strides)


def conv_output_size(size, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """Output length of a convolution or pooling along one axis.

    With ``p`` padded entries on each side ("valid" means ``p = 0``)::

        H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1

    and with ``padding="same"`` (TensorFlow's rule, see :func:`same_padding`)::

        H_out = ceil(H / s)

    Any argument may also be a pair, as :func:`conv2d` takes them (``(H, W)``,
    ``(k_h, k_w)``, ``(s_h, s_w)``, ``(p_h, p_w)``, ``(d_h, d_w)``); the result is
    then the pair ``(H_out, W_out)``.

    Parameters
    ----------
    size : int or (int, int)
        Input length ``H``.
    kernel_size : int or (int, int)
        Kernel or pooling window length ``k``.
    strides : int or (int, int), default 1
        Step ``s``.
    padding : {"valid", "same"}, int or (int, int), default "valid"
        Padding mode, or ``p``: zeros added on each side.
    dilation_rate : int or (int, int), default 1
        Dilation ``d`` (spacing between kernel taps); 1 for pooling.

    Returns
    -------
    int, or (int, int) when an argument is a pair

    Raises
    ------
    ValueError
        If the dilated window ``d (k - 1) + 1`` is longer than the padded
        input ``H + 2p``.

    Examples
    --------
    >>> conv_output_size(64, 3)
    62
    >>> conv_output_size(64, 3, padding="same")
    64
    >>> conv_output_size(64, 3, strides=2, padding=1)
    32
    >>> conv_output_size(7, 3, dilation_rate=2)
    3
    >>> conv_output_size((64, 48), 3, padding=(1, 0))  # conv2d's (p_h, p_w)
    (64, 46)
    """
    if any(isinstance(v, (tuple, list)) for v in (size, kernel_size, strides, padding, dilation_rate)):
        # 2-D: the arguments conv2d takes, (H, W), (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w)
        sizes = check_int_pair(size, "size")
        kernels = check_int_pair(kernel_size, "kernel_size")
        steps = check_int_pair(strides, "strides")
        dilations = check_int_pair(dilation_rate, "dilation_rate")
        pads = check_padding(padding)
        pads = (pads, pads) if isinstance(pads, str) else pads
        return tuple(
            conv_output_size(sizes[i], kernels[i], steps[i], pads[i], dilations[i]) for i in range(2)
        )
    size = check_positive_int(size, "size")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    strides = check_positive_int(strides, "strides")
    dilation_rate = check_positive_int(dilation_rate, "dilation_rate")
    if isinstance(padding, str):
        pad = check_padding(padding)
    else:
        pad = check_positive_int(padding, "padding", minimum=0)
    if pad == "same":
        return -(-size // strides)
    pad = 0 if pad == "valid" else pad
    window = dilation_rate * (kernel_size - 1) + 1
    check_window_fits(
        window,
        size + 2 * pad,
        "kernel_size",
        kernel_size,
        window_text=f"window d*(k-1)+1 (dilation_rate={dilation_rate})",
        input_text=f"padded input H + 2p (size={size}, padding={padding!r})",
    )
    return (size + 2 * pad - window) // strides + 1


def pad2d(x, padding, value=0.0):
    """Pad the height and width of NHWC images with a constant.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C)
    padding : int, (p_h, p_w) or ((top, bottom), (left, right))
        Entries added on each side: one number for all four sides, a pair for
        (rows above and below, columns left and right), or all four.
    value : float, default 0.0
        The constant.

    Returns
    -------
    ndarray of shape (N, H + top + bottom, W + left + right, C)
        Floating point (see the module's dtype rule).

    Examples
    --------
    >>> x = np.ones((1, 2, 2, 1))
    >>> pad2d(x, 1)[0, :, :, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 0., 0., 0.]])
    >>> pad2d(x, ((0, 1), (2, 0))).shape
    (1, 3, 4, 1)
    """
    x = geom.images_arg(x)
    if (
        isinstance(padding, (tuple, list))
        and len(padding) == 2
        and all(isinstance(p, (tuple, list)) for p in padding)
    ):
        pads = (
            check_int_pair(padding[0], "padding[0]", minimum=0),
            check_int_pair(padding[1], "padding[1]", minimum=0),
        )
    else:
        ph, pw = check_int_pair(padding, "padding", minimum=0)
        pads = ((ph, ph), (pw, pw))
    value = check_real(value, "value")
    return geom.pad_border(x.astype(geom.result_dtype(x.dtype), copy=False), pads, value)


# --------------------------------------------------------------------------
# Argument checks shared by the ops
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------


def conv2d(x, kernel, bias=None, *, strides=1, padding="valid", dilation_rate=1):
    """2-D convolution (cross-correlation) of NHWC images, as ``keras.layers.Conv2D``.

    ``out[n, i, j, o] = b[o] + sum_{u, v, c} xp[n, i s_h + u d_h, j s_w + v d_w, c] * kernel[u, v, c, o]``

    where ``xp`` is ``x`` padded as ``padding`` says; the kernel is not
    flipped (like every deep-learning "convolution").

    Parameters
    ----------
    x : array_like of shape (N, H, W, C_in)
        Input images.
    kernel : array_like of shape (kh, kw, C_in, C_out)
        Weights, laid out as ``Conv2D.kernel``.
    bias : array_like of shape (C_out,), optional
        Added to every output pixel.
    strides : int or (int, int), default 1
        Step ``s`` between neighbouring windows.
    padding : {"valid", "same"}, int or (int, int), default "valid"
        ``"valid"``: no padding; ``"same"``: TensorFlow's rule (see
        :func:`same_padding`); ``p`` or ``(p_h, p_w)``: that many zero rows
        above and below and zero columns left and right.
    dilation_rate : int or (int, int), default 1
        Spacing ``d`` between kernel taps. Unlike Keras, ``strides > 1`` with
        ``dilation_rate > 1`` is allowed (it equals ``tf.nn.conv2d``).

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C_out)
        ``H_out = floor((H + 2p - d_h (kh - 1) - 1) / s_h) + 1`` with ``p = 0``
        for "valid"; ``H_out = ceil(H / s_h)`` for "same"; likewise ``W_out``.
        float32 for float32 inputs, float64 for float64 (see the module notes).

    Raises
    ------
    ValueError, TypeError
        Wrong rank, ``kernel.shape[2] != x.shape[-1]``, a bias that is not
        ``(C_out,)``, a dilated kernel larger than the padded input,
        non-positive or non-integer ``strides``/``dilation_rate``, unknown
        ``padding``, non-numeric or non-finite arrays.

    See Also
    --------
    conv2d_loop : the same formula written with loops.
    conv_output_size : the output size along one axis.

    Notes
    -----
    The windows are gathered (im2col) from a strided view of the padded input
    a block of output rows at a time, so that each block stays in the cache,
    and each block is multiplied with the ``(kh kw C_in, C_out)`` kernel
    matrix in one BLAS call. The blocks are independent and run on one
    thread per core (NumPy releases the GIL), with BLAS limited to one thread
    meanwhile (through ``threadpoolctl``; the previous limit is restored).

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> k = np.ones((3, 3, 1, 1), dtype=np.float32)  # sums each 3x3 window
    >>> conv2d(x, k)[0, :, :, 0]
    array([[45., 54.],
           [81., 90.]], dtype=float32)
    >>> conv2d(x, k, padding="same").shape
    (1, 4, 4, 1)
    >>> conv2d(x, k, strides=2, padding=1)[0, :, :, 0]
    array([[10., 24.],
           [51., 90.]], dtype=float32)
    """
    x, kernel, bias, geo = geom.conv_args(x, kernel, bias, strides, padding, dilation_rate)
    xp = geom.pad_border(x, geo.pads, 0)
    n, c_in = x.shape[0], x.shape[3]
    kh, kw, _, c_out = kernel.shape
    ho, wo = geo.out_hw
    k_rows = kh * kw * c_in
    weights = kernel.reshape(k_rows, c_out)
    out = np.empty((n, ho, wo, c_out), x.dtype)
    if out.size == 0:
        return out
    windows = geom.windows(xp, geo)
    if geo.dilation[1] == 1:
        # (kw, C_in) is contiguous in xp: copy each kernel row in one run.
        windows = as_strided(
            windows,
            shape=windows.shape[:4] + (kw * c_in,),
            strides=windows.strides[:4] + (windows.strides[5],),
            writeable=False,
        )
    # Work on blocks of whole images, or of output rows of one image, whose
    # im2col matrix has about _BLOCK_BYTES: copy, then one matmul, in cache.
    # Blocks are independent: the workers (one per core) share them out.
    workers = _workers()
    rows = _BLOCK_BYTES // (k_rows * x.itemsize)
    rows = min(max(rows, _MIN_BLOCK_ROWS), _MAX_BLOCK_ROWS)
    if workers > 1:  # at least two blocks per worker, for balance
        rows = max(min(rows, -(-n * ho * wo // (2 * workers))), _MIN_BLOCK_ROWS)
    if ho * wo <= rows:
        step = rows // (ho * wo)
        blocks = [(slice(i, i + step), slice(0, ho)) for i in range(0, n, step)]
        capacity = min(step, n) * ho * wo
    else:
        step = max(rows // wo, 1)
        blocks = [(slice(i, i + 1), slice(r, r + step)) for i in range(n) for r in range(0, ho, step)]
        capacity = step * wo
    buffers = {}

    def block(index, worker):
        images, out_rows = index
        if worker not in buffers:
            buffers[worker] = np.empty((capacity, k_rows), x.dtype)
        src = windows[images, out_rows]
        count = src.shape[0] * src.shape[1] * src.shape[2]
        col = buffers[worker][:count]
        np.copyto(col.reshape(src.shape), src)
        dst = out[images, out_rows].reshape(count, c_out)
        np.matmul(col, weights, out=dst)
        if bias is not None:
            dst += bias

    _parallel_for(block, blocks, workers)
    return out


def conv2d_loop(x, kernel, bias=None, *, strides=1, padding="valid", dilation_rate=1):
    """2-D convolution written as loops over the formula, for reading.

    Same arguments, checks, result and dtype as :func:`conv2d`, computed
    one output number at a time, exactly as the course writes it::

        out[n, i, j, o] = b[o] + sum_c sum_{u < k1} sum_{v < k2}
                                 xp[n, i*s1 + u*d1, j*s2 + v*d2, c] * w[u, v, c, o]

    with ``xp`` the padded input. It is slow (seven nested loops); use it on
    tiny inputs only.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C_in)
    kernel : array_like of shape (k1, k2, C_in, C_out)
    bias : array_like of shape (C_out,), optional
    strides, padding, dilation_rate
        As in :func:`conv2d`.

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C_out)
        ``H_out = floor((H + 2p - d1 (k1 - 1) - 1) / s1) + 1`` ("same":
        ``ceil(H / s1)``).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> w = np.ones((3, 3, 1, 1))
    >>> conv2d_loop(x, w)[0, :, :, 0]
    array([[45., 54.],
           [81., 90.]])
    """
    x, w, b, geo = geom.conv_args(x, kernel, bias, strides, padding, dilation_rate)
    xp = geom.pad_border(x, geo.pads, 0)
    N, H_out, W_out, C_out = x.shape[0], geo.out_hw[0], geo.out_hw[1], w.shape[3]
    C_in, k1, k2 = x.shape[3], w.shape[0], w.shape[1]
    s1, s2 = geo.strides
    d1, d2 = geo.dilation
    out = np.zeros((N, H_out, W_out, C_out), dtype=x.dtype)
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                for o in range(C_out):
                    total = b[o] if b is not None else x.dtype.type(0)
                    for c in range(C_in):
                        for u in range(k1):
                            for v in range(k2):
                                total += xp[n, i * s1 + u * d1, j * s2 + v * d2, c] * w[u, v, c, o]
                    out[n, i, j, o] = total
    return out


def im2col(x, kernel_size, *, strides=1, padding="valid", dilation_rate=1):
    """The windows of a convolution as the columns of one matrix ("im2col").

    Column ``q = (n H_out + i) W_out + j`` holds the window of output pixel
    ``(n, i, j)``, read in the order of the kernel's ``(kh, kw, C)`` axes::

        cols[(u kw + v) C + c, q] = xp[n, i s_h + u d_h, j s_w + v d_w, c]

    with ``xp`` the padded input, so a convolution is one matrix product:
    ``kernel.reshape(kh kw C_in, C_out).T @ cols`` is :func:`conv2d`'s output
    as a ``(C_out, N H_out W_out)`` matrix. :func:`conv2d` multiplies the same
    windows (as rows, a block at a time); this function builds the whole
    matrix, for reading and for drawing.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C)
        Input images.
    kernel_size : int or (int, int)
        Window ``(kh, kw)``.
    strides, padding, dilation_rate
        As in :func:`conv2d`.

    Returns
    -------
    ndarray of shape (kh kw C, N H_out W_out)
        ``H_out = floor((H + 2p - d_h (kh - 1) - 1) / s_h) + 1`` as in
        :func:`conv2d`; padded entries are 0.

    Examples
    --------
    >>> x = np.arange(1.0, 17.0).reshape(1, 4, 4, 1)
    >>> cols = im2col(x, 3)
    >>> cols.shape                       # 3*3 taps, 2*2 windows
    (9, 4)
    >>> cols[:, 1]                       # the window of output pixel (0, 1)
    array([ 2.,  3.,  4.,  6.,  7.,  8., 10., 11., 12.])
    >>> k = np.ones((3, 3, 1, 1))
    >>> (k.reshape(9, 1).T @ cols).reshape(2, 2)
    array([[54., 63.],
           [90., 99.]])
    """
    x = geom.images_arg(x)
    window = check_int_pair(kernel_size, "kernel_size")
    dilation = check_int_pair(dilation_rate, "dilation_rate")
    geo = geom.geometry(
        x,
        window,
        check_int_pair(strides, "strides"),
        check_padding(padding),
        dilation,
        name="kernel_size",
        value=kernel_size,
        window_text=f"window d*(k-1)+1 (dilation_rate={dilation_rate!r})",
        padding_arg=padding,
    )
    x = x.astype(geom.result_dtype(x.dtype), copy=False)
    windows = geom.windows(geom.pad_border(x, geo.pads, 0), geo)
    return np.ascontiguousarray(windows.reshape(-1, window[0] * window[1] * x.shape[3]).T)


def conv2d_transpose(x, kernel, bias=None, *, strides=1, padding="valid"):
    """Transposed convolution of NHWC images, as ``keras.layers.Conv2DTranspose``.

    Every input pixel scatters a copy of the kernel, scaled by its value,
    into the output, the copies ``s`` apart; overlapping copies add up::

        full[n, i*s_h + u, j*s_w + v, o] += sum_c x[n, i, j, c] * kernel[u, v, o, c]

    and the output is ``full`` cropped (for "same") or zero-extended to the
    Keras output size. This is the gradient of :func:`conv2d` with respect to
    its input, which is how TensorFlow computes it.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C_in)
    kernel : array_like of shape (kh, kw, C_out, C_in)
        Laid out as ``Conv2DTranspose.kernel`` (note: C_out before C_in).
    bias : array_like of shape (C_out,), optional
    strides : int or (int, int), default 1
        Upsampling factor ``s``.
    padding : {"valid", "same"}, default "valid"

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C_out)
        "valid": ``H_out = H s + max(kh - s, 0)`` (that is
        ``(H - 1) s + kh`` when ``kh >= s``); "same": ``H_out = H s``, the
        full result cropped by ``floor(max(kh - s, 0) / 2)`` rows at the top.

    Examples
    --------
    >>> x = np.array([1.0, 2.0]).reshape(1, 1, 2, 1)
    >>> k = np.ones((1, 3, 1, 1))
    >>> conv2d_transpose(x, k)[0, 0, :, 0]         # 1 1 1 + shifted 2 2 2
    array([1., 3., 3., 2.])
    >>> conv2d_transpose(x, k, strides=2)[0, 0, :, 0]
    array([1., 1., 3., 2., 2.])
    >>> conv2d_transpose(x, k, strides=2, padding="same")[0, 0, :, 0]   # crop to H s = 4
    array([1., 1., 3., 2.])
    """
    x = geom.images_arg(x)
    kernel = geom.kernel_arg(kernel, "(kh, kw, C_out, C_in)")
    check_axis_size(kernel, "kernel", 3, x.shape[3], meaning="C_in, to match x.shape[-1]")
    bias = geom.bias_arg(bias, kernel.shape[2], "C_out, to match kernel.shape[2]")
    s_h, s_w = check_int_pair(strides, "strides")
    padding = check_padding(padding, explicit=False)
    dtype = geom.result_dtype(x.dtype, kernel.dtype, *(() if bias is None else (bias.dtype,)))
    x = x.astype(dtype, copy=False)
    kernel = kernel.astype(dtype, copy=False)

    n, h, w, c_in = x.shape
    kh, kw, c_out, _ = kernel.shape
    if padding == "valid":
        out_h, out_w = h * s_h + max(kh - s_h, 0), w * s_w + max(kw - s_w, 0)
        top = left = 0
    else:
        out_h, out_w = h * s_h, w * s_w
        top, left = max(kh - s_h, 0) // 2, max(kw - s_w, 0) // 2
    # Every pixel times the whole kernel: (N, H, W, kh, kw, C_out), one matmul.
    weights = kernel.transpose(3, 0, 1, 2).reshape(c_in, kh * kw * c_out)
    scattered = (x.reshape(-1, c_in) @ weights).reshape(n, h, w, kh, kw, c_out)
    full_h = max((h - 1) * s_h + kh, top + out_h)
    full_w = max((w - 1) * s_w + kw, left + out_w)
    full = np.zeros((n, full_h, full_w, c_out), dtype)
    for u in range(kh):
        for v in range(kw):
            full[:, u : u + (h - 1) * s_h + 1 : s_h, v : v + (w - 1) * s_w + 1 : s_w] += scattered[:, :, :, u, v]
    out = np.ascontiguousarray(full[:, top : top + out_h, left : left + out_w])
    if bias is not None:
        out += bias.astype(dtype, copy=False)
    return out


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------


def _taps(size, pad_before, window, stride, out_size):
    """Where each window tap reads real (un-padded) input along one axis.

    For tap ``u`` (0 <= u < window), output ``i`` reads input
    ``i * stride + u - pad_before``; returns ``(u, lo, hi)`` where outputs
    ``lo <= i < hi`` read inside ``[0, size)``, the fully-covering tap
    (``u = pad_before``, which exists for "valid" and "same") first.
    """
    taps = []
    for u in range(window):
        lo = max(0, -(-(pad_before - u) // stride))
        hi = min(out_size, (size - 1 - u + pad_before) // stride + 1)
        if hi > lo:
            taps.append((u, lo, hi))
    taps.sort(key=lambda t: (t[1], -t[2]))  # full coverage (lo=0, hi=out_size) first
    return taps


def _reduce_axis(a, axis, ufunc, taps, pad_before, stride, out=None):
    """``ufunc``-reduce along ``axis`` over the taps; padding is skipped, not read.

    Writes into ``out`` when given; otherwise returns a new array, or a view
    of ``a`` when there is a single tap.
    """

    def view(u, lo, hi):
        start = lo * stride + u - pad_before
        index = [slice(None)] * a.ndim
        index[axis] = slice(start, start + (hi - lo - 1) * stride + 1, stride)
        return a[tuple(index)]

    def part(lo, hi):
        index = [slice(None)] * a.ndim
        index[axis] = slice(lo, hi)
        return tuple(index)

    first, rest = taps[0], taps[1:]
    if not rest and out is None:
        return view(*first)
    if rest and rest[0][1:] == first[1:]:  # two full taps: one pass fills the result
        out = ufunc(view(*first), view(*rest[0]), out=out)
        rest = rest[1:]
    elif out is None:
        out = np.array(view(*first))
    else:
        np.copyto(out, view(*first))
    for u, lo, hi in rest:
        target = out[part(lo, hi)]
        ufunc(target, view(u, lo, hi), out=target)
    return out


def _pool(x, ufunc, geo: geom.Geometry) -> np.ndarray:
    """``ufunc``-reduce every window of ``x`` (unpadded) over its real entries.

    Separable: a max (or sum) over a kh x kw window is the max over kw
    columns of the max over kh rows, so kh + kw - 2 elementwise passes over
    strided views replace kh * kw; the row pass reads whole image rows
    (W * C contiguous numbers). Padded entries are never materialised: each
    tap only touches the outputs whose window holds it inside the image.
    Chunks of images are small enough to stay in the cache between the two
    passes. (One thread: TensorFlow's pooling also runs on one core for
    course-sized tensors, and memory-bound passes gain little from two.)
    """
    (kh, kw), (s_h, s_w), (ho, wo) = geo.window, geo.strides, geo.out_hw
    (top, _), (left, _) = geo.pads
    n, h, w, c = x.shape
    row_taps, col_taps = _taps(h, top, kh, s_h, ho), _taps(w, left, kw, s_w, wo)
    out = np.empty((n, ho, wo, c), x.dtype)
    step = max(1, _POOL_CHUNK_BYTES // max(x[0].nbytes, 1))
    for i in range(0, n, step):
        rows = _reduce_axis(x[i : i + step], 1, ufunc, row_taps, top, s_h)
        _reduce_axis(rows, 2, ufunc, col_taps, left, s_w, out=out[i : i + step])
    return out


def max_pool2d(x, pool_size=2, *, strides=None, padding="valid"):
    """Max pooling of NHWC images, as ``keras.layers.MaxPooling2D``.

    ``out[n, i, j, c] = max_{u < k_h, v < k_w} xp[n, i s_h + u, j s_w + v, c]``,
    where "same" padding counts as ``-inf`` (padding never wins).

    Parameters
    ----------
    x : array_like of shape (N, H, W, C)
    pool_size : int or (int, int), default 2
        Window ``(k_h, k_w)``.
    strides : int or (int, int), optional
        Step; defaults to ``pool_size`` (non-overlapping windows), as in Keras.
    padding : {"valid", "same"}, default "valid"

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C)
        "valid": ``H_out = floor((H - k_h) / s_h) + 1``; "same": ``ceil(H / s_h)``.

    See Also
    --------
    max_pool2d_loop : the same formula written with loops.

    Examples
    --------
    >>> x = np.array([[1, 2, 0, 1],
    ...               [3, 4, 1, 0],
    ...               [0, 0, 5, 6],
    ...               [1, 0, 7, 8]], dtype=np.float32).reshape(1, 4, 4, 1)
    >>> max_pool2d(x)[0, :, :, 0]
    array([[4., 1.],
           [1., 8.]], dtype=float32)
    >>> max_pool2d(x, 3, strides=1)[0, :, :, 0]
    array([[5., 6.],
           [7., 8.]], dtype=float32)
    """
    x, geo = geom.pool_args(x, pool_size, strides, padding)
    return _pool(x, np.maximum, geo)


def max_pool2d_loop(x, pool_size=2, *, strides=None, padding="valid"):
    """Max pooling written as loops over the formula, for reading.

    Same arguments, checks and result as :func:`max_pool2d`::

        out[n, i, j, c] = max_{u < k1, v < k2} xp[n, i*s1 + u, j*s2 + v, c]

    with ``xp`` padded with ``-inf`` for "same". Slow; tiny inputs only.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C)
    pool_size, strides, padding
        As in :func:`max_pool2d`.

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C)

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> max_pool2d_loop(x)[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    x, geo = geom.pool_args(x, pool_size, strides, padding)
    xp = geom.pad_border(x, geo.pads, -np.inf)
    N, C = x.shape[0], x.shape[3]
    H_out, W_out = geo.out_hw
    k1, k2 = geo.window
    s1, s2 = geo.strides
    out = np.zeros((N, H_out, W_out, C), dtype=x.dtype)
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                for c in range(C):
                    best = -np.inf
                    for u in range(k1):
                        for v in range(k2):
                            best = max(best, xp[n, i * s1 + u, j * s2 + v, c])
                    out[n, i, j, c] = best
    return out


def avg_pool2d(x, pool_size=2, *, strides=None, padding="valid"):
    """Average pooling of NHWC images, as ``keras.layers.AveragePooling2D``.

    ``out[n, i, j, c] = sum_{u, v} xp[n, i s_h + u, j s_w + v, c] / count[i, j]``

    With "valid" every window is inside the image and ``count = k_h k_w``.
    With "same", TensorFlow divides by the number of *real* (un-padded)
    entries in the window, so a border window of a 2x2 pool that holds a
    single pixel returns that pixel, not a quarter of it.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C)
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size``.
    padding : {"valid", "same"}, default "valid"

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C)
        "valid": ``H_out = floor((H - k_h) / s_h) + 1``; "same": ``ceil(H / s_h)``.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> avg_pool2d(x)[0, :, :, 0]
    array([[2.]])
    >>> avg_pool2d(x, padding="same")[0, :, :, 0]   # (2+5)/2, (6+7)/2, 8/1
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    x, geo = geom.pool_args(x, pool_size, strides, padding)
    out = _pool(x, np.add, geo)
    if geo.pads == ((0, 0), (0, 0)):
        out /= geo.window[0] * geo.window[1]
    else:
        (h, w), (ho, wo) = x.shape[1:3], geo.out_hw
        count_h = geom.window_counts(h, geo.pads[0][0], geo.window[0], geo.strides[0], ho)
        count_w = geom.window_counts(w, geo.pads[1][0], geo.window[1], geo.strides[1], wo)
        out /= (count_h[:, None] * count_w[None, :])[:, :, None].astype(out.dtype)
    return out


# --------------------------------------------------------------------------
# Upsampling and activations
# --------------------------------------------------------------------------


def _bilinear_taps(size: int, factor: int):
    """Source indices and weights for upsampling one axis by ``factor``.

    TensorFlow's ``tf.image.resize`` (half-pixel centres): output index ``i``
    samples the input at ``y = (i + 0.5) / factor - 0.5``, clamped to
    ``[0, size - 1]``, mixing entries ``floor(y)`` and ``floor(y) + 1``.
    """
    y = (np.arange(size * factor) + 0.5) / factor - 0.5
    y = np.clip(y, 0, size - 1)
    low = np.floor(y).astype(np.intp)
    high = np.minimum(low + 1, size - 1)
    return low, high, y - low


def upsample2d(x, size=2, *, interpolation="nearest"):
    """Upsample NHWC images by integer factors, as ``keras.layers.UpSampling2D``.

    Parameters
    ----------
    x : array_like of shape (N, H, W, C)
    size : int or (int, int), default 2
        Factors ``(f_h, f_w)``.
    interpolation : {"nearest", "bilinear"}, default "nearest"
        "nearest" repeats each pixel ``f_h x f_w`` times. "bilinear" follows
        ``tf.image.resize``: output pixel ``i`` samples the input at
        ``(i + 0.5) / f - 0.5`` (clamped to the image), interpolating linearly
        between the two nearest pixels along each axis.

    Returns
    -------
    ndarray of shape (N, H f_h, W f_w, C)

    Examples
    --------
    >>> x = np.array([[1.0, 2.0]]).reshape(1, 1, 2, 1)
    >>> upsample2d(x)[0, :, :, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    >>> upsample2d(x, size=(1, 2), interpolation="bilinear")[0, 0, :, 0]
    array([1.  , 1.25, 1.75, 2.  ])
    """
    x = geom.images_arg(x)
    f_h, f_w = check_int_pair(size, "size")
    interpolation = check_choice(interpolation, "interpolation", ("nearest", "bilinear"))
    x = x.astype(geom.result_dtype(x.dtype), copy=False)
    n, h, w, c = x.shape
    if interpolation == "nearest":
        out = np.empty((n, h, f_h, w, f_w, c), x.dtype)
        out[...] = x[:, :, None, :, None, :]
        return out.reshape(n, h * f_h, w * f_w, c)
    # Columns first, then rows, as TensorFlow does; along each axis
    # out = a + (b - a) * frac with a, b the two nearest input entries.
    out = x
    for axis, length, factor in ((2, w, f_w), (1, h, f_h)):
        low, high, frac = _bilinear_taps(length, factor)
        a = np.take(out, low, axis=axis)
        out = np.take(out, high, axis=axis)
        out -= a
        out *= frac.astype(x.dtype).reshape((-1,) + (1,) * (3 - axis))
        out += a
    return out


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` elementwise, as ``keras.activations.relu``.

    Parameters
    ----------
    x : array_like of any shape

    Returns
    -------
    ndarray of the same shape (floating point, see the module's dtype rule)

    Examples
    --------
    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    x = check_array(x, "x")
    dtype = geom.result_dtype(x.dtype)
    return np.maximum(x, dtype.type(0), dtype=dtype)


def softmax(x, axis=-1):
    """Softmax along ``axis``, numerically stable, as ``keras.activations.softmax``.

    ``softmax(x)_k = exp(x_k - m) / sum_j exp(x_j - m)`` with ``m = max_j x_j``;
    subtracting ``m`` changes nothing mathematically but keeps ``exp`` from
    overflowing for large logits.

    Parameters
    ----------
    x : array_like of shape (..., K, ...)
        Logits; for a segmentation network, shape (N, H, W, num_classes).
    axis : int, default -1
        The class axis.

    Returns
    -------
    ndarray of the same shape
        Non-negative, summing to 1 along ``axis``.

    Examples
    --------
    >>> softmax(np.array([1000.0, 1000.0, 1000.0 + np.log(2)]))
    array([0.25, 0.25, 0.5 ])
    """
    x = check_array(x, "x")
    axis = check_axis(axis, x.ndim)
    x = x.astype(geom.result_dtype(x.dtype), copy=False)
    z = x - x.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed stably (log-sum-exp).

    ``log_softmax(x)_k = (x_k - m) - log(sum_j exp(x_j - m))`` with
    ``m = max_j x_j``: no ``exp`` overflows and no ``log(0)`` for very
    unlikely classes. The one home of the course's log-softmax (the losses and
    :func:`seglearn.interpret.pixel_confidence` use it).

    Parameters
    ----------
    x : array_like of shape (..., K, ...)
        Logits.
    axis : int, default -1
        The class axis.

    Returns
    -------
    ndarray of the same shape
        ``<= 0``; ``exp`` of it sums to 1 along ``axis``.

    Examples
    --------
    >>> log_softmax(np.array([0.0, -2000.0]))
    array([    0., -2000.])
    """
    x = check_array(x, "x")
    axis = check_axis(axis, x.ndim)
    x = x.astype(geom.result_dtype(x.dtype), copy=False)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------
# Receptive field
# --------------------------------------------------------------------------


class ReceptiveFieldLayer(NamedTuple):
    """One row of a :class:`ReceptiveField` table; every number is an (h, w) pair.

    Attributes
    ----------
    name : str
        The layer's name (``"conv1"``, ``"pool2"``, ...).
    kernel_size, strides, dilation_rate : (int, int)
        The layer's window, step and dilation.
    jump : (int, int)
        Distance, in input pixels, between neighbouring outputs of this layer.
    size : (int, int)
        Receptive field: input pixels that one output of this layer sees.
    """

    name: str
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    dilation_rate: tuple[int, int]
    jump: tuple[int, int]
    """Distance, in input pixels, between neighbouring outputs of this layer."""
    size: tuple[int, int]
    """Receptive field: input pixels that one output of this layer sees."""


def _fmt_pair(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


class ReceptiveField(tuple):
    """Receptive-field table returned by :func:`receptive_field`.

    A tuple of :class:`ReceptiveFieldLayer` rows, one per layer. ``print`` it
    for a text table; in a notebook it shows as an HTML table; ``size`` and
    ``jump`` give the last row's values; ``pandas.DataFrame(table)`` works.

    Attributes
    ----------
    size : (int, int)
        Receptive field of one output of the whole stack.
    jump : (int, int)
        Input pixels between neighbouring outputs of the whole stack.
    """

    _columns = ("layer", "kernel", "stride", "dilation", "jump", "receptive field")

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) receptive field of one output of the whole stack."""
        return self[-1].size if self else (1, 1)

    @property
    def jump(self) -> tuple[int, int]:
        """(h, w) input-pixel distance between neighbouring outputs of the stack."""
        return self[-1].jump if self else (1, 1)

    def _cells(self):
        return [
            [r.name, _fmt_pair(r.kernel_size), _fmt_pair(r.strides), _fmt_pair(r.dilation_rate),
             _fmt_pair(r.jump), _fmt_pair(r.size)]
            for r in self
        ]

    def __str__(self) -> str:
        from .tables import format_table

        return format_table(self._cells(), self._columns, align=">")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self._columns)
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in self._cells())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _layer_spec(index: int, layer):
    """(name, kernel_size, strides, dilation_rate) pairs from a tuple or dict spec."""
    where = f"layers[{index}]"
    if isinstance(layer, dict):
        allowed = {"name", "kernel_size", "pool_size", "strides", "dilation_rate"}
        unknown = sorted(set(layer) - allowed)
        if unknown or ("kernel_size" in layer) == ("pool_size" in layer):
            raise ValueError(
                f"`{where}` must be a dict with exactly one of 'kernel_size' or 'pool_size' and "
                f"optionally 'strides', 'dilation_rate', 'name'. Received: {where}={describe(layer)}"
            )
        key = "kernel_size" if "kernel_size" in layer else "pool_size"
        kernel = check_int_pair(layer[key], f"{where}[{key!r}]")
        # Keras: a pooling layer's strides default to its pool size, a conv's to 1.
        default_strides = kernel if key == "pool_size" else 1
        strides = check_int_pair(layer.get("strides", default_strides), f"{where}['strides']")
        dilation = check_int_pair(layer.get("dilation_rate", 1), f"{where}['dilation_rate']")
        name = str(layer.get("name", index + 1))
        return name, kernel, strides, dilation
    if isinstance(layer, (tuple, list)) and len(layer) in (2, 3):
        kernel = check_int_pair(layer[0], f"{where}[0] (kernel_size)")
        strides = check_int_pair(layer[1], f"{where}[1] (strides)")
        dilation = check_int_pair(layer[2] if len(layer) == 3 else 1, f"{where}[2] (dilation_rate)")
        return str(index + 1), kernel, strides, dilation
    raise TypeError(
        f"`{where}` must be a (kernel_size, strides[, dilation_rate]) tuple or a dict. "
        f"Received: {where}={describe(layer)}"
    )


def receptive_field(layers) -> ReceptiveField:
    """Receptive field and jump after each layer of a stack of convolutions and pools.

    Padding does not change either number. With ``k_eff = d (k - 1) + 1``,
    starting from ``r_0 = 1`` and ``j_0 = 1`` (one input pixel)::

        r_l = r_{l-1} + (k_eff_l - 1) * j_{l-1}     (receptive field size)
        j_l = j_{l-1} * s_l                         (jump: input pixels between
                                                     neighbouring outputs)

    Upsampling layers are not covered.

    Parameters
    ----------
    layers : sequence of tuple or dict
        One entry per conv or pooling layer, input side first: a tuple
        ``(kernel_size, strides)`` or ``(kernel_size, strides, dilation_rate)``,
        or a dict with ``"kernel_size"`` (or ``"pool_size"``, whose
        ``"strides"`` default to the pool size as in Keras) and optionally
        ``"strides"`` (default 1), ``"dilation_rate"`` (default 1) and
        ``"name"``. Each size is an int or an (h, w) pair.

    Returns
    -------
    ReceptiveField
        A tuple of :class:`ReceptiveFieldLayer` rows (name, kernel_size,
        strides, dilation_rate, jump, size; each number an (h, w) pair) that
        prints as a table; ``.size`` is the receptive field of the whole stack.

    Examples
    --------
    Two 3x3 convolutions, a 2x2 pool, two more 3x3 convolutions (a U-Net
    encoder's first two levels):

    >>> table = receptive_field([(3, 1), (3, 1), {"pool_size": 2, "name": "pool"},
    ...                          (3, 1), (3, 1)])
    >>> print(table)
    layer  kernel  stride  dilation  jump  receptive field
    -----  ------  ------  --------  ----  ---------------
        1       3       1         1     1                3
        2       3       1         1     1                5
     pool       2       2         1     2                6
        4       3       1         1     2               10
        5       3       1         1     2               14
    >>> table.size
    (14, 14)
    """
    if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
        raise TypeError(
            "`layers` must be a sequence of (kernel_size, strides[, dilation_rate]) tuples or dicts. "
            f"Received: layers={describe(layers)}"
        )
    rows = []
    size, jump = (1, 1), (1, 1)
    for index, layer in enumerate(layers):
        name, kernel, strides, dilation = _layer_spec(index, layer)
        size = tuple(r + (d * (k - 1)) * j for r, k, d, j in zip(size, kernel, dilation, jump))
        jump = tuple(j * s for j, s in zip(jump, strides))
        rows.append(ReceptiveFieldLayer(name, kernel, strides, dilation, jump, size))
    return ReceptiveField(rows)

