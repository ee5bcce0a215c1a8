"""Chapter 05's checks accept the correct forms of each answer and reject the plausible wrong ones.

Each test runs one of the chapter's exercises with another answer in place of the
instructor's solution, then its check cell (tests/exercise_harness.py: the chapter's
code cells run once in one namespace up to each exercise). A wrong answer must fail
with an ``AssertionError`` whose message points at the mistake; a check that gives
partial credit must also award the points listed in ``PARTIAL_POINTS``.

The shapes and parameter checks call the student's functions on the chapter's input
and on inputs of other sizes, so an answer read off one model summary fails them.
"""

from exercise_harness import check_tests

# --------------------------------------------------------------------------- seed cnn shapes

SHAPES_CLOSED_FORM = """
h, w, c = input_shape
conv1 = ops.conv_output_size((h, w), 3)                # "valid": H - k + 1
pool1 = ops.conv_output_size(conv1, 2, strides=2)      # a 2x2 window, stride 2: floor(H / 2)
conv2 = ops.conv_output_size(pool1, 3)
pool2 = ops.conv_output_size(conv2, 2, strides=2)
conv3 = ops.conv_output_size(pool2, 3)
return [(*conv1, 32), (*pool1, 32), (*conv2, 64), (*pool2, 64), (*conv3, 64),
        (conv3[0] * conv3[1] * 64,), (64,), (num_classes,)]
"""

SHAPES_LISTS_OF_NUMPY_INTS = """
hw = np.array(input_shape[:2])
shapes = []
for filters in (32, 64):
    hw = hw - 2
    shapes.append([*hw, filters])
    hw = np.floor(hw / 2).astype(int)
    shapes.append([*hw, filters])
hw = hw - 2
shapes += [[*hw, 64], [np.prod(hw) * 64], [64], [num_classes]]
return shapes
"""

_SHAPES_TEMPLATE = """
h, w, _ = input_shape
shapes = []
for filters, pooled in [(32, True), (64, True), (64, False)]:
    h, w = {conv}
    shapes.append((h, w, filters))
    if pooled:
        h, w = {pool}
        shapes.append((h, w, filters))
shapes.append({flatten})
shapes.append((64,))
shapes.append({last})
return shapes
"""


def _shapes(conv="h - 2, w - 2", pool="h // 2, w // 2", flatten="(h * w * 64,)", last="(num_classes,)"):
    return _SHAPES_TEMPLATE.format(conv=conv, pool=pool, flatten=flatten, last=last)


SHAPES_TYPED_IN = """
return [(30, 30, 32), (15, 15, 32), (13, 13, 64), (6, 6, 64), (4, 4, 64), (1024,), (64,), (num_classes,)]
"""

# --------------------------------------------------------------------------- seed cnn parameters

PARAMS_CLOSED_FORM = """
h, w, c = input_shape
h3, w3 = ((h - 2) // 2 - 2) // 2 - 2, ((w - 2) // 2 - 2) // 2 - 2   # the last feature map
return [(9 * c + 1) * 32, 0, (9 * 32 + 1) * 64, 0, (9 * 64 + 1) * 64, 0,
        (h3 * w3 * 64 + 1) * 64, 65 * num_classes]
"""

PARAMS_NUMPY = """
shapes = seed_cnn_output_shapes(input_shape, num_classes)
conv = lambda c_in, c_out: np.int64(3 * 3 * c_in * c_out + c_out)   # weights, then biases
dense = lambda n_in, n_out: np.int64(n_in * n_out + n_out)
return np.array([conv(input_shape[-1], 32), 0, conv(32, 64), 0, conv(64, 64), 0,
                 dense(np.prod(shapes[4]), 64), dense(64, num_classes)])
"""

_PARAMS_TEMPLATE = """
shapes = seed_cnn_output_shapes(input_shape, num_classes)
c_in = {c_in}
conv = lambda c_in, c_out: (3 * 3 * c_in + {bias}) * c_out
dense = lambda n_in, n_out: (n_in + {bias}) * n_out
return [conv(c_in, 32), 0, conv(32, 64), 0, conv(64, 64), 0, dense({flat}, 64), dense(64, num_classes)]
"""


def _params(c_in="input_shape[-1]", bias="1", flat="shapes[5][0]"):
    return _PARAMS_TEMPLATE.format(c_in=c_in, bias=bias, flat=flat)


PARAMS_TYPED_IN = """
return [896, 0, 18496, 0, 36928, 0, 65600, 65 * num_classes]
"""

# --------------------------------------------------------------------------- fixed compile call

COMPILE = 'repaired.compile(optimizer="adam", loss={loss}, metrics={metrics})'
REBUILD = "repaired = seed_cnn(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES, reproduce_bug=True)\n"


def _compiled(loss, metrics='["accuracy"]', *, before=""):
    return REBUILD + before + COMPILE.format(loss=loss, metrics=metrics)


LOGITS_LAST_LAYER = "repaired.layers[-1].activation = keras.activations.linear\n"
REBUILT_WITH_LOGITS = """
repaired = keras.Sequential([
    keras.Input(INPUT_SHAPE),
    keras.layers.Conv2D(32, 3, activation="relu"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(NUM_CLASSES),  # logits
])
repaired.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
"""

# --------------------------------------------------------------------------- batch norm forward

_FORWARD_TEMPLATE = """
axes = {axes}
if training:
    mean = x.mean(axis=axes{keep})
    var = x.var(axis=axes{keep}{ddof})
    new_moving_mean = {new_mean}
    new_moving_var = {new_var}
else:
    mean, var = {inference_stats}
    new_moving_mean, new_moving_var = moving_mean, moving_var
y = gamma * (x - mean) / {denominator} + beta
return y, new_moving_mean, new_moving_var
"""
_FORWARD_RIGHT = dict(axes="(0, 1, 2)", keep="", ddof="", new_mean="momentum * moving_mean + (1 - momentum) * mean",
                      new_var="momentum * moving_var + (1 - momentum) * var",
                      inference_stats="moving_mean, moving_var", denominator="np.sqrt(var + eps)")


def _forward(**changes):
    return _FORWARD_TEMPLATE.format(**{**_FORWARD_RIGHT, **changes})


FORWARD_PER_CHANNEL_LOOP = """
y = np.empty_like(x)
new_moving_mean, new_moving_var = np.array(moving_mean, float), np.array(moving_var, float)
for c in range(x.shape[-1]):
    values = x[..., c]
    if training:
        mean = values.sum() / values.size
        var = ((values - mean) ** 2).sum() / values.size
        new_moving_mean[c] = momentum * moving_mean[c] + (1 - momentum) * mean
        new_moving_var[c] = momentum * moving_var[c] + (1 - momentum) * var
    else:
        mean, var = moving_mean[c], moving_var[c]
    y[..., c] = gamma[c] * (values - mean) / np.sqrt(var + eps) + beta[c]
return y, new_moving_mean, new_moving_var
"""

FORWARD_FLOAT32_RESHAPED = """
flat = x.reshape(-1, x.shape[-1]).astype(np.float32)          # (M, C)
mean = flat.mean(axis=0) if training else moving_mean
var = flat.var(axis=0) if training else moving_var
y = (gamma * (flat - mean) / np.sqrt(var + eps) + beta).reshape(x.shape)
if not training:
    return y, moving_mean, moving_var
return y, moving_mean + (1 - momentum) * (mean - moving_mean), moving_var + (1 - momentum) * (var - moving_var)
"""

# --------------------------------------------------------------------------- batch norm backward

BACKWARD_SIMPLIFIED = """
axes = (0, 1, 2)
inv_std = 1 / np.sqrt(x.var(axis=axes) + eps)
x_hat = (x - x.mean(axis=axes)) * inv_std
dbeta = grad_y.sum(axis=axes)
dgamma = (grad_y * x_hat).sum(axis=axes)
dx = gamma * inv_std * (grad_y - grad_y.mean(axis=axes) - x_hat * (grad_y * x_hat).mean(axis=axes))
return dx, dgamma, dbeta
"""

BACKWARD_WITH_M = """
m = x.size // x.shape[-1]
mu = x.sum(axis=(0, 1, 2)) / m
sigma2 = ((x - mu) ** 2).sum(axis=(0, 1, 2)) / m
x_hat = (x - mu) / np.sqrt(sigma2 + eps)
dx_hat = grad_y * gamma
dx = (m * dx_hat - dx_hat.sum(axis=(0, 1, 2)) - x_hat * (dx_hat * x_hat).sum(axis=(0, 1, 2))) / (m * np.sqrt(sigma2 + eps))
return dx, (grad_y * x_hat).sum(axis=(0, 1, 2)), grad_y.sum(axis=(0, 1, 2))
"""

_BACKWARD_TEMPLATE = """
axes = (0, 1, 2)
inv_std = 1 / np.sqrt(x.var(axis=axes) + eps)
x_hat = (x - x.mean(axis=axes)) * inv_std
dbeta = {dbeta}
dgamma = {dgamma}
g = {g}
dx = {scale} * inv_std * (g - {mean_term} - {var_term})
return dx, dgamma, dbeta
"""
_BACKWARD_RIGHT = dict(dbeta="grad_y.sum(axis=axes)", dgamma="(grad_y * x_hat).sum(axis=axes)", g="grad_y",
                       scale="gamma", mean_term="g.mean(axis=axes)", var_term="x_hat * (g * x_hat).mean(axis=axes)")


def _backward(**changes):
    return _BACKWARD_TEMPLATE.format(**{**_BACKWARD_RIGHT, **changes})


# --------------------------------------------------------------------------- keras batch norm modes

_MODES_TEMPLATE = """
m = BN_MOMENTUM
mean, var = np.zeros(3), np.ones(3)
for batch in {batches}:
    mean = {update_mean}
    var = {update_var}
predicted_moving_mean, predicted_moving_var = mean, var
predicted_inference = {inference}
"""
_MODES_RIGHT = dict(batches="bn_batches", update_mean="m * mean + (1 - m) * batch.mean(axis=(0, 1, 2))",
                    update_var="m * var + (1 - m) * batch.var(axis=(0, 1, 2))",
                    inference="(bn_test - mean) / np.sqrt(var + BN_EPSILON)")


def _modes(**changes):
    return _MODES_TEMPLATE.format(**{**_MODES_RIGHT, **changes})


MODES_WITH_SEGLEARN = """
state = {}
for batch in bn_batches:
    out = batchnorm.batch_norm_forward(batch, np.ones(3), np.zeros(3), momentum=BN_MOMENTUM, eps=BN_EPSILON, **state)
    state = {"moving_mean": out.moving_mean, "moving_var": out.moving_var}
predicted_moving_mean, predicted_moving_var = state["moving_mean"], state["moving_var"]
predicted_inference = batchnorm.batch_norm_forward(bn_test, np.ones(3), np.zeros(3), eps=BN_EPSILON, training=False,
                                                   **state).y
"""

# --------------------------------------------------------------------------- the answers

RIGHT_ANSWERS = {
    "seed cnn shapes": {
        "instructor": None,
        "closed form with ops.conv_output_size": SHAPES_CLOSED_FORM,
        "lists of NumPy integers": SHAPES_LISTS_OF_NUMPY_INTS,
        "Flatten as a bare integer": _shapes(flatten="h * w * 64"),
    },
    "seed cnn parameters": {
        "instructor": None,
        "closed form, without the shapes": PARAMS_CLOSED_FORM,
        "NumPy integers in an array": PARAMS_NUMPY,
    },
    "fixed compile call": {
        "instructor": None,
        "string name": _compiled('"sparse_categorical_crossentropy"'),
        "class name as a string": _compiled('"SparseCategoricalCrossentropy"'),
        "function": _compiled("keras.losses.sparse_categorical_crossentropy"),
        "loss object, defaults": _compiled("keras.losses.SparseCategoricalCrossentropy()"),
        "loss object, from_logits=False": _compiled("keras.losses.SparseCategoricalCrossentropy(from_logits=False)"),
        "metric object": _compiled('"sparse_categorical_crossentropy"', "[keras.metrics.SparseCategoricalAccuracy()]"),
        "fix 2: softmax dropped": _compiled("keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                                            before=LOGITS_LAST_LAYER),
        "fix 2: rebuilt with a linear last layer": REBUILT_WITH_LOGITS,
    },
    "batch norm forward": {
        "instructor": None,
        "one channel at a time": FORWARD_PER_CHANNEL_LOOP,
        "reshaped to (M, C), in float32": FORWARD_FLOAT32_RESHAPED,
    },
    "batch norm backward": {
        "instructor": None,
        "simplified formula": BACKWARD_SIMPLIFIED,
        "sums and M written out": BACKWARD_WITH_M,
    },
    "keras batch norm modes": {
        "instructor": None,
        "Keras's rule written out": _modes(),
        "seglearn.batchnorm, call by call": MODES_WITH_SEGLEARN,
    },
}

WRONG_ANSWERS = {  # answer -> what the message must point at
    "seed cnn shapes": {
        "typed in for 32x32x3": (SHAPES_TYPED_IN, "same shapes for every input"),
        "pooling rounds up": (_shapes(pool="-(-h // 2), -(-w // 2)"), "rounds down"),
        "pooling rounds to nearest": (_shapes(pool="round(h / 2), round(w / 2)"), "rounds down"),
        "'same' padding": (_shapes(conv="h, w"), "'valid' padding"),
        "a 3x3 convolution removes 3 rows": (_shapes(conv="h - 3, w - 3"), r"\(H - 2\)"),
        "Flatten keeps the grid": (_shapes(flatten="(h, w, 64)"), "Flatten lays"),
        "CIFAR-10's 10 classes typed in": (_shapes(last="(10,)"), "num_classes units"),
    },
    "seed cnn parameters": {
        "no biases": (_params(bias="0"), "left out the biases"),
        "typed in for 32x32x3": (PARAMS_TYPED_IN, "same counts for every input"),
        "first convolution sees 3 channels": (_params(c_in="3"), "the image's for the first"),
        "first Dense counted from the channels": (_params(flat="shapes[4][-1]"), "after Flatten"),
    },
    "fixed compile call": {
        "left as it was": (REBUILD, "softmax"),
        "from_logits=True on the softmax": (
            _compiled("keras.losses.SparseCategoricalCrossentropy(from_logits=True)"), r"from_logits=False"),
        "categorical cross-entropy on class ids": (_compiled('"categorical_crossentropy"'), "one-hot"),
        "categorical cross-entropy object": (_compiled("keras.losses.CategoricalCrossentropy()"), "one-hot"),
        "mean squared error": (_compiled('"mse"'), "amounts"),
        "mean squared error object": (_compiled("keras.losses.MeanSquaredError()"), "amounts"),
        "logits with from_logits=False": (
            _compiled("keras.losses.SparseCategoricalCrossentropy()", before=LOGITS_LAST_LAYER), "from_logits=True"),
        "the class instead of an object": (_compiled("keras.losses.SparseCategoricalCrossentropy"), "parentheses"),
        "sum over the batch": (
            _compiled('keras.losses.SparseCategoricalCrossentropy(reduction="sum")'), "reduction"),
        "no accuracy metric": (_compiled('"sparse_categorical_crossentropy"', "[]"), "accuracy"),
    },
    "batch norm forward": {
        "normalised over the channel axis": (_forward(axes="-1", keep=", keepdims=True"), "not over the channel axis"),
        "unbiased variance everywhere": (_forward(ddof=", ddof=1"), "unbiased variance"),
        "unbiased moving variance (PyTorch's)": (
            _forward(new_var="momentum * moving_var + (1 - momentum) * x.var(axis=axes, ddof=1)"),
            "biased batch variance"),
        "momentum rule reversed": (
            _forward(new_mean="(1 - momentum) * moving_mean + momentum * mean",
                     new_var="(1 - momentum) * moving_var + momentum * var"), "reversed"),
        "moving statistics not updated": (_forward(new_mean="moving_mean", new_var="moving_var"),
                                          "returned them unchanged"),
        "momentum typed in": (
            _forward(new_mean="0.9 * moving_mean + 0.1 * mean", new_var="0.9 * moving_var + 0.1 * var"),
            "use the argument momentum"),
        "epsilon outside the square root": (_forward(denominator="(np.sqrt(var) + eps)"), "inside the square root"),
        "inference with the batch's statistics": (
            _forward(inference_stats="x.mean(axis=axes), x.var(axis=axes)"), "not the batch's"),
    },
    "batch norm backward": {
        "mean and variance held constant": (_backward(mean_term="0", var_term="0"), "held the mean and the variance"),
        "no term through the variance": (_backward(var_term="0"), "through the variance is missing"),
        "no term through the mean": (_backward(mean_term="0"), "through the mean is missing"),
        "factor gamma missing": (_backward(scale="1"), "factor gamma is missing"),
        "dgamma and dbeta not summed": (_backward(dbeta="grad_y", dgamma="grad_y * x_hat"), "sum over N, H and W"),
        "summed over N only": (_backward(dbeta="grad_y.sum(axis=0)", dgamma="(grad_y * x_hat).sum(axis=0)"),
                               "sum over N, H and W"),
        "dbeta a mean": (_backward(dbeta="grad_y.mean(axis=axes)"), "a sum, not a mean"),
        "dgamma from x, not x_hat": (_backward(dgamma="(grad_y * x).sum(axis=axes)"), "x_hat, the normalised x"),
    },
    "keras batch norm modes": {
        "momentum rule reversed": (_modes(update_mean="(1 - m) * mean + m * batch.mean(axis=(0, 1, 2))",
                                          update_var="(1 - m) * var + m * batch.var(axis=(0, 1, 2))"), "reversed"),
        "one update too few": (_modes(batches="bn_batches[1:]"), "count the updates"),
        "the last batch's statistics": (
            _modes(update_mean="batch.mean(axis=(0, 1, 2))", update_var="batch.var(axis=(0, 1, 2))"),
            "last batch's statistics"),
        "unbiased moving variance": (_modes(update_var="m * var + (1 - m) * batch.var(axis=(0, 1, 2), ddof=1)"),
                                     "biased batch variance"),
        "inference with bn_test's own statistics": (
            _modes(inference="(bn_test - bn_test.mean(axis=(0, 1, 2))) / np.sqrt(bn_test.var(axis=(0, 1, 2)) + BN_EPSILON)"),
            "its own mean and variance"),
        "inference with the data's true statistics": (
            _modes(inference="(bn_test - data_mean) / np.sqrt(data_std**2 + BN_EPSILON)"), "true mean"),
    },
}

# Points a wrong answer still earns from a partial-credit check: (check, mistake) -> "P of N points".
PARTIAL_POINTS = {
    ("batch norm forward", "unbiased variance everywhere"): "1 of 3 points",
    ("batch norm forward", "unbiased moving variance (PyTorch's)"): "2 of 3 points",
    ("batch norm forward", "momentum rule reversed"): "2 of 3 points",
    ("batch norm forward", "moving statistics not updated"): "2 of 3 points",
    ("batch norm forward", "momentum typed in"): "2 of 3 points",
    ("batch norm forward", "epsilon outside the square root"): "1 of 3 points",
    ("batch norm forward", "inference with the batch's statistics"): "2 of 3 points",
    ("batch norm backward", "mean and variance held constant"): "1 of 3 points",
    ("batch norm backward", "no term through the variance"): "1 of 3 points",
    ("batch norm backward", "no term through the mean"): "1 of 3 points",
    ("batch norm backward", "factor gamma missing"): "1 of 3 points",
    ("batch norm backward", "dgamma and dbeta not summed"): "2 of 3 points",
    ("batch norm backward", "summed over N only"): "2 of 3 points",
    ("batch norm backward", "dbeta a mean"): "2 of 3 points",
    ("batch norm backward", "dgamma from x, not x_hat"): "2 of 3 points",
    ("keras batch norm modes", "momentum rule reversed"): "0 of 2 points",
    ("keras batch norm modes", "one update too few"): "0 of 2 points",
    ("keras batch norm modes", "the last batch's statistics"): "0 of 2 points",
    ("keras batch norm modes", "unbiased moving variance"): "0 of 2 points",
    ("keras batch norm modes", "inference with bn_test's own statistics"): "1 of 2 points",
    ("keras batch norm modes", "inference with the data's true statistics"): "1 of 2 points",
}


AWARDS = {f"{check}: {mistake}": float(points.split()[0]) for (check, mistake), points in PARTIAL_POINTS.items()}

# Chapter 00 tells the students that a passing check prints a short confirmation.
chapter, test_check_accepts, test_check_rejects = check_tests(
    "05_first_cnn.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, confirmation=r"^(right|fixed):", awards=AWARDS)
