"""Shared fixtures for the test suite."""

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def nuclei_dir() -> Path:
    """The project's 120 real nucleus images (``SEGLEARN_NUCLEI_DIR``, else
    ``../shared/data/dsb2018-nuclei``), or skip when they are absent."""
    folder = Path(os.environ.get("SEGLEARN_NUCLEI_DIR", ROOT.parent / "shared" / "data" / "dsb2018-nuclei"))
    if not (folder / "images").is_dir():
        pytest.skip(f"real nucleus images not found at {folder} (set SEGLEARN_NUCLEI_DIR)")
    return folder


# --- TensorFlow and Keras, imported only by the tests that ask for them ------------


@pytest.fixture(scope="session")
def tf():
    import tensorflow

    return tensorflow


@pytest.fixture(scope="session")
def keras(tf):
    import keras

    return keras


# --- small Keras models (Keras is imported only by the tests that ask for them) ---


def _tiny_fcn(size=(16, 16), classes=3, width=4, *, seed=0):
    """A fully convolutional Keras model with named layers, seeded weights.

    ``enc_conv`` (3x3, ``width`` channels), ``enc_pool`` (2x2), ``mid_conv``
    (3x3, ``2 * width`` channels), ``up`` (2x) and ``logits`` (1x1, ``classes``):
    images ``(N, *size, 3)`` to logits ``(N, *size, classes)``.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((*size, 3))
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="enc_conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="enc_pool")(x)
    x = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="mid_conv")(x)
    x = keras.layers.UpSampling2D(2, name="up")(x)
    return keras.Model(inputs, keras.layers.Conv2D(classes, 1, name="logits")(x))


@pytest.fixture(scope="session")
def tiny_fcn():
    """The builder of a small seeded FCN (see ``_tiny_fcn``): call it for a fresh model."""
    return _tiny_fcn


@pytest.fixture(scope="module")
def tiny_model():
    """A 16x16, 3-class FCN of width 16, shared by a test module's tests.

    Width 16: ``mid_conv`` has 3*3*16*32 = 4608 weights, above the 1024 under
    which TFLite's dynamic-range quantisation leaves a tensor in float.
    """
    return _tiny_fcn(width=16)


@pytest.fixture(scope="module")
def calib():
    """16 seeded random images (16, 16, 3) in [0, 1): model inputs and TFLite calibration."""
    return np.random.default_rng(7).random((16, 16, 16, 3), dtype=np.float32)
