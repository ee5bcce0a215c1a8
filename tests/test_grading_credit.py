"""Partial credit: award and award_tiers, and how the grader reads and bounds an award (no notebook runs)."""

import math
import types

import pytest

from seglearn.grading import AWARD_MIME, award, award_tiers
from seglearn.grading.grader import _award_result
from seglearn.grading.notebooks import Check
from seglearn.grading.plugin import _award


# --------------------------------------------------------------------------- award and award_tiers
def test_award_prints_its_points_and_returns_them(capsys):
    assert award(1.5, of=3, reason="two of four cases") == 1.5
    assert capsys.readouterr().out == "1.5 of 3 points: two of four cases\n"


@pytest.mark.parametrize("points, of, error, message", [
    (4, 3, ValueError, "between 0 and of=3"),
    (-1, 3, ValueError, "between 0 and of=3"),
    (math.nan, 3, ValueError, "between 0 and of=3"),
    (1, 0, ValueError, "integer >= 1"),
    (1, 2.5, ValueError, "integer >= 1"),
    ("1", 3, TypeError, "points"),
    (True, 3, TypeError, "points"),
])
def test_award_refuses_points_outside_the_check(points, of, error, message):
    with pytest.raises(error, match=message):
        award(points, of=of)


# The issue's example: mean IoU >= 0.6 gives 1 of 3 points, >= 0.75 gives 3.
@pytest.mark.parametrize("value, points, line", [
    (0.41, 0, "0 of 3 points: mean IoU 0.41 is below 0.6 (0.6 earns 1, 0.75 earns 3)"),
    (0.6, 1, "1 of 3 points: mean IoU 0.6 reaches 0.6 (0.75 earns 3)"),  # a threshold is reached when equal
    (0.7499, 1, "1 of 3 points: mean IoU 0.7499 reaches 0.6 (0.75 earns 3)"),
    (0.75, 3, "3 of 3 points: mean IoU 0.75 reaches 0.75"),
    (0.98, 3, "3 of 3 points: mean IoU 0.98 reaches 0.75"),
    (math.nan, 0, "0 of 3 points: mean IoU nan is below 0.6 (0.6 earns 1, 0.75 earns 3)"),
])
def test_award_tiers_gives_the_best_tier_reached(value, points, line, capsys):
    assert award_tiers(value, {0.75: 3, 0.6: 1}, of=3, label="mean IoU") == points  # any order of tiers
    assert capsys.readouterr().out == line + "\n"


def test_award_tiers_for_an_error_where_lower_is_better(capsys):
    tiers = {0.10: 1, 0.05: 2}  # error at most 10 % gives 1 point, at most 5 % gives 2
    assert award_tiers(0.07, tiers, of=2, label="error", higher_is_better=False) == 1
    assert award_tiers(0.05, tiers, of=2, label="error", higher_is_better=False) == 2
    assert award_tiers(0.2, tiers, of=2, label="error", higher_is_better=False) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 of 2 points: error 0.07 is at most 0.1 (0.05 earns 2)",
        "2 of 2 points: error 0.05 is at most 0.05",
        "0 of 2 points: error 0.2 is above 0.1 (0.1 earns 1, 0.05 earns 2)"]


@pytest.mark.parametrize("tiers, message", [
    ({}, "non-empty mapping"),
    ({0.6: 3, 0.75: 1}, "a harder tier must give more points"),
    ({0.6: 1, 0.75: 1}, "a harder tier must give more points"),
    ({0.6: 1, 0.75: 4}, "between 0 and of=3"),
])
def test_award_tiers_refuses_tiers_that_make_no_sense(tiers, message):
    with pytest.raises(ValueError, match=message):
        award_tiers(0.7, tiers, of=3)


class _Shell:
    """What award() reads of an IPython kernel: the running cell's source."""

    def __init__(self, source):
        self.displayhook = types.SimpleNamespace(exec_result=types.SimpleNamespace(
            info=types.SimpleNamespace(raw_cell=source)))
        self.user_ns = {}


@pytest.fixture
def kernel(monkeypatch):
    """Pretend to run in an IPython kernel; return the list of what award() displays."""
    IPython = pytest.importorskip("IPython")
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw=False: shown.append((data, raw)))

    def run(source):
        monkeypatch.setattr(IPython, "get_ipython", lambda: _Shell(source))
        return shown

    return run


def test_in_a_kernel_award_shows_the_record_the_grader_reads(kernel):
    shown = kernel("# CHECK: quality (3 points)\nseglearn.grading.award(2, of=3)")
    award(2, of=3, reason="why")
    assert shown == [({AWARD_MIME: {"points": 2.0, "of": 3, "text": "2 of 3 points: why"},
                       "text/plain": "2 of 3 points: why"}, True)]
    kernel("# HIDDEN CHECK: edges (1 point)\n...")
    award(1, of=1)  # a hidden check can give partial credit too


def test_in_a_kernel_award_belongs_in_a_check_with_the_same_points(kernel):
    kernel("# CHECK: quality (3 points)\n...")
    with pytest.raises(ValueError, match=r"award\(..., of=2\) in check 'quality', which is worth 3 points"):
        award(1, of=2)
    kernel("x = 1\naward(1, of=1)")
    with pytest.raises(ValueError, match="award\\(\\) gives partial credit in a check cell.*starts with 'x = 1'"):
        award(1, of=1)


# --------------------------------------------------------------------------- what the grader makes of it
def _item(*outputs):
    return types.SimpleNamespace(test_outputs=list(outputs))


def _display(record):
    return {"output_type": "display_data", "data": {AWARD_MIME: record, "text/plain": "..."}, "metadata": {}}


def test_the_plugin_reads_the_last_award_of_a_cell_and_caps_its_text():
    first, last = _display({"points": 1, "of": 3, "text": "first"}), _display({"points": 3, "of": 3, "text": "x" * 999})
    award = _award(_item({"output_type": "stream", "name": "stdout", "text": "hi"}, first, last))
    assert award["points"] == 3.0 and award["of"] == 3 and len(award["text"]) == 300
    assert _award(_item({"output_type": "stream", "name": "stdout", "text": "3 of 3 points"})) is None
    assert _award(_item(_display({"points": "lots", "of": 3}))) == {"points": 0.0, "of": 0, "text": "invalid award"}


QUALITY = Check("quality", 3, cell_index=8, code_index=7)
PASSED = {"outcome": "passed", "message": ""}
FAILED = {"outcome": "failed", "message": "AssertionError: reach 0.75"}


@pytest.mark.parametrize("record, award, points, passed, reason", [
    (PASSED, {"points": 1, "of": 3, "text": "1 of 3 points: iou 0.7"}, 1, False, "1 of 3 points: iou 0.7"),
    (PASSED, {"points": 3, "of": 3, "text": "3 of 3 points"}, 3, True, ""),
    (PASSED, {"points": 1.5, "of": 3, "text": "t"}, 1.5, False, "t"),
    # The last award stands when the cell fails afterwards; the error is the feedback.
    (FAILED, {"points": 1, "of": 3, "text": "1 of 3 points"}, 1, False, "1 of 3 points; then AssertionError: reach 0.75"),
    # Never more than the instructor's points, never less than 0; `of` must be the check's points.
    (PASSED, {"points": 30, "of": 3, "text": "t"}, 3, True, ""),
    (PASSED, {"points": -2, "of": 3, "text": "t"}, 0, False, "t"),
    (PASSED, {"points": 30, "of": 30, "text": "t"}, 0, False, "award(..., of=30) but the check is worth 3 points"),
])
def test_an_award_decides_the_points_within_the_checks_points(record, award, points, passed, reason):
    result = _award_result("ann", "q.ipynb", QUALITY, record, award)
    assert (result.points, result.possible, result.passed, result.reason) == (points, 3, passed, reason)
    assert result.status == ("pass" if passed else "partial" if points else "fail")
