"""Tests of seglearn.inference: evaluate, predict and overlap-tiling."""

import keras
import numpy as np
import pytest

from seglearn import inference, metrics, models
from tiny_models import label_model, one_hot_images, threshold_data, tiny_unet

pytestmark = pytest.mark.tf


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------


def test_evaluate_on_a_hand_worked_example():
    # true  [[0, 1],     predicted  [[0, 0],
    #        [1, 1]]                 [1, 2]]
    # cm = [[1, 0, 0], [1, 1, 1], [0, 0, 0]]
    # IoU: class 0 1/(1+1) = 1/2; class 1 1/(1+0+2) = 1/3; class 2 0/(0+1+0) = 0
    # Dice: 2/3, 2/4 = 1/2, 0; means over the 3 classes that occur
    truth = np.array([[[0, 1], [1, 1]]])
    predicted = np.array([[[0, 0], [1, 2]]])
    result = inference.evaluate(label_model(3), one_hot_images(predicted, 3), truth)
    np.testing.assert_array_equal(result["confusion_matrix"], [[1, 0, 0], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(result["iou"], [1 / 2, 1 / 3, 0])
    np.testing.assert_allclose(result["dice"], [2 / 3, 1 / 2, 0])
    assert result["mean_iou"] == pytest.approx((1 / 2 + 1 / 3) / 3)
    assert result["mean_dice"] == pytest.approx((2 / 3 + 1 / 2) / 3)
    assert result["pixel_accuracy"] == pytest.approx(2 / 4)
    assert result["num_pixels"] == 4


def test_evaluate_equals_seglearn_metrics_on_controlled_predictions():
    rng = np.random.default_rng(3)
    k = 4
    truth = rng.integers(0, k, (5, 12, 12))
    predicted = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, k, truth.shape))
    predicted[predicted == 3] = 2  # class 3 is never predicted
    result = inference.evaluate(label_model(k), one_hot_images(predicted, k), truth, num_classes=k)
    np.testing.assert_array_equal(result["confusion_matrix"], metrics.confusion_matrix(truth, predicted, k))
    np.testing.assert_allclose(result["iou"], metrics.iou_per_class(truth, predicted, k))
    np.testing.assert_allclose(result["dice"], metrics.dice_per_class(truth, predicted, k))
    assert result["mean_iou"] == pytest.approx(metrics.mean_iou(truth, predicted, k))
    assert result["pixel_accuracy"] == pytest.approx(metrics.pixel_accuracy(truth, predicted, k))
    assert result["iou"][3] == 0.0  # present in the truth, never predicted


def test_evaluate_leaves_absent_classes_out_and_ignores_pixels():
    truth = np.array([[[0, 0], [1, 255]]])
    predicted = np.array([[[0, 0], [1, 1]]])
    result = inference.evaluate(label_model(3), one_hot_images(predicted, 3), truth, ignore_index=255)
    assert np.isnan(result["iou"][2]) and result["mean_iou"] == 1.0
    assert result["num_pixels"] == 3


def test_evaluate_rejects_mismatches():
    model = label_model(3)
    images = one_hot_images(np.zeros((1, 4, 4), int), 3)
    with pytest.raises(ValueError, match="num_classes=5"):
        inference.evaluate(model, images, np.zeros((1, 4, 4), int), num_classes=5)
    with pytest.raises(ValueError, match=r"masks.*class ids in \[0, 3\)"):
        inference.evaluate(model, images, np.full((1, 4, 4), 3))
    with pytest.raises(ValueError, match="masks.*shape"):
        inference.evaluate(model, images, np.zeros((1, 4, 5), int))
    with pytest.raises(ValueError, match="images.*3 channels"):
        inference.evaluate(model, images[..., :2], np.zeros((1, 4, 4), int))


# ---------------------------------------------------------------------------
# predict and tiling
# ---------------------------------------------------------------------------


def test_predict_shapes_types_and_probabilities():
    model = tiny_unet(num_classes=3)
    images, _ = threshold_data(3)
    labels, probs = inference.predict(model, images, return_probabilities=True)
    assert labels.shape == (3, 16, 16) and labels.dtype == np.uint8
    assert probs.shape == (3, 16, 16, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)  # float32 softmax
    np.testing.assert_array_equal(labels, probs.argmax(axis=-1))
    np.testing.assert_array_equal(inference.predict(model, images[1]), labels[1])


def test_one_traced_forward_pass_serves_every_batch_size():
    # predict, evaluate and train's validation run the engine's forward pass in batches of
    # their own sizes (equal batches: 7 images at batch_size=3 are 3 batches of 3, 3 and 1):
    # one graph per image size serves them all, and gives the logits of the model itself.
    from seglearn import _engine

    model = tiny_unet(num_classes=3, base_filters=6)
    images, masks = threshold_data(7)
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    for batch_size in (3, 16, 1):
        logits = _engine._forward_logits(model, images, batch_size, _engine._engine_for(model))
        np.testing.assert_allclose(logits, expected, atol=1e-5)
    inference.evaluate(model, images[:5], masks[:5])
    engine = _engine._engine_for(model)
    assert engine.forward.experimental_get_tracing_count() == 1
    # larger images are tiled into the model's fixed 16 x 16: still the same graph
    assert inference.predict(model, threshold_data(2, size=24)[0]).shape == (2, 24, 24)
    assert engine.forward.experimental_get_tracing_count() == 1
    # a model without a fixed size gets one graph per image size
    free = models.unet((None, None, 1), 2, depth=1, base_filters=4)
    for size in (16, 16, 24):
        inference.predict(free, threshold_data(3, size=size)[0], batch_size=2)
    assert _engine._engine_for(free).forward.experimental_get_tracing_count() == 2


def test_predict_with_controlled_logits():
    truth = np.random.default_rng(0).integers(0, 3, (2, 10, 14))
    np.testing.assert_array_equal(inference.predict(label_model(3), one_hot_images(truth, 3)), truth)
    # tiling a model without context changes nothing, whatever the tile
    tiled = inference.predict(label_model(3), one_hot_images(truth, 3), tile_size=(6, 4), overlap=2)
    np.testing.assert_array_equal(tiled, truth)


@pytest.fixture(scope="module")
def sharp_unets():
    """The same random U-Net twice: for any size, and fixed at 64x64.

    The logits layer is scaled by 30 so that the probabilities react
    strongly to any change of the features, which makes seams stand out.
    """
    keras.utils.set_random_seed(1)
    flexible = models.unet((None, None, 1), num_classes=3, depth=2, base_filters=4)
    kernel, bias = flexible.get_layer("logits").get_weights()
    flexible.get_layer("logits").set_weights([30 * kernel, bias])
    fixed = models.unet((64, 64, 1), num_classes=3, depth=2, base_filters=4)
    fixed.set_weights(flexible.get_weights())
    return flexible, fixed


def test_tiled_prediction_equals_untiled_prediction_in_the_interior(sharp_unets):
    flexible, _ = sharp_unets
    image = np.random.default_rng(0).random((1, 96, 128, 1), dtype=np.float32)
    _, untiled = inference.predict(flexible, image, return_probabilities=True)
    # depth 2: receptive field 44 pixels (radius 22). A margin of 24 (overlap 48),
    # tile stride 32 and tile origins at multiples of 4 make every kept pixel
    # see exactly what it sees in the untiled image.
    _, tiled = inference.predict(flexible, image, tile_size=80, overlap=48, return_probabilities=True)
    interior = (slice(None), slice(24, -24), slice(24, -24))
    # float32 convolutions on tiles of another size may sum in another order
    np.testing.assert_allclose(tiled[interior], untiled[interior], atol=1e-5)
    # near the image border the tiles see reflected image where the untiled
    # network saw zero padding: different, as expected
    assert np.abs(tiled - untiled).max() > 1e-3


def column_jumps(probs):
    """Mean absolute change of the probabilities from each column to the next."""
    return np.abs(np.diff(probs, axis=1)).mean(axis=(0, 2))


@pytest.mark.parametrize("overlap, seam_expected", [(None, False), (32, False), (0, True)])
def test_tiled_prediction_has_no_visible_seam(sharp_unets, overlap, seam_expected):
    flexible, fixed = sharp_unets
    # A smooth ramp: the true probability maps change slowly from column to
    # column, so a jump at a tile border would stand out.
    yy, xx = np.mgrid[0:160, 0:192] / 192.0
    image = (0.3 + 0.4 * xx + 0.2 * yy)[None, :, :, None].astype(np.float32)
    _, untiled = inference.predict(flexible, image, return_probabilities=True)
    # The fixed 64x64 model tiles automatically (default overlap 16).
    _, tiled = inference.predict(fixed, image, overlap=overlap, return_probabilities=True)
    stride = 64 - (16 if overlap is None else overlap)
    seams = np.arange(stride, 192, stride) - 1  # jump from column c-1 to c
    excess = np.abs(column_jumps(tiled[0])[seams] - column_jumps(untiled[0])[seams]).max()
    # "visible" = more than one grey level (1/255) of a probability map drawn in 8 bits
    assert (excess > 1 / 255) == seam_expected, excess


def test_predict_rejects_bad_tiling():
    flexible = tiny_unet(num_classes=2)
    image = np.zeros((1, 32, 32, 1), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        inference.predict(flexible, image, tile_size=16, overlap=3)
    with pytest.raises(ValueError, match="overlap"):
        inference.predict(flexible, image, tile_size=16, overlap=16)
    with pytest.raises(ValueError, match="tile_size"):
        inference.predict(flexible, image, tile_size=8)
    with pytest.raises(ValueError, match="tile_size"):
        inference.predict(flexible, image, tile_size=0)
    with pytest.raises(ValueError, match="overlap.*tile_size"):
        inference.predict(models.unet((None, None, 1), 2, depth=1, base_filters=2), image, overlap=4)
    with pytest.raises(ValueError, match="images.*2x2.*tile_size"):
        inference.predict(models.unet((None, None, 1), 2, depth=2, base_filters=2), image[:, :2, :2])
    with pytest.raises(ValueError, match="images.*4 dimensions"):
        inference.predict(flexible, image[0, 0])
