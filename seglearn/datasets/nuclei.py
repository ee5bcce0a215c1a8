"""The 40 real nucleus images shipped with the course in ``data/nuclei-v1``: :func:`load_nuclei`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validation import check_bool
from ._cache import _repo_data_dir, _sha256_file, get_cache_dir
from .folders import _resize, load_folder

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


