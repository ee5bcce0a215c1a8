"""Instructor tools: release student notebooks, grade a class with nbval, give feedback.

The chapters follow one convention (see ``chapters/`` and the README's
instructors' section):

* an exercise cell holds its solution between two lines
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the code around them is
  what the student starts from;
* each exercise is followed by a *check cell* whose first line is
  ``# CHECK: <name> (<points> points)`` and whose cell metadata is
  ``{"seglearn": {"check": "<name>", "points": <int>}}``; it ``assert`` s
  against a reference, so it fails while the exercise is unsolved or wrong;
* a cell whose first line is ``# HIDDEN CHECK: <name> (<points> points)`` is
  an instructor-only check: the student version holds a read-only note in
  its place, and grading puts it back and scores it like any check;
* a check can give part of its points with :func:`award` or
  :func:`award_tiers` (partial credit): its last award decides.

:func:`release` turns the solution notebooks into student notebooks.
:func:`grade` runs every submitted notebook with nbval, one
``python -m pytest --nbval`` subprocess (and so one kernel) per notebook, with
a time limit per cell and per notebook, and writes the instructor's score
tables, each student's feedback (``feedback/<student>.md`` and ``.html``) and
Gradescope's ``results.json``; it saves each student's results as it goes and
skips them when run again. :func:`grade_submission` (``seglearn grade-one``,
``python -m seglearn.grading.gradescope``) grades one submission the same way
for Gradescope's autograder. Student code never runs in the grader's process.

The package's modules, by job: :mod:`~seglearn.grading.notebooks` (release,
strip, restore), :mod:`~seglearn.grading.credit` (partial credit, imported in
the students' kernels), :mod:`~seglearn.grading.runner` (one process per
notebook, time limits, the preflight), :mod:`~seglearn.grading.plugin` (the
pytest plugin the runner loads), :mod:`~seglearn.grading.report` (tables,
feedback, Gradescope), :mod:`~seglearn.grading.grader` (a class: resume,
progress), :mod:`~seglearn.grading.gradescope` (one submission). The ``seglearn
release``, ``grade`` and ``grade-one`` command lines are parsed in :mod:`seglearn.cli`.
"""

from .credit import AWARD_MIME, award, award_tiers
from .notebooks import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    Check,
    NotebookRelease,
    PointsTable,
    PreparedNotebook,
    ReleaseReport,
    find_checks,
    points_table,
    prepare_submission,
    release,
    release_notebook,
    strip_solutions,
)
from .report import GRADESCOPE_VISIBILITIES, CheckResult, GradeTable
from .runner import MAX_LOG_BYTES, GradingEnvironmentError
from .grader import DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT, grade
from .gradescope import grade_submission

__all__ = [
    "AWARD_MIME",
    "BEGIN_SOLUTION",
    "DEFAULT_CELL_TIMEOUT",
    "DEFAULT_NOTEBOOK_TIMEOUT",
    "END_SOLUTION",
    "GRADESCOPE_VISIBILITIES",
    "MAX_LOG_BYTES",
    "Check",
    "CheckResult",
    "GradeTable",
    "GradingEnvironmentError",
    "NotebookRelease",
    "PointsTable",
    "PreparedNotebook",
    "ReleaseReport",
    "award",
    "award_tiers",
    "find_checks",
    "grade",
    "grade_submission",
    "points_table",
    "prepare_submission",
    "release",
    "release_notebook",
    "strip_solutions",
]
