"""Tiny notebooks for the grading tests (tests/test_grading*.py), built in code.

Each builder returns an ``nbformat`` notebook; the bodies of the exercises can
be swapped to fabricate right, wrong, hanging or crashing submissions.
"""

import nbformat

#: In the hidden check's code and message: must never reach a student.
SECRET_SOURCE = "SECRET-SOURCE-91c2"
SECRET_MESSAGE = "SECRET-MESSAGE-7f3a"


def code(source, **metadata):
    return nbformat.v4.new_code_cell(source, metadata=metadata)


def markdown(source):
    return nbformat.v4.new_markdown_cell(source)


def check(name, points, body):
    return code(f"# CHECK: {name} ({points} point{'s' if points != 1 else ''})\n{body}",
                seglearn={"check": name, "points": points})


def hidden_check(name, points, body, **metadata):
    return code(f"# HIDDEN CHECK: {name} ({points} point{'s' if points != 1 else ''})\n{body}", **metadata)


def notebook(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    return nb


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def quiz(area="return w * h", perimeter="return 2 * (w + h)", area_check=None):
    """A solution notebook with two exercises (2 + 3 points); bodies can be swapped."""
    return notebook(
        markdown("# Quiz\nWhat you will learn: rectangles."),
        code("import math\nW, H = 3, 4"),
        code(f"def area(w, h):\n    ### BEGIN SOLUTION\n    {area}\n    ### END SOLUTION"),
        check("area", 2, area_check or "assert area(W, H) == 12, f'area(3, 4) should be 12, got {area(W, H)}'"),
        code(f"def perimeter(w, h):\n    ### BEGIN SOLUTION\n    {perimeter}\n    ### END SOLUTION"),
        check("perimeter", 3, "assert perimeter(W, H) == 14, f'perimeter(3, 4) should be 14, got {perimeter(W, H)}'"),
        markdown("## Summary\nDone."),
    )


def extra(answer="answer = 42"):
    return notebook(
        code(f"### BEGIN SOLUTION\n{answer}\n### END SOLUTION"),
        check("answer", 1, "assert answer == 42, 'the answer is 42'"),
    )


def graded_quiz(area="return w * h", perimeter="return 2 * (w + h)", quality="return 0.8", setup=""):
    """The quiz with a hidden check (2 points) and a partial-credit check (3 points): 10 points.

    ``quality()`` stands for a student's model score: 0.75 or more earns all
    3 points of the tiered check, 0.6 or more 1 point.
    """
    return notebook(
        markdown("# Quiz\nWhat you will learn: rectangles."),
        code("import seglearn.grading\nW, H = 3, 4" + (f"\n{setup}" if setup else "")),
        code(f"def area(w, h):\n    ### BEGIN SOLUTION\n    {area}\n    ### END SOLUTION"),
        check("area", 2, "assert area(W, H) == 12, f'area(3, 4) should be 12, got {area(W, H)}'\nprint('area passed')"),
        hidden_check("area of other rectangles", 2,
                     f"# {SECRET_SOURCE}: rectangles the visible check leaves out\n"
                     f"assert area(2, 5) == 10 and area(0, 7) == 0, '{SECRET_MESSAGE}: area(2, 5) must be 10'"),
        code(f"def perimeter(w, h):\n    ### BEGIN SOLUTION\n    {perimeter}\n    ### END SOLUTION"),
        check("perimeter", 3, "assert perimeter(W, H) == 14, f'perimeter(3, 4) should be 14, got {perimeter(W, H)}'"),
        code(f"def quality():\n    ### BEGIN SOLUTION\n    {quality}\n    ### END SOLUTION"),
        check("quality", 3, "seglearn.grading.award_tiers(quality(), {0.6: 1, 0.75: 3}, of=3, label='mean IoU')"),
        markdown("## Summary\nDone."),
    )
