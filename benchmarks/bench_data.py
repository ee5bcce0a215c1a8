"""Figures for the course data: generation and loading speed, class balance, baselines.

Run: ``python benchmarks/bench_data.py`` (add ``--quick`` to skip the tf.data part).

Prints:
- time (wall and process CPU) to generate the default splits with make_shapes,
  and to load them with load_shapes (file size, checksum included);
- the class frequencies of each split;
- two baselines that show why the data needs a network: the best global
  grey-level threshold (foreground IoU) and the best per-pixel colour rule
  (majority class of each RGB bin, per-class IoU on the test split);
- load_folder on the shared nuclei images (skipped when absent);
- throughput of seglearn.pipeline.make_dataset with and without augmentation.

Timings on a machine shared with other jobs are inflated; the CPU times are
the more stable figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from seglearn import datasets, metrics  # noqa: E402
from seglearn.datasets import SHAPE_CLASSES, SHAPES_SPLITS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NUCLEI = Path(os.environ.get("SEGLEARN_NUCLEI_DIR", ROOT.parent / "shared" / "data" / "dsb2018-nuclei"))


def timed(fn, repeat=3):
    """Best wall time and its CPU time over ``repeat`` runs, and the last result."""
    best = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best[0], best[1], result


def best_threshold_iou(images, masks):
    """Best foreground IoU of ``grey > t`` or ``grey < t`` over 256 thresholds."""
    grey = images.mean(axis=-1)
    truth = (masks > 0).astype(np.int64)
    best = (0.0, None)
    for t in np.linspace(0, 1, 256):
        for sign, pred in ((">", grey > t), ("<", grey < t)):
            iou = metrics.iou_per_class(truth, pred.astype(np.int64), 2)[1]
            if iou > best[0]:
                best = (iou, f"grey {sign} {t:.3f}")
    return best


def colour_rule_iou(train, test, bins=16):
    """Per-class IoU on ``test`` of the majority class of each RGB bin of ``train``."""
    k = len(SHAPE_CLASSES)

    def codes(images):
        q = np.minimum((images * bins).astype(np.int64), bins - 1)
        return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]

    counts = np.zeros((bins**3, k))
    np.add.at(counts, (codes(train[0]).ravel(), train[1].ravel().astype(np.int64)), 1)
    rule = counts.argmax(axis=1)
    pred = rule[codes(test[0])]
    iou = metrics.iou_per_class(test[1], pred, k)
    # the same rule, judged on foreground/background only
    fg = metrics.iou_per_class((test[1] > 0).astype(np.int64), (pred > 0).astype(np.int64), 2)[1]
    return iou, fg


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the tf.data throughput")
    args = parser.parse_args(argv)

    total = sum(count for count, _ in SHAPES_SPLITS.values())
    print(f"== make_shapes: the default splits ({total} images of 64x64)")
    wall, cpu, arrays = timed(datasets._generate_splits)
    print(f"generate: {wall:.2f} s wall, {cpu:.2f} s CPU ({1000 * wall / total:.2f} ms per image)")

    path = ROOT / "data" / datasets.SHAPES_FILE
    print(f"\n== load_shapes ({path.relative_to(ROOT)}, {path.stat().st_size / 1e6:.2f} MB)")
    for split in SHAPES_SPLITS:
        wall, cpu, _ = timed(lambda: datasets.load_shapes(split))
        print(f"load_shapes({split!r}): {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU (whole file read and checked)")

    print("\n== class frequencies (share of all pixels / of foreground pixels / of images containing it)")
    for split in SHAPES_SPLITS:
        masks = arrays[f"{split}_masks"]
        fg = np.count_nonzero(masks)
        cells = []
        for c, name in enumerate(SHAPE_CLASSES):
            pix = np.count_nonzero(masks == c)
            share_fg = "" if c == 0 else f" / {pix / fg:.1%}"
            cells.append(f"{name} {pix / masks.size:.1%}{share_fg} / {np.mean(np.any(masks == c, axis=(1, 2))):.0%}")
        print(f"{split:5s}: " + "; ".join(cells))

    print("\n== baselines without a network (test split)")
    train = datasets.load_shapes("train")
    test = datasets.load_shapes("test")
    iou, rule = best_threshold_iou(*test)
    print(f"best global threshold: foreground IoU {iou:.3f} ({rule})")
    per_class, fg = colour_rule_iou(train, test)
    names = ", ".join(f"{n} {v:.3f}" for n, v in zip(SHAPE_CLASSES, per_class))
    print(f"per-pixel colour rule (16^3 RGB bins fitted on train): IoU {names}; mean {np.nanmean(per_class):.3f}; "
          f"as foreground detector: IoU {fg:.3f}")

    print("\n== load_folder on the shared nuclei images")
    if (NUCLEI / "images").is_dir():
        wall, cpu, (images, masks) = timed(lambda: datasets.load_folder(NUCLEI / "images", NUCLEI / "masks"), repeat=2)
        print(f"{len(images)} images of {images.shape[1]}x{images.shape[2]}: {wall:.2f} s wall, {cpu:.2f} s CPU")
        wall, cpu, _ = timed(lambda: datasets.load_folder(NUCLEI / "images", NUCLEI / "masks", image_size=128), repeat=2)
        print(f"same, resized to 128x128: {wall:.2f} s wall, {cpu:.2f} s CPU")
    else:
        print(f"skipped: {NUCLEI} not found")

    if args.quick:
        return 0
    from seglearn import pipeline

    print("\n== pipeline.make_dataset throughput (train split, batch 32, one epoch after a warm-up epoch)")
    for augment in (False, True):
        ds = pipeline.make_dataset(*train, batch_size=32, augment=augment, shuffle=True, seed=0)
        for _ in ds:  # warm-up: traces the map functions
            pass
        wall, cpu, count = timed(lambda: sum(int(x.shape[0]) for x, _ in ds), repeat=3)
        print(f"augment={augment}: {count / wall:,.0f} images/s wall ({wall * 1000:.0f} ms per epoch, {cpu * 1000:.0f} ms CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
