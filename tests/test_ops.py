"""seglearn.ops without TensorFlow: shapes, hand-worked values, loops, dtypes, errors.

The comparisons with TensorFlow/Keras are in ``test_ops_tf.py``.
"""


import numpy as np
import pytest

from seglearn import ops
from seglearn.ops import (
    avg_pool2d,
    conv2d,
    conv2d_loop,
    conv2d_transpose,
    conv_output_size,
    max_pool2d,
    max_pool2d_loop,
    pad2d,
    receptive_field,
    relu,
    same_padding,
    softmax,
    upsample2d,
)

# The 4x4 image 0..15 used in the hand-worked examples:
#  0  1  2  3
#  4  5  6  7
#  8  9 10 11
# 12 13 14 15
GRID = np.arange(16.0).reshape(1, 4, 4, 1)


def rand(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Output sizes and padding
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, k, s, padding, d, expected",
    [
        (64, 3, 1, "valid", 1, 62),  # 64 - 3 + 1
        (64, 3, 1, "same", 1, 64),
        (64, 3, 2, "valid", 1, 31),  # floor(61 / 2) + 1
        (64, 3, 2, "same", 1, 32),  # ceil(64 / 2)
        (65, 3, 2, "same", 1, 33),  # ceil(65 / 2)
        (64, 3, 2, 1, 1, 32),  # floor((64 + 2 - 3) / 2) + 1
        (7, 3, 1, "valid", 2, 3),  # window 2*(3-1)+1 = 5: 7 - 5 + 1
        (7, 3, 3, "valid", 3, 1),  # window 7 fits once
        (5, 5, 1, 2, 1, 5),  # p = (k - 1) / 2 keeps the size
        (1, 7, 3, "same", 3, 1),
    ],
)
def test_conv_output_size(size, k, s, padding, d, expected):
    assert conv_output_size(size, k, s, padding, d) == expected


@pytest.mark.parametrize(
    "args, expected",
    [
        ((5, 3), (1, 1)),  # out 5, P = 4 + 3 - 5 = 2
        ((4, 2), (0, 1)),  # P = 1 is odd: the extra row goes at the end (TF)
        ((6, 2, 2), (0, 0)),  # out 3, P = 2*2 + 2 - 6 = 0
        ((6, 3, 2), (0, 1)),  # P = 2*2 + 3 - 6 = 1
        ((5, 3, 1, 2), (2, 2)),  # dilated window 5: P = 4
        ((7, 4, 3), (1, 2)),  # out 3, P = 2*3 + 4 - 7 = 3
        ((3, 1, 2), (0, 0)),  # out 2, P = max(2 + 1 - 3, 0) = 0
    ],
)
def test_same_padding(args, expected):
    assert same_padding(*args) == expected


def test_same_padding_gives_ceil_output():
    for size in range(1, 12):
        for k in range(1, 6):
            for s in range(1, 4):
                before, after = same_padding(size, k, s)
                assert 0 <= after - before <= 1
                assert (size + before + after - k) // s + 1 == -(-size // s) == conv_output_size(size, k, s, "same")


def test_pad2d():
    out = pad2d(np.ones((1, 2, 3, 2)), ((1, 0), (0, 2)), value=-1.0)
    assert out.shape == (1, 3, 5, 2)
    assert np.all(out[:, 0] == -1) and np.all(out[:, :, 3:] == -1)
    assert np.all(out[:, 1:, :3] == 1)
    assert pad2d(np.ones((2, 2, 2, 1)), (1, 2)).shape == (2, 4, 6, 1)


# --------------------------------------------------------------------------
# Hand-worked values
# --------------------------------------------------------------------------


def test_conv2d_hand_worked_with_bias_and_two_filters():
    # Filter 0 sums the 2x2 window; filter 1 is "bottom-right minus top-left".
    kernel = np.zeros((2, 2, 1, 2))
    kernel[:, :, 0, 0] = 1
    kernel[1, 1, 0, 1], kernel[0, 0, 0, 1] = 1, -1
    out = conv2d(GRID, kernel, bias=[0.5, 100.0], strides=2)
    # windows (top-left corner at rows/cols 0 and 2): sums 0+1+4+5=10, 2+3+6+7=18,
    # 8+9+12+13=42, 10+11+14+15=50; differences are always 5 - 0 = 5.
    np.testing.assert_array_equal(out[0, :, :, 0], [[10.5, 18.5], [42.5, 50.5]])
    np.testing.assert_array_equal(out[0, :, :, 1], [[105.0, 105.0], [105.0, 105.0]])


def test_conv2d_same_padding_is_asymmetric_like_tensorflow():
    # k = 2, s = 1 on 4 rows: P = 1 padded row, which TF puts at the bottom.
    out = conv2d(GRID, np.ones((2, 2, 1, 1)), padding="same")
    assert out.shape == (1, 4, 4, 1)
    assert out[0, 0, 0, 0] == 0 + 1 + 4 + 5  # no padding on top/left
    assert out[0, 3, 3, 0] == 15  # only x[3, 3]: padding bottom/right
    assert out[0, 3, 0, 0] == 12 + 13


def test_conv2d_dilation_and_strides_together():
    x = np.arange(49.0).reshape(1, 7, 7, 1)  # x[r, c] = 7 r + c
    out = conv2d(x, np.ones((2, 2, 1, 1)), strides=2, dilation_rate=2)
    # taps at (2i, 2j), (2i, 2j+2), (2i+2, 2j), (2i+2, 2j+2); size floor((7-3)/2)+1 = 3
    assert out.shape == (1, 3, 3, 1)
    assert out[0, 1, 1, 0] == 16 + 18 + 30 + 32
    assert out[0, 0, 2, 0] == 4 + 6 + 18 + 20


def test_conv2d_explicit_padding():
    out = conv2d(GRID, np.ones((3, 3, 1, 1)), padding=(1, 0))
    # one zero row above and below, no columns: 4 rows, 2 columns
    assert out.shape == (1, 4, 2, 1)
    assert out[0, 0, 0, 0] == 0 + 1 + 2 + 4 + 5 + 6


def test_pooling_hand_worked():
    x = np.array([[1, 2, 0, 1], [3, 4, 1, 0], [0, 0, 5, 6], [1, 0, 7, 8]], float).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(max_pool2d(x)[0, :, :, 0], [[4, 1], [1, 8]])
    np.testing.assert_array_equal(avg_pool2d(x)[0, :, :, 0], [[2.5, 0.5], [0.25, 6.5]])
    np.testing.assert_array_equal(max_pool2d(x, 3, strides=1)[0, :, :, 0], [[5, 6], [7, 8]])


def test_avg_pool_same_divides_by_real_entries():
    x = np.arange(9.0).reshape(1, 3, 3, 1)  # 0..8
    # pool 2 stride 2 "same": P = 1 row/column, at the bottom/right.
    # windows: {0,1,3,4} -> 2, {2,5} -> 3.5, {6,7} -> 6.5, {8} -> 8 (not 8/4)
    np.testing.assert_array_equal(avg_pool2d(x, padding="same")[0, :, :, 0], [[2, 3.5], [6.5, 8]])


def test_max_pool_same_padding_never_wins():
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # all negative
    out = max_pool2d(x, padding="same")
    np.testing.assert_array_equal(out[0, :, :, 0], [[-1, -3], [-7, -9]])


def test_conv2d_transpose_hand_worked():
    x = np.array([1.0, 2.0]).reshape(1, 1, 2, 1)
    k = np.array([1.0, 10.0, 100.0]).reshape(1, 3, 1, 1)
    # stride 2: 1 * [1, 10, 100] at 0, 2 * [1, 10, 100] at 2; overlap at index 2
    full = [1, 10, 100 + 2, 20, 200]
    np.testing.assert_array_equal(conv2d_transpose(x, k, strides=2)[0, 0, :, 0], full)
    # "same": H s = 4 entries, crop floor((3 - 2) / 2) = 0 at the start
    np.testing.assert_array_equal(conv2d_transpose(x, k, strides=2, padding="same")[0, 0, :, 0], full[:4])
    # k < s ("valid"): each pixel's copy then zeros up to H s = 6
    np.testing.assert_array_equal(conv2d_transpose(x, k[:, :1], strides=3)[0, 0, :, 0], [1, 0, 0, 2, 0, 0])


def test_conv2d_transpose_channels_and_bias():
    rng = np.random.default_rng(0)
    x, k = rand(rng, 2, 3, 4, 5), rand(rng, 2, 3, 6, 5)
    out = conv2d_transpose(x, k, bias=np.arange(6.0), strides=(2, 1), padding="same")
    assert out.shape == (2, 6, 4, 6)
    # A transposed convolution is the gradient (adjoint) of conv2d: <conv(y), x> = <y, conv_t(x)>
    y = rand(rng, 2, 6, 4, 6)
    lhs = np.sum(conv2d(y, k, strides=(2, 1), padding="same") * x)
    rhs = np.sum(y * conv2d_transpose(x, k, strides=(2, 1), padding="same"))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_upsample_hand_worked():
    x = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
    # bilinear: samples at (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]
    np.testing.assert_allclose(upsample2d(x, (1, 2), interpolation="bilinear")[0, 0, :, 0], [0, 0.25, 0.75, 1])
    np.testing.assert_array_equal(upsample2d(x, (2, 3))[0, :, :, 0], [[0, 0, 0, 1, 1, 1]] * 2)
    assert upsample2d(np.ones((2, 3, 4, 5)), 3, interpolation="BILINEAR").shape == (2, 9, 12, 5)


def test_relu_and_softmax():
    np.testing.assert_array_equal(relu([[-1.5, 0.0, 2.0]]), [[0, 0, 2]])
    p = softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.25, 0.75]], rtol=1e-15)
    rng = np.random.default_rng(1)
    z = rand(rng, 2, 3, 4, 5) * 50
    for axis in range(-4, 4):
        p = softmax(z, axis=axis)
        np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
        np.testing.assert_allclose(p, softmax(z + 7.0, axis=axis), rtol=1e-12)  # shift-invariant
    assert np.all(np.isfinite(softmax(np.array([-1e300, 1e300]))))


# --------------------------------------------------------------------------
# Loops equal the vectorised versions
# --------------------------------------------------------------------------

LOOP_CASES = [
    # (kernel, strides, dilation, padding)
    (1, 1, 1, "valid"),
    (2, 1, 1, "same"),
    (3, 1, 1, "valid"),
    (3, 2, 1, "same"),
    (3, (1, 2), 1, 1),
    ((2, 3), 1, 2, "same"),
    (3, 2, 2, "valid"),
    (2, 3, (2, 1), (2, 1)),
    (4, 3, 1, "same"),
]


@pytest.mark.parametrize("k, s, d, padding", LOOP_CASES)
def test_conv2d_loop_equals_conv2d(k, s, d, padding):
    rng = np.random.default_rng(2)
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = rand(rng, 2, 7, 6, 2), rand(rng, kh, kw, 2, 3), rand(rng, 3)
    expected = conv2d(x, w, b, strides=s, padding=padding, dilation_rate=d)
    got = conv2d_loop(x, w, b, strides=s, padding=padding, dilation_rate=d)
    assert got.shape == expected.shape
    # float64; the two sum the kh*kw*C_in products in different orders: a few ulps
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool, s, padding", [(2, None, "valid"), (3, 1, "same"), ((2, 3), 2, "same"), (3, (2, 1), "valid")])
def test_max_pool2d_loop_equals_max_pool2d(pool, s, padding):
    x = rand(np.random.default_rng(3), 2, 7, 6, 3, dtype=np.float32)
    expected = max_pool2d(x, pool, strides=s, padding=padding)
    np.testing.assert_array_equal(max_pool2d_loop(x, pool, strides=s, padding=padding), expected)  # max is exact


@pytest.mark.parametrize("chunk_bytes", [1, 2000, 1 << 30])
def test_pooling_chunks_do_not_change_the_result(monkeypatch, chunk_bytes):
    # 1 byte: one image per chunk; 2000: a ragged last chunk; 2**30: one chunk.
    x = rand(np.random.default_rng(22), 7, 6, 5, 4)
    monkeypatch.setattr(ops, "_POOL_CHUNK_BYTES", chunk_bytes)
    for pool, s, padding in [(2, None, "valid"), (3, 2, "same"), ((1, 3), 1, "same")]:
        np.testing.assert_array_equal(max_pool2d(x, pool, strides=s, padding=padding), max_pool2d_loop(x, pool, strides=s, padding=padding))
    # every 2x2 window of the 6x5 image except the last column: mean of 4 numbers
    expected = (x[:, 0::2, 0:4:2] + x[:, 1::2, 0:4:2] + x[:, 0::2, 1:4:2] + x[:, 1::2, 1:4:2]) / 4
    np.testing.assert_allclose(avg_pool2d(x), expected, rtol=1e-15)


@pytest.mark.parametrize("block_bytes, min_rows", [(1, 1), (900, 1), (4000, 7)])
def test_conv2d_blocking_does_not_change_the_result(monkeypatch, block_bytes, min_rows):
    # Tiny blocks force the per-row blocking with a ragged last block.
    rng = np.random.default_rng(4)
    x, w, b = rand(rng, 3, 9, 8, 2), rand(rng, 3, 2, 2, 4), rand(rng, 4)
    expected = conv2d_loop(x, w, b, strides=(2, 1), padding="same", dilation_rate=1)
    monkeypatch.setattr(ops, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(ops, "_MIN_BLOCK_ROWS", min_rows)
    got = conv2d(x, w, b, strides=(2, 1), padding="same")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(5)
    x = rand(rng, 2, 8, 10, 6)[:, ::2, 1:, ::2]  # (2, 4, 9, 3), strided
    w = np.asfortranarray(rand(rng, 3, 3, 3, 2))
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(conv2d(x, w), conv2d_loop(x, w), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(max_pool2d(x, 2, strides=1), max_pool2d_loop(np.ascontiguousarray(x), 2, strides=1))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(6)
    x, w, b = rand(rng, 1, 5, 5, 2), rand(rng, 3, 3, 2, 2), rand(rng, 2)
    copies = [x.copy(), w.copy(), b.copy()]
    conv2d(x, w, b, padding="same")
    conv2d_transpose(x, w, b, strides=2)
    avg_pool2d(x, padding="same")
    softmax(x)
    for original, copy in zip((x, w, b), copies):
        np.testing.assert_array_equal(original, copy)


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

OPS_1 = {
    "conv2d": lambda x: conv2d(x, np.ones((3, 3, 2, 4), x.dtype), padding="same"),
    "conv2d_loop": lambda x: conv2d_loop(x, np.ones((2, 2, 2, 1), x.dtype)),
    "conv2d_transpose": lambda x: conv2d_transpose(x, np.ones((3, 3, 4, 2), x.dtype), strides=2),
    "max_pool2d": lambda x: max_pool2d(x, padding="same"),
    "max_pool2d_loop": lambda x: max_pool2d_loop(x),
    "avg_pool2d": lambda x: avg_pool2d(x, 3, strides=1, padding="same"),
    "upsample2d": lambda x: upsample2d(x, 2, interpolation="bilinear"),
    "upsample2d_nearest": lambda x: upsample2d(x),
    "relu": relu,
    "softmax": softmax,
    "pad2d": lambda x: pad2d(x, 1),
}


@pytest.mark.parametrize("name", sorted(OPS_1))
@pytest.mark.parametrize(
    "dtype, expected",
    [(np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float32), (np.uint8, np.float32), (np.int64, np.float64), (bool, np.float32)],
)
def test_result_dtype(name, dtype, expected):
    x = (np.arange(2 * 5 * 4 * 2) % 3).reshape(2, 5, 4, 2).astype(dtype)
    out = OPS_1[name](x)
    assert out.dtype == expected
    assert out.flags.c_contiguous


def test_mixed_dtypes_promote_to_float64():
    x = np.ones((1, 3, 3, 1), np.float32)
    assert conv2d(x, np.ones((2, 2, 1, 1), np.float32)).dtype == np.float32
    assert conv2d(x, np.ones((2, 2, 1, 1))).dtype == np.float64
    assert conv2d(x, np.ones((2, 2, 1, 1), np.float32), bias=np.zeros(1)).dtype == np.float64


# --------------------------------------------------------------------------
# Receptive field
# --------------------------------------------------------------------------


def test_receptive_field_dilated_stack():
    # 3x3 convs with dilation 1, 2, 4: receptive fields 3, 7, 15 (WaveNet/ASPP style)
    table = receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
    assert [r.size for r in table] == [(3, 3), (7, 7), (15, 15)]
    assert [r.jump for r in table] == [(1, 1)] * 3


def test_receptive_field_strided_and_dict_layers():
    table = receptive_field(
        [
            {"kernel_size": 7, "strides": 2, "name": "conv1"},  # r = 7, j = 2
            {"pool_size": 3, "strides": 2, "name": "pool1"},  # r = 7 + 2*2 = 11, j = 4
            {"kernel_size": (3, 1), "name": "conv2"},  # r = (11 + 2*4, 11), j = 4
            {"pool_size": 2},  # strides default to the pool size: r = (19 + 4, 15), j = 8
        ]
    )
    assert [r.name for r in table] == ["conv1", "pool1", "conv2", "4"]
    assert [r.size for r in table] == [(7, 7), (11, 11), (19, 11), (23, 15)]
    assert table.size == (23, 15) and table.jump == (8, 8)
    text = str(table)
    assert text.splitlines()[0].split() == ["layer", "kernel", "stride", "dilation", "jump", "receptive", "field"]
    assert text.splitlines()[4].split() == ["conv2", "3x1", "1", "1", "4", "19x11"]
    assert "<td>pool1</td>" in table._repr_html_()
    assert receptive_field([]).size == (1, 1)


# --------------------------------------------------------------------------
# Errors: argument named, value shown
# --------------------------------------------------------------------------

X = np.zeros((1, 5, 5, 3), np.float32)
K = np.zeros((3, 3, 3, 4), np.float32)


@pytest.mark.parametrize("fn", [conv2d, conv2d_loop])
@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((X[0], K), {}, ValueError, r"`x` must have 4 dimensions \(N, H, W, C\), but has 3"),
        ((X, K[0]), {}, ValueError, r"`kernel` must have 4 dimensions \(kh, kw, C_in, C_out\)"),
        ((X, K[:, :, :2]), {}, ValueError, r"`kernel` must have size 3 along axis 2 \(C_in, to match x.shape\[-1\]\), but has 2"),
        ((X, K, np.zeros(3)), {}, ValueError, r"`bias` must have size 4 along axis 0"),
        ((X, K, np.zeros((4, 1))), {}, ValueError, r"`bias` must have 1 dimensions"),
        ((X, np.zeros((6, 3, 3, 4))), {}, ValueError, r"`kernel` must not be larger than the input x \(5x5\); its window .* is 6x3"),
        ((X, K), {"dilation_rate": 3}, ValueError, r"`kernel` must not be larger than .*x \(5x5\); its window d\*\(k-1\)\+1 \(dilation_rate=3\) is 7x7"),
        ((X, K), {"dilation_rate": 4, "padding": 1}, ValueError, r"padded with padding=1 \(7x7\); its window .* is 9x9. Received: kernel=array"),
        ((X, np.zeros((0, 3, 3, 4))), {}, ValueError, r"`kernel.shape\[0\] \(kh\)` must be an integer >= 1"),
        ((X[:, :0], K), {}, ValueError, r"`x.shape\[1\] \(height\)` must be an integer >= 1. Received: x.shape\[1\] \(height\)=0"),
        ((X, K), {"strides": 0}, ValueError, r"`strides` must be a positive integer or a pair of positive integers. Received: strides=0"),
        ((X, K), {"strides": (1, -2)}, ValueError, r"Received: strides=\(1, -2\)"),
        ((X, K), {"strides": 1.5}, TypeError, r"`strides` must be a positive integer.*Received: strides=1.5"),
        ((X, K), {"strides": (1, 2, 3)}, ValueError, r"`strides`.*Received: strides=\(1, 2, 3\)"),
        ((X, K), {"dilation_rate": 0}, ValueError, r"`dilation_rate` must be a positive integer.*Received: dilation_rate=0"),
        ((X, K), {"dilation_rate": "2"}, TypeError, r"`dilation_rate`.*Received: dilation_rate='2'"),
        ((X, K), {"padding": "full"}, ValueError, r"`padding` must be 'valid', 'same', an integer >= 0 or a pair.*Received: padding='full'"),
        ((X, K), {"padding": -1}, ValueError, r"`padding`.*Received: padding=-1"),
        ((X, K), {"padding": None}, TypeError, r"`padding`.*Received: padding=None"),
        ((np.full((1, 5, 5, 3), np.nan), K), {}, ValueError, r"`x` must contain only finite values \(found 75 NaN"),
        ((X, np.full((3, 3, 3, 4), np.inf)), {}, ValueError, r"`kernel` must contain only finite values"),
        ((X.astype(str), K), {}, TypeError, r"`x` must hold real numbers"),
        (("image", K), {}, TypeError, r"`x` must be an array of numbers"),
        ((X, [[1, 2], [3]]), {}, TypeError, r"`kernel` must be an array of numbers"),
        ((X, K, np.array([1, np.nan, 0, 0])), {}, ValueError, r"`bias` must contain only finite values"),
    ],
)
def test_conv2d_errors(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("fn", [max_pool2d, max_pool2d_loop, avg_pool2d])
@pytest.mark.parametrize(
    "args, error, match",
    [
        ((X[0],), ValueError, r"`x` must have 4 dimensions \(N, H, W, C\), but has 3"),
        ((X, 6), ValueError, r"`pool_size` must not be larger than the input x \(5x5\); its window is 6x6. Received: pool_size=6"),
        ((X, (2, 6)), ValueError, r"its window is 2x6. Received: pool_size=\(2, 6\)"),
        ((X, 0), ValueError, r"`pool_size` must be a positive integer.*Received: pool_size=0"),
        ((X, 2.0), TypeError, r"`pool_size`.*Received: pool_size=2.0"),
        ((X, 2, {"strides": 0}), ValueError, r"`strides` must be a positive integer.*Received: strides=0"),
        ((X, 2, {"padding": "full"}), ValueError, r"`padding` must be 'valid' or 'same'. Received: padding='full'"),
        ((X, 2, {"padding": 1}), TypeError, r"`padding` must be 'valid' or 'same'. Received: padding=1"),
        ((np.full((1, 2, 2, 1), np.inf),), ValueError, r"`x` must contain only finite values"),
        ((np.zeros((1, 2, 2, 1), complex),), TypeError, r"`x` must hold real numbers"),
    ],
)
def test_pool_errors(fn, args, error, match):
    options = args[-1] if isinstance(args[-1], dict) else {}
    with pytest.raises(error, match=match):
        fn(*args[:len(args) - bool(options)], **options)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: conv2d_transpose(X, K), ValueError, r"`kernel` must have size 3 along axis 3 \(C_in, to match x.shape\[-1\]\), but has 4"),
        (lambda: conv2d_transpose(X, K.transpose(0, 1, 3, 2), np.zeros(3)), ValueError, r"`bias` must have size 4 along axis 0 \(C_out"),
        (lambda: conv2d_transpose(X, K.transpose(0, 1, 3, 2), padding=1), TypeError, r"`padding` must be 'valid' or 'same'"),
        (lambda: conv2d_transpose(X, K.transpose(0, 1, 3, 2), strides=(0, 1)), ValueError, r"Received: strides=\(0, 1\)"),
        (lambda: conv2d_transpose(X[..., 0], K), ValueError, r"`x` must have 4 dimensions"),
        (lambda: upsample2d(X, 0), ValueError, r"`size` must be a positive integer.*Received: size=0"),
        (lambda: upsample2d(X, 2, interpolation="bicubic"), ValueError, r"`interpolation` must be one of 'nearest', 'bilinear'. Received: interpolation='bicubic'"),
        (lambda: upsample2d(X[0]), ValueError, r"`x` must have 4 dimensions"),
        (lambda: relu("x"), TypeError, r"`x` must be an array of numbers"),
        (lambda: relu([1.0, np.nan]), ValueError, r"`x` must contain only finite values"),
        (lambda: softmax(np.zeros((2, 3)), axis=2), ValueError, r"`axis` must be an integer in \[-2, 2\) for an input with 2 dimensions. Received: axis=2"),
        (lambda: softmax(np.zeros(3), axis=0.0), TypeError, r"`axis` must be an integer.*Received: axis=0.0"),
        (lambda: softmax([np.inf, 0.0]), ValueError, r"`x` must contain only finite values"),
        (lambda: conv_output_size(5, 7), ValueError, r"`kernel_size` must not be larger than the padded input H \+ 2p \(size=5, padding='valid'\) \(5\); its window .* is 7. Received: kernel_size=7"),
        (lambda: conv_output_size(5, 3, dilation_rate=3), ValueError, r"`kernel_size` must not be larger .* its window d\*\(k-1\)\+1 \(dilation_rate=3\) is 7"),
        (lambda: conv_output_size(0, 3), ValueError, r"`size` must be an integer >= 1. Received: size=0"),
        (lambda: conv_output_size(5, 3, strides=0), ValueError, r"`strides` must be an integer >= 1. Received: strides=0"),
        (lambda: conv_output_size(5, 3, padding=(1, 1, 1)), TypeError, r"`padding` must be 'valid', 'same', an integer >= 0 or a pair"),
        (lambda: conv_output_size(5, 3, padding="half"), ValueError, r"`padding` must be 'valid', 'same'.*Received: padding='half'"),
        (lambda: same_padding(5, 0), ValueError, r"`kernel_size` must be an integer >= 1. Received: kernel_size=0"),
        (lambda: pad2d(X, -1), ValueError, r"`padding` must be an integer >= 0 or a pair of such integers. Received: padding=-1"),
        (lambda: pad2d(X, ((1,), (1, 1))), ValueError, r"`padding\[0\]`.*Received: padding\[0\]=\(1,\)"),
        (lambda: pad2d(X, 1, value=np.nan), ValueError, r"`value` must be a finite number. Received: value=nan"),
        (lambda: receptive_field(3), TypeError, r"`layers` must be a sequence .* Received: layers=3"),
        (lambda: receptive_field([(3, 1), (3,)]), TypeError, r"`layers\[1\]` must be a \(kernel_size, strides\[, dilation_rate\]\) tuple or a dict. Received: layers\[1\]=\(3,\)"),
        (lambda: receptive_field([(3, 0)]), ValueError, r"`layers\[0\]\[1\] \(strides\)` must be a positive integer.*=0"),
        (lambda: receptive_field([{"kernel_size": 3, "stride": 2}]), ValueError, r"`layers\[0\]` must be a dict with exactly one of 'kernel_size' or 'pool_size'.*'stride'"),
        (lambda: receptive_field([{"pool_size": 2, "dilation_rate": -1}]), ValueError, r"`layers\[0\]\['dilation_rate'\]`.*=-1"),
    ],
)
def test_other_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_conv2d_same_result_for_any_number_of_workers(monkeypatch, workers):
    rng = np.random.default_rng(20)
    x, w, b = rand(rng, 5, 9, 7, 3), rand(rng, 3, 3, 3, 4), rand(rng, 4)
    expected = conv2d_loop(x, w, b, padding="same")
    monkeypatch.setattr(ops, "_MAX_WORKERS", workers)
    monkeypatch.setattr(ops, "_BLOCK_BYTES", 1)  # many small blocks
    monkeypatch.setattr(ops, "_MIN_BLOCK_ROWS", 5)
    np.testing.assert_allclose(conv2d(x, w, b, padding="same"), expected, rtol=1e-12, atol=1e-12)


def test_blas_thread_limit_is_restored():
    # conv2d limits BLAS to one thread while its workers run, then restores the limit.
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        conv2d(np.ones((4, 64, 64, 8), np.float32), np.ones((3, 3, 8, 8), np.float32))
        assert blas_threads() == {2}


def test_conv2d_from_several_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(21)
    inputs = [(rand(rng, 3, 20, 20, 4, dtype=np.float32), rand(rng, 3, 3, 4, 5, dtype=np.float32)) for _ in range(6)]
    expected = [conv2d(x, w) for x, w in inputs]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda args: conv2d(*args), inputs * 3))
    for got, want in zip(results, expected * 3):
        np.testing.assert_array_equal(got, want)  # same blocks, same order of sums: identical


def test_conv2d_reads_arrays_with_stride_zero_axes_correctly():
    # x[None, :, :, None] has stride 0 on its length-1 axes; the fast path once
    # merged the (kw, C) window axes with that stride and read one pixel per row.
    grey = np.arange(16.0).reshape(4, 4)
    kernel = np.full((3, 3, 1, 1), 1 / 9)
    view = grey[None, :, :, None]
    np.testing.assert_allclose(ops.conv2d(view, kernel)[0, :, :, 0], [[5.0, 6.0], [9.0, 10.0]])
    np.testing.assert_allclose(ops.max_pool2d(view, 2)[0, :, :, 0], [[5.0, 7.0], [13.0, 15.0]])


# --------------------------------------------------------------------------
# im2col
# --------------------------------------------------------------------------


def test_im2col_hand_worked():
    cols = ops.im2col(GRID, 2, strides=2)
    # four 2x2 windows of the 0..15 grid, one per column, read row by row
    np.testing.assert_array_equal(cols, [[0, 2, 8, 10], [1, 3, 9, 11], [4, 6, 12, 14], [5, 7, 13, 15]])
    padded = ops.im2col(GRID, 3, padding=1)
    assert padded.shape == (9, 16)
    np.testing.assert_array_equal(padded[:, 0], [0, 0, 0, 0, 0, 1, 0, 4, 5])  # top-left window: zeros around 0


@pytest.mark.parametrize("k, s, d, padding", LOOP_CASES)
def test_im2col_times_the_kernel_is_conv2d(k, s, d, padding):
    rng = np.random.default_rng(3)
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w = rand(rng, 2, 7, 6, 2), rand(rng, kh, kw, 2, 3)
    expected = conv2d(x, w, strides=s, padding=padding, dilation_rate=d)
    cols = ops.im2col(x, (kh, kw), strides=s, padding=padding, dilation_rate=d)
    assert cols.shape == (kh * kw * 2, expected[..., 0].size)
    got = (w.reshape(-1, 3).T @ cols).T.reshape(expected.shape)
    # float64, the same products summed in another order: a few ulps
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_im2col_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        ops.im2col(GRID, 5)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        ops.im2col(GRID[0], 2)


def test_log_softmax_is_the_log_of_softmax_and_stays_finite():
    from seglearn.ops import log_softmax, softmax

    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)) * 10
    for axis in (-1, 1):
        np.testing.assert_allclose(log_softmax(x, axis=axis), np.log(softmax(x, axis=axis)), atol=1e-12)
    extreme = log_softmax(np.array([[0.0, -5000.0, 5000.0]]))
    assert np.all(np.isfinite(extreme)) and extreme[0, 2] == 0.0 and extreme[0, 1] == -10000.0
    with pytest.raises(ValueError, match="axis"):
        log_softmax(x, axis=4)
