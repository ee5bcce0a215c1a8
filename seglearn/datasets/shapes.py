"""The synthetic shapes data set: :func:`make_shapes` and the course's fixed splits (:func:`load_shapes`)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._imageio import READ_ERRORS as _READ_ERRORS
from .._imageio import to_unit_float
from .._validation import (
    check_array,
    check_choice,
    check_int_pair,
    check_positive_int,
    check_real,
    check_seed,
    describe,
)

from ._cache import _repo_data_dir, get_cache_dir

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
    seed = check_seed(seed)
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
    return to_unit_float(images_u8), masks


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
    return to_unit_float(arrays[f"{split}_images"]), arrays[f"{split}_masks"].copy()


