"""Tests of seglearn.tables: plain-text tables."""

import numpy as np
import pytest

from seglearn import tables


def test_format_table_aligns_and_checks_row_length():
    text = tables.format_table([("a", 1, 0.5), ("long name", 22, 1 / 3)], ["name", "n", "x"], floatfmt=".2f")
    lines = text.splitlines()
    assert lines[0] == "name       n   x"
    assert lines[2] == "a          1   0.50"
    assert lines[3] == "long name  22  0.33"
    with pytest.raises(ValueError, match="rows"):
        tables.format_table([("a",)], ["name", "n"])


def test_format_table_formats_numpy_floats_and_leaves_other_cells_as_text():
    # np.float32(0.25) is a float cell (".3f" by default); np.int64 and None are str()'d.
    text = tables.format_table([(np.float32(0.25), np.int64(7), None)], ["x", "n", "note"])
    assert text.splitlines() == ["x      n  note", "-----  -  ----", "0.250  7  None"]


def test_compare_over_seeds_hand_worked_mean_sd_and_rule():
    c = tables.compare_over_seeds({"a": [1.0, 2.0, 3.0], "b": [5.0, 6.0, 7.0]}, metric="x")
    assert c.means == {"a": 2.0, "b": 6.0} and c.spreads == {"a": 1.0, "b": 1.0}  # ddof=1
    assert c.best == "b" and c.gap("b", "a") == 4.0
    assert c.clearly_better("b", "a") and not c.clearly_better("a", "b")  # 4 > 1 + 1
    # a gap equal to the sum of the spreads is not enough
    edge = tables.compare_over_seeds({"a": [1.0, 2.0, 3.0], "b": [3.0, 4.0, 5.0]})
    assert edge.gap("b", "a") == 2.0 and edge.within_noise("a", "b")
    assert c.relation("b", "a") == "clearly better than" and c.relation("a", "b") == "clearly worse than"
    assert edge.relation("a", "b") == edge.relation("b", "a") == "within noise of"


def test_compare_over_seeds_lower_is_better_and_verdict_follows_the_numbers():
    losses = tables.compare_over_seeds({"sgd": [0.9, 1.0, 1.1], "adam": [0.2, 0.25, 0.3]},
                                       metric="loss", higher_is_better=False)
    assert losses.best == "adam" and losses.clearly_better("adam", "sgd")
    assert "lowest mean loss" in losses.verdict and "sgd (1.000 ± 0.100) is clearly worse" in losses.verdict
    noisy = tables.compare_over_seeds({"3x3": [0.80, 0.70, 0.75], "5x5": [0.76, 0.74, 0.78]})
    assert noisy.within_noise("3x3", "5x5")
    assert "within noise of each other" in noisy.verdict and "clearly" not in noisy.verdict
    assert str(noisy).endswith(noisy.verdict) and "seed 3" in noisy.table


@pytest.mark.parametrize(
    "results, match",
    [
        ({"a": [1.0, 2.0]}, "at least two settings"),
        ([[1.0, 2.0], [3.0, 4.0]], "at least two settings"),
        ({"a": [1.0], "b": [2.0]}, r"results\['a'\]"),
        ({"a": [1.0, 2.0], "b": [2.0, float("nan")]}, r"results\['b'\]"),
        ({"a": [1.0, 2.0], "b": ["x", "y"]}, r"results\['b'\]"),
        ({"a": [1.0, 2.0], "b": [2.0, 3.0, 4.0]}, "same number of seeds"),
    ],
)
def test_compare_over_seeds_rejects_bad_results(results, match):
    with pytest.raises(ValueError, match=match):
        tables.compare_over_seeds(results)


def test_comparison_rejects_unknown_setting():
    c = tables.compare_over_seeds({"a": [1.0, 2.0], "b": [2.0, 3.0]})
    with pytest.raises(ValueError, match="one of \\['a', 'b'\\]. Received: 'c'"):
        c.clearly_better("a", "c")
