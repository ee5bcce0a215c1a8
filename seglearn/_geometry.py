"""Where a window goes: padding, output sizes and the checked arguments of the NumPy ops.

Shared by :mod:`seglearn.ops` (forward passes) and :mod:`seglearn.backprop`
(their backward passes), so both read the same rule. For a window of ``k``
taps with dilation ``d`` and stride ``s`` along an axis of ``H`` entries:

- the window spans ``k_eff = d (k - 1) + 1`` entries;
- ``"same"`` padding (TensorFlow's rule) gives ``H_out = ceil(H / s)`` and pads
  ``P = max((H_out - 1) s + k_eff - H, 0)`` entries, ``floor(P / 2)`` before and
  the rest after;
- the output has ``H_out = floor((H + P - k_eff) / s) + 1`` entries.

The public forms are :func:`seglearn.ops.same_padding`,
:func:`seglearn.ops.conv_output_size` and :func:`seglearn.ops.pad2d`. This module
imports only NumPy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from seglearn._validation import (
    check_array,
    check_axis_size,
    check_int_pair,
    check_not_empty,
    check_padding,
    check_positive_int,
    check_window_fits,
)


def same_pad(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def pads_for(padding, size_hw, window_hw, strides_hw):
    """((top, bottom), (left, right)) for a checked ``padding``."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(same_pad(n, k, s) for n, k, s in zip(size_hw, window_hw, strides_hw))
    return tuple((p, p) for p in padding)


def pad_border(x: np.ndarray, pads, value) -> np.ndarray:
    """Pad H and W of a contiguous NHWC array with ``value`` (no copy if no padding)."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return np.ascontiguousarray(x)
    n, h, w, c = x.shape
    out = np.empty((n, h + top + bottom, w + left + right, c), x.dtype)
    # Fill only the border, then copy the image once.
    out[:, :top] = value
    out[:, top + h :] = value
    out[:, top : top + h, :left] = value
    out[:, top : top + h, left + w :] = value
    out[:, top : top + h, left : left + w] = x
    return out


def result_dtype(*dtypes) -> np.dtype:
    """The ops' result dtype: ``np.result_type(<input dtypes>, np.float32)``."""
    return np.result_type(*dtypes, np.float32)


def images_arg(x, name: str = "x") -> np.ndarray:
    """A non-empty (N, H, W, C) array with H, W >= 1."""
    x = check_not_empty(check_array(x, name, ndim=4, layout="(N, H, W, C)"), name)
    check_positive_int(x.shape[1], f"{name}.shape[1] (height)")
    check_positive_int(x.shape[2], f"{name}.shape[2] (width)")
    return x


def kernel_arg(kernel, layout: str) -> np.ndarray:
    """A 4-d kernel with kh, kw >= 1; ``layout`` names its axes in the error."""
    kernel = check_array(kernel, "kernel", ndim=4, layout=layout)
    check_positive_int(kernel.shape[0], "kernel.shape[0] (kh)")
    check_positive_int(kernel.shape[1], "kernel.shape[1] (kw)")
    return kernel


def bias_arg(bias, channels: int, meaning: str):
    """None, or a (C_out,) bias with ``channels`` entries."""
    if bias is None:
        return None
    bias = check_array(bias, "bias", ndim=1, layout="(C_out,)")
    check_axis_size(bias, "bias", 0, channels, meaning=meaning)
    return bias


class Geometry(NamedTuple):
    """Where a sliding window goes: the checked arguments and the output size."""

    pads: tuple  # ((top, bottom), (left, right))
    strides: tuple  # (s_h, s_w)
    dilation: tuple  # (d_h, d_w)
    window: tuple  # (kh, kw)
    out_hw: tuple  # (H_out, W_out)


def geometry(x, window, strides, padding, dilation, *, name, value, window_text, padding_arg) -> Geometry:
    """Pads and output size for a (kh, kw) window sliding over ``x``."""
    h, w = x.shape[1:3]
    span = tuple(d * (k - 1) + 1 for k, d in zip(window, dilation))
    pads = pads_for(padding, (h, w), span, strides)
    padded = (h + sum(pads[0]), w + sum(pads[1]))
    input_text = "input x" if padding == "valid" else f"input x padded with padding={padding_arg!r}"
    check_window_fits(span, padded, name, value, window_text=window_text, input_text=input_text)
    out_hw = tuple((n - k) // s + 1 for n, k, s in zip(padded, span, strides))
    return Geometry(pads, strides, dilation, window, out_hw)


def conv_args(x, kernel, bias, strides, padding, dilation_rate):
    """Check conv2d's arguments; return x, kernel, bias (in the result dtype) and the geometry."""
    x = images_arg(x)
    kernel = kernel_arg(kernel, "(kh, kw, C_in, C_out)")
    check_axis_size(kernel, "kernel", 2, x.shape[3], meaning="C_in, to match x.shape[-1]")
    bias = bias_arg(bias, kernel.shape[3], "C_out, to match kernel.shape[-1]")
    strides = check_int_pair(strides, "strides")
    dilation = check_int_pair(dilation_rate, "dilation_rate")
    geo = geometry(
        x,
        kernel.shape[:2],
        strides,
        check_padding(padding),
        dilation,
        name="kernel",
        value=kernel,
        window_text=f"window d*(k-1)+1 (dilation_rate={dilation_rate!r})",
        padding_arg=padding,
    )
    dtype = result_dtype(x.dtype, kernel.dtype, *(() if bias is None else (bias.dtype,)))
    x = x.astype(dtype, copy=False)
    kernel = kernel.astype(dtype, copy=False)
    bias = None if bias is None else bias.astype(dtype, copy=False)
    return x, kernel, bias, geo


def pool_args(x, pool_size, strides, padding):
    x = images_arg(x)
    pool = check_int_pair(pool_size, "pool_size")
    strides = pool if strides is None else check_int_pair(strides, "strides")
    geo = geometry(
        x,
        pool,
        strides,
        check_padding(padding, explicit=False),
        (1, 1),
        name="pool_size",
        value=pool_size,
        window_text="window",
        padding_arg=padding,
    )
    return x.astype(result_dtype(x.dtype), copy=False), geo


def windows(xp: np.ndarray, geo: Geometry) -> np.ndarray:
    """Read-only view of every window: shape (N, H_out, W_out, kh, kw, C).

    ``view[n, i, j, u, v, c] = xp[n, i*s_h + u*d_h, j*s_w + v*d_w, c]`` with no
    copy (``xp`` must be C-contiguous). The window axes come before the channel
    axis so that, with ``d_w = 1``, each kernel row ``(kw, C)`` is one
    contiguous run of memory, which makes copying the view fast.
    """
    n, h, w, c = xp.shape
    # The strides of a C-contiguous array, worked out from its shape: NumPy may
    # report any stride for an axis of length 1 (``x[None, ..., None]`` has
    # stride 0 there), and the merged (kw, C) row below relies on these.
    sc = xp.itemsize
    sw, sh, sn = c * sc, w * c * sc, h * w * c * sc
    (ho, wo), (kh, kw) = geo.out_hw, geo.window
    (s_h, s_w), (d_h, d_w) = geo.strides, geo.dilation
    return as_strided(
        xp,
        shape=(n, ho, wo, kh, kw, c),
        strides=(sn, s_h * sh, s_w * sw, d_h * sh, d_w * sw, sc),
        writeable=False,
    )


def window_counts(size, pad_before, window, stride, out_size):
    """How many real (un-padded) entries each window covers along one axis."""
    start = np.arange(out_size) * stride - pad_before
    return np.minimum(start + window, size) - np.maximum(start, 0)
