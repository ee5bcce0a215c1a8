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

from ._cache import get_cache_dir
from .downloads import (
    NUCLEI_ARCHIVE,
    NUCLEI_SHA256,
    NUCLEI_URL,
    PETS_CLASSES,
    PETS_URL,
    download_nuclei,
    load_pets,
)
from .folders import IMAGE_EXTENSIONS, MASK_EXTENSIONS, load_folder, split_arrays
from .nuclei import NUCLEI_SUBSET, NUCLEI_SUBSET_COUNT, NUCLEI_SUBSET_SHA256, load_nuclei
from .shapes import (
    DEFAULT_CLASS_PROBS,
    SHAPE_CLASSES,
    SHAPES_FILE,
    SHAPES_SHA256,
    SHAPES_SPLITS,
    load_shapes,
    make_shapes,
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
