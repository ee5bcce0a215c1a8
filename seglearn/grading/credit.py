"""Partial credit, called from inside a check cell.

The rule (also in the README's instructors' section):

* a check cell without ``award`` earns all its points when it runs without an
  error and 0 when it fails;
* a check cell that calls :func:`award` (or :func:`award_tiers`) earns the
  points of its **last** call, whether the cell then ends in an error or not
  (the error's message is still the student's feedback). ``of`` must be the
  check's points from its header, and the points lie between 0 and ``of``.

For example, tiers on a score::

    # CHECK: segmentation quality (3 points)
    score = seglearn.metrics.mean_iou(predicted, truth, num_classes=3)
    seglearn.grading.award_tiers(score, {0.6: 1, 0.75: 3}, of=3, label="mean IoU")

prints ``mean IoU 0.68 reaches 0.6: 1 of 3 points (0.75 earns 3)`` and earns 1
point. The grader reads the award from the check cell's own output (a display
of type :data:`AWARD_MIME`), only when the instructor's copy of the check
calls ``award``, and never more than the check's points: the student's copy
of a check is replaced by the instructor's before it runs, and an award shown
by any other cell is ignored.

This module imports only the standard library, so it is cheap in a kernel.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping

from ._headers import CHECK_FORM, cell_header

__all__ = ["AWARD_MIME", "award", "award_tiers"]

#: The MIME type of the display that carries an award to the grader.
AWARD_MIME = "application/vnd.seglearn.award+json"


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    return float(value)


def _current_cell() -> str | None:
    """The source of the cell running now in an IPython kernel, or None outside IPython.

    IPython hands the running cell's ``ExecutionResult`` to its display hook;
    nbval runs cells without storing them in the history (``In``).
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return None
    info = getattr(getattr(getattr(shell, "displayhook", None), "exec_result", None), "info", None)
    raw = getattr(info, "raw_cell", None)
    if isinstance(raw, str):
        return raw
    history = getattr(shell, "user_ns", {}).get("_ih")
    return history[-1] if history else None


def _show(record: dict, text: str) -> None:
    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        from IPython.display import display

        display({AWARD_MIME: record, "text/plain": text}, raw=True)
    else:
        print(text)


def _fmt(x: float) -> str:
    return f"{x:g}"


def award(points, *, of, reason: str = "") -> float:
    """Give a check part of its points (partial credit).

    Call it in a check cell; the last call decides the check's points, even
    when the cell later fails (see the module's rule). In a kernel it shows
    one line, e.g. ``2 of 3 points: mean IoU 0.71``, which the grader reads.

    Parameters
    ----------
    points : int or float
        Points earned, ``0 <= points <= of``.
    of : int
        The check's points, as in its header ``# CHECK: <name> (<of> points)``.
    reason : str, optional
        Why, shown after the points (the student's feedback for a public check).

    Returns
    -------
    float
        ``points``.

    Raises
    ------
    ValueError
        For points outside ``[0, of]``, ``of < 1``, or, in a kernel, a call
        outside a check cell or an ``of`` that differs from the header's points.
    TypeError
        For points or ``of`` that are not numbers.

    Examples
    --------
    >>> award(2, of=3, reason="mean IoU 0.71")
    2 of 3 points: mean IoU 0.71
    2.0
    """
    points = _number(points, "points")
    if isinstance(of, bool) or not isinstance(of, numbers.Integral) or of < 1:
        raise ValueError(f"`of` must be the check's points, an integer >= 1. Received: of={of!r}")
    if not (math.isfinite(points) and 0 <= points <= of):
        raise ValueError(f"`points` must lie between 0 and of={of}. Received: points={points!r}")
    if not isinstance(reason, str):
        raise TypeError(f"`reason` must be a str. Received: reason={reason!r}")
    source = _current_cell()
    if source is not None:
        header = cell_header(source)
        if header is None:
            first = source.strip().splitlines()[0] if source.strip() else ""
            raise ValueError(
                f"award() gives partial credit in a check cell, whose first line is {CHECK_FORM!r} "
                f"(or the hidden form); this cell starts with {first[:60]!r}")
        if header.points != of:
            raise ValueError(
                f"award(..., of={of}) in check {header.name!r}, which is worth {header.points_text}: "
                f"`of` must be the check's points")
    text = f"{_fmt(points)} of {of} points" + (f": {reason}" if reason else "")
    _show({"points": points, "of": int(of), "text": text}, text)
    return points


def award_tiers(value, tiers: Mapping, *, of, label: str = "score", higher_is_better: bool = True) -> float:
    """Award points by the tier a score reaches (partial credit).

    With ``higher_is_better``, a tier ``{threshold: points}`` is reached when
    ``value >= threshold``; the check earns the points of the best tier
    reached, 0 below every tier (and for NaN). With ``higher_is_better=False``
    (an error, a loss) a tier is reached when ``value <= threshold``. A tier
    that is harder to reach must give more points.

    Parameters
    ----------
    value : float
        The score, e.g. a mean IoU.
    tiers : mapping of float to int or float
        Threshold to points, e.g. ``{0.6: 1, 0.75: 3}``.
    of : int
        The check's points, as in its header.
    label : str, default "score"
        What ``value`` is, in the printed line.
    higher_is_better : bool, default True
        Whether larger values are better.

    Returns
    -------
    float
        The points awarded (as :func:`award` does).

    Raises
    ------
    ValueError
        For an empty ``tiers``, points outside ``[0, of]``, or points that do
        not grow with the difficulty of the tier.

    Examples
    --------
    >>> award_tiers(0.68, {0.6: 1, 0.75: 3}, of=3, label="mean IoU")
    1 of 3 points: mean IoU 0.68 reaches 0.6 (0.75 earns 3)
    1.0
    >>> award_tiers(0.41, {0.6: 1, 0.75: 3}, of=3, label="mean IoU")
    0 of 3 points: mean IoU 0.41 is below 0.6 (0.6 earns 1, 0.75 earns 3)
    0.0
    """
    if not isinstance(tiers, Mapping) or not tiers:
        raise ValueError(f"`tiers` must be a non-empty mapping of threshold to points. Received: tiers={tiers!r}")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"`higher_is_better` must be a bool. Received: higher_is_better={higher_is_better!r}")
    value = _number(value, "value")
    # Easiest tier first.
    ordered = sorted(((_number(t, "threshold"), _number(p, "points")) for t, p in tiers.items()),
                     reverse=not higher_is_better)
    for (t0, p0), (t1, p1) in zip(ordered, ordered[1:]):
        if p1 <= p0:
            raise ValueError(f"a harder tier must give more points: threshold {_fmt(t1)} gives {_fmt(p1)}, "
                             f"threshold {_fmt(t0)} gives {_fmt(p0)}. Received: tiers={dict(tiers)!r}")
    for _, p in ordered:
        if not 0 <= p <= of:
            raise ValueError(f"tier points must lie between 0 and of={of}. Received: tiers={dict(tiers)!r}")
    reached = [(t, p) for t, p in ordered if (value >= t if higher_is_better else value <= t)]
    word = "reaches" if higher_is_better else "is at most"
    if reached:
        threshold, points = reached[-1]
        better = ordered[len(reached):]
        reason = f"{label} {value:.4g} {word} {_fmt(threshold)}"
    else:
        points, better = 0.0, ordered
        reason = f"{label} {value:.4g} is {'below' if higher_is_better else 'above'} {_fmt(ordered[0][0])}"
    if better:
        reason += " (" + ", ".join(f"{_fmt(t)} earns {_fmt(p)}" for t, p in better) + ")"
    return award(points, of=of, reason=reason)
