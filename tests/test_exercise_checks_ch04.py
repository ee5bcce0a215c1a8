"""Chapter 04's checks accept the correct forms of each answer and reject the plausible wrong ones.

Every check of ``chapters/04_training_a_network.ipynb`` is listed in ``RIGHT_ANSWERS``
(the instructor's solution, ``None``, and other correct forms) and ``WRONG_ANSWERS``
(a plausible mistake and a regex its message must match). ``tests/exercise_harness.py``
runs the chapter's cells up to each exercise once, then the exercise with the answer
in place of the solution, and the check cell.
"""

import re

import pytest

from exercise_harness import Chapter, right_cases, wrong_cases

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

RIGHT_ANSWERS = {
    "mse gradient": MSE_RIGHT,
    "softmax cross-entropy backward": CE_RIGHT,
    "relu backward": RELU_RIGHT,
    "sgd momentum step": SGD_RIGHT,
}
WRONG_ANSWERS = {
    "mse gradient": MSE_WRONG,
    "softmax cross-entropy backward": CE_WRONG,
    "relu backward": RELU_WRONG,
    "sgd momentum step": SGD_WRONG,
}


@pytest.fixture(scope="module")
def chapter():
    return Chapter("04_training_a_network.ipynb")


def test_every_check_is_listed(chapter):
    assert list(RIGHT_ANSWERS) == list(chapter.checks) == list(WRONG_ANSWERS)


@pytest.mark.slow
@pytest.mark.parametrize("check, code", right_cases(RIGHT_ANSWERS))
def test_check_accepts(chapter, check, code):
    outcome = chapter.check(check, code)
    assert outcome.passed, outcome.message
    assert outcome.output.startswith("correct:"), outcome.output


@pytest.mark.slow
@pytest.mark.parametrize("check, code, hint", wrong_cases(WRONG_ANSWERS))
def test_check_rejects(chapter, check, code, hint):
    outcome = chapter.check(check, code)
    assert not outcome.passed, f"the check passed a wrong answer; it printed {outcome.output!r}"
    assert re.search(hint, outcome.message), outcome.message
