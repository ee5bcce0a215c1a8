"""Tests for seglearn.widgets: kernels, drawing functions, explorers, set-up checks.

The drawing functions are checked against seglearn.ops (the numbers in the
figure must be the op's output) and the explorers by setting their controls'
``.value`` from Python, which runs the same observers a browser would trigger.
"""

import json
import sys
import tomllib

import numpy as np
import pytest
from matplotlib.figure import Figure

from seglearn import ops, widgets

# The figure holds float64 results of the same op; only the order of the
# channel sum differs (mean image vs kernel/C per channel), so 1e-12 is ample.
ATOL = 1e-12


def _image(seed=0, shape=(20, 17, 3)):
    """A non-square image, so a swapped H and W would show."""
    return np.random.default_rng(seed).random(shape)


def _panel(fig, label):
    """The image array drawn in the axes labelled ``label``."""
    (ax,) = [ax for ax in fig.axes if ax.get_label() == label]
    (im,) = ax.images
    return np.asarray(im.get_array())


def _shape_text(fig):
    (text,) = [t.get_text() for t in fig.texts if t.get_gid() == "seglearn-output-shape"]
    return text


# --------------------------------------------------------------------------- make_kernel
TEXTBOOK = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box": np.full((3, 3), 1 / 9),
    "gaussian": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "edge": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
}


def test_kernel_kinds_are_the_textbook_ones():
    assert set(TEXTBOOK) == set(widgets.KERNEL_KINDS)


@pytest.mark.parametrize("kind", widgets.KERNEL_KINDS)
def test_make_kernel_size_3_is_the_textbook_kernel(kind):
    np.testing.assert_allclose(widgets.make_kernel(kind, 3), TEXTBOOK[kind], rtol=0, atol=1e-15)


@pytest.mark.parametrize("size", [3, 5, 7])
def test_make_kernel_sums(size):
    # Smoothing keeps the mean brightness (sum 1); derivatives ignore it (sum 0).
    sums = {"identity": 1, "box": 1, "gaussian": 1, "sharpen": 1, "edge": 0, "sobel_x": 0, "sobel_y": 0, "laplacian": 0}
    for kind, total in sums.items():
        kernel = widgets.make_kernel(kind, size)
        assert kernel.shape == (size, size)
        assert kernel.sum() == pytest.approx(total, abs=1e-12), kind


def test_make_kernel_gaussian_5_is_the_binomial_outer_product():
    b = np.array([1, 4, 6, 4, 1])
    np.testing.assert_allclose(widgets.make_kernel("gaussian", 5), np.outer(b, b) / 256, rtol=1e-15)


def test_make_kernel_larger_sobel_and_symmetry():
    sobel_x = widgets.make_kernel("sobel_x", 5)
    np.testing.assert_array_equal(widgets.make_kernel("sobel_y", 5), sobel_x.T)
    np.testing.assert_array_equal(sobel_x, -sobel_x[:, ::-1])  # odd in x
    np.testing.assert_array_equal(sobel_x, sobel_x[::-1, :])  # even in y
    lap = widgets.make_kernel("laplacian", 5)
    np.testing.assert_array_equal(lap, lap.T)


def test_sobel_x_is_positive_where_the_image_gets_brighter_to_the_right():
    step = np.zeros((1, 5, 6, 1))
    step[:, :, 3:] = 1.0
    out = ops.conv2d(step, widgets.make_kernel("sobel_x")[:, :, None, None])[0, :, :, 0]
    # Columns 0..3 of the output centre on input columns 1..4; the edge is between 2 and 3.
    np.testing.assert_array_equal(out, np.tile([0.0, 4.0, 4.0, 0.0], (3, 1)))


@pytest.mark.parametrize(
    "kind, size, match",
    [("blur", 3, "kind"), ("laplacian", 4, "size"), ("sobel_x", 1, "size"), ("gaussian", 2, "size"), ("box", 0, "size")],
)
def test_make_kernel_rejects_bad_input(kind, size, match):
    with pytest.raises(ValueError, match=match):
        widgets.make_kernel(kind, size)


def test_make_kernel_rejects_non_integer_size():
    with pytest.raises(TypeError, match="size"):
        widgets.make_kernel("box", 2.5)
    with pytest.raises(TypeError, match="size"):
        widgets.make_kernel("box", True)


def test_make_kernel_box_accepts_even_sizes():
    np.testing.assert_allclose(widgets.make_kernel("box", 2), np.full((2, 2), 0.25))


# --------------------------------------------------------------------------- draw_convolution
CONV_CASES = [
    ("edge", 3, 1, "valid", 1),
    ("sobel_y", 3, 2, "same", 1),
    ("gaussian", 5, 1, "same", 2),
    ("laplacian", 3, 3, "valid", 2),
    ("box", 4, 2, "same", 1),  # even kernel: TensorFlow's asymmetric "same"
]


@pytest.mark.parametrize("kind, size, strides, padding, dilation", CONV_CASES)
def test_draw_convolution_shows_the_ops_output(kind, size, strides, padding, dilation):
    image = _image(seed=size + strides)
    fig = widgets.draw_convolution(image, kind, size, strides=strides, padding=padding, dilation_rate=dilation)
    assert isinstance(fig, Figure)
    # The drawn kernel acts on the channel mean (convolution is linear in x).
    expected = ops.conv2d(
        image.mean(axis=2)[None, :, :, None],
        widgets.make_kernel(kind, size)[:, :, None, None],
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
    )[0, :, :, 0]
    np.testing.assert_allclose(_panel(fig, "output"), expected, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(_panel(fig, "kernel"), widgets.make_kernel(kind, size))
    np.testing.assert_array_equal(_panel(fig, "input"), image)
    out_h = ops.conv_output_size(20, size, strides, padding, dilation)
    out_w = ops.conv_output_size(17, size, strides, padding, dilation)
    assert expected.shape == (out_h, out_w)
    assert _shape_text(fig) == f"output shape: {out_h} x {out_w}"


def test_draw_convolution_grey_image_and_hand_worked_example():
    # 4x4 ramp, 3x3 box: each output is the mean of a 3x3 block.
    image = np.arange(16.0).reshape(4, 4)
    fig = widgets.draw_convolution(image, "box", 3)
    np.testing.assert_allclose(_panel(fig, "output"), [[5.0, 6.0], [9.0, 10.0]], rtol=1e-15)
    assert _shape_text(fig) == "output shape: 2 x 2"


def test_draw_convolution_redraws_in_place():
    image = _image(seed=1)
    fig = widgets.draw_convolution(image, "edge", 3)
    same = widgets.draw_convolution(image, "gaussian", 5, strides=2, padding="same", fig=fig)
    assert same is fig
    assert [len(ax.images) for ax in fig.axes] == [1, 1, 1], "artists must be reused, not added"
    assert _panel(fig, "output").shape == (10, 9)
    assert _shape_text(fig) == "output shape: 10 x 9"
    (ax_out,) = [ax for ax in fig.axes if ax.get_label() == "output"]
    assert ax_out.images[0].get_extent() == [-0.5, 8.5, 9.5, -0.5]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"image": np.zeros(5)}, ValueError, "image"),
        ({"image": np.zeros((5, 5, 4))}, ValueError, "image"),
        ({"image": "cat.png"}, TypeError, "image"),
        ({"kernel_type": "blur"}, ValueError, "kind"),
        ({"padding": "full"}, ValueError, "padding"),
        ({"strides": 0}, ValueError, "strides"),
        ({"dilation_rate": (1, 0)}, ValueError, "dilation_rate"),
        ({"kernel_size": 9, "dilation_rate": 2}, ValueError, "kernel"),  # 17 > 8 pixels
        ({"fig": "figure"}, TypeError, "fig"),
        ({"fig": Figure()}, ValueError, "fig"),
    ],
)
def test_draw_convolution_rejects_bad_input(kwargs, error, match):
    args = {"image": np.zeros((8, 8))} | kwargs
    with pytest.raises(error, match=match):
        widgets.draw_convolution(**args)


def test_draw_convolution_rejects_a_pooling_figure():
    fig = widgets.draw_pooling(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="draw_convolution"):
        widgets.draw_convolution(np.zeros((8, 8)), fig=fig)


# --------------------------------------------------------------------------- draw_pooling
@pytest.mark.parametrize(
    "pool_type, pool_size, strides, padding",
    [("max", 2, None, "valid"), ("average", 3, 2, "same"), ("max", 3, 1, "same"), ("average", (2, 3), (1, 2), "valid")],
)
def test_draw_pooling_shows_the_ops_output(pool_type, pool_size, strides, padding):
    image = _image(seed=7)
    fig = widgets.draw_pooling(image, pool_type, pool_size, strides, padding)
    op = ops.max_pool2d if pool_type == "max" else ops.avg_pool2d
    expected = op(image[None], pool_size=pool_size, strides=strides, padding=padding)[0]
    # Same op on the same float64 array: exact equality.
    np.testing.assert_array_equal(_panel(fig, "output"), expected)
    assert _shape_text(fig) == f"output shape: {expected.shape[0]} x {expected.shape[1]}"


def test_draw_pooling_hand_worked_example_and_defaults():
    # 4x5 grey ramp 0..19, 2x2 max pool, stride 2 (the default = pool size):
    # windows rows {0,1} / {2,3}, columns {0,1} / {2,3}; column 4 is dropped ("valid").
    image = np.arange(20.0).reshape(4, 5)
    fig = widgets.draw_pooling(image)
    np.testing.assert_array_equal(_panel(fig, "output"), [[6.0, 8.0], [16.0, 18.0]])
    assert _shape_text(fig) == "output shape: 2 x 2"
    widgets.draw_pooling(image, "average", padding="same", fig=fig)
    # "same" keeps column 4 in a window of 2 real pixels: (4 + 9) / 2 = 6.5.
    assert _panel(fig, "output")[0, 2] == 6.5
    assert _shape_text(fig) == "output shape: 2 x 3"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"pool_type": "min"}, ValueError, "pool_type"),
        ({"pool_size": 0}, ValueError, "pool_size"),
        ({"pool_size": 9}, ValueError, "pool_size"),
        ({"strides": (2, 2, 2)}, ValueError, "strides"),
        ({"padding": "reflect"}, ValueError, "padding"),
        ({"image": np.zeros((2, 8, 8, 3))}, ValueError, "image"),
    ],
)
def test_draw_pooling_rejects_bad_input(kwargs, error, match):
    args = {"image": np.zeros((8, 8))} | kwargs
    with pytest.raises(error, match=match):
        widgets.draw_pooling(**args)


# --------------------------------------------------------------------------- explorers
def test_conv_explorer_controls_and_classes():
    explorer = widgets.conv_explorer(_image(seed=2))
    assert "seglearn-conv-explorer" in explorer._dom_classes
    assert "seglearn-output-shape" in explorer.shape_label._dom_classes
    descriptions = {name: w.description for name, w in explorer.controls.items()}
    assert descriptions == {
        "kernel_type": "kernel",
        "kernel_size": "kernel size",
        "strides": "stride",
        "padding": "padding",
        "dilation_rate": "dilation",
    }
    assert explorer.shape_label.value == "output shape: 18 x 15"
    assert explorer.output in explorer.children and explorer.shape_label in explorer.children


def test_conv_explorer_updates_label_and_figure_when_controls_move():
    image = _image(seed=3)
    explorer = widgets.conv_explorer(image)
    fig = explorer.figure
    explorer.controls["strides"].value = 2
    assert explorer.shape_label.value == "output shape: 9 x 8"
    explorer.controls["padding"].value = "same"
    explorer.controls["kernel_type"].value = "sobel_x"
    explorer.controls["kernel_size"].value = 5
    explorer.controls["dilation_rate"].value = 2
    assert explorer.figure is fig, "the explorer must redraw its one figure"
    assert explorer.shape_label.value == "output shape: 10 x 9" == _shape_text(fig)
    expected = widgets.draw_convolution(image, "sobel_x", 5, strides=2, padding="same", dilation_rate=2)
    np.testing.assert_array_equal(_panel(fig, "output"), _panel(expected, "output"))


def test_conv_explorer_reports_values_it_cannot_draw_and_recovers():
    explorer = widgets.conv_explorer(np.zeros((8, 8)), kernel_type="box")
    before = _panel(explorer.figure, "output").copy()
    explorer.controls["dilation_rate"].value = 4  # window 4*(3-1)+1 = 9 > 8 pixels
    assert explorer.shape_label.value.startswith("not allowed:")
    assert "kernel" in explorer.shape_label.value
    np.testing.assert_array_equal(_panel(explorer.figure, "output"), before)
    explorer.controls["padding"].value = "same"
    assert explorer.shape_label.value == "output shape: 8 x 8"


def test_conv_explorer_rejects_bad_input():
    with pytest.raises(ValueError, match="image"):
        widgets.conv_explorer(np.zeros(5))
    with pytest.raises(ValueError, match="kernel_type"):
        widgets.conv_explorer(np.zeros((8, 8)), kernel_type="blur")
    with pytest.raises(TypeError, match="kernel_size"):
        widgets.conv_explorer(np.zeros((8, 8)), kernel_size=(3, 3))
    with pytest.raises(ValueError, match="dilation_rate"):
        widgets.conv_explorer(np.zeros((8, 8)), dilation_rate=0)


def test_pool_explorer_controls_update_label_and_figure():
    image = _image(seed=4)
    explorer = widgets.pool_explorer(image)
    assert "seglearn-pool-explorer" in explorer._dom_classes
    assert "seglearn-output-shape" in explorer.shape_label._dom_classes
    assert {w.description for w in explorer.controls.values()} == {"pool type", "pool size", "stride", "padding"}
    assert explorer.shape_label.value == "output shape: 10 x 8"
    explorer.controls["pool_size"].value = 3
    explorer.controls["strides"].value = 1
    explorer.controls["pool_type"].value = "average"
    assert explorer.shape_label.value == "output shape: 18 x 15"
    np.testing.assert_array_equal(
        _panel(explorer.figure, "output"), ops.avg_pool2d(image[None], 3, strides=1)[0]
    )
    explorer.controls["padding"].value = "same"
    assert explorer.shape_label.value == "output shape: 20 x 17"


def test_pool_explorer_rejects_bad_input():
    with pytest.raises(ValueError, match="pool_type"):
        widgets.pool_explorer(np.zeros((8, 8)), pool_type="min")
    with pytest.raises(ValueError, match="pool_size"):
        widgets.pool_explorer(np.zeros((8, 8)), pool_size=0)
    with pytest.raises(ValueError, match="strides"):
        widgets.pool_explorer(np.zeros((8, 8)), strides=0)


# --------------------------------------------------------------------------- set-up checks
def test_widget_check_echoes_the_slider():
    box = widgets.widget_check(2)
    slider, echo = box.children
    assert slider.description == "widget check"
    assert "seglearn-widget-check" in box._dom_classes
    assert "seglearn-widget-check-echo" in echo._dom_classes
    assert echo.value == "widget check value: 2"
    slider.value = 9
    assert echo.value == "widget check value: 9"


@pytest.mark.parametrize("value, error", [(11, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_widget_check_rejects_bad_value(value, error):
    with pytest.raises(error, match="value"):
        widgets.widget_check(value)


def test_minimum_versions_match_pyproject(root):
    # read from the package's metadata (seglearn._defaults), so they cannot drift
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {}
    for dep in project["dependencies"]:
        name, _, version = dep.partition(">=")
        pins[name.strip()] = version.strip()
    pins["python"] = project["requires-python"].removeprefix(">=")
    assert set(widgets.MINIMUM_VERSIONS) == {"python", "numpy", "tensorflow", "keras", "matplotlib",
                                             "ipywidgets", "jupyterlab"}
    for package, minimum in widgets.MINIMUM_VERSIONS.items():
        assert pins.get(package) == minimum, f"MINIMUM_VERSIONS[{package!r}] differs from pyproject.toml"


def test_minimum_versions_of_a_source_tree_that_is_not_installed(monkeypatch):
    from importlib import metadata

    from seglearn import _defaults

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_defaults.metadata, "metadata", not_installed)
    assert _defaults.minimum_versions() == widgets.MINIMUM_VERSIONS  # parsed from pyproject.toml


def test_environment_report_on_this_machine_passes():
    rows = widgets.environment_report()
    names = [row["name"] for row in rows]
    assert names == [*widgets.MINIMUM_VERSIONS, "jupyterlab_widgets", "@jupyter-widgets/jupyterlab-manager"]
    failed = [row for row in rows if not row["ok"]]
    assert not failed, f"this environment fails its own checks: {failed}"
    python = rows[0]
    assert python["found"] == ".".join(map(str, sys.version_info[:3]))


def test_environment_report_flags_a_too_old_package():
    (row,) = [r for r in widgets.environment_report({"numpy": "999.0"}) if r["name"] == "numpy"]
    assert row["ok"] is False and row["required"] == ">= 999.0" and "numpy>=999.0" in row["detail"]


def test_environment_report_flags_a_missing_package():
    (row,) = [r for r in widgets.environment_report({"no-such-package-xyz": "1.0"}) if r["name"] == "no-such-package-xyz"]
    assert row["ok"] is False and row["found"] == "not installed"


def _fake_extension(tmp_path, version, lab="^4.0.0"):
    folder = tmp_path / "@jupyter-widgets" / "jupyterlab-manager"
    folder.mkdir(parents=True)
    manifest = {"name": "@jupyter-widgets/jupyterlab-manager", "version": version,
                "dependencies": {"@jupyterlab/application": lab}}
    (folder / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


def _manager_row(dirs):
    return widgets.environment_report({}, labextension_dirs=dirs)[-1]


def test_environment_report_finds_a_matching_front_end_extension(tmp_path):
    row = _manager_row([tmp_path / "empty", _fake_extension(tmp_path, "5.0.99")])
    assert row["ok"] is True and row["found"] == "5.0.99" and str(tmp_path) in row["detail"]


def test_environment_report_flags_a_missing_front_end_extension(tmp_path):
    row = _manager_row([tmp_path])
    assert row["ok"] is False and row["found"] == "not installed" and "not found" in row["detail"]


def test_environment_report_flags_a_mismatched_front_end_extension(tmp_path):
    row = _manager_row([_fake_extension(tmp_path, "3.1.0")])  # the ipywidgets 7 extension
    assert row["ok"] is False and "needs jupyterlab-manager 5.x" in row["detail"]


def test_environment_report_flags_an_extension_built_for_another_jupyterlab(tmp_path):
    row = _manager_row([_fake_extension(tmp_path, "5.0.1", lab="^3.0.0")])
    assert row["ok"] is False and "JupyterLab ^3.0.0" in row["detail"]


def test_environment_report_rejects_bad_arguments():
    with pytest.raises(ValueError, match="minimum_versions"):
        widgets.environment_report({"numpy": "not a version"})
    with pytest.raises(TypeError, match="minimum_versions"):
        widgets.environment_report(["numpy"])
