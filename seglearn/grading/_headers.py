"""The markers of the exercise convention, shared by the release, the grader and ``award``.

Only the standard library: :mod:`seglearn.grading.credit` imports it inside
students' kernels.
"""

from __future__ import annotations

import re
from typing import NamedTuple

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
#: What replaces a solution region in a code cell (after the indentation).
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError")
#: What replaces a solution region in a markdown cell (a written answer).
MARKDOWN_STUB = ("YOUR ANSWER HERE",)

#: The two check headers, as written on a check cell's first line.
CHECK_FORM = "# CHECK: <name> (<points> points)"
HIDDEN_CHECK_FORM = "# HIDDEN CHECK: <name> (<points> points)"

_HEADER = re.compile(r"#\s*(?P<hidden>HIDDEN\s+)?CHECK:\s*(?P<name>.+?)\s*\((?P<points>[^)]*)\)\s*")
# A first line meant as a check header but not written as one: '# check: x (1 point)',
# '# HIDDEN CHECK x (2 points)', '## CHECK: x', '# HIDDEN_CHECK: x', '# CHECK: x' without points.
_NEAR_MISS = re.compile(r"#+\s*(?:(?i:hidden)[\s_-]*)?(?i:check)\s*:|#+\s*(?:HIDDEN[\s_-]*)?CHECK\b")
_POINTS_TEXT = re.compile(r"(?P<n>\d+) points?")


class Header(NamedTuple):
    """A parsed check header: ``name``, the text in parentheses, and whether it is hidden."""

    name: str
    points_text: str
    hidden: bool

    @property
    def points(self) -> int | None:
        """The points as an int, or None when the parentheses do not hold ``<n> points``."""
        match = _POINTS_TEXT.fullmatch(self.points_text.strip())
        return int(match["n"]) if match else None


def parse_header(line: str) -> Header | None:
    """Parse ``# CHECK: name (2 points)`` or ``# HIDDEN CHECK: name (2 points)``; None otherwise."""
    match = _HEADER.fullmatch(line.strip())
    if not match:
        return None
    return Header(match["name"], match["points"], bool(match["hidden"]))


def looks_like_header(line: str) -> bool:
    """Whether a line is probably meant as a check header (valid or not)."""
    return bool(_NEAR_MISS.match(line.strip()))


def cell_header(source: str) -> Header | None:
    """The header on the first line of a cell's source, or None."""
    lines = source.splitlines()
    return parse_header(lines[0]) if lines else None
