"""The course data: the synthetic "shapes" set, real image folders, downloads.

Everything here is NumPy, Pillow and the standard library; TensorFlow is only
imported inside :func:`load_pets` (an optional extra).

- :func:`make_shapes` draws the course's synthetic segmentation problem:
  circles, squares, triangles and (rarely) stars on textured, noisy
  backgrounds, with per-pixel class masks. It is built so that a per-pixel
  colour rule cannot solve it (every class takes its colour from the same
  palette as the background) while a small U-Net learns it in seconds.
- :func:`load_shapes` reads the course's fixed train/validation/test splits
  from ``data/shapes-v1.npz``, checks their checksum and regenerates them when
  the file is missing or altered.
- :func:`load_folder` reads a real data set laid out as ``images/NAME.png`` +
  ``masks/NAME.png``; :func:`split_arrays` splits arrays at random.
- :func:`load_nuclei` reads the 40 real nucleus images shipped in
  ``data/nuclei-v1`` (CC0), checked by checksum: real data, offline.
- :func:`download_nuclei` fetches the 2018 Data Science Bowl nuclei images
  into that layout; :func:`load_pets` reads Oxford-IIIT Pet through
  ``tensorflow-datasets``.

Images are ``float32`` arrays of shape ``(N, H, W, 3)`` with values in
``[0, 1]``; masks are ``uint8`` arrays of shape ``(N, H, W)`` holding class
ids, ``0`` being the background.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import shutil
import socket
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._imageio import READ_ERRORS as _READ_ERRORS
from ._imageio import image_to_float, read_array
from ._validation import (
    check_array,
    check_bool,
    check_choice,
    check_int_pair,
    check_positive_int,
    check_real,
    describe,
)

__all__ = [
    "DEFAULT_CLASS_PROBS",
    "IMAGE_EXTENSIONS",
    "MASK_EXTENSIONS",
    "NUCLEI_ARCHIVE",
    "NUCLEI_SHA256",
    "NUCLEI_SUBSET",
    "NUCLEI_SUBSET_COUNT",
    "NUCLEI_SUBSET_SHA256",
    "NUCLEI_URL",
    "PETS_CLASSES",
    "PETS_URL",
    "SHAPES_FILE",
    "SHAPES_SHA256",
    "SHAPES_SPLITS",
    "SHAPE_CLASSES",
    "download_nuclei",
    "get_cache_dir",
    "load_folder",
    "load_nuclei",
    "load_pets",
    "load_shapes",
    "make_shapes",
    "split_arrays",
]

# ---------------------------------------------------------------------------
# The synthetic shapes data set
# ---------------------------------------------------------------------------

#: Class names of :func:`make_shapes`; the index is the class id in the masks.
SHAPE_CLASSES = ("background", "circle", "square", "triangle", "star")

#: Default probability that an object is a circle, square, triangle or star.
#: Stars are rare on purpose: about 9% of the foreground pixels, in about one
#: image in five.
DEFAULT_CLASS_PROBS = (0.30, 0.30, 0.30, 0.10)

# How far each shape reaches from its centre, in units of the object's radius
# ``r = size / 2``: the circle's radius, the square's half-diagonal, the
# triangle's and the star's circumradius. The factors roughly even out the
# areas (circle 3.14 r^2, square 2.9 r^2, triangle 2.4 r^2, star 2.9 r^2).
_REACH = np.array([0.0, 1.0, 1.2, 1.35, 1.4])
_STAR_INNER = 0.5  # inner radius of the star / outer radius
_PLACEMENT_TRIES = 20  # candidate centres per object
_MIN_DISTANCE = 1.0  # centres at least r_i + r_j apart: only corners and points overlap
_COLOUR_TRIES = 8  # candidate colours per object
_MIN_CONTRAST = 0.45  # RGB distance of an object's colour to the background under it
_MIN_COLOUR_GAP = 0.25  # RGB distance between the colours of two objects of one image
_SHADING = 0.05  # brightness ramp across an object, per radius
_TILT = np.pi  # shapes are rotated by an angle uniform in [-_TILT, _TILT]
_BLOBS = 0.10  # amplitude of the smooth colour blobs of the default background
_GRAIN = 0.04  # amplitude of its finer grey grain
_STRIPES = 0.15  # amplitude of the stripes of the shifted background

# style -> (palette low, palette high, default noise)
_STYLES = {
    "default": (0.05, 0.95, 0.03),
    "shifted": (0.35, 1.0, 0.07),
}

# The generator draws only with ``rng.random`` and ``rng.standard_normal``,
# whose streams NumPy keeps stable; the committed file stays the reference.


def _to_float(images_u8: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1], the one conversion used everywhere (k -> k/255)."""
    return images_u8.astype(np.float32) / np.float32(255)


def _uniform(rng, low, high, size):
    return low + (high - low) * rng.random(size)


def _upsample(low_res: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of (N, h, w, C) to (N, height, width, C), corners aligned."""
    h, w = low_res.shape[1:3]
    ys = np.linspace(0.0, h - 1.0, height)
    xs = np.linspace(0.0, w - 1.0, width)
    y0 = np.minimum(ys.astype(np.int64), h - 2)
    x0 = np.minimum(xs.astype(np.int64), w - 2)
    fy = (ys - y0).astype(np.float32)[None, :, None, None]
    fx = (xs - x0).astype(np.float32)[None, None, :, None]
    top = low_res[:, y0]
    bottom = low_res[:, y0 + 1]
    top = top[:, :, x0] * (1 - fx) + top[:, :, x0 + 1] * fx
    bottom = bottom[:, :, x0] * (1 - fx) + bottom[:, :, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _background(rng, n, height, width, yy, xx, style, low, high):
    """Gradient between two palette colours plus the style's texture, (n, H, W, 3)."""
    c0 = _uniform(rng, low, high, (n, 1, 1, 3)).astype(np.float32)
    c1 = _uniform(rng, low, high, (n, 1, 1, 3)).astype(np.float32)
    theta = _uniform(rng, 0.0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    diag = np.float32(np.hypot(height, width))
    t = ((xx - width / 2) * np.cos(theta) + (yy - height / 2) * np.sin(theta)) / diag + 0.5
    image = c0 + (c1 - c0) * t[..., None]
    if style == "default":
        # smooth colour blobs and a finer grey grain
        blobs, grain = _BLOBS, _GRAIN
        image += _upsample(_uniform(rng, -blobs, blobs, (n, 5, 5, 3)).astype(np.float32), height, width)
        image += _upsample(_uniform(rng, -grain, grain, (n, 17, 17, 1)).astype(np.float32), height, width)
    else:
        # sinusoidal stripes of random period (5-10 px), direction and phase
        period = _uniform(rng, 5.0, 10.0, (n, 1, 1)).astype(np.float32)
        angle = _uniform(rng, 0.0, np.pi, (n, 1, 1)).astype(np.float32)
        phase = _uniform(rng, 0.0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
        along = xx * np.cos(angle) + yy * np.sin(angle)
        image += _STRIPES * np.sin(2 * np.pi * along / period + phase)[..., None]
    return image


def _inside(shape_id: int, u: np.ndarray, v: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Pixels inside a shape, given coordinates (u, v) in the shape's rotated frame.

    ``u, v`` have shape (m, H, W) (pixel centre minus shape centre, rotated by
    the shape's angle); ``reach`` (m, 1, 1) is the distance from the centre to
    the farthest point (radius, half-diagonal or circumradius).
    """
    if shape_id == 1:  # circle: u^2 + v^2 <= R^2
        return u * u + v * v <= reach * reach
    if shape_id in (2, 3):  # regular polygon with m sides: inside all m half-planes
        sides = 4 if shape_id == 2 else 3
        apothem = reach * np.float32(np.cos(np.pi / sides))
        inside = np.ones(u.shape, dtype=bool)
        for k in range(sides):
            a = np.pi / sides + 2 * np.pi * k / sides  # direction of the k-th edge's normal
            inside &= u * np.float32(np.cos(a)) + v * np.float32(np.sin(a)) <= apothem
        return inside
    # five-pointed star: fold the polar angle into [0, pi/5] (one half point), then
    # test the side of the edge from the tip (R, 0) to the notch (rho cos(pi/5), rho sin(pi/5))
    radius = np.hypot(u, v)
    sector = np.float32(2 * np.pi / 5)
    phi = np.mod(np.arctan2(v, u), sector)
    phi = np.minimum(phi, sector - phi)
    px, py = radius * np.cos(phi), radius * np.sin(phi)
    bx = reach * np.float32(_STAR_INNER * np.cos(np.pi / 5))
    by = reach * np.float32(_STAR_INNER * np.sin(np.pi / 5))
    # cross product (B - A) x (P - A) >= 0 on the centre's side
    return (bx - reach) * py - by * (px - reach) >= 0


def make_shapes(
    n,
    image_size=64,
    seed=0,
    *,
    num_objects=(1, 4),
    object_size=None,
    class_probs=None,
    noise=None,
    style="default",
):
    """Draw ``n`` images of overlapping shapes on textured backgrounds, with masks.

    Each image holds ``num_objects`` shapes (circle, square, triangle or star,
    see :data:`SHAPE_CLASSES`), drawn one after the other so that later shapes
    hide parts of earlier ones; the mask holds the class of the *visible*
    shape at each pixel (0 where the background shows). The data set is built
    to teach:

    - **shape, not colour, decides the class**: every shape and the
      background take their colours from one shared random palette, so a
      per-pixel colour rule cannot tell a circle from a square, nor (with the
      gradient, texture and noise of the background) reliably tell an object
      from the background;
    - **class imbalance is real**: stars are rare (10% of the objects by
      default, about 9% of the foreground pixels, a third of any other
      shape's share) and the background covers about 80% of the pixels;
    - **it is learnable**: shapes have distinct geometry, a size of 16-32
      pixels at 64x64, moderate overlap and a colour that contrasts with the
      background under it, so a small U-Net learns it in minutes. (The
      course's U-Net, depth 3 and 8 base filters, trained with the default
      recipe of ``seglearn train`` on the 300 training images, reaches a
      test mean IoU of 0.90-0.98 (3 seeds) in about two minutes on a
      2-core CPU; ``benchmarks/bench_training.py`` measures it.)

    How an image is drawn:

    1. background: a linear gradient between two palette colours in a random
       direction, plus a texture (``style="default"``: smooth colour blobs and
       a finer grey grain; ``style="shifted"``: sinusoidal stripes);
    2. ``k`` objects, ``k`` uniform in ``num_objects``; each gets a class from
       ``class_probs``, a size ``s`` uniform in ``object_size`` (radius
       ``r = s / 2``; the square's half-diagonal is ``1.2 r``, the triangle's
       circumradius ``1.35 r``, the star's outer radius ``1.4 r`` and inner
       radius ``0.7 r``, which roughly evens out the areas), a random rotation,
       a centre that keeps the whole shape inside the image and at least
       ``r_i + r_j`` away from earlier centres (the first of 20 random tries;
       an object that finds no place is left out), so that circles never
       overlap but corners and points of squares, triangles and stars can
       hide parts of their neighbours; a palette colour at RGB distance
       >= 0.45 from the background under its centre and
       >= 0.25 from the other objects' colours (the first of 8 tries that
       satisfies both, else the one most distinct from the background), and a
       faint brightness ramp;
    3. Gaussian noise of standard deviation ``noise`` on every pixel and
       channel, clipping to ``[0, 1]``, and rounding to multiples of 1/255 (so
       the images are stored exactly as ``uint8``).

    Parameters
    ----------
    n : int
        Number of images, ``>= 1``.
    image_size : int or (int, int), default 64
        Image height and width ``(H, W)`` in pixels, each ``>= 16``.
    seed : int, default 0
        Seed of the random generator (``>= 0``). The same ``(n, seed)`` and
        options give the same arrays; note that ``make_shapes(10, seed=s)`` is
        *not* the first 10 images of ``make_shapes(20, seed=s)`` (each random
        quantity is drawn for all images at once).
    num_objects : (int, int), default (1, 4)
        Smallest and largest number of objects per image (``0 <= min <= max``).
    object_size : (int, int), optional
        Smallest and largest object size ``s`` in pixels (the circle's
        diameter). Default ``(16, 32)`` scaled by ``min(H, W) / 64``. The
        largest shape (a star of outer radius ``0.7 s``) must fit in the image.
    class_probs : sequence of 4 floats, optional
        Relative frequency of circles, squares, triangles and stars among the
        objects (non-negative, normalised to sum 1). Default
        ``DEFAULT_CLASS_PROBS = (0.30, 0.30, 0.30, 0.10)``.
    noise : float, optional
        Standard deviation of the Gaussian pixel noise, ``>= 0``. Default: 0.03
        for ``style="default"``, 0.07 for ``style="shifted"``.
    style : {"default", "shifted"}
        ``"default"`` is the course's domain: colours uniform in
        ``[0.05, 0.95]`` per channel, blob-and-grain texture. ``"shifted"`` is a
        second domain for the chapters on generalisation and transfer learning:
        paler colours (``[0.35, 1.0]``), striped texture and stronger noise.

    Returns
    -------
    images : float32 ndarray of shape (n, H, W, 3)
        RGB values in ``[0, 1]``, each a multiple of 1/255.
    masks : uint8 ndarray of shape (n, H, W)
        Class ids: ``SHAPE_CLASSES[masks[i, y, x]]`` names the visible class.

    Raises
    ------
    ValueError, TypeError
        When an argument is out of range (the message names it).

    See Also
    --------
    load_shapes : the course's fixed splits of this generator.

    Examples
    --------
    >>> images, masks = make_shapes(4, seed=1)
    >>> images.shape, images.dtype, masks.shape, masks.dtype
    ((4, 64, 64, 3), dtype('float32'), (4, 64, 64), dtype('uint8'))
    >>> bool(images.min() >= 0 and images.max() <= 1)
    True
    >>> [SHAPE_CLASSES[c] for c in np.unique(masks)]
    ['background', 'square', 'triangle', 'star']
    >>> bool(np.array_equal(make_shapes(4, seed=1)[1], masks))  # deterministic
    True
    """
    n = check_positive_int(n, "n")
    height, width = check_int_pair(image_size, "image_size", minimum=16)
    seed = check_positive_int(seed, "seed", minimum=0)
    k_min, k_max = check_int_pair(num_objects, "num_objects", minimum=0)
    if k_min > k_max:
        raise ValueError(
            f"`num_objects` must be (min, max) with min <= max. Received: num_objects={describe(num_objects)}"
        )
    if object_size is None:
        scale = min(height, width) / 64
        s_min, s_max = 16 * scale, 32 * scale
    else:
        s_min, s_max = check_int_pair(object_size, "object_size", minimum=2)
        if s_min > s_max:
            raise ValueError(
                f"`object_size` must be (min, max) with min <= max. Received: object_size={describe(object_size)}"
            )
        if 2 * _REACH.max() * s_max / 2 > min(height, width):
            raise ValueError(
                f"`object_size` is too large for image_size=({height}, {width}): the largest shape "
                f"spans {_REACH.max():g} * size = {_REACH.max() * s_max:g} pixels; use a largest size <= "
                f"{int(min(height, width) / _REACH.max())}. Received: object_size={describe(object_size)}"
            )
    if class_probs is None:
        probs = np.asarray(DEFAULT_CLASS_PROBS, dtype=np.float64)
    else:
        probs = check_array(class_probs, "class_probs", ndim=1, dtype=np.float64)
        if probs.shape != (len(SHAPE_CLASSES) - 1,) or np.any(probs < 0) or probs.sum() <= 0:
            raise ValueError(
                f"`class_probs` must be {len(SHAPE_CLASSES) - 1} non-negative weights (circle, square, "
                f"triangle, star) with a positive sum. Received: class_probs={describe(class_probs)}"
            )
    probs = probs / probs.sum()
    style = check_choice(style, "style", tuple(_STYLES))
    low, high, default_noise = _STYLES[style]
    noise = default_noise if noise is None else check_real(noise, "noise", low=0)

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + np.float32(0.5)  # pixel centres
    images = _background(rng, n, height, width, yy, xx, style, low, high)
    masks = np.zeros((n, height, width), dtype=np.uint8)

    rows = np.arange(n)
    counts = k_min + np.floor(rng.random(n) * (k_max - k_min + 1)).astype(np.int64)
    centres = np.full((n, k_max, 2), -1e6)  # far away until placed
    radii = np.zeros((n, k_max))
    colours = np.full((n, k_max, 3), 1e3)  # far from any colour until placed
    cumulative = np.cumsum(probs)
    for slot in range(k_max):
        active = slot < counts
        shape = 1 + np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(probs) - 1)
        radius = _uniform(rng, s_min, s_max, n) / 2
        reach = radius * _REACH[shape]
        angle = _uniform(rng, -_TILT, _TILT, n)
        # centre: first candidate far enough from the earlier objects
        tries = rng.random((n, _PLACEMENT_TRIES, 2))
        cx = reach[:, None] + tries[..., 0] * (width - 2 * reach[:, None])
        cy = reach[:, None] + tries[..., 1] * (height - 2 * reach[:, None])
        gap = np.hypot(cx[:, :, None] - centres[:, None, :, 0], cy[:, :, None] - centres[:, None, :, 1])
        free = np.all(gap >= _MIN_DISTANCE * (radius[:, None, None] + radii[:, None, :]), axis=2)
        pick = free.argmax(axis=1)
        cx, cy = cx[rows, pick], cy[rows, pick]
        active &= free.any(axis=1)
        # colour: first candidate that contrasts with the background and the other objects
        candidates = _uniform(rng, low, high, (n, _COLOUR_TRIES, 3))
        under = images[rows, np.clip(cy.astype(np.int64), 0, height - 1), np.clip(cx.astype(np.int64), 0, width - 1)]
        contrast = np.linalg.norm(candidates - under[:, None], axis=-1)
        distinct = np.linalg.norm(candidates[:, :, None] - colours[:, None], axis=-1).min(axis=2)
        good = (contrast >= _MIN_CONTRAST) & (distinct >= _MIN_COLOUR_GAP)
        pick = np.where(good.any(axis=1), good.argmax(axis=1), contrast.argmax(axis=1))
        colour = candidates[rows, pick]
        shade_angle = _uniform(rng, 0.0, 2 * np.pi, n)
        # rasterise, one shape class at a time over the images that draw it
        for shape_id in range(1, len(SHAPE_CLASSES)):
            idx = np.flatnonzero(active & (shape == shape_id))
            if idx.size == 0:
                continue
            col = lambda a: a[idx].astype(np.float32)[:, None, None]  # noqa: E731
            dx, dy = xx - col(cx), yy - col(cy)
            cos_a, sin_a = np.cos(col(angle)), np.sin(col(angle))
            inside = _inside(shape_id, cos_a * dx + sin_a * dy, cos_a * dy - sin_a * dx, col(reach))
            ramp = _SHADING * (np.cos(col(shade_angle)) * dx + np.sin(col(shade_angle)) * dy) / col(radius)
            fill = colour[idx].astype(np.float32)[:, None, None, :] + ramp[..., None]
            images[idx] = np.where(inside[..., None], fill, images[idx])
            masks[idx] = np.where(inside, np.uint8(shape_id), masks[idx])
        centres[:, slot] = np.where(active[:, None], np.stack([cx, cy], axis=1), -1e6)
        radii[:, slot] = np.where(active, radius, 0.0)
        colours[:, slot] = np.where(active[:, None], colour, 1e3)

    images += (noise * rng.standard_normal(images.shape)).astype(np.float32)
    images_u8 = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
    return _to_float(images_u8), masks


# ---------------------------------------------------------------------------
# The course's fixed splits: data/shapes-v1.npz
# ---------------------------------------------------------------------------

#: File name of the course's splits (``v1`` = version 1 of the generator).
SHAPES_FILE = "shapes-v1.npz"

#: The course's splits: name -> (number of images, seed of :func:`make_shapes`),
#: all at 64x64 with the default options.
SHAPES_SPLITS = {"train": (300, 0), "val": (40, 1), "test": (60, 2)}

#: sha256 of the file's *content* (see :func:`_content_sha256`): the arrays'
#: names, dtypes, shapes and bytes, independent of the zip compression.
SHAPES_SHA256 = "ff2a42b9a760eb938fde0c34d418cd845d072053945cd817864c70e7d15ec001"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed time stamp: the same arrays give the same file


def get_cache_dir() -> Path:
    """The folder where seglearn writes downloads and regenerated data.

    ``$SEGLEARN_DATA_DIR`` when that environment variable is set, else
    ``~/.cache/seglearn``. The folder is not created here.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> saved = os.environ.pop("SEGLEARN_DATA_DIR", None)
    >>> get_cache_dir() == Path.home() / ".cache" / "seglearn"
    True
    >>> os.environ["SEGLEARN_DATA_DIR"] = "/tmp/seglearn-data"
    >>> str(get_cache_dir())
    '/tmp/seglearn-data'
    >>> if saved is None: del os.environ["SEGLEARN_DATA_DIR"]
    ... else: os.environ["SEGLEARN_DATA_DIR"] = saved
    """
    env = os.environ.get("SEGLEARN_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seglearn"


def _repo_data_dir() -> Path | None:
    """``data/`` of a source checkout (repository layout or editable install), else None."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root / "data"
    return None


def _content_sha256(arrays: dict) -> str:
    """sha256 over each array's name, dtype, shape and C-order bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _generate_splits() -> dict:
    """The arrays of ``shapes-v1.npz``, freshly drawn with :func:`make_shapes`."""
    arrays = {}
    for split, (count, seed) in SHAPES_SPLITS.items():
        images, masks = make_shapes(count, seed=seed)
        arrays[f"{split}_images"] = np.round(images * 255).astype(np.uint8)
        arrays[f"{split}_masks"] = masks
    return arrays


def _write_npz(path: Path, arrays: dict) -> None:
    """Write an ``.npz`` that ``np.load`` reads, byte-for-byte reproducible, atomically.

    ``np.savez_compressed`` stamps the current time into the zip; this writer
    uses a fixed time stamp and name order, so the same arrays give the same
    file. It writes a temporary file next to ``path`` and renames it, so a
    reader never sees half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            for name in sorted(arrays):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), version=(1, 0))
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, buffer.getvalue(), compresslevel=6)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the data file is not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_npz(path: Path) -> tuple[dict | None, str | None]:
    """Read and verify a shapes file: (arrays, None) or (None, what is wrong)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (*_READ_ERRORS, KeyError, zlib.error) as exc:  # truncated or foreign file
        return None, f"cannot be read ({type(exc).__name__}: {exc})"
    expected = {f"{s}_{kind}" for s in SHAPES_SPLITS for kind in ("images", "masks")}
    if set(arrays) != expected:
        return None, f"holds arrays {sorted(arrays)}, expected {sorted(expected)}"
    digest = _content_sha256(arrays)
    if digest != SHAPES_SHA256:
        return None, f"has content sha256 {digest[:12]}..., expected {SHAPES_SHA256[:12]}..."
    return arrays, None


def _shapes_arrays(path=None) -> dict:
    """The verified arrays of the shapes file, regenerating the file when needed."""
    if path is not None:
        candidates = [Path(path).expanduser()]
    else:
        repo = _repo_data_dir()
        candidates = ([repo / SHAPES_FILE] if repo else []) + [get_cache_dir() / SHAPES_FILE]
    problems = []
    for candidate in candidates:
        if candidate.is_file():
            arrays, problem = _read_npz(candidate)
            if problem is None:
                return arrays
            problems.append(f"{candidate} {problem}")
    why = "; ".join(problems) if problems else "not found at " + " or ".join(str(c) for c in candidates)
    arrays = _generate_splits()
    if _content_sha256(arrays) != SHAPES_SHA256:
        # Only possible if this NumPy draws other random numbers than the one that
        # made the reference file. The data is still a valid shapes set, but saving
        # it would only make the next call regenerate it again.
        written = (
            "did not save it: it differs from the course's reference data (another NumPy "
            "version?), so results may differ slightly from the course's"
        )
        candidates = []
    else:
        written = "could not save it (no writable folder; set SEGLEARN_DATA_DIR)"
    for candidate in candidates:
        try:
            _write_npz(candidate, arrays)
        except OSError:
            continue
        written = f"saved it to {candidate}"
        break
    warnings.warn(
        f"The course data file {SHAPES_FILE} is missing or altered ({why}); regenerated it "
        f"with make_shapes and {written}.",
        UserWarning,
        stacklevel=3,
    )
    return arrays


def load_shapes(split="train", *, path=None):
    """Load one of the course's fixed splits of the shapes data set.

    The splits are ``make_shapes(count, seed=seed)`` for the ``(count, seed)``
    of :data:`SHAPES_SPLITS` (train 300, val 40, test 60 images of 64x64),
    stored as ``uint8`` in ``data/shapes-v1.npz``. The file's content is
    checked against :data:`SHAPES_SHA256`. When the file is missing or
    altered, the splits are regenerated (about a second), a warning says so,
    and the file is written to the first writable place among: the
    repository's ``data/`` folder, then :func:`get_cache_dir`.

    The file is kept under 5 MB, hence only 300 training images. A network
    trained longer than a few epochs learns more from fresh images than from
    the same 300 again: draw them with ``make_shapes(n, seed=s)`` (about 3 ms
    per image) with seeds ``s >= 100``, which the splits do not use, and keep
    the "val" and "test" splits for evaluation.

    Parameters
    ----------
    split : {"train", "val", "test"}
        Which split to return.
    path : str or Path, optional
        Read (and if needed write) this file instead of searching
        ``data/shapes-v1.npz`` in the source checkout and then
        ``get_cache_dir() / "shapes-v1.npz"``.

    Returns
    -------
    images : float32 ndarray of shape (N, 64, 64, 3)
        Values ``k / 255`` in ``[0, 1]``, equal to what :func:`make_shapes` returns.
    masks : uint8 ndarray of shape (N, 64, 64)
        Class ids, see :data:`SHAPE_CLASSES`.

    Warns
    -----
    UserWarning
        When the file had to be regenerated.

    Examples
    --------
    >>> images, masks = load_shapes("val")
    >>> images.shape, masks.shape
    ((40, 64, 64, 3), (40, 64, 64))
    >>> bool(np.array_equal(load_shapes("val")[0], make_shapes(40, seed=1)[0]))
    True
    """
    split = check_choice(split, "split", tuple(SHAPES_SPLITS))
    arrays = _shapes_arrays(path)
    return _to_float(arrays[f"{split}_images"]), arrays[f"{split}_masks"].copy()


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
    from ._validation import check_directory

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
    seed = check_positive_int(seed, "seed", minimum=0)
    n = len(images)
    counts = [int(round(f * n)) for f in parts[1:]]
    if sum(counts) > n:
        raise ValueError(f"`fractions` {describe(fractions)} leave no room for the first part with N={n} items")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([n - sum(counts), *counts])[:-1]
    return [(images[idx], masks[idx]) for idx in np.split(order, bounds)]


# ---------------------------------------------------------------------------
# The real nucleus images shipped with the course
# ---------------------------------------------------------------------------

#: Folder of the shipped nucleus subset, inside ``data/`` of the source checkout.
NUCLEI_SUBSET = "nuclei-v1"
#: sha256 of ``data/nuclei-v1/SHA256SUMS``, the list of every file's sha256.
NUCLEI_SUBSET_SHA256 = "81fd56ec0d33e364ee507cf513dca12b5cab12f5f175ed29b24f1c623e182abf"
#: Number of images in the shipped subset.
NUCLEI_SUBSET_COUNT = 40


def _nuclei_subset_dir(path) -> Path:
    """The verified folder of the shipped subset; a clear error names what is wrong."""
    if path is None:
        repo = _repo_data_dir()
        folder = repo / NUCLEI_SUBSET if repo else get_cache_dir() / NUCLEI_SUBSET
    else:
        folder = Path(path).expanduser()
    how = (
        "Use a source checkout of the course (the images ship in its data/ folder), pass "
        "path= to a copy of data/nuclei-v1, or download the full set with download_nuclei()."
    )
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise FileNotFoundError(f"The course's nucleus images are not at {folder} (no SHA256SUMS). {how}")
    if _sha256_file(sums) != NUCLEI_SUBSET_SHA256:
        raise ValueError(f"{sums} is not the course's list of checksums (it was altered). {how}")
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(f"The course's nucleus image file {file} is missing. {how}")
        if _sha256_file(file) != digest:
            raise ValueError(f"The course's nucleus image file {file} was altered (its sha256 differs). {how}")
    return folder


def load_nuclei(*, image_size=None, instances=False, path=None, return_names=False):
    """Load the 40 real nucleus images that ship with the course, checked by checksum.

    Fluorescence-microscopy images of cell nuclei from the 2018 Data Science
    Bowl (BBBC038, CC0; see ``data/nuclei-v1/README.md``), 256 x 256 greyscale,
    with hand-made masks. Every file's sha256 is checked against
    ``data/nuclei-v1/SHA256SUMS``, whose own digest is
    :data:`NUCLEI_SUBSET_SHA256`, so an altered or incomplete copy is refused
    instead of giving other numbers. No network is used.

    Parameters
    ----------
    image_size : int or (int, int), optional
        Resize to ``(H, W)`` (bilinear for images, nearest for masks), as in
        :func:`load_folder`; by default the images keep their 256 x 256.
    instances : bool, default False
        Return the instance masks (``k`` = the k-th nucleus of the image,
        uint16) instead of the binary masks.
    path : str or Path, optional
        A copy of the ``nuclei-v1`` folder; by default ``data/nuclei-v1`` of
        the source checkout.
    return_names : bool, default False
        Also return the file stems, in the order of the arrays.

    Returns
    -------
    images : float32 ndarray of shape (40, H, W, 3)
        Grey values ``k / 255`` repeated in three channels (the course's models
        take RGB).
    masks : ndarray of shape (40, H, W)
        ``uint8`` class ids (0 background, 1 nucleus), or ``uint16`` instance
        ids when ``instances`` is true.
    names : list of str
        Only when ``return_names`` is true.

    Raises
    ------
    FileNotFoundError
        When the folder or one of its files is missing, naming it.
    ValueError
        When a file differs from the shipped one, naming it.

    Examples
    --------
    >>> images, masks = load_nuclei()
    >>> images.shape, images.dtype.name, masks.shape, masks.dtype.name
    ((40, 256, 256, 3), 'float32', (40, 256, 256), 'uint8')
    >>> sorted(np.unique(masks).tolist())
    [0, 1]
    """
    instances = check_bool(instances, "instances")
    return_names = check_bool(return_names, "return_names")
    folder = _nuclei_subset_dir(path)
    images, masks, names = load_folder(
        folder / "images", folder / "masks", image_size, num_classes=2, scale_binary=False, return_names=True
    )
    if instances:  # uint16 ids: load_folder keeps class ids <= 255
        from PIL import Image

        size = masks.shape[1:]
        masks = np.stack([
            _resize(np.asarray(Image.open(folder / "instances" / f"{name}.png")).astype(np.uint16), size, nearest=True)
            for name in names
        ])
    if return_names:
        return images, masks, names
    return images, masks


# ---------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------

#: Where the 2018 Data Science Bowl training set is published (BBBC038,
#: Broad Bioimage Benchmark Collection); override with ``base_url=`` or the
#: ``SEGLEARN_NUCLEI_URL`` environment variable.
NUCLEI_URL = "https://data.broadinstitute.org/bbbc/BBBC038/"
#: The archive: 670 images with one PNG mask per nucleus, about 82.9 MB
#: (the size the BBBC038 page states).
NUCLEI_ARCHIVE = "stage1_train.zip"
#: sha256 of the archive. None: the archive could not be fetched where this
#: package was built, so its hash is not pinned; the download is then checked
#: against the server's Content-Length and by testing every zip member's CRC.
#: Pass ``sha256=`` to :func:`download_nuclei` to pin it yourself.
NUCLEI_SHA256 = None
_NUCLEI_FOLDER = "dsb2018-nuclei"
_DONE_MARKER = "SOURCE.txt"
_CHUNK = 1 << 16


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Progress:
    """A one-line text progress bar on stderr: ``name  45% [#####     ] 37.2/82.9 MB``."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total, self.enabled, self.done = label, total, enabled, 0

    def update(self, count: int) -> None:
        self.done += count
        if not self.enabled:
            return
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * share)
            text = f"{share:4.0%} [{bar:<30}] {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"{self.done / 1e6:.1f} MB"
        sys.stderr.write(f"\r{self.label}  {text}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _download(url: str, target: Path, *, sha256: str | None, timeout: float, progress: bool, manual: str) -> None:
    """Download ``url`` to ``target`` through a temporary file; never leave a partial file.

    The data goes to ``target.name.<random>.part`` in the same folder, which is
    renamed to ``target`` only once complete (as many bytes as the server
    announced) and verified (sha256 when given). On any failure or interruption
    (including Ctrl-C) the temporary file is deleted.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    reason = f"HTTP {exc.code} {exc.reason}"
                else:
                    reason = getattr(exc, "reason", exc)
                raise ConnectionError(f"could not download {url} ({reason}). {manual}") from None
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                bar = _Progress(target.name, total, progress)
                digest = hashlib.sha256()
                try:
                    while True:
                        try:
                            block = response.read(_CHUNK)
                        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, bad chunk
                            raise ConnectionError(
                                f"the download of {url} broke off after {bar.done} bytes ({exc}). {manual}"
                            ) from None
                        if not block:
                            break
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
                finally:
                    bar.close()
        if total is not None and bar.done != total:
            raise ConnectionError(
                f"the download of {url} was interrupted: received {bar.done} of {total} bytes. "
                f"Try again, or {manual[0].lower()}{manual[1:]}"
            )
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise ValueError(
                f"the file downloaded from {url} has sha256 {digest.hexdigest()}, expected {sha256}; "
                "it was deleted. The server may have changed the file, or the download was corrupted."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _convert_dsb(archive: Path, out: Path, url: str) -> None:
    """Turn the DSB archive (``<id>/images/<id>.png``, ``<id>/masks/*.png``) into images/ + masks/.

    The image PNG is copied unchanged; the nucleus masks of an image are merged
    into one binary mask (0 background, 1 nucleus) saved as ``masks/<id>.png``.
    Written to a temporary folder that is renamed to ``out`` when complete.
    """
    from PIL import Image

    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{archive} is not a readable zip archive ({exc}); delete it and try again") from None
    with zf:
        bad = zf.testzip()
        if bad is not None:
            raise ValueError(f"{archive} is corrupt (bad CRC in {bad}); delete it and try again")
        image_members, mask_members = {}, {}
        for member in zf.namelist():
            parts = member.split("/")
            if len(parts) < 3 or not parts[-1].lower().endswith(".png"):
                continue
            sample, folder = parts[-3], parts[-2]
            if folder == "images":
                image_members[sample] = member
            elif folder == "masks":
                mask_members.setdefault(sample, []).append(member)
        if not image_members:
            raise ValueError(f"{archive} holds no <id>/images/<id>.png files; is it the DSB {NUCLEI_ARCHIVE}?")
        missing = sorted(set(image_members) - set(mask_members))
        if missing:
            raise ValueError(f"{archive}: {len(missing)} image(s) have no masks/ folder, e.g. {missing[0]}")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=out.name + ".", suffix=".part"))
        try:
            (tmp / "images").mkdir()
            (tmp / "masks").mkdir()
            for sample in sorted(image_members):
                (tmp / "images" / f"{sample}.png").write_bytes(zf.read(image_members[sample]))
                merged = None
                for member in sorted(mask_members[sample]):
                    with Image.open(io.BytesIO(zf.read(member))) as im:
                        nucleus = np.asarray(im.convert("L")) > 0
                    merged = nucleus if merged is None else merged | nucleus
                Image.fromarray(merged.astype(np.uint8)).save(tmp / "masks" / f"{sample}.png")
            (tmp / _DONE_MARKER).write_text(
                f"2018 Data Science Bowl stage-1 training set (BBBC038), {len(image_members)} images.\n"
                f"Source: {url}\nArchive sha256: {_sha256_file(archive)}\n"
                "masks/: the nucleus masks of each image merged, 0 = background, 1 = nucleus.\n"
                "Licence: CC0 1.0. Cite Caicedo et al., Nature Methods 16, 1247-1253 (2019).\n"
            )
            os.chmod(tmp, 0o755)  # mkdtemp makes it private
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def download_nuclei(cache_dir=None, *, base_url=None, sha256=NUCLEI_SHA256, timeout=10.0, force=False, progress=True):
    """Download the 2018 Data Science Bowl nuclei images and lay them out for :func:`load_folder`.

    Fetches ``stage1_train.zip`` (670 microscopy images with one mask per
    nucleus, about 83 MB; BBBC038 of the Broad Bioimage Benchmark Collection,
    CC0 licence) into ``cache_dir``, then writes
    ``cache_dir/dsb2018-nuclei/images/<id>.png`` (the original images, RGBA
    PNGs; :func:`load_folder` drops the alpha) and
    ``cache_dir/dsb2018-nuclei/masks/<id>.png`` (the nucleus masks of each
    image merged into one binary mask, 0 = background, 1 = nucleus). Later
    calls return the folder at once. The images come in several sizes (from
    256x256 to 1040x1388), so pass ``image_size`` to :func:`load_folder`.

    The download shows a progress bar, goes through a temporary file that is
    renamed only when complete and verified, and is deleted on any failure or
    interruption, so the cache never holds half a file. Offline, it fails
    after ``timeout`` seconds with a message saying where to put the archive
    by hand: download ``stage1_train.zip`` in a browser and place it in
    ``cache_dir`` (an archive already there is used instead of downloading).

    This is our own small downloader rather than ``keras.utils.get_file``,
    which needs Keras, has no timeout, and leaves a file with a wrong hash
    in its cache.

    Parameters
    ----------
    cache_dir : str or Path, optional
        Folder for the archive and the converted data; default
        :func:`get_cache_dir` (``$SEGLEARN_DATA_DIR`` or ``~/.cache/seglearn``).
    base_url : str, optional
        URL of the folder holding the archive (the archive's name is appended);
        default ``$SEGLEARN_NUCLEI_URL`` or :data:`NUCLEI_URL`.
    sha256 : str, optional
        Expected sha256 of the archive; default :data:`NUCLEI_SHA256` (None:
        not checked, see there). A downloaded file that does not match is
        deleted and ``ValueError`` is raised.
    timeout : float, default 10
        Seconds to wait for the server to answer or send data.
    force : bool, default False
        Download and convert again even if the data is in the cache.
    progress : bool, default True
        Show the progress bar on stderr.

    Returns
    -------
    pathlib.Path
        The folder holding ``images/`` and ``masks/``.

    Raises
    ------
    ConnectionError
        When the server cannot be reached or the download breaks off.
    ValueError
        When the archive's sha256 does not match, or the archive is not a
        valid DSB archive.

    Examples
    --------
    >>> folder = download_nuclei()  # doctest: +SKIP
    >>> images, masks = load_folder(folder / "images", folder / "masks", image_size=256)  # doctest: +SKIP
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else get_cache_dir()
    base = base_url if base_url is not None else os.environ.get("SEGLEARN_NUCLEI_URL", NUCLEI_URL)
    if not isinstance(base, str) or not base:
        raise TypeError(f"`base_url` must be a URL string. Received: base_url={describe(base_url)}")
    if sha256 is not None and (not isinstance(sha256, str) or len(sha256) != 64):
        raise ValueError(f"`sha256` must be a 64-character hex string or None. Received: sha256={describe(sha256)}")
    timeout = check_real(timeout, "timeout", low=0, low_inclusive=False)
    force = check_bool(force, "force")
    progress = check_bool(progress, "progress")
    url = base.rstrip("/") + "/" + NUCLEI_ARCHIVE
    out = root / _NUCLEI_FOLDER
    archive = root / NUCLEI_ARCHIVE
    if (out / _DONE_MARKER).is_file() and not force:
        return out
    manual = (
        f"To install the data by hand, download {NUCLEI_ARCHIVE} from {url} in a browser, put it in "
        f"{root}/ (so that {archive} exists) and call download_nuclei(cache_dir={str(root)!r}) again."
    )
    if force or not archive.is_file():
        _download(url, archive, sha256=sha256, timeout=timeout, progress=progress, manual=manual)
    elif sha256 is not None and _sha256_file(archive) != sha256.lower():
        raise ValueError(
            f"{archive} has sha256 {_sha256_file(archive)}, expected {sha256}: it is not the expected "
            "archive. Delete it (or call with force=True) to download it again."
        )
    _convert_dsb(archive, out, url)
    return out


#: Class names of :func:`load_pets` (the Oxford-IIIT Pet trimaps).
PETS_CLASSES = ("background", "pet", "border")
#: Where tensorflow-datasets downloads Oxford-IIIT Pet from (``images.tar.gz``,
#: ``annotations.tar.gz``); :func:`load_pets` checks that it answers before
#: starting the download (override the check's URL with ``$SEGLEARN_PETS_URL``).
PETS_URL = "https://thor.robots.ox.ac.uk/~vgg/data/pets/"


def load_pets(split="train", image_size=128, *, data_dir=None, max_images=None, timeout=10.0):
    """Load Oxford-IIIT Pet (images and pet/background/border masks) via tensorflow-datasets.

    An optional extra: it needs ``pip install "seglearn[pets]"``
    (``tensorflow-datasets``), TensorFlow, and for the first call about
    800 MB of downloads (``images.tar.gz``, ``annotations.tar.gz``) that
    tensorflow-datasets prepares under ``data_dir``. The trimap classes are
    renumbered to :data:`PETS_CLASSES`: 0 background, 1 pet, 2 border.

    Offline, when the data set is not prepared yet, it fails after
    ``timeout`` seconds (it first sends a HEAD request to :data:`PETS_URL`, or
    ``$SEGLEARN_PETS_URL``) with a message saying where to put the two
    archives by hand (``<data_dir>/downloads/manual/``).

    Parameters
    ----------
    split : {"train", "test"}
        The data set's split (3680 and 3669 images).
    image_size : int or (int, int), default 128
        Size ``(H, W)`` the images (bilinear) and masks (nearest) are resized to.
    data_dir : str or Path, optional
        tensorflow-datasets' data folder; default its own
        (``~/tensorflow_datasets``).
    max_images : int, optional
        Read only the first ``max_images`` examples (the full split needs
        about 700 MB of memory at 128x128).
    timeout : float, default 10
        Seconds to wait for the download server before giving up.

    Returns
    -------
    images : float32 ndarray of shape (N, H, W, 3)
        Values in ``[0, 1]``.
    masks : uint8 ndarray of shape (N, H, W)
        Class ids, see :data:`PETS_CLASSES`.

    Raises
    ------
    ImportError
        When tensorflow-datasets is not installed.
    ConnectionError
        When the data must be downloaded and the server cannot be reached.

    Examples
    --------
    >>> images, masks = load_pets("test", max_images=8)  # doctest: +SKIP
    >>> images.shape, PETS_CLASSES[masks.max()]  # doctest: +SKIP
    ((8, 128, 128, 3), 'border')
    """
    split = check_choice(split, "split", ("train", "test"))
    height, width = check_int_pair(image_size, "image_size")
    if max_images is not None:
        max_images = check_positive_int(max_images, "max_images")
    timeout = check_real(timeout, "timeout", low=0, low_inclusive=False)
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            'load_pets needs the optional package tensorflow-datasets: pip install "seglearn[pets]"'
        ) from None
    import tensorflow as tf

    builder = tfds.builder("oxford_iiit_pet", data_dir=None if data_dir is None else str(data_dir))
    if not builder.is_prepared():
        base = os.environ.get("SEGLEARN_PETS_URL", PETS_URL).rstrip("/") + "/"
        manual_dir = Path(str(builder.data_dir_root)) / "downloads" / "manual"
        try:
            request = urllib.request.Request(base + "images.tar.gz", method="HEAD")
            urllib.request.urlopen(request, timeout=timeout).close()
        except urllib.error.HTTPError:
            pass  # the server answers (perhaps not to HEAD): let tensorflow-datasets download
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            raise ConnectionError(
                f"Oxford-IIIT Pet is not prepared in {builder.data_dir_root} and its server cannot be reached "
                f"({getattr(exc, 'reason', exc)}). To install it by hand, download images.tar.gz and "
                f"annotations.tar.gz from {PETS_URL} into {manual_dir}/ and call load_pets again."
            ) from None
        builder.download_and_prepare()
    dataset = builder.as_dataset(split=split)
    if max_images is not None:
        dataset = dataset.take(max_images)
    remap = tf.constant([0, 1, 0, 2], dtype=tf.uint8)  # trimap 1 pet, 2 background, 3 border

    def prepare(example):
        image = tf.image.resize(tf.cast(example["image"], tf.float32) / 255.0, (height, width))
        mask = tf.image.resize(example["segmentation_mask"], (height, width), method="nearest")[..., 0]
        return tf.clip_by_value(image, 0.0, 1.0), tf.gather(remap, tf.cast(mask, tf.int32))

    images, masks = [], []
    for image, mask in dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(64):
        images.append(image.numpy())
        masks.append(mask.numpy())
    return np.concatenate(images).astype(np.float32), np.concatenate(masks).astype(np.uint8)
