"""Tests of the download helpers against a local HTTP server (no network needed).

The server runs on 127.0.0.1 in a thread of the test process and serves a tiny
archive in the layout of the 2018 Data Science Bowl ``stage1_train.zip``.
Every failure case checks that the cache holds no partial file afterwards.
"""

import hashlib
import http.server
import io
import socket
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from seglearn import datasets
from seglearn.datasets import NUCLEI_ARCHIVE, download_nuclei, load_folder

IDS = ("0a1b2c", "9f8e7d")


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _dsb_archive():
    """A DSB-style zip: <id>/images/<id>.png (RGBA), <id>/masks/<n>.png (one nucleus each, 0/255)."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    expected = {}
    with zipfile.ZipFile(buffer, "w") as zf:
        for sample in IDS:
            rgba = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
            zf.writestr(f"{sample}/images/{sample}.png", _png(rgba))
            union = np.zeros((6, 8), bool)
            for k in range(2):
                nucleus = np.zeros((6, 8), np.uint8)
                y, x = rng.integers(0, 4, 2)
                nucleus[y : y + 2, x + 2 * k : x + 2 * k + 2] = 255
                union |= nucleus > 0
                zf.writestr(f"{sample}/masks/{sample}_{k}.png", _png(nucleus))
            expected[sample] = (rgba, union.astype(np.uint8))
    return buffer.getvalue(), expected


ARCHIVE, EXPECTED = _dsb_archive()
ARCHIVE_SHA256 = hashlib.sha256(ARCHIVE).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """/good/<file>: the archive; /short/<file>: announces more bytes than it sends; else 404."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        if self.path == f"/good/{NUCLEI_ARCHIVE}":
            self.send_response(200)
            self.send_header("Content-Length", str(len(ARCHIVE)))
            self.end_headers()
            self.wfile.write(ARCHIVE)
        elif self.path == f"/short/{NUCLEI_ARCHIVE}":
            self.send_response(200)
            self.send_header("Content-Length", str(len(ARCHIVE) + 5000))
            self.end_headers()
            self.wfile.write(ARCHIVE[: len(ARCHIVE) // 2])
            self.wfile.flush()
            self.close_connection = True  # then hang up: an interrupted download
        else:
            self.send_error(404)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dead_url():
    """A URL on a free local port where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _leftovers(cache):
    """Files that must not stay in the cache after a failure: partial downloads, temporary folders."""
    return [p.name for p in cache.rglob("*") if p.name.endswith(".part") or ".part" in p.name]


def test_download_converts_the_archive_for_load_folder(server, tmp_path):
    url, _ = server
    folder = download_nuclei(tmp_path, base_url=f"{url}/good/", sha256=ARCHIVE_SHA256, progress=False)
    assert folder == tmp_path / "dsb2018-nuclei"
    assert sorted(p.name for p in (folder / "images").iterdir()) == [f"{s}.png" for s in sorted(IDS)]
    images, masks, names = load_folder(folder / "images", folder / "masks", num_classes=2, return_names=True)
    assert names == sorted(IDS)
    for i, sample in enumerate(names):
        rgba, union = EXPECTED[sample]
        np.testing.assert_array_equal(images[i], rgba[..., :3] / np.float32(255))  # image copied unchanged
        np.testing.assert_array_equal(masks[i], union)  # nucleus masks merged into one 0/1 mask
    assert (tmp_path / NUCLEI_ARCHIVE).read_bytes() == ARCHIVE  # archive kept in the cache
    assert "Archive sha256: " + ARCHIVE_SHA256 in (folder / "SOURCE.txt").read_text()
    assert not _leftovers(tmp_path)


def test_second_call_uses_the_cache_without_the_network(server, tmp_path, dead_url):
    url, _ = server
    download_nuclei(tmp_path, base_url=f"{url}/good/", progress=False)
    start = time.perf_counter()
    assert download_nuclei(tmp_path, base_url=dead_url, progress=False) == tmp_path / "dsb2018-nuclei"
    assert time.perf_counter() - start < 1.0


def test_base_url_from_the_environment(server, tmp_path, monkeypatch):
    url, httpd = server
    monkeypatch.setenv("SEGLEARN_NUCLEI_URL", f"{url}/good")
    download_nuclei(tmp_path, progress=False)
    assert httpd.requests[-1] == f"/good/{NUCLEI_ARCHIVE}"


def test_cache_dir_defaults_to_the_seglearn_cache(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setenv("SEGLEARN_DATA_DIR", str(tmp_path / "cache"))
    assert download_nuclei(base_url=f"{url}/good/", progress=False) == tmp_path / "cache" / "dsb2018-nuclei"


def test_bad_checksum_deletes_the_download(server, tmp_path):
    url, _ = server
    with pytest.raises(ValueError, match=r"has sha256 [0-9a-f]{64}, expected 0{64}; it was deleted"):
        download_nuclei(tmp_path, base_url=f"{url}/good/", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_server_down_fails_fast_and_says_how_to_install_by_hand(tmp_path, dead_url):
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="could not download") as info:
        download_nuclei(tmp_path, base_url=dead_url, timeout=2, progress=False)
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert f"download {NUCLEI_ARCHIVE} from {dead_url}{NUCLEI_ARCHIVE}" in message
    assert f"put it in {tmp_path}/" in message and str(tmp_path / NUCLEI_ARCHIVE) in message
    assert list(tmp_path.iterdir()) == []


def test_unknown_file_on_the_server(server, tmp_path):
    url, _ = server
    with pytest.raises(ConnectionError, match="HTTP 404 Not Found"):
        download_nuclei(tmp_path, base_url=f"{url}/nothing-here/", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_leaves_no_partial_file(server, tmp_path):
    url, _ = server
    received, announced = len(ARCHIVE) // 2, len(ARCHIVE) + 5000
    with pytest.raises(ConnectionError,
                       match=rf"interrupted: received {received} bytes, {announced - received} more expected"):
        download_nuclei(tmp_path, base_url=f"{url}/short/", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_leaves_no_partial_file(server, tmp_path, monkeypatch):
    import requests

    url, _ = server
    real = requests.models.Response.iter_content

    def interrupt_after_one_block(self, *args, **kwargs):
        for block in real(self, *args, **kwargs):
            yield block
            raise KeyboardInterrupt  # Ctrl-C in the middle of the download

    monkeypatch.setattr(requests.models.Response, "iter_content", interrupt_after_one_block)
    with pytest.raises(KeyboardInterrupt):
        download_nuclei(tmp_path, base_url=f"{url}/good/", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_failed_forced_download_keeps_the_archive_already_there(server, tmp_path):
    url, _ = server
    download_nuclei(tmp_path, base_url=f"{url}/good/", progress=False)
    with pytest.raises(ConnectionError, match="HTTP 404"):
        download_nuclei(tmp_path, base_url=f"{url}/nothing-here/", force=True, progress=False)
    assert (tmp_path / NUCLEI_ARCHIVE).read_bytes() == ARCHIVE  # nothing is lost
    assert not _leftovers(tmp_path)


def test_archive_placed_by_hand_is_used(tmp_path, dead_url):
    (tmp_path / NUCLEI_ARCHIVE).write_bytes(ARCHIVE)
    folder = download_nuclei(tmp_path, base_url=dead_url, sha256=ARCHIVE_SHA256, progress=False)
    assert len(list((folder / "masks").iterdir())) == len(IDS)


def test_wrong_archive_placed_by_hand_is_refused(tmp_path, dead_url):
    (tmp_path / NUCLEI_ARCHIVE).write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable zip archive"):
        download_nuclei(tmp_path, base_url=dead_url, progress=False)
    with pytest.raises(ValueError, match="expected 0{64}: it is not the expected archive"):
        download_nuclei(tmp_path, base_url=dead_url, sha256="0" * 64, progress=False)
    assert not (tmp_path / "dsb2018-nuclei").exists() and not _leftovers(tmp_path)


def test_zip_without_the_dsb_layout_is_refused(tmp_path, dead_url):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "hello")
    (tmp_path / NUCLEI_ARCHIVE).write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="holds no <id>/images/<id>.png"):
        download_nuclei(tmp_path, base_url=dead_url, progress=False)
    assert not (tmp_path / "dsb2018-nuclei").exists() and not _leftovers(tmp_path)


def test_force_downloads_again(server, tmp_path):
    url, httpd = server
    download_nuclei(tmp_path, base_url=f"{url}/good/", progress=False)
    count = len(httpd.requests)
    download_nuclei(tmp_path, base_url=f"{url}/good/", force=True, progress=False)
    assert len(httpd.requests) == count + 1
    assert len(list((tmp_path / "dsb2018-nuclei" / "images").iterdir())) == len(IDS)


def test_progress_bar(server, tmp_path, capsys):
    url, _ = server
    download_nuclei(tmp_path, base_url=f"{url}/good/", progress=True)
    err = capsys.readouterr().err
    assert f"downloading {url}/good/{NUCLEI_ARCHIVE}" in err and "100%" in err  # pooch's bar (tqdm)
    assert "known_hash" not in err  # pooch's advice to developers is not shown


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(timeout=0), ValueError, "timeout"),
        (dict(sha256="abc"), ValueError, "sha256"),
        (dict(base_url=5), TypeError, "base_url"),
        (dict(force="yes"), TypeError, "force"),
    ],
)
def test_download_nuclei_checks_its_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        download_nuclei(tmp_path, **kwargs)


def test_nuclei_constants_point_at_the_public_archive():
    assert datasets.NUCLEI_URL == "https://data.broadinstitute.org/bbbc/BBBC038/"
    assert NUCLEI_ARCHIVE == "stage1_train.zip"


# --- load_pets ----------------------------------------------------------------------


def test_load_pets_without_tensorflow_datasets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "seglearn\[pets\]"'):
        datasets.load_pets("train", max_images=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(split="validation"), "split"), (dict(image_size=0), "image_size"), (dict(max_images=0), "max_images")],
)
def test_load_pets_checks_its_arguments_first(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.load_pets(**kwargs)


class _FakeBuilder:
    """Stands in for a tensorflow-datasets builder of oxford_iiit_pet (trimaps 1 pet, 2 background, 3 border)."""

    def __init__(self, prepared, root):
        self.prepared, self.data_dir_root, self.prepare_calls = prepared, str(root), 0

    def is_prepared(self):
        return self.prepared

    def download_and_prepare(self):
        self.prepare_calls += 1
        self.prepared = True

    def as_dataset(self, split):
        import tensorflow as tf

        image = np.zeros((3, 4, 6, 3), np.uint8)
        image[:, :, 3:] = 255  # right half white
        trimap = np.full((3, 4, 6, 1), 2, np.uint8)  # background...
        trimap[:, 1:3, 1:5] = 1  # ...a pet...
        trimap[:, 0, :] = 3  # ...and a border row
        return tf.data.Dataset.from_tensor_slices({"image": image, "segmentation_mask": trimap})


@pytest.fixture
def fake_tfds(monkeypatch, tmp_path):
    import types

    builders = []

    def builder(name, data_dir=None):
        assert name == "oxford_iiit_pet"
        builders.append(_FakeBuilder(prepared=fake.prepared, root=tmp_path / "tfds"))
        return builders[-1]

    fake = types.SimpleNamespace(builder=builder, prepared=True, builders=builders)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    return fake


@pytest.mark.tf
def test_load_pets_renumbers_the_trimap_and_resizes(fake_tfds):
    images, masks = datasets.load_pets("test", image_size=(8, 12), max_images=2)
    assert images.shape == (2, 8, 12, 3) and images.dtype == np.float32 and masks.dtype == np.uint8
    expected = np.zeros((4, 6), np.uint8)  # 0 background, 1 pet, 2 border
    expected[1:3, 1:5] = 1
    expected[0, :] = 2
    np.testing.assert_array_equal(masks[0], expected.repeat(2, axis=0).repeat(2, axis=1))  # nearest, x2
    assert images[0, :, :5].max() == 0 and images[0, :, 7:].min() == 1  # bilinear only blends at the edge
    assert datasets.PETS_CLASSES == ("background", "pet", "border")


@pytest.mark.tf
def test_load_pets_offline_fails_fast_and_names_the_manual_folder(fake_tfds, dead_url, monkeypatch, tmp_path):
    fake_tfds.prepared = False
    monkeypatch.setenv("SEGLEARN_PETS_URL", dead_url)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="download images.tar.gz and annotations.tar.gz") as info:
        datasets.load_pets(max_images=1, timeout=2)
    assert time.perf_counter() - start < 5
    assert str(tmp_path / "tfds" / "downloads" / "manual") in str(info.value)
    assert fake_tfds.builders[-1].prepare_calls == 0


@pytest.mark.tf
def test_load_pets_prepares_the_data_when_the_server_answers(fake_tfds, server, monkeypatch):
    url, _ = server
    fake_tfds.prepared = False
    monkeypatch.setenv("SEGLEARN_PETS_URL", f"{url}/good/")
    # the local server answers HEAD with "501 Unsupported method": reachable, so go ahead
    images, _ = datasets.load_pets(max_images=1)
    assert fake_tfds.builders[-1].prepare_calls == 1 and images.shape == (1, 128, 128, 3)
