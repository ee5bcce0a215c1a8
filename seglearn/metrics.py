"""Segmentation metrics on integer label maps, in NumPy.

Everything is computed from one ``C x C`` confusion matrix ``cm`` whose entry
``cm[t, p]`` counts the pixels of true class ``t`` predicted as class ``p``
(rows true, columns predicted, as in scikit-learn and Keras). For class ``c``:

- true positives ``TP_c = cm[c, c]``;
- false positives ``FP_c = sum_t cm[t, c] - TP_c`` (column sum minus diagonal);
- false negatives ``FN_c = sum_p cm[c, p] - TP_c`` (row sum minus diagonal).

Training code should build the matrix once with :func:`confusion_matrix` (or
add up the matrices of several batches) and derive every score from it with
:func:`iou_from_confusion`, :func:`dice_from_confusion` and
:func:`accuracy_from_confusion`; the label-map functions (:func:`iou_per_class`,
:func:`mean_iou`, :func:`dice_per_class`, :func:`pixel_accuracy`) are
shortcuts that do exactly that.

A class that occurs neither in ``y_true`` nor in ``y_pred`` has no IoU or
Dice score (``0 / 0``): the per-class functions return NaN for it and
:func:`mean_iou` leaves it out of the mean, as ``keras.metrics.MeanIoU`` does.

The IoU of whole masks barely notices a boundary that is one pixel off on a
large object. :func:`boundary_iou` (Cheng et al., 2021) scores only the thin
band inside each mask's contour (:func:`boundary_band`), where such errors
are most of what is measured.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array, check_int, check_labels, check_not_empty, check_positive_int, check_same_shape, describe

__all__ = [
    "BOUNDARY_WIDTH",
    "accuracy_from_confusion",
    "boundary_band",
    "boundary_iou",
    "boundary_iou_per_class",
    "confusion_matrix",
    "dice_from_confusion",
    "dice_per_class",
    "iou_from_confusion",
    "iou_per_class",
    "mean_iou",
    "pixel_accuracy",
]

#: Default band width of :func:`boundary_iou`, in pixels: Cheng et al. (2021)
#: use 2 % of the image diagonal, 1.8 pixels for the course's 64x64 images.
BOUNDARY_WIDTH = 2


def confusion_matrix(y_true, y_pred, num_classes, ignore_index=None):
    """Count pixels by (true class, predicted class).

    ``cm[t, p] = #{pixels i : y_true[i] = t and y_pred[i] = p}``, computed with
    one ``np.bincount`` over ``num_classes * y_true + y_pred``.

    Parameters
    ----------
    y_true : int ndarray of shape (N, H, W) (any shape)
        True class ids in ``[0, num_classes)``, or ``ignore_index``.
    y_pred : int ndarray, same shape as ``y_true``
        Predicted class ids in ``[0, num_classes)`` (for example
        ``np.argmax(scores, axis=-1)``).
    num_classes : int
        Number of classes ``C``.
    ignore_index : int, optional
        Label of unlabelled pixels in ``y_true`` (for example 255); these
        pixels are not counted, whatever their prediction. It may also be a
        class id in ``[0, C)``: pixels of that true class are then skipped (as
        ``keras.metrics.MeanIoU(ignore_class=...)`` does).

    Returns
    -------
    cm : int64 ndarray of shape (C, C)
        Rows are true classes, columns predicted classes.

    Examples
    --------
    A 2x2 map: pixel (0, 0) is class 0 predicted 0; (0, 1) is class 1
    predicted 0; (1, 0) and (1, 1) are class 1 predicted 1.

    >>> confusion_matrix([[0, 1], [1, 1]], [[0, 0], [1, 1]], num_classes=2)
    array([[1, 0],
           [1, 2]])
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    if ignore_index is not None:
        ignore_index = check_int(ignore_index, "ignore_index")
    t = check_not_empty(check_array(y_true, "y_true", kind="integer"), "y_true")
    p = check_array(y_pred, "y_pred", kind="integer")
    check_same_shape(t, "y_true", p, "y_pred")
    t = check_labels(t, "y_true", num_classes, ignore_index=ignore_index).ravel()
    p = check_labels(p, "y_pred", num_classes).ravel()
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    counts = np.bincount(num_classes * t + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64, copy=False)


def _check_confusion(cm) -> np.ndarray:
    cm = check_array(cm, "cm", ndim=2, layout="(C, C)")
    if cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"`cm` must be a non-empty square (C, C) matrix. Received: cm={describe(cm)}")
    if np.any(cm < 0):
        raise ValueError(f"`cm` must hold counts >= 0. Received: cm={describe(cm)}")
    return cm.astype(np.float64)


def _ratio(numerator, denominator):
    """``numerator / denominator`` with NaN where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def iou_from_confusion(cm):
    r"""Intersection over union of each class from a confusion matrix.

    .. math:: \mathrm{IoU}_c = \frac{TP_c}{TP_c + FP_c + FN_c}
              = \frac{cm_{cc}}{\sum_p cm_{cp} + \sum_t cm_{tc} - cm_{cc}}

    Parameters
    ----------
    cm : ndarray of shape (C, C)
        Confusion matrix, rows true and columns predicted.

    Returns
    -------
    ndarray of shape (C,), float64
        IoU per class; NaN for a class absent from both true and predicted maps.

    Examples
    --------
    Class 0: ``TP = 1, FP = 1, FN = 0``, IoU = 1/2; class 1: ``TP = 2, FP = 0,
    FN = 1``, IoU = 2/3; class 2 never occurs: NaN.

    >>> iou_from_confusion([[1, 0, 0], [1, 2, 0], [0, 0, 0]])
    array([0.5       , 0.66666667,        nan])
    """
    cm = _check_confusion(cm)
    tp = np.diag(cm)
    return _ratio(tp, cm.sum(axis=0) + cm.sum(axis=1) - tp)


def dice_from_confusion(cm):
    r"""Dice score (F1) of each class from a confusion matrix.

    .. math:: \mathrm{Dice}_c = \frac{2 TP_c}{2 TP_c + FP_c + FN_c}
              = \frac{2 \mathrm{IoU}_c}{1 + \mathrm{IoU}_c}

    Parameters
    ----------
    cm : ndarray of shape (C, C)
        Confusion matrix, rows true and columns predicted.

    Returns
    -------
    ndarray of shape (C,), float64
        Dice per class; NaN for a class absent from both true and predicted maps.

    Examples
    --------
    Class 0: ``2*1 / (2*1 + 1 + 0) = 2/3``; class 1: ``2*2 / (2*2 + 0 + 1) = 4/5``.

    >>> dice_from_confusion([[1, 0], [1, 2]])
    array([0.66666667, 0.8       ])
    """
    cm = _check_confusion(cm)
    tp = np.diag(cm)
    return _ratio(2.0 * tp, cm.sum(axis=0) + cm.sum(axis=1))


def accuracy_from_confusion(cm):
    r"""Fraction of correctly classified pixels, from a confusion matrix.

    .. math:: \mathrm{acc} = \frac{\sum_c cm_{cc}}{\sum_{t,p} cm_{tp}}

    Parameters
    ----------
    cm : ndarray of shape (C, C)
        Confusion matrix, rows true and columns predicted.

    Returns
    -------
    float
        Pixel accuracy in ``[0, 1]``; NaN when the matrix counts no pixel.

    Examples
    --------
    Three of the four pixels lie on the diagonal:

    >>> accuracy_from_confusion([[1, 0], [1, 2]])
    0.75
    """
    cm = _check_confusion(cm)
    return float(_ratio(np.trace(cm), cm.sum()))


def iou_per_class(y_true, y_pred, num_classes, ignore_index=None):
    """IoU of each class between two label maps.

    Shortcut for ``iou_from_confusion(confusion_matrix(...))``; see
    :func:`confusion_matrix` for the parameters and :func:`iou_from_confusion`
    for the formula.

    Parameters
    ----------
    y_true, y_pred : int ndarray of the same shape, e.g. (N, H, W)
        True and predicted class ids in ``[0, num_classes)``.
    num_classes : int
        Number of classes ``C``.
    ignore_index : int, optional
        Label of unlabelled pixels in ``y_true``; they are not counted.

    Returns
    -------
    ndarray of shape (num_classes,), float64
        NaN for a class absent from both maps.

    Examples
    --------
    >>> iou_per_class([[0, 1], [1, 1]], [[0, 0], [1, 1]], num_classes=3)
    array([0.5       , 0.66666667,        nan])
    """
    return iou_from_confusion(confusion_matrix(y_true, y_pred, num_classes, ignore_index))


def mean_iou(y_true, y_pred, num_classes, ignore_index=None):
    r"""Mean of the per-class IoU over the classes that occur.

    .. math:: \mathrm{mIoU} = \frac{1}{|V|} \sum_{c \in V} \mathrm{IoU}_c

    where ``V`` is the set of classes present in ``y_true`` or ``y_pred``
    (the others have no IoU and are left out, as ``keras.metrics.MeanIoU``
    does). The result equals ``keras.metrics.MeanIoU(num_classes)``, up to
    the ``1e-7`` Keras adds to each denominator ``TP + FP + FN`` (a relative
    change of at most ``1e-7``). When no pixel is counted at all (every
    pixel ignored) the mean is NaN, where Keras returns 0.

    Parameters are those of :func:`confusion_matrix`.

    Returns
    -------
    float

    Examples
    --------
    The IoUs are 1/2 and 2/3; class 2 does not occur: ``(1/2 + 2/3) / 2 = 7/12``.

    >>> round(mean_iou([[0, 1], [1, 1]], [[0, 0], [1, 1]], num_classes=3), 6)
    0.583333
    """
    iou = iou_per_class(y_true, y_pred, num_classes, ignore_index)
    present = ~np.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")


def dice_per_class(y_true, y_pred, num_classes, ignore_index=None):
    """Dice score of each class between two label maps.

    Shortcut for ``dice_from_confusion(confusion_matrix(...))``; see
    :func:`confusion_matrix` for the parameters and :func:`dice_from_confusion`
    for the formula.

    Parameters
    ----------
    y_true, y_pred : int ndarray of the same shape, e.g. (N, H, W)
        True and predicted class ids in ``[0, num_classes)``.
    num_classes : int
        Number of classes ``C``.
    ignore_index : int, optional
        Label of unlabelled pixels in ``y_true``; they are not counted.

    Returns
    -------
    ndarray of shape (num_classes,), float64
        NaN for a class absent from both maps.

    Examples
    --------
    >>> dice_per_class([[0, 1], [1, 1]], [[0, 0], [1, 1]], num_classes=2)
    array([0.66666667, 0.8       ])
    """
    return dice_from_confusion(confusion_matrix(y_true, y_pred, num_classes, ignore_index))


def pixel_accuracy(y_true, y_pred, num_classes=None, ignore_index=None):
    """Fraction of (not ignored) pixels whose predicted class is the true one.

    Shortcut for ``accuracy_from_confusion(confusion_matrix(...))``; see
    :func:`confusion_matrix` for the parameters.


    Parameters
    ----------
    y_true, y_pred : int ndarray of the same shape, e.g. (N, H, W)
        True and predicted class ids in ``[0, num_classes)``.
    num_classes : int, optional
        Number of classes ``C``: when given, the labels are checked to lie in
        ``[0, C)``. The accuracy itself does not depend on it (the course's
        rule: a function takes ``num_classes`` only where the result needs it,
        and checks labels against it when it is given).
    ignore_index : int, optional
        Label of unlabelled pixels in ``y_true``; they are not counted.

    Returns
    -------
    float
        NaN when every pixel is ignored.

    Examples
    --------
    >>> pixel_accuracy([[0, 1], [1, 1]], [[0, 0], [1, 1]], num_classes=2)
    0.75
    >>> pixel_accuracy([[0, 1], [1, 1]], [[0, 0], [1, 1]])
    0.75
    >>> pixel_accuracy([[0, 255], [1, 1]], [[0, 0], [1, 1]], 2, ignore_index=255)
    1.0
    """
    if num_classes is None:
        t = check_array(y_true, "y_true", kind="integer")
        p = check_array(y_pred, "y_pred", kind="integer")
        check_not_empty(t, "y_true")
        valid = t != ignore_index if ignore_index is not None else np.ones(t.shape, bool)
        num_classes = int(max(t[valid].max(initial=0), p.max(initial=0))) + 1
    return accuracy_from_confusion(confusion_matrix(y_true, y_pred, num_classes, ignore_index))


def _check_label_maps(y, name, num_classes=None):
    """A (H, W) or (N, H, W) map as an (N, H, W) array, refusing empty batches and images.

    With ``num_classes`` the values must be class ids in ``[0, num_classes)`` (int64 returned).
    """
    arr = check_array(y, name, ndim=(2, 3), layout="(H, W) or (N, H, W)", kind="any")
    arr = check_not_empty(arr, name)
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(f"`{name}` must hold images of at least 1x1 pixels. Received: {name}={describe(arr)}")
    if num_classes is not None:
        arr = check_labels(arr, name, num_classes)
    return arr if arr.ndim == 3 else arr[None]


def boundary_band(masks, *, width=BOUNDARY_WIDTH):
    r"""The pixels of each mask that lie within ``width`` pixels of its contour.

    A pixel ``p`` of the mask ``M`` is in the band when some pixel ``q`` outside
    ``M`` (outside the image counts as outside) is at most ``width`` away in
    the chessboard distance ``max(|p_i - q_i|, |p_j - q_j|)``:

    .. math:: B_d(M) = M \setminus (M \ominus S_d)

    where :math:`M \ominus S_d` is the erosion of ``M`` by the
    ``(2d + 1) x (2d + 1)`` square (``d = width``), the pixels whose whole
    square lies in ``M``; it equals ``d`` erosions by the 3x3 square, as in
    Cheng et al.'s ``mask_to_boundary``. The band lies inside the mask; a mask
    thinner than ``2 * width + 1`` pixels is its own band.

    Parameters
    ----------
    masks : bool or 0/1 ndarray of shape (H, W) or (N, H, W)
        One mask, or a batch of masks (each image on its own).
    width : int
        The band's width ``d`` in pixels, >= 1.

    Returns
    -------
    bool ndarray, the shape of ``masks``

    Examples
    --------
    The band of width 1 of a 4x4 square in a 6x6 image is its outline:

    >>> square = np.zeros((6, 6), bool)
    >>> square[1:5, 1:5] = True
    >>> boundary_band(square, width=1).astype(int)
    array([[0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 1, 0, 0, 1, 0],
           [0, 1, 0, 0, 1, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]])
    """
    width = check_positive_int(width, "width")
    m = _check_label_maps(masks, "masks")
    if m.dtype != bool:
        m = check_array(m, "masks", kind="integer")
        if np.any((m != 0) & (m != 1)):
            raise ValueError(f"`masks` must hold booleans or 0/1. Received: masks={describe(np.asarray(masks))}")
        m = m.astype(bool)
    # the erosion by the square is separable: all() over 2d+1 rows, then over 2d+1 columns
    k = 2 * width + 1
    inner = np.pad(m, ((0, 0), (width, width), (0, 0)))
    inner = np.lib.stride_tricks.sliding_window_view(inner, k, axis=1).all(axis=-1)
    inner = np.pad(inner, ((0, 0), (0, 0), (width, width)))
    inner = np.lib.stride_tricks.sliding_window_view(inner, k, axis=2).all(axis=-1)
    band = m & ~inner
    return band.reshape(np.shape(masks))


def boundary_iou_per_class(y_true, y_pred, num_classes, *, width=BOUNDARY_WIDTH):
    r"""Boundary IoU of each class (Cheng et al., 2021): the IoU of the masks' contour bands.

    For class ``c`` let ``G_c`` and ``P_c`` be its true and predicted masks
    and ``B_d`` the band of the pixels within ``d = width`` of a mask's own
    contour (:func:`boundary_band`). Then

    .. math:: \mathrm{BIoU}_c = \frac{|B_d(G_c) \cap B_d(P_c)|}{|B_d(G_c) \cup B_d(P_c)|}

    with the counts summed over the batch (as :func:`confusion_matrix` sums
    its pixels). Unlike the IoU of whole masks, it is not dominated by the
    interiors of large objects: an ``s x s`` square predicted one pixel to the
    side keeps an IoU of ``(s - 1) / (s + 1)``, close to 1 for a large square,
    but its boundary IoU at width 1 is 1/3 whatever ``s``. When ``width``
    reaches half the image's longer side, every band is its whole mask and
    the boundary IoU is the IoU (:func:`iou_per_class`).

    Parameters
    ----------
    y_true, y_pred : int ndarray of shape (H, W) or (N, H, W), the same
        True and predicted class ids in ``[0, num_classes)``.
    num_classes : int
        Number of classes ``C``.
    width : int
        The band width ``d`` in pixels, >= 1 (default ``BOUNDARY_WIDTH``).

    Returns
    -------
    ndarray of shape (num_classes,), float64
        In ``[0, 1]``; NaN for a class absent from both maps (a class that
        occurs has a non-empty band).

    Examples
    --------
    A 4x4 square predicted one pixel to the right, in an 8x8 image: the
    square's bands of width 1 are two 12-pixel outlines that share 6 pixels
    (the top and bottom rows but one pixel each): 6/18. The background's
    bands (the image's frame and the ring around each square) share 38 of 52
    pixels.

    >>> y_true = np.zeros((8, 8), int)
    >>> y_true[2:6, 1:5] = 1
    >>> y_pred = np.roll(y_true, 1, axis=1)
    >>> boundary_iou_per_class(y_true, y_pred, 3, width=1) * [52, 18, 1]
    array([38.,  6., nan])
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    width = check_positive_int(width, "width")
    t = _check_label_maps(y_true, "y_true", num_classes)
    p = _check_label_maps(y_pred, "y_pred", num_classes)
    check_same_shape(np.asarray(y_true), "y_true", np.asarray(y_pred), "y_pred")
    intersection, union = np.zeros(num_classes), np.zeros(num_classes)
    for c in range(num_classes):
        band_true = boundary_band(t == c, width=width)
        band_pred = boundary_band(p == c, width=width)
        intersection[c] = np.count_nonzero(band_true & band_pred)
        union[c] = np.count_nonzero(band_true | band_pred)
    return _ratio(intersection, union)


def boundary_iou(y_true, y_pred, num_classes, *, width=BOUNDARY_WIDTH):
    r"""Mean boundary IoU (Cheng et al., 2021) over the classes that occur.

    .. math:: \mathrm{BIoU} = \frac{1}{|V|} \sum_{c \in V} \mathrm{BIoU}_c

    where ``BIoU_c`` is the IoU of the bands of class ``c``'s true and
    predicted masks that lie within ``width`` pixels of each mask's own
    contour (:func:`boundary_iou_per_class`, :func:`boundary_band`) and ``V``
    the set of classes present in ``y_true`` or ``y_pred``, as in
    :func:`mean_iou`. The mean IoU weighs a mask's interior, which a coarse
    model gets right; the boundary IoU weighs its outline.

    Parameters
    ----------
    y_true, y_pred : int ndarray of shape (H, W) or (N, H, W), the same
        True and predicted class ids in ``[0, num_classes)``.
    num_classes : int
        Number of classes ``C``.
    width : int
        The band width ``d`` in pixels, >= 1 (default ``BOUNDARY_WIDTH``).

    Returns
    -------
    float
        In ``[0, 1]``; 1 for identical maps.

    Examples
    --------
    The square of :func:`boundary_iou_per_class`, one pixel off: its IoU is
    12/20 and the background's 44/52, so ``mIoU = (12/20 + 44/52) / 2 =
    0.7231``; the boundary IoU is ``(6/18 + 38/52) / 2 = 0.5321``.

    >>> y_true = np.zeros((8, 8), int)
    >>> y_true[2:6, 1:5] = 1
    >>> y_pred = np.roll(y_true, 1, axis=1)
    >>> round(mean_iou(y_true, y_pred, 2), 4), round(boundary_iou(y_true, y_pred, 2, width=1), 4)
    (0.7231, 0.5321)
    """
    scores = boundary_iou_per_class(y_true, y_pred, num_classes, width=width)
    return float(np.nanmean(scores))
