"""The ``seglearn`` console script: train, evaluate and apply segmentation models.

Subcommands (``seglearn COMMAND --help`` explains each one, with examples)::

    seglearn train     --data shapes --out model.keras
    seglearn evaluate  --model model.keras --data shapes --json
    seglearn predict   --model model.keras --out predictions/ image1.png image2.png

``--data`` is either ``shapes`` (the course's synthetic data set) or a folder
``DIR`` holding ``DIR/images/NAME.png`` and ``DIR/masks/NAME.png`` (masks hold
class ids, 0 = background). The instructor's ``release``, ``grade`` and
``grade-one`` subcommands call :mod:`seglearn.grading`; all argument parsing is here.

Errors that are the user's (a missing file, images of the wrong shape, a model
trained for another number of classes) end the program with exit status 2 and
one line on stderr, without a traceback. TensorFlow is only imported by the
commands that need it, so ``seglearn --help`` is quick.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import textwrap
from pathlib import Path

from seglearn import _defaults
from seglearn.tables import format_table

__all__ = ["add_grade_one_arguments", "add_grading_subcommands", "build_parser", "main"]

_RAW = argparse.RawDescriptionHelpFormatter

_MAIN_DESCRIPTION = """\
Train, evaluate and apply the image-segmentation models of the seglearn course.

A segmentation model gives every pixel of an image a class (background,
circle, square, ...). Start with the course's synthetic "shapes" data set,
then try your own folder of images and masks."""

_MAIN_EPILOG = """\
examples:
  seglearn train --data shapes --out models/unet.keras
  seglearn evaluate --model models/unet.keras --data shapes
  seglearn predict --model models/unet.keras --out predictions/ photo1.png photo2.png

Run 'seglearn COMMAND --help' for the options of one command."""

_DATA_HELP = (
    "'shapes' for the course's data set, or a folder DIR with DIR/images/*.png and "
    "DIR/masks/*.png (same file names; masks hold class ids, 0 = background)"
)

_TRAIN_EPILOG = """\
examples:
  # the course's U-Net on the shapes data set (about two minutes on 2 CPU cores)
  seglearn train --data shapes --out models/unet.keras

  # a quick try: 64 images, 1 epoch, a tiny network
  seglearn train --data shapes --limit 64 --epochs 1 --depth 2 --base-filters 4 --out tiny.keras

  # your own folder, images resized to 128x128, 20% kept for validation
  seglearn train --data my_data/ --image-size 128 --augment full --out models/mine.keras

  # large images: train on random 128x128 crops for at most 4 minutes
  seglearn train --data nuclei/ --crop-size 128 --time-budget 240 --out models/nuclei.keras

Training shows a progress bar with the time left (ETA). With --time-budget the
learning-rate schedule runs over the budget and training stops when it is spent.
Folder images larger than 128x128 train on random 128x128 crops by default
(--crop-size); validation and 'predict' segment whole images tile by tile.

The model is saved as one .keras file that also records the class names, the
input size and the normalisation, so that 'evaluate' and 'predict' need nothing else."""

_EVALUATE_EPILOG = """\
examples:
  seglearn evaluate --model models/unet.keras --data shapes
  seglearn evaluate --model models/unet.keras --data shapes --split val --json > scores.json
  seglearn evaluate --model models/mine.keras --data my_test_data/ --image-size 128

The scores: IoU = TP / (TP + FP + FN) and Dice = 2 TP / (2 TP + FP + FN) per
class, their means over the classes that occur, and the pixel accuracy, all from
one confusion matrix over every pixel (rows true class, columns predicted).
With --json the same figures are printed as one JSON object (NaN -> null)."""

_PREDICT_EPILOG = """\
examples:
  seglearn predict --model models/unet.keras --out predictions/ a.png b.png
  seglearn predict --model models/mine.keras --out predictions/ big_scan.png --overlap 32

For each IMAGE it writes OUT/NAME_mask.png (one grey value per pixel: the class
id, 0 = background) and OUT/NAME_overlay.png (the image with the classes painted
over it). Images larger than the model's input are segmented tile by tile with
overlapping tiles, so there are no seams."""


#: Defaults of ``seglearn train``: the recipe of :func:`seglearn.training.train`
#: (``DEFAULT_*``) and the architecture of :func:`seglearn.models.unet`, written
#: out here so that ``--help`` does not need TensorFlow (a test keeps them equal).
TRAIN_DEFAULTS = {
    "epochs": _defaults.DEFAULT_EPOCHS,
    "learning_rate": _defaults.DEFAULT_LEARNING_RATE,
    "batch_size": _defaults.DEFAULT_BATCH_SIZE,
    "augment": _defaults.DEFAULT_AUGMENT,
    "patience": _defaults.DEFAULT_PATIENCE,
    "depth": _defaults.DEFAULT_UNET_DEPTH,
    "base_filters": _defaults.DEFAULT_UNET_BASE_FILTERS,
}

#: Folder images larger than this train on random crops of this size by default.
DEFAULT_CROP_SIZE = _defaults.DEFAULT_CROP_SIZE


class UsageError(Exception):
    """A mistake of the user's, reported in one line with exit status 2."""


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def _existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise UsageError(f"--data: folder {text!r} does not exist (use 'shapes' or a folder with images/ and masks/)")
    for sub in ("images", "masks"):
        if not (path / sub).is_dir():
            raise UsageError(f"--data: folder {text!r} has no {sub}/ sub-folder (expected {text}/images and {text}/masks)")
    return path


def _existing_file(text: str, option: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"{option}: file {text!r} does not exist")
    return path


def _limit(images, masks, limit):
    if limit is not None:
        images, masks = images[:limit], masks[:limit]
    return images, masks


def _load_data(args, split: str):
    """(images, masks, class_names) of ``--data`` for ``split``."""
    from seglearn import datasets

    if args.data == "shapes":
        images, masks = datasets.load_shapes(split)
        if args.image_size is not None:
            raise UsageError("--image-size applies to folder data only; the shapes images are 64x64")
        return (*_limit(images, masks, args.limit), list(datasets.SHAPE_CLASSES))
    folder = _existing_dir(args.data)
    size = None if args.image_size is None else (args.image_size, args.image_size)
    images, masks = datasets.load_folder(folder / "images", folder / "masks", image_size=size)
    images, masks = _limit(images, masks, args.limit)
    num_classes = max(2, int(masks.max()) + 1)
    return images, masks, _folder_class_names(num_classes)


def _folder_class_names(num_classes: int) -> list[str]:
    if num_classes == 2:
        return ["background", "foreground"]
    return ["background", *(f"class_{i}" for i in range(1, num_classes))]


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------


def _train_val(args):
    from seglearn import datasets

    if args.data == "shapes":
        train_images, train_masks, class_names = _load_data(args, "train")
        val_images, val_masks, _ = _load_data(args, "val")
        return (train_images, train_masks), (val_images, val_masks), class_names
    images, masks, class_names = _load_data(args, "train")
    if len(images) < 2:
        raise UsageError(f"--data: need at least 2 image/mask pairs to hold some out for validation, found {len(images)}")
    n_val = max(1, round(args.val_fraction * len(images)))
    (train_images, train_masks), (val_images, val_masks) = datasets.split_arrays(
        images, masks, fractions=(1 - n_val / len(images), n_val / len(images)), seed=args.seed
    )
    return (train_images, train_masks), (val_images, val_masks), class_names


def _build_model(args, input_shape, num_classes):
    from seglearn import models

    if args.model == "reference":
        return models.reference_unet(input_shape, num_classes)
    builder = models.unet if args.model == "unet" else models.fcn
    return builder(
        input_shape,
        num_classes,
        depth=args.depth,
        base_filters=args.base_filters,
        batch_norm=not args.no_batch_norm,
        dropout=args.dropout,
        upsampling=args.upsampling,
    )


def _crop_size(args, images) -> int | None:
    """The crop side for ``--data`` images: --crop-size, else a default for large folder images."""
    height, width = images.shape[1:3]
    if args.crop_size is not None:
        if args.crop_size > min(height, width):
            raise UsageError(
                f"--crop-size: {args.crop_size} is larger than the images ({height}x{width}); "
                f"choose at most {min(height, width)}"
            )
        return None if (args.crop_size, args.crop_size) == (height, width) else args.crop_size
    if args.data != "shapes" and min(height, width) > DEFAULT_CROP_SIZE:
        return DEFAULT_CROP_SIZE
    return None


def _cmd_train(args) -> int:
    out = Path(args.out)
    if out.suffix != ".keras":
        raise UsageError(f"--out: the model file must end with .keras, got {args.out!r}")
    if args.data != "shapes":
        _existing_dir(args.data)
    if not 0 < args.val_fraction < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")

    from seglearn import saving, training

    (x_train, y_train), (x_val, y_val), class_names = _train_val(args)
    crop = _crop_size(args, x_train)
    size = (crop, crop) if crop is not None else x_train.shape[1:3]
    divisor = 16 if args.model == "reference" else 2**args.depth
    if size[0] % divisor or size[1] % divisor:
        option = "--crop-size" if crop is not None else "--image-size"
        raise UsageError(
            f"--data: the training images are {size[0]}x{size[1]}, but the {args.model} model needs "
            f"sizes divisible by {divisor}; pass {option} (for example {divisor * max(1, size[0] // divisor)})"
        )
    epochs = args.epochs if args.epochs is not None else (None if args.time_budget else TRAIN_DEFAULTS["epochs"])
    seconds = f"at most {args.time_budget:g} s" if args.time_budget else f"{epochs} epochs"
    if not args.quiet:
        cropped = f", random {crop}x{crop} crops" if crop is not None else ""
        print(
            f"training {args.model} on {len(x_train)} images of {x_train.shape[1]}x{x_train.shape[2]}{cropped}, "
            f"validating on {len(x_val)}; {seconds}; classes: {', '.join(class_names)}",
            flush=True,
        )
    run = training.train(
        lambda: _build_model(args, (*size, x_train.shape[3]), len(class_names)),
        (x_train, y_train),
        (x_val, y_val),
        epochs=epochs,
        time_budget=args.time_budget,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        patience=args.patience,
        augment={"none": False, "flips": "flips", "full": True}[args.augment],
        crop_size=crop,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    saving.save_model(run.model, out, class_names=class_names)
    scores = run.val
    print(
        f"trained {run.epochs} epochs ({run.images:,} images) in {run.seconds:.0f} s; best epoch {run.best_epoch}; "
        f"validation mean IoU {scores['mean_iou']:.3f}, mean Dice {scores['mean_dice']:.3f}, "
        f"pixel accuracy {scores['pixel_accuracy']:.3f}; saved {out}"
    )
    return 0


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------


def _json_number(value):
    value = float(value)
    return None if math.isnan(value) else value


def _cmd_evaluate(args) -> int:
    model_path = _existing_file(args.model, "--model")
    if args.data != "shapes":
        _existing_dir(args.data)

    from seglearn import inference, saving

    model, info = saving.load_model(model_path)
    images, masks, data_classes = _load_data(args, args.split)
    if args.data == "shapes" and info.num_classes != len(data_classes):
        raise UsageError(
            f"--model: {args.model} predicts {info.num_classes} classes ({', '.join(info.class_names)}) "
            f"but the shapes data set has {len(data_classes)} ({', '.join(data_classes)})"
        )
    if int(masks.max()) >= info.num_classes:
        raise UsageError(
            f"--model: {args.model} predicts {info.num_classes} classes ({', '.join(info.class_names)}) "
            f"but the masks of {args.data} hold class id {int(masks.max())}"
        )
    scores = inference.evaluate(
        model, info.prepare(images), masks, batch_size=args.batch_size, tile_size=args.tile_size
    )
    if args.json:
        result = {
            "model": str(model_path),
            "data": args.data,
            "split": args.split if args.data == "shapes" else None,
            "num_images": int(len(images)),
            "class_names": list(info.class_names),
            "mean_iou": _json_number(scores["mean_iou"]),
            "mean_dice": _json_number(scores["mean_dice"]),
            "pixel_accuracy": _json_number(scores["pixel_accuracy"]),
            "iou": [_json_number(v) for v in scores["iou"]],
            "dice": [_json_number(v) for v in scores["dice"]],
            "confusion_matrix": scores["confusion_matrix"].astype(int).tolist(),
        }
        print(json.dumps(result, indent=2))
        return 0
    where = f"{args.data} ({args.split})" if args.data == "shapes" else args.data
    print(f"{model_path} on {len(images)} images of {where}")
    rows = [*zip(info.class_names, scores["iou"], scores["dice"]), ("mean", scores["mean_iou"], scores["mean_dice"])]
    print(textwrap.indent(format_table(rows, ["class", "IoU", "Dice"], align="<>>"), "  "))
    print(f"pixel accuracy {scores['pixel_accuracy']:.3f}")
    return 0


# ---------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------


def _read_image(path: Path, channels: int):
    """float32 (H, W, channels) in [0, 1], read as load_folder reads it (16-bit / 65535)."""
    import numpy as np

    from seglearn._imageio import read_image

    try:
        image = read_image(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if channels == 3:
        return image
    if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]):
        return image[..., :1]
    # an RGB image for a grey model: luminance with ITU-R 601 weights, as Pillow's convert("L")
    return (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


def _cmd_predict(args) -> int:
    model_path = _existing_file(args.model, "--model")
    image_paths = [_existing_file(name, "IMAGE") for name in args.images]
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out: {args.out!r} exists and is not a folder")

    import numpy as np
    from PIL import Image

    from seglearn import inference, saving, viz

    model, info = saving.load_model(model_path)
    if info.channels not in (1, 3):
        raise UsageError(f"--model: {args.model} takes {info.channels} channels; predict reads grey or RGB images only")
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in image_paths:
        image = _read_image(path, info.channels)
        labels = inference.predict(
            model,
            info.prepare(image),
            tile_size=args.tile_size,
            overlap=args.overlap,
            batch_size=args.batch_size,
        )
        mask_path = out_dir / f"{path.stem}_mask.png"
        overlay_path = out_dir / f"{path.stem}_overlay.png"
        Image.fromarray(labels).save(mask_path)
        shown = image[..., 0] if info.channels == 1 else image
        overlay = viz.overlay(shown, labels, num_classes=info.num_classes)
        Image.fromarray(np.round(np.clip(overlay, 0, 1) * 255).astype(np.uint8)).save(overlay_path)
        counts = np.bincount(labels.ravel(), minlength=info.num_classes) / labels.size
        found = ", ".join(
            f"{name} {fraction:.0%}" for name, fraction in zip(info.class_names, counts) if fraction > 0
        )
        print(f"{path}: {labels.shape[0]}x{labels.shape[1]} -> {mask_path.name}, {overlay_path.name} ({found})")
    return 0


# ---------------------------------------------------------------------------
# parser and entry point
# ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _add_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a segmentation model and save it",
        description=textwrap.dedent("""\
            Train a segmentation network (by default the course's U-Net) on --data and save
            it to --out. The weights of the epoch with the best validation loss are kept;
            with --patience training stops early when it has not improved for that many epochs."""),
        epilog=_TRAIN_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument("--data", required=True, metavar="shapes|DIR", help=_DATA_HELP)
    p.add_argument("--out", required=True, metavar="MODEL.keras", help="where to save the trained model")
    p.add_argument("--model", choices=("unet", "fcn", "reference"), default="unet",
                   help="architecture: the course's U-Net (default), a fully convolutional network "
                        "without skip connections, or the Keras example's U-Net")
    d = TRAIN_DEFAULTS
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help=f"passes over the data (default {d['epochs']}, or until --time-budget when that is given)")
    p.add_argument("--time-budget", type=_positive_float, metavar="SECONDS",
                   help="stop training after SECONDS of wall time; the learning-rate schedule runs over them")
    p.add_argument("--crop-size", type=_positive_int, metavar="N",
                   help=f"train on random N x N crops (default: {DEFAULT_CROP_SIZE} for folder images larger "
                        f"than {DEFAULT_CROP_SIZE}x{DEFAULT_CROP_SIZE}, else whole images)")
    p.add_argument("--batch-size", type=_positive_int, default=d["batch_size"],
                   help=f"images per step (default {d['batch_size']})")
    p.add_argument("--learning-rate", type=_positive_float, default=d["learning_rate"],
                   help=f"Adam's initial step size, lowered to 0 along a cosine (default {d['learning_rate']:g})")
    p.add_argument("--patience", type=_positive_int, default=d["patience"],
                   help="stop after this many epochs without a better validation loss (default: never); "
                        "the best epoch's weights are kept in any case")
    p.add_argument("--depth", type=_positive_int, default=d["depth"],
                   help=f"poolings of the U-Net/FCN; image sizes must be divisible by 2**depth (default {d['depth']})")
    p.add_argument("--base-filters", type=_positive_int, default=d["base_filters"],
                   help=f"filters of the first level, doubled at each level down (default {d['base_filters']})")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout rate after each block (default 0)")
    p.add_argument("--upsampling", choices=("transpose", "resize"), default="transpose",
                   help="decoder upsampling: learned transposed convolution or bilinear resize")
    p.add_argument("--no-batch-norm", action="store_true", help="leave out batch normalisation")
    p.add_argument("--augment", choices=("none", "flips", "full"), default=d["augment"],
                   help="flips: each image turned by a random one of the 8 symmetries of the square, in the "
                        "training step (default); full: also zoom, brightness and contrast (slower); none")
    p.add_argument("--image-size", type=_positive_int, metavar="N",
                   help="folder data only: resize images and masks to N x N")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="folder data only: fraction of the images held out for validation (default 0.2)")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="use only the first N images of each split")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a saved model on a data set (IoU, Dice, accuracy)",
        description=textwrap.dedent("""\
            Segment the images of --data with a model saved by 'seglearn train' and compare
            the result with the true masks: IoU and Dice per class and on average, pixel
            accuracy and the confusion matrix."""),
        epilog=_EVALUATE_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument("--model", required=True, metavar="MODEL.keras", help="a model saved by 'seglearn train'")
    p.add_argument("--data", required=True, metavar="shapes|DIR", help=_DATA_HELP)
    p.add_argument("--split", choices=("train", "val", "test"), default="test",
                   help="shapes data only: which split to score (default test)")
    p.add_argument("--image-size", type=_positive_int, metavar="N",
                   help="folder data only: resize images and masks to N x N first (use the size you trained with)")
    p.add_argument("--tile-size", type=_positive_int, metavar="N",
                   help="segment in tiles of N x N (default: the model's input size when the images differ)")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="images per forward pass (default 16)")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="score only the first N images")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.set_defaults(func=_cmd_evaluate)


def _add_predict(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="segment image files, writing mask and overlay PNGs",
        description=textwrap.dedent("""\
            Segment each IMAGE with a model saved by 'seglearn train' and write a class-id
            mask and a coloured overlay per image to --out."""),
        epilog=_PREDICT_EPILOG,
        formatter_class=_RAW,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, TIFF, ...)")
    p.add_argument("--model", required=True, metavar="MODEL.keras", help="a model saved by 'seglearn train'")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the masks and overlays")
    p.add_argument("--tile-size", type=_positive_int, metavar="N",
                   help="segment in tiles of N x N (default: the model's input size)")
    p.add_argument("--overlap", type=int, metavar="PIXELS",
                   help="overlap of neighbouring tiles, even (default: a quarter of the tile)")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="tiles per forward pass (default 16)")
    p.set_defaults(func=_cmd_predict)


# ---------------------------------------------------------------------------
# the instructor's subcommands: release, grade, grade-one (seglearn.grading is
# imported inside the functions: it loads nbformat, and `seglearn --help` stays quick)
# ---------------------------------------------------------------------------

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

def _grade_one_epilog() -> str:
    from seglearn.grading.gradescope import DEFAULT_RESULTS, DEFAULT_SOURCE, DEFAULT_SUBMISSION

    return f"""\
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
    from seglearn.grading import release

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
    from seglearn.grading import GradingEnvironmentError, grade

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
    from seglearn.grading import GradingEnvironmentError
    from seglearn.grading.gradescope import grade_submission

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
    from seglearn.grading.grader import DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT
    from seglearn.grading.report import GRADESCOPE_VISIBILITIES

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
    from seglearn.grading.gradescope import DEFAULT_RESULTS, DEFAULT_SOURCE, DEFAULT_SUBMISSION

    parser.formatter_class = _RAW
    parser.epilog = _grade_one_epilog()
    parser.add_argument("--submission", default=DEFAULT_SUBMISSION, metavar="DIR",
                        help=f"the student's files (default {DEFAULT_SUBMISSION})")
    parser.add_argument("--source", default=DEFAULT_SOURCE, metavar="DIR",
                        help=f"the instructor's notebooks, with the hidden checks (default {DEFAULT_SOURCE})")
    parser.add_argument("--results", default=DEFAULT_RESULTS, metavar="FILE",
                        help=f"Gradescope's results file to write (default {DEFAULT_RESULTS})")
    parser.add_argument("--report", metavar="DIR", help="also keep the whole report (feedback, logs) here")
    _add_limits(parser)
    parser.set_defaults(func=_cmd_grade_one)


def add_grading_subcommands(subparsers) -> None:
    """Register the instructor's ``release``, ``grade`` and ``grade-one`` subcommands of ``seglearn``.

    Each sub-parser sets ``func``: the CLI calls ``args.func(args)``, which
    returns the exit status (0 on success, 2 for a usage error, 3 when
    ``grade`` finds the grader's own machinery broken: see
    :class:`seglearn.grading.GradingEnvironmentError`).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="seglearn")
    >>> add_grading_subcommands(parser.add_subparsers(dest="command"))
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


def build_parser() -> argparse.ArgumentParser:
    """The ``seglearn`` argument parser with all subcommands.

    ``train``, ``evaluate`` and ``predict`` are defined here;
    :func:`add_grading_subcommands` adds ``release``, ``grade`` and ``grade-one``. Every subcommand sets ``func``,
    which takes the parsed arguments and returns the exit status.

    Examples
    --------
    >>> parser = build_parser()
    >>> args = parser.parse_args(["evaluate", "--model", "m.keras", "--data", "shapes", "--json"])
    >>> args.func.__name__, args.split, args.json
    ('_cmd_evaluate', 'test', True)
    """
    parser = argparse.ArgumentParser(
        prog="seglearn", description=_MAIN_DESCRIPTION, epilog=_MAIN_EPILOG, formatter_class=_RAW
    )
    from seglearn import __version__

    parser.add_argument("--version", action="version", version=f"seglearn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_predict(subparsers)
    add_grading_subcommands(subparsers)
    return parser


def main(argv=None) -> int:
    """Run the ``seglearn`` command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a usage error (also raised as ``SystemExit(2)`` by
        argparse for unknown options).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (UsageError, FileNotFoundError, ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception held
        print(f"seglearn {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
