"""Grade one submission, as Gradescope's autograder does: ``python -m seglearn.grading.gradescope``.

Gradescope runs ``/autograder/run_autograder`` for every submission, with the
student's files in ``/autograder/submission`` and the autograder's zip (the
instructor's notebooks) in ``/autograder/source``, and reads the scores from
``/autograder/results/results.json``. This entry point grades the submission
exactly as ``seglearn grade`` grades a class of one (the same runner, time
limits, hidden checks and partial credit) and writes that file::

    python -m seglearn.grading.gradescope --source /autograder/source/chapters

(the same as ``seglearn grade-one``). Every path can be changed, for tests or
another platform. When the grader's own machinery is broken it writes no
``results.json`` (Gradescope then reports a failed autograder to the student
instead of a wrong 0) and exits with status 3.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from .grader import DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT, grade
from .report import _write_atomic

__all__ = ["DEFAULT_RESULTS", "DEFAULT_SOURCE", "DEFAULT_SUBMISSION", "grade_submission", "main"]

DEFAULT_SUBMISSION = "/autograder/submission"
DEFAULT_SOURCE = "/autograder/source"
DEFAULT_RESULTS = "/autograder/results/results.json"


def grade_submission(
    submission_dir=DEFAULT_SUBMISSION,
    source_dir=DEFAULT_SOURCE,
    results_path=DEFAULT_RESULTS,
    *,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
    hidden_visibility: str = "after_published",
    python=None,
    report_dir=None,
    progress=None,
) -> dict:
    """Grade one student's submission and write Gradescope's ``results.json``.

    The submission is copied into a class of one student (named
    ``submission``) and graded by :func:`seglearn.grading.grade` against the
    instructor's notebooks in ``source_dir``.

    Parameters
    ----------
    submission_dir : str or path, default "/autograder/submission"
        The student's files (the notebooks, directly or in sub-folders).
    source_dir : str or path, default "/autograder/source"
        The instructor's notebooks, with the hidden checks.
    results_path : str or path, default "/autograder/results/results.json"
        Where to write the results (folders are created).
    cell_timeout, notebook_timeout : float
        As for :func:`~seglearn.grading.grade`.
    hidden_visibility : str, default "after_published"
        Gradescope visibility of the hidden checks.
    python : str or path, optional
        The interpreter that runs the notebooks.
    report_dir : str or path, optional
        Keep the whole report (feedback, logs) here; by default a temporary
        folder, removed afterwards.
    progress : callable, optional
        Called with one line per notebook.

    Returns
    -------
    dict
        What was written to ``results_path``.

    Raises
    ------
    FileNotFoundError
        When ``submission_dir`` or ``source_dir`` does not exist (the message
        names it).
    ValueError
        For a broken source notebook (naming the file and cell).
    GradingEnvironmentError
        When the grader's machinery does not work; nothing is written.
    """
    submission_dir, source_dir, results_path = Path(submission_dir), Path(source_dir), Path(results_path)
    if not submission_dir.is_dir():
        raise FileNotFoundError(
            f"`submission_dir` must be an existing folder. Received: submission_dir={str(submission_dir)!r}")
    if not source_dir.is_dir():
        raise FileNotFoundError(f"`source_dir` must be an existing folder. Received: source_dir={str(source_dir)!r}")
    with tempfile.TemporaryDirectory(prefix="seglearn-grade-one-") as tmp:
        student = Path(tmp) / "class" / "submission"
        shutil.copytree(submission_dir, student, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        report = Path(report_dir) if report_dir is not None else Path(tmp) / "report"
        table = grade(student.parent, report, source_dir, cell_timeout, notebook_timeout, force=True,
                      hidden_visibility=hidden_visibility, python=python, progress=progress)
        results = table.gradescope_results("submission", hidden_visibility=hidden_visibility)
    _write_atomic(results_path, json.dumps(results, indent=2) + "\n")
    return results


def main(argv=None) -> int:
    """``python -m seglearn.grading.gradescope``: the arguments of ``seglearn grade-one``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for bad input, 3 when the grader's machinery is broken.
    """
    import argparse

    from seglearn.cli import add_grade_one_arguments

    parser = argparse.ArgumentParser(prog="python -m seglearn.grading.gradescope",
                                     description=__doc__.split("\n\n")[0])
    add_grade_one_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
