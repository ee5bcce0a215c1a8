"""Tests of the ``seglearn`` console script (seglearn.cli)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seglearn import cli
from seglearn.datasets import SHAPE_CLASSES, make_shapes

pytestmark = pytest.mark.tf

TINY = ["--epochs", "1", "--depth", "1", "--base-filters", "2", "--batch-size", "4", "--quiet"]


def write_folder(root: Path, n=6, size=32, seed=0) -> Path:
    """A folder data set: images/NAME.png (RGB) and masks/NAME.png (0/1)."""
    images, masks = make_shapes(n, image_size=size, seed=seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (image, mask) in enumerate(zip(images, masks)):
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(root / "images" / f"im{i}.png")
        Image.fromarray((mask > 0).astype(np.uint8)).save(root / "masks" / f"im{i}.png")
    return root


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def folder_model(tmp_path_factory):
    """A tiny model trained (1 epoch) on a folder of 6 images of 32x32."""
    root = tmp_path_factory.mktemp("cli")
    data = write_folder(root / "data")
    model = root / "model.keras"
    assert cli.main(["train", "--data", str(data), "--out", str(model), *TINY]) == 0
    return data, model


# ---------------------------------------------------------------------------
# help
# ---------------------------------------------------------------------------


def test_main_help_explains_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("segmentation", "train", "evaluate", "predict", "release", "grade", "examples:"):
        assert text in out


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_each_command_has_a_description_and_examples(capsys, command):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and f"seglearn {command} " in out.split("examples:")[1]
    assert "--data" in out or "--model" in out


def test_train_defaults_are_the_library_defaults():
    import inspect

    from seglearn import models, training

    train = inspect.signature(training.train).parameters
    unet = inspect.signature(models.unet).parameters
    assert cli.TRAIN_DEFAULTS == {
        "epochs": train["epochs"].default,
        "learning_rate": train["learning_rate"].default,
        "batch_size": train["batch_size"].default,
        "patience": train["patience"].default,
        "augment": training.DEFAULT_AUGMENT,
        "depth": unet["depth"].default,
        "base_filters": unet["base_filters"].default,
    }
    args = cli.build_parser().parse_args(["train", "--data", "shapes", "--out", "m.keras"])
    # --epochs stays None on the command line: the default, or until --time-budget when that is given
    assert (args.epochs, args.batch_size, args.depth) == (None, train["batch_size"].default, unet["depth"].default)


def test_no_command_prints_help_and_fails(capsys):
    status, out, _ = run(capsys)
    assert status == 2 and "COMMAND" in out


# ---------------------------------------------------------------------------
# train, evaluate, predict on a folder
# ---------------------------------------------------------------------------


def test_train_writes_a_model_with_metadata(folder_model):
    from seglearn import saving

    _, model_path = folder_model
    model, info = saving.load_model(model_path)
    assert info.class_names == ("background", "foreground")
    assert info.input_size == (32, 32) and info.channels == 3
    assert model.output_shape == (None, 32, 32, 2)


def test_evaluate_json_is_machine_readable(folder_model, capsys):
    data, model_path = folder_model
    status, out, err = run(capsys, "evaluate", "--model", model_path, "--data", data, "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["class_names"] == ["background", "foreground"]
    assert result["num_images"] == 6
    cm = np.array(result["confusion_matrix"])
    assert cm.shape == (2, 2) and cm.sum() == 6 * 32 * 32
    assert 0 <= result["pixel_accuracy"] <= 1
    assert result["pixel_accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert len(result["iou"]) == len(result["dice"]) == 2


def test_evaluate_prints_a_table(folder_model, capsys):
    data, model_path = folder_model
    status, out, _ = run(capsys, "evaluate", "--model", model_path, "--data", data, "--limit", "2")
    assert status == 0
    assert "foreground" in out and "mean" in out and "pixel accuracy" in out


def test_predict_writes_masks_and_overlays(folder_model, tmp_path, capsys):
    _, model_path = folder_model
    # one image of the training size, one larger (tiled) and grey
    small = tmp_path / "small.png"
    large = tmp_path / "large.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(small)
    Image.fromarray(rng.integers(0, 256, (50, 70), dtype=np.uint8)).save(large)
    out_dir = tmp_path / "out"
    status, out, err = run(capsys, "predict", "--model", model_path, "--out", out_dir, small, large)
    assert status == 0, err
    for stem, shape in (("small", (32, 32)), ("large", (50, 70))):
        mask = np.asarray(Image.open(out_dir / f"{stem}_mask.png"))
        assert mask.shape == shape and mask.dtype == np.uint8 and mask.max() <= 1
        overlay = np.asarray(Image.open(out_dir / f"{stem}_overlay.png"))
        assert overlay.shape == (*shape, 3)
    assert out.count("_mask.png") == 2


def test_a_16_bit_image_predicts_the_same_through_the_cli_load_folder_and_predict(folder_model, tmp_path, capsys):
    # Issue 18: one image reader. A 16-bit grey image with values far above 255 used to be
    # clipped to 8 bits by the CLI (Pillow's convert("L")) while load_folder divides by 65535.
    from seglearn import datasets, inference, saving

    _, model_path = folder_model
    model, info = saving.load_model(model_path)
    rng = np.random.default_rng(1)
    pixels = (rng.random((32, 32)) ** 2 * 65535).astype(np.uint16)
    folder = tmp_path / "deep"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    Image.fromarray(pixels).save(folder / "images" / "deep.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "masks" / "deep.png")
    images, _ = datasets.load_folder(folder / "images", folder / "masks")
    np.testing.assert_allclose(images[0, ..., 0], pixels / 65535, atol=1e-6)
    expected = inference.predict(model, info.prepare(images[0]))
    # ModelInfo.prepare scales the raw uint16 pixels by the same one conversion
    np.testing.assert_allclose(info.prepare(np.repeat(pixels[..., None], 3, axis=-1)), info.prepare(images[0]), atol=1e-6)
    status, _, err = run(capsys, "predict", "--model", model_path, "--out", tmp_path / "out",
                         folder / "images" / "deep.png")
    assert status == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "deep_mask.png")), expected)


# ---------------------------------------------------------------------------
# the course data set
# ---------------------------------------------------------------------------


def test_train_and_evaluate_on_shapes(tmp_path, capsys):
    model_path = tmp_path / "shapes.keras"
    status, out, err = run(capsys, "train", "--data", "shapes", "--limit", "8", "--out", model_path, *TINY)
    assert status == 0, err
    assert "saved" in out
    status, out, err = run(capsys, "evaluate", "--model", model_path, "--data", "shapes",
                           "--split", "val", "--limit", "4", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["class_names"] == list(SHAPE_CLASSES) and result["split"] == "val"
    assert np.array(result["confusion_matrix"]).sum() == 4 * 64 * 64


# ---------------------------------------------------------------------------
# errors: exit status 2, one line, no traceback
# ---------------------------------------------------------------------------


def test_missing_model_file(tmp_path, capsys):
    status, _, err = run(capsys, "evaluate", "--model", tmp_path / "nope.keras", "--data", "shapes")
    assert_one_line_error(status, err, "seglearn evaluate: error:", "--model", "nope.keras")


def test_missing_image_file(folder_model, tmp_path, capsys):
    _, model_path = folder_model
    status, _, err = run(capsys, "predict", "--model", model_path, "--out", tmp_path, tmp_path / "no.png")
    assert_one_line_error(status, err, "IMAGE", "no.png")


def test_folder_without_masks(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    status, _, err = run(capsys, "train", "--data", tmp_path, "--out", tmp_path / "m.keras", *TINY)
    assert_one_line_error(status, err, "masks/")


def test_images_and_masks_of_different_shapes(tmp_path, capsys):
    data = write_folder(tmp_path / "data", n=3)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(data / "masks" / "im1.png")
    status, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "m.keras", *TINY)
    assert_one_line_error(status, err, "seglearn train: error:", "im1")


def test_model_with_the_wrong_number_of_classes(folder_model, capsys):
    _, model_path = folder_model  # 2 classes; the shapes data set has 5
    status, _, err = run(capsys, "evaluate", "--model", model_path, "--data", "shapes", "--limit", "2")
    assert_one_line_error(status, err, "predicts 2 classes", "5")


def test_not_a_model_file(tmp_path, capsys):
    fake = tmp_path / "fake.keras"
    fake.write_text("hello")
    status, _, err = run(capsys, "predict", "--model", fake, "--out", tmp_path, fake)
    assert_one_line_error(status, err, "zip")


def test_bad_out_suffix_and_options(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--data", "shapes", "--out", tmp_path / "m.h5", *TINY)
    assert_one_line_error(status, err, "--out", ".keras")
    status, _, err = run(capsys, "train", "--data", "shapes", "--image-size", "32",
                         "--out", tmp_path / "m.keras", *TINY)
    assert_one_line_error(status, err, "--image-size")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--data", "shapes", "--out", "m.keras", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "--epochs" in capsys.readouterr().err


def test_installed_console_script(tmp_path):
    script = Path(sys.executable).parent / "seglearn"
    assert script.is_file(), "the package is not installed with its console script"
    result = subprocess.run(
        [str(script), "evaluate", "--model", str(tmp_path / "missing.keras"), "--data", "shapes"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"seglearn evaluate: error: --model: file {str(tmp_path / 'missing.keras')!r} does not exist"
    ]
    help_run = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert help_run.returncode == 0 and "examples:" in help_run.stdout


# ---------------------------------------------------------------------------
# train: crops, time budget, progress
# ---------------------------------------------------------------------------


def test_train_crops_large_folder_images_within_a_time_budget(tmp_path, capsys):
    from seglearn import saving

    data = write_folder(tmp_path / "data", n=6, size=48)
    out = tmp_path / "cropped.keras"
    status, stdout, _ = run(capsys, "train", "--data", data, "--out", out, "--crop-size", "16", "--time-budget", "3",
                            "--depth", "1", "--base-filters", "2", "--batch-size", "2")
    assert status == 0
    assert "random 16x16 crops" in stdout and "at most 3 s" in stdout
    assert "ETA" in stdout, "the progress bar shows the time left"
    model, info = saving.load_model(out)
    assert tuple(info.input_size) == (16, 16)
    # the model still segments whole images (tiles)
    status, stdout, _ = run(capsys, "evaluate", "--model", out, "--data", data)
    assert status == 0


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--time-budget", "0"], ["--time-budget", "must be a positive number, got '0'"]),
        (["--time-budget", "-5"], ["--time-budget", "got '-5'"]),
        (["--crop-size", "64"], ["--crop-size: 64 is larger than the images (32x32)"]),
        (["--crop-size", "0"], ["--crop-size", "got '0'"]),
        (["--crop-size", "12"], ["--crop-size", "12x12", "divisible by 8"]),
    ],
)
def test_train_rejects_bad_budget_and_crop_options(tmp_path, capsys, options, fragments):
    data = write_folder(tmp_path / "data", n=4, size=32)
    try:
        status, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "m.keras", *options, "--quiet")
    except SystemExit as exit:  # argparse's own check of the option's type
        status, err = exit.code, capsys.readouterr().err
    assert status == 2
    for fragment in fragments:
        assert fragment in err, err


def test_train_rejects_a_folder_without_masks(tmp_path, capsys):
    data = write_folder(tmp_path / "data", n=2)
    for path in (data / "masks").iterdir():
        path.unlink()
    (data / "masks").rmdir()
    status, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "m.keras", "--quiet")
    assert_one_line_error(status, err, "--data", "has no masks/ sub-folder")
