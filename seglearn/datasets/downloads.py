"""Downloads, only when asked for: :func:`download_nuclei` (the full DSB 2018 set) and :func:`load_pets`."""

from __future__ import annotations

import re
import io
import os
import shutil
import sys
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from .._validation import (
    check_bool,
    check_choice,
    check_int_pair,
    check_positive_int,
    check_real,
    describe,
)

from ._cache import _sha256_file, get_cache_dir

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


def _download(url: str, target: Path, *, sha256: str | None, timeout: float, progress: bool, manual: str) -> None:
    """Download ``url`` to ``target`` with pooch; never leave a partial file, never lose ``target``.

    pooch (the downloader scikit-image and many scientific packages use)
    streams the file into a temporary folder next to ``target``, checks the
    sha256 when given and moves it into place only when complete; the
    temporary folder is deleted on any failure or interruption (Ctrl-C
    included), so an archive already at ``target`` survives a failed
    ``force=True`` download.
    """
    import pooch
    import requests

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch's notes ("use this value as known_hash") are not for our users
    try:
        if progress:
            print(f"downloading {url} to {target}", file=sys.stderr, flush=True)
        try:
            pooch.retrieve(url, known_hash=None, fname=target.name, path=staging, downloader=downloader)
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            reason = f"HTTP {response.status_code} {response.reason}" if response is not None else str(exc)
            raise ConnectionError(f"could not download {url} ({reason}). {manual}") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            counts = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", str(exc))
            what = (f"received {counts.group(1)} bytes, {counts.group(2)} more expected" if counts
                    else str(exc))
            raise ConnectionError(
                f"the download of {url} was interrupted: {what}. Try again, or {manual[0].lower()}{manual[1:]}"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ConnectionError(f"could not download {url} ({type(exc).__name__}). {manual}") from None
        digest = _sha256_file(staging / target.name)
        if sha256 is not None and digest != sha256.lower():
            raise ValueError(
                f"the file downloaded from {url} has sha256 {digest}, expected {sha256}; it was deleted. "
                "The server may have changed the file, or the download was corrupted."
            )
        os.replace(staging / target.name, target)
    finally:
        logger.setLevel(level)
        shutil.rmtree(staging, ignore_errors=True)


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

    The download itself is pooch's (as in scikit-image), with a timeout;
    ``keras.utils.get_file`` would need Keras, has no timeout, and leaves a
    file with a wrong hash in its cache.

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
