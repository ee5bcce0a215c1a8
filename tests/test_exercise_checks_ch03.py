"""Chapter 03's checks accept the correct forms of each answer and reject the plausible wrong ones.

Five checks: max-pool backward (4 points, partial credit 1-2-3-4: single windows, ties,
overlapping windows, random batches against ``tf.GradientTape``), transposed convolution
by stamping (4 points, 3 for ``"valid"`` alone), max pool by reshape, transposed output
sizes and the checkerboard-free kernel. The answers of the two function exercises are
function bodies (the solution region is indented inside ``def``; the harness indents
them). For the partial-credit checks every answer also states the points it earns: the
last ``N of 4 points`` line the check printed (``seglearn.grading.award`` prints outside
a kernel), or 0 when it printed none.
"""

from exercise_harness import check_tests

# --------------------------------------------------------------------------- max-pool backward

WINDOW_LOOP = """
n, h_out, w_out, c = grad_output.shape
dx = np.zeros(x.shape)
for i in range(h_out):
    for j in range(w_out):
        rows = slice(i * strides, i * strides + pool_size)
        cols = slice(j * strides, j * strides + pool_size)
        window = x[:, rows, cols, :]
        g = grad_output[:, i:i + 1, j:j + 1, :]
        {route}
return dx
"""

VECTORISED = """
n, h, w, c = x.shape
k, s = pool_size, strides
h_out, w_out = (h - k) // s + 1, (w - k) // s + 1
rows = np.arange(h_out)[:, None] * s + np.arange(k)[None, :]  # (h_out, k)
cols = np.arange(w_out)[:, None] * s + np.arange(k)[None, :]  # (w_out, k)
windows = x[:, rows[:, :, None, None], cols[None, None, :, :], :]  # (n, h_out, k, w_out, k, c)
windows = windows.transpose(0, 1, 3, 2, 4, 5).reshape(n, h_out, w_out, k * k, c)
u, v = np.divmod(windows.argmax(axis=3), k)  # the first maximum, row-major
nn, ii, jj, cc = np.indices(u.shape)
dx = np.zeros(x.shape)
np.add.at(dx, (nn, ii * s + u, jj * s + v, cc), grad_output)
return dx
"""

SCALAR_SCAN = """
n, h_out, w_out, c = grad_output.shape
dx = np.zeros_like(x, dtype=float)
for b in range(n):
    for ch in range(c):
        for i in range(h_out):
            for j in range(w_out):
                best, where = {start}, (i * strides, j * strides)
                for u in range(pool_size):
                    for v in range(pool_size):
                        value = x[b, i * strides + u, j * strides + v, ch]
                        if value {better} best:
                            best, where = value, (i * strides + u, j * strides + v)
                dx[b, where[0], where[1], ch] += grad_output[b, i, j, ch]
return dx
"""

# the instructor's loop with one line changed: where the gradient goes, and how it is stored
INSTRUCTOR_LIKE = """
n, h_out, w_out, c = grad_output.shape
dx = np.zeros(x.shape)
for i in range(h_out):
    for j in range(w_out):
        window = x[:, i * strides:i * strides + pool_size, j * strides:j * strides + pool_size, :]
        first = {first}
        u, v = np.divmod(first, pool_size)
        {swap}
        for b in range(n):
            for ch in range(c):
                dx[b, i * strides + u[b, ch], j * strides + v[b, ch], ch] {store} grad_output[b, i, j, ch]
return dx
"""
ROW_MAJOR_FIRST = "window.reshape(n, pool_size * pool_size, c).argmax(axis=1)"


def instructor_like(first=ROW_MAJOR_FIRST, swap="", store="+="):
    return INSTRUCTOR_LIKE.format(first=first, swap=swap, store=store)


MAX_POOL_RIGHT = {
    "instructor": None,
    "np.add.at over all windows at once": VECTORISED,
    "scalar loops, a strict > scan from -inf": SCALAR_SCAN.format(start="-np.inf", better=">"),
    "a one-hot of the first maximum (put_along_axis)": WINDOW_LOOP.format(route="""
is_max = (window == window.max(axis=(1, 2), keepdims=True)).reshape(n, pool_size * pool_size, c)
one_hot = np.zeros(is_max.shape, dtype=np.float32)
np.put_along_axis(one_hot, is_max.argmax(axis=1)[:, None, :], 1.0, axis=1)
dx[:, rows, cols, :] += one_hot.reshape(window.shape) * g""".replace("\n", "\n        ")),
}

MAX_POOL_WRONG = {  # answer, what the message must name, the points it earns
    "gradient to every tied maximum": (WINDOW_LOOP.format(
        route="dx[:, rows, cols, :] += (window == window.max(axis=(1, 2), keepdims=True)) * g"),
        "every tied maximum", 1),
    "gradient split among the tied maxima": (WINDOW_LOOP.format(route="""
is_max = window == window.max(axis=(1, 2), keepdims=True)
dx[:, rows, cols, :] += is_max * g / is_max.sum(axis=(1, 2), keepdims=True)""".replace("\n", "\n        ")),
        "split among the tied maxima", 1),
    "gradient spread as in average pooling": (WINDOW_LOOP.format(
        route="dx[:, rows, cols, :] += g / pool_size**2"), "average pooling", 0),
    "last maximum instead of first": (instructor_like(
        first="pool_size * pool_size - 1 - window.reshape(n, pool_size * pool_size, c)[:, ::-1].argmax(axis=1)"),
        "last of the tied maxima", 1),
    "last maximum, by a >= scan": (SCALAR_SCAN.format(start="-np.inf", better=">="), "last of the tied maxima", 1),
    "first maximum column by column": (instructor_like(
        first="window.transpose(0, 2, 1, 3).reshape(n, pool_size * pool_size, c).argmax(axis=1)", swap="u, v = v, u"),
        "row by row", 1),
    "overwriting instead of adding where windows overlap": (instructor_like(store="="), "overwriting instead of adding", 2),
    "a running maximum that starts at 0": (SCALAR_SCAN.format(start="0.0", better=">"), "negative maximum", 0),
    "first image and channel only": (instructor_like().replace("for b in range(n):", "for b in range(1):")
                                     .replace("for ch in range(c):", "for ch in range(1):"),
                                     "every image and every channel", 3),
}

# --------------------------------------------------------------------------- transposed convolution by stamping

STAMP = """
n, h, w, _ = x.shape
k, _, c_out, _ = kernel.shape
full = np.zeros((n, (h - 1) * {step} + k, (w - 1) * {step} + k, c_out))
for i in range(h):
    for j in range(w):
        stamp = np.einsum("{einsum}", x[:, i, j, :], {kernel})
        full[:, i * {step}:i * {step} + k, j * {step}:j * {step} + k, :] += stamp
if padding == "same":
    {crop}
return full
"""
KERAS_CROP = "top = (k - strides) // 2\n    full = full[:, top:top + h * strides, top:top + w * strides, :]"


def stamp(step="strides", einsum="nc,uvoc->nuvo", kernel="kernel", crop=KERAS_CROP):
    return STAMP.format(step=step, einsum=einsum, kernel=kernel, crop=crop)


STAMP_LOOPS = """
n, h, w, c_in = x.shape
k, _, c_out, _ = kernel.shape
s = strides
y = np.zeros((n, (h - 1) * s + k, (w - 1) * s + k, c_out))
for b in range(n):
    for i in range(h):
        for j in range(w):
            for c in range(c_in):
                for o in range(c_out):
                    y[b, i * s:i * s + k, j * s:j * s + k, o] += x[b, i, j, c] * kernel[:, :, o, c]
if padding == "same":
    cut = k - s
    y = y[:, cut // 2:y.shape[1] - (cut - cut // 2), cut // 2:y.shape[2] - (cut - cut // 2), :]
return y
"""

ZEROS_THEN_CONVOLUTION = """
n, h, w, c_in = x.shape
k, s = kernel.shape[0], strides
spread = np.zeros((n, (h - 1) * s + 1, (w - 1) * s + 1, c_in))
spread[:, ::s, ::s, :] = x  # s - 1 zeros between the pixels
padded = np.pad(spread, ((0, 0), (k - 1, k - 1), (k - 1, k - 1), (0, 0)))
y = ops.conv2d(padded, kernel[::-1, ::-1].transpose(0, 1, 3, 2))  # rotated, read as (k, k, C_in, C_out)
if padding == "same":
    top = (k - s) // 2
    y = y[:, top:top + h * s, top:top + w * s, :]
return y
"""

STAMP_RIGHT = {
    "instructor": None,
    "one scalar stamp per image, pixel and channel pair": STAMP_LOOPS,
    "zeros between the pixels, then a convolution with the rotated kernel": ZEROS_THEN_CONVOLUTION,
    "float32 output": stamp(crop=KERAS_CROP + "\n    full = full.astype(np.float32)")
                      .replace("return full", "return full.astype(np.float32)"),
}

STAMP_WRONG = {  # answer, what the message must name, the points it earns
    "kernel flipped": (stamp(kernel="kernel[::-1, ::-1]"), "kernel flipped", 0),
    "stride ignored": (stamp(step="1"), "stride ignored", 0),
    "stride ignored in the placement only": (stamp().replace("i * strides:i * strides + k, j * strides:j * strides + k",
                                                             "i:i + k, j:j + k"), "stride ignored", 0),
    "kernel channel axes swapped": (stamp(einsum="nc,uvco->nuvo"), "channel axes swapped", 0),
    "output size H s + k": (stamp().replace("(h - 1) * strides + k, (w - 1) * strides + k", "h * strides + k, w * strides + k"),
                            r"\(H - 1\) s \+ k", 0),
    "'same' keeps the first H s rows": (stamp(crop="full = full[:, :h * strides, :w * strides, :]"),
                                        "kept the first rows", 3),
    "'same' crop rounded up at the top": (stamp(crop="top = (k - strides + 1) // 2\n"
                                                     "    full = full[:, top:top + h * strides, top:top + w * strides, :]"),
                                          "too many cut at the top", 3),
    "'same' ignored": (stamp(crop="pass"), r"keeps H s x W s", 3),
}

# --------------------------------------------------------------------------- the three short exercises

RIGHT_ANSWERS = {
    "max-pool backward": MAX_POOL_RIGHT,
    "transposed convolution by stamping": STAMP_RIGHT,
    "max pool by reshape": {
        "instructor": None,
        "one axis at a time": "pooled = np.max(np.max(x_pool.reshape(2, 2, 3, 2), axis=3), axis=1)",
        "windows moved to the last axis": "pooled = x_pool.reshape(2, 2, 3, 2).transpose(0, 2, 1, 3).reshape(2, 3, 4).max(axis=-1)",
        "sliding_window_view": "pooled = np.lib.stride_tricks.sliding_window_view(x_pool, (2, 2))[::2, ::2].max(axis=(2, 3))",
        "nested lists": "pooled = [[x_pool[2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(3)] for i in range(2)]",
    },
    "transposed output sizes": {
        "instructor": None,
        "from named sizes": "H, k, s = 7, 3, 2\nout_t_valid = (H - 1) * s + k\nout_t_same = H * s",
        "ops' form H s + max(k - s, 0)": "out_t_valid = 7 * 2 + max(3 - 2, 0)\nout_t_same = 7 * 2",
        "NumPy integers": "out_t_valid, out_t_same = np.int64(15), np.int64(14)",
    },
    "checkerboard-free kernel": {
        "instructor": None,
        "a NumPy integer": "checkerboard_free_size = np.int64(4)",
        "twice the stride": "checkerboard_free_size = 2 * 2",
        "found by trying": """
for checkerboard_free_size in range(3, 10):
    out = ops.conv2d_transpose(np.ones((1, 8, 8, 1)), np.ones((checkerboard_free_size,) * 2 + (1, 1)),
                               strides=2, padding="same")
    if len(np.unique(out[0, 2:-2, 2:-2, 0])) == 1:
        break
""",
    },
}

WRONG_ANSWERS = {
    "max-pool backward": {label: (code, hint) for label, (code, hint, _) in MAX_POOL_WRONG.items()},
    "transposed convolution by stamping": {label: (code, hint) for label, (code, hint, _) in STAMP_WRONG.items()},
    "max pool by reshape": {
        "maximum over the window-counting axes": ("pooled = x_pool.reshape(2, 2, 3, 2).max(axis=(0, 2))", r"shape \(2, 3\)"),
        "runs of four neighbours, not 2 x 2 blocks": ("pooled = x_pool.reshape(2, 3, 2, 2).max(axis=(2, 3))", "runs of four"),
        "average instead of maximum": ("pooled = x_pool.reshape(2, 2, 3, 2).mean(axis=(1, 3))", "average pooling"),
        "stride 1 windows": ("pooled = np.lib.stride_tricks.sliding_window_view(x_pool, (2, 2)).max(axis=(2, 3))",
                             r"shape \(2, 3\)"),
    },
    "transposed output sizes": {
        "a convolution's output sizes": ("out_t_valid = (7 - 3) // 2 + 1\nout_t_same = -(-7 // 2)", "convolution's output"),
        "valid and same swapped": ("out_t_valid = 7 * 2\nout_t_same = (7 - 1) * 2 + 3", "swapped"),
        "H s + k": ("out_t_valid = 7 * 2 + 3\nout_t_same = 7 * 2", "last stamp"),
        "'same' as (H - 1) s + 1": ("out_t_valid = (7 - 1) * 2 + 3\nout_t_same = (7 - 1) * 2 + 1", r"keeps H s rows"),
    },
    "checkerboard-free kernel": {
        "k = 3, the checkerboard itself": ("checkerboard_free_size = 3", "checkerboard"),
        "an odd kernel, 5": ("checkerboard_free_size = 5", "checkerboard"),
        "a larger multiple, 6": ("checkerboard_free_size = 6", "k = 4 is smaller"),
        "a float": ("checkerboard_free_size = 4.0", "integer"),
    },
}

POINTS = {"max-pool backward": 4, "transposed convolution by stamping": 4}  # the partial-credit checks


# The partial-credit checks' awards: every right form earns the full points, each wrong one its own.
AWARDS = {**{f"{check}: {label}": points for check, points in POINTS.items() for label in RIGHT_ANSWERS[check]},
          **{f"{check}: {label}": points for check, wrong in (("max-pool backward", MAX_POOL_WRONG),
                                                               ("transposed convolution by stamping", STAMP_WRONG))
             for label, (_, _, points) in wrong.items()}}

chapter, test_check_accepts, test_check_rejects = check_tests(
    "03_pooling_and_upsampling.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, confirmation=r"\S", awards=AWARDS)
