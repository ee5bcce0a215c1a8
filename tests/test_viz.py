"""Tests of seglearn.viz: the figures' content (axes, titles, legends, pixels), headless."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from seglearn import metrics  # noqa: E402
from seglearn.viz import (  # noqa: E402
    class_colors,
    overlay,
    plot_history,
    plot_overlay,
    plot_predictions,
    plot_runs,
    show_samples,
)

NAMES = ("background", "circle", "square")


def _legend_labels(legend):
    return [t.get_text() for t in legend.get_texts()]


def _shown(ax):
    """The RGB array an axes displays."""
    return np.asarray(ax.images[0].get_array())


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    images = rng.random((5, 6, 7, 3))
    masks = rng.integers(0, 3, (5, 6, 7))
    return images, masks


# --- class_colors and overlay ----------------------------------------------------------


def test_class_colors_are_fixed_and_distinct():
    colors = class_colors(30)
    assert colors.shape == (30, 3) and colors.min() >= 0 and colors.max() <= 1
    np.testing.assert_array_equal(colors[0], [0, 0, 0])  # background black
    np.testing.assert_array_equal(class_colors(4), colors[:4])  # same id, same colour, any K
    gaps = np.linalg.norm(colors[:, None] - colors[None], axis=-1) + np.eye(30)
    assert gaps.min() > 0.05, "two classes share (almost) the same colour"


def test_class_colors_rejects_bad_counts():
    with pytest.raises(ValueError, match="num_classes"):
        class_colors(0)


def test_overlay_hand_worked():
    image = np.full((1, 3, 3), 0.5)  # grey (H, W, 3)
    mask = np.array([[0, 1, 2]])
    out = overlay(image, mask, alpha=0.25)
    red, blue = class_colors(3)[1], class_colors(3)[2]
    np.testing.assert_allclose(out[0, 0], [0.5, 0.5, 0.5])  # background untouched
    np.testing.assert_allclose(out[0, 1], 0.75 * 0.5 + 0.25 * red)
    np.testing.assert_allclose(out[0, 2], 0.75 * 0.5 + 0.25 * blue)
    tinted = overlay(image, mask, alpha=1.0, background=True)
    np.testing.assert_allclose(tinted[0, 0], [0, 0, 0])  # the background colour at full opacity


def test_overlay_accepts_grey_uint8_and_custom_colors():
    grey = np.array([[0, 255]], dtype=np.uint8)
    out = overlay(grey, np.array([[1, 0]]), alpha=0.5, colors=[[0, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(out, [[[0, 0.5, 0], [1, 1, 1]]])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(image=np.zeros((2, 3)), mask=np.zeros((2, 2), int)), ValueError, "same shape"),
        (dict(image=np.zeros((2, 2)), mask=np.zeros((2, 2), int), alpha=1.5), ValueError, "alpha"),
        (dict(image=np.full((2, 2), 2.0), mask=np.zeros((2, 2), int)), ValueError, r"\[0, 1\]"),
        (dict(image=np.zeros((2, 2, 2)), mask=np.zeros((2, 2), int)), ValueError, "1 or 3 channels"),
        (dict(image=np.zeros((2, 2)), mask=np.array([[0, 3], [0, 0]]), colors=np.eye(3)), ValueError, "only 3 colours"),
        (dict(image=np.zeros((2, 2)), mask=np.full((2, 2), 0.5)), TypeError, "mask"),
        (dict(image=np.zeros((2, 2)), mask=np.full((2, 2), -1)), ValueError, ">= 0"),
    ],
)
def test_overlay_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        overlay(**kwargs)


# --- show_samples and plot_overlay -------------------------------------------------------


def test_show_samples_content(batch):
    images, masks = batch
    fig = show_samples(images, masks, n=2, class_names=NAMES)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes] == ["image 0", "mask", "overlay", "image 1", "mask", "overlay"]
    np.testing.assert_allclose(_shown(fig.axes[3]), images[1])
    np.testing.assert_allclose(_shown(fig.axes[4]), class_colors(3)[masks[1]])
    np.testing.assert_allclose(_shown(fig.axes[5]), overlay(images[1], masks[1], num_classes=3))
    assert _legend_labels(fig.legends[0]) == ["circle", "square"]


def test_show_samples_indices_and_default_names(batch):
    images, masks = batch
    fig = show_samples(images[..., 0], masks, indices=[4, 2])  # greyscale (N, H, W) too
    assert [ax.get_title() for ax in fig.axes[::3]] == ["image 4", "image 2"]
    assert _legend_labels(fig.legends[0]) == ["class 1", "class 2"]
    np.testing.assert_allclose(_shown(fig.axes[0]), np.repeat(images[4, ..., :1], 3, -1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(indices=[5]), "indices"),
        (dict(n=0), "`n`"),
        (dict(class_names=("a", "b")), r"class ids in \[0, 2\)"),
        (dict(class_names="abc"), "class_names"),
    ],
)
def test_show_samples_rejects_bad_arguments(batch, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        show_samples(*batch, **kwargs)


def test_show_samples_rejects_unpaired_arrays(batch):
    images, masks = batch
    with pytest.raises(ValueError, match="same shape"):
        show_samples(images, masks[:4])


def test_plot_overlay_content_and_axes(batch):
    images, masks = batch
    fig = plot_overlay(images[0], masks[0], class_names=NAMES, alpha=0.3, title="sample 0")
    ax = fig.axes[0]
    assert ax.get_title() == "sample 0"
    np.testing.assert_allclose(_shown(ax), overlay(images[0], masks[0], alpha=0.3, num_classes=3))
    assert _legend_labels(ax.get_legend()) == ["circle", "square"]
    # into an existing axes
    host = Figure()
    axes = host.subplots(1, 2)
    assert plot_overlay(images[1], masks[1], ax=axes[1]) is host
    assert len(axes[1].images) == 1 and len(axes[0].images) == 0


# --- plot_predictions ---------------------------------------------------------------------


def test_plot_predictions_hand_worked():
    truth = np.zeros((3, 4, 4), dtype=int)
    truth[:, 1:3, 1:3] = 1
    pred = truth.copy()
    pred[1, 0, 0] = 1  # image 1: one background pixel called class 1
    pred[2, 1, 1] = 0  # image 2: one class-1 pixel missed
    # image 0: perfect, IoU 1
    # image 1: background 11/12, class 1 4/5 -> (0.9167 + 0.8) / 2 = 0.858
    # image 2: background 12/13, class 1 3/4 -> (0.9231 + 0.75) / 2 = 0.837
    fig = plot_predictions(np.zeros((3, 4, 4)), truth, pred, class_names=("background", "nucleus"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[2::4] == ["prediction, IoU 0.84", "prediction, IoU 0.86", "prediction, IoU 1.00"]  # worst first
    assert titles[0::4] == ["image 2", "image 1", "image 0"]
    assert titles[3::4] == ["errors: 6.2% of pixels", "errors: 6.2% of pixels", "errors: 0.0% of pixels"]
    np.testing.assert_allclose(fig.iou_per_image, [1.0, (11 / 12 + 4 / 5) / 2, (12 / 13 + 3 / 4) / 2])
    assert fig._suptitle.get_text() == f"mean IoU over the 3 images: {metrics.mean_iou(truth, pred, 2):.3f}"
    assert _legend_labels(fig.legends[0]) == ["nucleus"]
    np.testing.assert_allclose(_shown(fig.axes[1]), class_colors(2)[truth[2]])
    np.testing.assert_allclose(_shown(fig.axes[2]), class_colors(2)[pred[2]])


def test_plot_predictions_orders_and_limits(batch):
    images, truth = batch
    rng = np.random.default_rng(1)
    pred = np.where(rng.random(truth.shape) < 0.3, rng.integers(0, 3, truth.shape), truth)
    scores = np.array([metrics.mean_iou(truth[i], pred[i], 3) for i in range(5)])
    best = plot_predictions(images, truth, pred, order="best", max_images=2)
    assert len(best.axes) == 8
    assert [ax.get_title() for ax in best.axes[0::4]] == [f"image {i}" for i in np.argsort(-scores)[:2]]
    given = plot_predictions(images, truth, pred, order=None)
    assert [ax.get_title() for ax in given.axes[0::4]] == [f"image {i}" for i in range(5)]


def test_plot_predictions_accepts_scores(batch):
    images, truth = batch
    rng = np.random.default_rng(2)
    logits = rng.normal(size=truth.shape + (3,))
    from_scores = plot_predictions(images, truth, logits)
    from_labels = plot_predictions(images, truth, logits.argmax(-1), num_classes=3)
    np.testing.assert_array_equal(from_scores.iou_per_image, from_labels.iou_per_image)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(y_pred=np.zeros((5, 6, 6), int)), ValueError, "same shape"),
        (dict(order="random"), ValueError, "order"),
        (dict(max_images=0), ValueError, "max_images"),
        (dict(num_classes=2), ValueError, r"class ids in \[0, 2\)"),
    ],
)
def test_plot_predictions_rejects_bad_arguments(batch, kwargs, error, match):
    images, truth = batch
    args = dict(y_pred=truth)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        plot_predictions(images, truth, **args)


# --- plot_history --------------------------------------------------------------------------


class _History:
    """Stands in for keras.callbacks.History (which has a ``history`` dict)."""

    def __init__(self, history):
        self.history = history


def test_plot_history_from_a_history_object():
    logs = {"loss": [1.0, 0.6, 0.4], "mean_iou": [0.2, 0.5, 0.7], "val_loss": [1.1, 0.8, 0.7], "val_mean_iou": [0.1, 0.4, 0.6]}
    fig = plot_history(_History(logs))
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mean_iou"]
    lines = fig.axes[1].get_lines()
    assert [line.get_label() for line in lines] == ["train", "validation"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[1].get_ydata(), [0.1, 0.4, 0.6])
    assert fig.axes[0].get_xlabel() == "epoch"


def test_plot_history_without_validation_and_with_a_selection():
    fig = plot_history({"accuracy": [0.5, 0.6], "loss": [0.9, 0.8]})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]  # loss first
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]
    fig = plot_history({"accuracy": [0.5, 0.6], "loss": [0.9, 0.8]}, metrics=["accuracy"])
    assert [ax.get_title() for ax in fig.axes] == ["accuracy"]


@pytest.mark.parametrize(
    "history, kwargs, error, match",
    [
        ({}, {}, TypeError, "history"),
        ([1, 2], {}, TypeError, "history"),
        ({"loss": [[1, 2]]}, {}, ValueError, r"history\['loss'\]"),
        ({"loss": [1.0]}, {"metrics": ["iou"]}, ValueError, "not in the history"),
        ({"loss": [1.0]}, {"metrics": "loss"}, TypeError, "metrics"),
    ],
)
def test_plot_history_rejects_bad_input(history, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_history(history, **kwargs)


# ---------------------------------------------------------------------------
# plot_runs: several runs side by side
# ---------------------------------------------------------------------------


def test_plot_runs_draws_one_line_per_run_and_checks_metrics():
    fig = plot_runs({"a": {"loss": [1, 0.5], "val_loss": [1, 0.7]}, "b": {"loss": [2, 1, 0.5], "val_loss": [2, 2, 2]}})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_loss"]
    np.testing.assert_array_equal(fig.axes[1].get_lines()[1].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="metrics"):
        plot_runs({"a": {"loss": [1]}}, ["val_loss"])
    with pytest.raises(TypeError, match="histories"):
        plot_runs({})
    plt.close(fig)


def test_plot_runs_accepts_objects_with_a_history_and_a_single_metric():
    fig = plot_runs({"a": _History({"loss": [1.0, 0.5]}), "b": {"loss": [0.9]}}, "loss", title="runs")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    assert fig.get_suptitle() == "runs"
    plt.close(fig)


@pytest.mark.tf
def test_plot_runs_accepts_training_runs():
    from seglearn.training import TrainingRun

    run = TrainingRun(model=None, history={"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]},
                      val=None, seconds=1.0, first_step_seconds=0.5, steps=3, images=24)
    fig = plot_runs({"unet": run, "fcn": {"loss": [1.0, 0.9], "val_loss": [1.0, 1.0]}})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_loss"]
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), run.history["loss"])
    plt.close(fig)


def test_plot_seed_comparison_draws_means_spreads_and_every_seed():
    from seglearn.tables import compare_over_seeds
    from seglearn.viz import plot_seed_comparison

    c = compare_over_seeds({"a": [0.8, 0.82, 0.81], "b": [0.6, 0.7, 0.65]}, metric="val IoU")
    fig = plot_seed_comparison(c)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "val IoU" and "3 seeds" in ax.get_title()
    assert len(ax.collections) >= 2  # the per-seed dots of each setting
    dots = np.concatenate([coll.get_offsets()[:, 1] for coll in ax.collections if len(coll.get_offsets()) == 3])
    np.testing.assert_allclose(np.sort(dots), np.sort([0.8, 0.82, 0.81, 0.6, 0.7, 0.65]))
    plt.close(fig)
    with pytest.raises(ValueError, match="at least two settings"):
        plot_seed_comparison({"a": [1.0, 2.0]})
