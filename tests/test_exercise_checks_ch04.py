"""Chapter 04's checks accept the correct forms of each answer and reject the plausible wrong ones.

Every check of ``chapters/04_training_a_network.ipynb`` is listed in ``RIGHT_ANSWERS``
(the instructor's solution, ``None``, and other correct forms) and ``WRONG_ANSWERS``
(a plausible mistake and a regex its message must match). ``tests/exercise_harness.py``
runs the chapter's cells up to each exercise once, then the exercise with the answer
in place of the solution, and the check cell.
"""

from exercise_harness import check_tests

# --------------------------------------------------------------------------- Exercise 1
MSE_RIGHT = {
    "instructor": None,
    "pixels from size / K": """
y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
return 2 * (y_pred - y_true) / (y_true.size // y_true.shape[-1])
""",
    "float32 inputs, loop over the pixels": """
y_true = np.asarray(y_true, dtype=np.float32).reshape(-1, np.shape(y_true)[-1])
y_pred_flat = np.asarray(y_pred, dtype=np.float64).reshape(-1, y_true.shape[-1])
grad = np.empty_like(y_pred_flat)
for i in range(len(y_pred_flat)):
    grad[i] = 2 * (y_pred_flat[i] - y_true[i]) / len(y_pred_flat)
return grad.reshape(np.shape(y_pred))
""",
}
MSE_WRONG = {
    "sign flipped": ("return 2 * (np.asarray(y_true) - y_pred) / np.asarray(y_true)[..., 0].size", "wrong sign"),
    "factor 2 dropped": ("return (np.asarray(y_pred) - y_true) / np.asarray(y_true)[..., 0].size", "factor 2"),
    "divided by pixels * classes": ("return 2 * (np.asarray(y_pred) - y_true) / np.size(y_true)", "not pixels \\* classes"),
    "no 1/N": ("return 2 * (np.asarray(y_pred) - y_true)", "1/N"),
    "divided by the batch only": ("return 2 * (np.asarray(y_pred) - y_true) / len(y_true)", "does not match"),
}

# --------------------------------------------------------------------------- Exercise 2
CE_RIGHT = {
    "instructor": None,
    "softmax by hand, 1 subtracted at the true class": """
z = np.asarray(logits, dtype=np.float64)
e = np.exp(z - z.max(axis=-1, keepdims=True))
grad = e / e.sum(axis=-1, keepdims=True)
np.put_along_axis(grad, np.asarray(y_true)[..., None], np.take_along_axis(grad, np.asarray(y_true)[..., None], -1) - 1, -1)
return grad / np.asarray(y_true).size
""",
    "loop over the pixels, float32 softmax": """
z = np.asarray(logits).reshape(-1, np.shape(logits)[-1])
labels = np.asarray(y_true).reshape(-1)
grad = np.zeros(z.shape)
for i in range(len(z)):
    p = np.exp(z[i].astype(np.float32) - z[i].max())
    grad[i] = p / p.sum()
    grad[i, labels[i]] -= 1
return grad.reshape(np.shape(logits)) / len(z)
""",
}
_ONE_HOT = "np.eye(np.shape(logits)[-1])[y_true]"
CE_WRONG = {
    "no 1/N": (f"return ops.softmax(logits) - {_ONE_HOT}", "1/N"),
    "probabilities minus class ids": ("return (ops.softmax(logits) - np.asarray(y_true)[..., None]) / np.size(y_true)",
                                      "class id itself"),
    "sign flipped": (f"return ({_ONE_HOT} - ops.softmax(logits)) / np.size(y_true)", "sign is flipped"),
    "divided by pixels * classes": (f"return (ops.softmax(logits) - {_ONE_HOT}) / np.size(logits)", "N \\* K"),
    "logits instead of probabilities": (f"return (np.asarray(logits) - {_ONE_HOT}) / np.size(y_true)", "softmax over"),
    "only the true class's entry": (f"return -{_ONE_HOT} * (1 - ops.softmax(logits)) / np.size(y_true)", "sum to 0"),
}

# --------------------------------------------------------------------------- Exercise 3
# Building blocks of conv_backward(x, kernel, dy, stride=1) answers.
SHAPES = """
n, h_out, w_out, c_out = dy.shape
k_h, k_w = kernel.shape[:2]
"""
# dx as a "full" convolution: dy spread out by the stride, padded by k - 1, times the rotated kernel
# with its channel axes swapped; {flip} and {pad} are where the plausible mistakes go.
DX_FULL = """
{spread}
full = np.pad(spread, ((0, 0), {pad}, (0, 0)))
dx = ops.conv2d(full, {flip}.transpose(0, 1, 3, 2))
{fit}
"""
DX_FULL_RIGHT = dict(
    spread="spread = np.zeros((n, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1, c_out))\n"
           "spread[:, ::stride, ::stride] = dy",
    pad="(k_h - 1, k_h - 1), (k_w - 1, k_w - 1)",
    flip="np.flip(kernel, (0, 1))",
    # rows and columns of x that no window reached (none here) get no gradient
    fit="dx = np.pad(dx, ((0, 0), (0, x.shape[1] - dx.shape[1]), (0, x.shape[2] - dx.shape[2]), (0, 0)))",
)
# dW by kernel taps: tap (u, v) read x[:, u + stride i, v + stride j] for every output pixel (i, j)
DW_TAPS = """
dW = np.zeros(kernel.shape)
for u in range(k_h):
    for v in range(k_w):
        patch = x[:, u:u + {step} * (h_out - 1) + 1:{step}, v:v + {step} * (w_out - 1) + 1:{step}, :]
        dW[u, v] = np.tensordot(patch, dy, axes=([0, 1, 2], [0, 1, 2]))
"""
DB = "db = dy.sum(axis=(0, 1, 2))\n"
RETURN = "return dx, dW, db\n"
# the instructor's loop over output pixels, with a hole for each mistake
LOOP = """
k_h, k_w = kernel.shape[:2]
dx = np.zeros(x.shape)
dW = np.zeros(kernel.shape)
for i in range(dy.shape[1]):
    for j in range(dy.shape[2]):
        rows = slice(i * stride, i * stride + k_h)
        cols = slice(j * stride, j * stride + k_w)
        g = dy[:, i, j, :]
        {dw_line}
        {dx_line}
{after}
{db_line}
return dx, dW, db
"""
LOOP_RIGHT = dict(
    dw_line='dW += np.einsum("nuvc,no->uvco", x[:, rows, cols, :], g)',
    dx_line='dx[:, rows, cols, :] += np.einsum("uvco,no->nuvc", kernel, g)',
    after="",
    db_line="db = dy.sum(axis=(0, 1, 2))",
)


def loop(**changes):
    return LOOP.format(**{**LOOP_RIGHT, **changes})


def full(dw_step="stride", **changes):
    return SHAPES + DX_FULL.format(**{**DX_FULL_RIGHT, **changes}) + DW_TAPS.format(step=dw_step) + DB + RETURN


CONV_DX_RIGHT = {
    "instructor": None,
    "full convolution of the spread-out dy with the rotated kernel": full(),
    "loop over the kernel taps, explicit indices": """
n, h_out, w_out, c_out = dy.shape
dx = np.zeros_like(x, dtype=float)
for u in range(kernel.shape[0]):
    for v in range(kernel.shape[1]):
        for i in range(h_out):
            for j in range(w_out):
                dx[:, stride * i + u, stride * j + v, :] += dy[:, i, j, :] @ kernel[u, v].T
return dx, np.zeros(kernel.shape), dy.sum(axis=(0, 1, 2))
""",
}
CONV_DX_WRONG = {
    "kernel not flipped for dx": (full(flip="kernel"), "not flipped"),
    "'same' padding of the gradient": (full(pad="(k_h // 2, k_h // 2), (k_w // 2, k_w // 2)", fit=""),
                                       "padding of the gradient"),
    "gradient padded on one side only": (full(pad="(k_h - 1, 0), (k_w - 1, 0)", fit=""), "padding of the gradient"),
    "overlapping windows overwrite (= for +=)": (
        loop(dx_line='dx[:, rows, cols, :] = np.einsum("uvco,no->nuvc", kernel, g)'), r"add \(\+=\)"),
    "kernel flipped in the loop": (
        loop(dx_line='dx[:, rows, cols, :] += np.einsum("uvco,no->nuvc", kernel[::-1, ::-1], g)'), "rotated by 180"),
    "stride 2: dy not spread out (2 of 3 points)": (full(spread="spread = dy", fit=""),
                                                    r"at stride 2 .*padding of the gradient"),
}

CONV_DW_RIGHT = {
    "instructor": None,
    "loop over the kernel taps": full(),
    "dW as a convolution of x with dy as the kernel, dilated by the stride": """
dx = backprop.conv2d_backward(x, kernel, dy, strides=stride)[0]
k_h, k_w = kernel.shape[:2]
# dW[u, v, c, o] = sum_{n, i, j} x[n, u + s i, v + s j, c] dy[n, i, j, o]: a convolution over (H, W) with the
# batch as the summed "channel" axis, dy as the kernel (dilated by s) and C_in as the "batch"
dW = ops.conv2d(x.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), dilation_rate=stride)
dW = dW[:, :k_h, :k_w, :].transpose(1, 2, 0, 3)
return dx, dW, dy.sum(axis=(0, 1, 2))
""",
}
CONV_DW_WRONG = {
    "dW flipped": (loop(after="dW = np.flip(dW, axis=(0, 1))"), "flipped"),
    "dW of the first image only": (
        loop(dw_line='dW += np.einsum("uvc,o->uvco", x[0, rows, cols, :], g[0])'), "sum over the batch"),
    "dW averaged over the batch": (loop(after="dW = dW / len(x)"), "sum over the batch"),
    "db summed over H and W only": (
        loop(db_line="db = dy.sum(axis=(1, 2))"), "summed over N, H and W"),
    "db summed over everything": (loop(db_line="db = dy.sum()"), "one entry per output channel"),
    "db a mean": (loop(db_line="db = dy.mean(axis=(0, 1, 2))"), "db is a mean"),
    "stride ignored for dW (2 of 3 points)": (
        full(dw_step="1"), "at stride 2: dW differs"),
}


# --------------------------------------------------------------------------- Exercise 4
RELU_RIGHT = {
    "instructor": None,
    "np.where": "return np.where(z > 0, da, 0.0)",
    "heaviside with 0 at the kink": "return da * np.heaviside(z, 0.0)",
}
RELU_WRONG = {
    "kink counted as positive": ("return da * (z >= 0)", "z = 0"),
    "slope without da": ("return (z > 0).astype(float)", "multiply the upstream gradient"),
    "da times relu(z)": ("return da * np.maximum(z, 0)", "away from z = 0"),
    "mask taken from da": ("return da * (da > 0)", "away from z = 0"),
}

# --------------------------------------------------------------------------- Exercise 5
SGD_RIGHT = {
    "instructor": None,
    "PyTorch's velocity (v = mu v + g, w -= eta v)": """
v = momentum * v + grad
w = w - learning_rate * v
""",
    "velocity as the weights' change": """
new_w = w + momentum * v - learning_rate * grad
v = new_w - w
w = new_w
""",
}
SGD_WRONG = {
    "velocity not returned": ("w = w + momentum * v - learning_rate * grad", "without momentum"),
    "old velocity moves w": ("w = w + v\nv = momentum * v - learning_rate * grad", "old velocity"),
    "gradient added": ("v = momentum * v + learning_rate * grad\nw = w + v", "uphill"),
    "Nesterov": ("v = momentum * v - learning_rate * grad\nw = w + momentum * v - learning_rate * grad", "Nesterov"),
    "momentum on the gradient": ("v = momentum * grad - learning_rate * v\nw = w + v", "differ from keras"),
}

# --------------------------------------------------------------------------- Exercise 6
# train_step(model, velocities, images, labels, learning_rate, momentum) with holes for the mistakes
STEP = """
with tf.GradientTape() as tape:
    logits = model(images{mode})
    loss = ce_loss(labels, logits)
variables = {variables}
grads = tape.gradient(loss, variables)
for variable, grad in zip(variables, grads):
    velocity = velocities.get({key}, np.zeros(variable.shape, dtype=np.float32))
    new_value, velocities[{key}] = sgd_momentum_step(variable.numpy(), velocity, grad.numpy(), learning_rate, momentum)
    variable.assign(new_value)
return float(loss)
"""
STEP_RIGHT_PARTS = dict(mode=", training=True", variables="model.trainable_variables", key="variable.path")


def step(**changes):
    return STEP.format(**{**STEP_RIGHT_PARTS, **changes})


TRAIN_STEP_RIGHT = {
    "instructor": None,
    "trainable_weights, velocities by position, TensorFlow arithmetic": """
with tf.GradientTape() as tape:
    loss = ce_loss(labels, model(images, training=True))
for i, (variable, grad) in enumerate(zip(model.trainable_weights, tape.gradient(loss, model.trainable_weights))):
    new_value, velocities[i] = sgd_momentum_step(variable, velocities.get(i, tf.zeros_like(grad)), grad,
                                                 learning_rate, momentum)
    variable.assign(new_value)
return float(loss)
""",
    "gradients of all weights, the moving statistics skipped": """
with tf.GradientTape() as tape:
    loss = ce_loss(labels, model(images, training=True))
for variable, grad in zip(model.weights, tape.gradient(loss, model.weights)):
    if grad is None:  # batch norm's moving statistics: not trained
        continue
    if variable.path not in velocities:
        velocities[variable.path] = np.zeros(variable.shape, dtype=np.float32)
    new_value, velocities[variable.path] = sgd_momentum_step(
        variable.numpy(), velocities[variable.path], grad.numpy(), learning_rate, momentum)
    variable.assign(new_value)
return float(loss.numpy())
""",
}
TRAIN_STEP_WRONG = {
    "forward pass outside the tape": ("""
logits = model(images, training=True)
with tf.GradientTape() as tape:
    loss = ce_loss(labels, logits)
""" + step().split("variables = ", 1)[1].join(["variables = ", ""]), "inside `with tf.GradientTape"),
    "velocities keyed by variable.name": (step(key="variable.name"), "variable.name is not unique"),
    "velocities keyed by shape (batch norm's gamma and beta share one)": (
        step(key="tuple(variable.shape)"), "one velocity per trainable variable"),
    "training=True forgotten": (step(mode=""), "training=True"),
    "gradients of model.weights": (step(variables="model.weights"), "model.weights"),
    "a new velocities dict in every step": ("velocities = {}\n" + step(), "not a new one"),
    "Keras's optimizer instead of yours": ("""
with tf.GradientTape() as tape:
    loss = ce_loss(labels, model(images, training=True))
keras.optimizers.SGD(learning_rate, momentum=momentum).apply_gradients(
    zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
return float(loss)
""", "your sgd_momentum_step"),
    "loss on probabilities": (step().replace("ce_loss(labels, logits)", "ce_loss(labels, tf.nn.softmax(logits))"),
                              "on the logits"),
}

RIGHT_ANSWERS = {
    "mse gradient": MSE_RIGHT,
    "softmax cross-entropy backward": CE_RIGHT,
    "conv backward: dx": CONV_DX_RIGHT,
    "conv backward: dW and db": CONV_DW_RIGHT,
    "relu backward": RELU_RIGHT,
    "sgd momentum step": SGD_RIGHT,
    "a training step with GradientTape": TRAIN_STEP_RIGHT,
}
# partial credit: the points a wrong answer still earns (award's printed line)
# (every wrong answer of a check that calls award; 0: no points)
PARTIAL_POINTS = {
    "conv backward: dx": {label: 0 for label in CONV_DX_WRONG} | {"stride 2: dy not spread out (2 of 3 points)": 2},
    "conv backward: dW and db": {  # 1 point for db, 1 for dW at stride 1, 1 for dW at stride 2
        "dW flipped": 1, "dW of the first image only": 1, "dW averaged over the batch": 1,
        "db summed over H and W only": 2, "db summed over everything": 2, "db a mean": 2,
        "stride ignored for dW (2 of 3 points)": 2,
    },
}
WRONG_ANSWERS = {
    "mse gradient": MSE_WRONG,
    "softmax cross-entropy backward": CE_WRONG,
    "conv backward: dx": CONV_DX_WRONG,
    "conv backward: dW and db": CONV_DW_WRONG,
    "relu backward": RELU_WRONG,
    "sgd momentum step": SGD_WRONG,
    "a training step with GradientTape": TRAIN_STEP_WRONG,
}


# Right answers print "correct:" first (no partial award on a right answer); a wrong answer of a
# partial-credit check earns its PARTIAL_POINTS, one of any other check prints no award.
AWARDS = {f"{check}: {label}": PARTIAL_POINTS[check][label] if check in PARTIAL_POINTS else None
          for check, wrong in WRONG_ANSWERS.items() for label in wrong}

chapter, test_check_accepts, test_check_rejects = check_tests(
    "04_training_a_network.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, confirmation=r"\Acorrect:", awards=AWARDS)
