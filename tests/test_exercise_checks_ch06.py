"""Chapter 06's checks accept the correct forms of each answer and reject the plausible wrong ones.

One entry per check of ``chapters/06_segmentation_unet.ipynb`` in RIGHT_ANSWERS (the
instructor's solution and other correct forms) and WRONG_ANSWERS (a plausible mistake, and
a regex its message must match), run by ``tests/exercise_harness.py``.

- ``build the unet`` compares the student's ``build_unet`` with ``seglearn.models.unet``
  built with the same settings. It accepts both ways of doubling the resolution that
  ``models.unet`` offers (``Conv2DTranspose(n, 2, strides=2)``, or ``UpSampling2D(2)``
  then a 1x1 ``Conv2D``) and both batch normalisations (``keras.layers.BatchNormalization``
  and ``seglearn.models.FusedBatchNormalization``, which have the same four weights per
  channel).
- ``boundary band`` gives partial credit: 2 of 3 points once the band equals
  ``metrics.boundary_band``, 3 once the boundary IoU equals ``metrics.boundary_iou_per_class``.
- ``iou from confusion`` and ``weakest class`` read the test scores of step 6, which the
  test gives (``GIVEN``: the scores of shifted masks), so the chapter's training need not run.
"""

import numpy as np

from exercise_harness import check_tests

NOTEBOOK = "06_segmentation_unet.ipynb"

# ---------------------------------------------------------------------------- build the unet
UNET = '''
def conv_block(x, filters):
    for _ in range(2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias={bias})(x)
        {bn}
        x = keras.layers.Activation("relu")(x)
    return x

inputs = keras.Input(input_shape)
x, skips = inputs, []
for level in range(depth):
    x = conv_block(x, {enc_filters})
    {keep}
    x = keras.layers.MaxPooling2D(2)(x)
    {keep_after}
x = conv_block(x, base_filters * 2**depth)
for level in reversed(range(depth)):
    {up}
    {join}
    x = conv_block(x, {dec_filters})
logits = keras.layers.Conv2D(num_classes, 1)(x)
return keras.Model(inputs, logits)
'''

UNET_PARTS = dict(
    bias="False",
    bn="x = keras.layers.BatchNormalization()(x)",
    enc_filters="base_filters * 2**level",
    keep="skips.append(x)",
    keep_after="",
    up="x = keras.layers.Conv2DTranspose(base_filters * 2**level, 2, strides=2)(x)",
    join="x = keras.layers.Concatenate()([x, skips[level]])",
    dec_filters="base_filters * 2**level",
)


def unet_answer(**changes):
    return UNET.format(**{**UNET_PARTS, **changes})


# ---------------------------------------------------------------------------- boundary band
# The band as the instructor writes it, with parts to change for the wrong answers.
BAND = '''
def boundary_band_by_hand(mask, width):
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    padded = np.pad(mask, {pad}, constant_values={pad_value})
    interior = np.ones_like(mask)
    for di in range({span}):
        for dj in range({span}):
            {skip}interior &= padded[di:di + h, dj:dj + w]
    return {result}


def boundary_iou_by_hand(mask_true, mask_pred, width):
    band_true = boundary_band_by_hand(mask_true, width)
    band_pred = boundary_band_by_hand(mask_pred, width)
    return {iou}
'''

BAND_PARTS = dict(
    pad="width",
    pad_value="False",
    span="2 * width + 1",
    skip="",
    result="mask & ~interior",
    iou="np.count_nonzero(band_true & band_pred) / np.count_nonzero(band_true | band_pred)",
)


def band_answer(**changes):
    return BAND.format(**{**BAND_PARTS, **changes})


BAND_BY_LOOPS = '''
def boundary_band_by_hand(mask, width):
    h, w = len(mask), len(mask[0])
    band = np.zeros((h, w), dtype=bool)
    for i in range(h):
        for j in range(w):
            if not mask[i][j]:
                continue
            for a in range(i - width, i + width + 1):
                for b in range(j - width, j + width + 1):
                    if not (0 <= a < h and 0 <= b < w) or not mask[a][b]:
                        band[i, j] = True
    return band


def boundary_iou_by_hand(mask_true, mask_pred, width):
    a, b = boundary_band_by_hand(mask_true, width), boundary_band_by_hand(mask_pred, width)
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())
'''

BAND_BY_EROSIONS = '''
def boundary_band_by_hand(mask, width):
    mask = np.asarray(mask, dtype=bool)
    inner = mask
    for _ in range(width):  # d erosions by the 3x3 square, as Cheng et al. do
        p = np.pad(inner, 1)
        inner = np.logical_and.reduce([p[1 + di:p.shape[0] - 1 + di, 1 + dj:p.shape[1] - 1 + dj]
                                       for di in (-1, 0, 1) for dj in (-1, 0, 1)])
    return mask & ~inner


def boundary_iou_by_hand(mask_true, mask_pred, width):
    a = boundary_band_by_hand(mask_true, width).astype(int)
    b = boundary_band_by_hand(mask_pred, width).astype(int)
    intersection = (a * b).sum()
    return intersection / (a.sum() + b.sum() - intersection)
'''

BAND_BY_WINDOWS = '''
def boundary_band_by_hand(mask, width):
    padded = np.pad(np.asarray(mask, dtype=np.uint8), width)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * width + 1, 2 * width + 1))
    return (windows.min(axis=(-2, -1)) == 0) & np.asarray(mask, dtype=bool)


def boundary_iou_by_hand(mask_true, mask_pred, width):
    a, b = boundary_band_by_hand(mask_true, width), boundary_band_by_hand(mask_pred, width)
    return (a & b).sum() / (a | b).sum()
'''

BAND_CROSS = '''
def boundary_band_by_hand(mask, width):
    mask = np.asarray(mask, dtype=bool)
    inner = mask
    for _ in range(width):  # erosions by the 4-neighbour cross
        p = np.pad(inner, 1)
        inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~inner


def boundary_iou_by_hand(mask_true, mask_pred, width):
    a, b = boundary_band_by_hand(mask_true, width), boundary_band_by_hand(mask_pred, width)
    return (a & b).sum() / (a | b).sum()
'''

BAND_BORROWED = '''
def boundary_band_by_hand(mask, width):
    return seglearn.metrics.boundary_band(mask, width=width)


def boundary_iou_by_hand(mask_true, mask_pred, width):
    a, b = boundary_band_by_hand(mask_true, width), boundary_band_by_hand(mask_pred, width)
    return (a & b).sum() / (a | b).sum()
'''

# ---------------------------------------------------------------------------- the answers
RIGHT_ANSWERS = {
    "paired flip": {
        "instructor": None,
        "np.fliplr": "return np.fliplr(image), np.fliplr(mask)",
        "np.flip along axis 1": "return np.flip(image, axis=1), np.flip(mask, axis=1)",
        "copies with an explicit step": "return image[:, ::-1, :].copy(), mask[:, ::-1].copy()",
    },
    "build the unet": {
        "instructor": None,
        "transposed convolution, keras BatchNormalization": unet_answer(),
        "UpSampling2D then a 1x1 Conv2D": unet_answer(
            up="x = keras.layers.UpSampling2D(2)(x)\n    x = keras.layers.Conv2D(base_filters * 2**level, 1)(x)"),
        "bilinear UpSampling2D then a 1x1 Conv2D": unet_answer(
            up='x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)\n'
               "    x = keras.layers.Conv2D(base_filters * 2**level, 1)(x)"),
        "seglearn FusedBatchNormalization": unet_answer(
            bn="x = seglearn.models.FusedBatchNormalization(momentum=0.9)(x)"),
        "skip first in the concatenation": unet_answer(join="x = keras.layers.Concatenate()([skips[level], x])"),
    },
    "boundary band": {
        "instructor": None,
        "shifted slices, bool counts": band_answer(
            iou="(band_true & band_pred).sum() / (band_true | band_pred).sum()"),
        "a loop over pixels and their squares, lists allowed": BAND_BY_LOOPS,
        "d erosions by the 3x3 square, IoU by inclusion-exclusion": BAND_BY_EROSIONS,
        "sliding windows, min over each square": BAND_BY_WINDOWS,
    },
    "iou from confusion": {
        "instructor": None,
        "one expression": "iou_by_hand = np.diag(cm) / (cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm))",
        "a loop over the classes, a list": (
            "iou_by_hand = [cm[c, c] / (cm[c, :].sum() + cm[:, c].sum() - cm[c, c]) for c in range(NUM_CLASSES)]"),
        "from the transposed matrix (IoU does not care)": (
            "t = cm.T\niou_by_hand = np.diag(t) / (t.sum(0) + t.sum(1) - np.diag(t))"),
    },
    "weakest class": {
        "instructor": None,
        "min over (IoU, name) pairs, NaN skipped": (
            'worst_class = min((iou, name) for name, iou in zip(SHAPE_CLASSES, test_scores["iou"])'
            " if not np.isnan(iou))[1]"),
        "a sorted list of names": (
            'worst_class = sorted((name for name, iou in zip(SHAPE_CLASSES, test_scores["iou"]) if iou == iou),\n'
            '                     key=lambda name: test_scores["iou"][SHAPE_CLASSES.index(name)])[0]'),
    },
}

WRONG_ANSWERS = {
    "paired flip": {
        "flipped up-down (axis 0)": ("return image[::-1], mask[::-1]", "left-right"),
        "the mask left as it is": ("return image[:, ::-1], mask", "mask must be mirrored"),
        "the image's colour channels reversed": ("return image[..., ::-1], mask[:, ::-1]", "image must be mirrored"),
    },
    "build the unet": {
        "no skips (an FCN)": (unet_answer(join=""), "FCN"),
        "encoder filters not doubled": (unet_answer(enc_filters="base_filters"), "encoder doubles"),
        "decoder filters do not halve": (unet_answer(dec_filters="base_filters * 2**depth"), "halve"),
        "skip kept after the pooling": (unet_answer(keep="", keep_after="skips.append(x)"), "wrong level"),
        "skips joined in the wrong order": (
            unet_answer(join="x = keras.layers.Concatenate()([x, skips[depth - 1 - level]])"), "wrong level"),
        "no batch normalisation": (unet_answer(bn="pass"), "batch normalisation"),
        "biases before batch norm": (unet_answer(bias="True"), "use_bias=False"),
        "3x3 convolution after UpSampling2D": (
            unet_answer(up="x = keras.layers.UpSampling2D(2)(x)\n"
                           '    x = keras.layers.Conv2D(base_filters * 2**level, 3, padding="same")(x)'), "parameters"),
        "depth typed in": (unet_answer().replace("range(depth)", "range(DEPTH)").replace("2**depth", "2**DEPTH"),
                           "depth=2"),
    },
    "boundary band": {
        "only the 4 neighbours (city-block distance)": (BAND_CROSS, "diagonal"),
        "beyond the border counted as inside (padded with True)": (
            band_answer(pad_value="True"), "border"),
        "distance < d instead of <= d (a square of side 2d - 1)": (
            band_answer(pad="width - 1", span="2 * width - 1"), r"2d \+ 1 pixels a side"),
        "the ring outside the mask (dilation minus mask)": (
            band_answer(result="~mask & ~np.all([~padded[di:di + h, dj:dj + w] for di in range(2 * width + 1) "
                               "for dj in range(2 * width + 1)], axis=0)"), "outside the mask"),
        "the interior instead of the band": (band_answer(result="interior"), "interior"),
        "the IoU of the whole masks": (
            band_answer(iou="np.count_nonzero(mask_true & mask_pred) / np.count_nonzero(mask_true | mask_pred)"),
            "whole masks"),
        "Dice of the bands": (
            band_answer(iou="2 * np.count_nonzero(band_true & band_pred) / "
                            "(np.count_nonzero(band_true) + np.count_nonzero(band_pred))"), "Dice"),
        "divided by the true band only": (
            band_answer(iou="np.count_nonzero(band_true & band_pred) / np.count_nonzero(band_true)"), "union"),
        "seglearn's band called": (BAND_BORROWED, "yourself"),
    },
    "iou from confusion": {
        "Dice instead of IoU": (
            "tp = np.diag(cm)\niou_by_hand = 2 * tp / (cm.sum(axis=0) + cm.sum(axis=1))", "Dice"),
        "TP counted twice (row + column, not minus TP)": (
            "tp = np.diag(cm)\niou_by_hand = tp / (cm.sum(axis=0) + cm.sum(axis=1))", "twice"),
        "recall (row sums only)": ("iou_by_hand = np.diag(cm) / cm.sum(axis=1)", "recall"),
        "the mean instead of the vector": (
            "tp = np.diag(cm)\niou_by_hand = np.mean(tp / (cm.sum(0) + cm.sum(1) - tp))", "one IoU per class"),
    },
    "weakest class": {
        "the strongest class (argmax)": (
            'worst_class = SHAPE_CLASSES[int(np.nanargmax(test_scores["iou"]))]', "highest"),
        "the index, not the name": ('worst_class = int(np.nanargmin(test_scores["iou"]))', "name"),
        "background skipped without shifting the index": (
            'worst_class = SHAPE_CLASSES[int(np.nanargmin(test_scores["iou"][1:]))]', "not the class with the lowest"),
    },
}

# The points the partial-credit check gives (what seglearn.grading.award prints last).
AWARDS = {
    "boundary band: instructor": 3,
    "boundary band: the IoU of the whole masks": 2,
    "boundary band: Dice of the bands": 2,
    "boundary band: only the 4 neighbours (city-block distance)": None,  # fails on the band: no award
}


def _test_scores(namespace):
    """What ``inference.evaluate`` reports for a model that errs as trained U-Nets do, without training one.

    The predictions are the test masks moved one pixel to the right and down (errors along
    every contour), with the triangles' inner pixels taken for squares (one class clearly the
    weakest), so the IoU, Dice, recall and precision of every class differ.
    """
    metrics, num_classes = namespace["metrics"], namespace["NUM_CLASSES"]
    _, y_test = namespace["load_shapes"]("test")
    predicted = np.roll(y_test, (1, 1), axis=(1, 2))
    triangle, square = (namespace["SHAPE_CLASSES"].index(name) for name in ("triangle", "square"))
    inner = (predicted == triangle) & (np.roll(predicted, 2, axis=2) == triangle)
    predicted[inner] = square
    cm = metrics.confusion_matrix(y_test, predicted, num_classes)
    iou, dice = metrics.iou_from_confusion(cm), metrics.dice_from_confusion(cm)
    return {"iou": iou, "dice": dice, "mean_iou": float(np.nanmean(iou)), "mean_dice": float(np.nanmean(dice)),
            "pixel_accuracy": float(np.trace(cm) / cm.sum()), "confusion_matrix": cm, "num_pixels": int(cm.sum())}


# The last two checks read the test scores of step 6: the test gives them (the chapter's
# 50-epoch training and its evaluation then need not run for them).
GIVEN = {"test_scores": _test_scores}


chapter, test_check_accepts, test_check_rejects = check_tests(
    NOTEBOOK, RIGHT_ANSWERS, WRONG_ANSWERS, given=GIVEN, confirmation=r"^right:", awards=AWARDS)
