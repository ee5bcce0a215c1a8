"""Tests for seglearn.metrics: hand-worked 2x2 maps, properties, errors, Keras.

Keras's MeanIoU accumulates in float32 and adds 1e-7 to each denominator, so
comparisons with it use ``rtol=1e-6``; everything else is exact arithmetic on
integer counts (``rel=1e-12``).
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seglearn.metrics import (
    accuracy_from_confusion,
    confusion_matrix,
    dice_from_confusion,
    dice_per_class,
    iou_from_confusion,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
)

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
LABEL_FUNCTIONS = [confusion_matrix, iou_per_class, mean_iou, dice_per_class, pixel_accuracy]

# The 2x2 example used throughout (3 classes, class 2 never occurs):
#   y_true [[0, 1],    y_pred [[0, 0],
#           [1, 1]]           [1, 1]]
# pixel (0,1) is class 1 predicted as 0; the other three are right.
Y_TRUE = np.array([[0, 1], [1, 1]])
Y_PRED = np.array([[0, 0], [1, 1]])


def random_maps(seed, shape=(3, 8, 8), num_classes=4, present=None):
    """Two label maps; ``present`` restricts the classes that are drawn."""
    rng = np.random.default_rng(seed)
    classes = np.arange(num_classes) if present is None else np.asarray(present)
    return rng.choice(classes, size=shape), rng.choice(classes, size=shape)


class TestHandWorked:
    def test_confusion_matrix(self):
        # row 0 (true 0): pixel (0,0) predicted 0             -> [1, 0, 0]
        # row 1 (true 1): (0,1) predicted 0, (1,0), (1,1) -> 1 -> [1, 2, 0]
        # row 2 (true 2): no pixel                             -> [0, 0, 0]
        cm = confusion_matrix(Y_TRUE, Y_PRED, num_classes=3)
        np.testing.assert_array_equal(cm, [[1, 0, 0], [1, 2, 0], [0, 0, 0]])
        assert cm.dtype == np.int64

    def test_iou(self):
        # class 0: TP = 1, FP = 1 (pixel (0,1)), FN = 0 -> 1 / 2
        # class 1: TP = 2, FP = 0, FN = 1 (pixel (0,1)) -> 2 / 3
        # class 2: TP = FP = FN = 0                    -> NaN
        np.testing.assert_allclose(iou_per_class(Y_TRUE, Y_PRED, 3), [1 / 2, 2 / 3, np.nan], rtol=1e-12)
        # mean over the classes that occur: (1/2 + 2/3) / 2 = 7/12
        assert mean_iou(Y_TRUE, Y_PRED, 3) == pytest.approx(7 / 12, rel=1e-12)

    def test_dice(self):
        # class 0: 2*1 / (2*1 + 1 + 0) = 2/3;  class 1: 2*2 / (2*2 + 0 + 1) = 4/5
        np.testing.assert_allclose(dice_per_class(Y_TRUE, Y_PRED, 3), [2 / 3, 4 / 5, np.nan], rtol=1e-12)

    def test_accuracy(self):
        # 3 of 4 pixels right
        assert pixel_accuracy(Y_TRUE, Y_PRED, 3) == 0.75

    def test_ignore_index(self):
        # pixel (0,1) unlabelled: the remaining three pixels are all right,
        # class 0 has IoU 1/1, class 1 has IoU 2/2
        y_true = np.array([[0, 255], [1, 1]])
        assert confusion_matrix(y_true, Y_PRED, 2, ignore_index=255).tolist() == [[1, 0], [0, 2]]
        assert pixel_accuracy(y_true, Y_PRED, 2, ignore_index=255) == 1.0
        np.testing.assert_array_equal(iou_per_class(y_true, Y_PRED, 2, ignore_index=255), [1.0, 1.0])

    def test_everything_ignored(self):
        y_true = np.full((2, 2), 255)
        assert confusion_matrix(y_true, Y_PRED, 2, ignore_index=255).sum() == 0
        assert np.isnan(pixel_accuracy(y_true, Y_PRED, 2, ignore_index=255))
        assert np.isnan(mean_iou(y_true, Y_PRED, 2, ignore_index=255))
        assert np.isnan(iou_per_class(y_true, Y_PRED, 2, ignore_index=255)).all()

    def test_from_confusion_equals_label_functions(self):
        y_true, y_pred = random_maps(0)
        cm = confusion_matrix(y_true, y_pred, 4)
        np.testing.assert_array_equal(iou_from_confusion(cm), iou_per_class(y_true, y_pred, 4))
        np.testing.assert_array_equal(dice_from_confusion(cm), dice_per_class(y_true, y_pred, 4))
        assert accuracy_from_confusion(cm) == pixel_accuracy(y_true, y_pred, 4)

    def test_confusion_matrices_of_batches_add_up(self):
        y_true, y_pred = random_maps(1, shape=(6, 5, 5))
        whole = confusion_matrix(y_true, y_pred, 4)
        parts = confusion_matrix(y_true[:2], y_pred[:2], 4) + confusion_matrix(y_true[2:], y_pred[2:], 4)
        np.testing.assert_array_equal(whole, parts)


class TestProperties:
    @SETTINGS
    @given(seed=st.integers(0, 2**16), num_classes=st.integers(1, 6), size=st.integers(1, 7))
    def test_confusion_matrix_against_a_loop(self, seed, num_classes, size):
        y_true, y_pred = random_maps(seed, shape=(2, size, size + 1), num_classes=num_classes)
        expected = np.zeros((num_classes, num_classes), dtype=np.int64)
        for t, p in zip(y_true.ravel(), y_pred.ravel()):
            expected[t, p] += 1
        np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, num_classes), expected)

    @SETTINGS
    @given(seed=st.integers(0, 2**16), num_classes=st.integers(2, 6))
    def test_scores_and_their_relations(self, seed, num_classes):
        y_true, y_pred = random_maps(seed, num_classes=num_classes)
        iou = iou_per_class(y_true, y_pred, num_classes)
        dice = dice_per_class(y_true, y_pred, num_classes)
        present = ~np.isnan(iou)
        assert np.all((iou[present] >= 0) & (iou[present] <= 1))
        np.testing.assert_array_equal(np.isnan(dice), ~present)
        # Dice = 2 IoU / (1 + IoU), and Dice >= IoU
        np.testing.assert_allclose(dice[present], 2 * iou[present] / (1 + iou[present]), rtol=1e-12)
        assert np.all(dice[present] >= iou[present])
        # a perfect prediction scores 1 everywhere it is defined
        assert mean_iou(y_true, y_true, num_classes) == 1.0
        assert pixel_accuracy(y_true, y_true, num_classes) == 1.0
        # swapping truth and prediction transposes the matrix and keeps IoU
        np.testing.assert_array_equal(
            confusion_matrix(y_pred, y_true, num_classes), confusion_matrix(y_true, y_pred, num_classes).T
        )
        np.testing.assert_allclose(iou_per_class(y_pred, y_true, num_classes), iou, rtol=1e-12)

    def test_absent_class_is_nan_and_left_out_of_the_mean(self):
        y_true, y_pred = random_maps(2, num_classes=5, present=[0, 1, 3])
        iou = iou_per_class(y_true, y_pred, 5)
        assert np.isnan(iou[[2, 4]]).all() and not np.isnan(iou[[0, 1, 3]]).any()
        assert mean_iou(y_true, y_pred, 5) == pytest.approx(iou[[0, 1, 3]].mean(), rel=1e-12)

    def test_accepts_uint8_and_whole_floats(self):
        a = confusion_matrix(Y_TRUE.astype(np.uint8), Y_PRED.astype(np.float32), 2)
        np.testing.assert_array_equal(a, confusion_matrix(Y_TRUE, Y_PRED, 2))

    def test_large_maps(self):
        # 1000 maps of 64x64 (4 million pixels): one bincount; the timing
        # itself lives in benchmarks/bench_metrics.py
        y_true, y_pred = random_maps(3, shape=(1000, 64, 64), num_classes=5)
        cm = confusion_matrix(y_true.astype(np.uint8), y_pred.astype(np.uint8), 5)
        assert cm.sum() == 1000 * 64 * 64
        assert np.trace(cm) == np.count_nonzero(y_true == y_pred)


class TestErrors:
    @pytest.mark.parametrize("func", LABEL_FUNCTIONS)
    def test_label_out_of_range(self, func):
        with pytest.raises(ValueError, match=r"`y_pred` must hold class ids in \[0, 2\) \(found 2 at index \(1, 0\)\)"):
            func(Y_TRUE, [[0, 0], [2, 1]], 2)
        with pytest.raises(ValueError, match=r"`y_true` must hold class ids in \[0, 2\) \(found -1"):
            func([[0, -1], [1, 1]], Y_PRED, 2)

    @pytest.mark.parametrize("func", LABEL_FUNCTIONS)
    def test_shape_mismatch(self, func):
        with pytest.raises(ValueError, match=r"`y_true` and `y_pred` must have the same shape"):
            func(Y_TRUE, Y_PRED[:1], 2)

    def test_ignore_index_is_only_allowed_in_y_true(self):
        with pytest.raises(ValueError, match="`y_pred` must hold class ids"):
            confusion_matrix(Y_TRUE, [[0, 255], [1, 1]], 2, ignore_index=255)

    def test_fractional_labels(self):
        with pytest.raises(TypeError, match="`y_pred` must hold integer labels"):
            confusion_matrix(Y_TRUE, [[0, 0.5], [1, 1]], 2)

    def test_bad_num_classes(self):
        with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
            confusion_matrix(Y_TRUE, Y_PRED, 0)
        with pytest.raises(TypeError, match="`num_classes` must be an integer"):
            mean_iou(Y_TRUE, Y_PRED, 2.0)

    def test_bad_ignore_index(self):
        with pytest.raises(TypeError, match="`ignore_index` must be an integer"):
            confusion_matrix(Y_TRUE, Y_PRED, 2, ignore_index="void")

    @pytest.mark.parametrize("func", [iou_from_confusion, dice_from_confusion, accuracy_from_confusion])
    def test_bad_confusion_matrix(self, func):
        with pytest.raises(ValueError, match=r"`cm` must be a non-empty square \(C, C\) matrix"):
            func(np.zeros((2, 3)))
        with pytest.raises(ValueError, match="`cm` must hold counts >= 0"):
            func([[1, -1], [0, 2]])
        with pytest.raises(ValueError, match=r"`cm` must have 2 dimensions \(C, C\)"):
            func([1, 2, 3])


@pytest.mark.tf
class TestAgainstKeras:
    @pytest.mark.parametrize(
        ("seed", "num_classes", "present"),
        [(0, 4, None), (1, 5, [0, 2, 3]), (2, 2, None), (3, 6, [1])],
    )
    def test_mean_iou(self, keras, seed, num_classes, present):
        y_true, y_pred = random_maps(seed, num_classes=num_classes, present=present)
        metric = keras.metrics.MeanIoU(num_classes=num_classes)
        metric.update_state(y_true, y_pred)
        assert mean_iou(y_true, y_pred, num_classes) == pytest.approx(float(metric.result()), rel=1e-6)
        np.testing.assert_array_equal(
            confusion_matrix(y_true, y_pred, num_classes), np.asarray(metric.total_cm).astype(np.int64)
        )

    def test_mean_iou_class_only_predicted(self, keras):
        # class 2 occurs only in the prediction: IoU_2 = 0 counts in the mean
        rng = np.random.default_rng(7)
        y_true = rng.integers(0, 2, size=(2, 6, 6))
        y_pred = rng.integers(0, 3, size=(2, 6, 6))
        assert iou_per_class(y_true, y_pred, 4)[2] == 0.0
        metric = keras.metrics.MeanIoU(num_classes=4)
        metric.update_state(y_true, y_pred)
        assert mean_iou(y_true, y_pred, 4) == pytest.approx(float(metric.result()), rel=1e-6)

    def test_mean_iou_ignore_class(self, keras):
        y_true, y_pred = random_maps(4, num_classes=3)
        y_true[0] = 255
        metric = keras.metrics.MeanIoU(num_classes=3, ignore_class=255)
        metric.update_state(y_true, y_pred)
        assert mean_iou(y_true, y_pred, 3, ignore_index=255) == pytest.approx(float(metric.result()), rel=1e-6)

    def test_iou_per_class(self, keras):
        y_true, y_pred = random_maps(5, num_classes=3)
        metric = keras.metrics.IoU(num_classes=3, target_class_ids=[0, 1, 2])
        for c in range(3):
            single = keras.metrics.IoU(num_classes=3, target_class_ids=[c])
            single.update_state(y_true, y_pred)
            assert iou_per_class(y_true, y_pred, 3)[c] == pytest.approx(float(single.result()), rel=1e-6)
        metric.update_state(y_true, y_pred)
        assert mean_iou(y_true, y_pred, 3) == pytest.approx(float(metric.result()), rel=1e-6)

    def test_pixel_accuracy(self, keras):
        y_true, y_pred = random_maps(6)
        metric = keras.metrics.Accuracy()
        metric.update_state(y_true, y_pred)
        assert pixel_accuracy(y_true, y_pred, 4) == pytest.approx(float(metric.result()), rel=1e-6)
