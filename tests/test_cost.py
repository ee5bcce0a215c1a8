"""Tests of seglearn.cost: memory estimates and timing."""

import numpy as np
import pytest

from seglearn import cost


def test_time_call_runs_warmup_plus_repeat_times():
    calls = []
    seconds = cost.time_call(calls.append, 1, repeat=3, warmup=2)
    assert len(calls) == 5 and seconds >= 0
    with pytest.raises(TypeError, match="fn"):
        cost.time_call(3)
    with pytest.raises(ValueError, match="repeat"):
        cost.time_call(len, [], repeat=0)


# ---------------------------------------------------------------------------
# memory (Keras models)
# ---------------------------------------------------------------------------


@pytest.mark.tf
def test_activation_memory_by_hand_and_scaling(tiny_fcn):
    model = tiny_fcn()
    # per image: input 16*16*3 = 768; enc_conv 16*16*4 = 1024; pool 8*8*4 = 256;
    # mid_conv 8*8*8 = 512; up 16*16*8 = 2048; logits 16*16*3 = 768 -> 5376 values
    assert cost.activation_memory(model) == 4 * 5376
    assert cost.activation_memory(model, batch_size=8) == 8 * 4 * 5376
    assert cost.activation_memory(model, batch_size=8, bytes_per_value=2) == 8 * 2 * 5376
    with pytest.raises(ValueError, match="input_size"):
        cost.activation_memory(model, input_size=(32, 32))


@pytest.mark.tf
def test_activation_memory_needs_a_size_for_a_size_free_model():
    import keras

    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    assert cost.activation_memory(model, input_size=(4, 5)) == 4 * (20 + 40)
    assert cost.activation_memory(model, input_size=(8, 10)) == 4 * 4 * (20 + 40)  # 4x the pixels
    with pytest.raises(ValueError, match="input_size"):
        cost.activation_memory(model)
    with pytest.raises(TypeError, match="model"):
        cost.activation_memory("unet")


@pytest.mark.tf
def test_training_memory_parts(tiny_fcn):
    model = tiny_fcn()
    parts = cost.training_memory(model, batch_size=2, optimizer_slots=2)
    p = model.count_params()  # all trainable
    assert parts["weights"] == parts["gradients"] == 4 * p
    assert parts["optimizer"] == 8 * p
    assert parts["activations"] == cost.activation_memory(model, batch_size=2)
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")


@pytest.mark.tf
def test_activation_memory_follows_each_tensors_dtype():
    import keras

    # per image: input 4*4*1 float32 = 64 B; conv 4*4*2 bfloat16 = 64 B; logits 4*4*3 float32 = 192 B
    model = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(2, 3, padding="same", dtype="mixed_bfloat16", name="half"),
        keras.layers.Conv2D(3, 1, dtype="float32", name="full"),
    ])
    assert cost.layer_activation_bytes(model, batch_size=2) == [("input", 128), ("half", 128), ("full", 384)]
    assert cost.activation_memory(model, batch_size=2) == 128 + 128 + 384
    assert cost.activation_memory(model, batch_size=2, bytes_per_value=4) == 2 * 4 * (16 + 32 + 48)
    with pytest.raises(ValueError, match="bytes_per_value"):
        cost.layer_activation_bytes(model, bytes_per_value=0)


def test_checkpointed_memory_by_hand():
    # a_0 = 5 (input), outputs 1..6 = 1, 2, 3, 4, 5, 6; segments of 2: (1, 2), (3, 4), (5, 6)
    # kept: a_0 = 5, the segment inputs a_2 = 2, a_4 = 4, the last output a_6 = 6 -> 17;
    # recomputing the largest segment holds 5 + 6 = 11 more -> 28 (everything: 5 + 21 = 26)
    sizes = [5, 1, 2, 3, 4, 5, 6]
    assert cost.checkpointed_memory(sizes, 2) == 28
    assert cost.checkpointed_memory(sizes, 1) == sum(sizes)
    # L = 16 equal activations: (L / k + 1 + k) a, smallest at k = 4 = sqrt(L)
    equal = [1] * 17
    assert [cost.checkpointed_memory(equal, k) for k in (2, 4, 8)] == [8 + 1 + 2, 4 + 1 + 4, 2 + 1 + 8]
    with pytest.raises(ValueError, match="activation_bytes"):
        cost.checkpointed_memory([3], 2)
    with pytest.raises(ValueError, match="activation_bytes"):
        cost.checkpointed_memory([3, -1], 2)
    with pytest.raises(ValueError, match="segment_length"):
        cost.checkpointed_memory(sizes, 0)


@pytest.mark.tf
def test_conv_chain_shapes_and_memory():
    model = cost.conv_chain((8, 8, 3), 4, num_layers=5, filters=6)
    assert [layer.name for layer in model.layers] == ["conv1", "conv2", "conv3", "conv4", "conv5", "logits"]
    # per image: input 8*8*3 = 192 values, five 8*8*6 = 384, logits 8*8*4 = 256 -> 2368 values
    assert cost.activation_memory(model, batch_size=3) == 3 * 4 * 2368
    half = cost.conv_chain((8, 8, 3), 4, num_layers=5, filters=6, dtype="mixed_bfloat16")
    assert cost.activation_memory(half, batch_size=3) == 3 * (4 * 192 + 2 * (5 * 384 + 256))
    with pytest.raises(ValueError, match="num_layers"):
        cost.conv_chain(num_layers=0)


def test_measure_training_steps_checks_its_settings():
    with pytest.raises(ValueError, match="settings"):
        cost.measure_training_steps({})
    with pytest.raises(ValueError, match="batchsize"):
        cost.measure_training_steps({"a": {"batchsize": 8}})
    with pytest.raises(ValueError, match="dtype_policy"):
        cost.measure_training_steps({"a": {"dtype_policy": "float8"}})
    with pytest.raises(ValueError, match="clipnorm"):
        cost.measure_training_steps({"a": {"clipnorm": 0}})
    with pytest.raises(ValueError, match="steps"):
        cost.measure_training_steps({"a": {"steps": 1}})
    with pytest.raises(TypeError, match="settings"):
        cost.measure_training_steps({"a": 16})
    with pytest.raises(ValueError, match="processes"):
        cost.measure_training_steps({"a": {}}, processes=0)


@pytest.mark.slow
def test_measure_training_steps_sees_the_activations():
    # Two fresh processes at once. Estimates (16 layers of 64*64*16 float32 values, 256 KiB per
    # image and layer): 64.75 MiB at batch 16, a quarter at batch 4, exactly.
    small = dict(image_size=64, num_layers=16, filters=16, steps=2)
    measured = cost.measure_training_steps(
        {"batch 16": {**small, "batch_size": 16}, "batch 4": {**small, "batch_size": 4},
         "checkpointed": {**small, "batch_size": 16, "checkpoint_every": 4},
         "bfloat16": {**small, "batch_size": 4, "dtype_policy": "mixed_bfloat16"}},
        processes=2)
    assert list(measured) == ["batch 16", "batch 4", "checkpointed", "bfloat16"]
    big, quarter = measured["batch 16"], measured["batch 4"]
    assert big.estimated_bytes == 4 * quarter.estimated_bytes
    # 4 bytes per weight: conv1 3*3*3*16 + 16, conv2..16 15 * (3*3*16*16 + 16), logits 16*5 + 5
    assert big.gradient_bytes == 4 * (3 * 3 * 3 * 16 + 16 + 15 * (3 * 3 * 16 * 16 + 16) + 16 * 5 + 5)
    # the measured step holds at least the activations the estimate counts (a wide margin below)
    assert big.step_bytes > 0.8 * big.estimated_bytes, big
    # A quarter of the batch needs less, but peak RSS is a coarse reading: in a CI run on a loaded
    # machine both steps read about 1.3 GB (TensorFlow's own start-up dominates), so the measured
    # difference is printed by chapter 09, not asserted here; the estimates above are exact.
    assert quarter.step_bytes > 0
    assert measured["checkpointed"].estimated_bytes < 0.6 * big.estimated_bytes
    assert measured["bfloat16"].estimated_bytes < 0.55 * quarter.estimated_bytes
    for m in measured.values():
        assert m.seconds_per_step > 0 and m.peak_rss_bytes == m.rss_before_bytes + m.step_bytes
        assert np.isfinite(m.extra["first_loss"])
