"""Tests for seglearn.optim: hand-worked steps, properties, errors, and Keras.

Keras comparisons run 5 steps on the quadratic loss 0.5 * ||w - target||^2
(so each gradient depends on the previous updates and any error compounds).
In float64, with hyperparameters that float32 holds exactly (Keras stores the
learning rate in a float32 variable and casts the others through float32),
the two implementations differ only by rounding: ``rtol=1e-12``. In float32 the order
of operations differs: ``rtol=1e-5``.
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seglearn.optim import SGD, Adam, RMSprop

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
STEPS = 5


def problem(seed, dtype=np.float64):
    """Starting weights and targets of a small two-tensor model."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(4,)).astype(dtype)]
    targets = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(4,)).astype(dtype)]
    return weights, targets


def gradients(weights, targets):
    """Gradient of 0.5 * sum ||w - t||^2."""
    return [w - t for w, t in zip(weights, targets)]


class TestHandWorked:
    def test_sgd_plain(self):
        # w = 1 - 0.5 * 2 = 0
        (w,) = SGD(learning_rate=0.5).step([np.array([1.0])], [np.array([2.0])])
        np.testing.assert_array_equal(w, [0.0])

    def test_sgd_nesterov(self):
        # step 1: v = 0.9*0 - 0.1*1 = -0.1;  w = 1 + 0.9*(-0.1) - 0.1*1 = 0.81
        # step 2: v = 0.9*(-0.1) - 0.1*1 = -0.19;  w = 0.81 + 0.9*(-0.19) - 0.1 = 0.539
        opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
        w = [np.array([1.0])]
        w = opt.step(w, [np.array([1.0])])
        np.testing.assert_allclose(w[0], [0.81], rtol=1e-12)
        w = opt.step(w, [np.array([1.0])])
        np.testing.assert_allclose(w[0], [0.539], rtol=1e-12)

    def test_rmsprop_two_steps(self):
        # rho = 0.5, eta = 0.1, g = 2 then 1, epsilon = 1e-7 inside the root:
        # step 1: s = 0.5*0 + 0.5*4 = 2;      w = 1 - 0.1*2 / sqrt(2 + 1e-7)
        # step 2: s = 0.5*2 + 0.5*1 = 1.5;    w -= 0.1*1 / sqrt(1.5 + 1e-7)
        opt = RMSprop(learning_rate=0.1, rho=0.5)
        w = opt.step([np.array([1.0])], [np.array([2.0])])
        w = opt.step(w, [np.array([1.0])])
        expected = 1 - 0.2 / np.sqrt(2 + 1e-7) - 0.1 / np.sqrt(1.5 + 1e-7)
        np.testing.assert_allclose(w[0], [expected], rtol=1e-14)

    def test_adam_two_steps(self):
        # beta_1 = 0.5, beta_2 = 0.75, eta = 0.1, g = 1 then 3:
        # step 1: m = 0.5, v = 0.25, alpha = 0.1*sqrt(0.25)/0.5 = 0.1
        #         w = 1 - 0.1*0.5 / (0.5 + eps)
        # step 2: m = 0.5 + 0.5*(3 - 0.5) = 1.75, v = 0.25 + 0.25*(9 - 0.25) = 2.4375,
        #         alpha = 0.1*sqrt(1 - 0.5625)/(1 - 0.25) = 0.1*0.661438/0.75
        #         w -= alpha*1.75 / (sqrt(2.4375) + eps)
        eps = 1e-7
        opt = Adam(learning_rate=0.1, beta_1=0.5, beta_2=0.75)
        w = opt.step([np.array([1.0])], [np.array([1.0])])
        w1 = 1 - 0.1 * 0.5 / (0.5 + eps)
        np.testing.assert_allclose(w[0], [w1], rtol=1e-14)
        w = opt.step(w, [np.array([3.0])])
        alpha = 0.1 * np.sqrt(1 - 0.75**2) / (1 - 0.5**2)
        np.testing.assert_allclose(w[0], [w1 - alpha * 1.75 / (np.sqrt(2.4375) + eps)], rtol=1e-14)
        assert opt.iterations == 2


class TestBehaviour:
    @SETTINGS
    @given(seed=st.integers(0, 2**16), lr=st.floats(1e-4, 1.0))
    def test_plain_sgd_is_w_minus_lr_g(self, seed, lr):
        weights, targets = problem(seed)
        grads = gradients(weights, targets)
        new = SGD(learning_rate=lr).step(weights, grads)
        for w, g, n in zip(weights, grads, new):
            np.testing.assert_allclose(n, w - lr * g, rtol=1e-14)

    @SETTINGS
    @given(seed=st.integers(0, 2**16), lr=st.floats(1e-4, 1.0))
    def test_first_adam_and_rmsprop_steps_have_size_at_most_lr(self, seed, lr):
        # Adam's first step: m = (1 - b1) g, v = (1 - b2) g^2, alpha = lr sqrt(1 - b2) / (1 - b1),
        # so alpha m / (sqrt(v) + eps) = lr g / (|g| + eps / sqrt(1 - b2)): about lr * sign(g).
        # RMSprop with rho = 0 divides by sqrt(g^2 + eps): about lr * sign(g) too.
        weights, targets = problem(seed)
        grads = gradients(weights, targets)
        adam = Adam(learning_rate=lr).step(weights, grads)
        rms = RMSprop(learning_rate=lr, rho=0.0).step(weights, grads)
        for w, g, a, r in zip(weights, grads, adam, rms):
            np.testing.assert_allclose(w - a, lr * g / (np.abs(g) + 1e-7 / np.sqrt(1 - 0.999)), rtol=1e-10)
            np.testing.assert_allclose(w - r, lr * g / np.sqrt(g**2 + 1e-7), rtol=1e-10)
            assert np.all(np.abs(w - a) <= lr) and np.all(np.abs(w - r) <= lr)

    @pytest.mark.parametrize(
        "opt",
        [SGD(0.1), SGD(0.1, momentum=0.9), SGD(0.1, 0.9, True), RMSprop(0.05), Adam(0.1), Adam(0.1, amsgrad=True)],
        ids=repr,
    )
    def test_descends_a_quadratic(self, opt):
        weights, targets = problem(0)
        start = sum(np.sum((w - t) ** 2) for w, t in zip(weights, targets))
        for _ in range(50):
            weights = opt.step(weights, gradients(weights, targets))
        end = sum(np.sum((w - t) ** 2) for w, t in zip(weights, targets))
        assert end < 0.1 * start

    def test_inputs_are_not_modified_and_structure_is_kept(self):
        weights, targets = problem(1)
        params = {"kernel": weights[0], "bias": weights[1]}
        grads = {"bias": weights[1] - targets[1], "kernel": weights[0] - targets[0]}
        saved = {k: v.copy() for k, v in params.items()}
        new = Adam().step(params, grads)
        assert list(new) == ["kernel", "bias"]
        for k in params:
            np.testing.assert_array_equal(params[k], saved[k])
            assert not np.array_equal(new[k], saved[k])
        assert isinstance(SGD().step(tuple(weights), tuple(weights)), tuple)

    def test_dict_order_may_change_between_steps(self):
        a, b = np.array([1.0]), np.array([2.0, 3.0])
        opt = SGD(learning_rate=0.5, momentum=0.5)
        first = opt.step({"a": a, "b": b}, {"a": a, "b": b})
        second = opt.step({"b": first["b"], "a": first["a"]}, {"b": b, "a": a})
        assert list(second) == ["b", "a"]
        # a: v = -0.5, w = 0.5; then v = 0.5*(-0.5) - 0.5*1 = -0.75, w = -0.25
        np.testing.assert_allclose(second["a"], [-0.25], rtol=1e-15)

    def test_dtype_is_kept(self):
        weights, targets = problem(2, dtype=np.float32)
        new = RMSprop().step(weights, gradients(weights, targets))
        assert all(n.dtype == np.float32 for n in new)
        assert SGD().step([np.array([1, 2])], [np.array([1, 1])])[0].dtype == np.float64

    def test_reset_forgets_the_state(self):
        weights, targets = problem(3)
        grads = gradients(weights, targets)
        opt = Adam(learning_rate=0.01)
        first = opt.step(weights, grads)
        opt.step(first, grads)
        opt.reset()
        assert opt.iterations == 0
        again = opt.step(weights, grads)
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)

    def test_repr(self):
        assert repr(SGD(0.5, momentum=0.25)) == "SGD(learning_rate=0.5, momentum=0.25, nesterov=False)"


class TestErrors:
    @pytest.mark.parametrize(
        ("make", "match"),
        [
            (lambda: SGD(learning_rate=0.0), r"`learning_rate` must be a finite number > 0"),
            (lambda: Adam(learning_rate=-1e-3), r"`learning_rate` must be a finite number > 0"),
            (lambda: SGD(momentum=1.0), r"`momentum` must be a finite number >= 0 and < 1"),
            (lambda: RMSprop(momentum=-0.1), r"`momentum` must be a finite number >= 0 and < 1"),
            (lambda: RMSprop(rho=1.0), r"`rho` must be a finite number >= 0 and < 1"),
            (lambda: RMSprop(epsilon=0.0), r"`epsilon` must be a finite number > 0"),
            (lambda: Adam(beta_1=1.5), r"`beta_1` must be a finite number >= 0 and < 1"),
            (lambda: Adam(beta_2=1.0), r"`beta_2` must be a finite number >= 0 and < 1"),
            (lambda: Adam(epsilon=float("nan")), r"`epsilon` must be a finite number > 0"),
        ],
    )
    def test_bad_hyperparameters(self, make, match):
        with pytest.raises(ValueError, match=match):
            make()

    def test_bad_hyperparameter_types(self):
        with pytest.raises(TypeError, match="`nesterov` must be True or False"):
            SGD(momentum=0.9, nesterov="yes")
        with pytest.raises(TypeError, match="`learning_rate` must be a finite number"):
            Adam(learning_rate="0.001")

    def test_structure_mismatch(self):
        w = [np.zeros(2), np.zeros(3)]
        with pytest.raises(ValueError, match=r"`grads` must be a list with one gradient per parameter \(2\)"):
            SGD().step(w, [np.zeros(2)])
        with pytest.raises(ValueError, match="`grads` must be a dict with the same keys as `params`"):
            SGD().step({"a": np.zeros(2)}, {"b": np.zeros(2)})
        with pytest.raises(TypeError, match="`params` must be a list, tuple or dict of arrays"):
            SGD().step(np.zeros(2), np.zeros(2))
        with pytest.raises(ValueError, match="`params` must hold at least one array"):
            SGD().step([], [])

    def test_gradient_shape_and_values(self):
        with pytest.raises(ValueError, match=r"`grads\[1\]` must have the shape of its parameter \(3,\)"):
            SGD().step([np.zeros(2), np.zeros(3)], [np.zeros(2), np.zeros(4)])
        with pytest.raises(ValueError, match=r"`grads\['b'\]` must contain only finite values"):
            Adam().step({"b": np.zeros(2)}, {"b": np.array([0.0, np.inf])})

    def test_parameters_must_keep_their_shapes(self):
        opt = Adam()
        opt.step([np.zeros(2)], [np.ones(2)])
        with pytest.raises(ValueError, match=r"`params` must have the structure and shapes of the first step"):
            opt.step([np.zeros(3)], [np.ones(3)])
        # a failed step changes nothing
        assert opt.iterations == 1


@pytest.mark.tf
class TestAgainstKeras:
    # Hyperparameters are powers of two or sums of a few (exact in float32),
    # because Keras casts them through float32 even for float64 variables
    # (0.999 becomes 0.99900001, a 1e-5 change of 1 - beta_2).
    CASES = [
        ("SGD", {"learning_rate": 0.125}),
        ("SGD", {"learning_rate": 0.125, "momentum": 0.875}),
        ("SGD", {"learning_rate": 0.125, "momentum": 0.5, "nesterov": True}),
        ("RMSprop", {"learning_rate": 0.0625}),
        ("RMSprop", {"learning_rate": 0.0625, "rho": 0.5, "epsilon": 2.0**-10}),
        ("RMSprop", {"learning_rate": 0.0625, "momentum": 0.5}),
        ("RMSprop", {"learning_rate": 0.0625, "momentum": 0.25, "centered": True}),
        ("Adam", {"learning_rate": 0.0625, "beta_1": 0.875, "beta_2": 0.9921875}),
        ("Adam", {"learning_rate": 0.0625, "beta_1": 0.5, "beta_2": 0.75, "epsilon": 2.0**-7}),
        ("Adam", {"learning_rate": 0.0625, "beta_1": 0.875, "beta_2": 0.9921875, "amsgrad": True}),
    ]

    @pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam"])
    def test_defaults_in_float32(self, keras, name):
        # Keras's default hyperparameters (0.9, 0.999, 1e-7, ...) in float32
        ours = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam}[name]()
        theirs = getattr(keras.optimizers, name)()
        self.compare(keras, ours, theirs, np.float32, rtol=1e-5)

    @staticmethod
    def compare(keras, ours, theirs, dtype, rtol):
        weights, targets = problem(10, dtype=dtype)
        variables = [keras.Variable(w, dtype=np.dtype(dtype).name) for w in weights]
        for _ in range(STEPS):
            weights = ours.step(weights, gradients(weights, targets))
            current = [np.asarray(v) for v in variables]
            theirs.apply_gradients(zip(gradients(current, targets), variables))
        assert ours.iterations == int(theirs.iterations) == STEPS
        for w, v in zip(weights, variables):
            assert w.dtype == dtype
            np.testing.assert_allclose(w, np.asarray(v), rtol=rtol, atol=rtol * 1e-2)

    @pytest.mark.parametrize(("name", "config"), CASES, ids=[f"{n}-{c}" for n, c in CASES])
    @pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-12), (np.float32, 1e-5)])
    def test_five_steps(self, keras, name, config, dtype, rtol):
        ours = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam}[name](**config)
        theirs = getattr(keras.optimizers, name)(**config)
        self.compare(keras, ours, theirs, dtype, rtol)
