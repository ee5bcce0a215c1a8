"""Tests of seglearn.datasets: the shapes generator, the course file, folders, splits."""

import hashlib
import shutil
import warnings
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from seglearn import datasets, metrics
from seglearn.datasets import (
    SHAPE_CLASSES,
    SHAPES_FILE,
    SHAPES_SPLITS,
    load_folder,
    load_shapes,
    make_shapes,
    split_arrays,
)

NUM_CLASSES = len(SHAPE_CLASSES)


@pytest.fixture(scope="module")
def sample():
    """300 default images: enough for class statistics, generated once (~0.5 s)."""
    return make_shapes(300, seed=11)


# --- make_shapes: contract -------------------------------------------------------


def test_make_shapes_types_shapes_and_ranges(sample):
    images, masks = sample
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.float32
    assert masks.shape == (300, 64, 64) and masks.dtype == np.uint8
    assert images.min() >= 0 and images.max() <= 1
    assert set(np.unique(masks)) <= set(range(NUM_CLASSES))
    assert SHAPE_CLASSES[0] == "background" and len(SHAPE_CLASSES) >= 4


def test_make_shapes_images_are_exact_multiples_of_1_over_255(sample):
    # So that the uint8 file and the generator agree exactly: k -> float32(k) / 255.
    images = sample[0]
    codes = np.round(images * 255).astype(np.uint8)
    np.testing.assert_array_equal(codes.astype(np.float32) / np.float32(255), images)


def test_make_shapes_is_deterministic_for_a_seed():
    a = make_shapes(6, seed=3)
    b = make_shapes(6, seed=3)
    c = make_shapes(6, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_every_class_occurs_and_the_star_is_rare(sample):
    masks = sample[1]
    foreground = np.count_nonzero(masks)
    share = {name: np.count_nonzero(masks == c) / foreground for c, name in enumerate(SHAPE_CLASSES) if c}
    # background dominates; the three common shapes each take 15-45% of the foreground;
    # the star 3-12% (design: ~7%), and it appears in a minority of the images (~1 in 6).
    assert 0.72 < np.mean(masks == 0) < 0.88
    for name in ("circle", "square", "triangle"):
        assert 0.15 < share[name] < 0.45, share
    assert 0.03 < share["star"] < 0.12, share
    assert np.mean(np.any(masks == 4, axis=(1, 2))) < 0.25


def test_number_of_objects_per_image_follows_num_objects():
    _, empty = make_shapes(4, num_objects=(0, 0))
    assert not empty.any()  # no object: all background
    _, single = make_shapes(50, num_objects=(1, 1), seed=2)
    assert all(len(np.unique(m)) == 2 for m in single)  # one object: background + one class
    _, many = make_shapes(50, num_objects=(4, 4), seed=2)
    assert np.mean([len(np.unique(m)) for m in many]) > 3  # four objects: usually 3+ classes


def test_class_probs_select_the_shapes():
    for c in range(1, NUM_CLASSES):
        probs = np.zeros(NUM_CLASSES - 1)
        probs[c - 1] = 1
        _, masks = make_shapes(8, class_probs=probs, seed=c)
        assert set(np.unique(masks)) == {0, c}, SHAPE_CLASSES[c]


@pytest.mark.parametrize(
    "shape_id, area_over_r2",
    [
        (1, np.pi),  # circle of radius R: pi R^2
        (2, 2.0),  # square of half-diagonal R: side R sqrt(2), area 2 R^2
        (3, 3 * np.sqrt(3) / 4),  # equilateral triangle of circumradius R: (3 sqrt(3) / 4) R^2
        # five-pointed star, outer R, inner rho = R/2: ten triangles of area R rho sin(pi/5) / 2
        (4, 5 * 0.5 * np.sin(np.pi / 5)),
    ],
)
def test_rasterised_shapes_have_the_area_of_their_formula(shape_id, area_over_r2):
    radius = 40.3  # not a whole number: no pixel centre lies exactly on an edge of the square
    coords = np.arange(-50, 50, dtype=np.float32) + 0.5
    v, u = np.meshgrid(coords, coords, indexing="ij")
    inside = datasets.shapes._inside(shape_id, u[None], v[None], np.float32(radius).reshape(1, 1, 1))
    # pixel counting has an error of the order of the perimeter: < 2% at R = 40.3
    assert np.count_nonzero(inside) == pytest.approx(area_over_r2 * radius**2, rel=0.02)


def test_mask_follows_the_visible_pixels():
    # Without noise an object is a flat colour (plus a faint ramp), so the colour
    # jumps where the mask changes class and is smooth inside a labelled region.
    # If masks were drawn from the whole shapes rather than the visible parts,
    # occluded edges would put mask boundaries inside smooth regions.
    images, masks = make_shapes(200, noise=0.0, seed=5)
    step = np.abs(np.diff(images, axis=2)).max(axis=-1)  # horizontal neighbours
    change = masks[:, :, 1:] != masks[:, :, :-1]
    same_object = ~change & (masks[:, :, 1:] > 0)
    assert np.mean(step[change] > 0.08) > 0.97
    assert np.mean(step[same_object] > 0.08) < 0.01


def test_occlusion_happens_but_is_moderate():
    # With 4 objects per image, some shapes are partly hidden: the visible
    # foreground is smaller than the sum of the shapes, but not by much.
    _, masks = make_shapes(100, num_objects=(4, 4), seed=6)
    assert 0.15 < np.mean(masks > 0) < 0.45


def test_shifted_style_is_another_domain(sample):
    images = sample[0]
    shifted, masks = make_shapes(300, style="shifted", seed=11)
    # paler palette: brighter on average; stripes and stronger noise: more pixel-to-pixel change
    assert shifted.mean() > images.mean() + 0.1
    roughness = lambda x: np.abs(np.diff(x, axis=2)).mean()  # noqa: E731
    assert roughness(shifted) > 1.5 * roughness(images)
    assert set(np.unique(masks)) == set(range(NUM_CLASSES))


def test_noise_argument_controls_the_noise():
    quiet = make_shapes(20, noise=0.0, seed=1)[0]
    loud = make_shapes(20, noise=0.1, seed=1)[0]
    assert np.abs(np.diff(loud, axis=2)).mean() > 3 * np.abs(np.diff(quiet, axis=2)).mean()


def test_object_size_scales_with_image_size():
    images, masks = make_shapes(10, image_size=32, seed=1)
    assert images.shape == (10, 32, 32, 3)
    images, masks = make_shapes(4, image_size=(48, 80), seed=1)
    assert images.shape == (4, 48, 80, 3) and masks.shape == (4, 48, 80)


# --- thresholding fails: the data needs a network that sees shape ------------


def _best_threshold_foreground_iou(images, masks):
    """Best foreground IoU of 'grey > t' or 'grey < t' over 64 global thresholds t."""
    grey = images.mean(axis=-1)
    truth = (masks > 0).astype(np.int64)
    best = 0.0
    for t in np.linspace(0, 1, 64):
        for pred in (grey > t, grey < t):
            best = max(best, metrics.iou_per_class(truth, pred.astype(np.int64), 2)[1])
    return best


def _colour_classifier_iou(train, test, bins=8):
    """Per-class IoU of the best per-pixel colour rule: the majority class of each RGB bin."""
    def codes(images):
        q = np.minimum((images * bins).astype(np.int64), bins - 1)
        return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]

    counts = np.zeros((bins**3, NUM_CLASSES))
    np.add.at(counts, (codes(train[0]).ravel(), train[1].ravel().astype(np.int64)), 1)
    rule = counts.argmax(axis=1)
    return metrics.iou_per_class(test[1], rule[codes(test[0])], NUM_CLASSES)


def test_a_global_threshold_cannot_find_the_objects(sample):
    assert _best_threshold_foreground_iou(*sample) < 0.45


def test_a_per_pixel_colour_rule_cannot_tell_the_shapes_apart(sample):
    test = make_shapes(100, seed=12)
    iou = _colour_classifier_iou(sample, test)
    # the colour rule labels (almost) everything background: no shape class gets a useful IoU
    assert np.nanmax(iou[1:]) < 0.2, iou


# --- make_shapes: argument checks ----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n=0), ValueError, "`n`"),
        (dict(n=2.5), TypeError, "`n`"),
        (dict(n=2, image_size=8), ValueError, "image_size"),
        (dict(n=2, seed=-1), ValueError, "seed"),
        (dict(n=2, num_objects=(3, 1)), ValueError, "num_objects"),
        (dict(n=2, num_objects=(-1, 2)), ValueError, "num_objects"),
        (dict(n=2, object_size=(20, 10)), ValueError, "object_size"),
        (dict(n=2, image_size=32, object_size=(10, 28)), ValueError, "too large"),
        (dict(n=2, class_probs=(1, 1, 1)), ValueError, "class_probs"),
        (dict(n=2, class_probs=(1, -1, 1, 1)), ValueError, "class_probs"),
        (dict(n=2, noise=-0.1), ValueError, "noise"),
        (dict(n=2, style="cartoon"), ValueError, "style"),
    ],
)
def test_make_shapes_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_shapes(**kwargs)


# --- load_shapes: the committed file ------------------------------------------------


@pytest.fixture(scope="module")
def committed(root):
    path = root / "data" / SHAPES_FILE
    assert path.is_file(), f"{path} is missing: run load_shapes() once to regenerate it"
    return path


def test_committed_file_is_small_and_has_the_recorded_content(committed):
    assert committed.stat().st_size <= 5_000_000
    with np.load(committed, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    assert datasets.shapes._content_sha256(arrays) == datasets.SHAPES_SHA256
    for split, (count, _) in SHAPES_SPLITS.items():
        assert arrays[f"{split}_images"].shape == (count, 64, 64, 3)
        assert arrays[f"{split}_images"].dtype == np.uint8
        assert arrays[f"{split}_masks"].shape == (count, 64, 64)


def test_readme_states_the_file_checksums(root, committed):
    readme = (root / "data" / "README.md").read_text(encoding="utf-8")
    assert datasets.SHAPES_SHA256 in readme
    assert hashlib.sha256(committed.read_bytes()).hexdigest() in readme
    for split, (count, seed) in SHAPES_SPLITS.items():
        assert f"| {split} | {count} | {seed} |" in readme


@pytest.mark.parametrize("split", list(SHAPES_SPLITS))
def test_load_shapes_equals_the_generator(split, committed):
    count, seed = SHAPES_SPLITS[split]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the committed file must load without regenerating
        images, masks = load_shapes(split)
    expected_images, expected_masks = make_shapes(count, seed=seed)
    assert images.dtype == np.float32 and masks.dtype == np.uint8
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(masks, expected_masks)


def test_load_shapes_returns_fresh_arrays(committed):
    images, masks = load_shapes("val")
    masks[:] = 9
    assert load_shapes("val")[1].max() < NUM_CLASSES


def test_regenerated_file_is_identical_to_the_committed_one(tmp_path, committed):
    target = tmp_path / SHAPES_FILE
    with pytest.warns(UserWarning, match=r"missing or altered \(not found at"):
        images, masks = load_shapes("test", path=target)
    assert target.is_file()
    with np.load(target) as new, np.load(committed) as old:
        assert new.files == old.files
        for name in old.files:
            np.testing.assert_array_equal(new[name], old[name])
    # Byte for byte too: the writer fixes the zip's time stamps and order. The
    # deflate output depends on the zlib build; the reference was written with 1.2.13.
    if zlib.ZLIB_RUNTIME_VERSION == "1.2.13":
        assert target.read_bytes() == committed.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_shapes("test", path=target)  # now valid: no warning
    np.testing.assert_array_equal(again[0], images)
    assert not list(tmp_path.glob("*.part")), "a temporary file was left behind"


def test_altered_file_is_detected_and_repaired(tmp_path, committed):
    target = tmp_path / SHAPES_FILE
    data = bytearray(committed.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte inside the compressed images
    target.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="missing or altered"):
        load_shapes("train", path=target)
    assert target.read_bytes() == committed.read_bytes() or zlib.ZLIB_RUNTIME_VERSION != "1.2.13"


def test_file_with_other_data_is_detected(tmp_path, committed):
    target = tmp_path / SHAPES_FILE
    with np.load(committed) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["val_masks"] = arrays["val_masks"].copy()
    arrays["val_masks"][0, 0, 0] += 1  # one pixel relabelled: a readable file, wrong content
    np.savez_compressed(target, **arrays)
    with pytest.warns(UserWarning, match="content sha256"):
        _, masks = load_shapes("val", path=target)
    np.testing.assert_array_equal(masks, make_shapes(SHAPES_SPLITS["val"][0], seed=SHAPES_SPLITS["val"][1])[1])


def test_truncated_file_is_detected(tmp_path, committed):
    target = tmp_path / SHAPES_FILE
    target.write_bytes(committed.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="cannot be read"):
        load_shapes("val", path=target)


def test_falls_back_to_the_cache_dir_when_the_repository_is_not_writable(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be: writing under it fails, even as root")
    cache = tmp_path / "cache"
    monkeypatch.setattr(datasets.shapes, "_repo_data_dir", lambda: blocked)
    monkeypatch.setenv("SEGLEARN_DATA_DIR", str(cache))
    with pytest.warns(UserWarning, match=f"saved it to {cache}"):
        load_shapes("val")
    assert (cache / SHAPES_FILE).is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_shapes("val")  # found in the cache now


def test_still_returns_the_data_when_nothing_is_writable(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    with pytest.warns(UserWarning, match="could not save it"):
        images, _ = load_shapes("val", path=blocked / SHAPES_FILE)
    assert images.shape == (SHAPES_SPLITS["val"][0], 64, 64, 3)


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGLEARN_DATA_DIR", str(tmp_path))
    assert datasets.get_cache_dir() == tmp_path
    monkeypatch.delenv("SEGLEARN_DATA_DIR")
    assert datasets.get_cache_dir().parts[-2:] == (".cache", "seglearn")


def test_load_shapes_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="`split` must be one of 'train', 'val', 'test'"):
        load_shapes("validation")


# --- load_folder ------------------------------------------------------------------------


def _folders(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    return images, masks


def _save(array, path, **kwargs):
    Image.fromarray(array, **kwargs).save(path)


def test_load_folder_reads_rgb_images_and_class_masks(tmp_path):
    rng = np.random.default_rng(0)
    img_dir, mask_dir = _folders(tmp_path)
    rgb = rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (2, 6, 5), dtype=np.uint8)
    for i, name in enumerate(["b", "a"]):
        _save(rgb[i], img_dir / f"{name}.png")
        _save(labels[i], mask_dir / f"{name}.png")
    images, masks, names = load_folder(img_dir, mask_dir, num_classes=3, return_names=True)
    assert names == ["a", "b"]  # sorted by name
    assert images.dtype == np.float32 and masks.dtype == np.uint8
    np.testing.assert_array_equal(images, rgb[::-1].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(masks, labels[::-1])


def test_load_folder_converts_grey_rgba_16_bit_jpeg_and_tiff(tmp_path):
    rng = np.random.default_rng(1)
    img_dir, mask_dir = _folders(tmp_path)
    grey = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    rgba = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (4, 4), dtype=np.uint16)
    floats = rng.random((4, 4, 3), dtype=np.float32)
    _save(grey, img_dir / "grey.png")
    _save(rgba, img_dir / "rgba.png")
    _save(deep, img_dir / "deep.png")
    _save(np.full((4, 4, 3), 128, np.uint8), img_dir / "photo.jpg")
    tifffile.imwrite(img_dir / "floats.tif", floats, photometric="rgb")  # float RGB TIFF: Pillow cannot, tifffile can
    for name in ("grey", "rgba", "deep", "photo", "floats"):
        _save(np.zeros((4, 4), np.uint8), mask_dir / f"{name}.png")
    images, _, names = load_folder(img_dir, mask_dir, return_names=True)
    got = dict(zip(names, images))
    np.testing.assert_array_equal(got["grey"], np.repeat(grey[..., None], 3, -1) / np.float32(255))
    np.testing.assert_array_equal(got["rgba"], rgba[..., :3] / np.float32(255))  # alpha dropped
    np.testing.assert_allclose(got["deep"][..., 0], deep / 65535.0, rtol=1e-6)  # float32 rounding
    np.testing.assert_allclose(got["photo"], 128 / 255, atol=2 / 255)  # JPEG is lossy
    np.testing.assert_array_equal(got["floats"], floats)


def test_load_folder_minmax_normalisation(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    _save(np.array([[1000, 3000]], dtype=np.uint16), img_dir / "a.png")
    _save(np.zeros((1, 2), np.uint8), mask_dir / "a.png")
    images, _ = load_folder(img_dir, mask_dir, normalize="minmax")
    np.testing.assert_array_equal(images[0, 0, :, 0], [0.0, 1.0])


def test_load_folder_masks_palette_binary_and_tiff(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    palette = Image.fromarray(np.array([[0, 2], [5, 2]], dtype=np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 0, 0] * 128)
    palette.save(mask_dir / "p.png")
    tifffile.imwrite(mask_dir / "t.tif", np.array([[1, 0], [0, 7]], dtype=np.uint16))
    for name in ("p", "t"):
        _save(np.zeros((2, 2), np.uint8), img_dir / f"{name}.png")
    _, masks = load_folder(img_dir, mask_dir)
    np.testing.assert_array_equal(masks, [[[0, 2], [5, 2]], [[1, 0], [0, 7]]])  # palette indices, not colours


def test_load_folder_reads_0_255_masks_as_binary(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    for name, mask in (("a", [[0, 255]]), ("b", [[0, 0]])):
        _save(np.zeros((1, 2), np.uint8), img_dir / f"{name}.png")
        _save(np.array(mask, dtype=np.uint8), mask_dir / f"{name}.png")
    np.testing.assert_array_equal(load_folder(img_dir, mask_dir)[1], [[[0, 1]], [[0, 0]]])
    np.testing.assert_array_equal(load_folder(img_dir, mask_dir, scale_binary=False)[1], [[[0, 255]], [[0, 0]]])
    # a folder where 255 is one label among others is left alone
    _save(np.array([[2, 255]], dtype=np.uint8), mask_dir / "b.png")
    np.testing.assert_array_equal(load_folder(img_dir, mask_dir)[1], [[[0, 255]], [[2, 255]]])


def test_load_folder_resizes_images_bilinearly_and_masks_by_nearest_neighbour(tmp_path):
    rng = np.random.default_rng(2)
    img_dir, mask_dir = _folders(tmp_path)
    _save(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), img_dir / "a.png")
    _save(rng.choice(np.array([0, 3, 7], np.uint8), (20, 30)), mask_dir / "a.png")
    _save(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8), img_dir / "b.png")
    _save(np.full((10, 10), 3, np.uint8), mask_dir / "b.png")
    with pytest.raises(ValueError, match=r"different sizes: 20x30 .*10x10.*image_size=\(20, 30\)"):
        load_folder(img_dir, mask_dir)
    images, masks = load_folder(img_dir, mask_dir, image_size=(8, 12))
    assert images.shape == (2, 8, 12, 3) and masks.shape == (2, 8, 12)
    assert set(np.unique(masks[0])) <= {0, 3, 7}  # no invented ids between 3 and 7
    assert np.all(masks[1] == 3)
    # bilinear (Pillow averages when shrinking): values between the extremes, not a copy of pixels
    assert 0 <= images.min() and images.max() <= 1
    assert np.std(images[0]) < np.std(rng.integers(0, 256, (20, 30, 3)) / 255)


def test_load_folder_names_unpaired_files(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    for name in ("a", "b", "c"):
        _save(np.zeros((2, 2), np.uint8), img_dir / f"{name}.png")
    for name in ("a", "d"):
        _save(np.zeros((2, 2), np.uint8), mask_dir / f"{name}.png")
    with pytest.raises(ValueError, match=r"2 image\(s\) without a mask .*: b.png, c.png; 1 mask\(s\) without an image .*: d.png"):
        load_folder(img_dir, mask_dir)


def test_load_folder_names_unreadable_files(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    (img_dir / "a.png").write_bytes(b"this is not a PNG")
    _save(np.zeros((2, 2), np.uint8), mask_dir / "a.png")
    with pytest.raises(ValueError, match=r"cannot read image file .*a\.png"):
        load_folder(img_dir, mask_dir)
    (img_dir / "a.tif").write_bytes(b"nor a TIFF")
    (img_dir / "a.png").unlink()
    with pytest.raises(ValueError, match=r"cannot read image file .*a\.tif"):
        load_folder(img_dir, mask_dir)


def test_load_folder_checks_mask_values(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    for name, top in (("ok", 1), ("bad", 4)):
        _save(np.zeros((2, 2), np.uint8), img_dir / f"{name}.png")
        _save(np.array([[0, top], [1, 0]], np.uint8), mask_dir / f"{name}.png")
    with pytest.raises(ValueError, match=r"num_classes`=3 but mask file .*bad\.png holds the values \[0, 1, 4\]"):
        load_folder(img_dir, mask_dir, num_classes=3)
    assert load_folder(img_dir, mask_dir, num_classes=5)[1].max() == 4


@pytest.mark.parametrize(
    "setup, error, match",
    [
        ("missing", FileNotFoundError, "`images_dir` must be an existing folder"),
        ("file", NotADirectoryError, "`masks_dir` must be a folder"),
        ("empty", ValueError, "`images_dir` holds no files of type"),
        ("jpeg_mask", ValueError, "JPEG masks"),
        ("colour_mask", ValueError, "colour image"),
        ("size_mismatch", ValueError, "is 4x4 but its mask .* is 2x2"),
        ("duplicate", ValueError, "two files with the stem 'a'"),
        ("big_label", ValueError, r"values in \[0, 300\]"),
    ],
)
def test_load_folder_errors(tmp_path, setup, error, match):
    img_dir, mask_dir = _folders(tmp_path)
    _save(np.zeros((4, 4), np.uint8), img_dir / "a.png")
    _save(np.zeros((4, 4), np.uint8), mask_dir / "a.png")
    if setup == "missing":
        img_dir = tmp_path / "nowhere"
    elif setup == "file":
        mask_dir = mask_dir / "a.png"
    elif setup == "empty":
        shutil.rmtree(img_dir)
        img_dir.mkdir()
        (img_dir / "notes.txt").write_text("not an image")
    elif setup == "jpeg_mask":
        (mask_dir / "a.png").unlink()
        _save(np.zeros((4, 4), np.uint8), mask_dir / "a.jpg")
    elif setup == "colour_mask":
        _save(np.dstack([np.zeros((4, 4)), np.ones((4, 4)), np.zeros((4, 4))]).astype(np.uint8), mask_dir / "a.png")
    elif setup == "size_mismatch":
        _save(np.zeros((2, 2), np.uint8), mask_dir / "a.png")
    elif setup == "duplicate":
        _save(np.zeros((4, 4), np.uint8), img_dir / "a.tif")
    elif setup == "big_label":
        big = np.zeros((4, 4), np.uint16)
        big[0, 1] = 300
        (mask_dir / "a.png").unlink()
        tifffile.imwrite(mask_dir / "a.tif", big)
    with pytest.raises(error, match=match):
        load_folder(img_dir, mask_dir)


def test_load_folder_checks_its_arguments(tmp_path):
    img_dir, mask_dir = _folders(tmp_path)
    with pytest.raises(TypeError, match="images_dir"):
        load_folder(3, mask_dir)
    with pytest.raises(ValueError, match="image_size"):
        load_folder(img_dir, mask_dir, image_size=0)
    with pytest.raises(ValueError, match="normalize"):
        load_folder(img_dir, mask_dir, normalize="zscore")
    with pytest.raises(ValueError, match="num_classes"):
        load_folder(img_dir, mask_dir, num_classes=0)


def test_load_folder_on_the_shared_nuclei_data(nuclei_dir):
    images, masks, names = load_folder(nuclei_dir / "images", nuclei_dir / "masks", num_classes=2, return_names=True)
    assert images.shape == (120, 256, 256, 3) and masks.shape == (120, 256, 256)
    assert names == sorted(p.stem for p in (nuclei_dir / "images").glob("*.png"))
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # greyscale repeated
    assert set(np.unique(masks)) == {0, 1}
    assert 0.05 < masks.mean() < 0.5  # nuclei cover a minority of the pixels
    small, small_masks = load_folder(nuclei_dir / "images", nuclei_dir / "masks", image_size=64)
    assert small.shape == (120, 64, 64, 3) and set(np.unique(small_masks)) == {0, 1}
    with pytest.raises(ValueError, match=r"num_classes`=1 but mask file .*\.png holds the values \[0, 1\]"):
        load_folder(nuclei_dir / "images", nuclei_dir / "masks", num_classes=1)


# --- split_arrays ---------------------------------------------------------------------------


def test_split_arrays_partitions_and_keeps_pairs():
    rng = np.random.default_rng(3)
    x = rng.random((103, 2, 2))
    y = np.arange(103)
    parts = split_arrays(x, y, fractions=(0.8, 0.1, 0.1), seed=4)
    # 0.1 * 103 = 10.3 -> 10 each, the first part takes the rest: 83
    assert [len(p[1]) for p in parts] == [83, 10, 10]
    np.testing.assert_array_equal(np.sort(np.concatenate([p[1] for p in parts])), y)
    for images, labels in parts:
        np.testing.assert_array_equal(images, x[labels])
    again = split_arrays(x, y, fractions=(0.8, 0.1, 0.1), seed=4)
    other = split_arrays(x, y, fractions=(0.8, 0.1, 0.1), seed=5)
    np.testing.assert_array_equal(again[1][1], parts[1][1])
    assert not np.array_equal(other[0][1], parts[0][1])
    assert [len(p[1]) for p in split_arrays(x, y, fractions=(0.5, 0.5))] == [51, 52]


@pytest.mark.parametrize(
    "fractions, match",
    [((0.8, 0.1), "sum to 1"), ((1.0,), "two or more"), ((1.2, -0.2), r"\[0, 1\]"), ((0.5, 0.6, -0.1), r"\[0, 1\]")],
)
def test_split_arrays_rejects_bad_fractions(fractions, match):
    with pytest.raises(ValueError, match=match):
        split_arrays(np.zeros((10, 2)), np.zeros(10), fractions=fractions)


def test_split_arrays_rejects_unpaired_arrays():
    with pytest.raises(ValueError, match="same length"):
        split_arrays(np.zeros((10, 2)), np.zeros(9))


def test_regenerated_data_that_differs_from_the_reference_is_used_but_not_saved(tmp_path, monkeypatch):
    # What another NumPy with other random streams would do: the data differs from the reference.
    monkeypatch.setattr(datasets.shapes, "SHAPES_SHA256", "0" * 64)
    target = tmp_path / SHAPES_FILE
    with pytest.warns(UserWarning, match="did not save it: it differs from the course's reference"):
        images, _ = load_shapes("val", path=target)
    assert images.shape == (SHAPES_SPLITS["val"][0], 64, 64, 3)
    assert not target.exists()


# --- the shipped nucleus subset (data/nuclei-v1) --------------------------------


def test_load_nuclei_reads_the_shipped_subset_offline():
    from seglearn.datasets import NUCLEI_SUBSET_COUNT, load_nuclei

    images, masks, names = load_nuclei(return_names=True)
    assert images.shape == (NUCLEI_SUBSET_COUNT, 256, 256, 3) and images.dtype == np.float32
    assert masks.shape == (NUCLEI_SUBSET_COUNT, 256, 256) and masks.dtype == np.uint8
    assert names == sorted(names) and len(set(names)) == NUCLEI_SUBSET_COUNT
    assert set(np.unique(masks).tolist()) == {0, 1}
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # grey repeated into RGB
    assert 0.03 < masks.mean() < 0.15  # nuclei cover a few per cent of the pixels (README: 6.7%)
    ids, id_masks = load_nuclei(instances=True, image_size=64)
    assert ids.shape == (NUCLEI_SUBSET_COUNT, 64, 64, 3) and id_masks.dtype == np.uint16
    assert int(id_masks.max()) > 1  # several nuclei per image, not a binary mask


def test_load_nuclei_subset_is_an_unchanged_copy_of_the_shared_images(nuclei_dir):
    from seglearn.datasets.nuclei import _nuclei_subset_dir

    folder = _nuclei_subset_dir(None)
    for file in sorted((folder / "images").glob("*.png")):
        for kind in ("images", "masks", "instances"):
            assert (folder / kind / file.name).read_bytes() == (nuclei_dir / kind / file.name).read_bytes()


def _subset_copy(tmp_path):
    import shutil

    from seglearn.datasets.nuclei import _nuclei_subset_dir

    copy = tmp_path / "nuclei-v1"
    shutil.copytree(_nuclei_subset_dir(None), copy)
    return copy


def test_load_nuclei_refuses_an_altered_or_incomplete_copy(tmp_path):
    from seglearn.datasets import load_nuclei

    copy = _subset_copy(tmp_path)
    load_nuclei(path=copy)  # an unchanged copy loads
    victim = sorted((copy / "masks").glob("*.png"))[3]
    data = bytearray(victim.read_bytes())
    data[-20] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{victim.name} was altered"):
        load_nuclei(path=copy)
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=f"{victim.name} is missing"):
        load_nuclei(path=copy)
    (copy / "SHA256SUMS").write_text("0" * 64 + "  masks/x.png\n")
    with pytest.raises(ValueError, match="SHA256SUMS is not the course's list"):
        load_nuclei(path=copy)
    with pytest.raises(FileNotFoundError, match="download_nuclei"):
        load_nuclei(path=tmp_path / "nowhere")
    with pytest.raises((TypeError, ValueError), match="instances"):
        load_nuclei(instances="yes")
