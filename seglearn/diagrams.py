"""Diagrams that explain the course's machinery, drawn from the real objects.

Each function draws one picture from the thing it explains and returns a
:class:`matplotlib.figure.Figure` (built directly, not through ``pyplot``; in
Jupyter it shows as the last value of a cell):

==================================  ==================================================
:func:`plot_unet_architecture`      the U of a Keras U-Net (or FCN): levels, filters,
                                    spatial sizes, pooling, upsampling, skips
:func:`plot_im2col`                 a convolution's windows as the columns of one
                                    matrix (:func:`seglearn.ops.im2col`)
:func:`plot_receptive_field`        how the receptive field grows over a stack of
                                    layers (:func:`seglearn.ops.receptive_field`)
:func:`plot_transposed_conv_stamping`  every input pixel stamps a scaled kernel; the
                                    stamps add up (:func:`seglearn.ops.conv2d_transpose`)
:func:`plot_seven_steps`            the seven steps of a supervised project
==================================  ==================================================

The numbers in every picture come from :mod:`seglearn.ops` or from the model's
layers; nothing is typed in. The artists that carry the explained values have a
``gid`` (``"box:enc0"``, ``"skip"``, ``"rf"``, ...), so tests can read them back.
The functions are re-exported by :mod:`seglearn.viz`.

Matplotlib and NumPy only: :func:`plot_unet_architecture` imports Keras inside
the function, so importing this module does not import TensorFlow.
"""

from __future__ import annotations

import math
import textwrap
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from . import ops
from ._validation import check_array, check_choice, check_int_pair, check_padding, describe

__all__ = [
    "SEVEN_STEPS",
    "plot_im2col",
    "plot_receptive_field",
    "plot_seven_steps",
    "plot_transposed_conv_stamping",
    "plot_unet_architecture",
]

_HIGHLIGHT = "tab:orange"
_HIGHLIGHT_FILL = (1.0, 0.85, 0.6)


def _cells(ax, values, *, fmt="{:g}", cmap="Blues", vmin=None, vmax=None, fontsize=9, muted=None):
    """Draw a matrix as light coloured cells with their values written in them.

    ``values`` may hold NaN for empty cells (left white). ``muted`` marks cells
    whose value is written in grey (padding). The image artist holds ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if vmin is None:
        vmin = min(float(finite.min()), 0.0) if finite.size else 0.0
    if vmax is None:
        vmax = float(finite.max()) if finite.size else 1.0
    span = max(vmax - vmin, 1e-12)
    # Keep the colours light (the upper part of the map unused) so black text reads.
    if cmap == "RdBu_r":  # symmetric about 0, and light enough for black text
        bound = max(abs(vmin), abs(vmax), 1e-12) * 1.8
        vmin, vmax = -bound, bound
    elif cmap == "Blues":
        vmax = vmin + 2.2 * span
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    rows, cols = values.shape
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            grey = muted is not None and muted[i, j]
            ax.text(j, i, fmt.format(v + 0.0), ha="center", va="center", fontsize=fontsize,  # -0 reads 0
                    color="0.55" if grey else "black")
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="0.75", lw=0.6)
    ax.tick_params(which="both", length=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)


def _outline(ax, top, left, height, width, *, color=_HIGHLIGHT, lw=2.5, ls="-", gid=None):
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, ec=color, lw=lw, ls=ls,
                           gid=gid, zorder=3))


# --------------------------------------------------------------------------- seven steps

#: The seven steps of every supervised learning project, as chapter 06 follows
#: them: (title, what the step does).
SEVEN_STEPS = (
    ("Load and split", "train / validation / test,\nbefore anything else"),
    ("Preprocess and augment", "scale; flip image and\nmask together"),
    ("Build the model", "U-Net: encoder, decoder,\nskip connections"),
    ("Train with validation", "minimise the loss;\nwatch the validation loss"),
    ("Validate and tune", "compare settings on\nvalidation data only"),
    ("Test", "once, at the end, on\nimages no decision saw"),
    ("Predict and evaluate", "label maps; IoU and Dice\nper class; worst images"),
)


def plot_seven_steps(current=None):
    """The seven steps of a supervised project as a flow diagram, one highlighted.

    Seven boxes left to right (:data:`SEVEN_STEPS`: load and split, preprocess
    and augment, build, train, validate and tune, test, predict and evaluate),
    with an arrow back from "Validate and tune" to "Build the model" (the
    tuning loop, on validation data) and a note that the test split is used
    once.

    Parameters
    ----------
    current : int or str, optional
        The step to highlight: its number ``1 .. 7`` or its title (any case),
        e.g. ``4`` or ``"Train with validation"``. Default: none.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; each box's title is a text artist with gid ``"step:<n>"``
        reading ``"<n>. <title>"`` (long titles wrapped onto two lines); the
        highlighted box's patch has gid
        ``"current"``.

    Examples
    --------
    >>> fig = plot_seven_steps(current=3)
    >>> ax = fig.axes[0]
    >>> [" ".join(t.get_text().split()) for t in ax.texts if (t.get_gid() or "").startswith("step:")][:3]
    ['1. Load and split', '2. Preprocess and augment', '3. Build the model']
    >>> [p.get_gid() for p in ax.patches].count("current")
    1
    """
    titles = [title for title, _ in SEVEN_STEPS]
    if current is not None:
        if isinstance(current, str):
            lowered = [t.lower() for t in titles]
            current = lowered.index(check_choice(current, "current", lowered)) + 1
        elif isinstance(current, (int, np.integer)) and not isinstance(current, bool) and 1 <= current <= 7:
            current = int(current)
        else:
            raise ValueError(
                f"`current` must be a step number 1..7 or one of the titles {titles}. "
                f"Received: current={describe(current)}"
            )
    fig = Figure(figsize=(13.0, 2.9), layout="constrained")
    ax = fig.add_subplot()
    width, gap, height = 1.62, 0.38, 1.25
    for n, (title, detail) in enumerate(SEVEN_STEPS, start=1):
        left = (n - 1) * (width + gap)
        is_current = n == current
        ax.add_patch(FancyBboxPatch(
            (left, 0), width, height, boxstyle="round,pad=0.02,rounding_size=0.12",
            fc=_HIGHLIGHT_FILL if is_current else "white", ec=_HIGHLIGHT if is_current else "0.35",
            lw=2.5 if is_current else 1.2, gid="current" if is_current else f"box:{n}"))
        ax.text(left + width / 2, height - 0.3, textwrap.fill(f"{n}. {title}", 17), ha="center", va="center",
                fontsize=9, fontweight="bold", gid=f"step:{n}")
        ax.text(left + width / 2, 0.36, detail, ha="center", va="center", fontsize=7.5, color="0.25")
        if n < 7:
            ax.annotate("", xy=(left + width + gap, height / 2), xytext=(left + width, height / 2),
                        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1.3))
    build, tune = 3, 5
    ax.annotate("", xy=((build - 1) * (width + gap) + width / 2, height + 0.02),
                xytext=((tune - 1) * (width + gap) + width / 2, height + 0.02),
                arrowprops=dict(arrowstyle="-|>", color="tab:blue", lw=1.4, connectionstyle="arc3,rad=0.35"),
                gid="loop")
    ax.text((build + tune - 2) / 2 * (width + gap) + width / 2, height + 0.78,
            "tune: change a setting, train again (decide on validation data)",
            ha="center", va="center", fontsize=8, color="tab:blue")
    test_left = 5 * (width + gap)
    ax.text(test_left + width / 2, -0.22, "the test split: used once", ha="center", va="center",
            fontsize=8, color="tab:red")
    ax.set_xlim(-0.1, 7 * width + 6 * gap + 0.1)
    ax.set_ylim(-0.45, height + 1.0)
    ax.set_axis_off()
    return fig


# --------------------------------------------------------------------------- im2col


def plot_im2col(image_shape=(4, 4), kernel=(3, 3), stride=1, padding=0, *, window=None):
    """A convolution's windows become the columns of one matrix (im2col).

    The input is the ``H x W`` grid of pixels numbered ``1 .. H W`` (padding
    drawn as grey zeros). Three panels: the (padded) input with one window
    outlined; the im2col matrix of :func:`seglearn.ops.im2col`, of shape
    ``(kh kw, H_out W_out)``, with that window's column outlined; the output
    grid, each pixel labelled with its column number ``q = i W_out + j``.
    A convolution is then one matrix product,
    ``out = w_row @ cols`` with ``w_row = kernel.reshape(1, kh kw)``
    (one input and one output channel), reshaped to ``(H_out, W_out)``, where
    ``H_out = floor((H + 2p - kh) / s) + 1``.

    Parameters
    ----------
    image_shape : int or (int, int), default (4, 4)
        ``(H, W)`` of the input, at most 8 x 8.
    kernel : int or (int, int), default (3, 3)
        ``(kh, kw)`` of the window.
    stride : int or (int, int), default 1
    padding : {"valid", "same"}, int or (int, int), default 0
        As in :func:`seglearn.ops.conv2d`.
    window : (int, int), optional
        Output pixel ``(i, j)`` whose window and column are outlined; default
        ``(0, 1)`` (the second window, which shows the stride), or ``(0, 0)``
        when there is one column only.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``"input"``, ``"im2col"`` and ``"output"``; the im2col
        axes' image holds the matrix; the outlines have gid ``"window"`` and
        ``"column"``.

    Examples
    --------
    >>> fig = plot_im2col((4, 4), (3, 3))
    >>> matrix = fig.axes[1].images[0].get_array()
    >>> matrix.shape, matrix[:, 1].astype(int).tolist()
    ((9, 4), [2, 3, 4, 6, 7, 8, 10, 11, 12])
    """
    h, w = check_int_pair(image_shape, "image_shape")
    if h > 8 or w > 8:
        raise ValueError(f"`image_shape` must be at most (8, 8) to stay readable. Received: image_shape={image_shape!r}")
    kh, kw = check_int_pair(kernel, "kernel")
    strides = check_int_pair(stride, "stride")
    pad = check_padding(padding)
    x = np.arange(1.0, h * w + 1).reshape(1, h, w, 1)
    cols = ops.im2col(x, (kh, kw), strides=strides, padding=pad)
    if pad == "valid":
        pads = ((0, 0), (0, 0))
    elif pad == "same":
        pads = (ops.same_padding(h, kh, strides[0]), ops.same_padding(w, kw, strides[1]))
    else:
        pads = ((pad[0], pad[0]), (pad[1], pad[1]))
    (top, bottom), (left, right) = pads
    xp = ops.pad2d(x, pads)[0, :, :, 0]
    ho = (xp.shape[0] - kh) // strides[0] + 1
    wo = (xp.shape[1] - kw) // strides[1] + 1
    if window is None:
        window = (0, 1) if wo > 1 else (0, 0)
    i, j = check_int_pair(window, "window", minimum=0)
    if i >= ho or j >= wo:
        raise ValueError(f"`window` must be an output pixel (i, j) with i < {ho} and j < {wo}. Received: window={window!r}")
    q = i * wo + j
    muted = np.ones(xp.shape, bool)
    muted[top:top + h, left:left + w] = False

    fig = Figure(figsize=(3.0 + 0.42 * (xp.shape[1] + cols.shape[1] + wo), 1.2 + 0.4 * max(cols.shape[0], xp.shape[0])),
                 layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[xp.shape[1], cols.shape[1], max(wo, 3)])
    for ax, label in zip(axes, ("input", "im2col", "output")):
        ax.set_label(label)
    vmax = float(h * w)
    _cells(axes[0], xp, fmt="{:.0f}", vmax=vmax, muted=muted)
    _outline(axes[0], i * strides[0], j * strides[1], kh, kw, gid="window")
    if any((top, bottom, left, right)):
        _outline(axes[0], top, left, h, w, color="0.3", lw=1.2, ls="--")
    padded = f" (padded to {xp.shape[0]} x {xp.shape[1]})" if xp.shape != (h, w) else ""
    axes[0].set_title(f"input {h} x {w}{padded}\nwindow of output ({i}, {j})", fontsize=9)

    _cells(axes[1], cols, fmt="{:.0f}", vmax=vmax, muted=cols == 0, fontsize=8)
    _outline(axes[1], 0, q, cols.shape[0], 1, gid="column")
    axes[1].set_title(f"im2col: {cols.shape[0]} x {cols.shape[1]}\n(kh kw taps) x (H_out W_out windows)",
                      fontsize=9)
    axes[1].set_xticks(np.arange(cols.shape[1]), [str(c) for c in range(cols.shape[1])], fontsize=7)
    taps = [f"({u},{v})" for u in range(kh) for v in range(kw)]
    axes[1].set_yticks(np.arange(cols.shape[0]), taps, fontsize=7)
    axes[1].set_xlabel("column q = i W_out + j", fontsize=8)

    positions = np.arange(ho * wo, dtype=np.float64).reshape(ho, wo)
    _cells(axes[2], positions, fmt="q={:.0f}", cmap="Greys", vmin=0, vmax=10 * ho * wo, fontsize=8)
    _outline(axes[2], i, j, 1, 1, gid="output pixel")
    axes[2].set_title(f"output {ho} x {wo}:\npixel q = column q", fontsize=9)
    fig.suptitle(f"convolution = one matrix product: w_row (1 x {kh * kw}) @ im2col ({cols.shape[0]} x "
                 f"{cols.shape[1]}) = 1 x {cols.shape[1]}, reshaped to {ho} x {wo}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- receptive field


def plot_receptive_field(layers):
    """How far one output sees: the receptive field after each layer of a stack.

    With ``r_0 = 1`` and ``j_0 = 1`` (one input pixel), layer ``l`` with
    kernel ``k_l``, stride ``s_l`` and dilation ``d_l`` gives

    ``r_l = r_{l-1} + (k_l - 1) d_l j_{l-1}``, with ``j_{l-1} = prod_{i<l} s_i``

    (:func:`seglearn.ops.receptive_field`). One row per layer, the input at the
    bottom, over the input pixels (rows of the image; the height component of
    each pair): the bar is the field of output 0 of that layer; the dots are
    its ``k_l`` taps, each the centre of a field of the layer below, ``d_l
    j_{l-1}`` input pixels apart, which is why strides and dilation make the
    field grow faster. Each row is annotated with ``r_l``.

    Parameters
    ----------
    layers : sequence of tuple or dict
        What :func:`seglearn.ops.receptive_field` takes: ``(kernel_size,
        strides)``, ``(kernel_size, strides, dilation_rate)`` or dicts with
        ``"kernel_size"`` or ``"pool_size"``, input side first.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the annotations of ``r_l`` are text artists with gid
        ``"rf"`` reading ``"r = <r_l>"`` (``"r = <h>x<w>"`` when the two differ),
        one per layer in order.

    Examples
    --------
    >>> fig = plot_receptive_field([(3, 1), (3, 1), {"pool_size": 2}, (3, 1)])
    >>> [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "rf"]
    ['r = 3', 'r = 5', 'r = 6', 'r = 10']
    """
    table = ops.receptive_field(layers)
    if not table:
        raise ValueError(f"`layers` must hold at least one layer. Received: layers={describe(layers)}")
    sizes = [1] + [row.size[0] for row in table]
    jumps = [1] + [row.jump[0] for row in table]
    total = sizes[-1]
    fig = Figure(figsize=(min(max(6.5, 4.0 + 0.22 * total), 13.0), 1.1 + 0.55 * (len(table) + 1)),
                 layout="constrained")
    ax = fig.add_subplot()
    ax.barh(0, 1, left=-0.5, height=0.5, color="0.85", ec="0.4")
    ax.text(-1.0, 0, "input pixel", ha="right", va="center", fontsize=8)
    for level, row in enumerate(table, start=1):
        r_prev, j_prev, r = sizes[level - 1], jumps[level - 1], sizes[level]
        k, d = row.kernel_size[0], row.dilation_rate[0]
        ax.barh(level, r, left=-0.5, height=0.5, color=(0.75, 0.85, 1.0), ec="tab:blue")
        centre = (r - 1) / 2
        taps = np.arange(k) * d * j_prev + (r_prev - 1) / 2
        for t in taps:  # each tap reads one output of the layer below
            ax.plot([centre, t], [level - 0.25, level - 0.75], color="tab:blue", lw=0.8, alpha=0.7)
        ax.plot(taps, np.full(k, level - 0.75), "o", color="tab:blue", markersize=4)
        ax.plot([centre], [level - 0.25], "o", color="tab:orange", markersize=5)
        kind = "pool" if row.name.startswith("pool") else "layer " + row.name
        spec = f"{kind}: k {_pair_text(row.kernel_size)}, s {_pair_text(row.strides)}"
        if row.dilation_rate != (1, 1):
            spec += f", d {_pair_text(row.dilation_rate)}"
        ax.text(-1.0, level, spec, ha="right", va="center", fontsize=8)
        ax.text(r - 0.5 + 0.4, level, f"r = {_pair_text(row.size)}", ha="left", va="center", fontsize=9,
                fontweight="bold", gid="rf")
    if total <= 80:
        ax.set_xticks(np.arange(-0.5, total, 1), minor=True)
        ax.grid(axis="x", which="minor", color="0.85", lw=0.5)
    ax.set_xlim(-0.5 - 0.14 * total - 4.0, total + 0.06 * total + 2.5)
    ax.set_ylim(-0.6, len(table) + 0.6)
    ax.set_yticks([])
    ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= total])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("input pixels (one row of the image)\nbar: what one output of the layer sees;  "
                  "dots: its k taps, d x (product of the strides below) pixels apart", fontsize=8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"receptive field of one output: {_pair_text(table.size)} input pixels after {len(table)} layers",
                 fontsize=10)
    return fig


def _pair_text(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


# --------------------------------------------------------------------------- transposed convolution


def plot_transposed_conv_stamping(x, kernel, stride=2, *, padding="valid"):
    """Transposed convolution as stamping: each input pixel adds a scaled kernel.

    Input pixel ``(i, j)`` adds ``x[i, j] * kernel`` into the output with its
    top-left corner at ``(i s, j s)``; where stamps overlap they add up::

        full[i s + u, j s + v] += x[i, j] * kernel[u, v]

    The last panel is :func:`seglearn.ops.conv2d_transpose` of ``x`` (one
    channel in and out), which equals the sum of the stamps, cropped for
    ``padding="same"`` (the crop is outlined on the sum). Output size
    ``H_out = H s + max(kh - s, 0)`` ("valid") or ``H s`` ("same").

    Parameters
    ----------
    x : array_like of shape (H, W)
        A small input (``H W <= 16`` pixels).
    kernel : array_like of shape (kh, kw)
        The kernel to stamp.
    stride : int or (int, int), default 2
        Distance ``s`` between neighbouring stamps (the upsampling factor).
    padding : {"valid", "same"}, default "valid"

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``"input"``, ``"kernel"``, ``"stamp i,j"`` (one per input
        pixel, its image holds the stamp on the full grid, NaN elsewhere),
        ``"sum"`` (the stamps added) and ``"output"`` (the image holds
        ``conv2d_transpose``'s result).

    Examples
    --------
    >>> fig = plot_transposed_conv_stamping([[1.0, 2.0]], [[1.0, 1.0, 1.0]], stride=(1, 2))
    >>> out = next(ax for ax in fig.axes if ax.get_label() == "output")
    >>> out.images[0].get_array().tolist()     # 1 1 1 and 2 2 2 shifted by 2, overlap 1 + 2
    [[1.0, 1.0, 3.0, 2.0, 2.0]]
    """
    x = check_array(x, "x", ndim=2, layout="(H, W)", dtype=np.float64)
    kernel = check_array(kernel, "kernel", ndim=2, layout="(kh, kw)", dtype=np.float64)
    if x.size == 0 or x.size > 16:
        raise ValueError(f"`x` must have 1 to 16 pixels to draw one stamp each. Received: x={describe(x)}")
    if kernel.size == 0:
        raise ValueError(f"`kernel` must not be empty. Received: kernel={describe(kernel)}")
    s_h, s_w = check_int_pair(stride, "stride")
    padding = check_padding(padding, explicit=False)
    out = ops.conv2d_transpose(x[None, :, :, None], kernel[:, :, None, None], strides=(s_h, s_w),
                               padding=padding)[0, :, :, 0]
    (h, w), (kh, kw) = x.shape, kernel.shape
    top = max(kh - s_h, 0) // 2 if padding == "same" else 0
    left = max(kw - s_w, 0) // 2 if padding == "same" else 0
    full_h = max((h - 1) * s_h + kh, top + out.shape[0])
    full_w = max((w - 1) * s_w + kw, left + out.shape[1])
    stamps = np.full((h, w, full_h, full_w), np.nan)
    for i in range(h):
        for j in range(w):
            stamps[i, j, i * s_h:i * s_h + kh, j * s_w:j * s_w + kw] = x[i, j] * kernel
    total = np.nansum(stamps, axis=(0, 1))
    bound = max(float(np.abs(total).max()), float(np.abs(x).max()), float(np.abs(kernel).max()), 1e-12)
    style = dict(cmap="RdBu_r", vmin=-bound, vmax=bound, fontsize=8)

    ratios = [max(w, kw) + 1] + [full_w] * w + [full_w, full_w]
    cell = min(0.42, 13.0 / sum(ratios))  # inches per output cell, at most 13 in wide
    fig = Figure(figsize=(cell * sum(ratios) + 0.3 * len(ratios), 0.5 + h * (cell * full_h + 0.55)),
                 layout="constrained")
    grid = fig.add_gridspec(2 * h, w + 3, width_ratios=ratios)
    ax_x = fig.add_subplot(grid[:h, 0], label="input")
    _cells(ax_x, x, **style)
    ax_x.set_title(f"input x, {h} x {w}", fontsize=9)
    ax_k = fig.add_subplot(grid[h:, 0], label="kernel")
    _cells(ax_k, kernel, **style)
    ax_k.set_title(f"kernel {kh} x {kw}", fontsize=9)
    for i in range(h):
        for j in range(w):
            ax = fig.add_subplot(grid[2 * i:2 * i + 2, 1 + j], label=f"stamp {i},{j}")
            _cells(ax, stamps[i, j], **style)
            _outline(ax, i * s_h, j * s_w, kh, kw, lw=1.5)
            ax.set_title(f"x[{i},{j}] = {x[i, j]:g}\nstamped at ({i * s_h}, {j * s_w})", fontsize=8)
    ax_sum = fig.add_subplot(grid[:, w + 1], label="sum")
    _cells(ax_sum, total, **style)
    if padding == "same":
        _outline(ax_sum, top, left, out.shape[0], out.shape[1], color="0.2", lw=1.5, ls="--", gid="crop")
    ax_sum.set_title(f"sum of the {h * w} stamps\n{full_h} x {full_w}", fontsize=9)
    ax_out = fig.add_subplot(grid[:, w + 2], label="output")
    _cells(ax_out, out, **style)
    ax_out.set_title(f"conv2d_transpose, stride {_pair_text((s_h, s_w))}\n"
                     f"padding '{padding}': {out.shape[0]} x {out.shape[1]}", fontsize=9)
    return fig


# --------------------------------------------------------------------------- U-Net architecture


class _Box(NamedTuple):
    name: str
    kind: str  # "input", "encoder", "bottleneck", "decoder", "output"
    factor: Fraction  # input size / this box's size
    convs: list  # [(filters, (kh, kw))]
    channels: int  # channels leaving the box


class _Edge(NamedTuple):
    source: int
    target: int
    kind: str  # "down", "up", "skip", "head"
    label: str


def _not_encoder_decoder(model, why):
    raise ValueError(
        "`model` must be an encoder-decoder built like seglearn.models.unet or fcn (convolutions, "
        f"pooling down, upsampling back to the input size, Concatenate skips); {why}. "
        f"Received: model={getattr(model, 'name', describe(model))!r}"
    )


def _architecture(model):
    """(boxes, edges) of a U-Net or FCN read from its layers, input side first."""
    import keras
    from keras import layers as kl

    from ._validation import check_model

    check_model(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1 or len(model.output_shape) != 4:
        _not_encoder_decoder(model, f"it must map one (N, H, W, C) input to one (N, H, W, K) output, "
                                    f"but its output shape is {model.output_shape}")
    boxes, edges = [], []
    box_of, factor_of = {}, {}

    def new_box(kind, factor, channels, name=""):
        boxes.append(_Box(name, kind, factor, [], channels))
        return len(boxes) - 1

    def add_conv(b, layer):
        box = boxes[b]
        box.convs.append((int(layer.filters), tuple(layer.kernel_size)))
        prefix = layer.name.split("_")[0]
        if prefix == type(layer).__name__.lower():  # a name Keras made up ("conv2d_7"): name by role later
            prefix = "?"
        boxes[b] = box._replace(channels=int(layer.filters), name=box.name or prefix)

    input_layer = model.inputs[0]._keras_history.operation  # not in model.layers for a Sequential
    box_of[input_layer.name] = new_box("input", Fraction(1), int(model.inputs[0].shape[-1]), "input")
    factor_of[input_layer.name] = Fraction(1)
    output_layer = model.outputs[0]._keras_history.operation
    for layer in model.layers:
        if isinstance(layer, kl.InputLayer):
            continue
        nodes = layer._inbound_nodes
        parents = [node.operation for node in nodes[0].parent_nodes] if nodes else []
        if isinstance(layer, keras.Model):
            _not_encoder_decoder(model, f"layer {layer.name!r} is a nested model")
        if isinstance(layer, (kl.Flatten, kl.Dense, kl.Reshape, kl.GlobalAveragePooling2D, kl.GlobalMaxPooling2D)):
            _not_encoder_decoder(model, f"layer {layer.name!r} ({type(layer).__name__}) does not keep the image layout")
        if len(parents) != 1 and not isinstance(layer, kl.Concatenate):
            _not_encoder_decoder(model, f"layer {layer.name!r} ({type(layer).__name__}) merges "
                                        f"{len(parents)} branches; only Concatenate skips are drawn")
        parent = parents[0].name
        b, factor = box_of[parent], factor_of[parent]
        conv = isinstance(layer, (kl.Conv2D, kl.SeparableConv2D)) and not isinstance(layer, kl.Conv2DTranspose)
        if isinstance(layer, (kl.MaxPooling2D, kl.AveragePooling2D)) or (conv and max(layer.strides) > 1):
            step = int(layer.strides[0])
            what = "max pool" if isinstance(layer, kl.MaxPooling2D) else (
                "avg pool" if isinstance(layer, kl.AveragePooling2D) else "strided conv")
            window = layer.pool_size if not conv else layer.kernel_size
            factor = factor * step
            target = new_box("encoder", factor, int(layer.output.shape[-1]))
            edges.append(_Edge(b, target, "down", f"{what} {_window_text(window)}"))
            if conv:
                add_conv(target, layer)
            b = target
        elif isinstance(layer, (kl.Conv2DTranspose, kl.UpSampling2D)):
            step = int(layer.strides[0] if isinstance(layer, kl.Conv2DTranspose) else layer.size[0])
            factor = factor / step
            if isinstance(layer, kl.Conv2DTranspose):
                label = f"up-conv {_window_text(layer.kernel_size)}, stride {step}"
            else:
                label = f"{layer.interpolation} resize x{step}"
            target = new_box("decoder", factor, int(layer.output.shape[-1]))
            edges.append(_Edge(b, target, "up", label))
            b = target
        elif isinstance(layer, kl.Concatenate):
            levels = {factor_of[p.name] for p in parents}
            if len(levels) != 1:
                _not_encoder_decoder(model, f"layer {layer.name!r} concatenates maps of different sizes")
            channels = []
            for p in parents[1:]:
                skip_from = box_of[p.name]
                if skip_from == b:
                    _not_encoder_decoder(model, f"layer {layer.name!r} concatenates a map with itself")
                channels.append(int(p.output.shape[-1]))
                edges.append(_Edge(skip_from, b, "skip", f"copy {int(p.output.shape[-1])} ch"))
            # Convolutions between the upsampling and the concatenation belong to the up step.
            up = next((k for k, e in enumerate(edges) if e.target == b and e.kind == "up"), None)
            if up is not None and boxes[b].convs:
                extra = ", then " + ", ".join(f"conv {_window_text(k)}, {f}" for f, k in boxes[b].convs)
                edges[up] = edges[up]._replace(label=edges[up].label + extra)
                boxes[b] = boxes[b]._replace(convs=[], name="")
            boxes[b] = boxes[b]._replace(channels=int(layer.output.shape[-1]))
        elif conv:
            if layer is output_layer and tuple(layer.kernel_size) == (1, 1) and boxes[b].convs:
                target = new_box("output", factor, int(layer.filters), "logits")
                edges.append(_Edge(b, target, "head", f"1x1 conv, {layer.filters} filters"))
                b = target
            else:
                if boxes[b].kind == "input":  # the first block gets its own box
                    target = new_box("encoder", factor, 0)
                    edges.append(_Edge(b, target, "in", ""))
                    b = target
                add_conv(b, layer)
        box_of[layer.name], factor_of[layer.name] = b, factor

    out_box = box_of[output_layer.name]
    if factor_of[output_layer.name] != 1:
        _not_encoder_decoder(model, f"its output is at 1/{factor_of[output_layer.name]} of the input size")
    if not any(e.kind == "down" for e in edges):
        _not_encoder_decoder(model, "it has no pooling or strided layer (no encoder)")
    if boxes[out_box].kind != "output":
        boxes[out_box] = boxes[out_box]._replace(kind="output", name=boxes[out_box].name or "logits")
    deepest = max(range(len(boxes)), key=lambda k: (boxes[k].factor, -k))
    for k, box in enumerate(boxes):
        if k == deepest and box.kind != "output":
            boxes[k] = box._replace(kind="bottleneck")
        elif box.kind == "encoder" and any(e.source == k and e.kind == "up" for e in edges):
            boxes[k] = box._replace(kind="bottleneck")
    # Boxes are named after their layers ("enc0_conv1" -> "enc0") when those names are
    # distinct, else by their role and level ("enc0", "bottleneck", "dec0").
    names = [box.name for box in boxes]
    for k, box in enumerate(boxes):
        if not box.name or box.name == "?" or names.count(box.name) > 1:
            level = int(round(math.log2(box.factor)))
            role = {"encoder": f"enc{level}", "decoder": f"dec{level}", "output": "logits"}.get(box.kind, box.kind)
            boxes[k] = box._replace(name=role)
    return boxes, edges


def _window_text(window) -> str:
    return f"{window[0]}x{window[1]}"


def _convs_text(convs) -> str:
    """``"conv 3x3: 16, 16"``; mixed kernels as ``"conv 3x3: 16, 1x1: 5"``."""
    parts, last = [], None
    for filters, kernel in convs:
        parts.append(str(filters) if kernel == last else f"{_window_text(kernel)}: {filters}")
        last = kernel
    return "conv " + ", ".join(parts) if parts else "(no conv)"


def _size_text(input_hw, factor):
    h, w = input_hw
    if h is None or w is None:
        return "H x W" if factor == 1 else f"H/{factor} x W/{factor}"
    return f"{int(h / factor)} x {int(w / factor)}"


def plot_unet_architecture(model):
    """Draw a U-Net (or an FCN) from its layers: levels, filters, sizes, skips.

    The model's layers are read in order: each ``Conv2D`` adds its filters to
    the current box; a ``MaxPooling2D`` (or a strided convolution) opens a box
    one level down, a ``Conv2DTranspose`` or ``UpSampling2D`` one level up; a
    ``Concatenate`` draws a skip connection from the box that made its other
    input. Level ``l`` holds maps of ``H / 2**l x W / 2**l`` pixels. Each box
    reads its name, the filters of its convolutions (e.g. ``"conv 3x3: 16, 16"``)
    and its spatial size; arrows are labelled with the pooling or upsampling
    they stand for; skips are horizontal arrows labelled with the channels they
    copy. A model without skips (:func:`seglearn.models.fcn`) says so.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`seglearn.models.unet` (any ``depth``, either
        ``upsampling``) or :func:`seglearn.models.fcn`, or any functional model
        made of the same layers: images ``(N, H, W, C)`` to maps
        ``(N, H, W, K)``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes. Each box's text has gid ``"box:<name>"`` (``"box:enc0"``,
        ``"box:bottleneck"``, ``"box:dec0"``, ``"box:logits"``, ...); each
        skip arrow has gid ``"skip"``; the figure's ``levels`` attribute is the
        number of poolings down to the deepest box.

    Raises
    ------
    TypeError
        When ``model`` is not a ``keras.Model``.
    ValueError
        When it is not an encoder-decoder: a ``Flatten`` or ``Dense`` layer
        (a classifier), no pooling, an output smaller than the input, or
        branches merged other than by ``Concatenate`` (e.g. residual ``Add``).

    Examples
    --------
    >>> from seglearn.models import unet
    >>> fig = plot_unet_architecture(unet(input_shape=(32, 32, 1), num_classes=2, depth=2, base_filters=4))
    >>> texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    >>> print(texts["box:enc1"])
    enc1
    conv 3x3: 8, 8
    16 x 16
    >>> sum(t.get_gid() == "skip" for t in fig.axes[0].texts)
    2
    """
    boxes, edges = _architecture(model)
    input_hw = tuple(model.input_shape[1:3])
    levels = [int(round(math.log2(box.factor))) if box.factor >= 1 else 0 for box in boxes]
    depth = max(levels)
    # Columns along the path: the input above the first block, the head above the last.
    column, col = {}, -1
    for k, box in enumerate(boxes):
        if box.kind == "input":
            continue
        if box.kind == "output" and any(e.target == k and e.kind == "head" for e in edges):
            continue
        col += 1
        column[k] = col
    for k, box in enumerate(boxes):
        if box.kind == "input":
            column[k] = 0
        elif k not in column:
            source = next(e.source for e in edges if e.target == k)
            column[k] = column[source]
    raised = {k for k, box in enumerate(boxes) if box.kind == "input" or k not in column
              or (box.kind == "output" and any(e.target == k and e.kind == "head" for e in edges))}
    dx, dy, bw, bh = 2.35, 1.55, 1.95, 1.0
    centre = {k: (column[k] * dx, 1.35 if k in raised else -levels[k] * dy) for k in range(len(boxes))}

    ncols = max(column.values()) + 1
    fig = Figure(figsize=(max(5.5, 1.45 * ncols + 0.8), 2.1 + 1.05 * (depth + 1)), layout="constrained")
    ax = fig.add_subplot()
    fills = {"input": "0.93", "encoder": (0.82, 0.89, 1.0), "bottleneck": (0.86, 0.8, 0.97),
             "decoder": (0.84, 0.95, 0.84), "output": (1.0, 0.9, 0.75)}
    for k, box in enumerate(boxes):
        cx, cy = centre[k]
        ax.add_patch(FancyBboxPatch((cx - bw / 2, cy - bh / 2), bw, bh, boxstyle="round,pad=0.02,rounding_size=0.1",
                                    fc=fills[box.kind], ec="0.3", lw=1.0))
        size = _size_text(input_hw, box.factor)
        if box.kind == "input":
            body = f"input\n{size} x {box.channels}"
        elif box.kind == "output":
            body = f"{box.name}\n{box.channels} classes\n{size}"
        else:
            body = f"{box.name}\n{_convs_text(box.convs)}\n{size}"
        ax.text(cx, cy, body, ha="center", va="center", fontsize=8.5, gid=f"box:{box.name}", linespacing=1.25)
    for edge in edges:
        (x0, y0), (x1, y1) = centre[edge.source], centre[edge.target]
        if edge.kind == "skip":
            ax.annotate("", xy=(x1 - bw / 2, y1 + 0.18), xytext=(x0 + bw / 2, y0 + 0.18),
                        arrowprops=dict(arrowstyle="-|>", color="tab:green", lw=1.4, ls="--"))
            ax.text((x0 + x1) / 2, y0 + 0.3, edge.label, ha="center", va="bottom", fontsize=8,
                    color="tab:green", gid="skip")
            continue
        if edge.kind in ("in", "head"):  # vertical, from the raised input / to the raised head
            start, end = (y0 - bh / 2, y1 + bh / 2) if y0 > y1 else (y0 + bh / 2, y1 - bh / 2)
            ax.annotate("", xy=(x1, end), xytext=(x0, start),
                        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1.2))
            if edge.label:
                ax.text(x0 - 0.12, (start + end) / 2, edge.label, ha="right", va="center", fontsize=8)
            continue
        down = edge.kind == "down"
        start = (x0 + (0.25 if down else bw / 2 - 0.25), y0 - bh / 2 if down else y0 + bh / 2)
        end = (x1 - (bw / 2 - 0.25 if down else 0.25), y1 + bh / 2 if down else y1 - bh / 2)
        colour = "tab:red" if down else "tab:blue"
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.4))
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(mid[0] + (-0.1 if down else 0.1), mid[1] - 0.05, edge.label.replace(", then", ",\nthen"),
                ha="right" if down else "left", va="top", fontsize=7.5, color=colour, gid=edge.kind)
    skips = sum(e.kind == "skip" for e in edges)
    if skips:
        note = f"{skips} skip connection{'s' if skips > 1 else ''}: the decoder gets the encoder's full-detail maps"
    else:
        note = (f"no skip connections: every output pixel is decided at 1/{2 ** depth} of the input "
                "resolution, then upsampled")
    downs, ups = (sum(e.kind == kind for e in edges) for kind in ("down", "up"))
    ax.set_title(f"{model.name}: {downs} step{'s' if downs != 1 else ''} down, {ups} up, "
                 f"{model.count_params():,} parameters\n{note}", fontsize=10)
    xs = [c[0] for c in centre.values()]
    ys = [c[1] for c in centre.values()]
    ax.set_xlim(min(xs) - bw / 2 - 0.3, max(xs) + bw / 2 + 0.3)
    ax.set_ylim(min(ys) - bh / 2 - 0.25, max(ys) + bh / 2 + 0.25)
    ax.set_aspect("equal")
    ax.set_axis_off()
    fig.levels = depth
    return fig
