"""Save and load segmentation models with what is needed to use them.

:func:`save_model` and :func:`load_model` store a model in one ``.keras`` file
together with its :class:`ModelInfo` (class names, input size, channels,
normalisation), kept as ``seglearn.json`` inside the file's zip archive. Loading
never runs code from the file (``safe_mode=True``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from seglearn._imageio import to_unit_float
from seglearn._validation import (
    check_array,
    check_int_pair,
    check_positive_int,
    check_segmentation_model,
    describe,
)

__all__ = ["METADATA_NAME", "ModelInfo", "load_model", "save_model"]

#: Name of the metadata member inside a saved ``.keras`` archive.
METADATA_NAME = "seglearn.json"
_FORMAT = "seglearn-model"
_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------
# save and load
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What is needed to use a saved model besides its weights.

    Attributes
    ----------
    class_names : tuple of str
        Name of each class; index = class id = output channel.
    input_size : (int, int)
        The (H, W) the model was trained on (the tile size for larger images).
    channels : int
        Image channels the model takes (1 grey, 3 RGB).
    normalisation : dict
        ``{"mean": m, "std": s}`` (floats or one per channel): the model's
        input is ``(x - m) / s`` for images ``x`` scaled to ``[0, 1]``.
    """

    class_names: tuple
    input_size: tuple
    channels: int
    normalisation: dict = field(default_factory=lambda: {"mean": 0.0, "std": 1.0})

    @property
    def num_classes(self) -> int:
        """Number of classes, ``len(class_names)``."""
        return len(self.class_names)

    def prepare(self, images) -> np.ndarray:
        """Scale images to ``[0, 1]`` (uint8 / 255, uint16 / 65535) and apply the normalisation.

        Parameters
        ----------
        images : ndarray of shape (..., H, W, channels)
            uint8 or uint16 images, or float images in ``[0, 1]``.

        Returns
        -------
        ndarray, float32, same shape
        """
        images = np.asarray(images)
        if images.dtype.kind == "u":
            images = to_unit_float(images)
        images = check_array(images, "images", ndim=(3, 4), layout="(N, H, W, C)", dtype=np.float32)
        if images.shape[-1] != self.channels:
            raise ValueError(
                f"`images` must have {self.channels} channels, as the model's input. "
                f"Received: images={describe(images)}"
            )
        mean = np.asarray(self.normalisation["mean"], dtype=np.float32)
        std = np.asarray(self.normalisation["std"], dtype=np.float32)
        return ((images - mean) / std).astype(np.float32)

    def to_json(self) -> dict:
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "class_names": list(self.class_names),
            "input_size": list(self.input_size),
            "channels": self.channels,
            "normalisation": self.normalisation,
        }


def _check_normalisation(normalisation, channels) -> dict:
    if normalisation is None:
        return {"mean": 0.0, "std": 1.0}
    if not isinstance(normalisation, Mapping) or set(normalisation) != {"mean", "std"}:
        raise ValueError(
            "`normalisation` must be a dict with the keys 'mean' and 'std'. "
            f"Received: normalisation={describe(normalisation)}"
        )
    out = {}
    for key in ("mean", "std"):
        value = check_array(normalisation[key], "normalisation", ndim=(0, 1), dtype=np.float64)
        if value.ndim == 1 and value.shape != (channels,):
            raise ValueError(
                f"`normalisation` {key!r} must be one number or {channels} (one per channel). "
                f"Received: normalisation={describe(normalisation)}"
            )
        if key == "std" and np.any(value <= 0):
            raise ValueError(f"`normalisation` 'std' must be > 0. Received: normalisation={describe(normalisation)}")
        out[key] = value.tolist()
    return out


def _check_info(model, info: ModelInfo, source: str) -> None:
    (height, width, channels), k = check_segmentation_model(model)
    if info.num_classes != k:
        raise ValueError(
            f"{source}: the model outputs {k} classes but {info.num_classes} class names "
            f"are given ({', '.join(info.class_names)})"
        )
    if channels != info.channels:
        raise ValueError(f"{source}: the model takes {channels} channels, the metadata says {info.channels}")
    if None not in (height, width) and (height, width) != tuple(info.input_size):
        raise ValueError(
            f"{source}: the model's input size is {height}x{width}, the metadata says "
            f"{info.input_size[0]}x{info.input_size[1]}"
        )


def save_model(model, path, *, class_names, input_size=None, normalisation=None) -> Path:
    """Save a model and its metadata in one ``.keras`` file.

    The file is Keras' own archive (``model.save``) with one more member,
    ``seglearn.json``, holding a :class:`ModelInfo`; ``keras.models.load_model``
    still reads it, and :func:`load_model` reads both parts and checks them
    against each other.

    Parameters
    ----------
    model : keras.Model
        A segmentation model (``(N, H, W, K)`` logits).
    path : str or Path
        Target file, ending with ``.keras``; parent folders are created.
    class_names : sequence of str
        One name per output channel, index = class id.
    input_size : (int, int), optional
        The training size; default the model's input size (required when it
        is None).
    normalisation : dict, optional
        ``{"mean": m, "std": s}`` applied to ``[0, 1]`` images before the model;
        default identity ``{"mean": 0.0, "std": 1.0}``.

    Returns
    -------
    Path
        The written file.
    """
    (height, width, channels), k = check_segmentation_model(model)
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"`path` must end with '.keras'. Received: path={str(path)!r}")
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not all(
        isinstance(name, str) for name in class_names
    ):
        raise TypeError(f"`class_names` must be a sequence of str. Received: class_names={describe(class_names)}")
    if len(class_names) != k:
        raise ValueError(
            f"`class_names` must have one name per model output ({k}). "
            f"Received: class_names={describe(list(class_names))}"
        )
    if input_size is None:
        if None in (height, width):
            raise ValueError(
                "`input_size` is required for a model whose input size is None. Received: input_size=None"
            )
        input_size = (height, width)
    info = ModelInfo(
        class_names=tuple(class_names),
        input_size=check_int_pair(input_size, "input_size"),
        channels=channels,
        normalisation=_check_normalisation(normalisation, channels),
    )
    _check_info(model, info, "save_model")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(METADATA_NAME, json.dumps(info.to_json(), indent=2))
    return path


def load_model(path):
    """Load a model saved by :func:`save_model`, and check it.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file written by :func:`save_model`.

    Returns
    -------
    model : keras.Model
        The model, not compiled (:func:`seglearn.training.train` compiles it).
    info : ModelInfo
        Class names, input size, channels and normalisation.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a ``.keras`` archive, has no seglearn metadata, or
        the metadata does not match the model (number of classes, channels,
        input size).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an existing .keras file. Received: path={str(path)!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"`path` must be a .keras model file (a zip archive). Received: path={str(path)!r}")
    with zipfile.ZipFile(path) as archive:
        if METADATA_NAME not in archive.namelist():
            raise ValueError(
                f"{path} has no {METADATA_NAME}: it was not saved by seglearn.saving.save_model "
                "(load it with keras.models.load_model and save it with save_model)"
            )
        try:
            meta = json.loads(archive.read(METADATA_NAME))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: {METADATA_NAME} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or meta.get("version") != _FORMAT_VERSION:
        raise ValueError(f"{path}: {METADATA_NAME} is not seglearn model metadata of version {_FORMAT_VERSION}")
    try:
        channels = check_positive_int(meta["channels"], "channels")
        info = ModelInfo(
            class_names=tuple(str(name) for name in meta["class_names"]),
            input_size=check_int_pair(meta["input_size"], "input_size"),
            channels=channels,
            normalisation=_check_normalisation(meta["normalisation"], channels),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid {METADATA_NAME} ({exc})") from None
    model = keras.models.load_model(path, compile=False, safe_mode=True)  # never run code from the file
    _check_info(model, info, str(path))
    return model, info
