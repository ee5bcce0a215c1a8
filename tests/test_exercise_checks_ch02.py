"""Chapter 02's checks accept the correct forms of each answer and reject the plausible wrong ones.

Six checks: three output sizes, a horizontal edge kernel, one output pixel by hand, the
convolution forward pass written as loops (compared with ``ops.conv2d`` and
``keras.layers.Conv2D``; 2 of its 4 points when only the "valid" cases are right), a hidden
check of that function on inputs the visible check leaves out (a stride larger than the
kernel, a 1 x 1 kernel, a uint8 image) and the convolution as one matrix product of
``ops.im2col``'s matrix. The chapter's cells up to the
last exercise run in a few seconds (TensorFlow's start included).
"""

from exercise_harness import check_tests

# --------------------------------------------------------------------------- convolution forward as a loop

_LOOPS = '''
{cast}
n, h, w, c_in = x.shape
k_h, k_w, _, c_out = kernel.shape
s_h, s_w = (strides, strides) if np.ndim(strides) == 0 else strides
if padding == "same":
    h_out, w_out = -(-h // s_h), -(-w // s_w)
    p_h = {p_h}
    p_w = {p_w}
    top, left = {top}, {left}
    x = np.pad(x, ((0, 0), (top, {bottom}), (left, {right}), (0, 0)))
else:
    h_out, w_out = {valid_size}
y = np.zeros((n, h_out, w_out, c_out){out_dtype})
for b in range(n):
    for i in range(h_out):
        for j in range(w_out):
            for o in range(c_out):
                total = {start}
                for c in range(c_in):
                    for u in range(k_h):
                        for v in range(k_w):
                            total += x[b, {row}, {col}, c] * kernel[{tap}]
                y[b, i, j, o] = total
return y
'''
_LOOP_PARTS = dict(cast="x, kernel, bias = np.asarray(x, float), np.asarray(kernel, float), np.asarray(bias, float)",
                   p_h="max((h_out - 1) * s_h + k_h - h, 0)", p_w="max((w_out - 1) * s_w + k_w - w, 0)",
                   out_dtype="", top="p_h // 2", left="p_w // 2", bottom="p_h - top", right="p_w - left",
                   valid_size="(h - k_h) // s_h + 1, (w - k_w) // s_w + 1", start="bias[o]",
                   row="i * s_h + u", col="j * s_w + v", tap="u, v, c, o")


def _loops(**changes):
    return _LOOPS.format(**{**_LOOP_PARTS, **changes})


_PADDING = '''
x, kernel = np.asarray(x, float), np.asarray(kernel, float)
n, h, w, c_in = x.shape
k_h, k_w, _, c_out = kernel.shape
s_h, s_w = np.broadcast_to(strides, (2,))
h_out = -(-h // s_h) if padding == "same" else (h - k_h) // s_h + 1
w_out = -(-w // s_w) if padding == "same" else (w - k_w) // s_w + 1
p_h, p_w = max((h_out - 1) * s_h + k_h - h, 0), max((w_out - 1) * s_w + k_w - w, 0)
x = np.pad(x, ((0, 0), (p_h // 2, p_h - p_h // 2), (p_w // 2, p_w - p_w // 2), (0, 0)))
'''
_WINDOW_PER_PIXEL = _PADDING + '''
y = np.empty((n, h_out, w_out, c_out))
for b in range(n):
    for i in range(h_out):
        for j in range(w_out):
            window = x[b, i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w, :]  # (k_h, k_w, C_in)
            y[b, i, j] = np.tensordot(window, kernel, axes=3) + bias
return y
'''
_TAP_BY_TAP = _PADDING + '''
y = np.zeros((n, h_out, w_out, c_out)) + bias
for u in range(k_h):
    for v in range(k_w):
        y += x[:, u:u + s_h * (h_out - 1) + 1:s_h, v:v + s_w * (w_out - 1) + 1:s_w, :] @ kernel[u, v]
return y
'''

# --------------------------------------------------------------------------- convolution as one matrix product

_MATMUL = '''
x, kernel = np.asarray(x), np.asarray(kernel)
k_h, k_w, c_in, c_out = kernel.shape
s_h, s_w = (strides, strides) if np.ndim(strides) == 0 else strides
h_out = ops.conv_output_size(x.shape[1], k_h, strides=s_h, padding=padding)
w_out = ops.conv_output_size(x.shape[2], k_w, strides=s_w, padding=padding)
cols = ops.im2col(x, (k_h, k_w), strides=strides, padding=padding)
{body}
'''
_RIGHT_MATMUL = "return (kernel.reshape(-1, c_out).T @ cols + bias[:, None]).reshape(c_out, -1, h_out, w_out).transpose(1, 2, 3, 0)"


def _matmul(body=_RIGHT_MATMUL):
    return _MATMUL.format(body=body)


RIGHT_ANSWERS = {
    "output sizes": {
        "instructor": None,
        "the numbers": "out_valid, out_dilated, out_same = 30, 56, 22",
        "math.floor and math.ceil": """
import math
out_valid = math.floor((64 - 5) / 2) + 1
out_dilated = 64 - 4 * 2
out_same = math.ceil(64 / 3)
""",
    },
    "horizontal edge kernel": {
        "instructor": None,
        "Sobel weights, as a list": "horizontal_edge = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]",
        "the difference of the last two rows": "horizontal_edge = np.array([[0, 0, 0], [-1, -1, -1], [1, 1, 1]]) / 3",
    },
    "one output pixel": {
        "instructor": None,
        "the window's indices by hand": "pixel = float((x_ex[0, 1:4, 3:6, :] * kernel_ex[:, :, :, 0]).sum())",
        "padded with np.pad first": """
padded = np.pad(x_ex, ((0, 0), (1, 1), (1, 1), (0, 0)))
pixel = np.sum(padded[0, 2:5, 4:7] * kernel_ex[..., 0])
""",
        "a sum over taps and channels": """
pixel = sum(x_ex[0, 1 + u, 3 + v, c] * kernel_ex[u, v, c, 0] for u in range(3) for v in range(3) for c in range(2))
""",
    },
    "convolution forward as a loop": {
        "instructor": None,
        "seven loops": _loops(),
        "a window per output pixel, np.tensordot": _WINDOW_PER_PIXEL,
        "a shifted slice per kernel tap": _TAP_BY_TAP,
    },
    # The hidden check (instructor only: removed by release, restored by grade --source) runs
    # the same function on inputs the visible check leaves out.
    "convolution forward on other inputs": {
        "instructor": None,
        "seven loops": _loops(),
        "a window per output pixel, np.tensordot": _WINDOW_PER_PIXEL,
        "a shifted slice per kernel tap": _TAP_BY_TAP,
    },
    "convolution as one matrix product": {
        "instructor": None,
        "(kernel rows)^T @ cols": _matmul(),
        "cols^T @ kernel matrix, reshaped straight": _matmul(
            "return (cols.T @ kernel.reshape(-1, c_out) + bias).reshape(x.shape[0], h_out, w_out, c_out)"),
        "einsum": _matmul(
            'return np.einsum("rq,ro->qo", cols, kernel.reshape(-1, c_out)).reshape(-1, h_out, w_out, c_out) + bias'),
    },
}

WRONG_ANSWERS = {
    "output sizes": {
        "forgot the + 1": ("out_valid, out_dilated, out_same = (64 - 5) // 2, 64 - 9, 22", "out_valid = 29"),
        "dilation ignored": ("out_valid, out_dilated, out_same = 30, 64 - 3 + 1, 22", "out_dilated = 62"),
        "floor for 'same'": ("out_valid, out_dilated, out_same = 30, 56, 64 // 3", "out_same = 21"),
    },
    "horizontal edge kernel": {
        "upside down": ("horizontal_edge = np.array([[1.0, 1, 1], [0, 0, 0], [-1, -1, -1]])", "upside down"),
        "a vertical edge detector": ("horizontal_edge = np.array([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]])",
                                     "vertical edge must give 0"),
        "weights that do not sum to 0": ("horizontal_edge = np.array([[0.0, 0, 0], [0, 0, 0], [1, 1, 1]])",
                                         "sum to 0"),
        "not 3 x 3": ("horizontal_edge = np.array([-1.0, 0, 1])", "3 x 3"),
    },
    "one output pixel": {
        "the window without the padding offset": ("pixel = np.sum(x_ex[0, 2:5, 4:7, :] * kernel_ex[:, :, :, 0])",
                                                  r"window at \(2, 4\)"),
        "the kernel flipped": ("pixel = np.sum(x_ex[0, 1:4, 3:6, :] * kernel_ex[::-1, ::-1, :, 0])", "expected"),
        "one channel only": ("pixel = np.sum(x_ex[0, 1:4, 3:6, 0] * kernel_ex[:, :, 0, 0])", "expected"),
        "the whole output": ("pixel = ops.conv2d(x_ex, kernel_ex, strides=2, padding='same')", "one number"),
    },
    "convolution forward as a loop": {
        "the kernel flipped (a true convolution)": (
            _loops(tap="k_h - 1 - u, k_w - 1 - v, c, o"), "flipped"),
        "no bias": (_loops(start="0.0"), "bias is missing"),
        "symmetric 'same' padding": (_loops(bottom="top", right="left"), "symmetric padding"),
        "the odd padding row on top": (_loops(top="p_h - p_h // 2", left="p_w - p_w // 2"), "on top"),
        "output size off by one": (_loops(valid_size="(h - k_h) // s_h, (w - k_w) // s_w"), "off-by-one"),
        "kernel rows and columns transposed": (_loops(tap="v, u, c, o"), "kernel's axes may be mixed up"),
        "kernel channel axes transposed": (_loops(tap="u, v, o, c"), "kernel's axes may be mixed up"),
        "stride left out of the window's position": (_loops(row="i + u", col="j + v"), r"i\*s_h \+ u"),
        "ops.conv2d called": ("return ops.conv2d(x, kernel, bias, strides=strides, padding=padding)", "calls"),
    },
    # Each passes the visible check (P >= 0 and float inputs in all its cases) and fails the hidden one.
    "convolution forward on other inputs": {
        "'same' padding P without max(P, 0)": (
            _loops(p_h="(h_out - 1) * s_h + k_h - h", p_w="(w_out - 1) * s_w + k_w - w"),
            r"stride larger than the kernel.*raised"),
        "the output keeps the image's dtype": (
            _loops(cast="kernel, bias = np.asarray(kernel, float), np.asarray(bias, float)", out_dtype=", dtype=x.dtype"),
            r"8-bit image.*the output is uint8"),
    },
    "convolution as one matrix product": {
        "product reshaped without moving the channels": (
            _matmul("return (kernel.reshape(-1, c_out).T @ cols + bias[:, None]).reshape(-1, h_out, w_out, c_out)"),
            "one row per output channel"),
        "kernel rows in (c, u, v) order": (
            _matmul("return (kernel.transpose(2, 0, 1, 3).reshape(-1, c_out).T @ cols + bias[:, None])"
                    ".reshape(c_out, -1, h_out, w_out).transpose(1, 2, 3, 0)"), "wrong order"),
        "no bias": (_matmul("return (kernel.reshape(-1, c_out).T @ cols).reshape(c_out, -1, h_out, w_out)"
                            ".transpose(1, 2, 3, 0)"), "bias is missing"),
        "a product per output channel": (_matmul("""
return np.stack([(kernel[..., o].reshape(-1) @ cols).reshape(-1, h_out, w_out) + bias[o] for o in range(c_out)], -1)
"""), "Python loop"),
        "bias added to the wrong axis": (
            _matmul("return (kernel.reshape(-1, c_out).T @ cols + bias).reshape(c_out, -1, h_out, w_out).transpose(1, 2, 3, 0)"),
            "bias"),
        "ops.conv2d called": ("return ops.conv2d(x, kernel, bias, strides=strides, padding=padding)", "calls"),
    },
}

# The points the partial-credit check gives (what seglearn.grading.award prints last).
AWARDS = {
    **{f"convolution forward as a loop: {form}": 4 for form in RIGHT_ANSWERS["convolution forward as a loop"]},
    "convolution forward as a loop: symmetric 'same' padding": 2,
    "convolution forward as a loop: the odd padding row on top": 2,
    "convolution forward as a loop: no bias": None,  # fails on the first case: no award
}

chapter, test_check_accepts, test_check_rejects = check_tests(
    "02_convolution.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, confirmation="correct", awards=AWARDS)
