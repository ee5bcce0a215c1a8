"""Tests for the shared input checks in seglearn._validation."""

import numpy as np
import pytest

from seglearn import _validation as v


class TestCheckArray:
    def test_converts_lists_and_keeps_dtype(self):
        arr = v.check_array([[1, 2], [3, 4]], "x", ndim=2)
        assert arr.shape == (2, 2)
        assert arr.dtype.kind == "i"

    def test_casts_when_asked(self):
        assert v.check_array([1, 2], "x", dtype=np.float32).dtype == np.float32

    @pytest.mark.parametrize("ndim", [4, (3, 4)])
    def test_wrong_rank_names_argument_layout_and_shape(self, ndim):
        with pytest.raises(ValueError, match=r"`x` must have .*4 dimensions \(N, H, W, C\), but has 2.*shape \(3, 3\)"):
            v.check_array(np.zeros((3, 3)), "x", ndim=ndim, layout="(N, H, W, C)")

    @pytest.mark.parametrize("bad", ["abc", None, np.array(["a", "b"]), np.array([{}], dtype=object)])
    def test_non_numeric_is_a_type_error(self, bad):
        with pytest.raises(TypeError, match="`x` must"):
            v.check_array(bad, "x")

    def test_ragged_list_is_a_type_error(self):
        with pytest.raises(TypeError, match="could not convert"):
            v.check_array([[1, 2], [3]], "x")

    @pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
    def test_non_finite_values_are_counted(self, value):
        with pytest.raises(ValueError, match=r"found 1 NaN or infinite"):
            v.check_array([0.0, value, 1.0], "kernel")

    def test_non_finite_allowed_when_asked(self):
        assert np.isnan(v.check_array([np.nan], "x", finite=False)[0])

    def test_integer_kind_accepts_whole_floats_and_refuses_fractions(self):
        assert v.check_array([1.0, 2.0], "y", kind="integer").shape == (2,)
        with pytest.raises(TypeError, match="whole numbers"):
            v.check_array([1.5], "y", kind="integer")


class TestScalars:
    @pytest.mark.parametrize("value", [0, -3])
    def test_positive_int_refuses_small(self, value):
        with pytest.raises(ValueError, match=rf"Received: n={value}"):
            v.check_positive_int(value, "n")

    @pytest.mark.parametrize("value", [2.0, True, "2", None])
    def test_positive_int_refuses_non_integers(self, value):
        with pytest.raises(TypeError, match="`n` must be an integer"):
            v.check_positive_int(value, "n")

    def test_positive_int_accepts_numpy_integers(self):
        assert v.check_positive_int(np.int64(4), "n") == 4

    @pytest.mark.parametrize("value, expected", [(2, (2, 2)), ((1, 3), (1, 3)), ([2, 1], (2, 1)), (np.int32(3), (3, 3))])
    def test_int_pair_accepts_int_or_pair(self, value, expected):
        assert v.check_int_pair(value, "strides") == expected

    @pytest.mark.parametrize("value, error", [((0, 1), ValueError), (-1, ValueError), ((1, 2, 3), ValueError),
                                              (1.5, TypeError), ((1.0, 2), TypeError), ("2", TypeError)])
    def test_int_pair_refuses(self, value, error):
        with pytest.raises(error, match=r"`strides` must be .*Received: strides="):
            v.check_int_pair(value, "strides")

    def test_int_pair_minimum_zero(self):
        assert v.check_int_pair(0, "padding", minimum=0) == (0, 0)

    def test_choice_is_case_insensitive(self):
        assert v.check_choice("Valid", "padding", ("valid", "same")) == "valid"

    def test_choice_lists_options(self):
        with pytest.raises(ValueError, match=r"one of 'valid', 'same'. Received: padding='full'"):
            v.check_choice("full", "padding", ("valid", "same"))

    @pytest.mark.parametrize("value", [1, "yes", None])
    def test_bool(self, value):
        with pytest.raises(TypeError, match="`flag` must be True or False"):
            v.check_bool(value, "flag")

    @pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
    def test_real_bounds(self, value):
        with pytest.raises(ValueError, match=r"`lr` must be a finite number > 0"):
            v.check_real(value, "lr", low=0, low_inclusive=False)

    def test_real_upper_bound(self):
        with pytest.raises(ValueError, match=r"<= 1. Received: alpha=1.5"):
            v.check_real(1.5, "alpha", low=0, high=1)


class TestLabels:
    def test_same_shape(self):
        v.check_same_shape(np.zeros((2, 2)), "a", np.ones((2, 2)), "b")
        with pytest.raises(ValueError, match=r"a.shape=\(2, 2\), b.shape=\(2,\)"):
            v.check_same_shape(np.zeros((2, 2)), "a", np.ones(2), "b")

    def test_labels_out_of_range_reports_value_and_index(self):
        with pytest.raises(ValueError, match=r"\[0, 2\) \(found -1 at index \(1, 0\)\)"):
            v.check_labels([[0, 1], [-1, 0]], "y_true", 2)

    def test_ignore_index_is_allowed(self):
        labels = v.check_labels([[0, 255], [1, 0]], "y_true", 2, ignore_index=255)
        assert labels.dtype == np.int64 and labels[0, 1] == 255

    def test_describe_shortens_long_values(self):
        assert len(v.describe(list(range(100)))) == 80


class TestImagesAndModels:
    def test_images_become_float32_without_a_copy_when_they_are(self):
        x = np.zeros((2, 4, 4, 3), dtype=np.float32)
        assert v.check_images(x) is x
        assert v.check_images(np.zeros((1, 2, 2, 1), dtype=np.uint8)).dtype == np.float32

    def test_images_name_the_argument_and_layout(self):
        with pytest.raises(ValueError, match=r"`calib` must have 4 dimensions \(N, H, W, C\), but has 3"):
            v.check_images(np.zeros((4, 4, 3)), "calib")

    @pytest.mark.tf
    def test_model_must_be_a_keras_model(self):
        import keras

        model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(1, 1)])
        assert v.check_model(model) is model
        with pytest.raises(TypeError, match=r"`net` must be a keras.Model. Received: net='unet'"):
            v.check_model("unet", "net")


# --- one rule for empty batches (issue 18): a ValueError naming the argument ---------


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: __import__("seglearn.ops").ops.conv2d(np.zeros((0, 4, 4, 1)), np.zeros((3, 3, 1, 1))), "x"),
        (lambda: __import__("seglearn.ops").ops.max_pool2d(np.zeros((0, 4, 4, 1))), "x"),
        (lambda: __import__("seglearn.ops").ops.avg_pool2d(np.zeros((0, 4, 4, 1))), "x"),
        (lambda: __import__("seglearn.losses").losses.mse(np.zeros((0, 2)), np.zeros((0, 2))), "y_true"),
        (lambda: __import__("seglearn.losses").losses.sparse_categorical_crossentropy(
            np.zeros((0,), int), np.full((0, 2), 0.5)), "y_pred"),
        (lambda: __import__("seglearn.losses").losses.categorical_focal_crossentropy(
            np.zeros((0, 2)), np.full((0, 2), 0.5)), "y_pred"),
        (lambda: __import__("seglearn.losses").losses.dice_loss(np.zeros((0, 2)), np.full((0, 2), 0.5)), "y_pred"),
        (lambda: __import__("seglearn.metrics").metrics.pixel_accuracy(
            np.zeros((0, 4, 4), int), np.zeros((0, 4, 4), int)), "y_true"),
        (lambda: __import__("seglearn.metrics").metrics.confusion_matrix(
            np.zeros((0, 4, 4), int), np.zeros((0, 4, 4), int), 2), "y_true"),
        (lambda: v.check_images(np.zeros((0, 4, 4, 3))), "images"),
    ],
    ids=["conv2d", "max_pool2d", "avg_pool2d", "mse", "sparse_ce", "focal", "dice", "pixel_accuracy",
         "confusion_matrix", "check_images"],
)
def test_an_empty_batch_is_a_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"`{name}` must not be empty \(N >= 1 along axis 0\)"):
        call()


def test_pixel_accuracy_does_not_need_num_classes():
    from seglearn.metrics import pixel_accuracy

    y_true, y_pred = np.array([[0, 3], [1, 1]]), np.array([[0, 0], [1, 1]])
    assert pixel_accuracy(y_true, y_pred) == pixel_accuracy(y_true, y_pred, 4) == 0.75
    assert pixel_accuracy([[0, 255], [1, 1]], [[0, 0], [1, 1]], ignore_index=255) == 1.0
    with pytest.raises(ValueError, match="y_true"):
        pixel_accuracy(y_true, y_pred, 3)  # labels are checked when num_classes is given


def test_conv_output_size_takes_conv2d_pairs():
    from seglearn.ops import conv2d, conv_output_size

    x, kernel = np.zeros((1, 9, 7, 1)), np.zeros((3, 2, 1, 1))
    for padding in ((1, 0), (0, 2), 1, "same", "valid"):
        out = conv2d(x, kernel, strides=(2, 1), padding=padding)
        assert conv_output_size((9, 7), (3, 2), (2, 1), padding) == out.shape[1:3], padding


def test_one_seed_rule_int_or_generator():
    from seglearn._validation import check_seed

    assert check_seed(np.int64(4)) == 4 and type(check_seed(np.int64(4))) is int
    rng = np.random.default_rng(0)
    assert check_seed(rng, generator=True) is rng
    for bad, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError)):
        with pytest.raises(error, match=r"`seed` must be an integer >= 0"):
            check_seed(bad)
    with pytest.raises(TypeError, match=r"integer >= 0 or a numpy.random.Generator. Received: seed='x'"):
        check_seed("x", generator=True)
    with pytest.raises(TypeError, match=r"`seed` must be an integer >= 0. Received: seed=Generator"):
        check_seed(rng)  # where a generator is not accepted, it is named
