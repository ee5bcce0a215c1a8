"""The training-step exercise is solvable with the course's pieces (issue 16).

Students write a training step with ``tf.GradientTape`` that applies their own
optimiser update from chapter 04 (``seglearn.optim``'s NumPy optimisers, or
their ``sgd_momentum_step``) instead of a Keras optimiser. The package holds
no such helper on purpose; the reference solutions below (``train_step`` and
``train_step_sgd_momentum``) are what a chapter's solution cell can hold, and
the tests show that 3 steps on a small seglearn U-Net (with batch
normalisation) match Keras's own optimiser step by step: the same losses, the
same weights, the same moving statistics.

Tolerances: both sides compute the first step's gradients with the same
TensorFlow ops on the same weights; the NumPy update and Keras's differ only
in the order of float32 operations (about one rounding, 6e-8 relative, per
weight and step), and later gradients inherit those differences. Weights
below 1 in size, moved by up to ``learning_rate = 1e-2`` per step, agree to
``atol=1e-5`` after 3 steps (measured: 4e-7 with Adam, 0 with SGD and
RMSprop); losses to ``rtol=1e-5`` (measured: 3e-7). A wrong solution (forward
pass with ``training=False``, update not assigned back, the gradient added)
must be off by more than ``100 * atol = 1e-3`` (measured: 0.04 to 0.3).
"""

import numpy as np
import pytest

from seglearn import optim

pytestmark = pytest.mark.tf

STEPS = 3
LEARNING_RATE = 1e-2
WEIGHT_ATOL = 1e-5
LOSS_RTOL = 1e-5


# --------------------------------------------------------------------------- the solutions
def train_step(model, optimizer, images, masks, loss_fn):
    """One training step: loss and gradients with ``tf.GradientTape``, update by a NumPy optimiser.

    ``optimizer`` is one of ``seglearn.optim``'s (``SGD``, ``RMSprop``, ``Adam``):
    its ``step(params, grads)`` takes and returns lists of arrays and keeps its
    state (velocities, moments, step count) between calls. Returns the loss.
    """
    import tensorflow as tf

    with tf.GradientTape() as tape:
        logits = model(images, training=True)  # training=True: batch norm uses, and updates, batch statistics
        loss = loss_fn(masks, logits)
    variables = model.trainable_variables  # not model.weights: the moving statistics are not trained
    grads = tape.gradient(loss, variables)
    new_values = optimizer.step([v.numpy() for v in variables], [g.numpy() for g in grads])
    for variable, value in zip(variables, new_values):
        variable.assign(value)
    return float(loss)


def sgd_momentum_step(w, v, grad, learning_rate, momentum):
    """Chapter 04, exercise 3: one step of SGD with momentum in Keras's form; returns (w, v)."""
    v = momentum * v - learning_rate * grad
    w = w + v
    return w, v


def train_step_sgd_momentum(model, velocities, images, masks, loss_fn, learning_rate, momentum):
    """The same step with the student's own ``sgd_momentum_step``, one velocity per trainable variable.

    ``velocities`` is a list of arrays (zeros before the first step) or None
    for zeros. Returns the loss and the new velocities.
    """
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(masks, model(images, training=True))
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    if velocities is None:
        velocities = [np.zeros(v.shape, dtype=v.dtype) for v in variables]
    new_velocities = []
    for variable, grad, velocity in zip(variables, grads, velocities):
        w, velocity = sgd_momentum_step(variable.numpy(), velocity, grad.numpy(), learning_rate, momentum)
        variable.assign(w)
        new_velocities.append(velocity)
    return float(loss), new_velocities


# --------------------------------------------------------------------------- Keras's step
def keras_step(model, optimizer, images, masks, loss_fn):
    """The same step with a Keras optimiser (what ``model.fit`` does per batch, eagerly)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(masks, model(images, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return float(loss)


@pytest.fixture(scope="module")
def problem(keras):
    """A small U-Net (depth 1, 4 filters, batch norm), two copies with equal weights, and a batch."""
    from seglearn.models import unet

    keras.utils.set_random_seed(3)
    model = unet(input_shape=(16, 16, 1), num_classes=3, depth=1, base_filters=4)
    rng = np.random.default_rng(4)
    images = rng.random((4, 16, 16, 1), dtype=np.float32)
    masks = rng.integers(0, 3, size=(4, 16, 16))
    return model, model.get_weights(), images, masks


def fresh_pair(keras, problem):
    """Two models with the problem's starting weights (trainable and moving statistics)."""
    model, start, _, _ = problem
    ours = keras.models.clone_model(model)
    theirs = keras.models.clone_model(model)
    ours.set_weights(start)
    theirs.set_weights(start)
    return ours, theirs


def assert_same_state(ours, theirs, step, atol=WEIGHT_ATOL):
    for a, b in zip(ours.weights, theirs.weights):  # trainable weights and moving statistics
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=atol, err_msg=f"{a.path} after step {step}")


def run_both(keras, problem, ours_step, keras_optimizer):
    ours, theirs = fresh_pair(keras, problem)
    _, _, images, masks = problem
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    our_losses, keras_losses = [], []
    for step in range(1, STEPS + 1):
        our_losses.append(ours_step(ours, images, masks, loss_fn))
        keras_losses.append(keras_step(theirs, keras_optimizer, images, masks, loss_fn))
        yield step, ours, theirs, our_losses, keras_losses


OPTIMISERS = {
    "Adam": (lambda: optim.Adam(LEARNING_RATE), lambda keras: keras.optimizers.Adam(LEARNING_RATE)),
    "SGD momentum": (lambda: optim.SGD(LEARNING_RATE, momentum=0.9),
                     lambda keras: keras.optimizers.SGD(LEARNING_RATE, momentum=0.9)),
    "RMSprop": (lambda: optim.RMSprop(LEARNING_RATE), lambda keras: keras.optimizers.RMSprop(LEARNING_RATE)),
}


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_numpy_optimiser_step_matches_keras(keras, problem, name):
    ours_opt, keras_opt = OPTIMISERS[name][0](), OPTIMISERS[name][1](keras)
    for step, ours, theirs, our_losses, keras_losses in run_both(
        keras, problem, lambda m, x, y, f: train_step(m, ours_opt, x, y, f), keras_opt
    ):
        np.testing.assert_allclose(our_losses, keras_losses, rtol=LOSS_RTOL)
        assert_same_state(ours, theirs, step)
    assert ours_opt.iterations == STEPS
    assert our_losses[-1] < our_losses[0], "three steps of descent lower the training loss"


def test_students_sgd_momentum_step_matches_keras(keras, problem):
    velocities = None

    def step_fn(model, images, masks, loss_fn):
        nonlocal velocities
        loss, velocities = train_step_sgd_momentum(model, velocities, images, masks, loss_fn, LEARNING_RATE, 0.9)
        return loss

    keras_opt = keras.optimizers.SGD(LEARNING_RATE, momentum=0.9)
    for step, ours, theirs, our_losses, keras_losses in run_both(keras, problem, step_fn, keras_opt):
        np.testing.assert_allclose(our_losses, keras_losses, rtol=LOSS_RTOL)
        assert_same_state(ours, theirs, step)


def test_batch_norm_statistics_move(keras, problem):
    # the moving statistics of the U-Net's batch norm layers change in training mode,
    # so the comparison above covers them and not only the trainable weights
    model, start, images, masks = problem
    ours, _ = fresh_pair(keras, problem)
    train_step(ours, optim.Adam(LEARNING_RATE), images, masks,
               keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    moving = [(w, s) for w, s in zip(ours.weights, start) if "moving" in w.path]
    assert moving and all(np.abs(w.numpy() - s).max() > 1e-3 for w, s in moving)


# --------------------------------------------------------------------------- wrong solutions
def wrong_inference_mode(model, optimizer, images, masks, loss_fn):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(masks, model(images, training=False))  # batch norm with the moving statistics
    grads = tape.gradient(loss, model.trainable_variables)
    new = optimizer.step([v.numpy() for v in model.trainable_variables], [g.numpy() for g in grads])
    for variable, value in zip(model.trainable_variables, new):
        variable.assign(value)
    return float(loss)


def wrong_not_assigned(model, optimizer, images, masks, loss_fn):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(masks, model(images, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.step([v.numpy() for v in model.trainable_variables], [g.numpy() for g in grads])  # result dropped
    return float(loss)


def wrong_ascent(model, optimizer, images, masks, loss_fn):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(masks, model(images, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    new = optimizer.step([v.numpy() for v in model.trainable_variables], [-g.numpy() for g in grads])
    for variable, value in zip(model.trainable_variables, new):
        variable.assign(value)
    return float(loss)


@pytest.mark.parametrize("wrong", [wrong_inference_mode, wrong_not_assigned, wrong_ascent], ids=lambda f: f.__name__)
def test_wrong_steps_are_told_apart(keras, problem, wrong):
    ours_opt = optim.Adam(LEARNING_RATE)
    keras_opt = keras.optimizers.Adam(LEARNING_RATE)
    largest = 0.0
    for _, ours, theirs, _, _ in run_both(keras, problem, lambda m, x, y, f: wrong(m, ours_opt, x, y, f), keras_opt):
        largest = max(largest, max(np.abs(a.numpy() - b.numpy()).max() for a, b in zip(ours.weights, theirs.weights)))
    assert largest > 100 * WEIGHT_ATOL
