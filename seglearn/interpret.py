"""Interpretation: looking inside a trained segmentation model.

- :func:`feature_maps` returns the output of one layer for a batch of images;
- :func:`grad_cam` maps where one layer's features pushed a region towards a
  class (Grad-CAM);
- :func:`pixel_confidence` gives the per-pixel confidence and entropy of the
  predicted class probabilities.

Importing this module does not import TensorFlow: :func:`feature_maps` and
:func:`grad_cam` import it when called; :func:`pixel_confidence` is NumPy only.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array, check_images, check_int, check_model, describe
from .ops import log_softmax

__all__ = [
    "feature_maps",
    "grad_cam",
    "pixel_confidence",
]


def _get_layer(model, layer_name):
    if not isinstance(layer_name, str):
        raise TypeError(f"`layer_name` must be a layer name (str). Received: layer_name={describe(layer_name)}")
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ValueError(
            f"`layer_name` must name a layer of the model ({shown}). "
            f"Received: layer_name={layer_name!r}"
        )
    return model.get_layer(layer_name)


def feature_maps(model, images, layer_name):
    """The output of one layer for a batch of images.

    Parameters
    ----------
    model : keras.Model
    images : float ndarray of shape (N, H, W, C)
    layer_name : str
        For the course U-Net e.g. ``"enc0_act2"`` (first encoder block) or
        ``"bottleneck_act2"``.

    Returns
    -------
    float32 ndarray of shape (N, h, w, k)
        The ``k`` feature maps of the layer.
    """
    import keras

    from .models import _model_input

    check_model(model)
    x = check_images(images)
    layer = _get_layer(model, layer_name)
    probe = keras.Model(_model_input(model), layer.output)
    return np.asarray(probe(x, training=False), dtype=np.float32)


def grad_cam(model, image, class_id, layer_name, region=None):
    """Grad-CAM map of a segmented region with respect to one layer.

    For a segmentation model the score explained is the summed logit of class
    ``c`` over a region ``R`` of pixels, ``y = sum_{(i,j) in R} z[i, j, c]``.
    With ``A^k`` the ``k``-th feature map of the chosen layer (``h x w``):

    - channel weights ``alpha_k = mean_{u,v} dy / dA^k[u, v]``;
    - map ``L = ReLU(sum_k alpha_k A^k)``, resized bilinearly to ``H x W``
      and divided by its maximum (all zeros if the maximum is 0).

    Bright pixels are where that layer's features pushed the region towards
    class ``c`` (Selvaraju et al., 2017; for segmentation Vinogradova et al.,
    2020).

    Parameters
    ----------
    model : keras.Model
        Returns per-pixel logits ``(N, H, W, num_classes)``.
    image : float ndarray of shape (H, W, C)
        One image.
    class_id : int
        The class ``c``.
    layer_name : str
        The layer whose features are weighted, e.g. ``"enc1_act2"``.
    region : bool ndarray of shape (H, W), optional
        The pixels ``R``; default the pixels the model predicts as ``c``.

    Returns
    -------
    float32 ndarray of shape (H, W)
        Values in ``[0, 1]``.
    """
    import keras
    import tensorflow as tf

    from .models import _model_input

    check_model(model)
    x = check_array(image, "image", ndim=3, layout="(H, W, C)").astype(np.float32)
    num_classes = int(model.output_shape[-1])
    class_id = check_int(class_id, "class_id")
    if not 0 <= class_id < num_classes:
        raise ValueError(f"`class_id` must be in [0, {num_classes}). Received: class_id={class_id}")
    layer = _get_layer(model, layer_name)
    probe = keras.Model(_model_input(model), [layer.output, model.outputs[0]])
    if region is not None:
        region = check_array(region, "region", ndim=2, layout="(H, W)", kind="bool")
        if region.shape != x.shape[:2]:
            raise ValueError(
                f"`region` must have the image's size {x.shape[:2]}. Received: region={describe(region)}"
            )
    inputs = tf.constant(x[None])
    with tf.GradientTape() as tape:
        features, logits = probe(inputs, training=False)
        if region is None:
            mask = tf.cast(tf.argmax(logits[0], axis=-1) == class_id, logits.dtype)
        else:
            mask = tf.constant(region, dtype=logits.dtype)
        score = tf.reduce_sum(logits[0, :, :, class_id] * mask)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, x.shape[:2], method="bilinear")[0, :, :, 0].numpy()
    top = cam.max()
    return (cam / top if top > 0 else np.zeros_like(cam)).astype(np.float32)


def pixel_confidence(logits):
    """Per-pixel confidence and uncertainty of a segmentation.

    With ``p = softmax(z)`` over the classes:

    - confidence ``max_c p_c`` (1 = certain, ``1/C`` = uniform);
    - entropy ``H = -sum_c p_c log p_c`` in nats (0 = certain, ``log C`` =
      uniform).

    Parameters
    ----------
    logits : float ndarray of shape (..., C)

    Returns
    -------
    tuple of float ndarray of shape (...)
        ``(confidence, entropy)``.

    Examples
    --------
    >>> conf, ent = pixel_confidence(np.array([[0.0, 0.0], [10.0, -10.0]]))
    >>> conf.round(4), ent.round(4)
    (array([0.5, 1. ]), array([0.6931, 0.    ]))
    """
    z = check_array(logits, "logits", ndim=range(1, 6), layout="(..., C)").astype(np.float64)
    log_p = log_softmax(z)
    p = np.exp(log_p)
    entropy = -(p * log_p).sum(axis=-1)
    return p.max(axis=-1), np.maximum(entropy, 0.0)
