"""Plots for segmentation: images with masks, overlays, predictions, training curves.

Matplotlib only (no TensorFlow). Every plotting function but one builds a
:class:`matplotlib.figure.Figure` directly (not through ``pyplot``) and returns
it: in Jupyter a figure shows when it is the last value of a cell (or with
``display(fig)``), exactly once; in a script, save it with
``fig.savefig("name.png")``. The exception is :func:`plot_runs` (the learning
curves of several runs side by side), which draws through ``pyplot`` so that
the inline backend shows it at the end of the cell, as the FAQ chapters expect;
:func:`plot_seed_comparison` does the same for its error-bar plot.

The diagrams that explain the machinery (the U-Net from a model, im2col,
receptive fields, transposed-convolution stamping, the seven steps) live in
:mod:`seglearn.diagrams` and are re-exported here.

Each class has a fixed colour (:func:`class_colors`): background black, then
red, blue, green, yellow, purple, ..., the same in every plot of the course.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ._imageio import to_unit_float
from ._validation import check_array, check_choice, check_positive_int, check_real, check_same_shape, describe
from .diagrams import (
    SEVEN_STEPS,
    plot_im2col,
    plot_receptive_field,
    plot_seven_steps,
    plot_transposed_conv_stamping,
    plot_unet_architecture,
)

__all__ = [
    "SEVEN_STEPS",
    "class_colors",
    "overlay",
    "plot_history",
    "plot_im2col",
    "plot_overlay",
    "plot_predictions",
    "plot_receptive_field",
    "plot_runs",
    "plot_seed_comparison",
    "plot_seven_steps",
    "plot_transposed_conv_stamping",
    "plot_unet_architecture",
    "show_samples",
]

# Background, then vivid colours that stay distinguishable on top of images.
_PALETTE = (
    (0.0, 0.0, 0.0),  # 0 background: black
    (0.90, 0.10, 0.10),  # red
    (0.12, 0.47, 0.95),  # blue
    (0.15, 0.75, 0.20),  # green
    (1.00, 0.80, 0.00),  # yellow
    (0.60, 0.25, 0.85),  # purple
    (1.00, 0.50, 0.00),  # orange
    (0.00, 0.80, 0.80),  # cyan
    (0.95, 0.45, 0.75),  # pink
    (0.55, 0.35, 0.15),  # brown
    (0.60, 0.60, 0.60),  # grey
)


def class_colors(num_classes):
    """The fixed RGB colour of each class: background black, then vivid colours.

    The first 11 colours are a hand-picked list (black, red, blue, green,
    yellow, purple, orange, cyan, pink, brown, grey); further classes get hues
    spaced by the golden ratio, alternately bright and muted (distinct up to
    about 30 classes). Every class id keeps its colour whatever
    ``num_classes`` is.

    Parameters
    ----------
    num_classes : int
        Number of classes ``K >= 1``.

    Returns
    -------
    ndarray of shape (K, 3)
        float64 RGB values in ``[0, 1]``; row ``c`` is the colour of class ``c``.

    Examples
    --------
    >>> class_colors(3)
    array([[0.  , 0.  , 0.  ],
           [0.9 , 0.1 , 0.1 ],
           [0.12, 0.47, 0.95]])
    >>> bool(np.array_equal(class_colors(20)[:3], class_colors(3)))
    True
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    colors = list(_PALETTE[:num_classes])
    for c in range(len(colors), num_classes):
        hue = (c * 0.618033988749895) % 1.0
        saturation, value = (0.85, 0.95) if c % 2 else (0.55, 0.65)  # alternate bright and muted
        colors.append(colorsys.hsv_to_rgb(hue, saturation, value))
    return np.array(colors, dtype=np.float64)


def _image_rgb(image, name="image") -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) image, float in [0, 1], uint8 or uint16 -> float (H, W, 3)."""
    arr = check_array(image, name, ndim=(2, 3), layout="(H, W) or (H, W, C)")
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{name}` must have 1 or 3 channels (last axis). Received: {name}={describe(arr)}"
        )
    arr = to_unit_float(arr, np.float64) if arr.dtype.kind == "u" else arr.astype(np.float64)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"`{name}` must hold values in [0, 1] (or be uint8); found [{arr.min():g}, {arr.max():g}]. "
            f"Received: {name}={describe(image)}"
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    return np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr


def _labels(mask, name, num_classes=None) -> np.ndarray:
    """Check a label map; with ``num_classes`` its values must be in [0, num_classes)."""
    arr = check_array(mask, name, kind="integer")
    if arr.size and arr.min() < 0:
        raise ValueError(f"`{name}` must hold class ids >= 0 (found {arr.min()}). Received: {name}={describe(arr)}")
    arr = arr.astype(np.int64)
    if num_classes is not None and arr.size and arr.max() >= num_classes:
        raise ValueError(
            f"`{name}` must hold class ids in [0, {num_classes}) (found {arr.max()}). Received: {name}={describe(arr)}"
        )
    return arr


def _classes(class_names, num_classes, *label_maps) -> tuple[int, list[str]]:
    """Resolve (num_classes, names) from the arguments or from the largest label."""
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
            raise TypeError(f"`class_names` must be a sequence of strings. Received: class_names={describe(class_names)}")
        class_names = list(class_names)
    if num_classes is not None:
        num_classes = check_positive_int(num_classes, "num_classes")
    elif class_names is not None:
        num_classes = len(class_names)
    else:
        num_classes = 1 + max((int(m.max()) for m in label_maps if m.size), default=0)
    if class_names is None:
        class_names = ["background"] + [f"class {c}" for c in range(1, num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(
            f"`class_names` must have one name per class ({num_classes}). Received: class_names={describe(class_names)}"
        )
    return num_classes, class_names


def overlay(image, mask, *, alpha=0.5, num_classes=None, colors=None, background=False):
    """Blend class colours into an image where the mask labels an object.

    ``out = (1 - alpha) * image + alpha * color[mask]`` at every pixel with
    ``mask > 0`` (at every pixel when ``background`` is true); other pixels
    keep the image.

    Parameters
    ----------
    image : ndarray of shape (H, W), (H, W, 1) or (H, W, 3)
        Float values in ``[0, 1]``, or uint8.
    mask : int ndarray of shape (H, W)
        Class ids.
    alpha : float, default 0.5
        Opacity of the colours, in ``[0, 1]``.
    num_classes : int, optional
        Number of classes (default ``mask.max() + 1``); picks the colours of
        :func:`class_colors`.
    colors : array_like of shape (K, 3), optional
        RGB colours in ``[0, 1]`` to use instead of :func:`class_colors`.
    background : bool, default False
        Also tint the background pixels (class 0) with ``colors[0]``.

    Returns
    -------
    ndarray of shape (H, W, 3)
        float64 RGB image in ``[0, 1]``.

    Examples
    --------
    >>> image = np.full((2, 2), 0.5)
    >>> mask = np.array([[0, 1], [0, 0]])
    >>> out = overlay(image, mask, alpha=0.5)
    >>> out[0, 0].tolist(), out[0, 1].round(2).tolist()  # 0.5 * 0.5 + 0.5 * red
    ([0.5, 0.5, 0.5], [0.7, 0.3, 0.3])
    """
    rgb = _image_rgb(image)
    labels = _labels(mask, "mask")
    if labels.ndim != 2:
        raise ValueError(f"`mask` must have 2 dimensions (H, W), but has {labels.ndim}. Received: mask={describe(labels)}")
    check_same_shape(rgb[..., 0], "image (H, W)", labels, "mask")
    alpha = check_real(alpha, "alpha", low=0, high=1)
    if not isinstance(background, (bool, np.bool_)):
        raise TypeError(f"`background` must be True or False. Received: background={describe(background)}")
    if colors is None:
        num_classes, _ = _classes(None, num_classes, labels)
        palette = class_colors(num_classes)
    else:
        palette = check_array(colors, "colors", ndim=2, dtype=np.float64)
        if palette.shape[1] != 3 or palette.min() < 0 or palette.max() > 1:
            raise ValueError(f"`colors` must be (K, 3) RGB values in [0, 1]. Received: colors={describe(palette)}")
    if labels.size and labels.max() >= len(palette):
        raise ValueError(
            f"`mask` holds class {labels.max()} but only {len(palette)} colours are defined. Received: mask={describe(labels)}"
        )
    tinted = (1 - alpha) * rgb + alpha * palette[labels]
    where = np.ones(labels.shape, bool) if background else labels > 0
    return np.where(where[..., None], tinted, rgb)


def _legend(fig, names, colors, skip_background=True):
    handles = [
        Patch(facecolor=colors[c], edgecolor="black", label=name)
        for c, name in enumerate(names)
        if not (skip_background and c == 0)
    ]
    return fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False)


def _show(ax, rgb, title):
    ax.imshow(rgb, interpolation="nearest", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _batch(images, masks, masks_name="masks"):
    imgs = check_array(images, "images", ndim=(3, 4), layout="(N, H, W) or (N, H, W, C)")
    labels = _labels(masks, masks_name)
    if labels.ndim != 3:
        raise ValueError(f"`{masks_name}` must have 3 dimensions (N, H, W), but has {labels.ndim}. Received: {masks_name}={describe(labels)}")
    if imgs.shape[:3] != labels.shape:
        raise ValueError(
            f"`images` and `{masks_name}` must have the same shape (N, H, W). "
            f"Received: images.shape={imgs.shape}, {masks_name}.shape={labels.shape}"
        )
    return imgs, labels


def _indices(n, count, indices):
    if indices is None:
        return list(range(min(count, n)))
    idx = check_array(indices, "indices", ndim=1, kind="integer").astype(np.int64)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"`indices` must be positions in [0, {n}). Received: indices={describe(indices)}")
    return idx.tolist()


def show_samples(images, masks, *, n=4, indices=None, class_names=None, num_classes=None, alpha=0.5):
    """Show images next to their masks and overlays, one sample per row.

    Columns: the image, the mask in class colours, the overlay; a legend at
    the bottom names the classes.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, 3), (N, H, W, 1) or (N, H, W)
        Float images in ``[0, 1]`` (or uint8).
    masks : int ndarray of shape (N, H, W)
        Class ids.
    n : int, default 4
        Number of samples shown (the first ``n``), unless ``indices`` is given.
    indices : sequence of int, optional
        Which samples to show.
    class_names : sequence of str, optional
        Name of each class, e.g. ``SHAPE_CLASSES``; default "background",
        "class 1", ...
    num_classes : int, optional
        Number of classes; default ``len(class_names)`` or ``masks.max() + 1``.
    alpha : float, default 0.5
        Opacity of the overlay colours.

    Returns
    -------
    matplotlib.figure.Figure
        ``len(indices)`` rows of 3 axes, titled ``"image i"``, ``"mask"``,
        ``"overlay"``.

    Examples
    --------
    >>> from seglearn.datasets import make_shapes, SHAPE_CLASSES
    >>> images, masks = make_shapes(2)
    >>> fig = show_samples(images, masks, n=2, class_names=SHAPE_CLASSES)
    >>> len(fig.axes), fig.axes[0].get_title()
    (6, 'image 0')
    """
    imgs, labels = _batch(images, masks)
    n = check_positive_int(n, "n")
    rows = _indices(len(imgs), n, indices)
    num_classes, names = _classes(class_names, num_classes, labels)
    colors = class_colors(num_classes)
    _labels(labels, "masks", num_classes)
    fig = Figure(figsize=(6.6, 2.2 * len(rows) + 0.5), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for row, i in enumerate(rows):
        rgb = _image_rgb(imgs[i], "images[i]")
        _show(axes[row, 0], rgb, f"image {i}")
        _show(axes[row, 1], colors[labels[i]], "mask")
        _show(axes[row, 2], overlay(rgb, labels[i], alpha=alpha, colors=colors), "overlay")
    _legend(fig, names, colors)
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    return fig


def plot_overlay(image, mask, *, class_names=None, num_classes=None, alpha=0.5, title=None, ax=None):
    """Draw one image with its mask overlaid and a legend of the class colours.

    Parameters
    ----------
    image : ndarray of shape (H, W), (H, W, 1) or (H, W, 3)
        Float image in ``[0, 1]`` (or uint8).
    mask : int ndarray of shape (H, W)
        Class ids.
    class_names : sequence of str, optional
        Name of each class; the legend lists every class but the background.
    num_classes : int, optional
        Number of classes; default ``len(class_names)`` or ``mask.max() + 1``.
    alpha : float, default 0.5
        Opacity of the colours.
    title : str, optional
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.

    Examples
    --------
    >>> fig = plot_overlay(np.zeros((4, 4)), np.eye(4, dtype=int), class_names=["background", "cell"])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['cell']
    """
    labels = _labels(mask, "mask")
    num_classes, names = _classes(class_names, num_classes, labels)
    colors = class_colors(num_classes)
    _labels(labels, "mask", num_classes)
    rgb = overlay(image, labels, alpha=alpha, colors=colors)
    if ax is None:
        fig = Figure(figsize=(4, 4), layout="constrained")
        ax = fig.add_subplot()
    _show(ax, rgb, "" if title is None else str(title))
    handles = [Patch(facecolor=colors[c], edgecolor="black", label=names[c]) for c in range(1, num_classes)]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    return ax.figure


def plot_predictions(
    images,
    y_true,
    y_pred,
    *,
    class_names=None,
    num_classes=None,
    order="worst",
    max_images=6,
):
    """Compare predictions with the truth, image by image, with each image's IoU.

    One row per image: the image, the true mask, the predicted mask (titled
    with the image's mean IoU), and the errors (wrong pixels in red). The
    per-image score is :func:`seglearn.metrics.mean_iou` of that image (the
    mean over the classes present in its truth or prediction); the figure's
    title gives the mean IoU of all the images together.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, 3), (N, H, W, 1) or (N, H, W)
        Float images in ``[0, 1]`` (or uint8).
    y_true : int ndarray of shape (N, H, W)
        True class ids.
    y_pred : ndarray of shape (N, H, W) or (N, H, W, K)
        Predicted class ids, or per-class scores (probabilities or logits),
        reduced with ``argmax`` over the last axis.
    class_names : sequence of str, optional
        Name of each class (for the legend).
    num_classes : int, optional
        Number of classes; default ``len(class_names)``, ``K`` of scores, or
        the largest label + 1.
    order : {"worst", "best", None}
        Show the images with the lowest IoU first, the highest first, or in
        their given order.
    max_images : int, default 6
        Number of rows.

    Returns
    -------
    matplotlib.figure.Figure
        Rows of 4 axes; the prediction axes are titled ``"prediction, IoU 0.83"``.
        The per-image IoUs in the order of the input are in ``fig.iou_per_image``
        (ndarray of shape (N,)).

    Examples
    --------
    >>> y = np.zeros((2, 4, 4), dtype=int); y[:, 1:3, 1:3] = 1
    >>> p = y.copy(); p[1, 0, 0] = 1  # one wrong pixel in image 1
    >>> fig = plot_predictions(np.zeros((2, 4, 4)), y, p)
    >>> fig.axes[2].get_title()  # the worst image first: IoU = (11/12 + 4/5) / 2 = 0.858
    'prediction, IoU 0.86'
    """
    from . import metrics

    imgs, truth = _batch(images, y_true, "y_true")
    pred = check_array(y_pred, "y_pred", ndim=(3, 4), layout="(N, H, W) or (N, H, W, K)")
    if pred.ndim == 4:
        if num_classes is None and class_names is None:
            num_classes = pred.shape[-1]
        pred = pred.argmax(axis=-1)
    pred = _labels(pred, "y_pred")
    check_same_shape(truth, "y_true", pred, "y_pred (class ids)")
    num_classes, names = _classes(class_names, num_classes, truth, pred)
    _labels(truth, "y_true", num_classes)
    _labels(pred, "y_pred", num_classes)
    order = check_choice(order, "order", ("worst", "best", None), lower=isinstance(order, str))
    max_images = check_positive_int(max_images, "max_images")

    scores = np.array([metrics.mean_iou(truth[i], pred[i], num_classes) for i in range(len(truth))])
    overall = metrics.mean_iou(truth, pred, num_classes)
    if order is None:
        rows = list(range(len(truth)))
    else:
        rows = np.argsort(scores if order == "worst" else -scores, kind="stable").tolist()
    rows = rows[:max_images]
    colors = class_colors(num_classes)
    fig = Figure(figsize=(8.4, 2.2 * len(rows) + 0.8), layout="constrained")
    axes = fig.subplots(len(rows), 4, squeeze=False)
    for row, i in enumerate(rows):
        _show(axes[row, 0], _image_rgb(imgs[i], "images[i]"), f"image {i}")
        _show(axes[row, 1], colors[truth[i]], "truth")
        _show(axes[row, 2], colors[pred[i]], f"prediction, IoU {scores[i]:.2f}")
        wrong = truth[i] != pred[i]
        errors = np.where(wrong[..., None], np.array([0.9, 0.1, 0.1]), np.array([1.0, 1.0, 1.0]))
        _show(axes[row, 3], errors, f"errors: {wrong.mean():.1%} of pixels")
    fig.suptitle(f"mean IoU over the {len(truth)} images: {overall:.3f}", fontsize=10)
    _legend(fig, names, colors)
    fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    fig.iou_per_image = scores
    return fig


def plot_history(history, *, metrics=None):
    """Plot training curves from a Keras ``History`` (or its ``history`` dict).

    One axes per metric (``loss`` first), with the training curve (``"train"``)
    and, when recorded, the validation curve (``val_<name>``, ``"validation"``)
    against the epoch number (1, 2, ...).

    Parameters
    ----------
    history : keras.callbacks.History or dict of str -> sequence of float
        What ``model.fit`` returns, or its ``.history`` dict, e.g.
        ``{"loss": [...], "val_loss": [...], "mean_iou": [...]}``.
    metrics : sequence of str, optional
        Names to plot (without ``val_``); default every training metric.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per metric, titled with its name.

    Examples
    --------
    >>> fig = plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]})
    >>> ax = fig.axes[0]
    >>> ax.get_title(), [line.get_label() for line in ax.get_lines()]
    ('loss', ['train', 'validation'])
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping) or not logs:
        raise TypeError(
            "`history` must be a keras History or a non-empty dict of metric name -> list of values. "
            f"Received: history={describe(history)}"
        )
    series = {}
    for key, values in logs.items():
        arr = check_array(values, f"history[{key!r}]", ndim=1, finite=False, dtype=np.float64)
        series[str(key)] = arr
    names = [k for k in series if not k.startswith("val_")] or [k[4:] for k in series]
    names.sort(key=lambda k: (k != "loss", list(series).index(k) if k in series else 0))
    if metrics is not None:
        if isinstance(metrics, str) or not isinstance(metrics, Sequence):
            raise TypeError(f"`metrics` must be a sequence of names. Received: metrics={describe(metrics)}")
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"`metrics` names {unknown} not in the history, which has {names}. Received: metrics={describe(metrics)}")
        names = list(metrics)
    fig = Figure(figsize=(3.6 * len(names), 3.0), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "train", "-"), (f"val_{name}", "validation", "--")):
            if key in series:
                values = series[key]
                ax.plot(np.arange(1, len(values) + 1), values, style, marker="o", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_runs(histories, metrics=("loss", "val_loss"), *, title=None):
    """Learning curves of several runs, one axes per metric.

    Parameters
    ----------
    histories : dict of str to dict or TrainingRun
        Label of each run -> its per-epoch history: a dict of metric name ->
        list of values (``TrainingRun.history``, a Keras ``History.history``),
        or anything with such a ``.history`` dict (a
        :class:`seglearn.training.TrainingRun`, a Keras ``History``).
    metrics : sequence of str
        History keys to plot, e.g. ``("loss", "val_loss")`` or
        ``("val_mean_iou",)``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Drawn through ``pyplot`` (unlike the other figures of this module),
        so that Jupyter shows it at the end of the cell even when it is
        assigned (``fig = plot_runs(...)``), as the FAQ chapters do.

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


def plot_seed_comparison(comparison, *, title=None, ax=None):
    """Error-bar plot of settings compared over seeds: mean ± sd, and every seed.

    Parameters
    ----------
    comparison : SeedComparison or dict of str to sequence of float
        The result of :func:`seglearn.tables.compare_over_seeds`, or the dict
        it takes (setting -> one value per seed).
    title : str, optional
        Axes title; by default the comparison's verdict is not repeated, only
        ``"<metric> over <n> seeds"``.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per setting: a dot per seed, the mean as a bar end and ± one
        standard deviation as the error bar. The best setting is drawn in colour.

    Examples
    --------
    >>> fig = plot_seed_comparison({"a": [0.8, 0.82, 0.81], "b": [0.7, 0.72, 0.75]})
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['a', 'b']
    """
    import matplotlib.pyplot as plt

    from .tables import SeedComparison, compare_over_seeds

    if not isinstance(comparison, SeedComparison):
        comparison = compare_over_seeds(comparison)
    names = list(comparison.values)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(3.2, 1.1 * len(names) + 1.5), 3.2))
    else:
        fig = ax.figure
    x = np.arange(len(names))
    for i, name in enumerate(names):
        colour = "tab:blue" if name == comparison.best else "tab:gray"
        ax.errorbar(i, comparison.means[name], yerr=comparison.spreads[name], fmt="s", color=colour,
                    capsize=6, markersize=7, zorder=3)
        v = comparison.values[name]
        ax.scatter(np.full(v.size, i) + np.linspace(-0.12, 0.12, v.size), v, color=colour, alpha=0.5,
                   s=14, zorder=2)
    ax.set_xticks(x, names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(comparison.metric)
    ax.grid(axis="y", alpha=0.3)
    n = len(comparison.values[comparison.best])
    ax.set_title(title or f"{comparison.metric} over {n} seeds (mean ± sd)", fontsize=10)
    fig.tight_layout()
    return fig
