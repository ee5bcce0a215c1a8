"""Grading runs untrusted code: the Keras pin, safe model loading, signed logs, and the README's advice.

(The end-to-end checks, a student forging log records, planting a
conftest.py and flooding the output, are in tests/test_grading_class.py.)
"""

import inspect
import json
import re

import pytest

from seglearn.grading.plugin import sign
from seglearn.grading.runner import _read_log


def _minimum(requirement):
    return tuple(int(p) for p in re.search(r">=\s*([\d.]+)", requirement).group(1).split("."))


def test_keras_without_the_known_safe_mode_bypasses_is_required(root):
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    keras_pin = next(d for d in deps if re.match(r"keras\b", d))
    assert _minimum(keras_pin) >= (3, 11), keras_pin
    from importlib.metadata import version

    assert tuple(int(p) for p in version("keras").split(".")[:2]) >= (3, 11)


def test_seglearn_loads_model_files_in_safe_mode():
    from seglearn import saving

    assert "safe_mode=True" in inspect.getsource(saving.load_model)


@pytest.mark.tf
def test_a_model_file_that_would_run_code_is_refused(tmp_path):
    keras = pytest.importorskip("keras")
    from seglearn import saving

    inputs = keras.Input((8, 8, 3))
    doubled = keras.layers.Lambda(lambda t: t * 2.0)(inputs)  # a Python lambda: code in the file
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(doubled))
    path = saving.save_model(model, tmp_path / "student.keras", class_names=["background", "nucleus"])
    with pytest.raises(ValueError, match="safe_mode"):
        saving.load_model(path)


def test_log_records_not_signed_by_the_plugin_are_dropped(tmp_path):
    key = b"0123456789abcdef"
    real = {"cell": 3, "when": "call", "outcome": "failed", "message": "AssertionError"}
    forged = {"cell": 3, "when": "call", "outcome": "passed", "message": ""}
    log = tmp_path / "nb.jsonl"
    log.write_text("\n".join([
        json.dumps(forged),  # what student code can append: no signature
        json.dumps({**forged, "sig": sign(forged, b"a guessed key")}),
        json.dumps({**real, "sig": sign(real, key)}),
        '{"cell": 4, "outc',  # cut short by a kill
    ]) + "\n")
    assert _read_log(log, key) == [real]


def test_the_readme_says_grading_runs_untrusted_code_and_how_to_contain_it(root):
    readme = (root / "README.md").read_text(encoding="utf-8")
    instructors = readme[readme.index("## For instructors"):readme.index("## Development")]
    assert "**Grading runs your students' code.**" in instructors
    assert re.search(r"docker run --rm --network none .* seglearn grade /submissions --source /chapters",
                     instructors.replace("\\\n", " "), re.S)
    for name in ("award(points, of=N)", "award_tiers", "# HIDDEN CHECK: <name> (<points> points)",
                 "seglearn grade-one", "python -m seglearn.grading.gradescope", "feedback/<student>.md",
                 "gradescope/<student>/results.json", "--force"):
        assert name in instructors, name
