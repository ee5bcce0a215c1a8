"""seglearn.ops against TensorFlow/Keras.

Three kinds of comparison: grids over kernel size, strides, dilation, padding,
channels, batch and odd/even input sizes through the direct TF ops
(``tf.nn.conv2d``, ``tf.nn.max_pool2d``, ...); the Keras layer classes
themselves (``Conv2D``, ``Conv2DTranspose``, ``MaxPooling2D``,
``AveragePooling2D``, ``UpSampling2D``, ``ReLU``, ``Softmax``) with fixed
weights; and hypothesis over random valid configurations (derandomised, so
the examples are the same on every run).

Tolerances (float32)
--------------------
A convolution output is a sum of ``terms = kh * kw * C_in`` products. We and
TensorFlow (oneDNN) add them in different orders, and each order is off the
exact sum by about ``sqrt(terms)`` ulps of the partial sums, which for N(0, 1)
inputs are of size ``sqrt(terms)``. ``atol = 1e-6 * terms`` (about 8 ulps of
1.0 per term) plus ``rtol = 1e-5`` covers that with a wide margin, while a
wrong tap, offset or padding is off by O(1). Pooling and upsampling sum at
most 25 numbers of size ~1 (or take a max, which is exact): ``atol = 1e-6``.
float64 comparisons use ``1e-12`` in place of ``1e-6``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from seglearn import ops  # noqa: E402

pytestmark = pytest.mark.tf

HYPOTHESIS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def assert_conv_close(got, expected, terms, dtype=np.float32):
    """Compare a sum of ``terms`` products (see the module docstring)."""
    assert got.shape == expected.shape
    assert got.dtype == dtype
    unit = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=10 * unit, atol=unit * terms)


def assert_pool_close(got, expected, dtype=np.float32):
    assert got.shape == expected.shape
    assert got.dtype == dtype
    unit = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=10 * unit, atol=unit)


def tf_conv2d(x, w, strides, padding, dilation):
    """tf.nn.conv2d with our padding argument (explicit padding as TF lists)."""
    if not isinstance(padding, str):
        ph, pw = pair(padding)
        padding = [[0, 0], [ph, ph], [pw, pw], [0, 0]]
    else:
        padding = padding.upper()
    return tf.nn.conv2d(x, w, strides=pair(strides), padding=padding, dilations=pair(dilation)).numpy()


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("k", range(1, 8))
def test_conv2d_kernel_strides_dilation_padding(k, strides, dilation, padding):
    # strides > 1 with dilation > 1 is refused by Keras' Conv2D but computed by
    # tf.nn.conv2d, which is what we compare with here.
    rng = np.random.default_rng(100 * k + 10 * strides + dilation)
    span = dilation * (k - 1) + 1
    h, w = span + (k + strides) % 3, span + 1 + dilation % 2  # odd and even sizes
    x, kernel = rand(rng, 2, h, w, 3), rand(rng, k, k, 3, 4)
    got = ops.conv2d(x, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    assert_conv_close(got, tf_conv2d(x, kernel, strides, padding, dilation), k * k * 3)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("size", [(8, 8), (9, 7), (16, 13)])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 5), (8, 2)])
def test_conv2d_channels_batch_sizes(c_in, c_out, batch, size, strides, padding):
    rng = np.random.default_rng(c_in * 1000 + batch * 100 + size[0] + strides)
    x, kernel, bias = rand(rng, batch, *size, c_in), rand(rng, 3, 3, c_in, c_out), rand(rng, c_out)
    got = ops.conv2d(x, kernel, bias, strides=strides, padding=padding)
    expected = tf.nn.bias_add(tf_conv2d(x, kernel, strides, padding, 1), bias).numpy()
    assert_conv_close(got, expected, 9 * c_in)


@pytest.mark.parametrize(
    "k, strides, padding, dilation",
    [((3, 5), 1, 1, 1), (3, (2, 1), (2, 0), 1), ((2, 4), 2, (0, 3), (2, 1)), (5, 3, 2, 2), (1, 2, 1, 1)],
)
def test_conv2d_explicit_padding_and_pairs(k, strides, padding, dilation):
    rng = np.random.default_rng(7)
    x, kernel = rand(rng, 2, 9, 8, 2), rand(rng, *pair(k), 2, 3)
    got = ops.conv2d(x, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    assert_conv_close(got, tf_conv2d(x, kernel, strides, padding, dilation), kernel[..., 0].size)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k, strides, dilation", [(3, 1, 1), (4, 2, 1), (3, 1, 2), (5, 3, 2)])
def test_conv2d_float64(k, strides, dilation, padding):
    rng = np.random.default_rng(8)
    x, kernel = rand(rng, 2, 11, 10, 3, dtype=np.float64), rand(rng, k, k, 3, 2, dtype=np.float64)
    got = ops.conv2d(x, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    assert_conv_close(got, tf_conv2d(x, kernel, strides, padding, dilation), k * k * 3, np.float64)
    loop = ops.conv2d_loop(x, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    assert_conv_close(loop, tf_conv2d(x, kernel, strides, padding, dilation), k * k * 3, np.float64)


@pytest.mark.parametrize(
    "k, strides, dilation, padding",
    [
        (3, 1, 1, "valid"),
        (3, 2, 1, "same"),
        (2, 1, 1, "same"),  # even kernel: TF pads one more at the bottom/right
        (4, 3, 1, "same"),
        (5, 1, 2, "same"),
        ((3, 2), (2, 1), 1, "valid"),
        (1, 1, 1, "same"),
    ],
)
def test_conv2d_equals_keras_layer(k, strides, dilation, padding):
    rng = np.random.default_rng(9)
    x, kernel, bias = rand(rng, 2, 10, 9, 3), rand(rng, *pair(k), 3, 4), rand(rng, 4)
    layer = keras.layers.Conv2D(4, k, strides=strides, padding=padding, dilation_rate=dilation)
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    expected = keras.ops.convert_to_numpy(layer(x))
    got = ops.conv2d(x, kernel, bias, strides=strides, padding=padding, dilation_rate=dilation)
    assert_conv_close(got, expected, kernel[..., 0].size)


def test_conv2d_equals_keras_layer_float64():
    rng = np.random.default_rng(10)
    x, kernel, bias = rand(rng, 2, 9, 8, 3, dtype=np.float64), rand(rng, 3, 3, 3, 2, dtype=np.float64), rand(rng, 2, dtype=np.float64)
    layer = keras.layers.Conv2D(2, 3, padding="same", dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    got = ops.conv2d(x, kernel, bias, padding="same")
    assert_conv_close(got, keras.ops.convert_to_numpy(layer(x)), 27, np.float64)


@st.composite
def conv_configs(draw):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["valid", "same", "explicit"]))
    pads = (draw(st.integers(0, 2)), draw(st.integers(0, 2))) if mode == "explicit" else (0, 0)
    padding = pads if mode == "explicit" else mode
    span = [d * (kk - 1) + 1 for kk, d in zip(k, dilation)]
    low = [1 if mode == "same" else max(sp - 2 * p, 1) for sp, p in zip(span, pads)]
    size = (draw(st.integers(low[0], low[0] + 6)), draw(st.integers(low[1], low[1] + 6)))
    channels = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    return k, strides, dilation, padding, size, channels, batch, seed


@HYPOTHESIS
@given(conv_configs())
def test_conv2d_random_configurations(config):
    k, strides, dilation, padding, size, (c_in, c_out), batch, seed = config
    rng = np.random.default_rng(seed)
    x, kernel = rand(rng, batch, *size, c_in), rand(rng, *k, c_in, c_out)
    got = ops.conv2d(x, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    assert_conv_close(got, tf_conv2d(x, kernel, strides, padding, dilation), k[0] * k[1] * c_in)


# --------------------------------------------------------------------------
# conv2d_transpose
# --------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size", [(4, 4), (5, 3)])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("k", range(1, 6))
def test_conv2d_transpose_grid(k, strides, size, padding):
    rng = np.random.default_rng(10 * k + strides)
    x, kernel = rand(rng, 2, *size, 3), rand(rng, k, k, 4, 3)
    got = ops.conv2d_transpose(x, kernel, strides=strides, padding=padding)
    expected = keras.ops.convert_to_numpy(keras.ops.conv_transpose(x, kernel, strides, padding))
    # each output sums at most ceil(k / s)^2 * C_in products
    assert_conv_close(got, expected, k * k * 3)


@pytest.mark.parametrize(
    "k, strides, padding",
    [(3, 2, "same"), (3, 2, "valid"), (4, 2, "same"), (2, 3, "valid"), (2, 3, "same"), (5, 1, "same"), ((3, 2), (2, 1), "same")],
)
def test_conv2d_transpose_equals_keras_layer(k, strides, padding):
    rng = np.random.default_rng(11)
    x, kernel, bias = rand(rng, 2, 5, 4, 3), rand(rng, *pair(k), 6, 3), rand(rng, 6)
    layer = keras.layers.Conv2DTranspose(6, k, strides=strides, padding=padding)
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    got = ops.conv2d_transpose(x, kernel, bias, strides=strides, padding=padding)
    assert_conv_close(got, keras.ops.convert_to_numpy(layer(x)), kernel[..., 0, :].size)


@HYPOTHESIS
@given(
    k=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.sampled_from(["valid", "same"]),
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    channels=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_transpose_random_configurations(k, strides, padding, size, channels, seed):
    rng = np.random.default_rng(seed)
    x, kernel = rand(rng, 2, *size, channels[0]), rand(rng, *k, channels[1], channels[0])
    got = ops.conv2d_transpose(x, kernel, strides=strides, padding=padding)
    expected = keras.ops.convert_to_numpy(keras.ops.conv_transpose(x, kernel, strides, padding))
    assert_conv_close(got, expected, k[0] * k[1] * channels[0])


def test_conv2d_transpose_float64():
    rng = np.random.default_rng(12)
    x, kernel = rand(rng, 2, 4, 5, 3, dtype=np.float64), rand(rng, 3, 3, 2, 3, dtype=np.float64)
    got = ops.conv2d_transpose(x, kernel, strides=2, padding="same")
    expected = keras.ops.convert_to_numpy(keras.ops.conv_transpose(x, kernel, 2, "same"))
    assert_conv_close(got, expected, 27, np.float64)


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------

POOLS = [(ops.max_pool2d, tf.nn.max_pool2d), (ops.avg_pool2d, tf.nn.avg_pool2d)]


@pytest.mark.parametrize("pool_fns", POOLS, ids=["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size", [(7, 7), (8, 6), (9, 10)])
@pytest.mark.parametrize("strides", [None, 1, 2, 3])
@pytest.mark.parametrize("pool", range(1, 6))
def test_pool_grid(pool_fns, pool, strides, size, padding):
    ours, theirs = pool_fns
    rng = np.random.default_rng(10 * pool + (strides or 0))
    x = rand(rng, 2, *size, 3)
    got = ours(x, pool, strides=strides, padding=padding)
    assert_pool_close(got, theirs(x, pool, strides or pool, padding.upper()).numpy())


@pytest.mark.parametrize("pool_fns", POOLS, ids=["max", "avg"])
@pytest.mark.parametrize("batch, channels", [(1, 1), (3, 16)])
def test_pool_channels_and_batch(pool_fns, batch, channels):
    ours, theirs = pool_fns
    x = rand(np.random.default_rng(13), batch, 11, 12, channels)
    assert_pool_close(ours(x, 3, strides=2, padding="same"), theirs(x, 3, 2, "SAME").numpy())


def test_avg_pool_float64():
    x = rand(np.random.default_rng(14), 2, 7, 8, 3, dtype=np.float64)
    assert_pool_close(ops.avg_pool2d(x, 3, strides=2, padding="same"), tf.nn.avg_pool2d(x, 3, 2, "SAME").numpy(), np.float64)


@pytest.mark.parametrize("layer_cls, ours", [(keras.layers.MaxPooling2D, ops.max_pool2d), (keras.layers.AveragePooling2D, ops.avg_pool2d)], ids=["max", "avg"])
@pytest.mark.parametrize("pool, strides, padding", [(2, None, "valid"), (3, 2, "same"), (2, 1, "same"), ((3, 2), (2, 1), "same"), (3, None, "same")])
def test_pool_equals_keras_layer(layer_cls, ours, pool, strides, padding):
    x = rand(np.random.default_rng(15), 2, 9, 8, 4)
    layer = layer_cls(pool_size=pool, strides=strides, padding=padding)
    assert_pool_close(ours(x, pool, strides=strides, padding=padding), keras.ops.convert_to_numpy(layer(x)))


@HYPOTHESIS
@given(
    pool=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    strides=st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    padding=st.sampled_from(["valid", "same"]),
    extra=st.tuples(st.integers(0, 6), st.integers(0, 6)),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_pool_random_configurations(pool, strides, padding, extra, channels, seed):
    x = rand(np.random.default_rng(seed), 2, pool[0] + extra[0], pool[1] + extra[1], channels)
    for ours, theirs in POOLS:
        assert_pool_close(ours(x, pool, strides=strides, padding=padding), theirs(x, pool, strides or pool, padding.upper()).numpy())
    np.testing.assert_array_equal(ops.max_pool2d_loop(x, pool, strides=strides, padding=padding), ops.max_pool2d(x, pool, strides=strides, padding=padding))


# --------------------------------------------------------------------------
# Upsampling, activations
# --------------------------------------------------------------------------


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [1, 2, 3, (2, 3)])
@pytest.mark.parametrize("shape", [(1, 4, 4, 1), (2, 5, 3, 3)])
def test_upsample2d_equals_keras_layer(shape, size, interpolation):
    x = rand(np.random.default_rng(16), *shape)
    layer = keras.layers.UpSampling2D(size=size, interpolation=interpolation)
    # bilinear: two lerps of float32 numbers of size ~1 (see module docstring)
    assert_pool_close(ops.upsample2d(x, size, interpolation=interpolation), keras.ops.convert_to_numpy(layer(x)))


def test_relu_and_softmax_equal_keras():
    rng = np.random.default_rng(17)
    x = rand(rng, 2, 5, 4, 6) * 10
    np.testing.assert_array_equal(ops.relu(x), keras.ops.convert_to_numpy(keras.layers.ReLU()(x)))
    np.testing.assert_array_equal(ops.relu(x), keras.ops.convert_to_numpy(keras.activations.relu(x)))
    for axis in (-1, 1):
        expected = keras.ops.convert_to_numpy(keras.layers.Softmax(axis=axis)(x))
        # probabilities <= 1 from exp and one division: a few float32 ulps
        np.testing.assert_allclose(ops.softmax(x, axis=axis), expected, rtol=1e-6, atol=1e-7)
    big = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    np.testing.assert_allclose(ops.softmax(big), keras.ops.convert_to_numpy(keras.activations.softmax(big)), atol=1e-7)
