"""Tests of seglearn.cost: memory estimates and timing."""

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
