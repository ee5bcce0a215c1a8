"""Tests of seglearn.training: train, evaluate, predict (tiling), save and load."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from seglearn import _engine, inference, metrics, models, saving, training

pytestmark = pytest.mark.tf


def tiny_unet(size=16, channels=1, num_classes=2, **kwargs):
    options = dict(depth=1, base_filters=4)
    options.update(kwargs)
    return models.unet((size, size, channels), num_classes, **options)


def threshold_data(n=8, size=16, seed=0):
    """Random grey images; class 1 where the pixel is brighter than 0.5."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, size, size, 1), dtype=np.float32)
    return images, (images[..., 0] > 0.5).astype(np.uint8)


def label_model(num_classes, channels=None):
    """A model whose logits are its input: it predicts argmax over the channels.

    A 1x1 convolution with an identity kernel and no bias, so the predictions
    are fully controlled by the images we feed it.
    """
    channels = channels or num_classes
    inputs = keras.Input((None, None, channels))
    conv = keras.layers.Conv2D(num_classes, 1, use_bias=False, name="identity")
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.eye(channels, num_classes, dtype=np.float32)[None, None]])
    return model


def one_hot_images(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[labels]


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------


def test_train_learns_an_easy_problem_and_reports_metrics():
    keras.utils.set_random_seed(0)
    images, masks = threshold_data(16)
    model = tiny_unet()
    history = training.train(model, (images, masks), (images[:4], masks[:4]), epochs=6,
                             learning_rate=1e-2, batch_size=8, verbose=0)
    logs = history.history
    assert {"loss", "pixel_accuracy", "mean_iou", "val_loss", "val_mean_iou"} <= set(logs)
    assert len(logs["loss"]) == 6
    # a thresholding task: six epochs at lr 0.01 cut the loss well below its start
    assert logs["loss"][-1] < 0.7 * logs["loss"][0]


def test_a_second_model_of_the_same_architecture_reuses_the_traced_step():
    images, masks = threshold_data(8)
    first = training.train(lambda: tiny_unet(base_filters=3), (images, masks), epochs=1, batch_size=4, verbose=0)
    before = [w.copy() for w in first.model.get_weights()]
    engine = _engine._engine_for(first.model)
    (step, _), = engine._steps.values()
    assert step.experimental_get_tracing_count() == 1
    second = training.train(lambda: tiny_unet(base_filters=3), (images, masks), epochs=2, batch_size=4,
                            seed=1, verbose=0)
    assert _engine._engine_for(second.model) is engine
    assert step.experimental_get_tracing_count() == 1, "the second model must not trace the step again"
    # the step trained the second model's variables, not the first model's (the traced template)
    assert all(np.array_equal(a, b) for a, b in zip(before, first.model.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(before, second.model.get_weights()))
    # another setting of a layer is another architecture
    other = training.train(lambda: tiny_unet(base_filters=3), (images, masks), epochs=1, batch_size=4,
                           bn_momentum=0.5, verbose=0)
    assert _engine._engine_for(other.model) is not engine


def test_a_fresh_segmentation_loss_per_run_reuses_the_traced_step():
    # Two calls of segmentation_loss with the same arguments compute the same loss:
    # the engine must key its step by the arguments, not by the function object.
    images, masks = threshold_data(8)
    run = training.train(lambda: tiny_unet(base_filters=5), (images, masks), epochs=1, batch_size=4,
                         loss=training.segmentation_loss("focal", 2), verbose=0)
    engine = _engine._engine_for(run.model)
    training.train(lambda: tiny_unet(base_filters=5), (images, masks), epochs=1, batch_size=4,
                   loss=training.segmentation_loss("focal", 2), verbose=0)
    assert len(engine._steps) == 1
    (step, _), = engine._steps.values()
    assert step.experimental_get_tracing_count() == 1
    # other arguments are another loss, hence another step
    training.train(lambda: tiny_unet(base_filters=5), (images, masks), epochs=1, batch_size=4,
                   loss=training.segmentation_loss("focal", 2, gamma=1.0), verbose=0)
    assert len(engine._steps) == 2


def test_cosine_schedule_on_data_of_unknown_length_asks_for_a_length():
    images, masks = threshold_data(8)
    unknown = tf.data.Dataset.from_tensor_slices((images, masks.astype(np.int32))).batch(4).filter(
        lambda x, y: True)
    assert int(unknown.cardinality()) < 0
    with pytest.raises(ValueError, match=r"`schedule='cosine'` needs the run's length.*time_budget=None"):
        training.train(tiny_unet(), unknown, epochs=2, verbose=0)
    run = training.train(tiny_unet(), unknown, epochs=2, schedule="constant", verbose=0)
    assert len(run.history["loss"]) == 2


def ours_and_keras(epochs, keras_optimizer, **options):
    """A tiny U-Net trained by ``train(**options)`` and its twin (same weights) by Keras ``fit``."""
    images, masks = threshold_data(4)
    keras.utils.set_random_seed(0)
    ours = tiny_unet(batch_norm=False)
    theirs = keras.models.clone_model(ours)
    theirs.set_weights(ours.get_weights())
    training.train(ours, (images, masks), epochs=epochs, batch_size=4, learning_rate=1e-2, schedule="constant",
                   restore_best=False, verbose=0, **options)
    theirs.compile(keras_optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    theirs.fit(images, masks.astype(np.int32), batch_size=4, epochs=epochs, shuffle=False, verbose=0)
    return ours, theirs


@pytest.mark.parametrize(
    "name, keras_optimizer",
    [
        ("sgd", lambda lr: keras.optimizers.SGD(lr)),
        ("momentum", lambda lr: keras.optimizers.SGD(lr, momentum=0.9)),
        ("nesterov", lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)),
        ("adam", lambda lr: keras.optimizers.Adam(lr)),
        ("rmsprop", lambda lr: keras.optimizers.RMSprop(lr)),
    ],
)
def test_each_optimizer_takes_the_same_steps_as_keras(name, keras_optimizer):
    ours, theirs = ours_and_keras(3, keras_optimizer(1e-2), optimizer=name)
    # RMSprop: TensorFlow's kernel adds epsilon under the square root, Keras outside it
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 if name != "rmsprop" else 1e-4)


def test_weight_decay_shrinks_the_weights_as_adamw():
    ours, theirs = ours_and_keras(2, keras.optimizers.AdamW(1e-2, weight_decay=0.1), weight_decay=0.1)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fused_batch_norm_trains_like_keras_batch_norm():
    images, masks = threshold_data(8)
    keras.utils.set_random_seed(0)
    fused = tiny_unet()
    plain = keras.models.clone_model(
        fused,
        clone_function=lambda layer: keras.layers.BatchNormalization.from_config(layer.get_config())
        if isinstance(layer, models.FusedBatchNormalization) else layer.__class__.from_config(layer.get_config()),
    )
    plain.set_weights(fused.get_weights())
    assert not any(isinstance(layer, models.FusedBatchNormalization) for layer in plain.layers)
    for model in (fused, plain):
        training.train(model, (images, masks), epochs=2, batch_size=4, learning_rate=1e-2, verbose=0,
                       restore_best=False)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_time_budget_stops_training_and_sets_the_schedule():
    images, masks = threshold_data(8)
    training.train(tiny_unet(), (images, masks), epochs=1, batch_size=2, verbose=0)  # trace the step first
    run = training.train(tiny_unet(), (images, masks), epochs=None, time_budget=2.0, batch_size=2, verbose=0)
    assert run.steps > 4 and run.epochs >= 1
    assert 2.0 <= run.seconds < 2.0 + 5, "training stops at the budget (plus the last validation)"
    assert run.history["lr"][-1] < training.DEFAULT_LEARNING_RATE / 2, "the cosine runs over the budget"


def test_random_symmetries_reach_all_eight_and_move_masks_with_images():
    image = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    images = np.repeat(image, 256, axis=0)
    masks = images[..., 0].astype(np.int32)
    x, y = training.random_symmetries(images, masks, tf.constant([3, 4], tf.int64))
    x, y = x.numpy(), y.numpy()
    assert np.array_equal(x[..., 0], y)
    square = image[0, ..., 0]
    expected = {np.rot90(m, k).tobytes() for m in (square, square.T) for k in range(4)}
    seen = {a.tobytes() for a in x[..., 0]}
    assert seen == expected, "every one of the 8 symmetries occurs, nothing else"
    again, _ = training.random_symmetries(images, masks, tf.constant([3, 4], tf.int64))
    assert np.array_equal(again.numpy(), x), "same seed, same choices"


def test_augment_flips_trains_and_rejects_other_names():
    images, masks = threshold_data(8)
    run = training.train(tiny_unet(), (images, masks), epochs=2, batch_size=4, augment="flips", verbose=0)
    assert run.config["augment"] == "flips" and run.steps == 4
    with pytest.raises(ValueError, match=r"`augment` must be one of 'flips'. Received: augment='rotate'"):
        training.train(tiny_unet(), (images, masks), epochs=1, augment="rotate")


def test_crop_size_trains_on_random_windows_of_larger_images():
    images, masks = threshold_data(4, size=32)
    run = training.train(tiny_unet(size=16), (images, masks), (images, masks), epochs=2, batch_size=2,
                         crop_size=16, verbose=0)
    assert run.images == 2 * 4
    assert run.val["num_pixels"] == 4 * 32 * 32, "validation tiles the whole images"
    with pytest.raises(ValueError, match=r"`crop_size` must be at most the images' size 32x32. Received: crop_size=40"):
        training.train(tiny_unet(size=None), (images, masks), epochs=1, crop_size=40)
    with pytest.raises(ValueError, match=r"crop_size.*input size 16x16. Received: crop_size=8"):
        training.train(tiny_unet(size=16), (images, masks), epochs=1, crop_size=8)


def test_progress_shows_an_eta_and_one_line_per_epoch(capsys):
    images, masks = threshold_data(4)
    training.train(tiny_unet(), (images, masks), epochs=2, batch_size=2, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2 [") and "ETA" in lines[0] and "loss" in lines[0]
    assert "100%" in lines[1]


def test_train_restores_the_weights_of_the_best_epoch():
    keras.utils.set_random_seed(0)
    images, masks = threshold_data(8)
    val = threshold_data(4, seed=1)
    model = tiny_unet(batch_norm=False)
    # A huge learning rate makes the validation loss jump around; whatever
    # happens, the final weights must be those of the lowest val_loss.
    history = training.train(model, (images, masks), val, epochs=5, learning_rate=0.5,
                             batch_size=8, patience=None, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    final = float(loss(val[1], model(val[0], training=False)))
    # float32 loss over 1024 pixels, evaluated twice the same way
    np.testing.assert_allclose(final, min(history.history["val_loss"]), rtol=1e-5)


def test_train_stops_early_after_patience_epochs():
    keras.utils.set_random_seed(0)
    images, masks = threshold_data(8)
    model = tiny_unet(batch_norm=False)
    # learning rate 1e-9: nothing changes, so the loss never improves by more
    # than rounding; EarlyStopping's min_delta=0 still counts any decrease, so
    # use the same fixed batch for validation and expect a stop at epoch 1 + 2.
    history = training.train(model, (images, masks), (images, masks), epochs=20,
                             learning_rate=1e-12, batch_size=8, patience=2, verbose=0)
    assert len(history.history["loss"]) < 20


def test_class_weight_becomes_per_pixel_sample_weight():
    images, masks = threshold_data(8)
    history = training.train(tiny_unet(), (images, np.ones_like(masks)), epochs=1, batch_size=8,
                             class_weight={1: 0.0}, verbose=0)
    # every pixel is class 1 with weight 0: the weighted loss is exactly 0
    assert history.history["loss"][0] == 0.0


def test_train_accepts_a_tf_data_dataset_and_writes_a_checkpoint(tmp_path):
    images, masks = threshold_data(8)
    dataset = tf.data.Dataset.from_tensor_slices((images, masks.astype(np.int32))).batch(4)
    model = tiny_unet()
    path = tmp_path / "sub" / "best.keras"
    history = training.train(model, dataset, dataset, epochs=2, checkpoint_path=path,
                             class_weight=[1.0, 2.0], verbose=0)
    assert len(history.history["val_loss"]) == 2
    restored = keras.models.load_model(path, compile=False)
    assert restored.count_params() == model.count_params()
    weights_path = tmp_path / "best.weights.h5"
    training.train(model, (images, masks), epochs=1, checkpoint_path=weights_path, verbose=0)
    assert weights_path.is_file()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(patience=-1), ValueError, "patience"),
        (dict(class_weight=[1.0]), ValueError, "class_weight"),
        (dict(class_weight={2: 1.0}), ValueError, "class_weight"),
        (dict(class_weight=[1.0, -1.0]), ValueError, "class_weight"),
        (dict(checkpoint_path="best.h5"), ValueError, "checkpoint_path"),
        (dict(time_budget=0), ValueError, r"`time_budget` must be a finite number > 0. Received: time_budget=0"),
        (dict(epochs=None), ValueError, r"`epochs` or `time_budget` must be given"),
        (dict(optimizer="lbfgs"), ValueError, r"`optimizer` must be one of 'sgd'.*Received: optimizer='lbfgs'"),
        (dict(optimizer=keras.optimizers.Adam()), TypeError, r"`optimizer` must be one of"),
        (dict(loss="hinge"), ValueError, r"`loss` must be one of"),
        (dict(loss="dice", class_weight=[1.0, 2.0]), ValueError, r"does not apply to a Dice loss"),
        (dict(bn_momentum=1.0), ValueError, r"bn_momentum"),
        (dict(seed=-1), ValueError, r"seed"),
        (dict(augment="yes"), ValueError, r"augment"),
        (dict(augment=1), TypeError, r"`augment` must be False, True, 'flips'"),
        (dict(verbose=3), ValueError, "verbose"),
    ],
)
def test_train_rejects_bad_options(kwargs, error, match):
    images, masks = threshold_data(2)
    with pytest.raises(error, match=match):
        training.train(tiny_unet(), (images, masks), **kwargs)


def test_train_rejects_data_that_does_not_fit_the_model():
    images, masks = threshold_data(2)
    model = tiny_unet()
    with pytest.raises(ValueError, match=r"train_data\[1\].*class ids in \[0, 2\)"):
        training.train(model, (images, masks + 2))
    with pytest.raises(ValueError, match=r"train_data\[0\].*1 channels"):
        training.train(model, (np.repeat(images, 3, axis=-1), masks))
    with pytest.raises(ValueError, match=r"train_data\[0\].*input size 16x16"):
        training.train(model, threshold_data(2, size=32))
    with pytest.raises(ValueError, match=r"train_data\[1\].*shape \(N, H, W\)"):
        training.train(model, (images, masks[:, :8]))
    with pytest.raises(ValueError, match=r"val_data\[0\].*4 dimensions"):
        training.train(model, (images, masks), (images[0], masks[0]))
    with pytest.raises(TypeError, match="train_data"):
        training.train(model, images)
    with pytest.raises(ValueError, match="train_data.*pairs"):
        training.train(model, tf.data.Dataset.from_tensor_slices(images).batch(2))
    with pytest.raises(TypeError, match="model"):
        training.train("unet", (images, masks))


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


# ---------------------------------------------------------------------------
# save and load
# ---------------------------------------------------------------------------


def test_save_and_load_keep_predictions_and_metadata(tmp_path):
    model = tiny_unet(channels=3, num_classes=3)
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    path = saving.save_model(model, tmp_path / "m" / "model.keras", class_names=["bg", "a", "b"],
                               normalisation={"mean": [0.5, 0.5, 0.5], "std": 0.25})
    loaded, info = saving.load_model(path)
    assert info == saving.ModelInfo(("bg", "a", "b"), (16, 16), 3, {"mean": [0.5, 0.5, 0.5], "std": 0.25})
    assert info.num_classes == 3
    # same weights, same float32 arithmetic
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    # prepare: (x - mean) / std of images scaled to [0, 1]
    raw = np.array([[[[0, 128, 255]]]], dtype=np.uint8)
    # float32: 128/255 - 0.5 cancels most digits, so compare with an absolute 1e-6
    np.testing.assert_allclose(info.prepare(raw), [[[[-2.0, (128 / 255 - 0.5) / 0.25, 2.0]]]], atol=1e-6)
    # the archive is still an ordinary .keras file
    assert keras.models.load_model(path, compile=False).count_params() == model.count_params()


def test_load_model_validates_the_file(tmp_path):
    model = tiny_unet(num_classes=2)
    with pytest.raises(FileNotFoundError, match="path"):
        saving.load_model(tmp_path / "missing.keras")
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="zip"):
        saving.load_model(tmp_path / "text.keras")
    plain = tmp_path / "plain.keras"
    model.save(plain)
    with pytest.raises(ValueError, match="seglearn.json"):
        saving.load_model(plain)
    # metadata that lies about the number of classes
    tampered = tmp_path / "tampered.keras"
    saving.save_model(model, tampered, class_names=["bg", "fg"])
    with zipfile.ZipFile(tampered) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["seglearn.json"])
    meta["class_names"] = ["bg", "fg", "other"]
    members["seglearn.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="outputs 2 classes but 3 class names"):
        saving.load_model(tampered)


def test_save_model_rejects_bad_metadata(tmp_path):
    model = tiny_unet(num_classes=2)
    with pytest.raises(ValueError, match="path"):
        saving.save_model(model, tmp_path / "model.h5", class_names=["a", "b"])
    with pytest.raises(ValueError, match="class_names"):
        saving.save_model(model, tmp_path / "m.keras", class_names=["a", "b", "c"])
    with pytest.raises(TypeError, match="class_names"):
        saving.save_model(model, tmp_path / "m.keras", class_names="ab")
    with pytest.raises(ValueError, match="normalisation"):
        saving.save_model(model, tmp_path / "m.keras", class_names=["a", "b"], normalisation={"std": 0})
    with pytest.raises(ValueError, match="normalisation"):
        saving.save_model(model, tmp_path / "m.keras", class_names=["a", "b"],
                            normalisation={"mean": 0, "std": 0})
    flexible = models.unet((None, None, 1), 2, depth=1, base_filters=2)
    with pytest.raises(ValueError, match="input_size"):
        saving.save_model(flexible, tmp_path / "m.keras", class_names=["a", "b"])
    assert not (tmp_path / "m.keras").exists()
