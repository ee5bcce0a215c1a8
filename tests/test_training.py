"""Tests of seglearn.training: the one training loop and its engine."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seglearn import _engine, models, training
from tiny_models import threshold_data, tiny_unet

pytestmark = pytest.mark.tf


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
