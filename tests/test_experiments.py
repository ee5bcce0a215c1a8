"""Tests of seglearn.experiments: corruptions, border errors, memory, TFLite, Grad-CAM."""

import math

import numpy as np
import pytest

from seglearn import experiments as ex
from seglearn import losses

# ---------------------------------------------------------------------------
# corrupt (NumPy only)
# ---------------------------------------------------------------------------


def _grey(n=2, size=16, channels=3, value=0.5):
    return np.full((n, size, size, channels), value, dtype=np.float32)


@pytest.mark.parametrize("kind", sorted(ex.CORRUPTIONS))
def test_corrupt_severity_zero_is_an_unchanged_copy(kind):
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    out = ex.corrupt(x, kind, 0)
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize("kind", sorted(ex.CORRUPTIONS))
def test_corrupt_keeps_shape_dtype_range_and_input(kind):
    x = np.random.default_rng(1).random((3, 10, 12, 3), dtype=np.float32)
    before = x.copy()
    out = ex.corrupt(x, kind, 5)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(x, before)
    assert not np.allclose(out, x)


def test_corrupt_brightness_by_hand():
    # 0.2 + 0.1 * 3 = 0.5 and 0.9 + 0.3 = 1.2 clipped to 1.
    x = np.array([0.2, 0.9], dtype=np.float32).reshape(1, 1, 2, 1)
    np.testing.assert_allclose(ex.corrupt(x, "brightness", 3).ravel(), [0.5, 1.0], rtol=1e-6)


def test_corrupt_noise_has_the_stated_standard_deviation_and_is_seeded():
    x = _grey(n=4, size=32)  # 12,288 values, no clipping at 0.5 +- 5 sigma
    a = ex.corrupt(x, "noise", 2, seed=3)
    b = ex.corrupt(x, "noise", 2, seed=3)
    c = ex.corrupt(x, "noise", 2, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # sigma = 0.04 * 2 = 0.08; the sample std of 12,288 normals is within 3%
    # of sigma with overwhelming probability (its standard error is ~0.6%).
    assert abs(float((a - x).std()) - 0.08) < 0.08 * 0.03
    assert abs(float((a - x).mean())) < 0.003


def test_corrupt_blur_of_a_point_is_the_separable_gaussian():
    x = np.zeros((1, 21, 21, 1), dtype=np.float32)
    x[0, 10, 10, 0] = 1.0
    out = ex.corrupt(x, "blur", 2)[0, :, :, 0]  # sigma = 1 pixel, radius 3
    t = np.arange(-3, 4)
    g = np.exp(-0.5 * t**2)
    g /= g.sum()
    expected = np.zeros((21, 21))
    expected[7:14, 7:14] = np.outer(g, g)
    # float32 result of a float64 computation: 1e-7 absolute is a few ulps.
    np.testing.assert_allclose(out, expected, atol=1e-7)
    assert math.isclose(float(out.sum()), 1.0, rel_tol=1e-6)


def test_corrupt_blur_keeps_a_constant_image_and_lowers_variance():
    np.testing.assert_allclose(ex.corrupt(_grey(), "blur", 4), _grey(), atol=1e-6)
    x = np.random.default_rng(2).random((1, 32, 32, 1), dtype=np.float32)
    assert ex.corrupt(x, "blur", 2).var() < 0.5 * x.var()


def test_corrupt_rejects_bad_input():
    with pytest.raises(ValueError, match="kind"):
        ex.corrupt(_grey(), "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        ex.corrupt(_grey(), "noise", -1)
    with pytest.raises(ValueError, match=r"images.*\(N, H, W, C\)"):
        ex.corrupt(np.zeros((8, 8, 3)), "noise", 1)
    with pytest.raises(TypeError, match="seed"):
        ex.corrupt(_grey(), "noise", 1, seed=0.5)


# ---------------------------------------------------------------------------
# border versus centre
# ---------------------------------------------------------------------------


def test_distance_to_border_by_hand():
    d = ex.distance_to_border(5, 5)
    assert d[2, 2] == 2 and d[0, 3] == 0 and d[1, 3] == 1
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(d, d[::-1, ::-1])
    with pytest.raises(ValueError, match="height"):
        ex.distance_to_border(0, 4)


def test_error_by_border_distance_averages_over_images():
    y_true = np.zeros((2, 6, 6), dtype=int)
    y_pred = np.zeros((2, 6, 6), dtype=int)
    y_pred[0, 0, :] = 1  # image 0: 6 of the 20 outer-ring pixels wrong
    y_pred[1, 2:4, 2:4] = 1  # image 1: all 4 centre pixels wrong
    # ring 0: (6 + 0) / (2 * 20) = 0.15; ring 1: 0; ring 2: (0 + 4) / (2 * 4) = 0.5
    np.testing.assert_allclose(ex.error_by_border_distance(y_true, y_pred), [0.15, 0.0, 0.5])


def test_border_centre_error_by_hand_and_errors():
    y_true = np.zeros((6, 6), dtype=int)
    y_pred = y_true.copy()
    y_pred[0, 0] = 2  # 1 of 20 border pixels (border=1)
    y_pred[2, 2] = 1  # 1 of 16 centre pixels
    assert ex.border_centre_error(y_true, y_pred, border=1) == (1 / 20, 1 / 16)
    with pytest.raises(ValueError, match="border"):
        ex.border_centre_error(y_true, y_pred, border=3)
    with pytest.raises(ValueError, match="same shape"):
        ex.border_centre_error(y_true, y_pred[:5], border=1)


# ---------------------------------------------------------------------------
# tables, timing, confidence
# ---------------------------------------------------------------------------


def test_format_table_aligns_and_checks_row_length():
    text = ex.format_table([("a", 1, 0.5), ("long name", 22, 1 / 3)], ["name", "n", "x"], floatfmt=".2f")
    lines = text.splitlines()
    assert lines[0] == "name       n   x"
    assert lines[2] == "a          1   0.50"
    assert lines[3] == "long name  22  0.33"
    with pytest.raises(ValueError, match="rows"):
        ex.format_table([("a",)], ["name", "n"])


def test_time_call_runs_warmup_plus_repeat_times():
    calls = []
    seconds = ex.time_call(calls.append, 1, repeat=3, warmup=2)
    assert len(calls) == 5 and seconds >= 0
    with pytest.raises(TypeError, match="fn"):
        ex.time_call(3)
    with pytest.raises(ValueError, match="repeat"):
        ex.time_call(len, [], repeat=0)


def test_pixel_confidence_extremes_and_shift_invariance():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2, 4, 4, 3))
    conf, ent = ex.pixel_confidence(z)
    conf2, ent2 = ex.pixel_confidence(z + 100.0)  # softmax ignores a common shift
    np.testing.assert_allclose(conf, conf2, rtol=1e-12)
    np.testing.assert_allclose(ent, ent2, rtol=1e-9)
    assert conf.shape == ent.shape == (2, 4, 4)
    assert np.all((conf >= 1 / 3) & (conf <= 1)) and np.all((ent >= 0) & (ent <= math.log(3) + 1e-12))
    conf_u, ent_u = ex.pixel_confidence(np.zeros((5, 4)))  # uniform over 4 classes
    np.testing.assert_allclose(conf_u, 0.25)
    np.testing.assert_allclose(ent_u, math.log(4))


# ---------------------------------------------------------------------------
# TensorFlow parts
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    import keras

    keras.utils.set_random_seed(0)
    return keras


def _tiny_fcn(keras, size=(16, 16), classes=3, width=4):
    inputs = keras.Input((*size, 3))
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="enc_conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="enc_pool")(x)
    x = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="mid_conv")(x)
    x = keras.layers.UpSampling2D(2, name="up")(x)
    return keras.Model(inputs, keras.layers.Conv2D(classes, 1, name="logits")(x))


@pytest.mark.tf
def test_activation_memory_by_hand_and_scaling(keras):
    model = _tiny_fcn(keras)
    # per image: input 16*16*3 = 768; enc_conv 16*16*4 = 1024; pool 8*8*4 = 256;
    # mid_conv 8*8*8 = 512; up 16*16*8 = 2048; logits 16*16*3 = 768 -> 5376 values
    assert ex.activation_memory(model) == 4 * 5376
    assert ex.activation_memory(model, batch_size=8) == 8 * 4 * 5376
    assert ex.activation_memory(model, batch_size=8, bytes_per_value=2) == 8 * 2 * 5376
    with pytest.raises(ValueError, match="input_size"):
        ex.activation_memory(model, input_size=(32, 32))


@pytest.mark.tf
def test_activation_memory_needs_a_size_for_a_size_free_model(keras):
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    assert ex.activation_memory(model, input_size=(4, 5)) == 4 * (20 + 40)
    assert ex.activation_memory(model, input_size=(8, 10)) == 4 * 4 * (20 + 40)  # 4x the pixels
    with pytest.raises(ValueError, match="input_size"):
        ex.activation_memory(model)
    with pytest.raises(TypeError, match="model"):
        ex.activation_memory("unet")


@pytest.mark.tf
def test_training_memory_parts(keras):
    model = _tiny_fcn(keras)
    parts = ex.training_memory(model, batch_size=2, optimizer_slots=2)
    p = model.count_params()  # all trainable
    assert parts["weights"] == parts["gradients"] == 4 * p
    assert parts["optimizer"] == 8 * p
    assert parts["activations"] == ex.activation_memory(model, batch_size=2)
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")


@pytest.fixture(scope="module")
def tiny_model(keras):
    # width 16: mid_conv has 3*3*16*32 = 4608 weights, above the 1024 under
    # which dynamic-range quantisation leaves a tensor in float.
    return _tiny_fcn(keras, width=16)


@pytest.fixture(scope="module")
def calib():
    return np.random.default_rng(7).random((16, 16, 16, 3), dtype=np.float32)


@pytest.mark.tf
def test_tflite_float_equals_keras(tiny_model, calib):
    flat = ex.tflite_convert(tiny_model, "float")
    got = ex.tflite_predict(flat, calib[:5])
    want = np.asarray(tiny_model(calib[:5], training=False))
    # Same float32 arithmetic, possibly in another order (XNNPACK): a few ulps.
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.tf
def test_tflite_quantised_models_are_smaller_and_close(tiny_model, calib):
    sizes = {}
    outputs = {}
    for mode in ex.TFLITE_MODES:
        content = ex.tflite_convert(tiny_model, mode, representative_data=calib)
        sizes[mode] = len(content)
        outputs[mode] = ex.tflite_predict(content, calib[:4])
    assert sizes["dynamic"] < sizes["float"] and sizes["int8"] < sizes["float"]
    span = float(np.ptp(outputs["float"]))
    for mode in ("dynamic", "int8"):
        error = float(np.abs(outputs[mode] - outputs["float"]).max())
        # int8 has 256 levels over each tensor's range: errors of a few
        # quantisation steps (span / 256 each) add up through 3 layers.
        assert error < 0.1 * span, (mode, error, span)
        assert error > 0, f"{mode} should not be exactly float"


@pytest.mark.tf
def test_tflite_rejects_bad_input(tiny_model, calib):
    with pytest.raises(ValueError, match="representative_data"):
        ex.tflite_convert(tiny_model, "int8")
    with pytest.raises(ValueError, match="mode"):
        ex.tflite_convert(tiny_model, "int4")
    with pytest.raises(ValueError, match="representative_data"):
        ex.tflite_convert(tiny_model, "int8", representative_data=calib[:, :8, :8])
    with pytest.raises(TypeError, match="model_content"):
        ex.tflite_predict("model.tflite", calib)
    content = ex.tflite_convert(tiny_model, "float")
    with pytest.raises(ValueError, match="images"):
        ex.tflite_predict(content, calib[:, :8, :8])


@pytest.mark.tf
def test_feature_maps_is_the_layer_output(keras, tiny_model, calib):
    maps = ex.feature_maps(tiny_model, calib[:2], "enc_conv")
    layer = tiny_model.get_layer("enc_conv")
    want = np.asarray(layer(calib[:2]))
    np.testing.assert_allclose(maps, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="layer_name"):
        ex.feature_maps(tiny_model, calib[:2], "nope")


@pytest.mark.tf
def test_grad_cam_of_a_linear_model_is_its_normalised_feature_map(keras):
    # features A = x * w1 (1x1 conv, one channel); logits z_c = A * w2_c.
    # For region R the score is w2_c * sum_R A, so dy/dA = w2_c on R and 0
    # elsewhere, alpha = w2_c |R| / (H W) > 0 for w2_c > 0, and the map is
    # ReLU(alpha A) / max = A / max(A) for a positive image and w1 > 0.
    inputs = keras.Input((8, 8, 1))
    feats = keras.layers.Conv2D(1, 1, use_bias=False, name="feats")(inputs)
    logits = keras.layers.Conv2D(2, 1, use_bias=False, name="logits")(feats)
    model = keras.Model(inputs, logits)
    model.get_layer("feats").set_weights([np.full((1, 1, 1, 1), 2.0, np.float32)])
    model.get_layer("logits").set_weights([np.array([[[[-1.0, 3.0]]]], np.float32)])
    image = np.random.default_rng(3).random((8, 8, 1), dtype=np.float32) + 0.1
    region = np.zeros((8, 8), bool)
    region[2:5, 2:5] = True
    cam = ex.grad_cam(model, image, 1, "feats", region=region)
    np.testing.assert_allclose(cam, image[:, :, 0] / image.max(), rtol=1e-5)
    # for class 0 (w2 < 0) alpha < 0: ReLU leaves nothing
    np.testing.assert_array_equal(ex.grad_cam(model, image, 0, "feats", region=region), 0)
    # an empty region explains nothing
    np.testing.assert_array_equal(ex.grad_cam(model, image, 1, "feats", region=~np.ones((8, 8), bool)), 0)
    with pytest.raises(ValueError, match="class_id"):
        ex.grad_cam(model, image, 2, "feats")
    with pytest.raises(ValueError, match="region"):
        ex.grad_cam(model, image, 1, "feats", region=region[:4])


@pytest.mark.tf
def test_grad_cam_default_region_shape_and_range(tiny_model, calib):
    cam = ex.grad_cam(tiny_model, calib[0], 1, "mid_conv")
    assert cam.shape == (16, 16) and cam.dtype == np.float32
    assert cam.min() >= 0 and cam.max() <= 1


@pytest.mark.tf
def test_set_trainable_freezes_by_prefix(keras):
    model = _tiny_fcn(keras)
    changed = ex.set_trainable(model, "enc", False)
    assert changed == ["enc_conv", "enc_pool"]
    assert not model.get_layer("enc_conv").trainable and model.get_layer("mid_conv").trainable
    frozen = model.get_layer("enc_conv").count_params()
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == model.count_params() - frozen
    assert ex.set_trainable(model, ("enc", "mid"), True) == ["enc_conv", "enc_pool", "mid_conv"]
    with pytest.raises(ValueError, match="prefixes"):
        ex.set_trainable(model, "decoder", False)
    with pytest.raises(TypeError, match="trainable"):
        ex.set_trainable(model, "enc", "no")


# ---------------------------------------------------------------------------
# keras_loss and quick_train
# ---------------------------------------------------------------------------


def _logits_and_labels(seed=0, shape=(2, 6, 5), classes=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(*shape, classes)).astype(np.float32), rng.integers(0, classes, shape)


@pytest.mark.tf
@pytest.mark.parametrize(
    "name, reference",
    [
        ("ce", lambda y, z: losses.sparse_categorical_crossentropy(y, z, from_logits=True)),
        ("focal", lambda y, z: losses.categorical_focal_crossentropy(y, z, from_logits=True)),
        ("dice", lambda y, z: losses.dice_loss(y, z, from_logits=True)),
        (
            "ce+dice",
            lambda y, z: losses.sparse_categorical_crossentropy(y, z, from_logits=True)
            + losses.dice_loss(y, z, from_logits=True),
        ),
    ],
)
def test_keras_loss_equals_the_numpy_reference(keras, name, reference):
    z, y = _logits_and_labels()
    loss = ex.keras_loss(name, 4)
    value = loss(y.astype(np.int32), z)
    # Keras averages per-pixel values (the reduction model.compile applies).
    got = float(np.mean(np.asarray(value)))
    # float32 Keras against the float64 reference: 1e-5 relative.
    assert got == pytest.approx(reference(y, z), rel=1e-5)
    assert loss.__name__ == name.replace("+", "_")


@pytest.mark.tf
def test_keras_loss_rejects_bad_names():
    with pytest.raises(ValueError, match="name"):
        ex.keras_loss("hinge", 3)
    with pytest.raises(ValueError, match="num_classes"):
        ex.keras_loss("ce", 1)


def _easy_task(n, seed, size=16):
    """Bright squares on dark noise: class 1 where the image is bright."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, size, size, 3), dtype=np.float32) * 0.3
    masks = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        r, c = rng.integers(0, size - 6, 2)
        images[i, r : r + 6, c : c + 6] += 0.6
        masks[i, r : r + 6, c : c + 6] = 1
    return images, masks


def _tiny_unet(batch_norm=True):
    from seglearn import models

    return models.unet((16, 16, 3), 2, depth=1, base_filters=4, batch_norm=batch_norm)


@pytest.mark.tf
def test_quick_train_learns_records_history_and_is_deterministic():
    train, val = _easy_task(32, 0), _easy_task(8, 1)
    a = ex.quick_train(_tiny_unet, train, val, epochs=4, learning_rate=1e-2, batch_size=8, seed=3)
    b = ex.quick_train(_tiny_unet, train, val, epochs=4, learning_rate=1e-2, batch_size=8, seed=3)
    assert a.epochs == 4 and set(a.history) >= {"loss", "val_loss", "mean_iou", "val_mean_iou"}
    assert a.history["loss"][-1] < a.history["loss"][0]
    # Same seed, same initial weights, same batches: same curve. CPU kernels may
    # sum in another order between runs, so compare to float32 round-off.
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-4)
    assert 0 <= a.val["mean_iou"] <= 1 and a.val["iou"].shape == (2,)
    assert a.config["optimizer"] == "adam" and a.seconds > 0
    import keras

    norms = [l for l in a.model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert norms and all(l.momentum == 0.9 for l in norms)


@pytest.mark.tf
@pytest.mark.parametrize("name, cls, momentum", [("sgd", "SGD", 0.0), ("momentum", "SGD", 0.9),
                                                 ("rmsprop", "RMSprop", None), ("adam", "Adam", None)])
def test_make_optimizer_builds_each_optimizer_with_weight_decay(keras, name, cls, momentum):
    opt = ex._make_optimizer(name, 0.05, 1e-4)
    assert type(opt).__name__ == cls
    assert float(opt.learning_rate) == pytest.approx(0.05)
    assert opt.weight_decay == pytest.approx(1e-4)
    if momentum is not None:
        assert opt.momentum == momentum
    assert ex._make_optimizer(name, 0.05, 0.0).weight_decay is None
    assert ex._make_optimizer(opt, 1.0, 0.0) is opt  # an optimizer instance is used as is


@pytest.mark.tf
def test_quick_train_early_stopping_and_class_weights():
    train, val = _easy_task(16, 0), _easy_task(8, 1)
    # SGD with learning rate 1e-12 and no batch normalisation (whose moving
    # statistics would move): the validation loss stays exactly the same, so
    # it never improves and patience 1 stops after 2 epochs.
    run = ex.quick_train(lambda: _tiny_unet(batch_norm=False), train, val, epochs=6,
                         optimizer="sgd", learning_rate=1e-12, patience=1)
    assert run.epochs == 2
    # A huge weight on class 1 pushes every pixel towards it after one Adam epoch.
    weighted = ex.quick_train(_tiny_unet, train, val, epochs=2, learning_rate=1e-2,
                              class_weight=[1.0, 100.0], augment=True)
    plain = ex.quick_train(_tiny_unet, train, val, epochs=2, learning_rate=1e-2, augment=True)
    assert weighted.config["class_weight"] == [1.0, 100.0] and weighted.config["augment"]
    predicted_fg = lambda run: run.val["confusion_matrix"][:, 1].sum()  # noqa: E731
    assert predicted_fg(weighted) > predicted_fg(plain)


@pytest.mark.tf
def test_quick_train_rejects_bad_input():
    train = _easy_task(4, 0)
    with pytest.raises(ValueError, match="patience"):
        ex.quick_train(_tiny_unet, train, patience=2)
    with pytest.raises(ValueError, match="class_weight"):
        ex.quick_train(_tiny_unet, train, loss="dice", class_weight=[1, 2])
    with pytest.raises(ValueError, match="class_weight"):
        ex.quick_train(_tiny_unet, train, class_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="optimizer"):
        ex.quick_train(_tiny_unet, train, optimizer="lbfgs")
    with pytest.raises(TypeError, match="model_fn"):
        ex.quick_train("unet", train)
    with pytest.raises(ValueError, match="bn_momentum"):
        ex.quick_train(_tiny_unet, train, bn_momentum=1.0)
    with pytest.raises(TypeError, match="train"):
        ex.quick_train(_tiny_unet, train[0])
    with pytest.raises(ValueError, match=r"train\[1\]"):
        ex.quick_train(_tiny_unet, (train[0], train[1][:, :8]))


def test_plot_runs_draws_one_line_per_run_and_checks_metrics():
    import matplotlib

    matplotlib.use("Agg")
    fig = ex.plot_runs({"a": {"loss": [1, 0.5], "val_loss": [1, 0.7]}, "b": {"loss": [2, 1, 0.5], "val_loss": [2, 2, 2]}})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_loss"]
    np.testing.assert_array_equal(fig.axes[1].get_lines()[1].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="metrics"):
        ex.plot_runs({"a": {"loss": [1]}}, ["val_loss"])
    with pytest.raises(TypeError, match="histories"):
        ex.plot_runs({})


def test_random_crops_are_windows_of_their_own_image():
    rng = np.random.default_rng(8)
    images = rng.random((3, 10, 12, 2))
    masks = rng.integers(0, 4, (3, 10, 12))
    cx, cy = ex.random_crops(images, masks, (4, 5), per_image=4, seed=1)
    assert cx.shape == (12, 4, 5, 2) and cy.shape == (12, 4, 5)
    for m in range(12):
        i = m // 4  # crops of image 0 first
        # find the window by brute force: exactly one position matches
        hits = [(r, c) for r in range(7) for c in range(8)
                if np.array_equal(images[i, r:r + 4, c:c + 5], cx[m])]
        assert len(hits) == 1
        r, c = hits[0]
        np.testing.assert_array_equal(masks[i, r:r + 4, c:c + 5], cy[m])
    again = ex.random_crops(images, masks, (4, 5), per_image=4, seed=1)
    np.testing.assert_array_equal(again[0], cx)
    with pytest.raises(ValueError, match="size"):
        ex.random_crops(images, masks, 11)
    with pytest.raises(ValueError, match="masks"):
        ex.random_crops(images, masks[:2], 4)


def test_importing_the_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, seglearn.experiments; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout
