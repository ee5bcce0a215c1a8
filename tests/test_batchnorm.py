"""Tests for seglearn.batchnorm: hand-worked values, gradient checks, Keras and tf.GradientTape.

Tolerances:
- gradient checks run in float64 and assert a maximum relative error below
  ``GRAD_CHECK_BOUND = 1e-6``; batch normalisation is smooth, so centred
  differences with step 1e-6 are off by about 1e-12 (truncation) plus 1e-10
  (rounding of ``|L| 1e-16 / 1e-6``), and a wrong formula is off by 1e-1 or more;
- against Keras in float64 the code paths differ only in the order of
  operations (Keras computes ``x * inv + (beta - mean * inv)``): values of size
  up to about 10 agree to ``atol=1e-12`` (measured: 1e-15);
- in float32 each output is a few roundings of 6e-8 relative away, values of
  size up to about 10: ``rtol=atol=1e-5`` for ``y`` and ``dx``; ``dgamma`` and
  ``dbeta`` are sums of ``M`` such terms (120 or 64 here): ``atol=1e-4``
  (measured: 7e-6);
- the moving statistics follow the same formula in the same order as Keras, so
  they agree to one rounding: ``rtol=1e-6`` in float32, ``1e-12`` in float64.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seglearn.backprop import gradient_check, numerical_gradient
from seglearn.batchnorm import (
    DEFAULT_EPSILON,
    DEFAULT_MOMENTUM,
    BatchNormOutput,
    batch_norm_backward,
    batch_norm_forward,
)

GRAD_CHECK_BOUND = 1e-6
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)
SHAPES = [(8, 3), (2, 4, 5, 3), (1, 3, 3, 2)]
TOL = {
    "float64": {"y": {"rtol": 1e-10, "atol": 1e-12}, "sums": {"rtol": 1e-10, "atol": 1e-12}, "moving": 1e-12},
    "float32": {"y": {"rtol": 1e-5, "atol": 1e-5}, "sums": {"rtol": 1e-5, "atol": 1e-4}, "moving": 1e-6},
}


def problem(seed, shape, dtype=np.float64):
    """Seeded input (mean 2, spread 3, so the normalisation has work to do), scale, offset, dL/dy."""
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=2.0, scale=3.0, size=shape).astype(dtype)
    gamma = rng.normal(size=shape[-1]).astype(dtype)
    beta = rng.normal(size=shape[-1]).astype(dtype)
    g = rng.normal(size=shape).astype(dtype)
    return x, gamma, beta, g


def axes(x):
    return tuple(range(x.ndim - 1))


# --------------------------------------------------------------------------- by hand
class TestHandWorked:
    def test_forward_two_channels(self):
        # channel 0: 0, 2, 0, 2 -> mu 1, sigma^2 1; eps 3 -> sqrt(4) = 2, x_hat = -1/2, 1/2
        #   gamma 2, beta 1 -> y = 0, 2, 0, 2
        # channel 1: 1, 1, 5, 5 -> mu 3, sigma^2 4 (biased: (4+4+4+4)/4); sqrt(4+3) = sqrt 7
        #   gamma 1, beta 0 -> y = -2/sqrt7, -2/sqrt7, 2/sqrt7, 2/sqrt7
        x = np.array([[0.0, 1.0], [2.0, 1.0], [0.0, 5.0], [2.0, 5.0]])
        out = batch_norm_forward(x, [2.0, 1.0], [1.0, 0.0], eps=3.0)
        r = 2 / np.sqrt(7)
        np.testing.assert_allclose(out.y, [[0.0, -r], [2.0, -r], [0.0, r], [2.0, r]], rtol=1e-15, atol=1e-15)
        np.testing.assert_array_equal(out.mean, [1.0, 3.0])
        np.testing.assert_array_equal(out.var, [1.0, 4.0])

    def test_variance_is_biased(self):
        # 0 and 2: biased variance (1 + 1) / 2 = 1; the unbiased one would be 2
        out = batch_norm_forward(np.array([[0.0], [2.0]]), [1.0], [0.0])
        np.testing.assert_array_equal(out.var, [1.0])

    def test_statistics_pool_batch_and_space_but_not_channels(self):
        # (N, H, W, C) = (2, 2, 2, 2): channel 0 constant 5, channel 1 holds 0..7
        x = np.zeros((2, 2, 2, 2))
        x[..., 0] = 5.0
        x[..., 1] = np.arange(8.0).reshape(2, 2, 2)
        out = batch_norm_forward(x, [1.0, 1.0], [0.5, 0.0])
        # mean of 0..7 is 3.5, biased variance (49+25+9+1)*2/8 = 21/4 = 5.25
        np.testing.assert_array_equal(out.mean, [5.0, 3.5])
        np.testing.assert_array_equal(out.var, [0.0, 5.25])
        # a constant channel normalises to x_hat = 0: y = beta (eps keeps it finite)
        np.testing.assert_array_equal(out.y[..., 0], 0.5)

    def test_moving_statistics_one_call(self):
        # momentum 0.9 from the start values 0 and 1, batch mean 1 and variance 1:
        # moving_mean = 0.9*0 + 0.1*1 = 0.1, moving_var = 0.9*1 + 0.1*1 = 1
        x = np.array([[0.0], [2.0], [0.0], [2.0]])
        out = batch_norm_forward(x, [1.0], [0.0], momentum=0.9)
        np.testing.assert_allclose(out.moving_mean, [0.1], rtol=1e-15)
        np.testing.assert_allclose(out.moving_var, [1.0], rtol=1e-15)

    @pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9, 0.99, 1.0])
    def test_what_momentum_does(self, momentum):
        # k calls on the same batch (mu = 3, sigma^2 = 4) from 0 and 1:
        # moving_mean = (1 - m^k) mu,  moving_var = m^k * 1 + (1 - m^k) sigma^2
        x = np.array([[1.0], [1.0], [5.0], [5.0]])
        moving_mean = moving_var = None
        for k in range(1, 6):
            out = batch_norm_forward(x, [1.0], [0.0], momentum=momentum,
                                     moving_mean=moving_mean, moving_var=moving_var)
            moving_mean, moving_var = out.moving_mean, out.moving_var
            kept = momentum**k
            np.testing.assert_allclose(moving_mean, [(1 - kept) * 3.0], rtol=1e-14, atol=1e-15)
            np.testing.assert_allclose(moving_var, [kept + (1 - kept) * 4.0], rtol=1e-14)

    def test_inference_uses_and_keeps_the_moving_statistics(self):
        x = np.array([[0.0], [2.0]])
        moving_mean, moving_var = np.array([1.5]), np.array([0.25])
        out = batch_norm_forward(x, [2.0], [1.0], eps=0.75, training=False,
                                 moving_mean=moving_mean, moving_var=moving_var)
        # (x - 1.5) / sqrt(0.25 + 0.75) * 2 + 1 = -2, 2
        np.testing.assert_array_equal(out.y.ravel(), [-2.0, 2.0])
        np.testing.assert_array_equal(out.mean, moving_mean)
        np.testing.assert_array_equal(out.moving_var, moving_var)
        assert out.moving_mean is not moving_mean  # a copy: the caller's array is never modified

    def test_inference_defaults_are_a_new_layer(self):
        # moving 0 and 1: y = gamma x / sqrt(1 + eps) + beta
        x = np.array([[3.0], [-1.0]])
        out = batch_norm_forward(x, [1.0], [0.0], eps=0.44, training=False)
        np.testing.assert_allclose(out.y.ravel(), [3.0 / 1.2, -1.0 / 1.2], rtol=1e-15)

    def test_backward_one_channel(self):
        # x = 0, 2: mu 1, sigma^2 1, eps 3 -> 1/sqrt(4) = 1/2, x_hat = -1/2, 1/2
        # g = 1, 0: mean(g) = 1/2, mean(g x_hat) = -1/4
        # dx = gamma/2 * (g - 1/2 - x_hat * (-1/4)) = 3/2 * (3/8, -3/8) = (9/16, -9/16)
        # dgamma = sum g x_hat = -1/2, dbeta = sum g = 1
        dx, dgamma, dbeta = batch_norm_backward(np.array([[0.0], [2.0]]), [3.0], [[1.0], [0.0]], eps=3.0)
        np.testing.assert_array_equal(dx.ravel(), [9 / 16, -9 / 16])
        np.testing.assert_array_equal(dgamma, [-0.5])
        np.testing.assert_array_equal(dbeta, [1.0])

    def test_returns_a_named_tuple(self):
        out = batch_norm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3))
        assert isinstance(out, BatchNormOutput)
        y, mean, var, moving_mean, moving_var = out
        assert y is out.y and var is out.var


# --------------------------------------------------------------------------- properties
class TestProperties:
    @pytest.mark.parametrize("shape", SHAPES, ids=str)
    def test_training_output_has_mean_beta_and_scaled_variance(self, shape):
        # mean(y) = beta; var(y) = gamma^2 sigma^2 / (sigma^2 + eps)
        x, gamma, beta, _ = problem(0, shape)
        out = batch_norm_forward(x, gamma, beta)
        np.testing.assert_allclose(out.y.mean(axis=axes(x)), beta, atol=1e-12)
        np.testing.assert_allclose(out.y.var(axis=axes(x)), gamma**2 * out.var / (out.var + DEFAULT_EPSILON),
                                   rtol=1e-12, atol=1e-14)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_dtype_kept(self, dtype):
        x, gamma, beta, g = problem(1, (2, 3, 3, 2), dtype)
        out = batch_norm_forward(x, gamma, beta)
        assert {a.dtype for a in out} == {np.dtype(dtype)}
        assert {a.dtype for a in batch_norm_backward(x, gamma, g)} == {np.dtype(dtype)}

    def test_integer_input_is_computed_in_float64(self):
        assert batch_norm_forward(np.arange(6).reshape(3, 2), [1, 1], [0, 0]).y.dtype == np.float64

    @given(seed=st.integers(0, 2**16), shift=st.floats(-5, 5), scale=st.floats(0.5, 4))
    @SETTINGS
    def test_invariant_to_shifting_and_scaling_a_channel(self, seed, shift, scale):
        # y(a x + b) = y(x) for a > 0, up to eps (here negligible: eps 1e-9)
        x, gamma, beta, _ = problem(seed, (4, 3, 3, 2))
        y = batch_norm_forward(x, gamma, beta, eps=1e-9).y
        np.testing.assert_allclose(batch_norm_forward(scale * x + shift, gamma, beta, eps=1e-9).y, y,
                                   rtol=1e-7, atol=1e-7)

    @pytest.mark.parametrize("shape", SHAPES, ids=str)
    def test_dx_has_zero_mean_and_is_orthogonal_to_x_hat_as_eps_vanishes(self, shape):
        # sum(dx) = 0 for any eps; sum(dx x_hat) = gamma/s * mean(g x_hat) * (M - sum x_hat^2)
        # with sum x_hat^2 = M sigma^2 / (sigma^2 + eps): of order eps / sigma^2 (sigma^2 = 9 here)
        x, gamma, beta, g = problem(2, shape)
        dx, _, _ = batch_norm_backward(x, gamma, g)
        np.testing.assert_allclose(dx.sum(axis=axes(x)), 0.0, atol=1e-12)
        dx, _, _ = batch_norm_backward(x, gamma, g, eps=1e-12)
        x_hat = (x - x.mean(axis=axes(x))) / np.sqrt(x.var(axis=axes(x)) + 1e-12)
        np.testing.assert_allclose((dx * x_hat).sum(axis=axes(x)), 0.0, atol=1e-10)


class TestGradientChecks:
    @pytest.mark.parametrize("shape", SHAPES, ids=str)
    @pytest.mark.parametrize("seed", [3, 4])
    @pytest.mark.parametrize("eps", [DEFAULT_EPSILON, 0.5])
    def test_against_centred_differences(self, shape, seed, eps):
        x, gamma, beta, g = problem(seed, shape)
        dx, dgamma, dbeta = batch_norm_backward(x, gamma, g, eps=eps)

        def loss(x_=x, gamma_=gamma, beta_=beta):
            return np.sum(batch_norm_forward(x_, gamma_, beta_, eps=eps).y * g)

        assert gradient_check(lambda v: loss(x_=v), x, dx) < GRAD_CHECK_BOUND
        assert gradient_check(lambda v: loss(gamma_=v), gamma, dgamma) < GRAD_CHECK_BOUND
        assert gradient_check(lambda v: loss(beta_=v), beta, dbeta) < GRAD_CHECK_BOUND

    def test_numerical_gradient_of_a_nonlinear_loss(self):
        # L = sum(y^2 * w): dL/dy = 2 y w, passed as grad_output
        x, gamma, beta, w = problem(5, (3, 2, 2, 2))
        y = batch_norm_forward(x, gamma, beta).y
        dx, _, _ = batch_norm_backward(x, gamma, 2 * y * w)
        numeric = numerical_gradient(lambda v: np.sum(batch_norm_forward(v, gamma, beta).y ** 2 * w), x)
        np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)

    def test_the_check_rejects_plausible_wrong_gradients(self):
        # what an exercise's check must reject: treating mu and sigma^2 as constants
        # (the inference-mode gradient), or forgetting the variance term
        x, gamma, beta, g = problem(6, (4, 3, 3, 2))
        inv_std = 1 / np.sqrt(x.var(axis=(0, 1, 2)) + DEFAULT_EPSILON)
        x_hat = (x - x.mean(axis=(0, 1, 2))) * inv_std
        wrong = {
            "mu and sigma constant": gamma * inv_std * g,
            "no variance term": gamma * inv_std * (g - g.mean(axis=(0, 1, 2))),
            "no mean term": gamma * inv_std * (g - x_hat * (g * x_hat).mean(axis=(0, 1, 2))),
        }

        def loss(v):
            return np.sum(batch_norm_forward(v, gamma, beta).y * g)

        for name, dx in wrong.items():
            assert gradient_check(loss, x, dx) > 1e-2, name


# --------------------------------------------------------------------------- errors
class TestErrors:
    def test_input_rank_and_empty_batch(self):
        with pytest.raises(ValueError, match=r"`x` must have 2 or 3 or 4 or 5 dimensions .*\(N, \.\.\., C\)"):
            batch_norm_forward(np.ones(4), [1.0], [0.0])
        with pytest.raises(ValueError, match=r"`x` must not be empty"):
            batch_norm_forward(np.ones((0, 3)), np.ones(3), np.zeros(3))

    @pytest.mark.parametrize("name", ["gamma", "beta", "moving_mean", "moving_var"])
    def test_per_channel_vectors_match_the_channels(self, name):
        args = {"gamma": np.ones(3), "beta": np.zeros(3), "moving_mean": np.zeros(3), "moving_var": np.ones(3)}
        args[name] = np.ones(2)
        with pytest.raises(ValueError, match=rf"`{name}` must have size 3 along axis 0 \(C, to match x.shape\[-1\]\)"):
            batch_norm_forward(np.ones((4, 3)), **args)

    def test_options(self):
        x = np.ones((4, 3))
        with pytest.raises(ValueError, match=r"`eps` must be a finite number > 0"):
            batch_norm_forward(x, np.ones(3), np.zeros(3), eps=0.0)
        with pytest.raises(ValueError, match=r"`momentum` must be a finite number >= 0 and <= 1"):
            batch_norm_forward(x, np.ones(3), np.zeros(3), momentum=1.5)
        with pytest.raises(TypeError, match=r"`training` must be True or False"):
            batch_norm_forward(x, np.ones(3), np.zeros(3), training="yes")
        with pytest.raises(ValueError, match=r"`moving_var` must be >= 0 \(a variance\)"):
            batch_norm_forward(x, np.ones(3), np.zeros(3), moving_var=-np.ones(3))
        with pytest.raises(TypeError, match="positional arguments"):
            batch_norm_forward(x, np.ones(3), np.zeros(3), 1e-3)  # options are keyword-only

    def test_backward_grad_output_shape(self):
        with pytest.raises(ValueError, match=r"`grad_output` and `x` must have the same shape"):
            batch_norm_backward(np.ones((4, 3)), np.ones(3), np.ones((4, 2)))


# --------------------------------------------------------------------------- Keras
def keras_layer(keras, shape, gamma, beta, *, dtype, eps=DEFAULT_EPSILON, momentum=DEFAULT_MOMENTUM):
    layer = keras.layers.BatchNormalization(epsilon=eps, momentum=momentum, dtype=dtype)
    layer.build(shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    return layer


@pytest.mark.tf
class TestAgainstKeras:
    def test_defaults_are_keras_defaults(self, keras):
        layer = keras.layers.BatchNormalization()
        assert (layer.epsilon, layer.momentum) == (DEFAULT_EPSILON, DEFAULT_MOMENTUM)

    @pytest.mark.parametrize("dtype", ["float32", "float64"])
    @pytest.mark.parametrize("shape", [(8, 3), (4, 5, 6, 3)], ids=str)
    @pytest.mark.parametrize("momentum", [DEFAULT_MOMENTUM, 0.5])
    def test_training_and_inference_after_one_and_several_calls(self, keras, dtype, shape, momentum):
        tol = TOL[dtype]
        x, gamma, beta, _ = problem(7, shape, dtype)
        layer = keras_layer(keras, shape, gamma, beta, dtype=dtype, momentum=momentum)
        rng = np.random.default_rng(8)
        moving_mean = moving_var = None
        for call in range(4):  # a new batch each call, so the moving statistics keep changing
            batch = rng.normal(loc=2.0, scale=3.0, size=shape).astype(dtype)
            out = batch_norm_forward(batch, gamma, beta, momentum=momentum,
                                     moving_mean=moving_mean, moving_var=moving_var)
            moving_mean, moving_var = out.moving_mean, out.moving_var
            np.testing.assert_allclose(out.y, layer(batch, training=True).numpy(), **tol["y"],
                                       err_msg=f"training output, call {call + 1}")
            np.testing.assert_allclose(moving_mean, layer.moving_mean.numpy(), rtol=tol["moving"],
                                       err_msg=f"moving mean after call {call + 1}")
            np.testing.assert_allclose(moving_var, layer.moving_variance.numpy(), rtol=tol["moving"],
                                       err_msg=f"moving variance after call {call + 1}")
        out = batch_norm_forward(x, gamma, beta, training=False, moving_mean=moving_mean, moving_var=moving_var)
        np.testing.assert_allclose(out.y, layer(x, training=False).numpy(), **tol["y"])
        # inference changed nothing, in Keras or here
        np.testing.assert_allclose(out.moving_mean, layer.moving_mean.numpy(), rtol=tol["moving"])

    def test_keras_moving_variance_is_the_biased_one(self, keras):
        x, gamma, beta, _ = problem(9, (5, 2))  # M = 5: biased and unbiased differ by 5/4
        layer = keras_layer(keras, x.shape, gamma, beta, dtype="float64", momentum=0.0)
        layer(x, training=True)
        np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=0, ddof=0), rtol=1e-12)
        assert not np.allclose(layer.moving_variance.numpy(), x.var(axis=0, ddof=1), rtol=1e-3)

    def test_frozen_layer_normalises_with_moving_statistics(self, keras):
        # the Notes of batch_norm_forward: trainable=False makes training=True act as inference
        x, gamma, beta, _ = problem(10, (4, 3, 3, 2))
        layer = keras_layer(keras, x.shape, gamma, beta, dtype="float64")
        layer.moving_mean.assign([0.5, -1.0])
        layer.moving_variance.assign([2.0, 0.5])
        layer.trainable = False
        out = batch_norm_forward(x, gamma, beta, training=False, moving_mean=[0.5, -1.0], moving_var=[2.0, 0.5])
        np.testing.assert_allclose(out.y, layer(x, training=True).numpy(), **TOL["float64"]["y"])
        np.testing.assert_array_equal(layer.moving_mean.numpy(), [0.5, -1.0])

    @pytest.mark.parametrize("dtype", ["float32", "float64"])
    @pytest.mark.parametrize("shape", [(8, 3), (4, 5, 6, 3), (1, 4, 4, 2)], ids=str)
    def test_backward_equals_gradient_tape(self, tf, keras, dtype, shape):
        tol = TOL[dtype]
        x, gamma, beta, g = problem(11, shape, dtype)
        layer = keras_layer(keras, shape, gamma, beta, dtype=dtype)
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(layer(x_t, training=True) * g)
        tf_dx, tf_dgamma, tf_dbeta = tape.gradient(loss, [x_t, layer.gamma, layer.beta])
        dx, dgamma, dbeta = batch_norm_backward(x, gamma, g)
        np.testing.assert_allclose(dx, tf_dx.numpy(), **tol["y"])
        np.testing.assert_allclose(dgamma, np.asarray(tf_dgamma), **tol["sums"])
        np.testing.assert_allclose(dbeta, np.asarray(tf_dbeta), **tol["sums"])

    def test_the_course_unets_fused_layer(self, tf):
        # seglearn.models.FusedBatchNormalization (in every models.unet block) trains with
        # TensorFlow's fused kernel: same outputs, moving statistics and gradients (float32)
        from seglearn.models import BN_MOMENTUM, FusedBatchNormalization

        tol = TOL["float32"]
        x, gamma, beta, g = problem(12, (4, 5, 6, 3), np.float32)
        layer = FusedBatchNormalization(momentum=BN_MOMENTUM)
        layer.build(x.shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            y = layer(x_t, training=True)
            loss = tf.reduce_sum(y * g)
        tf_dx, tf_dgamma, tf_dbeta = tape.gradient(loss, [x_t, layer.gamma, layer.beta])
        out = batch_norm_forward(x, gamma, beta, momentum=BN_MOMENTUM)
        np.testing.assert_allclose(out.y, y.numpy(), **tol["y"])
        # the fused kernel's variance is rescaled from unbiased to biased: a few roundings more
        np.testing.assert_allclose(out.moving_mean, layer.moving_mean.numpy(), rtol=tol["moving"])
        np.testing.assert_allclose(out.moving_var, layer.moving_variance.numpy(), rtol=1e-5)
        dx, dgamma, dbeta = batch_norm_backward(x, gamma, g)
        np.testing.assert_allclose(dx, tf_dx.numpy(), **tol["y"])
        np.testing.assert_allclose(dgamma, np.asarray(tf_dgamma), **tol["sums"])
        np.testing.assert_allclose(dbeta, np.asarray(tf_dbeta), **tol["sums"])
