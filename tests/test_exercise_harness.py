"""The exercise harness runs only the cells a check needs: its reading of names, tested.

A wrong slice would test a check on a namespace the chapter never has (a model left
untrained, a name missing): these tests pin down what counts as reading, binding and
changing a name, on small cells.
"""

import json

import pytest

from exercise_harness import CellNames, Chapter, live_cells


def _cells(*sources):
    return [{"cell_type": "code", "source": source, "metadata": {}} for source in sources]


def test_a_cell_reads_what_it_does_not_bind_first():
    names = CellNames.of("x = load()\ny = x + offset\nfor k in keys:\n    total = k + total\n")
    assert names.reads == {"load", "offset", "keys", "total"}
    assert names.binds == {"x", "y"}          # `total` and `k` only when the loop runs
    assert {"x", "y", "k", "total"} <= names.writes


def test_names_local_to_functions_and_comprehensions_are_not_the_cells():
    names = CellNames.of("def f(a, *, b=DEFAULT):\n    c = a + b + g\n    return c\n"
                         "squares = [i * i for i in items]\nh = lambda z: z + w\n")
    assert names.reads == {"DEFAULT", "g", "items", "w"}
    assert names.writes == {"f", "squares", "h"}


def test_a_call_made_as_a_statement_may_change_its_object_and_positional_arguments():
    names = CellNames.of("import numpy as np\nmodel.fit(x, y, epochs=EPOCHS, verbose=v)\nset_trainable(encoder, False)\n"
                         "np.random.shuffle(order)\nscores['a'] = 1\nrun.model.trainable = False\n")
    assert names.binds == {"np"}
    assert {"model", "x", "y", "encoder", "scores", "run"} <= names.writes
    assert not {"EPOCHS", "v", "set_trainable"} & names.writes   # keywords, constants, called functions
    assert "order" in names.writes                                    # an argument of a module's function


def test_live_cells_skip_what_no_check_reads_and_keep_what_changes_it():
    cells = _cells(
        "import numpy as np\nSEED = 0",                     # 0: read by everything
        "model = build(SEED)",                              # 1: the model
        "model.fit(data)",                                  # 2: changes the model in place
        "memory = measure(SEED)\nprint(memory)",            # 3: a measurement no check reads
        "answer = None",                                     # 4: the exercise
        "assert answer == model.predict(np.ones(3))",       # 5: the check
    )
    # (the exercise is live too: it binds what its check reads, and would run before a later exercise)
    assert live_cells(cells, {4: set(), 5: set()}) == {0, 1, 2, 4}
    # a name an answer reads makes its cell live; a given name makes its cells unneeded
    assert live_cells(cells, {4: {"memory"}, 5: set()}) == {0, 1, 2, 3, 4}
    assert live_cells(cells, {4: set(), 5: set()}, given={"model"}) == {0, 4}


def test_a_cell_that_rebinds_a_name_hides_the_earlier_ones():
    cells = _cells("x = expensive()", "x = cheap()", "answer = x", "assert answer")
    assert live_cells(cells, {2: set(), 3: set()}) == {1, 2}


@pytest.fixture
def tiny_chapter(tmp_path, monkeypatch):
    import exercise_harness

    cells = _cells("import math\nbase = 2", "unused = 40 + 2", "### BEGIN SOLUTION\nanswer = base ** 2\n### END SOLUTION",
                   "# CHECK: square (1 point)\nassert answer == 4, 'two squared is 4'")
    cells[-1]["metadata"] = {"seglearn": {"check": "square", "points": 1}}
    (tmp_path / "99_tiny.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                         "nbformat_minor": 5}), encoding="utf-8")
    monkeypatch.setattr(exercise_harness, "CHAPTERS", tmp_path)
    return tmp_path


def test_check_runs_the_live_cells_only_and_names_a_skipped_read(tiny_chapter):
    chapter = Chapter("99_tiny.ipynb")
    assert chapter.live == {0, 2}           # cell 1 binds nothing a later cell reads
    assert chapter.check("square").passed
    assert chapter.check("square", "answer = math.pow(base, 2)").passed
    wrong = chapter.check("square", "answer = base * 2 + 1")
    assert not wrong.passed and wrong.message == "two squared is 4"
    with pytest.raises(ValueError, match=r"reads \['unused'\].*Chapter\(answers=\.\.\.\)"):
        chapter.check("square", "answer = unused - 38")
    declared = Chapter("99_tiny.ipynb", answers=({"square": {"odd": "answer = unused - 38"}},))
    assert declared.live == {0, 1, 2} and declared.check("square", "answer = unused - 38").passed


def test_given_values_replace_the_cells_that_compute_them(tiny_chapter):
    chapter = Chapter("99_tiny.ipynb", given={"base": lambda namespace: -2})
    assert chapter.live == {2}
    assert chapter.check("square").passed                  # (-2) ** 2 == 4
    assert not chapter.check("square", "answer = base * 2").passed


def test_a_failed_cell_fails_the_later_checks_at_once(tiny_chapter):
    chapter = Chapter("99_tiny.ipynb", given={"base": lambda namespace: 1 / 0})
    with pytest.raises(ZeroDivisionError):
        chapter.check("square")
    with pytest.raises(RuntimeError, match="an earlier cell failed"):
        chapter.check("square")
