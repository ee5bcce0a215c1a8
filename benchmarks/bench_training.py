"""Training benchmarks of seglearn's models: accuracy, time to accuracy, throughput.

Run from the repository root::

    .venv/bin/python benchmarks/bench_training.py            # everything (~15 min)
    .venv/bin/python benchmarks/bench_training.py --quick    # smoke run (~2 min)
    .venv/bin/python benchmarks/bench_training.py --only shapes,throughput

Sections (each prints its figures next to its target):

``shapes``
    The default U-Net (``seglearn.models.unet()``) trained with the default
    recipe (``seglearn.training.train`` defaults) on the course's shapes
    training split; test mean IoU and the training time. Target: mean IoU
    >= 0.90 within 60 s on 2 CPU cores.
``compare``
    Time to reach a test mean IoU of 0.85 for the default U-Net and for
    ``reference_unet`` (the Keras example's model), same data, input size and
    recipe. Target: default / reference <= 0.5.
``nuclei``
    The default U-Net architecture on the 2018 Data Science Bowl nuclei
    (``../shared/data/dsb2018-nuclei`` beside the repository, or ``$SEGLEARN_NUCLEI_DIR``; skipped
    when absent): trained on 100 images, tested on the other 20; nucleus Dice
    and IoU and the training time. Target: Dice >= 0.85 within 3 minutes.
``throughput``
    The achieved training throughput in GFLOP/s (analytic FLOP count of
    ``seglearn.models.count_flops``, training = 3 forward passes) next to the
    machine's float32 matrix-multiplication peak (NumPy and TensorFlow).

Times are wall-clock seconds of ``model.fit`` only (the per-epoch test
evaluations that detect when a target is reached are not counted), with the
process CPU time beside them and the load average before and after, because
on a shared machine the wall time is inflated by the other processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seglearn import datasets, models, pipeline, training  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NUCLEI_DIR = Path(os.environ.get("SEGLEARN_NUCLEI_DIR", ROOT.parent / "shared" / "data" / "dsb2018-nuclei"))
SECTIONS = ("shapes", "compare", "nuclei", "throughput")


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


class TargetClock(keras.callbacks.Callback):
    """Times ``fit`` and scores the test set after every epoch (not timed).

    Stops training once ``metric`` of :func:`seglearn.training.evaluate` on
    the test set reaches ``target`` (when ``stop_at_target``) or the training
    time exceeds ``budget`` seconds.
    """

    def __init__(self, images, masks, *, target, metric="mean_iou", class_id=None,
                 budget=None, stop_at_target=False):
        super().__init__()
        self.images, self.masks = images, masks
        self.target, self.metric, self.class_id = target, metric, class_id
        self.budget, self.stop_at_target = budget, stop_at_target
        self.rows = []  # (epoch, wall, cpu, score)
        self.reached = None  # (epoch, wall, cpu) of the first epoch at the target

    def on_train_begin(self, logs=None):
        self.wall = self.cpu = 0.0
        self._start()

    def _start(self):
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.wall += time.perf_counter() - self._wall0
        self.cpu += time.process_time() - self._cpu0
        scores = training.evaluate(self.model, self.images, self.masks)
        score = scores[self.metric] if self.class_id is None else scores[self.metric][self.class_id]
        self.rows.append((epoch + 1, self.wall, self.cpu, float(score)))
        if self.reached is None and score >= self.target:
            self.reached = (epoch + 1, self.wall, self.cpu)
            if self.stop_at_target:
                self.model.stop_training = True
        if self.budget is not None and self.wall > self.budget:
            self.model.stop_training = True
        self._start()


def print_rows(clock, label):
    name = clock.metric if clock.class_id is None else f"{clock.metric}[{clock.class_id}]"
    for epoch, wall, cpu, score in clock.rows:
        print(f"    {label} epoch {epoch:3d}: fit {wall:6.1f} s wall, {cpu:6.1f} s CPU, test {name} {score:.4f}")


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------


def bench_shapes(args: argparse.Namespace) -> None:
    quick = args.quick
    print("\n== shapes: default U-Net, default recipe, course data")
    x_train, y_train = datasets.load_shapes("train")
    x_val, y_val = datasets.load_shapes("val")
    x_test, y_test = datasets.load_shapes("test")
    keras.utils.set_random_seed(0)
    model = models.unet()
    epochs = 2 if quick else training.DEFAULT_EPOCHS
    print(f"  model: {model.count_params():,} parameters, {models.count_flops(model) / 1e6:.0f} MFLOP "
          f"forward per 64x64 image; {len(x_train)} training images, {epochs} epochs; {load_text()}")
    clock = TargetClock(x_test, y_test, target=0.90)
    training.train(model, (x_train, y_train), (x_val, y_val), epochs=epochs, callbacks=[clock], verbose=0)
    print_rows(clock, "unet")
    final = training.evaluate(model, x_test, y_test)
    print(f"  test mean IoU {final['mean_iou']:.4f} (per class {np.round(final['iou'], 3).tolist()}), "
          f"pixel accuracy {final['pixel_accuracy']:.4f}")
    print(f"  training time {clock.wall:.1f} s wall, {clock.cpu:.1f} s CPU; {load_text()}")
    if clock.reached:
        epoch, wall, cpu = clock.reached
        print(f"  mean IoU 0.90 first reached after epoch {epoch}: {wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"  target mean IoU >= 0.90 within 60 s: "
          f"{verdict(final['mean_iou'] >= 0.90 and clock.wall <= 60)} "
          f"(final {final['mean_iou']:.3f} in {clock.wall:.0f} s)")


def time_to_target(builder, name, data, target, budget):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    model = builder()
    clock = TargetClock(x_test, y_test, target=target, budget=budget, stop_at_target=True)
    # The same recipe for both: the default one, with the cosine schedule
    # stretched over COMPARE_EPOCHS; training stops as soon as the target is met.
    training.train(model, (x_train, y_train), epochs=COMPARE_EPOCHS, patience=None, callbacks=[clock], verbose=0)
    print_rows(clock, name)
    return clock


COMPARE_EPOCHS = 60
COMPARE_BUDGET = 600  # seconds of training per model; --compare-budget changes it


def bench_compare(args: argparse.Namespace) -> None:
    target = 0.85
    budget = 20 if args.quick else args.compare_budget
    print(f"\n== compare: time to test mean IoU {target}, default U-Net vs reference_unet "
          f"(budget {budget} s each)")
    data = (datasets.load_shapes("train"), datasets.load_shapes("test"))
    clocks = {}
    for name, builder in (("unet", models.unet), ("reference_unet", models.reference_unet)):
        model = builder()
        print(f"  {name}: {model.count_params():,} parameters, "
              f"{models.count_flops(model) / 1e6:.0f} MFLOP forward per image; {load_text()}")
        clocks[name] = time_to_target(builder, name, data, target, budget)
    for name, clock in clocks.items():
        if clock.reached:
            epoch, wall, cpu = clock.reached
            print(f"  {name}: reached {target} after epoch {epoch}: {wall:.1f} s wall, {cpu:.1f} s CPU")
        else:
            print(f"  {name}: did not reach {target} within {clock.wall:.0f} s "
                  f"(best {max(r[3] for r in clock.rows):.3f})")
    ours, ref = clocks["unet"].reached, clocks["reference_unet"].reached
    if ours and ref:
        wall_ratio, cpu_ratio = ours[1] / ref[1], ours[2] / ref[2]
        print(f"  ratio default / reference: {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU; "
              f"target <= 0.5: {verdict(wall_ratio <= 0.5)}")
    elif ours:
        print(f"  ratio default / reference: < {ours[1] / clocks['reference_unet'].wall:.2f} "
              f"(the reference did not reach the target); target <= 0.5: "
              f"{verdict(ours[1] / clocks['reference_unet'].wall <= 0.5)}")
    else:
        print("  ratio: undefined (the default U-Net did not reach the target); target NOT MET")
    print(f"  {load_text()}")


def bench_nuclei(args: argparse.Namespace) -> None:
    quick = args.quick
    print("\n== nuclei: U-Net on 2018 Data Science Bowl nuclei, 100 train / 20 test")
    if not (NUCLEI_DIR / "images").is_dir():
        print(f"  skipped: {NUCLEI_DIR} not found (set SEGLEARN_NUCLEI_DIR)")
        return
    images, masks = datasets.load_folder(NUCLEI_DIR / "images", NUCLEI_DIR / "masks")
    images = images[..., :1]  # grey images, repeated into 3 channels by the loader
    (x_train, y_train), (x_test, y_test) = datasets.split_arrays(images, masks, fractions=(100 / 120, 20 / 120), seed=0)
    crop = NUCLEI_CROP
    epochs = 2 if quick else NUCLEI_EPOCHS
    keras.utils.set_random_seed(0)
    model = models.unet((crop, crop, 1), num_classes=2)
    print(f"  {len(x_train)} training images of {images.shape[1]}x{images.shape[2]}, random {crop}x{crop} "
          f"crops with flips/rotations, {epochs} epochs; {model.count_params():,} parameters; {load_text()}")
    # The test images are scored whole: predict() tiles them with the model's
    # 128x128 input (overlap-tiling), as it does for any larger image.
    clock = TargetClock(x_test, y_test, target=0.85, metric="dice", class_id=1)
    training.train(model, random_crops(x_train, y_train, crop, NUCLEI_BATCH), epochs=epochs,
                   learning_rate=NUCLEI_LR, patience=None, callbacks=[clock], verbose=0)
    print_rows(clock, "nuclei")
    scores = training.evaluate(model, x_test, y_test)
    dice, iou = scores["dice"][1], scores["iou"][1]
    print(f"  test nucleus Dice {dice:.4f}, IoU {iou:.4f}; pixel accuracy {scores['pixel_accuracy']:.4f}")
    print(f"  training time {clock.wall:.1f} s wall, {clock.cpu:.1f} s CPU; {load_text()}")
    print(f"  target Dice >= 0.85 within 180 s: {verdict(dice >= 0.85 and clock.wall <= 180)}")


NUCLEI_CROP = 128
NUCLEI_EPOCHS = 30
NUCLEI_BATCH = 8
NUCLEI_LR = 3e-3


def random_crops(images, masks, crop, batch_size, seed=0):
    """An endless-per-epoch dataset of random crops with flips and 90-degree turns."""
    n, h, w, _ = images.shape

    def sample(index, draw):
        seeds = tf.random.experimental.stateless_split(tf.stack([draw, tf.cast(index, tf.int64)]), 4)
        image, mask = tf.gather(images, index), tf.gather(masks, index)
        top = tf.random.stateless_uniform((), seeds[0], 0, h - crop + 1, tf.int32)
        left = tf.random.stateless_uniform((), seeds[1], 0, w - crop + 1, tf.int32)
        image = image[top : top + crop, left : left + crop]
        mask = mask[top : top + crop, left : left + crop]
        k = tf.random.stateless_uniform((), seeds[2], 0, 4, tf.int32)
        image, mask = tf.image.rot90(image, k), tf.image.rot90(mask[..., None], k)[..., 0]
        flip = tf.random.stateless_uniform((), seeds[3]) < 0.5
        image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
        mask = tf.cond(flip, lambda: tf.reverse(mask, [1]), lambda: mask)
        return image, tf.cast(mask, tf.int32)

    images, masks = tf.constant(images), tf.constant(masks)
    indices = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((indices, draws)).map(sample, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def matmul_peak(n=2048, repeats=5):
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    flops = 2 * n**3 * repeats
    a @ a
    best_np = min(_timed(lambda: [a @ a for _ in range(repeats)]) for _ in range(3))
    x = tf.constant(a)
    tf.matmul(x, x).numpy()
    best_tf = min(_timed(lambda: [tf.matmul(x, x).numpy() for _ in range(repeats)]) for _ in range(3))
    return flops / best_np / 1e9, flops / best_tf / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_throughput(args: argparse.Namespace) -> None:
    quick = args.quick
    print("\n== throughput: training GFLOP/s vs float32 matmul peak")
    peak_np, peak_tf = matmul_peak()
    print(f"  float32 2048x2048 matmul: NumPy {peak_np:.0f} GFLOP/s, TensorFlow {peak_tf:.0f} GFLOP/s; {load_text()}")
    x, y = datasets.load_shapes("train")
    steps = 5 if quick else 20
    for name, model in (("unet", models.unet()), ("reference_unet", models.reference_unet())):
        flops = models.count_flops(model)
        training.compile_for_segmentation(model, keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        batch = training.DEFAULT_BATCH_SIZE
        xb, yb = x[: batch * steps], y[: batch * steps]
        model.fit(xb[:batch], yb[:batch], batch_size=batch, epochs=1, verbose=0)  # trace and warm up
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(xb, yb, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rate = len(xb) / wall
        achieved = 3 * flops * rate / 1e9
        print(f"  {name}: {flops / 1e6:.0f} MFLOP forward/image, batch {batch}: {rate:.0f} images/s, "
              f"{achieved:.1f} GFLOP/s = {achieved / peak_np:.0%} of the NumPy peak "
              f"(CPU {cpu / wall:.2f} cores busy)")
    print(f"  {load_text()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of every section")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument("--compare-budget", type=float, default=COMPARE_BUDGET, metavar="SECONDS",
                        help=f"training seconds per model in the compare section (default {COMPARE_BUDGET})")
    args = parser.parse_args(argv)
    if args.compare_budget <= 0:
        parser.error(f"--compare-budget must be > 0 seconds. Received: {args.compare_budget}")
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
