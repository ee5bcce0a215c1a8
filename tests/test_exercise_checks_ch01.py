"""Chapter 01's checks accept the correct forms of each answer and reject the plausible wrong ones.

Four checks: the label map and one-hot mask from a network's scores (and back), the IoU of
two 3 x 3 maps by hand, IoU and Dice of every class in NumPy, and the threshold chosen on
the validation split. The chapter is NumPy only: its cells up to the last exercise run in a
few seconds.
"""

from exercise_harness import check_tests

# --------------------------------------------------------------------------- label map and one-hot

_FUNCTIONS = '''
def to_label_map(scores):
    return {label}


def to_one_hot(label_map, num_classes):
    return {hot}


def from_one_hot(one_hot):
    return {back}
'''
_RIGHT_PARTS = dict(label="np.argmax(scores, axis=-1)",
                    hot="np.eye(num_classes, dtype=int)[label_map]",
                    back="np.argmax(one_hot, axis=-1)")


def _functions(**changes):
    return _FUNCTIONS.format(**{**_RIGHT_PARTS, **changes})


# --------------------------------------------------------------------------- IoU and Dice

_DICE_TEMPLATE = '''
classes = np.arange(num_classes)
t = np.asarray(y_true)[..., None] == classes
p = np.asarray(y_pred)[..., None] == classes
axes = tuple(range(t.ndim - 1))
inter = (t & p).sum(axis=axes).astype(float)
total = t.sum(axis=axes) + p.sum(axis=axes)
with np.errstate(invalid="ignore"):
    return {iou}, {dice}
'''


def _iou_dice(iou="inter / (total - inter)", dice="2 * inter / total"):
    return _DICE_TEMPLATE.format(iou=iou, dice=dice)


_BINCOUNT = '''
t = np.asarray(y_true).ravel()
p = np.asarray(y_pred).ravel()
cm = np.bincount(num_classes * t + p, minlength=num_classes**2).reshape(num_classes, num_classes)
tp = np.diag(cm).astype(float)
fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
with np.errstate(invalid="ignore"):
    return tp / (tp + fp + fn), 2 * tp / (2 * tp + fp + fn)
'''

# --------------------------------------------------------------------------- best threshold

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

RIGHT_ANSWERS = {
    "label map and one-hot": {
        "instructor": None,
        "np.eye rows as one-hot": _functions(),
        "comparison with every class, last axis": _functions(
            label="np.asarray(scores).argmax(-1)",
            hot="np.stack([label_map == c for c in range(num_classes)], axis=-1).astype(float)",
            back="(np.asarray(one_hot) * np.arange(one_hot.shape[-1])).sum(axis=-1).astype(int)"),
        "put_along_axis into zeros": _functions(
            hot="np.put_along_axis(h := np.zeros(np.shape(label_map) + (num_classes,), int), "
                "np.asarray(label_map)[..., None], 1, axis=-1) or h",
            back="np.nonzero(one_hot)[-1].reshape(np.shape(one_hot)[:-1])"),
    },
    "IoU by hand": {
        "instructor": None,
        "a decimal": "iou_circle = 0.6",
        "counted in NumPy": "iou_circle = np.sum((y_true_small == 1) & (y_pred_small == 1)) / "
                            "np.sum((y_true_small == 1) | (y_pred_small == 1))",
    },
    "IoU and Dice per class": {
        "instructor": None,
        "one-hot by broadcasting": _iou_dice(),
        "confusion matrix with np.bincount": _BINCOUNT,
        "Dice from the IoU": _iou_dice(dice="2 * (inter / (total - inter)) / (1 + inter / (total - inter))"),
    },
    "best threshold": {
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
    },
}

WRONG_ANSWERS = {
    "label map and one-hot": {
        "argmax over the first axis": (_functions(label="np.argmax(scores, axis=0)"), "last axis"),
        "the lowest score": (_functions(label="np.argmin(scores, axis=-1)"), "highest score wins"),
        "ties to the highest class id": (
            _functions(label="scores.shape[-1] - 1 - np.argmax(scores[..., ::-1], axis=-1)"), "ties"),
        "one-hot straight from the scores' maximum": (
            _functions(label="np.argmax(scores, axis=-1)",
                       hot="(np.asarray(label_map)[..., None] >= np.arange(num_classes)).astype(int)"),
            "exactly one 1"),
        "classes counted from the map": (_functions(hot="np.eye(np.max(label_map) + 1, dtype=int)[label_map]"),
                                         "classes that do not occur"),
        "classes first": (_functions(hot="np.moveaxis(np.eye(num_classes, dtype=int)[label_map], -1, 0)"),
                          "class axis goes last"),
        "back by summing": (_functions(back="np.sum(one_hot, axis=-1).astype(int)"), "position of its 1"),
    },
    "IoU by hand": {
        "the Dice score": ("iou_circle = 2 * 3 / (4 + 4)", "intersection"),
        "intersection over the true pixels": ("iou_circle = 3 / 4", "union"),
        "the background's IoU": ("iou_circle = 4 / 6", "iou_circle = 0.66"),
    },
    "IoU and Dice per class": {
        "union counts the intersection twice": (_iou_dice(iou="inter / total"), "counts the intersection twice"),
        "Dice is the IoU": (_iou_dice(dice="inter / (total - inter)"), "Dice equals the IoU"),
        "an epsilon instead of NaN": (_iou_dice(iou="inter / (total - inter + 1e-7)", dice="2 * inter / (total + 1e-7)"),
                                      "NaN belongs exactly"),
        "image by image": ("""
ious, dices = [], []
for t, p in zip(np.atleast_3d(y_true), np.atleast_3d(y_pred)):
    ious.append(iou_per_class(t, p, num_classes))
    dices.append(seglearn.metrics.dice_per_class(t, p, num_classes))
return np.nanmean(ious, axis=0), np.nanmean(dices, axis=0)
""", "seglearn.metrics"),
        "a loop over the classes": ("""
iou = np.array([np.sum((y_true == c) & (y_pred == c)) / np.sum((y_true == c) | (y_pred == c)) for c in range(num_classes)])
return iou, 2 * iou / (1 + iou)
""", "Python loop"),
        "per-image mean without metrics": ("""
t = np.asarray(y_true).reshape(-1, np.shape(y_true)[-1] * np.shape(y_true)[-2]) if np.ndim(y_true) == 3 else np.asarray(y_true).reshape(1, -1)
p = np.asarray(y_pred).reshape(t.shape)
classes = np.arange(num_classes)
tc, pc = t[..., None] == classes, p[..., None] == classes
inter = (tc & pc).sum(axis=1)
total = tc.sum(axis=1) + pc.sum(axis=1)
with np.errstate(invalid="ignore"):
    return np.nanmean(inter / (total - inter), axis=0), np.nanmean(2 * inter / total, axis=0)
""", "mean of the images"),
    },
    "best threshold": {
        "the IoU of the shapes only": (_SHAPES_ONLY, "shapes only"),
        "image by image": (_PER_IMAGE, "image by image"),
        "pixel accuracy": ("""
mean_iou = [np.mean((val_brightness > t) == (val_foreground == 1)) for t in THRESHOLDS]
best_threshold = THRESHOLDS[np.argmax(mean_iou)]
""", "differs"),
        "the position, not the threshold": (_RIGHT_IOUS + "best_threshold = np.argmax(mean_iou)\n", "position"),
        "the lowest score": (_RIGHT_IOUS + "best_threshold = THRESHOLDS[np.argmin(mean_iou)]\n", "highest mean IoU"),
    },
}


chapter, test_check_accepts, test_check_rejects = check_tests(
    "01_background.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, confirmation="correct")
