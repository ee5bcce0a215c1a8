"""The checks accept every correct form of an answer and reject the plausible wrong ones.

Each test runs a chapter's exercise with another answer in place of the instructor's
solution, then the check cell (tests/exercise_harness.py: the chapter's code cells in
one namespace, without a kernel, executed once per test module up to the exercise).
A wrong answer must fail with an ``AssertionError`` whose message points at the mistake.
"""

import functools
import re

import pytest

from exercise_harness import Chapter


@functools.cache
def chapter(name):
    """One executed prefix per notebook for the whole test module."""
    return Chapter(name)


# --------------------------------------------------------------------------- chapter 05, exercise 3

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

FIXED_COMPILE_RIGHT = {
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
}

FIXED_COMPILE_WRONG = {  # answer -> what the message must point at
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
}


@pytest.fixture(scope="module")
def chapter_05():
    return chapter("05_first_cnn.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("answer", FIXED_COMPILE_RIGHT.values(), ids=FIXED_COMPILE_RIGHT.keys())
def test_fixed_compile_call_accepts(chapter_05, answer):
    outcome = chapter_05.check("fixed compile call", answer)
    assert outcome.passed, outcome.message
    assert outcome.output.startswith("fixed:"), outcome.output


@pytest.mark.slow
@pytest.mark.parametrize("answer, hint", FIXED_COMPILE_WRONG.values(), ids=FIXED_COMPILE_WRONG.keys())
def test_fixed_compile_call_rejects(chapter_05, answer, hint):
    outcome = chapter_05.check("fixed compile call", answer)
    assert not outcome.passed, f"the check passed a wrong answer; it printed {outcome.output!r}"
    assert re.search(hint, outcome.message), outcome.message


# --------------------------------------------------------------------------- chapter 01, exercise 2

BEST_THRESHOLD_RIGHT = {
    "instructor": None,
    "list and >=": """
mean_iou = []
for t in THRESHOLDS:
    mean_iou.append(np.mean(iou_per_class(val_foreground, val_brightness >= t, num_classes=2)))
best_threshold = float(THRESHOLDS[int(np.argmax(mean_iou))])
""",
    "by hand from the confusion matrix": """
mean_iou = []
for t in THRESHOLDS:
    cm = confusion_matrix(val_foreground, (val_brightness > t).astype(int), 2)
    iou = np.diag(cm) / (cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm))
    mean_iou.append(iou.mean())
best_threshold = max(zip(mean_iou, THRESHOLDS))[1]
""",
}

_SHAPES_ONLY = """
mean_iou = [iou_per_class(val_foreground, (val_brightness > t).astype(int), num_classes=2)[1] for t in THRESHOLDS]
best_threshold = THRESHOLDS[np.argmax(mean_iou)]
"""
_PER_IMAGE = """
mean_iou = [np.mean([iou_per_class(val_foreground[k], (val_brightness[k] > t).astype(int), num_classes=2).mean()
                     for k in range(len(val_foreground))]) for t in THRESHOLDS]
best_threshold = THRESHOLDS[np.argmax(mean_iou)]
"""
_RIGHT_IOUS = """
mean_iou = [iou_per_class(val_foreground, (val_brightness > t).astype(int), num_classes=2).mean() for t in THRESHOLDS]
"""
BEST_THRESHOLD_WRONG = {
    "the IoU of the shapes only": (_SHAPES_ONLY, "shapes only"),
    "image by image": (_PER_IMAGE, "image by image"),
    "pixel accuracy": ("""
mean_iou = [np.mean((val_brightness > t) == (val_foreground == 1)) for t in THRESHOLDS]
best_threshold = THRESHOLDS[np.argmax(mean_iou)]
""", "differs"),
    "the position, not the threshold": (_RIGHT_IOUS + "best_threshold = np.argmax(mean_iou)\n", "position"),
    "the lowest score": (_RIGHT_IOUS + "best_threshold = THRESHOLDS[np.argmin(mean_iou)]\n", "highest mean IoU"),
}


@pytest.fixture(scope="module")
def chapter_01():
    return chapter("01_background.ipynb")


@pytest.mark.parametrize("answer", BEST_THRESHOLD_RIGHT.values(), ids=BEST_THRESHOLD_RIGHT.keys())
def test_best_threshold_accepts(chapter_01, answer):
    outcome = chapter_01.check("best threshold", answer)
    assert outcome.passed, outcome.message


@pytest.mark.parametrize("answer, hint", BEST_THRESHOLD_WRONG.values(), ids=BEST_THRESHOLD_WRONG.keys())
def test_best_threshold_rejects(chapter_01, answer, hint):
    outcome = chapter_01.check("best threshold", answer)
    assert not outcome.passed, f"the check passed a wrong answer; it printed {outcome.output!r}"
    assert re.search(hint, outcome.message), outcome.message


# --------------------------------------------------------------------------- every check of 00-05

CORE_CHECKS = [
    ("00_setup.ipynb", "practice: corner"),
    ("01_background.ipynb", "IoU by hand"),
    ("01_background.ipynb", "best threshold"),
    ("02_convolution.ipynb", "output sizes"),
    ("02_convolution.ipynb", "horizontal edge kernel"),
    ("02_convolution.ipynb", "one output pixel"),
    ("03_pooling_and_upsampling.ipynb", "max pool by reshape"),
    ("03_pooling_and_upsampling.ipynb", "transposed output sizes"),
    ("03_pooling_and_upsampling.ipynb", "checkerboard-free kernel"),
    ("04_training_a_network.ipynb", "mse gradient"),
    ("04_training_a_network.ipynb", "relu backward"),
    ("04_training_a_network.ipynb", "sgd momentum step"),
    ("05_first_cnn.ipynb", "seed cnn shapes"),
    ("05_first_cnn.ipynb", "seed cnn parameters"),
    ("05_first_cnn.ipynb", "fixed compile call"),
]


def test_core_checks_are_all_listed():
    listed = {}
    for name, check in CORE_CHECKS:
        listed.setdefault(name, []).append(check)
    for name, checks in listed.items():
        assert checks == list(chapter(name).checks), f"{name}: list its checks in order"


@pytest.mark.slow
@pytest.mark.parametrize("name, check", CORE_CHECKS, ids=[f"{n[:2]}: {c}" for n, c in CORE_CHECKS])
def test_check_passes_the_solution_and_prints_a_confirmation(name, check):
    # Chapter 00 tells the students that a passing check prints a short confirmation.
    outcome = chapter(name).check(check)
    assert outcome.passed, outcome.message
    assert outcome.output.strip(), f"{name}: the check {check!r} printed nothing when it passed"
