"""Tests of seglearn.robustness: corruptions, errors by distance to the border, random crops."""

import math

import numpy as np
import pytest

from seglearn import robustness

# ---------------------------------------------------------------------------
# corrupt
# ---------------------------------------------------------------------------


def _grey(n=2, size=16, channels=3, value=0.5):
    return np.full((n, size, size, channels), value, dtype=np.float32)


@pytest.mark.parametrize("kind", sorted(robustness.CORRUPTIONS))
def test_corrupt_severity_zero_is_an_unchanged_copy(kind):
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    out = robustness.corrupt(x, kind, 0)
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize("kind", sorted(robustness.CORRUPTIONS))
def test_corrupt_keeps_shape_dtype_range_and_input(kind):
    x = np.random.default_rng(1).random((3, 10, 12, 3), dtype=np.float32)
    before = x.copy()
    out = robustness.corrupt(x, kind, 5)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(x, before)
    assert not np.allclose(out, x)


def test_corrupt_brightness_by_hand():
    # 0.2 + 0.1 * 3 = 0.5 and 0.9 + 0.3 = 1.2 clipped to 1.
    x = np.array([0.2, 0.9], dtype=np.float32).reshape(1, 1, 2, 1)
    np.testing.assert_allclose(robustness.corrupt(x, "brightness", 3).ravel(), [0.5, 1.0], rtol=1e-6)


def test_corrupt_noise_has_the_stated_standard_deviation_and_is_seeded():
    x = _grey(n=4, size=32)  # 12,288 values, no clipping at 0.5 +- 5 sigma
    a = robustness.corrupt(x, "noise", 2, seed=3)
    b = robustness.corrupt(x, "noise", 2, seed=3)
    c = robustness.corrupt(x, "noise", 2, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # sigma = 0.04 * 2 = 0.08; the sample std of 12,288 normals is within 3%
    # of sigma with overwhelming probability (its standard error is ~0.6%).
    assert abs(float((a - x).std()) - 0.08) < 0.08 * 0.03
    assert abs(float((a - x).mean())) < 0.003


def test_corrupt_blur_of_a_point_is_the_separable_gaussian():
    x = np.zeros((1, 21, 21, 1), dtype=np.float32)
    x[0, 10, 10, 0] = 1.0
    out = robustness.corrupt(x, "blur", 2)[0, :, :, 0]  # sigma = 1 pixel, radius 3
    t = np.arange(-3, 4)
    g = np.exp(-0.5 * t**2)
    g /= g.sum()
    expected = np.zeros((21, 21))
    expected[7:14, 7:14] = np.outer(g, g)
    # float32 result of a float64 computation: 1e-7 absolute is a few ulps.
    np.testing.assert_allclose(out, expected, atol=1e-7)
    assert math.isclose(float(out.sum()), 1.0, rel_tol=1e-6)


def test_corrupt_blur_keeps_a_constant_image_and_lowers_variance():
    np.testing.assert_allclose(robustness.corrupt(_grey(), "blur", 4), _grey(), atol=1e-6)
    x = np.random.default_rng(2).random((1, 32, 32, 1), dtype=np.float32)
    assert robustness.corrupt(x, "blur", 2).var() < 0.5 * x.var()


def test_corrupt_rejects_bad_input():
    with pytest.raises(ValueError, match="kind"):
        robustness.corrupt(_grey(), "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        robustness.corrupt(_grey(), "noise", -1)
    with pytest.raises(ValueError, match=r"images.*\(N, H, W, C\)"):
        robustness.corrupt(np.zeros((8, 8, 3)), "noise", 1)
    with pytest.raises(TypeError, match="seed"):
        robustness.corrupt(_grey(), "noise", 1, seed=0.5)


# ---------------------------------------------------------------------------
# border versus centre
# ---------------------------------------------------------------------------


def test_distance_to_border_by_hand():
    d = robustness.distance_to_border(5, 5)
    assert d[2, 2] == 2 and d[0, 3] == 0 and d[1, 3] == 1
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(d, d[::-1, ::-1])
    with pytest.raises(ValueError, match="height"):
        robustness.distance_to_border(0, 4)


def test_error_by_border_distance_averages_over_images():
    y_true = np.zeros((2, 6, 6), dtype=int)
    y_pred = np.zeros((2, 6, 6), dtype=int)
    y_pred[0, 0, :] = 1  # image 0: 6 of the 20 outer-ring pixels wrong
    y_pred[1, 2:4, 2:4] = 1  # image 1: all 4 centre pixels wrong
    # ring 0: (6 + 0) / (2 * 20) = 0.15; ring 1: 0; ring 2: (0 + 4) / (2 * 4) = 0.5
    np.testing.assert_allclose(robustness.error_by_border_distance(y_true, y_pred), [0.15, 0.0, 0.5])


def test_border_centre_error_by_hand_and_errors():
    y_true = np.zeros((6, 6), dtype=int)
    y_pred = y_true.copy()
    y_pred[0, 0] = 2  # 1 of 20 border pixels (border=1)
    y_pred[2, 2] = 1  # 1 of 16 centre pixels
    assert robustness.border_centre_error(y_true, y_pred, border=1) == (1 / 20, 1 / 16)
    with pytest.raises(ValueError, match="border"):
        robustness.border_centre_error(y_true, y_pred, border=3)
    with pytest.raises(ValueError, match="same shape"):
        robustness.border_centre_error(y_true, y_pred[:5], border=1)



# ---------------------------------------------------------------------------
# random crops
# ---------------------------------------------------------------------------


def test_random_crops_are_windows_of_their_own_image():
    rng = np.random.default_rng(8)
    images = rng.random((3, 10, 12, 2))
    masks = rng.integers(0, 4, (3, 10, 12))
    cx, cy = robustness.random_crops(images, masks, (4, 5), per_image=4, seed=1)
    assert cx.shape == (12, 4, 5, 2) and cy.shape == (12, 4, 5)
    for m in range(12):
        i = m // 4  # crops of image 0 first
        # find the window by brute force: exactly one position matches
        hits = [(r, c) for r in range(7) for c in range(8)
                if np.array_equal(images[i, r:r + 4, c:c + 5], cx[m])]
        assert len(hits) == 1
        r, c = hits[0]
        np.testing.assert_array_equal(masks[i, r:r + 4, c:c + 5], cy[m])
    again = robustness.random_crops(images, masks, (4, 5), per_image=4, seed=1)
    np.testing.assert_array_equal(again[0], cx)
    with pytest.raises(ValueError, match="size"):
        robustness.random_crops(images, masks, 11)
    with pytest.raises(ValueError, match="masks"):
        robustness.random_crops(images, masks[:2], 4)


# ---------------------------------------------------------------------------
# label_objects, object_recall
# ---------------------------------------------------------------------------


def _objects_by_flood_fill(masks):
    # reference: breadth-first flood fill per image, 4-connectivity, same class
    out = np.zeros(masks.shape, dtype=np.int64)
    count = 0
    for n, m in enumerate(masks):
        for i0, j0 in zip(*np.nonzero(m)):
            if out[n, i0, j0]:
                continue
            count += 1
            out[n, i0, j0] = count
            queue = [(i0, j0)]
            while queue:
                i, j = queue.pop()
                for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                    if 0 <= a < m.shape[0] and 0 <= b < m.shape[1] and not out[n, a, b] and m[a, b] == m[i, j]:
                        out[n, a, b] = count
                        queue.append((a, b))
    return out


def test_label_objects_by_hand():
    # a U of class 1 (one object: its arms meet only at the bottom), a 2 touching it (another
    # object), and a 1 in the far corner that must not join across the wrapped edge
    m = np.array([[1, 0, 1, 1],
                  [1, 0, 1, 2],
                  [1, 1, 1, 0],
                  [0, 0, 0, 1]])
    expected = np.array([[1, 0, 1, 1],
                         [1, 0, 1, 2],
                         [1, 1, 1, 0],
                         [0, 0, 0, 3]])
    np.testing.assert_array_equal(robustness.label_objects(m), expected)


def test_label_objects_does_not_join_images_or_wrap():
    m = np.zeros((2, 3, 3), dtype=int)
    m[0, :, 0] = m[0, :, 2] = 1      # two columns at opposite edges: two objects
    m[1, :, 0] = 1                   # the same place in the next image: a third
    labels = robustness.label_objects(m)
    assert labels.max() == 3
    assert len({labels[0, 0, 0], labels[0, 0, 2], labels[1, 0, 0]}) == 3


def test_label_objects_matches_flood_fill_on_random_masks():
    rng = np.random.default_rng(3)
    masks = rng.integers(0, 3, size=(4, 12, 15))
    np.testing.assert_array_equal(robustness.label_objects(masks), _objects_by_flood_fill(masks))


def test_label_objects_without_background_numbers_from_one():
    np.testing.assert_array_equal(robustness.label_objects(np.array([[1, 2]])), [[1, 2]])


def test_object_recall_by_hand():
    # object 1: class 1, 3 pixels, 2 found (1 labelled 2) -> 2/3; object 2: class 2, 1 pixel,
    # labelled background -> 0; object 3: class 1 in the second image, 2 pixels, both found -> 1
    y_true = np.array([[[1, 1, 1, 0], [0, 0, 0, 2]], [[0, 1, 1, 0], [0, 0, 0, 0]]])
    y_pred = np.array([[[1, 2, 1, 0], [0, 0, 0, 0]], [[0, 1, 1, 0], [0, 0, 0, 0]]])
    sizes, recall, classes = robustness.object_recall(y_true, y_pred)
    np.testing.assert_array_equal(sizes, [3, 1, 2])
    np.testing.assert_allclose(recall, [2 / 3, 0, 1])
    np.testing.assert_array_equal(classes, [1, 2, 1])


def test_object_recall_errors_name_the_argument():
    with pytest.raises(ValueError, match="y_pred"):
        robustness.object_recall(np.zeros((2, 3, 3), int), np.zeros((2, 3, 4), int))
    with pytest.raises((ValueError, TypeError), match="masks"):
        robustness.label_objects(np.zeros((2, 2, 2, 2), int))


# ---------------------------------------------------------------------------
# random_corruptions
# ---------------------------------------------------------------------------


def test_random_corruptions_is_seeded_and_mixes_kinds():
    x = np.random.default_rng(4).random((40, 8, 8, 3), dtype=np.float32) * 0.5 + 0.25
    before = x.copy()
    a = robustness.random_corruptions(x, max_severity=3, seed=5)
    np.testing.assert_array_equal(a, robustness.random_corruptions(x, max_severity=3, seed=5))
    assert not np.array_equal(a, robustness.random_corruptions(x, max_severity=3, seed=6))
    np.testing.assert_array_equal(x, before)
    assert a.shape == x.shape and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    shift = (a - x).mean(axis=(1, 2, 3))
    brightened = shift > 0.01                 # brightness adds 0.1 s everywhere
    assert 0 < brightened.sum() < len(x)      # some images brightened, others noised or blurred


def test_random_corruptions_severity_zero_copies():
    x = np.random.default_rng(7).random((3, 4, 4, 1), dtype=np.float32)
    np.testing.assert_array_equal(robustness.random_corruptions(x, max_severity=0), x)
    with pytest.raises(ValueError, match="max_severity"):
        robustness.random_corruptions(x, max_severity=-1)
