"""Tests of seglearn.pipeline: normalisation, paired augmentation, determinism, batching."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from seglearn import pipeline  # noqa: E402
from seglearn.pipeline import augment_pair, make_dataset, make_folder_dataset, normalize_images  # noqa: E402

pytestmark = pytest.mark.tf

ONLY = {  # each augmentation on its own
    "flip": dict(flip=True, rotate=False, scale=None, brightness=0, contrast=0),
    "rotate": dict(flip=False, rotate=True, scale=None, brightness=0, contrast=0),
    "scale": dict(flip=False, rotate=False, scale=(0.5, 0.9), brightness=0, contrast=0),
    "brightness": dict(flip=False, rotate=False, scale=None, brightness=0.3, contrast=0),
    "contrast": dict(flip=False, rotate=False, scale=None, brightness=0, contrast=0.5),
}


def _blocks(n, size=32, seed=0):
    """Noise-free images whose channel 0 is a random 0/1 block pattern, and mask = channel 0 > 0.5.

    Channels 1 and 2 hold the row and column coordinates, so that any
    geometric transform changes the image (and a mask that failed to follow
    would no longer match channel 0).
    """
    rng = np.random.default_rng(seed)
    pattern = rng.random((n, size // 4, size // 4)) < 0.4
    channel0 = np.kron(pattern, np.ones((4, 4))).astype(np.float32)
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1)
    images = np.stack([channel0, np.broadcast_to(rows, channel0.shape), np.broadcast_to(cols, channel0.shape)], -1)
    masks = (channel0 > 0.5).astype(np.uint8)
    return images.astype(np.float32), masks


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


# --- normalize_images ----------------------------------------------------------------


def test_normalize_images():
    u8 = np.array([[[[0, 128, 255]]]], dtype=np.uint8)
    np.testing.assert_array_equal(normalize_images(u8), u8 / np.float32(255))
    assert normalize_images(np.zeros((2, 3, 3))).shape == (2, 3, 3, 1)  # channel added
    assert normalize_images(np.ones((1, 2, 2, 3), np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*found values in \[-1, -1\]"):
        normalize_images(-np.ones((1, 2, 2, 3)))
    with pytest.raises(ValueError, match="dimensions"):
        normalize_images(np.zeros((2, 2)))


# --- augment_pair: image and mask move together ----------------------------------------------


@pytest.mark.parametrize("which", ["flip", "rotate"])
def test_flips_and_rotations_keep_image_and_mask_aligned(which):
    images, masks = _blocks(16)
    changed = 0
    for i in range(16):
        x, y = augment_pair(images[i], masks[i], tf.constant([7, i]), **ONLY[which])
        x, y = x.numpy(), y.numpy()
        np.testing.assert_array_equal(y, (x[..., 0] > 0.5).astype(np.uint8))  # exact: no resampling
        assert y.dtype == np.uint8 and x.shape == images[i].shape
        changed += not np.array_equal(x, images[i])
    assert changed >= 5, "the augmentation hardly ever changed the image"


def test_crop_and_scale_keep_image_and_mask_aligned():
    images, masks = _blocks(16)
    pure_total = 0
    for i in range(16):
        x, y = augment_pair(images[i], masks[i], tf.constant([3, i]), **ONLY["scale"])
        x, y = x.numpy(), y.numpy()
        assert not np.array_equal(x, images[i])  # a scale below 0.9 always zooms
        # Where the bilinear image is exactly 0 or 1, all the pixels it blends
        # agree, so the nearest-neighbour mask (which picks one of them) must agree too.
        pure = (x[..., 0] == 0) | (x[..., 0] == 1)
        np.testing.assert_array_equal(y[pure], (x[..., 0][pure] > 0.5).astype(np.uint8))
        # At block edges, bilinear blends may round the other way from the nearest pixel:
        # allow a few percent of mismatches there.
        assert np.mean(y != (x[..., 0] > 0.5)) < 0.05
        assert set(np.unique(y)) <= {0, 1}
        pure_total += pure.mean()
    assert pure_total / 16 > 0.6, "too few unblended pixels for the check to mean much"


def test_crop_zooms_by_the_drawn_factor():
    # channel 2 holds the column coordinate x / (W - 1): after a zoom by 1/s its
    # slope across the image is s (times (W - 1) / (W - 1)), s in the scale range.
    images, masks = _blocks(8)
    for i in range(8):
        x, _ = augment_pair(images[i], masks[i], tf.constant([5, i]), **ONLY["scale"])
        slope = x.numpy()[5, -1, 2] - x.numpy()[5, 0, 2]
        assert 0.5 - 1e-5 <= slope <= 0.9 + 1e-5


def test_brightness_changes_the_image_only():
    rng = np.random.default_rng(1)
    image = (0.35 + 0.3 * rng.random((8, 8, 3))).astype(np.float32)  # +-0.3 stays inside [0, 1]: no clipping
    mask = rng.integers(0, 4, (8, 8)).astype(np.uint8)
    shifts = []
    for i in range(10):
        x, y = augment_pair(image, mask, tf.constant([1, i]), **ONLY["brightness"])
        np.testing.assert_array_equal(y.numpy(), mask)
        delta = x.numpy() - image
        np.testing.assert_allclose(delta, delta.flat[0], atol=1e-6)  # one shift for all pixels
        shifts.append(delta.flat[0])
    assert max(np.abs(shifts)) <= 0.3 and np.ptp(shifts) > 0.1


def test_contrast_changes_the_image_only():
    rng = np.random.default_rng(2)
    image = (0.4 + 0.2 * rng.random((8, 8, 3))).astype(np.float32)
    mask = rng.integers(0, 4, (8, 8)).astype(np.uint8)
    for i in range(5):
        x, y = augment_pair(image, mask, tf.constant([2, i]), **ONLY["contrast"])
        np.testing.assert_array_equal(y.numpy(), mask)
        mean = image.mean(axis=(0, 1))
        factor = (x.numpy() - mean) / (image - mean)
        # one factor per image, in [0.5, 1.5]; float32 arithmetic: 1e-3 relative
        np.testing.assert_allclose(factor, factor.flat[0], rtol=1e-3)
        assert 0.5 <= factor.flat[0] <= 1.5


def test_all_augmentations_together_keep_labels_and_range():
    rng = np.random.default_rng(3)
    image = rng.random((16, 16, 3)).astype(np.float32)
    mask = rng.choice(np.array([0, 2, 5]), (16, 16)).astype(np.int32)
    x, y = augment_pair(image, mask, tf.constant([4, 4]))
    assert x.shape == (16, 16, 3) and y.shape == (16, 16) and y.dtype == tf.int32
    assert set(np.unique(y.numpy())) <= {0, 2, 5}
    assert 0 <= x.numpy().min() and x.numpy().max() <= 1


def test_same_seed_same_transform_other_seed_other_transform():
    images, masks = _blocks(1)
    a = augment_pair(images[0], masks[0], tf.constant([9, 9]))
    b = augment_pair(images[0], masks[0], tf.constant([9, 9]))
    c = augment_pair(images[0], masks[0], tf.constant([9, 10]))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_non_square_images_keep_their_shape():
    image = np.zeros((8, 12, 3), np.float32)
    mask = np.zeros((8, 12), np.uint8)
    for i in range(8):
        x, y = augment_pair(image, mask, tf.constant([0, i]))
        assert x.shape == (8, 12, 3) and y.shape == (8, 12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scale=(0.9, 0.5)), "scale"),
        (dict(scale=(0.0, 1.0)), "scale"),
        (dict(brightness=-0.1), "brightness"),
        (dict(contrast=1.0), "contrast"),
        (dict(flip="yes"), "flip"),
    ],
)
def test_augment_pair_rejects_bad_options(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        augment_pair(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.int32), tf.constant([0, 0]), **kwargs)


def test_augment_pair_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same height and width"):
        augment_pair(np.zeros((4, 4, 3), np.float32), np.zeros((4, 5), np.int32), tf.constant([0, 0]))
    with pytest.raises(ValueError, match="`mask` must have 2 dimensions"):
        augment_pair(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 1), np.int32), tf.constant([0, 0]))


# --- make_dataset -----------------------------------------------------------------------------


def test_plain_dataset_returns_the_data_in_order():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    masks = rng.integers(0, 3, (10, 8, 8), dtype=np.uint8)
    ds = make_dataset(images, masks, batch_size=4)
    assert [int(x.shape[0]) for x, _ in ds] == [4, 4, 2]
    x, y = _collect(ds)
    np.testing.assert_array_equal(x, images / np.float32(255))
    np.testing.assert_array_equal(y, masks)
    assert y.dtype == np.int32
    assert [int(x.shape[0]) for x, _ in make_dataset(images, masks, batch_size=4, drop_remainder=True)] == [4, 4]


def test_shuffle_is_a_deterministic_permutation_that_changes_each_epoch():
    rng = np.random.default_rng(8)
    images = rng.random((12, 4, 4, 3)).astype(np.float32)  # all different
    masks = rng.integers(0, 3, (12, 4, 4))
    ds = make_dataset(images, masks, batch_size=5, shuffle=True, seed=3)
    first, second = _collect(ds), _collect(ds)
    again = _collect(make_dataset(images, masks, batch_size=5, shuffle=True, seed=3))
    other = _collect(make_dataset(images, masks, batch_size=5, shuffle=True, seed=4))
    np.testing.assert_array_equal(first[0], again[0])  # same seed, same order
    assert not np.array_equal(first[0], second[0])  # reshuffled next epoch
    assert not np.array_equal(first[0], other[0])
    order = [int(np.flatnonzero((images == x).all(axis=(1, 2, 3)))[0]) for x in first[0]]
    assert sorted(order) == list(range(12))  # a permutation: nothing lost or repeated
    np.testing.assert_array_equal(first[1], masks[order])  # pairs kept


def test_augmented_dataset_is_reproducible_and_changes_each_epoch():
    images, masks = _blocks(12)
    ds = make_dataset(images, masks, batch_size=4, augment=True, shuffle=True, seed=7)
    epoch1, epoch2 = _collect(ds), _collect(ds)
    rebuilt = make_dataset(images, masks, batch_size=4, augment=True, shuffle=True, seed=7)
    np.testing.assert_array_equal(_collect(rebuilt)[0], epoch1[0])  # two runs, same batches...
    np.testing.assert_array_equal(_collect(rebuilt)[0], epoch2[0])  # ...epoch after epoch
    assert not np.array_equal(epoch1[0], epoch2[0])
    other = _collect(make_dataset(images, masks, batch_size=4, augment=True, shuffle=True, seed=8))
    assert not np.array_equal(other[0], epoch1[0])


def test_augmented_dataset_keeps_pairs_aligned():
    images, masks = _blocks(12)
    options = dict(brightness=0.0, contrast=0.0)  # so that channel 0 still defines the mask
    x, y = _collect(make_dataset(images, masks, batch_size=5, augment=True, seed=1, augment_options=options))
    assert np.mean(y != (x[..., 0] > 0.5)) < 0.05
    pure = (x[..., 0] == 0) | (x[..., 0] == 1)
    np.testing.assert_array_equal(y[pure], x[..., 0][pure] > 0.5)


def test_one_hot_and_class_weights():
    rng = np.random.default_rng(5)
    images = rng.random((6, 4, 4, 3)).astype(np.float32)
    masks = rng.integers(0, 3, (6, 4, 4))
    x, y = next(iter(make_dataset(images, masks, batch_size=6, num_classes=3, one_hot=True)))
    assert y.shape == (6, 4, 4, 3) and y.dtype == tf.float32
    np.testing.assert_array_equal(np.argmax(y.numpy(), -1), masks)
    x, y, w = next(iter(make_dataset(images, masks, batch_size=6, num_classes=3, class_weight=[0.5, 1.0, 4.0])))
    np.testing.assert_array_equal(w.numpy(), np.array([0.5, 1.0, 4.0], np.float32)[masks])


def test_keras_fits_on_a_dataset_with_pixel_weights():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(6)
    images = rng.random((8, 8, 8, 3)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    ds = make_dataset(images, masks, batch_size=4, augment=True, num_classes=2, class_weight=[1.0, 2.0])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False)  # the dataset shuffles itself
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(masks=np.zeros((4, 8, 7), int)), r"`masks` must have shape \(N, H, W\) = \(4, 8, 8\) to match `images`"),
        (dict(batch_size=0), "batch_size"),
        (dict(one_hot=True), "num_classes"),
        (dict(num_classes=2, class_weight=[1.0]), "class_weight"),
        (dict(num_classes=1), r"class ids in \[0, 1\)"),
        (dict(augment=True, augment_options={"zoom": 2}), "augment_options"),
        (dict(augment=True, augment_options={"scale": (2, 3)}), "scale"),
        (dict(masks=-np.ones((4, 8, 8), int)), ">= 0"),
        (dict(seed=-1), "seed"),
    ],
)
def test_make_dataset_rejects_bad_arguments(kwargs, match):
    args = dict(images=np.zeros((4, 8, 8, 3), np.float32), masks=np.ones((4, 8, 8), int))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        make_dataset(**args)


def test_make_folder_dataset(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(7)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{i}.png")
        Image.fromarray(rng.integers(0, 2, (10, 12), dtype=np.uint8)).save(tmp_path / "masks" / f"{i}.png")
    ds = make_folder_dataset(tmp_path / "images", tmp_path / "masks", image_size=8, num_classes=2, batch_size=2, shuffle=True)
    shapes = [(tuple(x.shape), tuple(y.shape)) for x, y in ds]
    assert shapes == [((2, 8, 8, 3), (2, 8, 8)), ((1, 8, 8, 3), (1, 8, 8))]


def test_module_exports():
    assert set(pipeline.__all__) == {"augment_pair", "make_dataset", "make_folder_dataset", "normalize_images"}
