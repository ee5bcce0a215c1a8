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
    BOUNDARY_WIDTH,
    accuracy_from_confusion,
    boundary_band,
    boundary_iou,
    boundary_iou_per_class,
    confusion_matrix,
    dice_from_confusion,
    dice_per_class,
    iou_from_confusion,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
)

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
LABEL_FUNCTIONS = [confusion_matrix, iou_per_class, mean_iou, dice_per_class, pixel_accuracy,
                   boundary_iou, boundary_iou_per_class]

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


def band_by_loop(mask, width):
    """The boundary band straight from its definition: a mask pixel with a pixel outside the
    mask (or the image) at chessboard distance <= width."""
    h, w = mask.shape
    band = np.zeros_like(mask, dtype=bool)
    for i in range(h):
        for j in range(w):
            if not mask[i, j]:
                continue
            for di in range(-width, width + 1):
                for dj in range(-width, width + 1):
                    a, b = i + di, j + dj
                    if not (0 <= a < h and 0 <= b < w) or not mask[a, b]:
                        band[i, j] = True
    return band


def square(size, side, top, left, batch=None):
    y = np.zeros((size, size), dtype=np.int64)
    y[top:top + side, left:left + side] = 1
    return y if batch is None else np.stack([y] * batch)


class TestBoundaryBand:
    def test_outline_of_a_square(self):
        # width 1: the 4x4 square minus its 2x2 interior = 12 pixels; width 2: the whole square
        mask = square(6, 4, 1, 1).astype(bool)
        band = boundary_band(mask, width=1)
        assert band.sum() == 12 and not band[2:4, 2:4].any() and band[1, 1:5].all()
        np.testing.assert_array_equal(boundary_band(mask, width=2), mask)

    def test_the_image_border_counts_as_outside(self):
        # a full 5x5 mask: its band of width 1 is the frame (16 pixels), of width 2 all but the centre
        full = np.ones((5, 5), dtype=bool)
        assert boundary_band(full, width=1).sum() == 16
        assert boundary_band(full, width=2).sum() == 24 and not boundary_band(full, width=2)[2, 2]

    @SETTINGS
    @given(seed=st.integers(0, 2**16), width=st.integers(1, 4), fill=st.floats(0.3, 0.95))
    def test_against_the_definition(self, seed, width, fill):
        rng = np.random.default_rng(seed)
        mask = rng.random((9, 11)) < fill
        band = boundary_band(mask, width=width)
        np.testing.assert_array_equal(band, band_by_loop(mask, width))
        assert not np.any(band & ~mask), "the band lies inside the mask"

    def test_batch_images_stay_apart(self):
        # image 0 full, image 1 empty: image 0's band is its own frame, image 1 has none
        masks = np.stack([np.ones((4, 4), bool), np.zeros((4, 4), bool)])
        band = boundary_band(masks, width=1)
        assert band.shape == (2, 4, 4)
        assert band[0].sum() == 12 and not band[1].any()

    def test_accepts_0_1_integers(self):
        mask = square(6, 4, 1, 1)
        np.testing.assert_array_equal(boundary_band(mask, width=1), boundary_band(mask.astype(bool), width=1))

    def test_errors(self):
        with pytest.raises(ValueError, match=r"`width` must be an integer >= 1. Received: width=0"):
            boundary_band(np.ones((3, 3), bool), width=0)
        with pytest.raises(TypeError, match="`width` must be an integer"):
            boundary_band(np.ones((3, 3), bool), width=1.5)
        with pytest.raises(ValueError, match="`masks` must hold booleans or 0/1"):
            boundary_band(np.full((3, 3), 2))
        with pytest.raises(ValueError, match=r"`masks` must not be empty"):
            boundary_band(np.zeros((0, 3, 3), bool))
        with pytest.raises(ValueError, match=r"`masks` must have 2 or 3 dimensions \(H, W\) or \(N, H, W\)"):
            boundary_band(np.zeros((1, 3, 3, 1), bool))


class TestBoundaryIoU:
    def test_square_shifted_by_one_pixel(self):
        # 4x4 square at rows 2-5, columns 1-4 of an 8x8 image, predicted at columns 2-5.
        # square, width 1: two 12-pixel outlines sharing the top and bottom rows but one
        #   pixel each (3 + 3 = 6): 6 / (12 + 12 - 6) = 1/3
        # background, width 1: bands of 42 and 48 pixels sharing 38: 38 / 52
        y_true = square(8, 4, 2, 1)
        y_pred = np.roll(y_true, 1, axis=1)
        np.testing.assert_allclose(boundary_iou_per_class(y_true, y_pred, 2, width=1), [38 / 52, 1 / 3], rtol=1e-12)
        assert boundary_iou(y_true, y_pred, 2, width=1) == pytest.approx((38 / 52 + 1 / 3) / 2, rel=1e-12)
        # the plain IoU of the square is 12 / 20 and of the background 44 / 52
        assert mean_iou(y_true, y_pred, 2) == pytest.approx((12 / 20 + 44 / 52) / 2, rel=1e-12)

    @pytest.mark.parametrize("side", [4, 10, 20])
    def test_a_shifted_square_keeps_a_third_whatever_its_size(self, side):
        # an s x s square one pixel to the right: IoU s(s-1) / (s(s+1)) = (s-1)/(s+1) -> 1, but the
        # outlines (4s - 4 pixels each) share only the top and bottom rows but one pixel, 2(s - 1):
        # 2(s-1) / (8(s-1) - 2(s-1)) = 1/3
        y_true = square(side + 6, side, 3, 2)
        y_pred = np.roll(y_true, 1, axis=1)
        assert iou_per_class(y_true, y_pred, 2)[1] == pytest.approx((side - 1) / (side + 1), rel=1e-12)
        assert boundary_iou_per_class(y_true, y_pred, 2, width=1)[1] == pytest.approx(1 / 3, rel=1e-12)

    def test_a_one_pixel_shift_costs_more_boundary_iou_than_iou(self):
        # a 20x20 square one pixel to the right, width 2: IoU 19/21 > 0.9; the bands (400 - 256 = 144
        # pixels each) share 2 x 2 rows of 19 pixels and 2 columns of 16 pixels: 108 / (288 - 108) = 0.6
        y_true = square(32, 20, 6, 5)
        y_pred = np.roll(y_true, 1, axis=1)
        assert iou_per_class(y_true, y_pred, 2)[1] == pytest.approx(19 / 21, rel=1e-12)
        assert boundary_iou_per_class(y_true, y_pred, 2, width=2)[1] == pytest.approx(108 / 180, rel=1e-12)

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_identical_maps_score_1(self, seed):
        y_true, _ = random_maps(seed, num_classes=4)
        assert boundary_iou(y_true, y_true, 4) == 1.0
        assert boundary_iou(y_true, y_true, 4, width=3) == 1.0

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_width_beyond_the_objects_is_the_plain_iou(self, seed):
        # width >= half the longer side: every pixel is that close to the image's border, every band
        # is its whole mask, the boundary IoU is the IoU
        y_true, y_pred = random_maps(seed, shape=(3, 8, 10), num_classes=4, present=[0, 1, 3])
        np.testing.assert_allclose(boundary_iou_per_class(y_true, y_pred, 4, width=5),
                                   iou_per_class(y_true, y_pred, 4), rtol=1e-12)
        assert boundary_iou(y_true, y_pred, 4, width=5) == pytest.approx(mean_iou(y_true, y_pred, 4), rel=1e-12)
        # a 3x3 square is its own band from width 2 on
        y_true, y_pred = square(12, 3, 4, 4), square(12, 3, 5, 4)
        assert boundary_iou_per_class(y_true, y_pred, 2, width=2)[1] == pytest.approx(
            iou_per_class(y_true, y_pred, 2)[1], rel=1e-12)

    def test_counts_add_up_over_the_batch(self):
        # batch of a shifted square and a perfect copy: the square's bands share 6 + 12 of 18 + 12 pixels
        y_true = square(8, 4, 2, 1, batch=2)
        y_pred = y_true.copy()
        y_pred[0] = np.roll(y_true[0], 1, axis=1)
        assert boundary_iou_per_class(y_true, y_pred, 2, width=1)[1] == pytest.approx(18 / 30, rel=1e-12)

    def test_absent_class_is_nan_and_left_out_of_the_mean(self):
        y_true = square(8, 4, 2, 1)
        y_pred = np.roll(y_true, 1, axis=1)
        per_class = boundary_iou_per_class(y_true, y_pred, 4, width=1)
        assert np.isnan(per_class[2:]).all()
        assert boundary_iou(y_true, y_pred, 4, width=1) == pytest.approx(per_class[:2].mean(), rel=1e-12)

    @SETTINGS
    @given(seed=st.integers(0, 2**16), width=st.integers(1, 3))
    def test_symmetric_and_between_0_and_1(self, seed, width):
        y_true, y_pred = random_maps(seed, shape=(2, 7, 9), num_classes=3)
        score = boundary_iou(y_true, y_pred, 3, width=width)
        assert 0.0 <= score <= 1.0
        assert boundary_iou(y_pred, y_true, 3, width=width) == pytest.approx(score, rel=1e-12)

    def test_errors(self):
        with pytest.raises(ValueError, match=r"`width` must be an integer >= 1. Received: width=0"):
            boundary_iou(Y_TRUE, Y_PRED, 2, width=0)
        with pytest.raises(ValueError, match=r"`y_true` must not be empty \(N >= 1 along axis 0\)"):
            boundary_iou(np.zeros((0, 4, 4), int), np.zeros((0, 4, 4), int), 2)
        with pytest.raises(ValueError, match=r"`y_pred` must hold images of at least 1x1 pixels"):
            boundary_iou(np.zeros((2, 1, 4), int), np.zeros((2, 0, 4), int), 2)
        with pytest.raises(ValueError, match=r"`y_true` must have 2 or 3 dimensions \(H, W\) or \(N, H, W\), but has 4"):
            boundary_iou(np.zeros((1, 4, 4, 1), int), np.zeros((1, 4, 4, 1), int), 2)
        with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
            boundary_iou(Y_TRUE, Y_PRED, 0)


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
