"""Chapter 10's checks accept the correct forms of each answer and reject the plausible wrong ones.

Three checks: the nucleus Dice by hand over all validation pixels, tiling an 8192 x 8192
slide (tiles and activation memory), and the slope of the learning curve against log2 of
the number of images. The chapter trains a dozen U-Nets before its exercises; the checks
need only their results, so the test provides them (``Chapter(given=...)``): the
validation label maps are the true masks with a band of errors, the main model is the
chapter's U-Net untrained (the memory rule reads its shapes only), and the learning curve
is a made-up one of the chapter's form. The data loading runs as in the chapter.
"""

import numpy as np
import pytest

from exercise_harness import check_tests

NOTEBOOK = "10_capstone_real_microscopy.ipynb"


def _labels_val(namespace):
    """The true validation masks with errors: a nucleus missed in part, background marked."""
    labels = np.array(namespace["y_val"], copy=True)
    labels[:, :20, :] = 0              # the top rows missed
    labels[:, -12:, :40] = 1           # a block of background marked nucleus
    return labels


def _laptop(namespace):
    return namespace["unet"]((None, None, 3), len(namespace["CLASS_NAMES"]), **namespace["MODEL_SIZES"]["laptop"])


def _counts(namespace):
    return (*namespace["LEARNING_CURVE"], len(namespace["x_train"]))


def _curve(namespace):
    """A learning curve of the chapter's form: (augment, n) -> mean validation Dice, not on a line."""
    counts = _counts(namespace)
    curve = {(True, n): 0.55 + 0.06 * np.log2(n) - 0.01 * k ** 2 for k, n in enumerate(counts)}
    curve.update({(False, counts[0]): 0.4, (False, counts[-1]): 0.7})
    return curve


GIVEN = {"labels_val": _labels_val, "laptop": _laptop, "counts": _counts, "curve": _curve}

RIGHT_ANSWERS = {
    "dice by hand": {
        "instructor": None,
        "2 TP / (2 TP + FP + FN)": '''
            tp = np.count_nonzero((labels_val == 1) & (y_val == 1))
            fp = np.count_nonzero((labels_val == 1) & (y_val == 0))
            fn = np.count_nonzero((labels_val == 0) & (y_val == 1))
            dice_by_hand = 2 * tp / (2 * tp + fp + fn)
        ''',
        "flattened float masks": '''
            p, t = (labels_val.ravel() == 1).astype(float), (y_val.ravel() == 1).astype(float)
            dice_by_hand = float(2 * p @ t / (p.sum() + t.sum()))
        ''',
    },
    "tiling a slide": {
        "instructor": None,
        "integer ceiling, per axis": '''
            per_axis = -(-8192 // (TILE - OVERLAP))
            tiles_8192 = per_axis * per_axis
            memory_factor = (8192 / TILE) ** 2 / 16
        ''',
        "numpy ceil, made ints": '''
            tiles_8192 = int(np.ceil(8192 / (TILE - OVERLAP))) ** 2
            memory_factor = (8192 * 8192) / (16 * TILE ** 2)
        ''',
    },
    "doubling the labels": {
        "instructor": None,
        "least squares by hand": '''
            _x = np.log2(np.array(counts, dtype=float))
            _y = np.array([curve[True, n] for n in counts])
            gain_per_doubling = float(np.sum((_x - _x.mean()) * (_y - _y.mean())) / np.sum((_x - _x.mean()) ** 2))
            dice_at_1000 = float(_y.mean() + gain_per_doubling * (np.log2(1000) - _x.mean()))
        ''',
        "natural logarithm, rescaled": '''
            slope, intercept = np.polyfit(np.log(counts), [curve[True, n] for n in counts], 1)
            gain_per_doubling = slope * np.log(2)
            dice_at_1000 = intercept + slope * np.log(1000)
        ''',
    },
}

_POLYFIT = '''
gain_per_doubling, intercept = np.polyfit({x}, [curve[True, n] for n in counts], 1)
dice_at_1000 = intercept + gain_per_doubling * {at}
'''

WRONG_ANSWERS = {
    "dice by hand": {
        "the IoU instead": (
            '''
            both = np.sum((labels_val == 1) & (y_val == 1))
            dice_by_hand = both / (np.sum(labels_val == 1) + np.sum(y_val == 1) - both)
            ''', r"2 x \(pixels in both\)"),
        "pixels in both counted once": (
            '''
            both = np.sum((labels_val == 1) & (y_val == 1))
            dice_by_hand = both / (np.sum(labels_val == 1) + np.sum(y_val == 1))
            ''', r"expected"),
        "the mean of the images' Dice": (
            '''
            per_image = [2 * np.sum((p == 1) & (t == 1)) / (np.sum(p == 1) + np.sum(t == 1))
                         for p, t in zip(labels_val, y_val)]
            dice_by_hand = np.mean(per_image)
            ''', r"over all validation images at once"),
        "one Dice per image": (
            '''
            both = np.sum((labels_val == 1) & (y_val == 1), axis=(1, 2))
            dice_by_hand = 2 * both / (np.sum(labels_val == 1, axis=(1, 2)) + np.sum(y_val == 1, axis=(1, 2)))
            ''', r"must be one number"),
        "the background's Dice": (
            '''
            predicted, true = labels_val == 0, y_val == 0
            dice_by_hand = 2 * np.sum(predicted & true) / (np.sum(predicted) + np.sum(true))
            ''', r"expected"),
    },
    "tiling a slide": {
        "tiles TILE apart, the overlap forgotten": (
            '''
            tiles_8192 = math.ceil(8192 / TILE) ** 2
            memory_factor = 8192 * 8192 / (16 * TILE * TILE)
            ''', r"ceil\(8192 / 96\)"),
        "one axis only": (
            '''
            tiles_8192 = math.ceil(8192 / (TILE - OVERLAP))
            memory_factor = 8192 * 8192 / (16 * TILE * TILE)
            ''', r"on both axes"),
        "floor instead of ceil": (
            '''
            tiles_8192 = (8192 // (TILE - OVERLAP)) ** 2
            memory_factor = 8192 * 8192 / (16 * TILE * TILE)
            ''', r"ceil\(8192 / 96\) tiles per axis"),
        "against one tile, not a batch of 16": (
            '''
            tiles_8192 = math.ceil(8192 / (TILE - OVERLAP)) ** 2
            memory_factor = 8192 * 8192 / (TILE * TILE)
            ''', r"\(8192 x 8192\) / \(16 x 128 x 128\)"),
        "the stride's area instead of the tile's": (
            '''
            tiles_8192 = math.ceil(8192 / (TILE - OVERLAP)) ** 2
            memory_factor = 8192 * 8192 / (16 * (TILE - OVERLAP) ** 2)
            ''', r"memory_factor = "),
    },
    "doubling the labels": {
        "the natural logarithm": (_POLYFIT.format(x="np.log(counts)", at="np.log(1000)"), r"Dice against log2\(n\)"),
        "against n, not log n": (_POLYFIT.format(x="np.array(counts)", at="1000"), r"Dice against log2\(n\)"),
        "slope and intercept swapped": (
            '''
            intercept, gain_per_doubling = np.polyfit(np.log2(counts), [curve[True, n] for n in counts], 1)
            dice_at_1000 = intercept + gain_per_doubling * np.log2(1000)
            ''', r"the slope of Dice against log2\(n\)"),
        "extrapolated to log2(1000) without the intercept": (
            _POLYFIT.format(x="np.log2(counts)", at="np.log2(1000)").replace("intercept + ", ""),
            r"a \+ b log2\(1000\)"),
    },
}


chapter, test_check_accepts, test_check_rejects = check_tests(
    NOTEBOOK, RIGHT_ANSWERS, WRONG_ANSWERS, given=GIVEN, confirmation="correct")


@pytest.mark.slow
def test_the_given_values_leave_out_the_training(chapter):
    """The test's values replace the chapter's training runs: none of those cells runs."""
    trainings = [i for i, cell in enumerate(chapter.cells)
                 if cell["cell_type"] == "code" and "fit_unet(" in "".join(cell["source"])]
    assert trainings and not set(trainings) & chapter.live, sorted(set(trainings) & chapter.live)
