"""Resume and progress: what a second `grade` skips, grades again and keeps (the runs are faked: fast)."""

import json
import re

import pytest
from grading_builders import extra, graded_quiz, write

from seglearn import grading
from seglearn.grading import CheckResult, grade
from seglearn.grading.runner import _BrokenRun


@pytest.fixture
def fake_runs(monkeypatch):
    """Replace the notebook runs: every check passes; returns the list of (student, notebook) graded."""
    graded = []

    def fake(student, folder, name, reference, workdir, logdir, *args, **kwargs):
        graded.append((student, name))
        if (folder / "interrupt").exists() and name == "02_extra.ipynb":
            raise KeyboardInterrupt
        if (folder / "break").exists():
            raise _BrokenRun("pytest exited with code 3 (internal error)", f"found while grading {student}/{name}")
        return [CheckResult(student, name, c.name, c.points, c.points, True, "", c.hidden)
                for c in reference.checks], "ran in 0.1 s"

    monkeypatch.setattr(grading.grader, "_grade_notebook", fake)
    monkeypatch.setattr(grading.grader, "_preflight", lambda python: None)
    return graded


@pytest.fixture
def course(tmp_path):
    write(graded_quiz(), tmp_path / "chapters" / "01_quiz.ipynb")
    write(extra(), tmp_path / "chapters" / "02_extra.ipynb")
    for student in ("alice", "bob"):
        write(graded_quiz(), tmp_path / "subs" / student / "01_quiz.ipynb")
        write(extra(), tmp_path / "subs" / student / "02_extra.ipynb")
    return tmp_path


def _grade(course, lines=None, **kwargs):
    progress = lines.append if lines is not None else None
    return grade(course / "subs", course / "report", course / "chapters", progress=progress, **kwargs)


def test_progress_counts_notebooks_and_estimates_the_time_left(course, fake_runs):
    lines = []
    _grade(course, lines)
    assert len(lines) == 4
    for n, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"\[{n}/4\] (alice|bob) / 0[12]_\w+\.ipynb: (10/10|1/1) points \(ran in 0\.1 s\); "
                            r"\d+:\d\d elapsed, about \d+:\d\d left", line), line
    assert lines[-1].endswith("about 0:00 left")


def test_a_second_run_skips_the_students_graded_and_keeps_their_results(course, fake_runs):
    first = _grade(course)
    assert len(fake_runs) == 4
    (course / "report" / "feedback" / "alice.md").unlink()
    lines = []
    second = _grade(course, lines)
    assert len(fake_runs) == 4, "nobody is graded twice"
    assert lines == ["2 of 2 students graded before on the same notebooks and checks, skipped (force=True, "
                     "--force, grades them again): alice, bob"]
    assert second.results == first.results and second.totals() == first.totals()
    assert (course / "report" / "feedback" / "alice.md").exists(), "the reports are written again"
    _grade(course, force=True)
    assert len(fake_runs) == 8, "force grades everyone again"


def test_a_student_who_hands_in_another_file_is_graded_again(course, fake_runs):
    _grade(course)
    write(extra(answer="answer = 41"), course / "subs" / "bob" / "02_extra.ipynb")
    lines = []
    _grade(course, lines)
    assert fake_runs[4:] == [("bob", "01_quiz.ipynb"), ("bob", "02_extra.ipynb")]
    assert lines[:2] == [
        "1 of 2 students graded before on the same notebooks and checks, skipped (force=True, --force, grades them "
        "again): alice",
        "1 students handed in other files or have other checks since they were graded, graded again: bob"]


def test_a_changed_check_grades_everyone_again(course, fake_runs):
    _grade(course)
    changed = extra()
    changed.cells[1].source += "\nassert isinstance(answer, int)"
    write(changed, course / "chapters" / "02_extra.ipynb")
    _grade(course)
    assert len(fake_runs) == 8


def test_an_interrupted_grading_keeps_the_students_finished_and_grades_the_rest_next_time(course, fake_runs):
    (course / "subs" / "bob" / "interrupt").write_text("")
    with pytest.raises(KeyboardInterrupt):
        _grade(course)
    saved = json.loads((course / "report" / "results" / "alice.json").read_text())
    assert saved["student"] == "alice" and len(saved["results"]) == 5
    assert not (course / "report" / "results" / "bob.json").exists(), "a student half graded is not saved"
    assert not (course / "report" / "scores.csv").exists()
    (course / "subs" / "bob" / "interrupt").unlink()
    table = _grade(course)
    assert fake_runs[-2:] == [("bob", "01_quiz.ipynb"), ("bob", "02_extra.ipynb")]
    assert fake_runs.count(("alice", "01_quiz.ipynb")) == 1
    assert {s: row["total"] for s, row in table.totals().items()} == {"alice": (11, 11), "bob": (11, 11)}


def test_a_broken_grader_mid_class_loses_nothing_already_graded(course, fake_runs):
    _grade(course)
    before = (course / "report" / "scores.csv").read_text()
    write(extra(answer="answer = 41"), course / "subs" / "bob" / "02_extra.ipynb")  # bob needs grading again
    (course / "subs" / "bob" / "break").write_text("")
    with pytest.raises(grading.GradingEnvironmentError, match="internal error"):
        _grade(course)
    assert (course / "report" / "scores.csv").read_text() == before, "the reports of the last run stay"
    assert (course / "report" / "results" / "alice.json").exists() and (course / "report" / "results" / "bob.json").exists()


def test_students_graded_before_but_no_longer_handed_in_stay_in_the_reports(course, fake_runs):
    _grade(course)
    (course / "subs2" / "carol").mkdir(parents=True)
    write(extra(), course / "subs2" / "carol" / "02_extra.ipynb")
    lines = []
    table = grade(course / "subs2", course / "report", course / "chapters", progress=lines.append)
    assert table.students == ["alice", "bob", "carol"]
    assert fake_runs[4:] == [("carol", "01_quiz.ipynb"), ("carol", "02_extra.ipynb")]
    assert "2 students graded before are not in" in lines[0] and lines[0].endswith("alice, bob")


def test_a_damaged_saved_result_is_graded_again(course, fake_runs):
    _grade(course)
    (course / "report" / "results" / "bob.json").write_text("{not json")
    _grade(course)
    assert fake_runs[4:] == [("bob", "01_quiz.ipynb"), ("bob", "02_extra.ipynb")]


def test_grade_checks_force_and_hidden_visibility(course):
    with pytest.raises(TypeError, match="force"):
        _grade(course, force="yes")
    with pytest.raises(ValueError, match="hidden_visibility"):
        _grade(course, hidden_visibility="secret")
