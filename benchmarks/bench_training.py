"""Training benchmarks: seglearn's engine side by side with plain Keras, the default recipe, nuclei.

Run from the repository root (nothing else running, for honest times)::

    .venv/bin/python benchmarks/bench_training.py                  # everything (~20 min)
    .venv/bin/python benchmarks/bench_training.py --only startup,throughput
    .venv/bin/python benchmarks/bench_training.py --quick          # smoke run of every section

Sections (each prints its figures next to its target):

``startup``
    Seconds before training runs at full speed, for a *new* model: end of
    epoch 1 minus one steady epoch, for plain Keras (``model.compile`` +
    ``model.fit``, batch 8) and for :func:`seglearn.training.train`, once for
    an architecture new to the process and once for a second model of the
    same architecture; alternated, ``--repeats`` times each. Target: the
    engine's <= 0.4 x Keras'.
``throughput``
    Steady training images/s of the default U-Net on the shapes training
    split: plain Keras ``fit`` at batch 8 (the baseline), the engine at batch
    8 and at the recipe's batch size; GFLOP/s (analytic count of
    :func:`seglearn.models.count_flops`, training = 3 forward passes) against
    the float32 matrix-multiplication peak measured in the same run, and the
    cores busy (process CPU time / wall time). Target: >= 2 x Keras at batch 8.
``recipe``
    ``train(unet(), shapes train, shapes val, augment=DEFAULT_AUGMENT)``, the
    recipe of ``seglearn train --data shapes``, for seeds
    0, 1 and 2: the validation mean IoU curve against wall time, then the
    test mean IoU once at the end; mean and worst over the seeds. Target:
    test mean IoU >= 0.85 within 150 s wall (start-up included) on every seed.
``nuclei``
    ``seglearn train --data ../shared/data/dsb2018-nuclei`` with its defaults
    (100 training images, 20 held out; random crops), then ``seglearn
    evaluate`` on the 20 held-out images; nucleus Dice and the wall time.
    Target: Dice >= 0.88 within 260 s. Skipped when the images are absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seglearn import _engine, cli, datasets, inference, models, saving, training  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NUCLEI_DIR = Path(os.environ.get("SEGLEARN_NUCLEI_DIR", ROOT.parent / "shared" / "data" / "dsb2018-nuclei"))
SECTIONS = ("startup", "throughput", "recipe", "nuclei")
KERAS_BATCH = 8


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


class EpochClock(keras.callbacks.Callback):
    """Wall and process CPU seconds at the end of every epoch, from its creation."""

    def __init__(self):
        super().__init__()
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.ends = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append((time.perf_counter() - self.wall0, time.process_time() - self.cpu0))

    def startup(self) -> float:
        """End of epoch 1 minus the median steady epoch."""
        return self.ends[0][0] - self.steady_epoch()

    def steady_epoch(self) -> float:
        return float(np.median(np.diff([wall for wall, _ in self.ends])[1:]))

    def cores(self) -> float:
        (w1, c1), (w2, c2) = self.ends[1], self.ends[-1]
        return (c2 - c1) / (w2 - w1)


def keras_fit(x, y, *, batch_size, epochs, seed=0):
    """Plain Keras: build, compile (Adam, logits cross-entropy, the two course metrics), fit."""
    keras.utils.set_random_seed(seed)
    clock = EpochClock()
    model = models.unet()
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(), keras.metrics.MeanIoU(models.NUM_SHAPE_CLASSES, sparse_y_pred=False)],
    )
    model.fit(x, y.astype(np.int32), batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[clock])
    return clock


def engine_fit(x, y, *, batch_size, epochs, seed=0, **options):
    """seglearn.training.train: build (in the timed part, unlike keras_fit) and train."""
    clock = EpochClock()
    training.train(models.unet, (x, y), epochs=epochs, batch_size=batch_size, seed=seed, verbose=0,
                   callbacks=[clock], **options)
    return clock


def forget_engines():
    """Make the next model's architecture new to the process again."""
    _engine._ENGINES.clear()


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------


def bench_startup(args) -> None:
    print(f"\n== startup: end of epoch 1 minus one steady epoch, default U-Net, batch {KERAS_BATCH}; {load_text()}")
    x, y = datasets.load_shapes("train")
    epochs = 3 if args.quick else 4
    rows = {"keras": [], "new": [], "same": []}
    for repeat in range(args.repeats):
        rows["keras"].append(keras_fit(x, y, batch_size=KERAS_BATCH, epochs=epochs, seed=repeat).startup())
        forget_engines()
        rows["new"].append(engine_fit(x, y, batch_size=KERAS_BATCH, epochs=epochs, seed=repeat).startup())
        rows["same"].append(engine_fit(x, y, batch_size=KERAS_BATCH, epochs=epochs, seed=repeat + 100).startup())
        print(f"  repeat {repeat + 1}: Keras {rows['keras'][-1]:.2f} s, engine (new architecture) "
              f"{rows['new'][-1]:.2f} s, engine (same architecture) {rows['same'][-1]:.2f} s", flush=True)
    keras_s = float(np.median(rows["keras"]))
    for name, label in (("new", "a new architecture"), ("same", "a second model of the same architecture")):
        ours = float(np.median(rows[name]))
        print(f"  engine, {label}: {ours:.2f} s = {ours / keras_s:.2f} x Keras' {keras_s:.2f} s "
              f"(medians of {args.repeats}); target <= 0.4 x: {verdict(ours <= 0.4 * keras_s)}")
    print(f"  {load_text()}")


def matmul_peak(n=2048, repeats=5):
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    flops = 2 * n**3 * repeats
    a @ a
    best_np = min(_timed(lambda: [a @ a for _ in range(repeats)]) for _ in range(3))
    t = tf.constant(a)
    tf.matmul(t, t).numpy()
    best_tf = min(_timed(lambda: [tf.matmul(t, t).numpy() for _ in range(repeats)]) for _ in range(3))
    return flops / best_np / 1e9, flops / best_tf / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_throughput(args) -> None:
    print("\n== throughput: steady training images/s of the default U-Net on the 300 shapes images")
    peak_np, peak_tf = matmul_peak()
    print(f"  float32 2048x2048 matmul peak: NumPy {peak_np:.0f} GFLOP/s, TensorFlow {peak_tf:.0f} GFLOP/s; {load_text()}")
    x, y = datasets.load_shapes("train")
    flops = models.count_flops(models.unet())
    epochs = 3 if args.quick else 6
    recipe_batch = training.DEFAULT_BATCH_SIZE
    runs = [("plain Keras fit", KERAS_BATCH, keras_fit), ("engine", KERAS_BATCH, engine_fit)]
    if recipe_batch != KERAS_BATCH:
        runs.append(("engine", recipe_batch, engine_fit))
    rates = {}
    for label, batch, fit in runs:
        clock = fit(x, y, batch_size=batch, epochs=epochs)
        images = len(x) if fit is keras_fit else len(x) // batch * batch
        rate = images / clock.steady_epoch()
        achieved = 3 * flops * rate / 1e9
        rates[label, batch] = rate
        print(f"  {label:16s} batch {batch:3d}: {rate:5.0f} images/s, {achieved:5.1f} GFLOP/s = "
              f"{achieved / peak_np:4.0%} of the NumPy peak, {clock.cores():.2f} cores busy", flush=True)
    base = rates["plain Keras fit", KERAS_BATCH]
    for (label, batch), rate in rates.items():
        if label == "engine":
            print(f"  engine at batch {batch}: {rate / base:.2f} x plain Keras at batch {KERAS_BATCH}; "
                  f"target >= 2 x: {verdict(rate >= 2 * base)}")
    print(f"  {load_text()}")


def bench_recipe(args) -> None:
    seeds = (0,) if args.quick else (0, 1, 2)
    options = dict(augment=training.DEFAULT_AUGMENT, **(dict(epochs=2) if args.quick else {}))
    print(f"\n== recipe: train(unet, shapes) with the defaults of `seglearn train` (epochs {training.DEFAULT_EPOCHS}, "
          f"batch {training.DEFAULT_BATCH_SIZE}, learning rate {training.DEFAULT_LEARNING_RATE:g}, cosine, Adam, "
          f"augment={training.DEFAULT_AUGMENT!r}), "
          f"seeds {', '.join(map(str, seeds))}; {load_text()}")
    train, val, test = (datasets.load_shapes(split) for split in ("train", "val", "test"))
    finals, walls = [], []
    for seed in seeds:
        forget_engines()  # every seed pays the tracing, as a new user's first run does
        start = time.perf_counter()
        run = training.train(models.unet, train, val, seed=seed, verbose=0, **options)
        wall = time.perf_counter() - start
        history = run.history
        curve = ", ".join(f"{s:.0f} s {v:.2f}" for s, v in list(zip(history["seconds"], history["val_mean_iou"]))[4::5])
        print(f"  seed {seed}: validation mean IoU every 5 epochs (wall, IoU): {curve}")
        reached = next((s for s, v in zip(history["seconds"], history["val_mean_iou"]) if v >= 0.85), None)
        scores = inference.evaluate(run.model, *test)
        finals.append(scores["mean_iou"])
        walls.append(wall)
        print(f"  seed {seed}: {run.epochs} epochs in {wall:.1f} s wall (first step {run.first_step_seconds:.1f} s); "
              f"validation 0.85 first reached at {'%.0f s' % reached if reached else 'never'}; best epoch "
              f"{run.best_epoch}; test mean IoU {scores['mean_iou']:.3f} (per class "
              f"{np.round(scores['iou'], 2).tolist()})", flush=True)
    mean, worst, spread = float(np.mean(finals)), float(np.min(finals)), float(np.std(finals))
    print(f"  test mean IoU over {len(seeds)} seeds: mean {mean:.3f}, worst {worst:.3f}, std {spread:.3f}; "
          f"wall mean {np.mean(walls):.0f} s, worst {np.max(walls):.0f} s")
    print(f"  target test mean IoU >= 0.85 within 150 s on every seed: {verdict(worst >= 0.85 and max(walls) <= 150)}")
    print(f"  {load_text()}")


def bench_nuclei(args) -> None:
    print("\n== nuclei: seglearn train --data dsb2018-nuclei with its defaults, 100 train / 20 held out")
    if not (NUCLEI_DIR / "images").is_dir():
        print(f"  skipped: {NUCLEI_DIR} not found (set SEGLEARN_NUCLEI_DIR)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "nuclei.keras"
        argv = ["train", "--data", str(NUCLEI_DIR), "--out", str(out), "--val-fraction", str(20 / 120), "--quiet"]
        if args.quick:
            argv += ["--epochs", "1"]
        print(f"  seglearn {' '.join(argv)}; {load_text()}", flush=True)
        start = time.perf_counter()
        cli.main(argv)
        wall = time.perf_counter() - start
        model, info = saving.load_model(out)
        images, masks = datasets.load_folder(NUCLEI_DIR / "images", NUCLEI_DIR / "masks")
        _, (x_val, y_val) = datasets.split_arrays(images, masks, fractions=(100 / 120, 20 / 120), seed=0)
        scores = inference.evaluate(model, x_val, y_val)
    dice, iou = scores["dice"][1], scores["iou"][1]
    print(f"  held-out nucleus Dice {dice:.4f}, IoU {iou:.4f}; {wall:.0f} s wall for the whole command "
          f"(loading, training, saving); {load_text()}")
    print(f"  target Dice >= 0.88 within 260 s: {verdict(dice >= 0.88 and wall <= 260)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of every section")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=3, help="start-up measurements per contender (default 3)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1. Received: {args.repeats}")
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose among {', '.join(SECTIONS)}")
    print(f"seglearn training benchmarks; TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{os.cpu_count()} CPUs; {load_text()}")
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for section in chosen:
        globals()[f"bench_{section}"](args)
    print(f"\ntotal {time.perf_counter() - start_wall:.0f} s wall, {time.process_time() - start_cpu:.0f} s CPU; "
          f"{load_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
