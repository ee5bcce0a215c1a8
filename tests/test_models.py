"""Tests of seglearn.models: shapes, parameter counts, logits, checks, the seed bug."""

import re
import warnings

import keras
import numpy as np
import pytest
from keras import layers

from seglearn import models
from seglearn.datasets import SHAPE_CLASSES

pytestmark = pytest.mark.tf


def documented_count(function) -> int:
    """The parameter count a builder's docstring states for its defaults."""
    match = re.search(r"Parameter count with the default arguments: ([\d,]+)", function.__doc__)
    assert match, f"{function.__name__}'s docstring states no parameter count"
    return int(match.group(1).replace(",", ""))


# ---------------------------------------------------------------------------
# parameter counts and shapes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("builder", [models.seed_cnn, models.fcn, models.unet, models.reference_unet])
def test_docstring_parameter_count_matches_the_default_model(builder):
    assert builder().count_params() == documented_count(builder)


def test_unet_docstring_flop_count_matches():
    match = re.search(r"forward pass\s+with the default arguments: ([\d,]+) FLOPs", models.unet.__doc__)
    assert match and int(match.group(1).replace(",", "")) == models.count_flops(models.unet())


def test_defaults_are_for_the_shapes_data_set():
    model = models.unet()
    assert model.input_shape == (None, 64, 64, 3)
    assert model.output_shape == (None, 64, 64, len(SHAPE_CLASSES))


def test_reference_unet_has_the_keras_example_parameter_count():
    # The keras.io example prints "Total params: 2,058,979" for 160x160 inputs
    # and 3 classes; the count does not depend on the input size.
    assert models.reference_unet((160, 160, 3), num_classes=3).count_params() == 2_058_979


def test_unet_parameter_count_by_hand():
    # depth=1, F=2, C_in=1, K=2, batch_norm=False, 3x3 kernels:
    #   enc0:       conv 1->2: 9*1*2+2 = 20;  conv 2->2: 9*2*2+2 = 38
    #   bottleneck: conv 2->4: 9*2*4+4 = 76;  conv 4->4: 9*4*4+4 = 148
    #   dec0 up:    2x2 transposed 4->2: 4*4*2+2 = 34
    #   dec0:       conv (2+2)->2: 9*4*2+2 = 74;  conv 2->2: 38
    #   logits:     1x1 2->2: 2*2+2 = 6
    # total 20+38+76+148+34+74+38+6 = 434
    model = models.unet((8, 8, 1), num_classes=2, depth=1, base_filters=2, batch_norm=False)
    assert model.count_params() == 434


@pytest.mark.parametrize("builder", [models.fcn, models.unet])
@pytest.mark.parametrize("upsampling", ["transpose", "resize"])
@pytest.mark.parametrize("depth, size", [(1, 16), (2, 32), (3, 24)])
def test_segmentation_models_keep_the_input_size(builder, upsampling, depth, size):
    model = builder((size, size, 2), num_classes=3, depth=depth, base_filters=2, upsampling=upsampling)
    x = np.random.default_rng(0).random((2, size, size, 2), dtype=np.float32)
    assert model(x).shape == (2, size, size, 3)


def test_models_return_logits_not_probabilities():
    rng = np.random.default_rng(1)
    x = rng.random((2, 16, 16, 3), dtype=np.float32)
    for model in (
        models.unet((16, 16, 3), depth=2, base_filters=4),
        models.fcn((16, 16, 3), depth=2, base_filters=4),
        models.reference_unet((16, 16, 3)),
    ):
        assert model.layers[-1].get_config().get("activation", "linear") == "linear", model.name
        out = np.asarray(model(x))
        # softmax outputs would be in [0, 1] and sum to 1 over the classes
        assert out.min() < 0 or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-3), model.name


def test_unet_accepts_any_divisible_size_when_built_with_none():
    model = models.unet((None, None, 1), num_classes=2, depth=2, base_filters=2)
    for h, w in [(16, 16), (24, 40)]:
        assert model(np.zeros((1, h, w, 1), np.float32)).shape == (1, h, w, 2)


def test_options_change_the_layers():
    plain = models.unet((16, 16, 3), depth=2, base_filters=4, batch_norm=False, upsampling="resize")
    kinds = {type(layer).__name__ for layer in plain.layers}
    assert "BatchNormalization" not in kinds and "Conv2DTranspose" not in kinds
    assert "UpSampling2D" in kinds
    # without batch norm every convolution has a bias; with it, none before a BN
    assert all(layer.use_bias for layer in plain.layers if isinstance(layer, layers.Conv2D))
    normed = models.unet((16, 16, 3), depth=2, base_filters=4, dropout=0.2, kernel_size=5)
    assert sum(isinstance(layer, layers.Dropout) for layer in normed.layers) == 5  # 2 enc + bottleneck + 2 dec
    assert all(
        layer.kernel_size == (5, 5) for layer in normed.layers if type(layer) is layers.Conv2D and "_conv" in layer.name
    )
    assert all(layer.momentum == models.BN_MOMENTUM for layer in normed.layers
               if isinstance(layer, layers.BatchNormalization))


def test_fcn_upsamples_once_by_two_to_the_depth():
    model = models.fcn((32, 32, 3), num_classes=3, depth=3, base_filters=2)
    up = model.get_layer("logits")
    assert isinstance(up, layers.Conv2DTranspose)
    assert up.strides == (8, 8) and up.kernel_size == (16, 16)
    assert model.get_layer("score").output.shape[1:3] == (4, 4)


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(depth=0), ValueError, "depth"),
        (dict(depth=2.0), TypeError, "depth"),
        (dict(input_shape=(30, 32, 3), depth=2), ValueError, "input_shape.*divisible by 4"),
        (dict(input_shape=(32, 32)), ValueError, "input_shape"),
        (dict(input_shape="64x64"), TypeError, "input_shape"),
        (dict(input_shape=(32, 32, 0)), ValueError, "input_shape"),
        (dict(num_classes=1), ValueError, "num_classes"),
        (dict(base_filters=0), ValueError, "base_filters"),
        (dict(kernel_size=4), ValueError, "kernel_size"),
        (dict(kernel_size=0), ValueError, "kernel_size"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(dropout=-0.1), ValueError, "dropout"),
        (dict(batch_norm="yes"), TypeError, "batch_norm"),
        (dict(upsampling="deconv"), ValueError, "upsampling"),
        (dict(activation="nope"), ValueError, "activation"),
        (dict(activation=None), TypeError, "activation"),
    ],
)
@pytest.mark.parametrize("builder", [models.unet, models.fcn])
def test_builders_reject_bad_arguments(builder, kwargs, error, match):
    with pytest.raises(error, match=match):
        builder(**kwargs)


def test_reference_unet_and_seed_cnn_reject_bad_arguments():
    with pytest.raises(ValueError, match="input_shape.*divisible by 16"):
        models.reference_unet((40, 40, 3))
    with pytest.raises(ValueError, match="num_classes"):
        models.reference_unet(num_classes=1)
    with pytest.raises(ValueError, match="input_shape"):
        models.seed_cnn((16, 16, 3))
    with pytest.raises(ValueError, match="input_shape"):
        models.seed_cnn((None, 32, 3))
    with pytest.raises(TypeError, match="reproduce_bug"):
        models.seed_cnn(reproduce_bug=1)


# ---------------------------------------------------------------------------
# the seed classifier and its bug
# ---------------------------------------------------------------------------


def test_seed_cnn_is_the_source_architecture():
    model = models.seed_cnn()
    summary = [
        (type(layer).__name__, getattr(layer, "filters", getattr(layer, "units", None)),
         layer.get_config().get("activation"))
        for layer in model.layers
    ]
    assert summary == [
        ("Conv2D", 32, "relu"), ("MaxPooling2D", None, None),
        ("Conv2D", 64, "relu"), ("MaxPooling2D", None, None),
        ("Conv2D", 64, "relu"), ("Flatten", None, None),
        ("Dense", 64, "relu"), ("Dense", 10, "softmax"),
    ]
    assert isinstance(model.optimizer, keras.optimizers.Adam)


@pytest.mark.parametrize("bug", [False, True])
def test_seed_cnn_bug_flag_sets_from_logits(bug):
    model = models.seed_cnn(num_classes=4, reproduce_bug=bug)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.loss.get_config()["from_logits"] is bug
    assert model.output_shape == (None, 4)


def _fit_once(model):
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return [str(w.message) for w in caught], history.history["loss"][0]


def test_seed_cnn_bug_triggers_the_documented_keras_warning():
    messages, _ = _fit_once(models.seed_cnn(reproduce_bug=True))
    assert any(models.SEED_CNN_BUG_WARNING in message for message in messages), messages


def test_fixed_seed_cnn_trains_without_the_warning():
    messages, loss = _fit_once(models.seed_cnn())
    assert not any("from_logits" in message for message in messages), messages
    # 10 classes and an untrained model: cross-entropy near log(10) = 2.30
    assert 1.5 < loss < 3.5


# ---------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------


def test_count_flops_by_hand():
    model = keras.Sequential([
        keras.Input((8, 8, 2)),
        # 'same' 3x3, 2->4 channels on 8x8: 64 pixels * 9 * 2 * 4 * 2 = 9216
        layers.Conv2D(4, 3, padding="same"),
        # 2x2 stride-2 transposed, 4->3: 64 input pixels * 4 taps * 4 * 3 * 2 = 6144
        layers.Conv2DTranspose(3, 2, strides=2),
        # separable 3x3 'valid' on 16x16x3 -> 14x14: depthwise 196*9*3*2 = 10584,
        # pointwise 196*3*5*2 = 5880
        layers.SeparableConv2D(5, 3),
        layers.MaxPooling2D(7),  # 2x2x5, free
        layers.Flatten(),
        layers.Dense(6),  # 20 inputs * 6 units * 2 = 240
    ])
    assert models.count_flops(model) == 9216 + 6144 + 10584 + 5880 + 240


def test_count_flops_scales_with_the_input_area():
    small = models.count_flops(models.unet((32, 32, 3), depth=2, base_filters=4))
    assert models.count_flops(models.unet((64, 64, 3), depth=2, base_filters=4)) == 4 * small
    flexible = models.unet((None, None, 3), depth=2, base_filters=4)
    assert models.count_flops(flexible, input_size=(32, 32)) == small
    with pytest.raises(ValueError, match="input_size"):
        models.count_flops(flexible)
    with pytest.raises(TypeError, match="model"):
        models.count_flops("unet")


# ---------------------------------------------------------------------------
# transfer learning
# ---------------------------------------------------------------------------


def test_set_trainable_freezes_by_prefix(tiny_fcn):
    model = tiny_fcn()
    changed = models.set_trainable(model, "enc", False)
    assert changed == ["enc_conv", "enc_pool"]
    assert not model.get_layer("enc_conv").trainable and model.get_layer("mid_conv").trainable
    frozen = model.get_layer("enc_conv").count_params()
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == model.count_params() - frozen
    assert models.set_trainable(model, ("enc", "mid"), True) == ["enc_conv", "enc_pool", "mid_conv"]
    with pytest.raises(ValueError, match="prefixes"):
        models.set_trainable(model, "decoder", False)
    with pytest.raises(TypeError, match="trainable"):
        models.set_trainable(model, "enc", "no")
    with pytest.raises(ValueError, match="prefixes"):
        models.set_trainable(model, ["enc", ""], False)
    with pytest.raises(TypeError, match="model"):
        models.set_trainable("unet", "enc", False)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_fused_batch_norm_models_predict_with_any_activation(activation):
    # TensorFlow's remapper cannot fuse a fused batch norm with tanh after a convolution;
    # inference therefore uses Keras' own batch norm (this raised UnimplementedError once).
    from seglearn import inference

    model = models.unet((16, 16, 1), 2, depth=1, base_filters=2, activation=activation)
    images = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    assert inference.predict(model, images).shape == (2, 16, 16)
