"""tf.data input pipelines for segmentation: arrays or folders -> augmented batches.

:func:`make_dataset` turns arrays of images and masks into a
``tf.data.Dataset`` of ``(images, masks)`` batches ready for ``model.fit``:
it normalises the images to float32 in ``[0, 1]``, optionally shuffles them
and applies :func:`augment_pair`, then batches and prefetches.

Paired augmentation transforms an image and its mask *identically*: the same
flip, the same rotation, the same crop. Images are resampled bilinearly,
masks with the nearest neighbour, so that a mask keeps holding class ids.
Brightness and contrast change the image only.

Randomness is reproducible: each element's augmentation uses stateless
random ops (``tf.random.stateless_uniform``) seeded from ``(seed, epoch
stream, element index)``, so two pipelines built with the same ``seed`` yield
the same batches, epoch after epoch, whatever the number of parallel calls;
a new epoch (a new iteration over the dataset) draws new augmentations.

This module imports TensorFlow; use :func:`seglearn.datasets.split_arrays`
(NumPy) to split arrays into train/validation/test first.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ._validation import (
    check_array,
    check_bool,
    check_class_weight,
    check_crop_size,
    check_int_pair,
    check_masks,
    check_positive_int,
    check_real,
    check_seed,
    describe,
)

__all__ = ["augment_pair", "make_dataset", "make_folder_dataset", "normalize_images"]


def normalize_images(images):
    """Images as float32 in ``[0, 1]``: uint8 is divided by 255, floats are checked.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, H, W)
        uint8 values, or floats in ``[0, 1]``. A missing channel axis is added.

    Returns
    -------
    float32 ndarray of shape (N, H, W, C)

    Examples
    --------
    >>> normalize_images(np.array([[[0, 255]]], dtype=np.uint8)).tolist()
    [[[[0.0], [1.0]]]]
    >>> normalize_images(np.full((1, 2, 2, 3), 2.0))
    Traceback (most recent call last):
    ...
    ValueError: `images` must hold values in [0, 1] (or be uint8); found values in [2, 2]. Received: images=array of shape (1, 2, 2, 3) and dtype float64
    """
    arr = check_array(images, "images", ndim=(3, 4), layout="(N, H, W, C) or (N, H, W)")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        low, high = (float(arr.min()), float(arr.max())) if arr.size else (0, 0)
        raise ValueError(
            f"`images` must hold values in [0, 1] (or be uint8); found values in [{low:g}, {high:g}]. "
            f"Received: images={describe(arr)}"
        )
    return arr.astype(np.float32)


def _check_range(value, name, low, high):
    """A pair (a, b) with low <= a <= b <= high."""
    pair = check_array(value, name, ndim=1, dtype=np.float64)
    if pair.shape != (2,) or not (low <= pair[0] <= pair[1] <= high):
        raise ValueError(
            f"`{name}` must be a pair (min, max) with {low:g} <= min <= max <= {high:g}. "
            f"Received: {name}={describe(value)}"
        )
    return float(pair[0]), float(pair[1])


def augment_pair(image, mask, seed, *, flip=True, rotate=True, scale=(0.7, 1.0), brightness=0.1, contrast=0.2):
    """Apply the same random geometric transform to an image and its mask.

    In this order, each with its own random number drawn from ``seed``:

    1. ``flip``: mirror left-right with probability 1/2;
    2. ``rotate``: rotate by ``k * 90`` degrees, ``k`` uniform in {0, 1, 2, 3}
       (with the flip this reaches all 8 symmetries of the square; for a
       non-square image only ``k`` in {0, 2}, to keep its shape);
    3. ``scale``: crop a random window of side ``s * H`` by ``s * W``, ``s``
       uniform in ``scale``, at a random place, and resize it back to
       ``(H, W)`` (a zoom by ``1 / s``): bilinear for the image, nearest
       neighbour for the mask (both sample the same points);
    4. ``brightness`` (image only): add ``d`` uniform in ``[-b, b]``;
    5. ``contrast`` (image only): ``(x - mean) * f + mean`` per channel,
       ``f`` uniform in ``[1 - c, 1 + c]``; then clip to ``[0, 1]``.

    Parameters
    ----------
    image : float tensor of shape (H, W, C)
        Values in ``[0, 1]``.
    mask : integer tensor of shape (H, W)
        Class ids.
    seed : int tensor of shape (2,)
        Seed of the stateless random ops (same seed, same transform).
    flip, rotate : bool, default True
        Enable the random flip, the random 90-degree rotation.
    scale : (float, float) or None, default (0.7, 1.0)
        Range of the crop's side relative to the image, in ``(0, 1]``; None
        disables cropping.
    brightness : float, default 0.1
        Largest brightness shift ``b >= 0`` (0 disables it).
    contrast : float, default 0.2
        Largest relative contrast change ``c`` in ``[0, 1)`` (0 disables it).

    Returns
    -------
    image : float32 tensor of shape (H, W, C)
    mask : tensor of shape (H, W), the dtype of ``mask``

    Examples
    --------
    >>> image = tf.reshape(tf.range(4, dtype=tf.float32) / 4, (2, 2, 1))
    >>> mask = tf.constant([[0, 1], [2, 3]])
    >>> x, y = augment_pair(image, mask, tf.constant([1, 2]), scale=None, brightness=0, contrast=0)
    >>> bool(np.array_equal(x.numpy()[..., 0] * 4, y.numpy()))  # moved together
    True
    """
    flip = check_bool(flip, "flip")
    rotate = check_bool(rotate, "rotate")
    if scale is not None:
        scale = _check_range(scale, "scale", 0.0, 1.0)
        if scale[0] <= 0:
            raise ValueError(f"`scale` must be in (0, 1]. Received: scale={describe(scale)}")
    brightness = check_real(brightness, "brightness", low=0)
    contrast = check_real(contrast, "contrast", low=0, high=1, high_inclusive=False)

    image = tf.convert_to_tensor(image)
    mask = tf.convert_to_tensor(mask)
    if image.shape.rank != 3:
        raise ValueError(f"`image` must have 3 dimensions (H, W, C). Received: image={describe(image)}")
    if mask.shape.rank != 2:
        raise ValueError(f"`mask` must have 2 dimensions (H, W). Received: mask={describe(mask)}")
    if image.shape[:2].is_fully_defined() and mask.shape.is_fully_defined() and image.shape[:2] != mask.shape:
        raise ValueError(
            f"`image` (H, W) and `mask` must have the same height and width. "
            f"Received: image.shape={tuple(image.shape)}, mask.shape={tuple(mask.shape)}"
        )
    image = tf.cast(image, tf.float32)
    mask_dtype = mask.dtype
    labels = tf.cast(mask, tf.int32)[..., None]  # (H, W, 1) so that image ops apply
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=6)

    if flip:
        mirror = tf.random.stateless_uniform([], seeds[0]) < 0.5
        image = tf.where(mirror, tf.reverse(image, [1]), image)
        labels = tf.where(mirror, tf.reverse(labels, [1]), labels)
    if rotate:
        square = image.shape[0] is not None and image.shape[0] == image.shape[1]
        k = tf.random.stateless_uniform([], seeds[1], minval=0, maxval=4 if square else 2, dtype=tf.int32)
        k = k if square else 2 * k
        image = tf.image.rot90(image, k)
        labels = tf.image.rot90(labels, k)
    if scale is not None and scale[0] < 1:
        size = tf.shape(image)[:2]
        s = tf.random.stateless_uniform([], seeds[2], minval=scale[0], maxval=scale[1])
        offset = tf.random.stateless_uniform([2], seeds[3]) * (1 - s)
        box = tf.concat([offset, offset + s], axis=0)[None]  # [[y1, x1, y2, x2]], normalised
        image = tf.image.crop_and_resize(image[None], box, [0], size, method="bilinear")[0]
        labels = tf.image.crop_and_resize(tf.cast(labels, tf.float32)[None], box, [0], size, method="nearest")[0]
        labels = tf.cast(tf.round(labels), tf.int32)
    if brightness > 0:
        image = image + tf.random.stateless_uniform([], seeds[4], minval=-brightness, maxval=brightness)
    if contrast > 0:
        factor = tf.random.stateless_uniform([], seeds[5], minval=1 - contrast, maxval=1 + contrast)
        mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
        image = (image - mean) * factor + mean
    image = tf.clip_by_value(image, 0.0, 1.0)
    return image, tf.cast(labels[..., 0], mask_dtype)


def make_dataset(
    images,
    masks,
    batch_size=32,
    *,
    augment=False,
    shuffle=False,
    seed=0,
    augment_options=None,
    num_classes=None,
    one_hot=False,
    class_weight=None,
    drop_remainder=False,
    crop_size=None,
):
    """Build a ``tf.data.Dataset`` of ``(images, masks)`` batches from arrays.

    Steps: normalise the images (:func:`normalize_images`), pair each with its
    mask, shuffle (optional, reshuffled every epoch), cut a random window
    (optional, ``crop_size``, a new place every epoch), augment (optional,
    :func:`augment_pair`), one-hot encode or weight the masks (optional),
    batch, prefetch.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, H, W)
        uint8, or floats in ``[0, 1]``.
    masks : int ndarray of shape (N, H, W)
        Class ids.
    batch_size : int, default 32
        Images per batch.
    augment : bool, default False
        Apply :func:`augment_pair` to every element, with new random draws
        each epoch.
    shuffle : bool, default False
        Shuffle the whole data set, in a new order each epoch.
    seed : int, default 0
        Seed of the shuffle and of the augmentation (``>= 0``). Two data sets
        built with the same arguments yield identical batches.
    augment_options : dict, optional
        Keyword arguments for :func:`augment_pair` (``flip``, ``rotate``,
        ``scale``, ``brightness``, ``contrast``).
    num_classes : int, optional
        Number of classes; required by ``one_hot`` and ``class_weight``. When
        given, masks are checked to hold ids in ``[0, num_classes)``.
    one_hot : bool, default False
        Yield masks one-hot encoded, float32 of shape (B, H, W, K), for losses
        such as Dice that need them.
    class_weight : sequence of float, optional
        Weight of each class; the data set then yields
        ``(images, masks, weights)`` with ``weights[b, y, x] = class_weight[mask[b, y, x]]``,
        which Keras uses as per-pixel sample weights (a way to fight class
        imbalance).
    drop_remainder : bool, default False
        Drop the last, smaller batch.
    crop_size : int or (int, int), optional
        Cut one random ``crop_size`` window (the same for image and mask) out
        of every image, at a new random place each epoch: large images then
        train at the cost of small ones. At most the images' (H, W).

    Returns
    -------
    tf.data.Dataset
        Elements ``(images, masks)``: float32 (B, H, W, C) and int32 (B, H, W)
        (or float32 (B, H, W, K) when ``one_hot``), plus float32 (B, H, W)
        weights when ``class_weight`` is given.

    Examples
    --------
    >>> images = np.zeros((5, 8, 8, 3), dtype=np.uint8)
    >>> masks = np.ones((5, 8, 8), dtype=np.uint8)
    >>> ds = make_dataset(images, masks, batch_size=2, augment=True, shuffle=True, seed=1)
    >>> [tuple(x.shape) for x, y in ds]
    [(2, 8, 8, 3), (2, 8, 8, 3), (1, 8, 8, 3)]
    >>> x, y = next(iter(ds)); x.dtype.name, y.dtype.name
    ('float32', 'int32')
    """
    x = normalize_images(images)
    y = check_masks(masks, x.shape)
    if y.size and y.min() < 0:
        raise ValueError(f"`masks` must hold class ids >= 0 (found {y.min()}). Received: masks={describe(y)}")
    batch_size = check_positive_int(batch_size, "batch_size")
    augment = check_bool(augment, "augment")
    shuffle = check_bool(shuffle, "shuffle")
    seed = check_seed(seed)
    one_hot = check_bool(one_hot, "one_hot")
    drop_remainder = check_bool(drop_remainder, "drop_remainder")
    if crop_size is not None:
        crop = check_crop_size(crop_size, x.shape)
    options = dict(augment_options or {})
    unknown = set(options) - {"flip", "rotate", "scale", "brightness", "contrast"}
    if unknown:
        raise ValueError(
            "`augment_options` may only hold flip, rotate, scale, brightness, contrast. "
            f"Received: augment_options={describe(augment_options)}"
        )
    if num_classes is not None:
        num_classes = check_positive_int(num_classes, "num_classes")
        if y.size and y.max() >= num_classes:
            raise ValueError(
                f"`masks` must hold class ids in [0, {num_classes}) (found {y.max()}). Received: masks={describe(y)}"
            )
    if (one_hot or class_weight is not None) and num_classes is None:
        raise ValueError("`num_classes` is required with one_hot=True or class_weight. Received: num_classes=None")
    weights = None
    if class_weight is not None:
        weights = tf.constant(check_class_weight(class_weight, num_classes))
    if augment:
        augment_pair(tf.zeros((2, 2, 1)), tf.zeros((2, 2), tf.int32), tf.constant([0, 0]), **options)  # check options now

    n = len(x)
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    ds = tf.data.Dataset.zip((tf.data.Dataset.range(n), ds))  # (index, (image, mask))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if crop_size is not None:
        # Its own random stream (seed + 1), so that cropping does not change the augmentation's draws.
        crops = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)

        def _crop(item, draw):
            index, (image, mask) = item
            element_seed = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), draw]), index)
            offsets = tf.random.experimental.stateless_split(element_seed, 2)
            top = tf.random.stateless_uniform([], offsets[0], 0, x.shape[1] - crop[0] + 1, tf.int32)
            left = tf.random.stateless_uniform([], offsets[1], 0, x.shape[2] - crop[1] + 1, tf.int32)
            window = (slice(top, top + crop[0]), slice(left, left + crop[1]))
            image = tf.ensure_shape(image[window], (*crop, x.shape[3]))
            return index, (image, tf.ensure_shape(mask[window], crop))

        ds = tf.data.Dataset.zip((ds, crops)).map(_crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment:
        # One random int64 per element and epoch: same seed -> same stream, new epoch -> new numbers.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, draws))

        def _augment(item, draw):
            index, (image, mask) = item
            element_seed = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), draw]), index)
            return augment_pair(image, mask, element_seed, **options)

        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(lambda index, pair: pair)
    if one_hot:
        ds = ds.map(lambda image, mask: (image, mask, tf.one_hot(mask, num_classes, dtype=tf.float32)))
    else:
        ds = ds.map(lambda image, mask: (image, mask, mask))
    if weights is not None:
        ds = ds.map(lambda image, mask, target: (image, target, tf.gather(weights, mask)))
    else:
        ds = ds.map(lambda image, mask, target: (image, target))
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def make_folder_dataset(images_dir, masks_dir, image_size=None, *, num_classes=None, batch_size=32, **options):
    """Build a batched ``tf.data.Dataset`` from folders of images and masks.

    Reads the folders with :func:`seglearn.datasets.load_folder` (into
    memory) and passes the arrays to :func:`make_dataset`.

    Parameters
    ----------
    images_dir, masks_dir : str or Path
        Folders of images and masks with the same stems (see ``load_folder``).
    image_size : int or (int, int), optional
        Resize everything to ``(H, W)``; required when the sizes differ.
    num_classes : int, optional
        Number of classes; masks are checked against it.
    batch_size : int, default 32
        Images per batch.
    **options
        Further arguments of :func:`make_dataset` (``augment``, ``shuffle``,
        ``seed``, ``augment_options``, ``one_hot``, ``class_weight``,
        ``drop_remainder``).

    Returns
    -------
    tf.data.Dataset
        As :func:`make_dataset`.

    Examples
    --------
    >>> ds = make_folder_dataset("nuclei/images", "nuclei/masks", image_size=128, num_classes=2)  # doctest: +SKIP
    """
    from .datasets import load_folder

    if image_size is not None:
        image_size = check_int_pair(image_size, "image_size")
    images, masks = load_folder(images_dir, masks_dir, image_size, num_classes=num_classes)
    return make_dataset(images, masks, batch_size, num_classes=num_classes, **options)
