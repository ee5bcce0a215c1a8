"""Plain-text tables: :func:`format_table` aligns the results of experiments.

NumPy only: importing this module does not import TensorFlow.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe

__all__ = ["format_table"]


def format_table(rows, headers, *, floatfmt=".3f"):
    """Format rows as a plain-text table with aligned columns.

    Parameters
    ----------
    rows : sequence of sequences
        One sequence of cells per row, as many cells as ``headers``.
    headers : sequence of str
    floatfmt : str
        Format spec for float cells.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table([("relu", 0.91234), ("tanh", 0.8)], ["activation", "IoU"]))
    activation  IoU
    ----------  -----
    relu        0.912
    tanh        0.800
    """
    headers = [str(h) for h in headers]

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return format(float(value), floatfmt)
        return str(value)

    body = []
    for index, row in enumerate(rows):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(
                f"`rows` must have {len(headers)} cells per row like `headers`. "
                f"Received: rows[{index}]={describe(row)}"
            )
        body.append([cell(v) for v in row])
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)
