"""A fabricated class graded for real: hidden checks, partial credit, a hanging, a crashing and a cheating notebook.

One grading run (module fixture, about two minutes on a busy 2-core machine)
and many assertions about it: the totals, the feedback files and
``results.json`` that reveal nothing of the hidden check, the capped output,
and a second run that skips everyone.
"""

import json
import os
import re
import time

import pytest
from grading_builders import SECRET_MESSAGE, SECRET_SOURCE, extra, graded_quiz, write

from seglearn import grading
from seglearn.grading import grade, release

CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 300, 30  # carol's hang costs the notebook limit: 30 s, as in test_grading.py
LOG_LIMIT = 200_000

# frank tries what a student can try from inside the kernel: forge a "passed" record for
# the perimeter check (nbval cell 5) in the grader's log, plant a conftest.py and a pytest.ini
# for his next notebook's run, read the grader's variables, and flood the output.
FRANK_SETUP = """\
import glob, json, os
for path in glob.glob("../../logs/frank/*.jsonl") + glob.glob("*.jsonl"):
    with open(path, "a") as f:
        f.write(json.dumps({"cell": 5, "when": "call", "outcome": "passed", "message": ""}) + "\\n")
open("conftest.py", "w").write("raise SystemExit('a conftest.py planted by a student was loaded')\\n")
open("pytest.ini", "w").write("[pytest]\\naddopts = --collect-only\\n")
open("env_seen.txt", "w").write(repr(sorted(k for k in os.environ if k.startswith("SEGLEARN"))))
os.write(1, b"x" * 3_000_000)"""

EXPECTED = {"alice": (11, 11), "bob": (7, 11), "carol": (5, 11), "dave": (0, 11), "erin": (1, 11), "frank": (4, 11)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    source = tmp / "chapters"
    write(graded_quiz(), source / "01_quiz.ipynb")
    write(extra(), source / "02_extra.ipynb")
    release(source, tmp / "release")
    subs = tmp / "submissions"
    # alice solved everything: 10 + 1.
    write(graded_quiz(), subs / "alice" / "01_quiz.ipynb")
    write(extra(), subs / "alice" / "02_extra.ipynb")
    # bob codes to the visible check (the hidden one catches it) and his model reaches the
    # lower tier only: area 2, hidden 0, perimeter 3, quality 1 of 3, extra 1.
    write(graded_quiz(area="return 12 if (w, h) == (3, 4) else w + h", quality="return 0.7"),
          subs / "bob" / "01_quiz.ipynb")
    write(extra(), subs / "bob" / "02_extra.ipynb")
    # carol's perimeter hangs past the notebook's time limit: area 2 and hidden 2 ran
    # before, perimeter and quality did not; extra 1.
    write(graded_quiz(perimeter="import time; time.sleep(600)"), subs / "carol" / "01_quiz.ipynb")
    write(extra(), subs / "carol" / "02_extra.ipynb")
    # dave hands in the released quiz untouched (every check fails) and his extra kills the kernel.
    write(nbformat_read(tmp / "release" / "01_quiz.ipynb"), subs / "dave" / "01_quiz.ipynb")
    write(extra(answer="import os; os._exit(1)"), subs / "dave" / "02_extra.ipynb")
    # erin names her quiz wrongly: it is not graded, and the message says so.
    write(graded_quiz(), subs / "erin" / "01_quizz.ipynb")
    write(extra(), subs / "erin" / "02_extra.ipynb")
    # frank (see FRANK_SETUP): area 2, hidden 2, perimeter wrong (0 whatever his forged
    # record says), quality raises a 3 MB message (0); extra wrong (0).
    write(graded_quiz(perimeter="return w + h", quality="raise ValueError('y' * 3_000_000)", setup=FRANK_SETUP),
          subs / "frank" / "01_quiz.ipynb")
    write(extra(answer="answer = 41"), subs / "frank" / "02_extra.ipynb")
    lines = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grading.runner, "MAX_LOG_BYTES", LOG_LIMIT)
        start = time.perf_counter()
        table = grade(subs, tmp / "report", source_dir=source, cell_timeout=CELL_TIMEOUT,
                      notebook_timeout=NOTEBOOK_TIMEOUT, jobs=2, progress=lines.append)
        print(f"graded 6 students x 2 notebooks in {time.perf_counter() - start:.1f} s (wall)")
    return table, tmp / "report", lines, (subs, source)


def nbformat_read(path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _rows(table, student):
    return {r.check: (r.points, r.reason) for r in table.results if r.student == student}


def test_the_class_grades_to_the_right_totals(graded):
    table, _, _, _ = graded
    assert {student: row["total"] for student, row in table.totals().items()} == EXPECTED


def test_a_hidden_check_catches_code_written_to_the_visible_check(graded):
    table, _, _, _ = graded
    bob = _rows(table, "bob")
    assert bob["area"] == (2, "")
    assert bob["area of other rectangles"] == (0, f"AssertionError: {SECRET_MESSAGE}: area(2, 5) must be 10")
    assert [r.hidden for r in table.results if r.student == "bob"] == [False, True, False, False, False]


def test_partial_credit_follows_the_tiers(graded):
    table, _, _, _ = graded
    assert _rows(table, "alice")["quality"] == (3, "")
    assert _rows(table, "bob")["quality"] == (1, "1 of 3 points: mean IoU 0.7 reaches 0.6 (0.75 earns 3)")
    assert next(r for r in table.results if r.student == "bob" and r.check == "quality").status == "partial"


def test_a_hanging_notebook_costs_only_its_own_unfinished_checks(graded):
    table, _, _, _ = graded
    carol = _rows(table, "carol")
    killed = f"not run: the notebook exceeded its time limit of {NOTEBOOK_TIMEOUT} s"
    assert carol == {"area": (2, ""), "area of other rectangles": (2, ""), "perimeter": (0, killed),
                     "quality": (0, killed), "answer": (1, "")}
    assert table.notes[("carol", "01_quiz.ipynb")].startswith(f"killed after {NOTEBOOK_TIMEOUT} s")


def test_a_released_notebook_and_a_crashing_kernel_score_zero(graded):
    table, _, _, _ = graded
    dave = _rows(table, "dave")
    assert dave["area"] == (0, "NotImplementedError")
    assert dave["area of other rectangles"] == (0, "NotImplementedError"), "the placeholder became the hidden check"
    # nbval waits for a dead kernel's reply until the cell's time limit: here the notebook's
    # limit (60 s) comes first; with a short cell limit it reads "Kernel dead on test start".
    assert dave["answer"] == (0, f"not run: the notebook exceeded its time limit of {NOTEBOOK_TIMEOUT} s")


def test_a_notebook_with_an_unknown_name_is_named_with_the_likely_one(graded):
    table, report, _, _ = graded
    assert all(reason == "missing" for points, reason in _rows(table, "erin").values() if points == 0)
    assert table.notes[("erin", "01_quizz.ipynb")] == ("not a notebook of this course, so not graded (did you "
                                                       "mean 01_quiz.ipynb? Rename it to be graded)")
    assert table.notes[("erin", "01_quiz.ipynb")] == ("missing; a notebook named 01_quizz.ipynb was handed in: "
                                                      "rename it to 01_quiz.ipynb")
    assert "01_quizz.ipynb: not a notebook of this course" in (report / "feedback" / "erin.md").read_text()


def test_what_student_code_does_to_the_grader_changes_nothing(graded):
    table, report, _, _ = graded
    frank = _rows(table, "frank")
    assert frank["perimeter"] == (0, "AssertionError: perimeter(3, 4) should be 14, got 7"), "the forged pass counted"
    log = (report / "logs" / "frank" / "01_quiz.jsonl").read_text()
    assert '"cell": 5, "when": "call", "outcome": "passed"' in log, "the test meant to forge a record"
    assert frank["answer"][0] == 0 and frank["answer"][1].startswith("AssertionError"), "his conftest.py ran"
    # the kernel sees the instructor's own environment (CI sets SEGLEARN_REQUIRE_BROWSER), never the grader's
    outer = repr(sorted(k for k in os.environ if k.startswith("SEGLEARN")))
    assert (report / "work" / "frank" / "env_seen.txt").read_text() == outer, "the kernel saw the grader's variables"


def test_output_kept_in_the_report_is_capped(graded):
    table, report, _, _ = graded
    reason = _rows(table, "frank")["quality"][1]
    assert reason.startswith("ValueError: yyyy") and len(reason) == 300
    log = report / "logs" / "frank" / "01_quiz.log"
    assert log.stat().st_size <= LOG_LIMIT + 200
    assert re.search(r"\[seglearn grade: \d+ bytes of output dropped here, past the limit of 200000 bytes",
                     log.read_text())
    for path in [report / "scores.csv", report / "scores.md", *report.glob("feedback/*"),
                 *report.glob("gradescope/*/results.json"), *report.glob("results/*.json")]:
        assert path.stat().st_size < 50_000, path


def _student_files(report, student):
    return {path: path.read_text() for path in [report / "feedback" / f"{student}.md",
                                                report / "feedback" / f"{student}.html",
                                                report / "gradescope" / student / "results.json"]}


def test_feedback_lists_points_and_public_messages_but_nothing_of_hidden_checks(graded):
    table, report, _, _ = graded
    for student in EXPECTED:
        for path, text in _student_files(report, student).items():
            assert SECRET_MESSAGE not in text and SECRET_SOURCE not in text and "area(2, 5)" not in text, path
    md = (report / "feedback" / "bob.md").read_text()
    assert "Total: **7/11** points." in md
    assert "## 01_quiz.ipynb: 6/10 points" in md
    assert "| area of other rectangles (hidden) | 0/2 | failed | hidden check: its test is not shown |" in md
    assert "| quality | 1/3 | partial credit | 1 of 3 points: mean IoU 0.7 reaches 0.6 (0.75 earns 3) |" in md
    frank = (report / "feedback" / "frank.md").read_text()
    assert "| perimeter | 0/3 | failed | AssertionError: perimeter(3, 4) should be 14, got 7 |" in frank
    html = (report / "feedback" / "bob.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<td>area of other rectangles (hidden)</td><td>0/2</td>" in html
    # The instructor's report has everything, the hidden check's message included.
    assert SECRET_MESSAGE in (report / "scores.md").read_text()


def test_results_json_is_in_gradescopes_format(graded):
    table, report, _, _ = graded
    for student, (points, possible) in EXPECTED.items():
        results = json.loads((report / "gradescope" / student / "results.json").read_text())
        assert results["score"] == points
        assert sum(t["score"] for t in results["tests"]) == points
        assert sum(t["max_score"] for t in results["tests"]) == possible
        for test in results["tests"]:
            assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
            assert test["visibility"] == ("after_published" if "(hidden)" in test["name"] else "visible")
    bob = json.loads((report / "gradescope" / "bob" / "results.json").read_text())
    hidden = next(t for t in bob["tests"] if t["name"] == "01_quiz.ipynb: area of other rectangles (hidden)")
    assert hidden == {"name": "01_quiz.ipynb: area of other rectangles (hidden)", "score": 0, "max_score": 2,
                      "status": "failed", "output": "Hidden check failed.", "visibility": "after_published"}
    quality = next(t for t in bob["tests"] if t["name"] == "01_quiz.ipynb: quality")
    assert (quality["score"], quality["status"]) == (1, "failed")


def test_progress_shows_each_notebook_with_the_time_left(graded):
    _, _, lines, _ = graded
    assert len(lines) == 12
    assert all(re.search(r"; \d+:\d\d elapsed, about \d+:\d\d left$", line) for line in lines), lines
    assert [line.split("]")[0] for line in lines] == [f"[{n}/12" for n in range(1, 13)]


def test_a_second_run_skips_everyone_and_writes_the_same_reports(graded):
    table, report, _, (subs, source) = graded
    before = (report / "scores.csv").read_text()
    lines = []
    start = time.perf_counter()
    again = grade(subs, report, source_dir=source, progress=lines.append)
    assert time.perf_counter() - start < 20, "nothing should run"
    assert lines == ["6 of 6 students graded before on the same notebooks and checks, skipped (force=True, "
                     "--force, grades them again): alice, bob, carol, dave, erin, frank"]
    assert again.totals() == table.totals()
    assert (report / "scores.csv").read_text() == before
