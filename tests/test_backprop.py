"""Tests for seglearn.backprop: hand-worked gradients, gradient checks, TF tapes.

Tolerances:
- gradient checks run in float64 and assert a maximum relative error below
  ``GRAD_CHECK_BOUND = 1e-6``: convolution and pooling are (piecewise) linear,
  so centred differences are exact up to rounding (about 1e-10 here);
- comparisons with ``tf.GradientTape`` run the Keras layers in float64 too,
  so they differ only by summation order: ``rtol=1e-10``;
- the adjoint identities ``<f(x), g> = <x, dx>`` are exact up to rounding in
  float64: ``rel=1e-10``.
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seglearn import ops
from seglearn.backprop import (
    avg_pool2d_backward,
    conv2d_backward,
    gradient_check,
    max_pool2d_backward,
    numerical_gradient,
    softmax_cross_entropy_backward,
)
from seglearn.losses import sparse_categorical_crossentropy

GRAD_CHECK_BOUND = 1e-6
TF_RTOL = 1e-10
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


def conv_problem(seed, x_shape=(2, 5, 6, 2), kernel_size=(3, 3), c_out=3, **conv_args):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape)
    kernel = rng.normal(size=(*kernel_size, x_shape[-1], c_out))
    g = rng.normal(size=ops.conv2d(x, kernel, **conv_args).shape)
    return x, kernel, g


def pool_problem(seed, pool, x_shape=(2, 5, 6, 2), **pool_args):
    """Random input (no ties, so every window has one winner) and output gradient."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape)
    g = rng.normal(size=pool(x, **pool_args).shape)
    return x, g


CONV_CASES = [
    {"strides": 1, "padding": "valid"},
    {"strides": 1, "padding": "same"},
    {"strides": 2, "padding": "valid"},
    {"strides": 2, "padding": "same"},
    {"strides": (2, 1), "padding": "same", "kernel_size": (2, 3)},
    {"strides": 1, "padding": "same", "dilation_rate": 2},
    {"strides": 1, "padding": "valid", "dilation_rate": (2, 1), "kernel_size": (2, 2)},
    {"strides": 3, "padding": "same", "kernel_size": (1, 1)},
]
POOL_CASES = [
    {"pool_size": 2},
    {"pool_size": 2, "padding": "same"},
    {"pool_size": 3, "strides": 1},
    {"pool_size": 3, "strides": 2, "padding": "same"},
    {"pool_size": (2, 3), "strides": (1, 2), "padding": "same"},
]


def split(case):
    case = dict(case)
    kernel_size = case.pop("kernel_size", (3, 3))
    return kernel_size, case


# --------------------------------------------------------------------------- hand-worked
class TestHandWorked:
    def test_conv_single_window(self):
        # one 2x2 window, one channel: y = sum_{u,v} x[u,v] k[u,v] + b, g = 2
        #   dL/dk[u,v] = 2 x[u,v]   dL/dx[u,v] = 2 k[u,v]   dL/db = 2
        x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
        k = np.array([[0.5, -1.0], [2.0, 0.0]]).reshape(2, 2, 1, 1)
        dx, dk, db = conv2d_backward(x, k, np.full((1, 1, 1, 1), 2.0))
        np.testing.assert_array_equal(dx[0, :, :, 0], [[1.0, -2.0], [4.0, 0.0]])
        np.testing.assert_array_equal(dk[:, :, 0, 0], [[2.0, 4.0], [6.0, 8.0]])
        np.testing.assert_array_equal(db, [2.0])

    def test_conv_same_padding_drops_the_border(self):
        # 1x1 input, 3x3 kernel, "same": the input sits under the centre tap only,
        # so dx = g * k[1, 1] = 3 * 5 = 15 and only dk[1, 1] = g * x = 3 * 2 = 6
        k = np.zeros((3, 3, 1, 1))
        k[1, 1] = 5.0
        dx, dk, _ = conv2d_backward(np.full((1, 1, 1, 1), 2.0), k, np.full((1, 1, 1, 1), 3.0), padding="same")
        assert dx.shape == (1, 1, 1, 1) and dx.item() == 15.0
        expected = np.zeros((3, 3))
        expected[1, 1] = 6.0
        np.testing.assert_array_equal(dk[:, :, 0, 0], expected)

    def test_max_pool_overlapping_windows_add_up(self):
        # 1x3 row [1, 3, 2], pool (1, 2), stride 1: windows [1, 3] and [3, 2] are both
        # won by the 3, which receives g0 + g1 = 10 + 20 = 30
        x = np.array([1.0, 3.0, 2.0]).reshape(1, 1, 3, 1)
        dx = max_pool2d_backward(x, np.array([10.0, 20.0]).reshape(1, 1, 2, 1), pool_size=(1, 2), strides=1)
        np.testing.assert_array_equal(dx.ravel(), [0.0, 30.0, 0.0])

    def test_max_pool_tie_goes_to_the_first_in_row_major_order(self):
        # window [[7, 7], [7, 1]]: the top-left 7 takes all of g = 1
        x = np.array([[7.0, 7.0], [7.0, 1.0]]).reshape(1, 2, 2, 1)
        dx = max_pool2d_backward(x, np.ones((1, 1, 1, 1)))
        np.testing.assert_array_equal(dx[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])

    def test_avg_pool_same_counts_only_real_pixels(self):
        # 3x3 input, 2x2 pool, "same": windows hold 4, 2, 2 and 1 real pixels,
        # so with g = 1 everywhere each pixel gets 1/4 from its first window plus
        #   (0,0): 1/4        (0,2): 1/2            (2,2): 1
        #   (1,1): 1/4        (1,2): 1/2 (col 2)    (2,0): 1/2
        g = np.ones((1, 2, 2, 1))
        dx = avg_pool2d_backward(np.zeros((1, 3, 3, 1)), g, padding="same")
        np.testing.assert_allclose(
            dx[0, :, :, 0], [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]], rtol=1e-15
        )

    def test_softmax_cross_entropy_two_pixels(self):
        # pixel 0: logits (0, 0), label 1: p = (1/2, 1/2), loss log 2, grad (1/2, -1/2) / 2
        # pixel 1: logits (log 3, 0), label 0: p = (3/4, 1/4), loss log(4/3), grad (-1/4, 1/4) / 2
        loss, grad = softmax_cross_entropy_backward([1, 0], [[0.0, 0.0], [np.log(3.0), 0.0]])
        assert loss == pytest.approx((np.log(2) + np.log(4 / 3)) / 2, rel=1e-12)
        np.testing.assert_allclose(grad, [[0.25, -0.25], [-0.125, 0.125]], rtol=1e-12)


# --------------------------------------------------------------------------- numerical
class TestNumericalGradient:
    def test_quadratic(self):
        # f(x) = sum(a * x^2) has gradient 2 a x; centred differences are exact
        # for quadratics up to rounding
        a = np.array([[1.0, 2.0], [3.0, -4.0]])
        x = np.array([[0.5, -1.0], [2.0, 0.25]])
        np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(a * v**2), x), 2 * a * x, rtol=1e-8)

    def test_does_not_modify_x(self):
        x = np.array([1.0, 2.0])
        numerical_gradient(np.sum, x)
        np.testing.assert_array_equal(x, [1.0, 2.0])

    def test_gradient_check_finds_a_wrong_gradient(self):
        # the gradient of sum(conv2d(x, k) * g) with respect to x, then two wrong
        # versions: one entry off by 1e-3, and the rows upside down
        x, k, g = conv_problem(0, padding="same")
        f = lambda v: np.sum(ops.conv2d(v, k, padding="same") * g)  # noqa: E731
        right, _, _ = conv2d_backward(x, k, g, padding="same")
        assert gradient_check(f, x, right) < GRAD_CHECK_BOUND
        wrong = right.copy()
        wrong[0, 0, 0, 0] += 1e-3
        assert gradient_check(f, x, wrong) > 1e-4
        assert gradient_check(f, x, right[:, ::-1]) > 0.1

    def test_refuses_bad_arguments(self):
        with pytest.raises(TypeError, match="`f` must be a callable"):
            numerical_gradient("sum", np.zeros(2))
        with pytest.raises(ValueError, match="`f` must return a scalar"):
            numerical_gradient(lambda v: v, np.zeros(2))
        with pytest.raises(ValueError, match="`eps` must be a finite number > 0"):
            numerical_gradient(np.sum, np.zeros(2), eps=0.0)
        with pytest.raises(ValueError, match=r"`analytic_grad` must have the shape of `x`"):
            gradient_check(np.sum, np.zeros(2), np.zeros(3))
        with pytest.raises(ValueError, match="`floor` must be a finite number > 0 and <= 1"):
            gradient_check(np.sum, np.zeros(2), np.ones(2), floor=0)


class TestGradientChecks:
    @pytest.mark.parametrize("case", CONV_CASES, ids=repr)
    def test_conv2d(self, case):
        kernel_size, args = split(case)
        x, k, g = conv_problem(1, kernel_size=kernel_size, **args)
        b = np.zeros(k.shape[-1])
        dx, dk, db = conv2d_backward(x, k, g, **args)
        assert gradient_check(lambda v: np.sum(ops.conv2d(v, k, **args) * g), x, dx) < GRAD_CHECK_BOUND
        assert gradient_check(lambda v: np.sum(ops.conv2d(x, v, **args) * g), k, dk) < GRAD_CHECK_BOUND
        assert gradient_check(lambda v: np.sum(ops.conv2d(x, k, v, **args) * g), b, db) < GRAD_CHECK_BOUND

    @pytest.mark.parametrize(
        "args",
        [{"padding": 1}, {"padding": (2, 0), "strides": 2}, {"strides": 2, "dilation_rate": 2, "padding": "same"}],
        ids=repr,
    )
    def test_conv2d_beyond_keras(self, args):
        # explicit padding, and strides with dilation, which Keras's Conv2D refuses
        x, k, g = conv_problem(2, x_shape=(1, 7, 6, 2), **args)
        dx, dk, _ = conv2d_backward(x, k, g, **args)
        assert gradient_check(lambda v: np.sum(ops.conv2d(v, k, **args) * g), x, dx) < GRAD_CHECK_BOUND
        assert gradient_check(lambda v: np.sum(ops.conv2d(x, v, **args) * g), k, dk) < GRAD_CHECK_BOUND

    @pytest.mark.parametrize("case", POOL_CASES, ids=repr)
    def test_max_pool2d(self, case):
        x, g = pool_problem(3, ops.max_pool2d, **case)
        dx = max_pool2d_backward(x, g, **case)
        assert gradient_check(lambda v: np.sum(ops.max_pool2d(v, **case) * g), x, dx) < GRAD_CHECK_BOUND

    @pytest.mark.parametrize("case", POOL_CASES, ids=repr)
    def test_avg_pool2d(self, case):
        x, g = pool_problem(4, ops.avg_pool2d, **case)
        dx = avg_pool2d_backward(x, g, **case)
        assert gradient_check(lambda v: np.sum(ops.avg_pool2d(v, **case) * g), x, dx) < GRAD_CHECK_BOUND

    def test_softmax_cross_entropy(self):
        rng = np.random.default_rng(5)
        labels = rng.integers(0, 4, size=(2, 3, 3))
        logits = rng.normal(scale=2.0, size=(2, 3, 3, 4))
        loss, grad = softmax_cross_entropy_backward(labels, logits)
        f = lambda z: sparse_categorical_crossentropy(labels, z, from_logits=True)  # noqa: E731
        assert loss == f(logits)
        # the loss is curved, so its finite differences carry a truncation error
        # ~eps^2 as well as rounding ~1e-16/eps; eps = 1e-5 balances the two
        assert gradient_check(f, logits, grad, eps=1e-5) < GRAD_CHECK_BOUND


class TestProperties:
    @SETTINGS
    @given(
        seed=st.integers(0, 2**16),
        size=st.integers(3, 7),
        k=st.integers(1, 3),
        stride=st.integers(1, 3),
        dilation=st.integers(1, 2),
        padding=st.sampled_from(["valid", "same", 1]),
    )
    def test_conv2d_adjoint_identities(self, seed, size, k, stride, dilation, padding):
        # y = conv(x, K) is linear in x and in K, so for any g:
        #   <y, g> = <x, dL/dx> = <K, dL/dK>,  and dL/db = sum of g
        args = {"strides": stride, "padding": padding, "dilation_rate": dilation}
        x, kernel, g = conv_problem(seed, x_shape=(2, size, size + 1, 2), kernel_size=(k, k), **args)
        dx, dk, db = conv2d_backward(x, kernel, g, **args)
        inner = np.sum(ops.conv2d(x, kernel, **args) * g)
        assert np.sum(x * dx) == pytest.approx(inner, rel=1e-10, abs=1e-10)
        assert np.sum(kernel * dk) == pytest.approx(inner, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(db, g.sum(axis=(0, 1, 2)), rtol=1e-12)
        assert dx.shape == x.shape and dk.shape == kernel.shape

    @SETTINGS
    @given(
        seed=st.integers(0, 2**16),
        size=st.integers(2, 7),
        pool=st.integers(1, 3),
        stride=st.integers(1, 3),
        padding=st.sampled_from(["valid", "same"]),
    )
    def test_pooling_adjoint_identities(self, seed, size, pool, stride, padding):
        # average pooling is linear and max pooling piecewise linear (each output
        # is one input), so <pool(x), g> = <x, dL/dx> for both
        args = {"pool_size": min(pool, size), "strides": stride, "padding": padding}
        for forward, backward in [(ops.max_pool2d, max_pool2d_backward), (ops.avg_pool2d, avg_pool2d_backward)]:
            x, g = pool_problem(seed, forward, x_shape=(1, size, size + 1, 2), **args)
            dx = backward(x, g, **args)
            assert np.sum(x * dx) == pytest.approx(np.sum(forward(x, **args) * g), rel=1e-10, abs=1e-10)

    @SETTINGS
    @given(seed=st.integers(0, 2**16), c=st.integers(2, 6))
    def test_softmax_cross_entropy_gradient_rows_sum_to_zero(self, seed, c):
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, c, size=(2, 4))
        _, grad = softmax_cross_entropy_backward(labels, rng.normal(size=(2, 4, c)))
        np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-15)
        # the true class is the only one pushed up (negative gradient)
        assert np.all(np.take_along_axis(grad, labels[..., None], -1) < 0)
        assert np.sum(grad < 0) == labels.size


class TestErrors:
    def test_grad_output_shape(self):
        x, k, g = conv_problem(6)
        expected = r"`grad_output` must have the shape of the output of conv2d .*\(2, 3, 4, 3\)"
        with pytest.raises(ValueError, match=expected):
            conv2d_backward(x, k, g[:, :2])
        with pytest.raises(ValueError, match=r"`grad_output` must have the shape of the output of max_pool2d"):
            max_pool2d_backward(x, np.zeros((2, 3, 3, 2)))
        with pytest.raises(ValueError, match=r"`grad_output` must have 4 dimensions"):
            avg_pool2d_backward(x, np.zeros((2, 3)))

    def test_forward_arguments_are_checked_as_in_ops(self):
        x, k, g = conv_problem(7)
        with pytest.raises(ValueError, match="`strides` must be a positive integer"):
            conv2d_backward(x, k, g, strides=0)
        with pytest.raises(ValueError, match="`padding` must be 'valid', 'same'"):
            conv2d_backward(x, k, g, padding="full")
        with pytest.raises(ValueError, match="`kernel`"):
            conv2d_backward(x, k[:, :, :1], g)
        with pytest.raises(ValueError, match="`x` must have 4 dimensions"):
            max_pool2d_backward(x[0], g)

    def test_softmax_cross_entropy_checks_labels(self):
        with pytest.raises(ValueError, match=r"`y_true` must hold class ids in \[0, 2\)"):
            softmax_cross_entropy_backward([2], [[0.0, 1.0]])


# --------------------------------------------------------------------------- TensorFlow
@pytest.mark.tf
class TestAgainstTensorFlow:
    @pytest.mark.parametrize("case", CONV_CASES, ids=repr)
    def test_conv2d_layer(self, tf, keras, case):
        kernel_size, args = split(case)
        x, k, g = conv_problem(8, kernel_size=kernel_size, **args)
        b = np.random.default_rng(9).normal(size=k.shape[-1])
        layer = keras.layers.Conv2D(k.shape[-1], kernel_size, dtype="float64", **args)
        layer.build(x.shape)
        layer.set_weights([k, b])
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(layer(x_t) * g)
        tf_dx, tf_dk, tf_db = tape.gradient(loss, [x_t, layer.kernel, layer.bias])
        dx, dk, db = conv2d_backward(x, k, g, **args)
        np.testing.assert_allclose(dx, tf_dx.numpy(), rtol=TF_RTOL, atol=1e-12)
        np.testing.assert_allclose(dk, np.asarray(tf_dk), rtol=TF_RTOL, atol=1e-12)
        np.testing.assert_allclose(db, np.asarray(tf_db), rtol=TF_RTOL, atol=1e-12)

    def test_conv2d_explicit_padding(self, tf):
        # Keras's Conv2D has no explicit padding; tf.nn.conv2d does. (Strides
        # together with dilation, which ops.conv2d also allows, have no gradient
        # on TensorFlow's CPU: "Current CPU implementations do not yet support
        # dilation rates larger than 1"; TestGradientChecks covers that case.)
        args = {"strides": 2, "padding": (1, 2)}
        x, k, g = conv_problem(10, x_shape=(1, 7, 6, 2), **args)
        x_t, k_t = tf.constant(x), tf.constant(k)
        with tf.GradientTape() as tape:
            tape.watch([x_t, k_t])
            y = tf.nn.conv2d(x_t, k_t, strides=2, padding=[[0, 0], [1, 1], [2, 2], [0, 0]])
            loss = tf.reduce_sum(y * g)
        tf_dx, tf_dk = tape.gradient(loss, [x_t, k_t])
        dx, dk, _ = conv2d_backward(x, k, g, **args)
        np.testing.assert_allclose(dx, tf_dx.numpy(), rtol=TF_RTOL, atol=1e-12)
        np.testing.assert_allclose(dk, tf_dk.numpy(), rtol=TF_RTOL, atol=1e-12)

    @pytest.mark.parametrize("case", POOL_CASES, ids=repr)
    @pytest.mark.parametrize("kind", ["max", "avg"])
    def test_pooling_layers(self, tf, keras, case, kind):
        forward = ops.max_pool2d if kind == "max" else ops.avg_pool2d
        backward = max_pool2d_backward if kind == "max" else avg_pool2d_backward
        layer_class = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
        x, g = pool_problem(11, forward, **case)
        layer = layer_class(dtype="float64", **case)
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(layer(x_t) * g)
        np.testing.assert_allclose(
            backward(x, g, **case), tape.gradient(loss, x_t).numpy(), rtol=TF_RTOL, atol=1e-12
        )

    @pytest.mark.parametrize("case", POOL_CASES, ids=repr)
    def test_max_pool_ties_follow_tensorflow(self, tf, keras, case):
        # small integers: most windows hold several equal maxima. TensorFlow's
        # CPU kernel gives the gradient to the first maximum in row-major order.
        rng = np.random.default_rng(12)
        x = rng.integers(0, 3, size=(2, 6, 7, 3)).astype(np.float32)
        g = rng.integers(1, 5, size=ops.max_pool2d(x, **case).shape).astype(np.float32)
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(keras.layers.MaxPooling2D(**case)(x_t) * g)
        # sums of small integers: exact in float32
        np.testing.assert_array_equal(max_pool2d_backward(x, g, **case), tape.gradient(loss, x_t).numpy())

    @pytest.mark.parametrize("case", POOL_CASES, ids=repr)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("values", ["0..2", "-2..0", "constant"])
    def test_max_pool_ties_follow_tf_nn_max_pool2d(self, tf, case, dtype, values):
        # ties of several kinds through the op itself: small non-negative integers,
        # non-positive ones (with "same" padding a window of negatives next to the
        # border: the padding must not win), and a constant input (every window a tie)
        rng = np.random.default_rng(14)
        shape = (2, 6, 7, 3)
        x = {
            "0..2": rng.integers(0, 3, size=shape),
            "-2..0": -rng.integers(0, 3, size=shape),
            "constant": np.full(shape, -1),
        }[values].astype(dtype)
        g = rng.integers(1, 5, size=ops.max_pool2d(x, **case).shape).astype(dtype)
        pool = case["pool_size"]
        strides = case.get("strides", pool)
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            y = tf.nn.max_pool2d(x_t, ksize=pool, strides=strides, padding=case.get("padding", "valid").upper())
            loss = tf.reduce_sum(y * g)
        expected = tape.gradient(loss, x_t).numpy()
        dx = max_pool2d_backward(x, g, **case)
        # sums of small integers: exact in float32 and float64
        np.testing.assert_array_equal(dx, expected)

    def test_softmax_cross_entropy(self, tf, keras):
        rng = np.random.default_rng(13)
        labels = rng.integers(0, 5, size=(2, 4, 4))
        logits = rng.normal(scale=3.0, size=(2, 4, 4, 5))
        z = tf.constant(logits)
        with tf.GradientTape() as tape:
            tape.watch(z)
            tf_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")(labels, z)
        loss, grad = softmax_cross_entropy_backward(labels, logits)
        assert loss == pytest.approx(float(tf_loss), rel=TF_RTOL)
        np.testing.assert_allclose(grad, tape.gradient(tf_loss, z).numpy(), rtol=TF_RTOL, atol=1e-15)
