"""Interactive explorers for the convolution and pooling chapters, and the set-up check.

Widgets are thin (STYLE.md): each explorer is a pure drawing function that
returns a :class:`matplotlib.figure.Figure` and can be tested on its own
(:func:`draw_convolution`, :func:`draw_pooling`), plus a small wrapper that
puts ipywidgets controls in front of it (:func:`conv_explorer`,
:func:`pool_explorer`). The numbers come from :mod:`seglearn.ops`; nothing here
computes a convolution or a pooling itself.

The wrappers redraw one figure in place (``set_data`` on the image artists)
and show the output shape twice: in the figure and in a ``Label`` with the CSS
class ``seglearn-output-shape``, so that a browser test can read it. In a
headless run (``pytest --nbval``) the chapters call the drawing function once
to show a static figure, then display the explorer.

:func:`environment_report` and :func:`widget_check` back the checks of
``chapters/00_setup.ipynb``.

This module does not import TensorFlow.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ipywidgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from . import _defaults, ops
from ._validation import check_array, check_choice, check_int_pair, check_positive_int, describe

__all__ = [
    "KERNEL_KINDS",
    "MINIMUM_VERSIONS",
    "POOL_TYPES",
    "Explorer",
    "conv_explorer",
    "draw_convolution",
    "draw_pooling",
    "environment_report",
    "make_kernel",
    "pool_explorer",
    "widget_check",
]

#: Kernel names accepted by :func:`make_kernel`, in the explorer's menu order.
KERNEL_KINDS = ("identity", "box", "gaussian", "sharpen", "edge", "sobel_x", "sobel_y", "laplacian")

#: Pooling kinds accepted by :func:`draw_pooling`.
POOL_TYPES = ("max", "average")

#: Oldest versions the course supports, read from the package's requirements
#: (``pyproject.toml``) by :func:`seglearn._defaults.minimum_versions`.
MINIMUM_VERSIONS = _defaults.MINIMUM_VERSIONS

# Kernels built from derivatives need a centre pixel and room for a difference.
_ODD_AT_LEAST_3 = ("sharpen", "edge", "sobel_x", "sobel_y", "laplacian")
_SHAPE_GID = "seglearn-output-shape"
_WINDOW_COLORS = ("tab:orange", "tab:cyan")


# --------------------------------------------------------------------------- kernels
def _binomial(n: int) -> np.ndarray:
    """Row ``n`` of Pascal's triangle, the 1-D binomial smoothing weights."""
    return np.array([math.comb(n, i) for i in range(n + 1)], dtype=np.float64)


def make_kernel(kind: str, size: int = 3) -> np.ndarray:
    """Return a classic square image-processing kernel.

    For ``size=3`` these are the textbook kernels; larger sizes replace the
    3-tap smoothing ``[1, 2, 1]`` by the binomial row of the right length
    (a discrete Gaussian).

    ==============  ==============================================================
    ``kind``        kernel ``K`` (``k = size``)
    ==============  ==============================================================
    ``identity``    1 at the centre, 0 elsewhere (output = input)
    ``box``         ``1 / k**2`` everywhere (mean of the window; any ``k``)
    ``gaussian``    ``outer(b, b) / sum``, ``b`` = binomial row ``C(k-1, i)``
    ``sobel_x``     ``outer(b_{k-1}, [-1, 0, 1] * b_{k-3})``: derivative along
                    x (columns), so it responds to *vertical* edges
    ``sobel_y``     ``sobel_x.T``: derivative along y, *horizontal* edges
    ``laplacian``   ``outer(s, d2) + outer(d2, s)`` with ``d2 = [1, -2, 1] * b_{k-3}``
                    and ``s = [0, b_{k-3}, 0]``; size 3 gives the 4-neighbour
                    Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``
    ``sharpen``     ``identity - laplacian`` (size 3: centre 5, cross -1)
    ``edge``        ``-1`` everywhere and ``k**2 - 1`` at the centre (outline)
    ==============  ==============================================================

    ``*`` is 1-D convolution. The kernels are applied as deep-learning
    frameworks do, without flipping (cross-correlation), so ``sobel_x`` gives
    a positive response where the image gets brighter from left to right.

    Parameters
    ----------
    kind : str
        One of :data:`KERNEL_KINDS`.
    size : int, default 3
        Side ``k`` of the square kernel. ``box`` accepts any ``k >= 1``;
        ``identity`` and ``gaussian`` need an odd ``k``; the derivative
        kernels (``sharpen``, ``edge``, ``sobel_x``, ``sobel_y``,
        ``laplacian``) need an odd ``k >= 3``.

    Returns
    -------
    kernel : ndarray of shape (size, size), float64

    Raises
    ------
    ValueError
        For an unknown ``kind`` or a ``size`` the kind does not allow.

    Examples
    --------
    >>> make_kernel("sobel_x")
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    >>> make_kernel("gaussian", 3) * 16
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> make_kernel("laplacian", 4)
    Traceback (most recent call last):
    ...
    ValueError: `size` must be an odd integer >= 3 for kind='laplacian'. Received: size=4
    """
    kind = check_choice(kind, "kind", KERNEL_KINDS)
    size = check_positive_int(size, "size")
    if kind in _ODD_AT_LEAST_3 and (size < 3 or size % 2 == 0):
        raise ValueError(f"`size` must be an odd integer >= 3 for kind={kind!r}. Received: size={size}")
    if kind in ("identity", "gaussian") and size % 2 == 0:
        raise ValueError(f"`size` must be an odd integer for kind={kind!r}. Received: size={size}")

    if kind == "box":
        return np.full((size, size), 1.0 / size**2)
    if kind == "gaussian":
        b = _binomial(size - 1)
        return np.outer(b, b) / b.sum() ** 2
    identity = np.zeros((size, size))
    identity[size // 2, size // 2] = 1.0
    if kind == "identity":
        return identity
    if kind == "edge":
        return size**2 * identity - 1.0
    inner = _binomial(size - 3)
    if kind in ("sobel_x", "sobel_y"):
        sobel_x = np.outer(_binomial(size - 1), np.convolve([-1.0, 0.0, 1.0], inner))
        return sobel_x if kind == "sobel_x" else sobel_x.T.copy()
    d2 = np.convolve([1.0, -2.0, 1.0], inner)
    s = np.pad(inner, 1)
    laplacian = np.outer(s, d2) + np.outer(d2, s)
    return laplacian if kind == "laplacian" else identity - laplacian


# --------------------------------------------------------------------------- drawing helpers
def _check_image(image) -> np.ndarray:
    """An (H, W) or (H, W, C) image with C in {1, 3}, returned as float64 (H, W, C)."""
    arr = check_array(image, "image", ndim=(2, 3), layout="(H, W) or (H, W, C)", dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] not in (1, 3) or min(arr.shape[:2]) < 1:
        raise ValueError(
            "`image` must be a grey (H, W), (H, W, 1) or colour (H, W, 3) image with H, W >= 1. "
            f"Received: image={describe(image)}"
        )
    return arr


def _shape_text(out_h: int, out_w: int) -> str:
    return f"output shape: {out_h} x {out_w}"


def _pads(image_hw, window_hw, strides, dilation, padding: str) -> tuple[int, int, int, int]:
    """Padding ``(top, left, bottom, right)`` TensorFlow adds, from ``ops.same_padding``."""
    if padding == "valid":
        return (0, 0, 0, 0)
    (top, bottom), (left, right) = (
        ops.same_padding(size, k, s, d) for size, k, s, d in zip(image_hw, window_hw, strides, dilation)
    )
    return (int(top), int(left), int(bottom), int(right))


def _display_array(channels_last: np.ndarray) -> np.ndarray:
    """(H, W, 1) -> (H, W) so imshow uses a colormap; (H, W, 3) clipped to [0, 1]."""
    if channels_last.shape[2] == 1:
        return channels_last[:, :, 0]
    return np.clip(channels_last, 0.0, 1.0)


def _set_image(ax, data: np.ndarray, *, symmetric: bool = False) -> None:
    """Put ``data`` into the axes' image artist, resizing extent and colour limits."""
    im = ax.images[0]
    im.set_data(data)
    h, w = data.shape[:2]
    im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    if data.ndim == 2:
        low, high = float(data.min()), float(data.max())
        if symmetric:
            high = max(abs(low), abs(high), 1e-12)
            low = -high
        elif high <= low:
            high = low + 1e-12
        im.set_clim(low, high)


def _clear_overlays(ax) -> None:
    for artist in [*ax.patches, *ax.collections, *ax.texts]:
        artist.remove()


def _draw_windows(ax, image_hw, window, strides, dilation, pads, out_hw) -> None:
    """Outline the padded frame and the input windows of output pixels (0, 0) and (0, 1).

    ``window`` is the number of taps per side, ``dilation`` the spacing between
    taps, ``pads = (top, left, bottom, right)``. The taps are marked with dots.
    """
    (h, w), (pt, pl, pb, pr) = image_hw, pads
    if any(pads):
        ax.add_patch(Rectangle((-pl - 0.5, -pt - 0.5), w + pl + pr, h + pt + pb,
                               fill=False, ls="--", lw=1, ec="0.5"))
    span = (dilation[0] * (window[0] - 1) + 1, dilation[1] * (window[1] - 1) + 1)
    for j, color in zip(range(min(2, out_hw[1])), _WINDOW_COLORS):
        top, left = -pt, j * strides[1] - pl
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), span[1], span[0], fill=False, lw=1.5, ec=color))
        rows = top + dilation[0] * np.arange(window[0])
        cols = left + dilation[1] * np.arange(window[1])
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        ax.scatter(cc.ravel(), rr.ravel(), s=6, c=color)
    ax.set_xlim(-pl - 0.5 - 0.5, w - 0.5 + pr + 0.5)
    ax.set_ylim(h - 0.5 + pb + 0.5, -pt - 0.5 - 0.5)


def _mark_output(ax, out_hw) -> None:
    """Outline output pixels (0, 0) and (0, 1) in the window colours; fit the limits."""
    for j, color in zip(range(min(2, out_hw[1])), _WINDOW_COLORS):
        ax.add_patch(Rectangle((j - 0.5, -0.5), 1, 1, fill=False, lw=1.5, ec=color))
    ax.set_xlim(-0.5, out_hw[1] - 0.5)
    ax.set_ylim(out_hw[0] - 0.5, -0.5)


def _figure_axes(fig, labels: Sequence[str], figsize, owner: str):
    """Create a figure with one labelled axes per panel, or find them on ``fig``."""
    if fig is None:
        fig = Figure(figsize=figsize, dpi=80)
        fig.subplots_adjust(left=0.03, right=0.97, bottom=0.14, top=0.86, wspace=0.25)
        axes = fig.subplots(1, len(labels))
        for ax, label in zip(axes, labels):
            ax.set_label(label)
            ax.imshow(np.zeros((1, 1)), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        fig.text(0.5, 0.03, "", ha="center", fontsize=12, gid=_SHAPE_GID)
        return fig, axes
    if not isinstance(fig, Figure):
        raise TypeError(f"`fig` must be a matplotlib Figure returned by {owner} or None. Received: fig={describe(fig)}")
    found = {ax.get_label(): ax for ax in fig.axes}
    if any(label not in found for label in labels) or _shape_artist(fig) is None:
        raise ValueError(
            f"`fig` must be a figure returned by {owner} (axes labelled {list(labels)}). "
            f"Received: fig with axes {list(found)}"
        )
    return fig, [found[label] for label in labels]


def _shape_artist(fig):
    return next((t for t in fig.texts if t.get_gid() == _SHAPE_GID), None)


# --------------------------------------------------------------------------- convolution
def draw_convolution(
    image,
    kernel_type: str = "edge",
    kernel_size: int = 3,
    strides=1,
    padding: str = "valid",
    dilation_rate=1,
    *,
    fig: Figure | None = None,
) -> Figure:
    """Draw input, kernel and output of one 2-D convolution with a classic kernel.

    The output is ``seglearn.ops.conv2d`` of the image (a batch of one) with
    the kernel of :func:`make_kernel` repeated over the input channels and
    divided by their number ``C``, so that for a colour image

    .. math:: y_{i,j} = \\sum_{c=1}^{C} \\sum_{a,b} \\frac{K_{a,b}}{C}\\,
              x_{i s + a d - p_t,\\; j s + b d - p_l,\\; c},

    the kernel applied to the channel mean. ``H_out = floor((H + p_t + p_b -
    d (k - 1) - 1) / s) + 1`` (same for ``W``), as given by
    ``seglearn.ops.conv_output_size``.

    Panels (axes labels ``"input"``, ``"kernel"``, ``"output"``): the input
    with the padded frame (dashed) and the windows of output pixels (0, 0)
    and (0, 1), one dot per kernel tap, so stride, padding and dilation are
    visible; the kernel with its values (up to 5 x 5); the output. A text
    artist (gid ``"seglearn-output-shape"``) reads ``"output shape: H_out x W_out"``.

    Parameters
    ----------
    image : array_like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image (values in [0, 1] for RGB display).
    kernel_type : str, default "edge"
        One of :data:`KERNEL_KINDS`.
    kernel_size : int, default 3
        Side of the square kernel (see :func:`make_kernel` for allowed sizes).
    strides : int or (int, int), default 1
    padding : {"valid", "same"}, default "valid"
        ``"same"`` pads as TensorFlow does, the extra row/column (if any)
        going at the bottom/right.
    dilation_rate : int or (int, int), default 1
    fig : Figure, optional
        A figure returned by an earlier call; its artists are updated in place
        (``set_data``) instead of drawing a new figure. Used by
        :func:`conv_explorer` to redraw quickly.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Not registered with ``pyplot``; display it with ``display(fig)`` or as
        a cell's last expression.

    Raises
    ------
    ValueError
        For a bad image, kernel, stride, padding or dilation, or when a
        ``"valid"`` convolution leaves no output pixel.

    Examples
    --------
    >>> import numpy as np
    >>> fig = draw_convolution(np.zeros((8, 8)), "box", 3, strides=2)
    >>> fig.axes[2].images[0].get_array().shape
    (3, 3)
    >>> [t.get_text() for t in fig.texts]
    ['output shape: 3 x 3']
    """
    x = _check_image(image)
    kernel2d = make_kernel(kernel_type, kernel_size)
    strides = check_int_pair(strides, "strides")
    dilation = check_int_pair(dilation_rate, "dilation_rate")
    padding = check_choice(padding, "padding", ("valid", "same"))
    channels = x.shape[2]
    kernel = np.repeat(kernel2d[:, :, None, None] / channels, channels, axis=2)
    y = ops.conv2d(x[None], kernel, strides=strides, padding=padding, dilation_rate=dilation)[0]
    out_h, out_w = y.shape[:2]
    (h, w), k = x.shape[:2], kernel2d.shape[0]
    pads = _pads((h, w), (k, k), strides, dilation, padding)

    fig, (ax_in, ax_k, ax_out) = _figure_axes(fig, ("input", "kernel", "output"), (10, 3.6), "draw_convolution")
    _set_image(ax_in, _display_array(x))
    ax_in.images[0].set_cmap("gray")
    _clear_overlays(ax_in)
    _draw_windows(ax_in, (h, w), (k, k), strides, dilation, pads, (out_h, out_w))
    ax_in.set_title(f"input {h} x {w} x {channels}")

    _set_image(ax_k, kernel2d, symmetric=True)
    ax_k.images[0].set_cmap("RdBu_r")
    _clear_overlays(ax_k)
    if k <= 5:
        strong = 0.5 * np.abs(kernel2d).max()
        for (a, b), value in np.ndenumerate(kernel2d):
            ax_k.text(b, a, f"{value:.3g}", ha="center", va="center", fontsize=11 - k,
                      color="white" if abs(value) > strong else "black")
    ax_k.set_xlim(-0.5, k - 0.5)
    ax_k.set_ylim(k - 0.5, -0.5)
    span = dilation[0] * (k - 1) + 1, dilation[1] * (k - 1) + 1
    covers = f", covers {span[0]} x {span[1]}" if dilation != (1, 1) else ""
    ax_k.set_title(f"kernel {k} x {k} ({kernel_type}){covers}")

    _set_image(ax_out, y[:, :, 0])
    ax_out.images[0].set_cmap("gray")
    _clear_overlays(ax_out)
    _mark_output(ax_out, (out_h, out_w))
    ax_out.set_title(f"output {out_h} x {out_w}")
    _shape_artist(fig).set_text(_shape_text(out_h, out_w))
    return fig


# --------------------------------------------------------------------------- pooling
def draw_pooling(
    image,
    pool_type: str = "max",
    pool_size=2,
    strides=None,
    padding: str = "valid",
    *,
    fig: Figure | None = None,
) -> Figure:
    """Draw an image and its max or average pooling, channel by channel.

    The output is ``seglearn.ops.max_pool2d`` or ``seglearn.ops.avg_pool2d``
    of the image (a batch of one):

    .. math:: y_{i,j,c} = \\max_{(a,b) \\in W_{ij}} x_{a,b,c}
              \\quad\\text{or}\\quad
              y_{i,j,c} = \\frac{1}{|W_{ij}|} \\sum_{(a,b) \\in W_{ij}} x_{a,b,c},

    where ``W_ij`` is the ``p x p`` window starting at ``(i s - p_t, j s - p_l)``
    restricted to the image (padding is never part of the window, as in
    TensorFlow), and ``H_out = floor((H + p_t + p_b - p) / s) + 1``.

    Panels (axes labels ``"input"``, ``"output"``): the input with the padded
    frame (dashed) and the windows of output pixels (0, 0) and (0, 1); the
    output, on the input's grey scale. A text artist (gid
    ``"seglearn-output-shape"``) reads ``"output shape: H_out x W_out"``.

    Parameters
    ----------
    image : array_like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image (values in [0, 1] for RGB display).
    pool_type : {"max", "average"}, default "max"
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size``, as in Keras.
    padding : {"valid", "same"}, default "valid"
    fig : Figure, optional
        A figure returned by an earlier call, updated in place (used by
        :func:`pool_explorer`).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Not registered with ``pyplot``.

    Raises
    ------
    ValueError
        For a bad image, pool type, size, stride or padding, or when a
        ``"valid"`` pooling leaves no output pixel.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(16.0).reshape(4, 4)
    >>> fig = draw_pooling(image, "max", 2)
    >>> fig.axes[1].images[0].get_array()
    masked_array(
      data=[[ 5.,  7.],
            [13., 15.]],
      mask=False,
      fill_value=1e+20)
    >>> [t.get_text() for t in fig.texts]
    ['output shape: 2 x 2']
    """
    x = _check_image(image)
    pool_type = check_choice(pool_type, "pool_type", POOL_TYPES)
    pool = check_int_pair(pool_size, "pool_size")
    strides = pool if strides is None else check_int_pair(strides, "strides")
    padding = check_choice(padding, "padding", ("valid", "same"))
    pool_fn = ops.max_pool2d if pool_type == "max" else ops.avg_pool2d
    y = pool_fn(x[None], pool_size=pool, strides=strides, padding=padding)[0]
    out_h, out_w = y.shape[:2]
    h, w = x.shape[:2]
    pads = _pads((h, w), pool, strides, (1, 1), padding)

    fig, (ax_in, ax_out) = _figure_axes(fig, ("input", "output"), (7.5, 3.8), "draw_pooling")
    shown = _display_array(x)
    _set_image(ax_in, shown)
    _clear_overlays(ax_in)
    _draw_windows(ax_in, (h, w), pool, strides, (1, 1), pads, (out_h, out_w))
    ax_in.set_title(f"input {h} x {w} x {x.shape[2]}")

    _set_image(ax_out, _display_array(y))
    for ax in (ax_in, ax_out):
        ax.images[0].set_cmap("gray")
        if shown.ndim == 2:  # one grey scale for both, so brightness compares
            ax.images[0].set_clim(float(shown.min()), float(max(shown.max(), shown.min() + 1e-12)))
    _clear_overlays(ax_out)
    _mark_output(ax_out, (out_h, out_w))
    ax_out.set_title(f"{pool_type} pool {pool[0]} x {pool[1]}, stride {strides[0]}: output {out_h} x {out_w}")
    _shape_artist(fig).set_text(_shape_text(out_h, out_w))
    return fig


# --------------------------------------------------------------------------- explorers
class Explorer(ipywidgets.VBox):
    """A box of controls, an output-shape label and a figure redrawn on every change.

    The wrappers :func:`conv_explorer` and :func:`pool_explorer` build it;
    it is public so that tests and browser tests can reach its parts.

    Parameters
    ----------
    draw : callable
        ``draw(image, **values, fig=None) -> Figure``, a drawing function of
        this module (its figure carries the ``"seglearn-output-shape"`` text).
    image : array_like
        The image passed to ``draw``.
    controls : mapping of str to ipywidgets.ValueWidget
        Keyword argument of ``draw`` -> the widget that sets it.
    css_class : str
        CSS class of the box, for browser tests.

    Attributes
    ----------
    controls : dict of str to ipywidgets.ValueWidget
    shape_label : ipywidgets.Label
        ``"output shape: H_out x W_out"``, or the error message when the
        chosen values are not allowed; CSS class ``seglearn-output-shape``.
    output : ipywidgets.Output
        Shows :attr:`figure`.
    figure : matplotlib.figure.Figure
        Redrawn in place on every change.
    """

    def __init__(self, draw: Callable[..., Figure], image, controls: Mapping[str, ipywidgets.ValueWidget], css_class: str):
        super().__init__()
        self.draw = draw
        self.image = image
        self.controls = dict(controls)
        self.shape_label = ipywidgets.Label().add_class("seglearn-output-shape")
        self.output = ipywidgets.Output()
        # The first draw runs outside the try of `update`, so a bad image raises here.
        self.figure = draw(image, **self.values())
        self.shape_label.value = _shape_artist(self.figure).get_text()
        self._show()
        row = ipywidgets.HBox(list(self.controls.values()), layout=ipywidgets.Layout(flex_flow="row wrap"))
        self.children = [row, self.shape_label, self.output]
        self.add_class(css_class)
        for widget in self.controls.values():
            widget.observe(self.update, names="value")

    def values(self) -> dict:
        """The current control values, keyed by ``draw``'s argument names."""
        return {name: widget.value for name, widget in self.controls.items()}

    def update(self, change=None) -> None:
        """Redraw for the current control values (called on every change).

        Parameters
        ----------
        change : dict, optional
            The traitlets change notification (unused).
        """
        try:
            self.draw(self.image, **self.values(), fig=self.figure)
        except ValueError as exc:  # e.g. a kernel larger than the image: say so, keep the old figure
            self.shape_label.value = f"not allowed: {exc}"
            return
        self.shape_label.value = _shape_artist(self.figure).get_text()
        self._show()

    def _show(self) -> None:
        from IPython import get_ipython
        from IPython.display import clear_output, display

        if get_ipython() is None:  # plain Python (scripts, tests): no front end to show it in
            return
        with self.output:
            clear_output(wait=True)
            display(self.figure)


def _slider(name: str, description: str, value: int, low: int, high: int, step: int = 1) -> ipywidgets.IntSlider:
    value = check_positive_int(value, name)
    return ipywidgets.IntSlider(
        value=value, min=low, max=max(high, value), step=step, description=description,
        continuous_update=False, style={"description_width": "initial"},
    )


def _dropdown(description: str, options: Sequence[str], value: str) -> ipywidgets.Dropdown:
    return ipywidgets.Dropdown(
        options=list(options), value=value, description=description,
        style={"description_width": "initial"}, layout=ipywidgets.Layout(width="auto"),
    )


def conv_explorer(
    image,
    kernel_type: str = "edge",
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "valid",
    dilation_rate: int = 1,
) -> Explorer:
    """Interactive :func:`draw_convolution`: pick kernel, size, stride, padding, dilation.

    Controls (by description): ``"kernel"`` (dropdown of :data:`KERNEL_KINDS`),
    ``"kernel size"`` (odd, 1 to 9), ``"stride"`` (1 to 4), ``"padding"``
    (``"valid"``/``"same"``), ``"dilation"`` (1 to 4). The box has the CSS
    class ``seglearn-conv-explorer``; its label (``seglearn-output-shape``)
    shows the output shape, or why the chosen values are not allowed.

    Parameters
    ----------
    image : array_like of shape (H, W), (H, W, 1) or (H, W, 3)
        A small image (64 x 64 redraws quickly).
    kernel_type, kernel_size, strides, padding, dilation_rate
        Initial values, as in :func:`draw_convolution` (integers, not pairs).

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; display it (last expression of a cell).

    Examples
    --------
    >>> import numpy as np
    >>> explorer = conv_explorer(np.zeros((16, 16)))
    >>> explorer.controls["strides"].value = 2
    >>> explorer.shape_label.value
    'output shape: 7 x 7'
    """
    kernel_type = check_choice(kernel_type, "kernel_type", KERNEL_KINDS)
    padding = check_choice(padding, "padding", ("valid", "same"))
    controls = {
        "kernel_type": _dropdown("kernel", KERNEL_KINDS, kernel_type),
        "kernel_size": _slider("kernel_size", "kernel size", kernel_size, 1, 9, step=2),
        "strides": _slider("strides", "stride", strides, 1, 4),
        "padding": _dropdown("padding", ("valid", "same"), padding),
        "dilation_rate": _slider("dilation_rate", "dilation", dilation_rate, 1, 4),
    }
    return Explorer(draw_convolution, image, controls, "seglearn-conv-explorer")


def pool_explorer(
    image,
    pool_type: str = "max",
    pool_size: int = 2,
    strides: int = 2,
    padding: str = "valid",
) -> Explorer:
    """Interactive :func:`draw_pooling`: pick pool type, pool size, stride and padding.

    Controls (by description): ``"pool type"`` (``"max"``/``"average"``),
    ``"pool size"`` (1 to 4), ``"stride"`` (1 to 4), ``"padding"``. The box has
    the CSS class ``seglearn-pool-explorer``; its label
    (``seglearn-output-shape``) shows the output shape.

    Parameters
    ----------
    image : array_like of shape (H, W), (H, W, 1) or (H, W, 3)
        A small image (64 x 64 redraws quickly).
    pool_type, pool_size, strides, padding
        Initial values, as in :func:`draw_pooling` (integers, not pairs).

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; display it (last expression of a cell).

    Examples
    --------
    >>> import numpy as np
    >>> explorer = pool_explorer(np.zeros((16, 16)))
    >>> explorer.controls["pool_size"].value = 3
    >>> explorer.shape_label.value
    'output shape: 7 x 7'
    """
    pool_type = check_choice(pool_type, "pool_type", POOL_TYPES)
    padding = check_choice(padding, "padding", ("valid", "same"))
    controls = {
        "pool_type": _dropdown("pool type", POOL_TYPES, pool_type),
        "pool_size": _slider("pool_size", "pool size", pool_size, 1, 4),
        "strides": _slider("strides", "stride", strides, 1, 4),
        "padding": _dropdown("padding", ("valid", "same"), padding),
    }
    return Explorer(draw_pooling, image, controls, "seglearn-pool-explorer")


# --------------------------------------------------------------------------- set-up checks
def widget_check(value: int = 0) -> ipywidgets.HBox:
    """A slider labelled ``"widget check"`` and a label that echoes its value.

    The echo runs in the kernel (a Python observer), so seeing the label
    follow the slider in the browser proves the whole widget round trip:
    front-end extension, comm messages and kernel. CSS classes:
    ``seglearn-widget-check`` (the box) and ``seglearn-widget-check-echo``
    (the label, text ``"widget check value: N"``).

    Parameters
    ----------
    value : int, default 0
        Initial slider value, in [0, 10].

    Returns
    -------
    ipywidgets.HBox
        Children ``(IntSlider, Label)``.

    Examples
    --------
    >>> box = widget_check()
    >>> slider, echo = box.children
    >>> slider.value = 7
    >>> echo.value
    'widget check value: 7'
    """
    value = check_positive_int(value, "value", minimum=0)
    if value > 10:
        raise ValueError(f"`value` must be an integer in [0, 10]. Received: value={value}")
    slider = ipywidgets.IntSlider(value=value, min=0, max=10, description="widget check",
                                  style={"description_width": "initial"})
    echo = ipywidgets.Label(f"widget check value: {value}").add_class("seglearn-widget-check-echo")

    def echo_value(change):
        echo.value = f"widget check value: {change['new']}"

    slider.observe(echo_value, names="value")
    return ipywidgets.HBox([slider, echo]).add_class("seglearn-widget-check")


# Distribution names under which each package may be installed.
_DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
    "keras": ("keras",),
    "matplotlib": ("matplotlib",),
    "ipywidgets": ("ipywidgets",),
    "jupyterlab": ("jupyterlab",),
}
# ipywidgets major version -> major version of the JupyterLab extension
# @jupyter-widgets/jupyterlab-manager that renders its widgets (ipywidgets 8
# speaks widget protocol 2 and ships jupyterlab-manager 5; ipywidgets 7 used 3).
_LAB_MANAGER_MAJOR = {8: 5, 7: 3}
_LAB_MANAGER = ("@jupyter-widgets", "jupyterlab-manager")


def _installed_version(package: str) -> str | None:
    if package == "python":
        return ".".join(str(v) for v in sys.version_info[:3])
    for dist in _DISTRIBUTIONS.get(package, (package,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _row(name: str, required: str, found: str | None, ok: bool, detail: str = "") -> dict:
    return {"name": name, "required": required, "found": found or "not installed", "ok": bool(ok), "detail": detail}


def _labextension_dirs() -> list[Path]:
    from jupyter_core.paths import jupyter_path

    return [Path(p) for p in jupyter_path("labextensions")]


def environment_report(
    minimum_versions: Mapping[str, str] | None = None,
    labextension_dirs: Sequence[str | Path] | None = None,
) -> list[dict]:
    """Check the installed versions the course needs, without importing them.

    Versions are read from the installed packages' metadata
    (``importlib.metadata``), so the report is fast and does not import
    TensorFlow. Rows:

    - one per entry of ``minimum_versions`` (``python``, ``numpy``,
      ``tensorflow``, ``keras``, ``matplotlib``, ``ipywidgets``,
      ``jupyterlab``): installed version ``>=`` the minimum;
    - ``jupyterlab_widgets``: the Python package that ships the JupyterLab
      widget extension satisfies the pin ipywidgets itself declares
      (e.g. ``~=3.0.17``); a mismatch shows widgets as plain text;
    - ``@jupyter-widgets/jupyterlab-manager``: the front-end extension is
      installed (its ``package.json`` is found in a ``labextensions``
      folder: ``sys.prefix/share/jupyter/labextensions`` and the other
      Jupyter data folders), its major version is the one the installed
      ipywidgets needs, and it supports the installed JupyterLab major version.

    Parameters
    ----------
    minimum_versions : mapping of str to str, optional
        Package -> oldest allowed version; defaults to :data:`MINIMUM_VERSIONS`.
    labextension_dirs : sequence of path, optional
        Folders to search for the front-end extension; defaults to Jupyter's
        ``labextensions`` data folders (``jupyter_core.paths.jupyter_path``).

    Returns
    -------
    rows : list of dict
        Each with keys ``name``, ``required``, ``found``, ``ok`` (bool) and
        ``detail`` (why a check failed, or where the extension was found).

    Raises
    ------
    ValueError
        If a minimum version cannot be parsed.

    Examples
    --------
    >>> rows = environment_report()
    >>> [row["name"] for row in rows][:3]
    ['python', 'numpy', 'tensorflow']
    >>> all(row["ok"] for row in rows)
    True
    """
    minimum_versions = MINIMUM_VERSIONS if minimum_versions is None else minimum_versions
    if not isinstance(minimum_versions, Mapping):
        raise TypeError(
            f"`minimum_versions` must be a mapping of package name to version. "
            f"Received: minimum_versions={describe(minimum_versions)}"
        )
    rows = []
    for package, minimum in minimum_versions.items():
        try:
            wanted = Version(str(minimum))
        except InvalidVersion:
            raise ValueError(
                f"`minimum_versions` must map package names to versions like '3.8'. "
                f"Received: minimum_versions[{package!r}]={minimum!r}"
            ) from None
        found = _installed_version(package)
        ok = found is not None and Version(found) >= wanted
        rows.append(_row(package, f">= {minimum}", found, ok, "" if ok else f"install {package}>={minimum}"))

    ipywidgets_version = Version(_installed_version("ipywidgets") or "0")
    pin = next(
        (Requirement(r) for r in importlib.metadata.requires("ipywidgets") or []
         if Requirement(r).name.replace("-", "_") == "jupyterlab_widgets" and Requirement(r).marker is None),
        None,
    )
    spec = pin.specifier if pin is not None else SpecifierSet()
    found = _installed_version("jupyterlab_widgets")
    ok = found is not None and Version(found) in spec
    rows.append(_row("jupyterlab_widgets", f"{spec} (pinned by ipywidgets {ipywidgets_version})", found, ok,
                     "" if ok else f"install jupyterlab_widgets{spec} (pip install -U ipywidgets jupyterlab_widgets)"))

    dirs = _labextension_dirs() if labextension_dirs is None else [Path(d) for d in labextension_dirs]
    name = "/".join(_LAB_MANAGER)
    manifest = next((d.joinpath(*_LAB_MANAGER, "package.json") for d in dirs
                     if d.joinpath(*_LAB_MANAGER, "package.json").is_file()), None)
    need = _LAB_MANAGER_MAJOR.get(ipywidgets_version.major)
    required = f"{need}.x (for ipywidgets {ipywidgets_version.major})" if need else "known ipywidgets major version"
    if manifest is None:
        rows.append(_row(name, required, None, False,
                         f"front-end extension not found in {[str(d) for d in dirs]}; reinstall jupyterlab_widgets"))
        return rows
    package_json = json.loads(manifest.read_text(encoding="utf-8"))
    found = str(package_json.get("version", "0"))
    problems = []
    if need is None or Version(found).major != need:
        problems.append(f"ipywidgets {ipywidgets_version} needs jupyterlab-manager {need}.x")
    lab_range = package_json.get("dependencies", {}).get("@jupyterlab/application", "")
    lab_found = _installed_version("jupyterlab")
    if lab_range.startswith("^") and lab_found and Version(lab_range[1:]).major != Version(lab_found).major:
        problems.append(f"it is built for JupyterLab {lab_range}, installed is {lab_found}")
    detail = "; ".join(problems) if problems else f"found in {manifest.parent}"
    rows.append(_row(name, required, found, not problems, detail))
    return rows
