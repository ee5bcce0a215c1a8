"""Tests of seglearn.saving: save_model and load_model with metadata."""

import json
import zipfile

import keras
import numpy as np
import pytest

from seglearn import models, saving
from tiny_models import tiny_unet

pytestmark = pytest.mark.tf


# ---------------------------------------------------------------------------
# save and load
# ---------------------------------------------------------------------------


def test_save_and_load_keep_predictions_and_metadata(tmp_path):
    model = tiny_unet(channels=3, num_classes=3)
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    path = saving.save_model(model, tmp_path / "m" / "model.keras", class_names=["bg", "a", "b"],
                               normalisation={"mean": [0.5, 0.5, 0.5], "std": 0.25})
    loaded, info = saving.load_model(path)
    assert info == saving.ModelInfo(("bg", "a", "b"), (16, 16), 3, {"mean": [0.5, 0.5, 0.5], "std": 0.25})
    assert info.num_classes == 3
    # same weights, same float32 arithmetic
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    # prepare: (x - mean) / std of images scaled to [0, 1]
    raw = np.array([[[[0, 128, 255]]]], dtype=np.uint8)
    # float32: 128/255 - 0.5 cancels most digits, so compare with an absolute 1e-6
    np.testing.assert_allclose(info.prepare(raw), [[[[-2.0, (128 / 255 - 0.5) / 0.25, 2.0]]]], atol=1e-6)
    # the archive is still an ordinary .keras file
    assert keras.models.load_model(path, compile=False).count_params() == model.count_params()


def test_load_model_validates_the_file(tmp_path):
    model = tiny_unet(num_classes=2)
    with pytest.raises(FileNotFoundError, match="path"):
        saving.load_model(tmp_path / "missing.keras")
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="zip"):
        saving.load_model(tmp_path / "text.keras")
    plain = tmp_path / "plain.keras"
    model.save(plain)
    with pytest.raises(ValueError, match="seglearn.json"):
        saving.load_model(plain)
    # metadata that lies about the number of classes
    tampered = tmp_path / "tampered.keras"
    saving.save_model(model, tampered, class_names=["bg", "fg"])
    with zipfile.ZipFile(tampered) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["seglearn.json"])
    meta["class_names"] = ["bg", "fg", "other"]
    members["seglearn.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="outputs 2 classes but 3 class names"):
        saving.load_model(tampered)


def test_save_model_rejects_bad_metadata(tmp_path):
    model = tiny_unet(num_classes=2)
    with pytest.raises(ValueError, match="path"):
        saving.save_model(model, tmp_path / "model.h5", class_names=["a", "b"])
    with pytest.raises(ValueError, match="class_names"):
        saving.save_model(model, tmp_path / "m.keras", class_names=["a", "b", "c"])
    with pytest.raises(TypeError, match="class_names"):
        saving.save_model(model, tmp_path / "m.keras", class_names="ab")
    with pytest.raises(ValueError, match="normalisation"):
        saving.save_model(model, tmp_path / "m.keras", class_names=["a", "b"], normalisation={"std": 0})
    with pytest.raises(ValueError, match="normalisation"):
        saving.save_model(model, tmp_path / "m.keras", class_names=["a", "b"],
                            normalisation={"mean": 0, "std": 0})
    flexible = models.unet((None, None, 1), 2, depth=1, base_filters=2)
    with pytest.raises(ValueError, match="input_size"):
        saving.save_model(flexible, tmp_path / "m.keras", class_names=["a", "b"])
    assert not (tmp_path / "m.keras").exists()
