"""Tests of seglearn.diagrams: each picture shows what the object it explains holds.

The drawn values are read back from the artists (image arrays, texts with a
gid) and compared with seglearn.ops, the Keras model or the formula, worked out
here independently of the drawing code.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from seglearn import ops, viz  # noqa: E402
from seglearn.diagrams import (  # noqa: E402
    SEVEN_STEPS,
    plot_im2col,
    plot_receptive_field,
    plot_seven_steps,
    plot_transposed_conv_stamping,
    plot_unet_architecture,
)


def _axes(fig, label):
    return next(ax for ax in fig.axes if ax.get_label() == label)


def _texts(ax, gid):
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def _outline(ax, gid):
    """(top, left, height, width) in cells of the rectangle with this gid."""
    rect = next(p for p in ax.patches if p.get_gid() == gid)
    return (round(rect.get_y() + 0.5), round(rect.get_x() + 0.5), round(rect.get_height()), round(rect.get_width()))


def test_viz_reexports_the_diagrams():
    for name in ("plot_unet_architecture", "plot_im2col", "plot_receptive_field",
                 "plot_transposed_conv_stamping", "plot_seven_steps"):
        assert getattr(viz, name) is globals()[name] and name in viz.__all__


# --- the seven steps ----------------------------------------------------------------------


def _step_labels(fig):
    ax = fig.axes[0]
    found = {t.get_gid(): " ".join(t.get_text().split()) for t in ax.texts if (t.get_gid() or "").startswith("step:")}
    return [found[f"step:{n}"] for n in range(1, 8)]


def test_seven_steps_labels_in_order():
    fig = plot_seven_steps()
    assert isinstance(fig, Figure)
    assert _step_labels(fig) == [
        "1. Load and split", "2. Preprocess and augment", "3. Build the model", "4. Train with validation",
        "5. Validate and tune", "6. Test", "7. Predict and evaluate",
    ]
    assert [title for title, _ in SEVEN_STEPS] == [label.split(". ", 1)[1] for label in _step_labels(fig)]
    assert "current" not in [p.get_gid() for p in fig.axes[0].patches]


@pytest.mark.parametrize("current", [4, "Train with validation", "train WITH validation", np.int64(4)])
def test_seven_steps_highlights_one_step(current):
    ax = plot_seven_steps(current).axes[0]
    gids = [p.get_gid() for p in ax.patches]
    assert gids.count("current") == 1
    # the highlighted box is the fourth of the seven, left to right
    boxes = sorted((p for p in ax.patches if p.get_gid() and (p.get_gid() == "current" or p.get_gid().startswith("box:"))),
                   key=lambda p: p.get_x())
    assert [p.get_gid() for p in boxes].index("current") == 3


@pytest.mark.parametrize("current", [0, 8, "deploy", True, 2.0])
def test_seven_steps_rejects_an_unknown_step(current):
    with pytest.raises(ValueError, match="current"):
        plot_seven_steps(current)


# --- im2col -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, kernel, stride, padding",
    [((4, 4), (3, 3), 1, 0), ((5, 5), 3, 2, 1), ((4, 6), (2, 3), (1, 2), "valid"), ((5, 4), 3, 2, "same"),
     ((3, 3), 3, 1, 0)],
)
def test_im2col_matrix_is_ops_im2col(shape, kernel, stride, padding):
    fig = plot_im2col(shape, kernel, stride, padding)
    x = np.arange(1.0, shape[0] * shape[1] + 1).reshape(1, *shape, 1)
    expected = ops.im2col(x, kernel, strides=stride, padding=padding)
    drawn = np.asarray(_axes(fig, "im2col").images[0].get_array())
    np.testing.assert_array_equal(drawn, expected)
    # one matrix product with any kernel gives conv2d's output, pixel q = column q
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    w = np.random.default_rng(0).standard_normal((kh, kw, 1, 1))
    out = ops.conv2d(x, w, strides=stride, padding=padding)[0, :, :, 0]
    np.testing.assert_allclose((w.reshape(1, -1) @ drawn).reshape(out.shape), out, rtol=1e-12, atol=1e-12)
    assert np.asarray(_axes(fig, "output").images[0].get_array()).shape == out.shape


@pytest.mark.parametrize("window", [(0, 0), (1, 2), (2, 1)])
def test_im2col_highlighted_column_is_the_highlighted_window(window):
    fig = plot_im2col((5, 5), (3, 3), 1, 0, window=window)
    xp = np.asarray(_axes(fig, "input").images[0].get_array())
    matrix = np.asarray(_axes(fig, "im2col").images[0].get_array())
    top, left, h, w = _outline(_axes(fig, "input"), "window")
    assert (top, left, h, w) == (window[0], window[1], 3, 3)
    _, q, rows, cols = _outline(_axes(fig, "im2col"), "column")
    assert (rows, cols) == (9, 1) and q == window[0] * 3 + window[1]
    np.testing.assert_array_equal(matrix[:, q], xp[top:top + 3, left:left + 3].ravel())
    assert _outline(_axes(fig, "output"), "output pixel")[:2] == window


def test_im2col_default_window_shows_the_stride():
    fig = plot_im2col((4, 4), 3, stride=1)
    assert _outline(_axes(fig, "im2col"), "column")[1] == 1  # window (0, 1)
    assert _outline(plot_im2col((3, 3), 3).axes[1], "column")[1] == 0  # one window only


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(image_shape=(9, 4)), "image_shape"), (dict(kernel=5), "kernel_size"), (dict(window=(2, 0)), "window"),
     (dict(padding="full"), "padding"), (dict(stride=0), "stride")],
)
def test_im2col_rejects_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        plot_im2col(**kwargs)


# --- receptive field ----------------------------------------------------------------------


def _formula(stack):
    """r_l = r_{l-1} + (k_l - 1) d_l prod_{i<l} s_i, for (k, s, d) triples."""
    r, product, out = 1, 1, []
    for k, s, d in stack:
        r += (k - 1) * d * product
        product *= s
        out.append(r)
    return out


@pytest.mark.parametrize(
    "stack",
    [
        [(3, 1, 1)] * 4,
        [(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)],  # U-Net encoder
        [(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],  # dilated
        [(7, 2, 1), (3, 2, 1), (3, 1, 1), (5, 3, 2)],  # strided
    ],
)
def test_receptive_field_annotations_follow_the_formula(stack):
    fig = plot_receptive_field(stack)
    assert _texts(fig.axes[0], "rf") == [f"r = {r}" for r in _formula(stack)]
    assert str(_formula(stack)[-1]) in fig.axes[0].get_title()


def test_receptive_field_accepts_ops_layer_specs_and_pairs():
    fig = plot_receptive_field([((3, 5), 1), {"pool_size": 2, "name": "pool"}, (3, 1)])
    # heights 3, 4, 8; widths 5, 6, 10
    assert _texts(fig.axes[0], "rf") == ["r = 3x5", "r = 4x6", "r = 8x10"]


@pytest.mark.parametrize("layers, error, match", [([], ValueError, "at least one"), ([(0, 1)], ValueError, "layers"),
                                                  ("conv", TypeError, "layers")])
def test_receptive_field_rejects_bad_layers(layers, error, match):
    with pytest.raises(error, match=match):
        plot_receptive_field(layers)


# --- transposed convolution ----------------------------------------------------------------


@pytest.mark.parametrize(
    "x_shape, k_shape, stride, padding",
    [((2, 2), (3, 3), 2, "valid"), ((2, 3), (2, 2), 2, "valid"), ((3, 2), (3, 3), 1, "valid"),
     ((2, 2), (4, 4), 2, "same"), ((2, 2), (3, 3), 2, "same"), ((1, 2), (1, 3), (1, 2), "valid"),
     ((2, 2), (2, 2), 3, "valid"), ((2, 2), (1, 1), 3, "same")],
)
def test_stamping_panels_add_up_to_conv2d_transpose(x_shape, k_shape, stride, padding):
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, x_shape).astype(float)
    kernel = rng.integers(-2, 3, k_shape).astype(float)
    fig = plot_transposed_conv_stamping(x, kernel, stride, padding=padding)
    expected = ops.conv2d_transpose(x[None, :, :, None], kernel[:, :, None, None], strides=stride,
                                    padding=padding)[0, :, :, 0]
    out = np.asarray(_axes(fig, "output").images[0].get_array())
    np.testing.assert_array_equal(out, expected)
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    stamps = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            stamp = np.asarray(_axes(fig, f"stamp {i},{j}").images[0].get_array(), dtype=float)
            # x[i, j] * kernel with its corner at (i s_h, j s_w), nothing elsewhere
            kh, kw = kernel.shape
            np.testing.assert_array_equal(stamp[i * s_h:i * s_h + kh, j * s_w:j * s_w + kw], x[i, j] * kernel)
            assert np.isnan(stamp).sum() == stamp.size - kernel.size
            stamps.append(stamp)
    total = np.nansum(stamps, axis=0)
    np.testing.assert_array_equal(np.asarray(_axes(fig, "sum").images[0].get_array()), total)
    # the sum, cropped as "same" crops (or not at all), is the transposed convolution
    top = max(kernel.shape[0] - s_h, 0) // 2 if padding == "same" else 0
    left = max(kernel.shape[1] - s_w, 0) // 2 if padding == "same" else 0
    np.testing.assert_array_equal(total[top:top + out.shape[0], left:left + out.shape[1]], out)
    crops = [p for p in _axes(fig, "sum").patches if p.get_gid() == "crop"]
    assert len(crops) == (padding == "same")


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [((np.ones((2, 2, 1)), np.ones((2, 2))), {}, ValueError, r"\(H, W\)"),
     ((np.ones((5, 4)), np.ones((2, 2))), {}, ValueError, "1 to 16 pixels"),
     ((np.ones((2, 2)), np.ones((2, 2))), dict(padding=1), TypeError, "padding"),
     ((np.ones((2, 2)), np.ones((2, 2)), 0), {}, ValueError, "stride"),
     ((np.ones((2, 2)), np.ones(3)), {}, ValueError, r"\(kh, kw\)")],
)
def test_stamping_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_transposed_conv_stamping(*args, **kwargs)


# --- the U-Net from a model ------------------------------------------------------------------


def _boxes(fig):
    return {t.get_gid()[4:]: t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("box:")}


def _conv_filters_by_block(model):
    """Block name -> filters of its 3x3 convolutions, read from the model's layers."""
    import keras

    blocks = {}
    for layer in model.layers:
        if type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) != (1, 1):
            blocks.setdefault(layer.name.split("_")[0], []).append(layer.filters)
    return blocks


@pytest.mark.tf
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("upsampling", ["transpose", "resize"])
def test_unet_diagram_matches_the_model(depth, upsampling):
    import keras

    from seglearn.models import unet

    base = 4
    model = unet(input_shape=(32, 32, 1), num_classes=3, depth=depth, base_filters=base, upsampling=upsampling)
    fig = plot_unet_architecture(model)
    boxes = _boxes(fig)
    blocks = _conv_filters_by_block(model)
    assert set(boxes) == {"input", "logits", *blocks}
    for name, filters in blocks.items():
        lines = boxes[name].splitlines()
        assert lines[1] == "conv 3x3: " + ", ".join(map(str, filters)), boxes[name]
    for level in range(depth):  # filters double at each level down, both sides of the U
        size = 32 // 2**level
        assert boxes[f"enc{level}"].splitlines()[1:] == [f"conv 3x3: {base * 2**level}, {base * 2**level}",
                                                         f"{size} x {size}"]
        assert boxes[f"dec{level}"].splitlines()[1:] == boxes[f"enc{level}"].splitlines()[1:]
    assert boxes["bottleneck"].splitlines()[1:] == [f"conv 3x3: {base * 2**depth}, {base * 2**depth}",
                                                    f"{32 // 2**depth} x {32 // 2**depth}"]
    assert boxes["input"] == "input\n32 x 32 x 1" and boxes["logits"] == "logits\n3 classes\n32 x 32"
    concatenates = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    skips = _texts(fig.axes[0], "skip")
    assert len(skips) == len(concatenates) == depth
    assert sorted(skips) == sorted(f"copy {base * 2**level} ch" for level in range(depth))
    assert len(_texts(fig.axes[0], "down")) == len(_texts(fig.axes[0], "up")) == depth
    assert fig.levels == depth
    assert f"{model.count_params():,} parameters" in fig.axes[0].get_title()


@pytest.mark.tf
def test_unet_diagram_of_any_input_size():
    from seglearn.models import unet

    boxes = _boxes(plot_unet_architecture(unet(input_shape=(None, None, 3), depth=2)))
    assert boxes["input"] == "input\nH x W x 3"
    assert boxes["enc1"].splitlines()[-1] == "H/2 x W/2" and boxes["bottleneck"].splitlines()[-1] == "H/4 x W/4"


@pytest.mark.tf
@pytest.mark.parametrize("upsampling", ["transpose", "resize"])
def test_fcn_diagram_says_it_has_no_skips(upsampling):
    from seglearn.models import fcn

    model = fcn(input_shape=(32, 32, 3), num_classes=4, depth=3, base_filters=4, upsampling=upsampling)
    fig = plot_unet_architecture(model)
    ax = fig.axes[0]
    assert _texts(ax, "skip") == []
    assert "no skip connections" in ax.get_title() and "1/8" in ax.get_title()
    boxes = _boxes(fig)
    assert boxes["enc2"].splitlines()[1:] == ["conv 3x3: 16, 16", "8 x 8"]
    assert boxes["score"].splitlines()[1:] == ["conv 1x1: 4", "4 x 4"]
    assert boxes["logits"] == "logits\n4 classes\n32 x 32"
    assert len(_texts(ax, "down")) == 3 and len(_texts(ax, "up")) == 1  # one big upsampling step
    assert _texts(ax, "up")[0].endswith("8") and fig.levels == 3


@pytest.mark.tf
def test_unet_diagram_rejects_models_that_are_not_encoder_decoders():
    import keras

    from seglearn.models import seed_cnn

    with pytest.raises(ValueError, match=r"\(N, H, W, K\) output, but its output shape is \(None, 10\)"):
        plot_unet_architecture(seed_cnn())
    inputs = keras.Input((16, 16, 1))
    plain = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    with pytest.raises(ValueError, match="no pooling"):
        plot_unet_architecture(plain)
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    residual = keras.layers.Add()([x, keras.layers.Conv2D(4, 1)(inputs)])
    with pytest.raises(ValueError, match="merges 2 branches"):
        plot_unet_architecture(keras.Model(inputs, keras.layers.MaxPooling2D()(residual)))
    pooled = keras.Model(inputs, keras.layers.MaxPooling2D()(x))
    with pytest.raises(ValueError, match="1/2 of the input size"):
        plot_unet_architecture(pooled)
    with pytest.raises(TypeError, match="keras.Model"):
        plot_unet_architecture("unet")


@pytest.mark.tf
def test_unet_diagram_rejects_the_residual_reference_unet():
    from seglearn.models import reference_unet

    with pytest.raises(ValueError, match=r"'add(_\d+)?' \(Add\) merges 2 branches; only Concatenate skips"):
        plot_unet_architecture(reference_unet(input_shape=(32, 32, 3)))


@pytest.mark.tf
def test_unet_diagram_of_a_model_with_keras_default_names():
    """A U-Net a student writes: layers named conv2d_7, ...; boxes are named by role."""
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 3))
    e = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    e = layers.Conv2D(8, 3, padding="same", activation="relu")(e)
    b = layers.Conv2D(16, 3, padding="same", activation="relu")(layers.MaxPooling2D()(e))
    d = layers.concatenate([layers.Conv2DTranspose(8, 2, strides=2)(b), e])
    d = layers.Conv2D(8, 3, padding="same", activation="relu")(d)
    fig = plot_unet_architecture(keras.Model(inputs, layers.Conv2D(3, 1)(d)))
    assert _boxes(fig) == {
        "input": "input\n32 x 32 x 3",
        "enc0": "enc0\nconv 3x3: 8, 8\n32 x 32",
        "bottleneck": "bottleneck\nconv 3x3: 16\n16 x 16",
        "dec0": "dec0\nconv 3x3: 8\n32 x 32",
        "logits": "logits\n3 classes\n32 x 32",
    }
    assert _texts(fig.axes[0], "skip") == ["copy 8 ch"]


@pytest.mark.tf
def test_unet_diagram_of_a_sequential_encoder_decoder():
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((16, 16, 1)), layers.Conv2D(4, 3, padding="same"), layers.MaxPooling2D(),
                              layers.Conv2D(8, 3, padding="same"), layers.UpSampling2D(), layers.Conv2D(2, 1)])
    fig = plot_unet_architecture(model)
    assert set(_boxes(fig)) == {"input", "enc0", "bottleneck", "logits"}
    assert _texts(fig.axes[0], "up") == ["nearest resize x2"] and "no skip connections" in fig.axes[0].get_title()
