"""Tests of seglearn.interpret: feature maps, Grad-CAM, per-pixel confidence.

``tiny_model`` and ``calib`` are the shared fixtures of ``tests/conftest.py``.
"""

import math

import numpy as np
import pytest

from seglearn import interpret


def test_pixel_confidence_extremes_and_shift_invariance():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2, 4, 4, 3))
    conf, ent = interpret.pixel_confidence(z)
    conf2, ent2 = interpret.pixel_confidence(z + 100.0)  # softmax ignores a common shift
    np.testing.assert_allclose(conf, conf2, rtol=1e-12)
    np.testing.assert_allclose(ent, ent2, rtol=1e-9)
    assert conf.shape == ent.shape == (2, 4, 4)
    assert np.all((conf >= 1 / 3) & (conf <= 1)) and np.all((ent >= 0) & (ent <= math.log(3) + 1e-12))
    conf_u, ent_u = interpret.pixel_confidence(np.zeros((5, 4)))  # uniform over 4 classes
    np.testing.assert_allclose(conf_u, 0.25)
    np.testing.assert_allclose(ent_u, math.log(4))



# ---------------------------------------------------------------------------
# Keras models
# ---------------------------------------------------------------------------


@pytest.mark.tf
def test_feature_maps_is_the_layer_output(tiny_model, calib):
    maps = interpret.feature_maps(tiny_model, calib[:2], "enc_conv")
    layer = tiny_model.get_layer("enc_conv")
    want = np.asarray(layer(calib[:2]))
    np.testing.assert_allclose(maps, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="layer_name"):
        interpret.feature_maps(tiny_model, calib[:2], "nope")


@pytest.mark.tf
def test_grad_cam_of_a_linear_model_is_its_normalised_feature_map():
    import keras

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
    cam = interpret.grad_cam(model, image, 1, "feats", region=region)
    np.testing.assert_allclose(cam, image[:, :, 0] / image.max(), rtol=1e-5)
    # for class 0 (w2 < 0) alpha < 0: ReLU leaves nothing
    np.testing.assert_array_equal(interpret.grad_cam(model, image, 0, "feats", region=region), 0)
    # an empty region explains nothing
    np.testing.assert_array_equal(interpret.grad_cam(model, image, 1, "feats", region=~np.ones((8, 8), bool)), 0)
    with pytest.raises(ValueError, match="class_id"):
        interpret.grad_cam(model, image, 2, "feats")
    with pytest.raises(ValueError, match="region"):
        interpret.grad_cam(model, image, 1, "feats", region=region[:4])


@pytest.mark.tf
def test_grad_cam_default_region_shape_and_range(tiny_model, calib):
    cam = interpret.grad_cam(tiny_model, calib[0], 1, "mid_conv")
    assert cam.shape == (16, 16) and cam.dtype == np.float32
    assert cam.min() >= 0 and cam.max() <= 1

