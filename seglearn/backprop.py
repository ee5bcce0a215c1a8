"""Backpropagation by hand: the gradients of convolution, pooling and the loss.

For a layer ``y = f(x, w)`` inside a network with scalar loss ``L``, the
backward pass receives ``grad_output = dL/dy`` (one number per output, the
shape of ``y``) and returns ``dL/dx`` (to pass on to the layer below) and
``dL/dw`` (for the optimizer). Each function here is the NumPy reference of
what ``tf.GradientTape`` computes for the matching Keras layer, and is tested
equal to it; the forward passes are those of :mod:`seglearn.ops`, with the
same arguments, checks and padding rules.

:func:`numerical_gradient` and :func:`gradient_check` verify any gradient
against centred finite differences, the way every backward pass should be
tested before it is trusted.

This module imports only NumPy.
"""

from __future__ import annotations

import numpy as np

from . import _geometry as geom
from . import losses, ops
from ._validation import check_array, check_real, describe

__all__ = [
    "avg_pool2d_backward",
    "conv2d_backward",
    "gradient_check",
    "max_pool2d_backward",
    "numerical_gradient",
    "softmax_cross_entropy_backward",
]


def _check_grad_output(grad_output, expected_shape, dtype, forward):
    """``grad_output`` must have the shape of the forward output."""
    g = check_array(grad_output, "grad_output", ndim=4, layout="(N, H_out, W_out, C)")
    if g.shape != tuple(expected_shape):
        raise ValueError(
            f"`grad_output` must have the shape of the output of {forward} for these "
            f"arguments, {tuple(expected_shape)}. Received: grad_output={describe(g)}"
        )
    return g.astype(np.result_type(dtype, g.dtype), copy=False)


def _taps(geo):
    """For each window offset (u, v): the slices of the padded input it reads.

    Output pixel ``(i, j)`` reads padded input pixel
    ``(i s_h + u d_h, j s_w + v d_w)`` at offset ``(u, v)``, so over all
    outputs the offset reads rows ``u d_h, u d_h + s_h, ...`` (``H_out`` of
    them), and likewise columns.
    """
    (kh, kw), (s_h, s_w), (d_h, d_w), (ho, wo) = geo.window, geo.strides, geo.dilation, geo.out_hw
    for u in range(kh):
        rows = slice(u * d_h, u * d_h + (ho - 1) * s_h + 1, s_h)
        for v in range(kw):
            cols = slice(v * d_w, v * d_w + (wo - 1) * s_w + 1, s_w)
            yield u, v, rows, cols


def _crop(xp, x_shape, pads):
    """Undo the padding: the gradient of the padded border is dropped."""
    (top, _), (left, _) = pads
    return xp[:, top : top + x_shape[1], left : left + x_shape[2], :]


def conv2d_backward(x, kernel, grad_output, *, strides=1, padding="valid", dilation_rate=1):
    r"""Gradients of :func:`seglearn.ops.conv2d` with respect to its input, kernel and bias.

    The forward pass is
    ``y[n, i, j, o] = b[o] + sum_{u, v, c} xp[n, i s_h + u d_h, j s_w + v d_w, c] K[u, v, c, o]``
    with ``xp`` the padded input. With ``g = dL/dy``, the chain rule gives

    .. math::

        \frac{\partial L}{\partial b_o} &= \sum_{n, i, j} g_{n i j o} \\
        \frac{\partial L}{\partial K_{u v c o}} &= \sum_{n, i, j}
            xp_{n, i s_h + u d_h, j s_w + v d_w, c} \; g_{n i j o} \\
        \frac{\partial L}{\partial xp_{n, i s_h + u d_h, j s_w + v d_w, c}} &\mathrel{+}=
            \sum_o K_{u v c o} \; g_{n i j o}

    The input gradient is a sum over every (output pixel, kernel tap) pair
    that read a given input pixel (a "transposed convolution" of ``g``);
    the rows and columns that came from padding are dropped at the end. The
    code loops over the ``kh x kw`` kernel taps; for each tap, all output
    pixels are handled at once by a strided slice and a matrix product.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C_in)
        The forward input.
    kernel : ndarray of shape (kh, kw, C_in, C_out)
        The forward kernel (the bias is not needed).
    grad_output : ndarray of shape (N, H_out, W_out, C_out)
        ``dL/dy``, the shape of ``conv2d(x, kernel, ...)``.
    strides, padding, dilation_rate
        As in :func:`seglearn.ops.conv2d` (``"valid"``, ``"same"`` with
        TensorFlow's split, or explicit zero padding).

    Returns
    -------
    dx : ndarray of shape (N, H, W, C_in)
    dkernel : ndarray of shape (kh, kw, C_in, C_out)
    dbias : ndarray of shape (C_out,)

    Examples
    --------
    With ``L = sum(conv2d(x, k))`` (``g`` all ones), ``dL/dk[u, v]`` is the
    sum of the input pixels that tap ``(u, v)`` reads:

    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> k = np.ones((2, 2, 1, 1))
    >>> dx, dk, db = conv2d_backward(x, k, np.ones((1, 2, 2, 1)))
    >>> dk[:, :, 0, 0]            # 0+1+3+4, 1+2+4+5, 3+4+6+7, 4+5+7+8
    array([[ 8., 12.],
           [20., 24.]])
    >>> dx[0, :, :, 0]            # how many windows cover each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> db
    array([4.])
    """
    x, kernel, _, geo = geom.conv_args(x, kernel, None, strides, padding, dilation_rate)
    n, c_out = x.shape[0], kernel.shape[3]
    g = _check_grad_output(grad_output, (n, *geo.out_hw, c_out), x.dtype, "conv2d")
    x, kernel = x.astype(g.dtype, copy=False), kernel.astype(g.dtype, copy=False)
    xp = geom.pad_border(x, geo.pads, 0)
    dxp = np.zeros_like(xp)
    dkernel = np.empty_like(kernel)
    g_rows = g.reshape(-1, c_out)  # (N H_out W_out, C_out)
    for u, v, rows, cols in _taps(geo):
        patch = xp[:, rows, cols, :]  # (N, H_out, W_out, C_in): what tap (u, v) read
        dkernel[u, v] = patch.reshape(-1, patch.shape[-1]).T @ g_rows
        dxp[:, rows, cols, :] += g @ kernel[u, v].T
    dbias = g.sum(axis=(0, 1, 2))
    return _crop(dxp, x.shape, geo.pads), dkernel, dbias


def max_pool2d_backward(x, grad_output, pool_size=2, *, strides=None, padding="valid"):
    r"""Gradient of :func:`seglearn.ops.max_pool2d` with respect to its input.

    Each output is the maximum of its window, so its gradient goes entirely
    to the input pixel that won, and nothing to the others:

    .. math::

        \frac{\partial L}{\partial x_{n, i s_h + u, j s_w + v, c}} \mathrel{+}=
            g_{n i j c} \cdot [\,(u, v) = \operatorname{argmax}_{(u', v')}
            xp_{n, i s_h + u', j s_w + v', c}\,]

    With overlapping windows (``strides < pool_size``) a pixel that wins
    several windows receives the sum of their gradients.

    Ties: when several pixels of a window share the maximum, TensorFlow (CPU)
    gives the whole gradient to the first of them in row-major order (the
    top-most, then left-most), not a share to each; this function does the
    same. With ``"same"`` padding the padded positions never win (they count
    as ``-inf``, as TensorFlow ignores them), even when every real pixel of
    the window is negative. The tests check both against ``tf.GradientTape``
    through ``tf.nn.max_pool2d`` and ``keras.layers.MaxPooling2D`` (float32
    and float64) on inputs full of ties.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C)
        The forward input.
    grad_output : ndarray of shape (N, H_out, W_out, C)
        ``dL/dy``, the shape of ``max_pool2d(x, ...)``.
    pool_size, strides, padding
        As in :func:`seglearn.ops.max_pool2d`.

    Returns
    -------
    dx : ndarray of shape (N, H, W, C)

    Examples
    --------
    >>> x = np.array([[1.0, 2.0], [4.0, 3.0]]).reshape(1, 2, 2, 1)
    >>> max_pool2d_backward(x, np.full((1, 1, 1, 1), 5.0))[0, :, :, 0]
    array([[0., 0.],
           [5., 0.]])

    A tie: the top-right 4 comes first in row-major order and takes it all:

    >>> x = np.array([[1.0, 4.0], [4.0, 3.0]]).reshape(1, 2, 2, 1)
    >>> max_pool2d_backward(x, np.full((1, 1, 1, 1), 5.0))[0, :, :, 0]
    array([[0., 5.],
           [0., 0.]])
    """
    x, geo = geom.pool_args(x, pool_size, strides, padding)
    g = _check_grad_output(grad_output, (x.shape[0], *geo.out_hw, x.shape[3]), x.dtype, "max_pool2d")
    xp = geom.pad_border(x.astype(g.dtype, copy=False), geo.pads, -np.inf)
    # Find the winning tap of every window: scan the taps in row-major order and
    # keep the first maximum (a later tap must be strictly larger to take over).
    best = winner = None
    for k, (_, _, rows, cols) in enumerate(_taps(geo)):
        patch = xp[:, rows, cols, :]
        if best is None:
            best, winner = patch.copy(), np.zeros(patch.shape, dtype=np.intp)
        else:
            better = patch > best
            best[better] = patch[better]
            winner[better] = k
    dxp = np.zeros_like(xp)
    for k, (_, _, rows, cols) in enumerate(_taps(geo)):
        dxp[:, rows, cols, :] += np.where(winner == k, g, 0)
    return _crop(dxp, x.shape, geo.pads)


def avg_pool2d_backward(x, grad_output, pool_size=2, *, strides=None, padding="valid"):
    r"""Gradient of :func:`seglearn.ops.avg_pool2d` with respect to its input.

    Each output is the mean of the ``count`` real pixels of its window, so
    each of them receives ``1 / count`` of the output's gradient:

    .. math::

        \frac{\partial L}{\partial x_{n, i s_h + u, j s_w + v, c}} \mathrel{+}=
            \frac{g_{n i j c}}{\mathrm{count}_{i j}}

    ``count = k_h k_w`` with ``"valid"``; with ``"same"`` it is the number of
    un-padded pixels in the window, as TensorFlow (and
    :func:`seglearn.ops.avg_pool2d`) divide by.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C)
        The forward input (only its shape and dtype matter).
    grad_output : ndarray of shape (N, H_out, W_out, C)
        ``dL/dy``, the shape of ``avg_pool2d(x, ...)``.
    pool_size, strides, padding
        As in :func:`seglearn.ops.avg_pool2d`.

    Returns
    -------
    dx : ndarray of shape (N, H, W, C)

    Examples
    --------
    >>> x = np.zeros((1, 2, 2, 1))
    >>> avg_pool2d_backward(x, np.full((1, 1, 1, 1), 8.0))[0, :, :, 0]
    array([[2., 2.],
           [2., 2.]])
    """
    x, geo = geom.pool_args(x, pool_size, strides, padding)
    g = _check_grad_output(grad_output, (x.shape[0], *geo.out_hw, x.shape[3]), x.dtype, "avg_pool2d")
    (h, w), (ho, wo) = x.shape[1:3], geo.out_hw
    count_h = geom.window_counts(h, geo.pads[0][0], geo.window[0], geo.strides[0], ho)
    count_w = geom.window_counts(w, geo.pads[1][0], geo.window[1], geo.strides[1], wo)
    share = g / (count_h[:, None] * count_w[None, :])[:, :, None].astype(g.dtype)
    dxp = np.zeros((x.shape[0], h + sum(geo.pads[0]), w + sum(geo.pads[1]), x.shape[3]), g.dtype)
    for _, _, rows, cols in _taps(geo):
        dxp[:, rows, cols, :] += share
    return _crop(dxp, x.shape, geo.pads)


def softmax_cross_entropy_backward(y_true, logits):
    r"""Mean softmax cross-entropy over pixels and its gradient with respect to the logits.

    With ``p = softmax(z)`` over the class axis and ``M`` pixels,

    .. math::

        L = \frac{1}{M} \sum_i \left(\log \sum_c e^{z_{i c}} - z_{i, y_i}\right),
        \qquad
        \frac{\partial L}{\partial z_{i c}} = \frac{p_{i c} - [c = y_i]}{M}

    the classic "prediction minus one-hot target" gradient. ``L`` equals
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` and the
    gradient equals ``tf.GradientTape``'s.

    Parameters
    ----------
    y_true : int ndarray of shape (N, H, W)
        Class ids in ``[0, C)``.
    logits : ndarray of shape (N, H, W, C)
        Raw scores (any shape ``(..., C)`` whose leading axes match ``y_true``).

    Returns
    -------
    loss : float
    grad : ndarray of the shape of ``logits``

    Examples
    --------
    One pixel, two classes with equal logits (``p = (0.5, 0.5)``), true class 0:
    ``L = log 2`` and ``dL/dz = (0.5 - 1, 0.5 - 0) = (-0.5, 0.5)``.

    >>> loss, grad = softmax_cross_entropy_backward([0], [[0.0, 0.0]])
    >>> round(loss, 6), grad
    (0.693147, array([[-0.5,  0.5]]))
    """
    loss = losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
    logits = np.asarray(logits)
    labels = np.asarray(y_true).astype(np.intp).reshape(logits.shape[:-1])
    probs = ops.softmax(logits, axis=-1)
    one_hot = np.eye(logits.shape[-1], dtype=probs.dtype)[labels]
    return loss, (probs - one_hot) / labels.size


def numerical_gradient(f, x, eps=1e-6):
    r"""Gradient of a scalar function by centred finite differences, in float64.

    .. math:: \frac{\partial f}{\partial x_k} \approx
              \frac{f(x + \varepsilon e_k) - f(x - \varepsilon e_k)}{2 \varepsilon}

    The error is ``O(eps^2)`` (times the third derivative) plus rounding of
    about ``|f| * 1e-16 / eps``; ``eps = 1e-6`` balances the two in float64.
    Costs two calls of ``f`` per entry of ``x``: for small arrays only.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; called with float64 arrays of ``x``'s shape.
    x : array_like
        The point, any shape. It is copied to float64 and never modified.
    eps : float
        Step ``> 0``.

    Returns
    -------
    ndarray of float64, shape of ``x``

    Examples
    --------
    >>> numerical_gradient(lambda v: np.sum(v**2), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    if not callable(f):
        raise TypeError(f"`f` must be a callable returning a number. Received: f={describe(f)}")
    x = check_array(x, "x", dtype=np.float64).copy()
    eps = check_real(eps, "eps", low=0, low_inclusive=False)

    def value(point):
        out = f(point)
        if np.ndim(out) != 0:
            raise ValueError(
                f"`f` must return a scalar (the loss), but returned {describe(out)}"
            )
        return float(out)

    grad = np.empty_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + eps
        plus = value(x)
        flat[k] = saved - eps
        minus = value(x)
        flat[k] = saved
        grad_flat[k] = (plus - minus) / (2 * eps)
    return grad


def gradient_check(f, x, analytic_grad, eps=1e-6, floor=1e-2):
    r"""Largest relative error between an analytic gradient and a numerical one.

    .. math::

        \max_k \frac{|a_k - n_k|}{\max(|a_k|, |n_k|, \; \text{floor} \cdot s)},
        \qquad s = \max_j \max(|a_j|, |n_j|)

    with ``a = analytic_grad`` and ``n = numerical_gradient(f, x, eps)``.
    Each entry is compared relative to its own size, except that entries
    smaller than ``floor`` times the largest one are compared relative to
    ``floor * s``: the finite differences carry an absolute rounding error of
    about ``|f| * 1e-16 / eps`` (about ``1e-9`` here), which would make the
    relative error of a nearly-zero entry meaningless. When both gradients
    are exactly zero the error is 0.

    In float64 a correct gradient gives about ``1e-8`` or less; an error of
    order ``1e-3`` or more means a bug.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : array_like
        The point at which to compare.
    analytic_grad : array_like, shape of ``x``
        The gradient to check, ``df/dx`` at ``x``.
    eps : float
        Finite-difference step (see :func:`numerical_gradient`).
    floor : float
        Fraction of the largest gradient entry below which entries are
        compared on that absolute scale, in ``(0, 1]``.

    Returns
    -------
    float
        The maximum relative error.

    Examples
    --------
    >>> x = np.array([1.0, -2.0, 0.5])
    >>> gradient_check(lambda v: np.sum(v**3), x, 3 * x**2) < 1e-8
    True
    >>> gradient_check(lambda v: np.sum(v**3), x, 2 * x**2) > 0.3     # wrong
    True
    """
    x = check_array(x, "x", dtype=np.float64)
    analytic = check_array(analytic_grad, "analytic_grad", dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(
            "`analytic_grad` must have the shape of `x`. "
            f"Received: analytic_grad.shape={analytic.shape}, x.shape={x.shape}"
        )
    floor = check_real(floor, "floor", low=0, high=1, low_inclusive=False)
    numeric = numerical_gradient(f, x, eps)
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    if size.size == 0 or size.max() == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric) / np.maximum(size, floor * size.max())))
