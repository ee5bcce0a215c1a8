"""Hidden checks and check headers: release, restore, points, and clear errors (no notebook runs)."""

import json
import re

import nbformat
import pytest
from grading_builders import (
    SECRET_MESSAGE,
    SECRET_SOURCE,
    check,
    code,
    graded_quiz,
    hidden_check,
    markdown,
    notebook,
    write,
)

from seglearn.grading import Check, find_checks, grade, points_table, prepare_submission, release, release_notebook


# --------------------------------------------------------------------------- finding them
def test_find_checks_lists_hidden_checks_whose_metadata_is_optional():
    nb = graded_quiz()
    assert [(c.name, c.points, c.hidden) for c in find_checks(nb)] == [
        ("area", 2, False), ("area of other rectangles", 2, True), ("perimeter", 3, False), ("quality", 3, False)]
    assert find_checks(nb)[1] == Check("area of other rectangles", 2, cell_index=4, code_index=3, hidden=True)
    # With metadata, it must agree with the header.
    agreeing = notebook(hidden_check("edges", 2, "assert True", seglearn={"check": "edges", "points": 2}))
    assert find_checks(agreeing)[0].hidden
    with pytest.raises(ValueError, match="make them agree"):
        find_checks(notebook(hidden_check("edges", 2, "assert True", seglearn={"check": "edges", "points": 3})))


@pytest.mark.parametrize("first_line", [
    "# HIDDEN CHECK secret (2 points)",       # no colon
    "# HIDDEN CHECK: secret (two points)",    # points not a number
    "# hidden check: secret (2 points)",      # lower case
    "# HIDDEN_CHECK: secret (2 points)",
    "## CHECK: area (2 points)",              # two hashes
    "# CHECK: area",                          # no points
    "#CHECK area (2 points)",
    "# Check: area (2 points)",
])
def test_a_malformed_check_header_is_an_error_naming_file_and_cell(first_line):
    nb = notebook(code("x = 1"), markdown("text"), code(f"{first_line}\nassert x == 1"))
    with pytest.raises(ValueError) as info:
        find_checks(nb, "02_quiz.ipynb")
    message = str(info.value)
    assert message.startswith(f"02_quiz.ipynb, cell 2 (code cell starting {first_line!r})"), message
    assert "# CHECK: <name> (<points> points)" in message or "(<points> points)" in message


def test_a_check_header_below_the_first_line_is_an_error():
    nb = notebook(code("\n# CHECK: area (2 points)\nassert True", seglearn={"check": "area", "points": 2}))
    with pytest.raises(ValueError, match=r"ch.ipynb, cell 0 .*the check header '# CHECK: area \(2 points\)' must be "
                                         r"the cell's first line"):
        find_checks(nb, "ch.ipynb")


@pytest.mark.parametrize("first_line", ["# Check the shapes", "# checking by hand", "# CHECKPOINT 3", "x = 1  # CHECK"])
def test_ordinary_comments_are_not_check_headers(first_line):
    assert find_checks(notebook(code(f"{first_line}\ny = 2"))) == []


def test_the_real_chapters_have_no_malformed_header(root):
    for path in sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb")):
        find_checks(path)  # raises on a malformed header


# --------------------------------------------------------------------------- release
def test_release_leaves_a_read_only_placeholder_and_nothing_of_the_hidden_check():
    solution = graded_quiz()
    solution.cells[4].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{SECRET_MESSAGE}\n")]
    student, report = release_notebook(solution, "01_quiz.ipynb")
    assert report == release_notebook(solution, "01_quiz.ipynb")[1]
    assert (report.checks, report.hidden, report.points) == (4, 1, 10)
    placeholder = student.cells[4]
    assert placeholder.cell_type == "markdown"
    assert placeholder.metadata == {"seglearn": {"hidden_check": "area of other rectangles", "points": 2},
                                    "editable": False, "deletable": False}
    assert placeholder.source.startswith("**Hidden check: area of other rectangles (2 points).** When your notebook")
    assert len(student.cells) == len(solution.cells), "the placeholder stands where the check stood"
    text = json.dumps(student)
    assert SECRET_SOURCE not in text and SECRET_MESSAGE not in text and "area(2, 5)" not in text
    assert "HIDDEN CHECK" not in text
    nbformat.validate(student)


def test_release_of_a_folder_prints_the_hidden_checks(tmp_path):
    write(graded_quiz(), tmp_path / "src" / "01_quiz.ipynb")
    report = release(tmp_path / "src", tmp_path / "out")
    assert ["01_quiz.ipynb", "3", "4", "1", "10"] in [line.split() for line in str(report).splitlines()]
    assert SECRET_SOURCE not in (tmp_path / "out" / "01_quiz.ipynb").read_text()


def test_a_hidden_check_must_not_hold_a_solution_region():
    nb = notebook(hidden_check("h", 1, "### BEGIN SOLUTION\nassert True\n### END SOLUTION"))
    with pytest.raises(ValueError, match="a check cell must not contain a solution region"):
        release_notebook(nb)


def test_points_table_counts_hidden_checks_in_both_versions():
    solution = graded_quiz()
    student, _ = release_notebook(solution)
    for nb in (solution, student):
        table = points_table(nb)
        assert table.total == 10
        assert [(c.name, c.hidden) for c in table.checks] == [
            ("area", False), ("area of other rectangles", True), ("perimeter", False), ("quality", False)]
        assert "| area of other rectangles (hidden) | 2 |" in table._repr_markdown_()
    # The student version has no hidden check *cell*: find_checks lists only what can run.
    assert [c.name for c in find_checks(student)] == ["area", "perimeter", "quality"]


# --------------------------------------------------------------------------- restoring for grading
def test_prepare_submission_puts_the_hidden_check_where_its_placeholder_stands():
    solution = graded_quiz()
    student, _ = release_notebook(solution)
    student.cells[3].source = "# CHECK: area (2 points)\nassert True  # edited by the student"
    prepared = prepare_submission(student, solution, "01_quiz.ipynb")
    nb = prepared.notebook
    assert nb.cells[4].cell_type == "code" and SECRET_SOURCE in nb.cells[4].source
    assert nb.cells[3].source == solution.cells[3].source, "edited checks are restored"
    # nbval numbers the code cells: 0 setup, 1 area, 2 check, 3 hidden, 4 perimeter, 5 check, 6 quality, 7 check.
    assert prepared.cells == {"area": 2, "area of other rectangles": 3, "perimeter": 5, "quality": 7}
    assert prepared.notes == ()


def test_a_deleted_placeholder_still_gets_its_hidden_check_at_the_end():
    solution = graded_quiz()
    student, _ = release_notebook(solution)
    del student.cells[4]
    prepared = prepare_submission(student, solution, "01_quiz.ipynb")
    assert SECRET_SOURCE in prepared.notebook.cells[-1].source
    assert prepared.cells["area of other rectangles"] == 7
    assert prepared.notes == ("the placeholder of hidden check 'area of other rectangles' was missing, so it ran "
                              "at the end of the notebook",)


def test_without_the_instructors_notebook_hidden_checks_are_named_as_not_graded():
    student, _ = release_notebook(graded_quiz())
    prepared = prepare_submission(student)
    assert "area of other rectangles" not in prepared.cells
    assert prepared.notes == ("hidden checks not graded ('area of other rectangles'): grading them needs the "
                              "instructor's notebooks (--source)",)


def test_a_student_version_cannot_serve_as_the_instructors_notebook():
    student, _ = release_notebook(graded_quiz())
    with pytest.raises(ValueError, match="only a placeholder for hidden check 'area of other rectangles'"):
        prepare_submission(student, student, "01_quiz.ipynb")


# --------------------------------------------------------------------------- grade refuses bad sources before writing
def test_grade_with_released_notebooks_as_source_names_the_file(tmp_path):
    write(graded_quiz(), tmp_path / "chapters" / "01_quiz.ipynb")
    release(tmp_path / "chapters", tmp_path / "release")
    write(graded_quiz(), tmp_path / "subs" / "ann" / "01_quiz.ipynb")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'release' / '01_quiz.ipynb'}, cell 4: hidden check "
                                                   f"'area of other rectangles' is only a placeholder here")):
        grade(tmp_path / "subs", tmp_path / "report", tmp_path / "release")
    assert not (tmp_path / "report").exists()


def test_grade_with_a_malformed_header_in_the_source_names_file_and_cell(tmp_path):
    bad = graded_quiz()
    bad.cells[4].source = bad.cells[4].source.replace("# HIDDEN CHECK:", "# HIDDEN CHECK")
    write(bad, tmp_path / "chapters" / "01_quiz.ipynb")
    write(graded_quiz(), tmp_path / "subs" / "ann" / "01_quiz.ipynb")
    with pytest.raises(ValueError, match=r"^01_quiz.ipynb, cell 4 \(code cell starting '# HIDDEN CHECK area of "
                                         r"other rectangles \(2 points\)'\): malformed check header"):
        grade(tmp_path / "subs", tmp_path / "report", tmp_path / "chapters")
    assert not (tmp_path / "report").exists()


def test_grade_with_a_missing_source_folder_names_it(tmp_path):
    write(graded_quiz(), tmp_path / "subs" / "ann" / "01_quiz.ipynb")
    with pytest.raises(FileNotFoundError, match=re.escape(f"source_dir={str(tmp_path / 'nope')!r}")):
        grade(tmp_path / "subs", tmp_path / "report", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="`source_dir` has no notebook with check cells"):
        grade(tmp_path / "subs", tmp_path / "report", tmp_path / "empty")
    assert not (tmp_path / "report").exists()
