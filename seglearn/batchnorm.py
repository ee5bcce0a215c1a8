r"""Batch normalisation by hand: the forward pass in training and inference mode, and the backward pass.

For a channels-last input ``x`` of shape ``(N, ..., C)`` (a batch of images
``(N, H, W, C)`` or of feature vectors ``(N, C)``), batch normalisation
treats every channel ``c`` on its own, over the ``M`` values it has in the
batch (``M = N H W`` for images):

.. math::

    \mu_c = \frac{1}{M} \sum_m x_{m c}, \qquad
    \sigma^2_c = \frac{1}{M} \sum_m (x_{m c} - \mu_c)^2, \qquad
    \hat x_{m c} = \frac{x_{m c} - \mu_c}{\sqrt{\sigma^2_c + \epsilon}}, \qquad
    y_{m c} = \gamma_c \hat x_{m c} + \beta_c

where ``m`` runs over every axis but the last. ``sigma^2`` is the *biased*
variance (divided by ``M``, not ``M - 1``), as Keras computes it;
``gamma`` (scale) and ``beta`` (offset) are learned like any weight.

**Training and inference.** In training mode (``training=True``) the layer
normalises with the batch's own ``mu`` and ``sigma^2`` and updates its moving
statistics, exponential moving averages of them:

.. math::

    \text{moving} \leftarrow \text{momentum} \cdot \text{moving}
        + (1 - \text{momentum}) \cdot \text{batch}

In inference mode (``training=False``) it normalises with the moving
statistics instead, so a prediction does not depend on the other images in
the batch. **What momentum does**: the moving statistics start at 0 (mean)
and 1 (variance); after ``k`` training batches their start value still
weighs ``momentum**k``, so Keras's default ``momentum=0.99`` averages over
roughly the last ``1 / (1 - momentum) = 100`` batches and takes a few
hundred of them to forget its start. A model trained for few steps can
therefore predict well with ``training=True`` and badly with
``training=False``. (PyTorch's ``momentum=0.1`` is the weight of the *new*
batch, ``1 -`` Keras's, and its running variance is the unbiased one.)

:func:`batch_norm_forward` is the NumPy reference of
``keras.layers.BatchNormalization(epsilon=eps, momentum=momentum)`` called
with ``training=True`` or ``False``, and :func:`batch_norm_backward` of what
``tf.GradientTape`` computes through it in training mode; the tests compare
both with Keras.

This module imports only NumPy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import check_array, check_axis_size, check_bool, check_not_empty, check_real, check_same_shape

__all__ = ["BatchNormOutput", "batch_norm_backward", "batch_norm_forward"]

#: Keras's defaults for ``keras.layers.BatchNormalization``.
DEFAULT_EPSILON = 1e-3
DEFAULT_MOMENTUM = 0.99


class BatchNormOutput(NamedTuple):
    """What :func:`batch_norm_forward` returns; unpack it or read its fields.

    Attributes
    ----------
    y : ndarray of shape (N, ..., C)
        The normalised, scaled and shifted output.
    mean, var : ndarray of shape (C,)
        The statistics that normalised ``x``: the batch's (biased variance)
        in training mode, the moving ones in inference mode.
    moving_mean, moving_var : ndarray of shape (C,)
        The moving statistics after the call: updated in training mode,
        unchanged (a copy) in inference mode.
    """

    y: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    moving_mean: np.ndarray
    moving_var: np.ndarray


def _check_input(x):
    """``x`` as a float array of shape (N, ..., C) with N >= 1; its dtype and axes to reduce."""
    x = check_array(x, "x", ndim=(2, 3, 4, 5), layout="(N, C), (N, H, W, C) or similar: (N, ..., C)")
    check_not_empty(x, "x")
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    return x, tuple(range(x.ndim - 1))


def _check_per_channel(value, name, x, *, default=None, low=None):
    """A per-channel vector of shape (C,) in ``x``'s dtype (``default`` when None)."""
    channels = x.shape[-1]
    if value is None:
        return np.full(channels, default, dtype=x.dtype)
    v = check_array(value, name, ndim=1, layout="(C,)")
    check_axis_size(v, name, 0, channels, meaning="C, to match x.shape[-1]")
    if low is not None and np.any(v < low):
        raise ValueError(
            f"`{name}` must be >= {low:g} (a variance). Received: {name} with minimum {float(v.min()):g}"
        )
    return v.astype(x.dtype)


def batch_norm_forward(
    x,
    gamma,
    beta,
    *,
    eps=DEFAULT_EPSILON,
    training=True,
    moving_mean=None,
    moving_var=None,
    momentum=DEFAULT_MOMENTUM,
):
    r"""Batch normalisation over every axis but the last, as Keras's ``BatchNormalization``.

    Training mode (``training=True``), with ``mu`` and ``sigma^2`` the mean and
    the biased variance of each channel over the batch's ``M`` values:

    .. math::

        y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta, \qquad
        \text{moving} \leftarrow \text{momentum} \cdot \text{moving}
            + (1 - \text{momentum}) \cdot \text{batch}

    for the mean and the variance alike. Inference mode (``training=False``):
    the same formula with the moving mean and variance in place of ``mu`` and
    ``sigma^2``; nothing is updated. ``moving_mean`` and ``moving_var``
    default to 0 and 1, the values of a freshly built Keras layer.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) or (N, C)
        Channels last; any shape ``(N, ..., C)`` with 2 to 5 axes and
        ``N >= 1``. Float arrays keep their dtype (float32 stays float32, as
        in Keras); others are computed in float64.
    gamma, beta : ndarray of shape (C,)
        Scale and offset (Keras's ``gamma`` and ``beta``; a new layer has 1 and 0).
    eps : float
        ``epsilon > 0``, added to the variance; Keras's default is ``1e-3``.
    training : bool
        Normalise with the batch's statistics and update the moving ones
        (``True``), or with the moving ones (``False``).
    moving_mean, moving_var : ndarray of shape (C,), optional
        The layer's moving statistics before the call (``moving_var >= 0``).
    momentum : float
        In ``[0, 1]``; Keras's default is 0.99. 0 replaces the moving statistics
        by the batch's, 1 never changes them.

    Returns
    -------
    BatchNormOutput
        ``(y, mean, var, moving_mean, moving_var)``: ``y`` of ``x``'s shape;
        the statistics used, of shape ``(C,)`` (the batch's in training mode);
        the moving statistics after the call.

    Notes
    -----
    Keras uses the batch statistics only when the call has ``training=True``
    *and* the layer is trainable: a frozen layer (``layer.trainable = False``,
    as in fine-tuning) normalises with its moving statistics even inside
    ``fit``. That is ``training=False`` here.

    Examples
    --------
    One channel, values 0, 2, 0, 2: ``mu = 1``, ``sigma^2 = 1``; with
    ``eps = 3``, ``sqrt(sigma^2 + eps) = 2`` and ``x_hat = -0.5, 0.5, ...``;
    ``gamma = 2`` and ``beta = 1`` give ``y = 0, 2, 0, 2``:

    >>> x = np.array([[0.0], [2.0], [0.0], [2.0]])
    >>> out = batch_norm_forward(x, [2.0], [1.0], eps=3.0, momentum=0.9)
    >>> out.y.ravel(), out.mean, out.var
    (array([0., 2., 0., 2.]), array([1.]), array([1.]))
    >>> out.moving_mean, out.moving_var     # 0.9 * 0 + 0.1 * 1, 0.9 * 1 + 0.1 * 1
    (array([0.1]), array([1.]))

    What momentum does: the same batch ``k`` times from the start value 0
    leaves ``moving_mean = (1 - momentum**k) mu``, here ``1 - 0.5**3 = 0.875``:

    >>> state = {"moving_mean": None, "moving_var": None}
    >>> for _ in range(3):
    ...     out = batch_norm_forward(x, [1.0], [0.0], momentum=0.5, **state)
    ...     state = {"moving_mean": out.moving_mean, "moving_var": out.moving_var}
    >>> out.moving_mean
    array([0.875])

    Inference mode uses the moving statistics (``(0 - 0.875) / sqrt(1 + 3) = -0.4375``):

    >>> batch_norm_forward(x, [1.0], [0.0], eps=3.0, training=False,
    ...                    moving_mean=[0.875], moving_var=[1.0]).y.ravel()
    array([-0.4375,  0.5625, -0.4375,  0.5625])
    """
    x, axes = _check_input(x)
    gamma = _check_per_channel(gamma, "gamma", x)
    beta = _check_per_channel(beta, "beta", x)
    eps = check_real(eps, "eps", low=0, low_inclusive=False)
    training = check_bool(training, "training")
    moving_mean = _check_per_channel(moving_mean, "moving_mean", x, default=0.0)
    moving_var = _check_per_channel(moving_var, "moving_var", x, default=1.0, low=0)
    momentum = check_real(momentum, "momentum", low=0, high=1)

    if training:
        mean = x.mean(axis=axes)
        var = ((x - mean) ** 2).mean(axis=axes)  # biased: divided by M, as Keras
        new_moving_mean = moving_mean * momentum + mean * (1 - momentum)
        new_moving_var = moving_var * momentum + var * (1 - momentum)
    else:
        mean, var = moving_mean, moving_var
        new_moving_mean, new_moving_var = moving_mean.copy(), moving_var.copy()
    x_hat = (x - mean) / np.sqrt(var + eps)
    y = gamma * x_hat + beta
    return BatchNormOutput(y, mean, var, new_moving_mean, new_moving_var)


def batch_norm_backward(x, gamma, grad_output, *, eps=DEFAULT_EPSILON):
    r"""Gradients of training-mode batch normalisation with respect to ``x``, ``gamma`` and ``beta``.

    In training mode ``y = gamma x_hat + beta`` with
    ``x_hat = (x - mu) / sqrt(sigma^2 + eps)``, and ``mu`` and ``sigma^2``
    depend on every ``x`` of the channel. With ``g = dL/dy`` and the means
    taken over the ``M`` values of each channel (every axis but the last):

    .. math::

        \frac{\partial L}{\partial \beta_c} = \sum_m g_{m c}, \qquad
        \frac{\partial L}{\partial \gamma_c} = \sum_m g_{m c} \hat x_{m c},

        \frac{\partial L}{\partial x_{m c}} = \frac{\gamma_c}{\sqrt{\sigma^2_c + \epsilon}}
            \left( g_{m c} - \overline{g}_c - \hat x_{m c} \, \overline{g \hat x}_c \right)

    Derivation: ``dL/dx_hat = gamma g``; ``x`` reaches ``x_hat`` directly (factor
    ``1 / sqrt(sigma^2 + eps)``), through ``mu`` (which subtracts the mean of
    ``dL/dx_hat``) and through ``sigma^2`` (which subtracts ``x_hat`` times the
    mean of ``x_hat dL/dx_hat``). So ``dx`` has zero mean over each channel
    (shifting a channel's inputs changes nothing after normalisation) and, as
    ``eps`` goes to 0, is orthogonal to ``x_hat`` (then scaling them changes
    nothing either).

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) or (N, C)
        The forward input (any ``(N, ..., C)``, as in :func:`batch_norm_forward`).
    gamma : ndarray of shape (C,)
        The forward scale (``beta`` is not needed).
    grad_output : ndarray of the shape of ``x``
        ``dL/dy``.
    eps : float
        The forward ``epsilon > 0``.

    Returns
    -------
    dx : ndarray of the shape of ``x``
    dgamma : ndarray of shape (C,)
    dbeta : ndarray of shape (C,)

    Notes
    -----
    In inference mode ``mu`` and ``sigma^2`` are constants (the moving
    statistics), the layer is a per-channel affine map and
    ``dx = gamma / sqrt(moving_var + eps) * g``; the last two terms above
    vanish.

    Examples
    --------
    ``x = 0, 2`` (``mu = 1``, ``sigma^2 = 1``), ``eps = 3``: ``x_hat = -0.5, 0.5``.
    With ``g = 1, 0``: ``mean(g) = 0.5``, ``mean(g x_hat) = -0.25``, so
    ``dx = 0.5 (1 - 0.5 - 0.125, 0 - 0.5 + 0.125) = (0.1875, -0.1875)``:

    >>> x = np.array([[0.0], [2.0]])
    >>> dx, dgamma, dbeta = batch_norm_backward(x, [1.0], [[1.0], [0.0]], eps=3.0)
    >>> dx.ravel(), dgamma, dbeta
    (array([ 0.1875, -0.1875]), array([-0.5]), array([1.]))

    A gradient equal for every value (``L = sum(y)``) moves nothing but ``beta``:

    >>> batch_norm_backward(x, [1.0], [[1.0], [1.0]], eps=3.0)[0].ravel()
    array([0., 0.])
    """
    x, axes = _check_input(x)
    gamma = _check_per_channel(gamma, "gamma", x)
    g = check_array(grad_output, "grad_output")
    check_same_shape(g, "grad_output", x, "x")
    eps = check_real(eps, "eps", low=0, low_inclusive=False)
    dtype = np.result_type(x.dtype, g.dtype)
    x, g, gamma = x.astype(dtype, copy=False), g.astype(dtype, copy=False), gamma.astype(dtype, copy=False)

    mean = x.mean(axis=axes)
    inv_std = 1 / np.sqrt(((x - mean) ** 2).mean(axis=axes) + eps)
    x_hat = (x - mean) * inv_std
    dbeta = g.sum(axis=axes)
    dgamma = (g * x_hat).sum(axis=axes)
    dx = gamma * inv_std * (g - g.mean(axis=axes) - x_hat * (g * x_hat).mean(axis=axes))
    return dx, dgamma, dbeta
