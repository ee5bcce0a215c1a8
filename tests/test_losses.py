"""Tests for seglearn.losses: hand-worked values, properties, errors, and Keras.

Tolerances: the NumPy losses compute in float64; Keras computes in float32, so
comparisons with Keras use ``rtol=1e-5`` (float32 has ~7 significant digits
and a mean over a few hundred pixels loses one or two of them).
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seglearn.losses import (
    EPSILON,
    categorical_focal_crossentropy,
    dice_loss,
    mse,
    sparse_categorical_crossentropy,
)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
KERAS_RTOL = 1e-5


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def random_problem(seed, shape=(2, 5, 4), num_classes=3):
    """Labels (N, H, W), logits and probabilities (N, H, W, C)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=shape)
    logits = rng.normal(scale=2.0, size=(*shape, num_classes))
    return labels, logits, softmax(logits)


# A 2x2 label map used by several hand-worked examples:
#   labels   [[0, 1],     p(class 0), p(class 1) per pixel:
#             [1, 0]]     (0,0): 0.9 0.1   (0,1): 0.4 0.6
#                         (1,0): 0.5 0.5   (1,1): 0.2 0.8
LABELS_2X2 = np.array([[[0, 1], [1, 0]]])
PROBS_2X2 = np.array([[[[0.9, 0.1], [0.4, 0.6]], [[0.5, 0.5], [0.2, 0.8]]]])
# probability of the true class at each pixel: 0.9, 0.6, 0.5, 0.2
TRUE_CLASS_PROBS = np.array([0.9, 0.6, 0.5, 0.2])


# --------------------------------------------------------------------------- mse
class TestMse:
    def test_hand_worked_per_pixel(self):
        # One 2x2 image with C = 2 outputs per pixel; squared errors per pixel:
        #   (0,0): (1-0)^2 + (0-0)^2 = 1      (0,1): (0-0)^2 + (1-3)^2 = 4
        #   (1,0): (2-1)^2 + (2-2)^2 = 1      (1,1): 0
        # N = 4 pixels, so L = (1 + 4 + 1 + 0) / 4 = 1.5
        y_true = np.array([[[[1, 0], [0, 1]], [[2, 2], [5, 5]]]], dtype=float)
        y_pred = np.array([[[[0, 0], [0, 3]], [[1, 2], [5, 5]]]], dtype=float)
        assert mse(y_true, y_pred) == 1.5

    def test_sums_over_outputs_and_averages_over_samples(self):
        rng = np.random.default_rng(0)
        a, b = rng.normal(size=(2, 7, 3))
        assert mse(a, b) == pytest.approx(np.mean(np.sum((a - b) ** 2, axis=1)), rel=1e-12)

    @SETTINGS
    @given(seed=st.integers(0, 2**16), n=st.integers(1, 4), c=st.integers(1, 4))
    def test_properties(self, seed, n, c):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(2, n, 3, 2, c))
        assert mse(a, a) == 0.0
        assert mse(a, b) > 0.0
        assert mse(a, b) == pytest.approx(mse(b, a), rel=1e-12)
        assert mse(a + 3.0, b + 3.0) == pytest.approx(mse(a, b), rel=1e-9)

    def test_refuses_shape_mismatch(self):
        with pytest.raises(ValueError, match="`y_true` and `y_pred` must have the same shape"):
            mse(np.zeros((2, 3)), np.zeros((2, 4)))

    def test_refuses_one_dimensional_input(self):
        with pytest.raises(ValueError, match=r"`y_true` must have 2 or 3 or 4 or 5 dimensions"):
            mse(np.zeros(3), np.zeros(3))

    def test_refuses_nan(self):
        with pytest.raises(ValueError, match="`y_pred` must contain only finite values"):
            mse(np.zeros((1, 2)), np.array([[0.0, np.nan]]))


# --------------------------------------------------------------------------- cross-entropy
class TestSparseCategoricalCrossentropy:
    def test_hand_worked_2x2(self):
        # L = -(log 0.9 + log 0.6 + log 0.5 + log 0.2) / 4
        #   = (0.10536 + 0.51083 + 0.69315 + 1.60944) / 4 = 0.72969
        expected = -np.log(TRUE_CLASS_PROBS).mean()
        assert expected == pytest.approx(0.72969, abs=1e-5)
        assert sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2) == pytest.approx(expected, rel=1e-12)

    def test_hand_worked_class_weight(self):
        # weights (1, 3): the class-1 pixels (0,1) and (1,0) count three times,
        # and the divisor stays the number of pixels (4), not the weight sum (8):
        # L = (1*0.10536 + 3*0.51083 + 3*0.69315 + 1*1.60944) / 4 = 1.33168
        got = sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, class_weight=[1.0, 3.0])
        expected = -(np.log(TRUE_CLASS_PROBS) * [1, 3, 3, 1]).sum() / 4
        assert expected == pytest.approx(1.33168, abs=1e-5)
        assert got == pytest.approx(expected, rel=1e-12)

    def test_hand_worked_ignore_index(self):
        # pixel (1,1) is unlabelled (255): L = -(log 0.9 + log 0.6 + log 0.5) / 3
        labels = np.array([[[0, 1], [1, 255]]])
        got = sparse_categorical_crossentropy(labels, PROBS_2X2, ignore_index=255)
        assert got == pytest.approx(-np.log(TRUE_CLASS_PROBS[:3]).mean(), rel=1e-12)

    def test_everything_ignored_gives_zero_as_keras(self):
        labels = np.full((1, 2, 2), 255)
        assert sparse_categorical_crossentropy(labels, PROBS_2X2, ignore_index=255) == 0.0

    def test_zero_probability_is_clipped(self):
        # p(true) = 0 is clipped to 1e-7 and the row renormalised to (1e-7, 1 - 1e-7) / 1:
        # loss = -log(1e-7) = 16.118
        got = sparse_categorical_crossentropy([1], [[1.0, 0.0]])
        assert got == pytest.approx(-np.log(EPSILON), rel=1e-9)

    def test_logits_are_stable_for_large_values(self):
        # logsumexp(1000, 0) - 0 = 1000 (+ log(1 + e^-1000)), no overflow
        assert sparse_categorical_crossentropy([1], [[1000.0, 0.0]], from_logits=True) == 1000.0

    def test_trailing_unit_axis_in_labels_is_dropped(self):
        labels, logits, _ = random_problem(1)
        a = sparse_categorical_crossentropy(labels, logits, from_logits=True)
        b = sparse_categorical_crossentropy(labels[..., None], logits, from_logits=True)
        assert a == b

    @SETTINGS
    @given(seed=st.integers(0, 2**16), c=st.integers(2, 5))
    def test_logits_and_probabilities_agree(self, seed, c):
        labels, logits, probs = random_problem(seed, shape=(2, 3, 3), num_classes=c)
        # logits with scale 2 keep every probability well above EPSILON, so no clipping
        assert probs.min() > 1e-5
        from_logits = sparse_categorical_crossentropy(labels, logits, from_logits=True)
        from_probs = sparse_categorical_crossentropy(labels, probs)
        assert from_logits == pytest.approx(from_probs, rel=1e-6)
        assert from_logits > 0
        shifted = sparse_categorical_crossentropy(labels, logits + 7.5, from_logits=True)
        assert shifted == pytest.approx(from_logits, rel=1e-9)

    def test_refuses_labels_out_of_range(self):
        with pytest.raises(ValueError, match=r"`y_true` must hold class ids in \[0, 2\) \(found 2"):
            sparse_categorical_crossentropy([[0, 2]], np.full((1, 2, 2), 0.5))

    def test_refuses_label_shape(self):
        with pytest.raises(ValueError, match="without its class axis"):
            sparse_categorical_crossentropy(np.zeros((1, 3)), np.full((1, 2, 2), 0.5))

    def test_refuses_logits_as_probabilities(self):
        with pytest.raises(ValueError, match="pass from_logits=True"):
            sparse_categorical_crossentropy([0], [[2.0, -1.0]])

    def test_refuses_class_weight_length(self):
        # the one class-weight check of seglearn._validation, shared with pipeline and training
        with pytest.raises(ValueError, match=r"`class_weight` must hold 2 weights >= 0 \(one per class\)"):
            sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, class_weight=[1, 2, 3])

    def test_refuses_negative_or_scalar_class_weight(self):
        with pytest.raises(ValueError, match=r"`class_weight` must hold 2 weights >= 0.*class_weight=\[1, -2\]"):
            sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, class_weight=[1, -2])
        with pytest.raises(ValueError, match=r"`class_weight` must hold 2 weights >= 0.*class_weight=2.0"):
            sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, class_weight=2.0)

    def test_class_weight_as_a_dict_weights_the_named_classes(self):
        as_dict = sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, class_weight={1: 3.0})
        as_list = sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, class_weight=[1.0, 3.0])
        assert as_dict == pytest.approx(as_list)

    def test_refuses_non_bool_from_logits(self):
        with pytest.raises(TypeError, match="`from_logits` must be True or False"):
            sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, from_logits="yes")

    def test_refuses_fractional_ignore_index(self):
        with pytest.raises(TypeError, match="`ignore_index` must be an integer"):
            sparse_categorical_crossentropy(LABELS_2X2, PROBS_2X2, ignore_index=0.5)


# --------------------------------------------------------------------------- focal
class TestCategoricalFocalCrossentropy:
    def test_hand_worked_2x2(self):
        # one-hot targets of LABELS_2X2; the true-class probabilities are 0.9, 0.6, 0.5, 0.2:
        # l = 0.25 * (1 - p)^2 * -log p
        #   (0,0): 0.25 * 0.01 * 0.10536 = 0.000263   (0,1): 0.25 * 0.16 * 0.51083 = 0.020433
        #   (1,0): 0.25 * 0.25 * 0.69315 = 0.043322   (1,1): 0.25 * 0.64 * 1.60944 = 0.257510
        # L = (0.000263 + 0.020433 + 0.043322 + 0.257510) / 4 = 0.080382
        one_hot = np.eye(2)[LABELS_2X2]
        p = TRUE_CLASS_PROBS
        expected = np.mean(0.25 * (1 - p) ** 2 * -np.log(p))
        assert expected == pytest.approx(0.080382, abs=1e-6)
        assert categorical_focal_crossentropy(one_hot, PROBS_2X2) == pytest.approx(expected, rel=1e-9)

    def test_sparse_labels_equal_one_hot(self):
        labels, logits, _ = random_problem(2)
        one_hot = np.eye(3)[labels]
        a = categorical_focal_crossentropy(labels, logits, from_logits=True, alpha=[0.2, 0.3, 0.5])
        b = categorical_focal_crossentropy(one_hot, logits, from_logits=True, alpha=[0.2, 0.3, 0.5])
        assert a == b

    @SETTINGS
    @given(seed=st.integers(0, 2**16))
    def test_gamma_zero_alpha_one_is_cross_entropy(self, seed):
        labels, logits, _ = random_problem(seed)
        focal = categorical_focal_crossentropy(labels, logits, alpha=1.0, gamma=0.0, from_logits=True)
        ce = sparse_categorical_crossentropy(labels, logits, from_logits=True)
        assert focal == pytest.approx(ce, rel=1e-9)
        # the focal factor (1 - p)^gamma < 1 can only lower the loss
        assert categorical_focal_crossentropy(labels, logits, alpha=1.0, gamma=2.0, from_logits=True) < focal

    def test_refuses_negative_gamma(self):
        with pytest.raises(ValueError, match="`gamma` must be a finite number >= 0"):
            categorical_focal_crossentropy(LABELS_2X2, PROBS_2X2, gamma=-1.0)

    def test_refuses_alpha_length(self):
        with pytest.raises(ValueError, match=r"`alpha` must be a number or have one entry per class \(2\)"):
            categorical_focal_crossentropy(LABELS_2X2, PROBS_2X2, alpha=[0.1, 0.2, 0.7])

    def test_refuses_bad_one_hot(self):
        with pytest.raises(ValueError, match="`y_true` must hold one-hot"):
            categorical_focal_crossentropy(2 * np.eye(2)[LABELS_2X2], PROBS_2X2)
        with pytest.raises(ValueError, match="`y_true` and `y_pred` must have the same shape"):
            categorical_focal_crossentropy(np.zeros((1, 2, 2, 3)), PROBS_2X2)

    def test_refuses_all_zero_probabilities(self):
        with pytest.raises(ValueError, match="positive sum over classes"):
            categorical_focal_crossentropy([[1, 0]], [[0.0, 0.0]])


# --------------------------------------------------------------------------- dice
class TestDiceLoss:
    def test_hand_worked_two_classes(self):
        # labels [[0, 1], [1, 0]] and PROBS_2X2:
        #   class 0: I = 0.9 + 0.2 = 1.1, sum y = 2, sum p = 0.9 + 0.4 + 0.5 + 0.2 = 2.0
        #            D0 = (2 * 1.1 + 1) / (2 + 2.0 + 1) = 3.2 / 5 = 0.64
        #   class 1: I = 0.6 + 0.5 = 1.1, sum y = 2, sum p = 0.1 + 0.6 + 0.5 + 0.8 = 2.0
        #            D1 = 3.2 / 5 = 0.64
        #   L = 1 - (0.64 + 0.64) / 2 = 0.36
        assert dice_loss(LABELS_2X2, PROBS_2X2, smooth=1.0) == pytest.approx(0.36, rel=1e-12)
        # without smoothing: D0 = D1 = 2.2 / 4 = 0.55, L = 0.45
        assert dice_loss(LABELS_2X2, PROBS_2X2, smooth=0.0) == pytest.approx(0.45, rel=1e-12)

    def test_empty_class_scores_one(self):
        # every pixel is class 0 and predicted class 0 with certainty; class 1 is
        # absent from both, so D1 = (0 + s) / (0 + 0 + s) = 1 (and 1 by definition
        # when s = 0): L = 0. Keras scores such a class 0 (see TestAgainstKeras).
        y = np.zeros((1, 2, 2), dtype=int)
        p = np.eye(2)[y]
        assert dice_loss(y, p, smooth=1.0) == 0.0
        assert dice_loss(y, p, smooth=0.0) == 0.0

    @SETTINGS
    @given(seed=st.integers(0, 2**16), smooth=st.sampled_from([0.0, 1e-3, 1.0, 10.0]))
    def test_properties(self, seed, smooth):
        labels, logits, probs = random_problem(seed)
        loss = dice_loss(labels, probs, smooth=smooth)
        assert 0.0 < loss < 1.0
        assert dice_loss(labels, logits, smooth=smooth, from_logits=True) == pytest.approx(loss, rel=1e-12)
        # a perfect prediction has loss 0 for any smoothing
        assert dice_loss(labels, np.eye(3)[labels], smooth=smooth) == pytest.approx(0.0, abs=1e-12)

    def test_refuses_negative_smooth(self):
        with pytest.raises(ValueError, match="`smooth` must be a finite number >= 0"):
            dice_loss(LABELS_2X2, PROBS_2X2, smooth=-1.0)

    def test_refuses_logits_as_probabilities(self):
        with pytest.raises(ValueError, match="pass from_logits=True"):
            dice_loss(LABELS_2X2, PROBS_2X2 * 3)


# --------------------------------------------------------------------------- Keras
@pytest.mark.tf
class TestAgainstKeras:
    @pytest.mark.parametrize("shape", [(4, 3), (2, 5, 5, 3), (2, 4, 4, 1)])
    def test_mse_is_c_times_keras(self, keras, shape):
        rng = np.random.default_rng(3)
        a, b = rng.normal(size=(2, *shape)).astype(np.float32)
        ours = mse(a, b)
        theirs = float(keras.losses.MeanSquaredError()(a, b))
        assert ours == pytest.approx(shape[-1] * theirs, rel=KERAS_RTOL)

    @pytest.mark.parametrize("from_logits", [False, True])
    @pytest.mark.parametrize("weighted", [False, True])
    @pytest.mark.parametrize(("shape", "c"), [((3, 6, 5), 4), ((8,), 2), ((1, 4, 4), 5)])
    def test_sparse_categorical_crossentropy(self, keras, from_logits, weighted, shape, c):
        labels, logits, probs = random_problem(4, shape=shape, num_classes=c)
        y_pred = (logits if from_logits else probs).astype(np.float32)
        weights = np.linspace(0.5, 2.0, c) if weighted else None
        ours = sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits, class_weight=weights)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        sample_weight = None if weights is None else weights[labels].astype(np.float32)
        theirs = float(loss(labels, y_pred, sample_weight=sample_weight))
        assert ours == pytest.approx(theirs, rel=KERAS_RTOL)

    def test_sparse_categorical_crossentropy_clipping_and_renormalising(self, keras):
        # probabilities of exactly 0 and 1 are clipped, and rows that do not sum
        # to 1 are renormalised, as Keras's TensorFlow backend does
        y_pred = np.array([[1.0, 0.0, 0.0], [0.2, 0.2, 0.2], [0.0, 0.5, 0.0]], dtype=np.float32)
        labels = np.array([1, 2, 1])
        theirs = float(keras.losses.SparseCategoricalCrossentropy()(labels, y_pred))
        assert sparse_categorical_crossentropy(labels, y_pred) == pytest.approx(theirs, rel=KERAS_RTOL)

    def test_sparse_categorical_crossentropy_ignore_class(self, keras):
        labels, logits, _ = random_problem(5, shape=(2, 4, 4))
        labels[0, :2] = 255
        ours = sparse_categorical_crossentropy(labels, logits, from_logits=True, ignore_index=255)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
        theirs = float(loss(labels, logits.astype(np.float32)))
        assert ours == pytest.approx(theirs, rel=KERAS_RTOL)

    @pytest.mark.parametrize("from_logits", [False, True])
    @pytest.mark.parametrize("alpha", [0.25, (0.2, 0.3, 0.5)])
    @pytest.mark.parametrize("gamma", [0.0, 2.0, 3.5])
    def test_categorical_focal_crossentropy(self, keras, from_logits, alpha, gamma):
        labels, logits, probs = random_problem(6, shape=(2, 5, 5))
        one_hot = np.eye(3, dtype=np.float32)[labels]
        y_pred = (logits if from_logits else probs).astype(np.float32)
        ours = categorical_focal_crossentropy(one_hot, y_pred, alpha=alpha, gamma=gamma, from_logits=from_logits)
        keras_alpha = list(alpha) if isinstance(alpha, tuple) else alpha
        loss = keras.losses.CategoricalFocalCrossentropy(alpha=keras_alpha, gamma=gamma, from_logits=from_logits)
        assert ours == pytest.approx(float(loss(one_hot, y_pred)), rel=KERAS_RTOL)

    def test_categorical_focal_crossentropy_clipping(self, keras):
        one_hot = np.eye(3, dtype=np.float32)[[0, 1, 2]]
        y_pred = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.1, 0.1, 0.3]], dtype=np.float32)
        ours = categorical_focal_crossentropy(one_hot, y_pred)
        theirs = float(keras.losses.CategoricalFocalCrossentropy()(one_hot, y_pred))
        assert ours == pytest.approx(theirs, rel=KERAS_RTOL)

    @pytest.mark.parametrize("seed", [7, 8])
    def test_dice_per_class_equals_keras_with_axis(self, keras, seed):
        # softmax probabilities are > 0, so every class has a non-empty region
        # and the definitions agree up to Keras's 1e-7 in the denominator
        labels, _, probs = random_problem(seed, shape=(2, 6, 6), num_classes=4)
        one_hot = np.eye(4, dtype=np.float32)[labels]
        theirs = float(keras.losses.Dice(axis=(0, 1, 2))(one_hot, probs.astype(np.float32)))
        assert dice_loss(labels, probs, smooth=0.0) == pytest.approx(theirs, rel=KERAS_RTOL)

    def test_dice_single_class_equals_keras_default(self, keras):
        # Keras's docstring example, shape (2, 2, 2, 1); the default axis=None pools
        # every pixel of the batch into one ratio.
        y_true = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
        y_pred = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
        # I = 1 + 0.4 = 1.4, sum y = 4, sum p = 3.3: L = 1 - 2.8 / 7.3 = 0.616438
        assert dice_loss(y_true, y_pred, smooth=0.0) == pytest.approx(1 - 2.8 / 7.3, rel=1e-12)
        theirs = float(keras.losses.Dice()(y_true.astype(np.float32), y_pred.astype(np.float32)))
        assert dice_loss(y_true, y_pred, smooth=0.0) == pytest.approx(theirs, rel=KERAS_RTOL)

    def test_dice_empty_class_differs_from_keras(self, keras):
        # The documented disagreement: class 1 absent from targets and predictions.
        # Keras: D1 = 0 / (0 + 1e-7) = 0, so L = 1 - (1 + 0) / 2 = 0.5; here D1 = 1, L = 0.
        y = np.zeros((1, 2, 2), dtype=int)
        one_hot = np.eye(2, dtype=np.float32)[y]
        theirs = float(keras.losses.Dice(axis=(0, 1, 2))(one_hot, one_hot))
        assert theirs == pytest.approx(0.5, rel=1e-6)
        assert dice_loss(y, one_hot, smooth=0.0) == 0.0
