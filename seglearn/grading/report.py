"""Scores and what is written from them: the instructor's tables, each student's feedback, Gradescope.

Written by :meth:`GradeTable.write_reports` into the report folder:

* ``scores.csv``, ``totals.csv``, ``scores.md``: the instructor's view, with
  every failed check's reason (hidden checks included);
* ``feedback/<student>.md`` and ``.html``: for the student, per notebook and
  check the points, and for a failed public check its message; for a hidden
  check only its name, points and pass/fail, never its code or message;
* ``gradescope/<student>/results.json``: the same in Gradescope's format
  (``tests`` with ``name``, ``score``, ``max_score``, ``status``, ``output``,
  ``visibility``, and the top-level ``score``).
"""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import math
import os
import tempfile
from pathlib import Path

from ..tables import format_table

__all__ = ["GRADESCOPE_VISIBILITIES", "CheckResult", "GradeTable"]

_CSV_FIELDS = ("student", "notebook", "check", "possible", "points", "passed", "reason", "hidden")
#: The visibilities Gradescope accepts for a test.
GRADESCOPE_VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
_RECORD_FORMAT, _RECORD_VERSION = "seglearn-grading-student", 1


def _write_csv(path, header, rows) -> Path:
    """Write ``header`` then ``rows`` (lists of cells) to the CSV file ``path``; return its Path."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _fmt(points) -> str:
    """Points as text: ``2``, ``1.5``."""
    return f"{points:g}" if isinstance(points, float) else str(points)


def _number(points):
    """An integral float as an int (for JSON and sums that read well)."""
    return int(points) if isinstance(points, float) and points.is_integer() else points


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The result of one check of one student's notebook.

    Parameters
    ----------
    student : str
        The student's folder name.
    notebook : str
        Notebook file name.
    check : str
        Check name.
    possible : int
        Points the check is worth.
    points : int or float
        Points earned: ``possible`` if it passed, 0 if it failed, or what
        the check's last ``award`` gave (partial credit).
    passed : bool
        Whether it earned all its points.
    reason : str
        Why not ("" when it passed), e.g. ``"missing"``,
        ``"AssertionError: ..."``, ``"Timeout of 60 seconds exceeded ..."``,
        or an award's text.
    hidden : bool, default False
        Whether it is a hidden check (its reason is never shown to the student).
    """

    student: str
    notebook: str
    check: str
    possible: int
    points: int | float
    passed: bool
    reason: str = ""
    hidden: bool = False

    @property
    def status(self) -> str:
        """``"pass"``, ``"partial"`` (some points) or ``"fail"``."""
        return "pass" if self.passed else ("partial" if self.points > 0 else "fail")


def _write_atomic(path: Path, text: str) -> Path:
    """Write a file so that a reader (or a crash) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclasses.dataclass
class GradeTable:
    """Scores of a class: one :class:`CheckResult` per student, notebook and check.

    Parameters
    ----------
    results : list of CheckResult
        Sorted by student, then notebook, then check order in the notebook.
    notes : dict, optional
        ``{(student, notebook): text}``: what happened to a notebook as a
        whole (missing, timed out, not a notebook of the course, ...), shown
        in the reports.
    student_names : list of str, optional
        Every student graded, also those without any result; by default the
        students that appear in ``results``.
    """

    results: list[CheckResult]
    notes: dict = dataclasses.field(default_factory=dict)
    student_names: list = dataclasses.field(default_factory=list)

    @property
    def students(self) -> list[str]:
        """Student names in order."""
        return list(dict.fromkeys([*self.student_names, *(r.student for r in self.results)]))

    @property
    def notebooks(self) -> list[str]:
        """Graded notebook names in order."""
        return sorted(dict.fromkeys(r.notebook for r in self.results))

    def score(self, student: str, notebook: str | None = None) -> tuple:
        """Points earned and possible for a student (in one notebook or in all).

        Parameters
        ----------
        student : str
            The student's folder name.
        notebook : str, optional
            Restrict to this notebook.

        Returns
        -------
        (points, possible)
            ``(0, 0)`` when there is no result; points are a float only when
            partial credit made them fractional.
        """
        rows = [r for r in self.results if r.student == student and notebook in (None, r.notebook)]
        return _number(math.fsum(r.points for r in rows)) if rows else 0, sum(r.possible for r in rows)

    def totals(self) -> dict[str, dict[str, tuple]]:
        """``{student: {notebook: (points, possible), ..., "total": (points, possible)}}``."""
        out = {}
        for student in self.students:
            row = {nb: self.score(student, nb) for nb in self.notebooks
                   if any(r.student == student and r.notebook == nb for r in self.results)}
            row["total"] = self.score(student)
            out[student] = row
        return out

    # ------------------------------------------------------------------ the instructor's tables
    def write_csv(self, path) -> Path:
        """Write one row per student, notebook and check (``passed`` and ``hidden`` as 0/1).

        Parameters
        ----------
        path : str or path
            The CSV file to write.

        Returns
        -------
        Path
        """
        rows = ([r.student, r.notebook, r.check, r.possible, _fmt(r.points), int(r.passed), r.reason, int(r.hidden)]
                for r in self.results)
        return _write_csv(path, _CSV_FIELDS, rows)

    def write_totals_csv(self, path) -> Path:
        """Write one row per student: points per notebook, total and possible.

        Parameters
        ----------
        path : str or path
            The CSV file to write.

        Returns
        -------
        Path
        """
        rows = ([student, *(_fmt(row[nb][0]) if nb in row else "" for nb in self.notebooks),
                 _fmt(row["total"][0]), row["total"][1]]
                for student, row in self.totals().items())
        return _write_csv(path, ["student", *self.notebooks, "total", "possible"], rows)

    def to_markdown(self) -> str:
        """The totals table, then each student's checks with reasons (the instructor's view)."""
        names = [Path(nb).stem for nb in self.notebooks]
        lines = ["# Scores", "", "| Student | " + " | ".join(map(_md, names)) + " | Total |",
                 "|---|" + "---:|" * (len(names) + 1)]
        for student, row in self.totals().items():
            cells = [f"{_fmt(row[nb][0])}/{row[nb][1]}" if nb in row else "" for nb in self.notebooks]
            total = row["total"]
            lines.append(f"| {_md(student)} | " + " | ".join(cells) + f" | **{_fmt(total[0])}/{total[1]}** |")
        for student in self.students:
            lines += ["", f"## {_md(student)}", "", "| Notebook | Check | Result | Points | Reason |",
                      "|---|---|---|---:|---|"]
            for r in (r for r in self.results if r.student == student):
                result = {"pass": "pass", "partial": "PARTIAL", "fail": "FAIL"}[r.status]
                check = f"{r.check} (hidden)" if r.hidden else r.check
                lines.append(f"| {_md(r.notebook)} | {_md(check)} | {result} | {_fmt(r.points)}/{r.possible} "
                             f"| {_md(r.reason)} |")
            notes = self._notes(student)
            if notes:
                lines += [""] + [f"- {_md(nb)}: {_md(text)}" for nb, text in notes]
        return "\n".join(lines) + "\n"

    def _notes(self, student: str) -> list[tuple[str, str]]:
        return [(nb, text) for (s, nb), text in sorted(self.notes.items()) if s == student]

    def __str__(self) -> str:
        names = [Path(nb).stem for nb in self.notebooks]
        rows = []
        for student, row in self.totals().items():
            cells = [f"{_fmt(row[nb][0])}/{row[nb][1]}" if nb in row else "-" for nb in self.notebooks]
            rows.append([student, *cells, f"{_fmt(row['total'][0])}/{row['total'][1]}"])
        return format_table(rows, ["student", *names, "total"], align="<" + ">" * (len(names) + 1))

    # ------------------------------------------------------------------ the student's feedback
    def _feedback_rows(self, student: str):
        """``(notebook, [(check label, points text, result, message)], notebook score)``, secrets left out."""
        out = []
        for nb in dict.fromkeys(r.notebook for r in self.results if r.student == student):
            rows = []
            for r in (r for r in self.results if r.student == student and r.notebook == nb):
                result = {"pass": "passed", "partial": "partial credit", "fail": "failed"}[r.status]
                if r.hidden:  # name, points and pass/fail only: never the check's code or message
                    rows.append((f"{r.check} (hidden)", f"{_fmt(r.points)}/{r.possible}", result,
                                 "hidden check: its test is not shown"))
                else:
                    rows.append((r.check, f"{_fmt(r.points)}/{r.possible}", result, r.reason))
            out.append((nb, rows, self.score(student, nb)))
        return out

    def feedback_markdown(self, student: str) -> str:
        """A student's feedback as Markdown: per notebook and check, points and what went wrong.

        A failed public check shows its message (the assertion's, or an
        award's); a hidden check shows only its name, points and result.

        Parameters
        ----------
        student : str
            The student's folder name.

        Returns
        -------
        str
        """
        points, possible = self.score(student)
        lines = [f"# Feedback for {_md(student)}", "", f"Total: **{_fmt(points)}/{possible}** points.", ""]
        notes = dict(self._notes(student))
        for nb, rows, (got, of) in self._feedback_rows(student):
            lines += [f"## {_md(nb)}: {_fmt(got)}/{of} points", "", "| Check | Points | Result | Feedback |",
                      "|---|---:|---|---|"]
            lines += [f"| {_md(a)} | {b} | {c} | {_md(d)} |" for a, b, c, d in rows]
            if nb in notes:
                lines += ["", f"Note: {_md(notes.pop(nb))}"]
            lines.append("")
        for nb, text in notes.items():  # notebooks without checks graded: unknown names, ...
            lines += [f"- {_md(nb)}: {_md(text)}"]
        return "\n".join(lines).rstrip("\n") + "\n"

    def feedback_html(self, student: str) -> str:
        """The same feedback as :meth:`feedback_markdown`, as a small HTML page.

        Parameters
        ----------
        student : str
            The student's folder name.

        Returns
        -------
        str
        """
        e = html.escape
        points, possible = self.score(student)
        body = [f"<h1>Feedback for {e(student)}</h1>", f"<p>Total: <strong>{_fmt(points)}/{possible}</strong> points.</p>"]
        notes = dict(self._notes(student))
        for nb, rows, (got, of) in self._feedback_rows(student):
            body.append(f"<h2>{e(nb)}: {_fmt(got)}/{of} points</h2>")
            body.append("<table><tr><th>Check</th><th>Points</th><th>Result</th><th>Feedback</th></tr>")
            body += [f'<tr class="{e(c.split()[0])}"><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td><td>{e(d)}</td></tr>'
                     for a, b, c, d in rows]
            body.append("</table>")
            if nb in notes:
                body.append(f"<p>Note: {e(notes.pop(nb))}</p>")
        if notes:
            body.append("<ul>" + "".join(f"<li>{e(nb)}: {e(text)}</li>" for nb, text in notes.items()) + "</ul>")
        style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}tr.failed td{background:#fee}"
                 "tr.partial td{background:#ffd}tr.passed td{background:#efe}")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>Feedback for {e(student)}</title><style>{style}</style></head>\n<body>\n"
                + "\n".join(body) + "\n</body></html>\n")

    def gradescope_results(self, student: str, *, hidden_visibility: str = "after_published") -> dict:
        """A student's results in Gradescope's ``results.json`` format.

        One test per check, named ``<notebook>: <check>``, with ``score``,
        ``max_score``, ``status`` and ``output`` (a public check's message);
        public checks are ``visible``, hidden ones get ``hidden_visibility``
        and an output that says only whether they passed.

        Parameters
        ----------
        student : str
            The student's folder name.
        hidden_visibility : str, default "after_published"
            One of :data:`GRADESCOPE_VISIBILITIES`: when students see the
            hidden checks' names and points.

        Returns
        -------
        dict
            ``{"score": ..., "output": ..., "tests": [...]}``.
        """
        if hidden_visibility not in GRADESCOPE_VISIBILITIES:
            raise ValueError(f"`hidden_visibility` must be one of {GRADESCOPE_VISIBILITIES}. "
                             f"Received: hidden_visibility={hidden_visibility!r}")
        tests = []
        for r in (r for r in self.results if r.student == student):
            status = {"pass": "passed", "partial": "partial credit", "fail": "failed"}[r.status]
            tests.append({
                "name": f"{r.notebook}: {r.check}" + (" (hidden)" if r.hidden else ""),
                "score": _number(r.points), "max_score": r.possible,
                "status": "passed" if r.passed else "failed",
                "output": f"Hidden check {status}." if r.hidden else r.reason,
                "visibility": hidden_visibility if r.hidden else "visible",
            })
        points, possible = self.score(student)
        lines = [f"{_fmt(points)}/{possible} points"]
        lines += [f"{nb}: {_fmt(got)}/{of}" for nb, _, (got, of) in self._feedback_rows(student)]
        lines += [f"{nb}: {text}" for nb, text in self._notes(student)]
        return {"score": _number(points), "output": "\n".join(lines), "tests": tests}

    def write_reports(self, out_dir, *, hidden_visibility: str = "after_published") -> list[Path]:
        """Write every report into ``out_dir`` (see the module docstring).

        Parameters
        ----------
        out_dir : str or path
            The report folder.
        hidden_visibility : str, default "after_published"
            Gradescope visibility of hidden checks.

        Returns
        -------
        list of Path
            The files written.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = [self.write_csv(out / "scores.csv"), self.write_totals_csv(out / "totals.csv"),
                   _write_atomic(out / "scores.md", self.to_markdown())]
        for student in self.students:
            written.append(_write_atomic(out / "feedback" / f"{student}.md", self.feedback_markdown(student)))
            written.append(_write_atomic(out / "feedback" / f"{student}.html", self.feedback_html(student)))
            results = self.gradescope_results(student, hidden_visibility=hidden_visibility)
            written.append(_write_atomic(out / "gradescope" / student / "results.json",
                                         json.dumps(results, indent=2) + "\n"))
        return written


# --------------------------------------------------------------------------- one student's record (resume)
def write_student_record(path, student: str, results, notes: dict, fingerprint: str) -> Path:
    """Save one student's results, so that a later ``grade`` can skip them."""
    record = {"format": _RECORD_FORMAT, "version": _RECORD_VERSION, "student": student, "fingerprint": fingerprint,
              "results": [dataclasses.asdict(r) for r in results],
              "notes": [[nb, text] for (s, nb), text in sorted(notes.items()) if s == student]}
    return _write_atomic(Path(path), json.dumps(record, indent=1) + "\n")


def read_student_record(path):
    """``(fingerprint, results, notes)`` from :func:`write_student_record`; None if absent or unreadable."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if record.get("format") != _RECORD_FORMAT or record.get("version") != _RECORD_VERSION:
            return None
        student = record["student"]
        results = [CheckResult(**r) for r in record["results"]]
        notes = {(student, nb): text for nb, text in record["notes"]}
        return record["fingerprint"], results, notes
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
