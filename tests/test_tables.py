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
