"""Real data sets in folders: :func:`load_folder` (images/NAME + masks/NAME) and :func:`split_arrays`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._imageio import image_to_float, read_array
from .._validation import (
    check_array,
    check_bool,
    check_choice,
    check_int_pair,
    check_positive_int,
    check_seed,
    describe,
)


# ---------------------------------------------------------------------------
# Real data sets in folders
# ---------------------------------------------------------------------------

#: File types :func:`load_folder` reads as images, and as masks.
IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
MASK_EXTENSIONS = (".png", ".tif", ".tiff", ".bmp")
_LOSSY = (".jpg", ".jpeg")


def _list_files(folder: Path, name: str, extensions) -> dict:
    """{stem: path} of the files of ``folder`` with one of ``extensions``; refuse duplicates."""
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in extensions:
            continue
        if path.stem in files:
            raise ValueError(
                f"`{name}` holds two files with the stem {path.stem!r}: {files[path.stem].name} and "
                f"{path.name}; keep one per stem. Received: {name}={str(folder)!r}"
            )
        files[path.stem] = path
    if not files:
        raise ValueError(
            f"`{name}` holds no files of type {', '.join(extensions)}. Received: {name}={str(folder)!r}"
        )
    return files


def _names(paths, limit=8) -> str:
    names = [p.name for p in paths]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _mask_to_labels(arr: np.ndarray, path: Path) -> np.ndarray:
    """A mask array (H, W) of class ids (or (H, W, C) with equal channels) -> int64 (H, W)."""
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):
        arr = arr[..., :-1]
    if arr.ndim == 3:
        if not np.all(arr == arr[..., :1]):
            raise ValueError(
                f"mask file {path} is a colour image (its channels differ); masks must hold one class id "
                "per pixel (a greyscale or palette PNG)"
            )
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"mask file {path} has shape {arr.shape}; expected (H, W)")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"mask file {path} holds non-integer values; masks must hold class ids")
    if arr.dtype.kind not in "buif":
        raise ValueError(f"mask file {path} has unsupported pixel type {arr.dtype}")
    return arr.astype(np.int64)


def _resize(x: np.ndarray, size: tuple[int, int], nearest: bool) -> np.ndarray:
    """Resize (H, W) or (H, W, C) to ``size`` = (H', W'): bilinear, or nearest for masks."""
    from PIL import Image

    if x.shape[:2] == size:
        return x
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    if x.ndim == 2:
        return np.asarray(Image.fromarray(x).resize(size[::-1], method))
    channels = [np.asarray(Image.fromarray(x[..., c]).resize(size[::-1], method)) for c in range(x.shape[-1])]
    return np.stack(channels, axis=-1)


def load_folder(
    images_dir,
    masks_dir,
    image_size=None,
    *,
    num_classes=None,
    scale_binary=True,
    normalize="dtype",
    return_names=False,
):
    """Read a segmentation data set stored as image files and mask files.

    Image ``images_dir/NAME.ext`` goes with mask ``masks_dir/NAME.ext2``
    (same stem, any supported extension), as in::

        images/cell_01.png   masks/cell_01.png
        images/cell_02.tif   masks/cell_02.png

    Images may be PNG, TIFF, JPEG or BMP, greyscale (repeated into three
    channels) or RGB (an alpha channel is dropped), 8-bit (divided by 255) or
    16-bit (divided by 65535). Masks hold one class id per pixel (greyscale or
    palette PNG/TIFF; JPEG is refused because its lossy compression changes
    the ids at edges). Files are read with Pillow, and TIFFs that Pillow
    cannot read with tifffile. Pairs are returned sorted by name.

    Parameters
    ----------
    images_dir, masks_dir : str or Path
        Folders of the images and of the masks. Hidden files and files of other
        types are ignored.
    image_size : int or (int, int), optional
        Resize every image (bilinear) and mask (nearest neighbour, so ids
        stay ids) to ``(H, W)``. When None, all images must already have the
        same size; otherwise a ``ValueError`` lists the sizes found and asks
        for ``image_size``.
    num_classes : int, optional
        When given, every mask value must lie in ``[0, num_classes)``; the
        error names the first file that breaks this.
    scale_binary : bool, default True
        When every mask holds only the values 0 and 255 (binary masks saved
        black and white), read 255 as class 1. Set False to keep 255.
    normalize : {"dtype", "minmax"}
        ``"dtype"`` divides integer images by their type's maximum (255 or
        65535) and expects float images in ``[0, 1]``; ``"minmax"`` rescales
        each image to ``[0, 1]`` by its own minimum and maximum (useful for
        16-bit microscopy with a small range).
    return_names : bool, default False
        Also return the list of stems, in the order of the arrays.

    Returns
    -------
    images : float32 ndarray of shape (N, H, W, 3)
        Values in ``[0, 1]``.
    masks : uint8 ndarray of shape (N, H, W)
        Class ids.
    names : list of str
        Only when ``return_names`` is true.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        When a folder is missing or is a file.
    ValueError
        When a folder holds no image files, when an image has no mask (or a
        mask no image), when a file cannot be read, when an image and its
        mask differ in size, when sizes differ and ``image_size`` is None, or
        when a mask holds a value outside ``[0, num_classes)`` (or ``> 255``).
        The message names the files.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "images").mkdir(); (root / "masks").mkdir()
    >>> Image.fromarray(np.full((8, 8), 200, np.uint8)).save(root / "images" / "a.png")
    >>> Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(root / "masks" / "a.png")
    >>> images, masks = load_folder(root / "images", root / "masks")
    >>> images.shape, float(images[0, 0, 0, 0]), masks.shape, int(masks.max())
    ((1, 8, 8, 3), 0.7843137383460999, (1, 8, 8), 1)
    """
    from .._validation import check_directory

    images_dir = check_directory(images_dir, "images_dir")
    masks_dir = check_directory(masks_dir, "masks_dir")
    size = None if image_size is None else check_int_pair(image_size, "image_size")
    if num_classes is not None:
        num_classes = check_positive_int(num_classes, "num_classes")
    scale_binary = check_bool(scale_binary, "scale_binary")
    normalize = check_choice(normalize, "normalize", ("dtype", "minmax"))
    return_names = check_bool(return_names, "return_names")

    images = _list_files(images_dir, "images_dir", IMAGE_EXTENSIONS)
    masks = _list_files(masks_dir, "masks_dir", MASK_EXTENSIONS + _LOSSY)
    lossy = [p for p in masks.values() if p.suffix.lower() in _LOSSY]
    if lossy:
        raise ValueError(
            f"`masks_dir` holds JPEG masks ({_names(lossy)}); JPEG's lossy compression changes class ids "
            "at edges: save masks as PNG. Received: masks_dir=" + repr(str(masks_dir))
        )
    no_mask = [images[s] for s in images if s not in masks]
    no_image = [masks[s] for s in masks if s not in images]
    if no_mask or no_image:
        parts = []
        if no_mask:
            parts.append(f"{len(no_mask)} image(s) without a mask in {masks_dir}: {_names(no_mask)}")
        if no_image:
            parts.append(f"{len(no_image)} mask(s) without an image in {images_dir}: {_names(no_image)}")
        raise ValueError("Unpaired files (image and mask must have the same stem): " + "; ".join(parts))

    names = sorted(images)
    image_list, mask_list = [], []
    for stem in names:
        image = image_to_float(read_array(images[stem], "image")[0], images[stem], normalize)
        mask = _mask_to_labels(read_array(masks[stem], "mask")[0], masks[stem])
        if image.shape[:2] != mask.shape:
            raise ValueError(
                f"image {images[stem]} is {image.shape[0]}x{image.shape[1]} but its mask {masks[stem]} is "
                f"{mask.shape[0]}x{mask.shape[1]}; an image and its mask must have the same size"
            )
        if mask.min() < 0 or mask.max() > 255:
            raise ValueError(f"mask file {masks[stem]} holds values in [{mask.min()}, {mask.max()}]; class ids must be in [0, 255]")
        mask = mask.astype(np.uint8)
        if size is not None:
            image, mask = _resize(image, size, nearest=False), _resize(mask, size, nearest=True)
        image_list.append(image)
        mask_list.append(mask)

    shapes = {}
    for stem, image in zip(names, image_list):
        shapes.setdefault(image.shape[:2], []).append(stem)
    if len(shapes) > 1:
        found = ", ".join(
            f"{h}x{w} ({len(s)} file(s), e.g. {s[0]})" for (h, w), s in sorted(shapes.items(), key=lambda kv: -len(kv[1]))
        )
        common = max(shapes, key=lambda k: len(shapes[k]))
        raise ValueError(
            f"the images have different sizes: {found}; pass image_size=(H, W) to resize them all, "
            f"for example image_size={common}"
        )
    images_arr = np.clip(np.stack(image_list), 0.0, 1.0).astype(np.float32)
    masks_arr = np.stack(mask_list)
    if scale_binary and np.all((masks_arr == 0) | (masks_arr == 255)):
        masks_arr = (masks_arr // 255).astype(np.uint8)
    if num_classes is not None:
        bad = np.flatnonzero(masks_arr.reshape(len(names), -1).max(axis=1) >= num_classes)
        if bad.size:
            i = int(bad[0])
            values = np.unique(masks_arr[i])
            raise ValueError(
                f"`num_classes`={num_classes} but mask file {masks[names[i]]} holds the values "
                f"{values.tolist()}: class ids must be in [0, {num_classes}) ({bad.size} file(s) break this)"
            )
    if return_names:
        return images_arr, masks_arr, names
    return images_arr, masks_arr


def split_arrays(images, masks, fractions=(0.8, 0.1, 0.1), seed=0):
    """Shuffle paired arrays and split them into parts (train, validation, test).

    Part ``j`` gets ``round(fractions[j] * N)`` items for ``j >= 1`` and the
    first part gets the rest, so that nothing is lost to rounding.

    Parameters
    ----------
    images : ndarray of shape (N, ...)
        Images (any dtype).
    masks : ndarray of shape (N, ...)
        Masks, paired with ``images`` along the first axis.
    fractions : sequence of float, default (0.8, 0.1, 0.1)
        Share of each part, each in ``[0, 1]``, summing to 1 (within 1e-6).
        Two or more parts.
    seed : int, default 0
        Seed of the shuffle (``>= 0``).

    Returns
    -------
    list of (images, masks) tuples
        One pair per fraction, in the order of ``fractions``.

    Examples
    --------
    >>> x = np.arange(10)[:, None] * np.ones((10, 2))
    >>> (xa, ya), (xb, yb), (xc, yc) = split_arrays(x, np.arange(10), seed=0)
    >>> len(xa), len(xb), len(xc)
    (8, 1, 1)
    >>> bool(np.array_equal(xa[:, 0], ya))  # pairs stay together
    True
    >>> sorted(np.concatenate([ya, yb, yc]).tolist()) == list(range(10))
    True
    """
    images = check_array(images, "images", kind="any")
    masks = check_array(masks, "masks", kind="any")
    if images.ndim == 0 or masks.ndim == 0 or len(images) != len(masks):
        raise ValueError(
            "`images` and `masks` must have the same length along axis 0. "
            f"Received: images={describe(images)}, masks={describe(masks)}"
        )
    parts = check_array(fractions, "fractions", ndim=1, dtype=np.float64)
    if parts.size < 2 or np.any(parts < 0) or np.any(parts > 1) or abs(parts.sum() - 1) > 1e-6:
        raise ValueError(
            "`fractions` must be two or more numbers in [0, 1] that sum to 1. "
            f"Received: fractions={describe(fractions)}"
        )
    seed = check_seed(seed)
    n = len(images)
    counts = [int(round(f * n)) for f in parts[1:]]
    if sum(counts) > n:
        raise ValueError(f"`fractions` {describe(fractions)} leave no room for the first part with N={n} items")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([n - sum(counts), *counts])[:-1]
    return [(images[idx], masks[idx]) for idx in np.split(order, bounds)]


