"""Small models and data for the training, inference and saving tests."""

import keras
import numpy as np

from seglearn import models


def tiny_unet(size=16, channels=1, num_classes=2, **kwargs):
    options = dict(depth=1, base_filters=4)
    options.update(kwargs)
    return models.unet((size, size, channels), num_classes, **options)


def threshold_data(n=8, size=16, seed=0):
    """Random grey images; class 1 where the pixel is brighter than 0.5."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, size, size, 1), dtype=np.float32)
    return images, (images[..., 0] > 0.5).astype(np.uint8)


def label_model(num_classes, channels=None):
    """A model whose logits are its input: it predicts argmax over the channels.

    A 1x1 convolution with an identity kernel and no bias, so the predictions
    are fully controlled by the images we feed it.
    """
    channels = channels or num_classes
    inputs = keras.Input((None, None, channels))
    conv = keras.layers.Conv2D(num_classes, 1, use_bias=False, name="identity")
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.eye(channels, num_classes, dtype=np.float32)[None, None]])
    return model


def one_hot_images(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[labels]
