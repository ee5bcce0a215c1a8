"""The Gradescope entry point: one submission graded like a class of one, into results.json."""

import json
import re
import subprocess
import sys

import pytest
from grading_builders import SECRET_MESSAGE, SECRET_SOURCE, extra, graded_quiz, write

from seglearn import cli, grading
from seglearn.grading import gradescope


def test_grade_submission_writes_results_json_where_asked(tmp_path):
    source = tmp_path / "autograder" / "source" / "chapters"
    write(graded_quiz(), source / "01_quiz.ipynb")
    write(extra(), source / "02_extra.ipynb")
    # Gradescope unpacks the upload into /autograder/submission; here a sub-folder too.
    submission = tmp_path / "autograder" / "submission"
    write(graded_quiz(area="return 12 if (w, h) == (3, 4) else w + h", quality="return 0.7"),
          submission / "hw" / "01_quiz.ipynb")
    write(extra(), submission / "02_extra.ipynb")
    results_path = tmp_path / "autograder" / "results" / "results.json"
    lines = []
    results = grading.grade_submission(submission, source, results_path, cell_timeout=60, notebook_timeout=120,
                                       progress=lines.append, report_dir=tmp_path / "report")
    assert json.loads(results_path.read_text()) == results
    # The same as `seglearn grade` gives bob in tests/test_grading_class.py: 7 of 11.
    assert results["score"] == 7
    assert [(t["name"], t["score"], t["max_score"], t["visibility"]) for t in results["tests"]] == [
        ("01_quiz.ipynb: area", 2, 2, "visible"),
        ("01_quiz.ipynb: area of other rectangles (hidden)", 0, 2, "after_published"),
        ("01_quiz.ipynb: perimeter", 3, 3, "visible"),
        ("01_quiz.ipynb: quality", 1, 3, "visible"),
        ("02_extra.ipynb: answer", 1, 1, "visible")]
    text = results_path.read_text()
    assert SECRET_MESSAGE not in text and SECRET_SOURCE not in text
    assert results["output"].splitlines()[:3] == ["7/11 points", "01_quiz.ipynb: 6/10", "02_extra.ipynb: 1/1"]
    assert (tmp_path / "report" / "feedback" / "submission.md").exists()
    assert len(lines) == 2 and lines[0].startswith("[1/2] submission / 01_quiz.ipynb: 6/10 points")


def test_grade_one_names_a_missing_folder_and_exits_2(tmp_path, capsys):
    (tmp_path / "submission").mkdir()
    argv = ["--submission", str(tmp_path / "submission"), "--source", str(tmp_path / "nope"),
            "--results", str(tmp_path / "results.json")]
    assert gradescope.main(argv) == 2
    assert f"seglearn grade-one: error: `source_dir` must be an existing folder. Received: source_dir=" \
           f"{str(tmp_path / 'nope')!r}" in capsys.readouterr().err
    assert cli.main(["grade-one", *argv[:2], "--source", str(tmp_path), "--submission", str(tmp_path / "x")]) == 2
    assert "submission_dir=" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


POSIX = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreter is a shell script")


@POSIX
def test_grade_one_with_a_broken_grader_writes_no_results_and_exits_3(tmp_path, monkeypatch, capsys):
    write(extra(), tmp_path / "source" / "02_extra.ipynb")
    write(extra(), tmp_path / "submission" / "02_extra.ipynb")
    fake = tmp_path / "bin" / "python"  # a `python` without nbval
    (tmp_path / "blocker" / "nbval").mkdir(parents=True)
    (tmp_path / "blocker" / "nbval" / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'nbval\'", name="nbval")\n')
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nPYTHONPATH="{tmp_path / "blocker"}${{PYTHONPATH:+:$PYTHONPATH}}" '
                    f'exec "{sys.executable}" "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    code = gradescope.main(["--submission", str(tmp_path / "submission"), "--source", str(tmp_path / "source"),
                            "--results", str(tmp_path / "results.json")])
    assert code == 3
    assert "grading needs nbval, which is not installed" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists(), "no wrong 0 for the student"


def test_the_entry_point_runs_as_a_module_and_documents_its_defaults():
    out = subprocess.run([sys.executable, "-m", "seglearn.grading.gradescope", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for default in ("/autograder/submission", "/autograder/source", "/autograder/results/results.json"):
        assert default in out
    assert re.search(r"seglearn grade-one --source /autograder/source/chapters", out)
