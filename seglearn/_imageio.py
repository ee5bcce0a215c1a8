"""The one image reader: 8- and 16-bit, grey and RGB, PNG/TIFF/JPEG/BMP, to float in [0, 1].

:func:`seglearn.datasets.load_folder` and ``seglearn predict`` both read images
here, so the same file gives the same array (a 16-bit image is divided by 65535
in both, never clipped to 8 bits). NumPy and Pillow only; tifffile for TIFFs
that Pillow cannot read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

# What reading a damaged or foreign file can raise (Pillow, tifffile, zipfile, np.load).
READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, zipfile.BadZipFile)
TIFF_EXTENSIONS = (".tif", ".tiff")


def integer_scale(dtype) -> float:
    """What pixels of ``dtype`` are divided by to lie in ``[0, 1]``: 255, 65535 or 1.

    8-bit integers -> 255; wider integers -> 65535 (16-bit files, which Pillow
    reads as int32 mode "I"); bool and floating point -> 1 (already in [0, 1]).

    >>> integer_scale(np.uint8), integer_scale(np.uint16), integer_scale(np.float32)
    (255.0, 65535.0, 1.0)
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "ui":
        return 1.0
    return 255.0 if dtype.itemsize == 1 else 65535.0


def to_unit_float(arr, dtype=np.float32) -> np.ndarray:
    """Pixels -> floats in ``[0, 1]`` by their type's scale (:func:`integer_scale`): the one conversion.

    ``uint8`` ``k -> k / 255``, ``uint16`` ``k -> k / 65535``, floats unchanged
    (cast to ``dtype``). The values are not checked: callers check the range.

    >>> to_unit_float(np.array([0, 51, 255], np.uint8))
    array([0. , 0.2, 1. ], dtype=float32)
    """
    arr = np.asarray(arr)
    return arr.astype(dtype) / np.dtype(dtype).type(integer_scale(arr.dtype))


def read_array(path: Path, kind: str = "image") -> tuple[np.ndarray, str]:
    """Read an image file into an ndarray (Pillow, or tifffile for TIFFs Pillow cannot read)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            mode = im.mode
            if kind == "image":
                if mode == "P":
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                elif mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                    im = im.convert("L" if mode == "1" else "RGB")
            elif mode == "1":
                im = im.convert("L").point(lambda v: 1 if v else 0)
            return np.asarray(im), im.mode
    except READ_ERRORS as exc:
        if path.suffix.lower() in TIFF_EXTENSIONS:
            import tifffile

            try:
                return np.asarray(tifffile.imread(path)), "tifffile"
            except READ_ERRORS as tiff_exc:
                exc = tiff_exc
        raise ValueError(f"cannot read {kind} file {path}: {type(exc).__name__}: {exc}") from None


def image_to_float(arr: np.ndarray, path: Path, normalize: str) -> np.ndarray:
    """An image array (H, W), (H, W, 1-4) -> float32 (H, W, 3) in [0, 1]."""
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):  # grey + alpha, RGB + alpha: drop alpha
        arr = arr[..., :-1]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)):
        raise ValueError(f"image file {path} has shape {arr.shape}; expected (H, W) grey or (H, W, 3) RGB")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "uif":
        raise ValueError(f"image file {path} has unsupported pixel type {arr.dtype}")
    if normalize == "minmax":
        x = arr.astype(np.float32)
        low, high = float(x.min()), float(x.max())
        x = (x - low) / (high - low) if high > low else np.zeros_like(x)
    elif arr.dtype.kind in "ui":
        scale = integer_scale(arr.dtype)
        if arr.min() < 0 or arr.max() > scale:
            raise ValueError(
                f"image file {path} holds values in [{arr.min()}, {arr.max()}], outside [0, {scale:g}]; "
                "pass normalize='minmax' to rescale each image to [0, 1]"
            )
        x = to_unit_float(arr)
    else:
        x = to_unit_float(arr)
        if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
            raise ValueError(
                f"image file {path} holds floating-point values outside [0, 1] (or NaN); "
                "pass normalize='minmax' to rescale each image to [0, 1]"
            )
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=-1)
    return x


def read_image(path, *, normalize="dtype") -> np.ndarray:
    """Read one image file as float32 ``(H, W, 3)`` in ``[0, 1]``.

    Grey images are repeated into three channels, an alpha channel is dropped;
    8-bit values are divided by 255 and 16-bit values by 65535
    (``normalize="dtype"``), or each image is rescaled by its own minimum and
    maximum (``normalize="minmax"``).

    Parameters
    ----------
    path : str or Path
    normalize : {"dtype", "minmax"}

    Returns
    -------
    float32 ndarray of shape (H, W, 3)

    Raises
    ------
    ValueError
        When the file cannot be read as an image, or holds values its type
        does not allow, naming the file.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "grey16.png"
    >>> Image.fromarray(np.full((2, 3), 65535 // 2, np.uint16)).save(path)
    >>> x = read_image(path)
    >>> x.shape, round(float(x[0, 0, 0]), 4)
    ((2, 3, 3), 0.5)
    """
    path = Path(path)
    return image_to_float(read_array(path, "image")[0], path, normalize)
