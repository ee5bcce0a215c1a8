"""The instructor's subcommands of ``seglearn``: ``release``, ``grade`` and ``grade-one``.

:func:`add_subcommands` registers them on the ``seglearn`` parser
(:mod:`seglearn.cli` calls it); :func:`add_grade_one_arguments` also serves
``python -m seglearn.grading.gradescope``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
from pathlib import Path

from .grader import DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT, grade
from .gradescope import DEFAULT_RESULTS, DEFAULT_SOURCE, DEFAULT_SUBMISSION, grade_submission
from .notebooks import release
from .report import GRADESCOPE_VISIBILITIES
from .runner import GradingEnvironmentError

__all__ = ["add_grade_one_arguments", "add_subcommands"]

_RAW = argparse.RawDescriptionHelpFormatter

_RELEASE_EPILOG = """\
examples:
  seglearn release chapters --out release/
  seglearn release chapters --out release/ --force   # overwrite an earlier release

A cell starting '# HIDDEN CHECK: <name> (<points> points)' is left out of the student
version; a read-only note says where it runs at grading.
"""

_GRADE_EPILOG = """\
examples:
  seglearn grade submissions/ --source chapters/ --out report/
  seglearn grade submissions/ --source chapters/ --out report/ --cell-timeout 120 --notebook-timeout 900 --jobs 2
  seglearn grade submissions/ --source chapters/ --out report/ --force   # grade everyone again

submissions/ holds one folder per student (submissions/alice/02_convolution.ipynb, ...).
--source is the instructor's folder (chapters/, with the hidden checks). Each notebook
runs in its own `python -m pytest --nbval` subprocess and kernel. Written to report/:
scores.csv, totals.csv, scores.md (for you), feedback/<student>.md and .html (for the
students: hidden checks show only name, points and pass/fail), gradescope/<student>/
results.json, and results/<student>.json, saved as each student is done: run the same
command again after an interruption and it skips the students graded already.

Before grading anyone it runs a one-cell notebook the same way; if pytest, nbval or a
Jupyter kernel does not work it stops with exit status 3, writing no scores, and says
what to install (`pip install -e .` in the course folder installs the grader).

Grading runs your students' code: run it in a container (see the README).
"""

_GRADE_ONE_EPILOG = f"""\
examples:
  # in Gradescope's run_autograder (the defaults are Gradescope's folders):
  seglearn grade-one --source /autograder/source/chapters
  python -m seglearn.grading.gradescope --source /autograder/source/chapters   # the same
  # anywhere else:
  seglearn grade-one --submission submissions/alice --source chapters/ --results alice.json

Defaults: --submission {DEFAULT_SUBMISSION}, --source {DEFAULT_SOURCE},
--results {DEFAULT_RESULTS}. Exit status 3, and no results file, when the grader's
own machinery is broken (so no student gets a wrong 0).
"""


def _cmd_release(args) -> int:
    try:
        report = release(args.source_dir, args.out, force=args.force)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"seglearn release: error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cmd_grade(args) -> int:
    # SIGTERM ends the grader like Ctrl+C does, through grade()'s clean-up.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        table = grade(args.submissions_dir, args.out, source_dir=args.source, cell_timeout=args.cell_timeout,
                      notebook_timeout=args.notebook_timeout, jobs=args.jobs, progress=_say, force=args.force,
                      hidden_visibility=args.hidden_visibility)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"seglearn grade: error: {exc}", file=sys.stderr)
        return 2
    except GradingEnvironmentError as exc:  # the grader's machinery is broken: no one was scored
        print(f"seglearn grade: error: {exc}", file=sys.stderr)
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(table)
    out = Path(args.out)
    print(f"\nwrote {out / 'scores.csv'}, {out / 'totals.csv'}, {out / 'scores.md'}, "
          f"{out / 'feedback'}/ and {out / 'gradescope'}/")
    return 0


def _cmd_grade_one(args) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        results = grade_submission(args.submission, args.source, args.results, cell_timeout=args.cell_timeout,
                                   notebook_timeout=args.notebook_timeout,
                                   hidden_visibility=args.hidden_visibility, report_dir=args.report,
                                   progress=_say)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"seglearn grade-one: error: {exc}", file=sys.stderr)
        return 2
    except GradingEnvironmentError as exc:
        print(f"seglearn grade-one: error: {exc}", file=sys.stderr)
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(results["output"])
    print(f"\nwrote {args.results}")
    return 0


def _add_limits(p) -> None:
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                   help=f"time limit per cell (default {DEFAULT_CELL_TIMEOUT:g})")
    p.add_argument("--notebook-timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT, metavar="SECONDS",
                   help=f"time limit per notebook (default {DEFAULT_NOTEBOOK_TIMEOUT:g})")
    p.add_argument("--hidden-visibility", choices=GRADESCOPE_VISIBILITIES, default="after_published",
                   help="when Gradescope shows students the hidden checks' names and points "
                        "(default after_published)")


def add_grade_one_arguments(parser) -> None:
    """Add the arguments of ``grade-one`` to a parser and set its ``func``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``grade-one`` sub-parser, or the parser of
        ``python -m seglearn.grading.gradescope``.
    """
    parser.formatter_class = _RAW
    parser.epilog = _GRADE_ONE_EPILOG
    parser.add_argument("--submission", default=DEFAULT_SUBMISSION, metavar="DIR",
                        help=f"the student's files (default {DEFAULT_SUBMISSION})")
    parser.add_argument("--source", default=DEFAULT_SOURCE, metavar="DIR",
                        help=f"the instructor's notebooks, with the hidden checks (default {DEFAULT_SOURCE})")
    parser.add_argument("--results", default=DEFAULT_RESULTS, metavar="FILE",
                        help=f"Gradescope's results file to write (default {DEFAULT_RESULTS})")
    parser.add_argument("--report", metavar="DIR", help="also keep the whole report (feedback, logs) here")
    _add_limits(parser)
    parser.set_defaults(func=_cmd_grade_one)


def add_subcommands(subparsers) -> None:
    """Register the ``release``, ``grade`` and ``grade-one`` subcommands of ``seglearn``.

    Each sub-parser sets ``func``: the CLI calls ``args.func(args)``, which
    returns the exit status (0 on success, 2 for a usage error, 3 when
    ``grade`` finds the grader's own machinery broken: see
    :class:`GradingEnvironmentError`).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="seglearn")
    >>> add_subcommands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["grade", "subs", "--out", "report", "--cell-timeout", "60"])
    >>> args.func.__name__, args.cell_timeout, args.notebook_timeout, args.force
    ('_cmd_grade', 60.0, 1800.0, False)
    >>> args = parser.parse_args(["grade-one", "--source", "chapters"])
    >>> args.func.__name__, args.submission, args.results
    ('_cmd_grade_one', '/autograder/submission', '/autograder/results/results.json')
    """
    p = subparsers.add_parser(
        "release", help="write student notebooks without the solutions and hidden checks",
        description=textwrap.dedent("""\
            Write the student version of every notebook in SOURCE_DIR to --out: each region
            between '### BEGIN SOLUTION' and '### END SOLUTION' becomes '# YOUR CODE HERE' and
            'raise NotImplementedError', outputs are cleared, check cells become read-only,
            hidden checks become a note. Prints the solution regions, checks and points of each
            notebook."""),
        epilog=_RELEASE_EPILOG, formatter_class=_RAW)
    p.add_argument("source_dir", metavar="SOURCE_DIR", help="folder of solution notebooks, e.g. chapters/")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the student notebooks")
    p.add_argument("--force", action="store_true", help="overwrite the notebooks in a non-empty DIR")
    p.set_defaults(func=_cmd_release)

    g = subparsers.add_parser(
        "grade", help="grade students' notebooks with nbval; scores, feedback, Gradescope files",
        description=textwrap.dedent("""\
            Run every notebook of every student folder in SUBMISSIONS_DIR with nbval (one
            pytest process and kernel per notebook, with time limits) and score its check
            cells, hidden checks included. A missing, crashing or hanging notebook costs only
            its own points. Students graded before into the same --out are skipped."""),
        epilog=_GRADE_EPILOG, formatter_class=_RAW)
    g.add_argument("submissions_dir", metavar="SUBMISSIONS_DIR", help="one sub-folder per student")
    g.add_argument("--out", required=True, metavar="DIR", help="report folder (scores, feedback, gradescope, ...)")
    g.add_argument("--source", metavar="DIR",
                   help="the instructor's notebooks: which notebooks are expected, and the check "
                        "cells (hidden ones too) to grade with (recommended)")
    _add_limits(g)
    g.add_argument("--jobs", type=int, default=1, metavar="N", help="students graded in parallel (default 1)")
    g.add_argument("--force", action="store_true", help="grade again the students already graded in DIR")
    g.set_defaults(func=_cmd_grade)

    one = subparsers.add_parser(
        "grade-one", help="grade one submission into Gradescope's results.json (the autograder)",
        description=textwrap.dedent("""\
            Grade one student's submission the way 'seglearn grade' grades a class, and write
            Gradescope's results.json: one test per check (hidden checks without their
            messages) and the total score."""))
    add_grade_one_arguments(one)
