"""Time seglearn.metrics.confusion_matrix on a test set's worth of label maps.

Run ``python benchmarks/bench_metrics.py`` (``--help`` for options). It builds
``--n`` random uint8 label maps of 64x64 pixels (1000 by default, about 4
million pixels, the size of the course's evaluation set), and prints the best
of ``--repeat`` timings of

* ``seglearn.metrics.confusion_matrix`` (checks + one ``np.bincount``), and
* ``keras.metrics.MeanIoU.update_state`` on the same maps, for reference,

with the process CPU time of the best run (on a shared machine, wall time is
inflated by other processes). Target: the NumPy confusion matrix takes under
0.1 s of CPU for 1000 maps of 64x64 on one core.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from seglearn.metrics import confusion_matrix, mean_iou  # noqa: E402

TARGET_CPU_SECONDS = 0.1


def best_of(func, repeat):
    """(wall seconds, CPU seconds) of the fastest of ``repeat`` calls."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        run = (time.perf_counter() - wall, time.process_time() - cpu)
        best = min(best, run)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of 64x64 maps")
    parser.add_argument("--classes", type=int, default=5, help="number of classes")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per function")
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras reference")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, args.classes, size=(args.n, 64, 64), dtype=np.uint8)
    y_pred = np.where(rng.random(y_true.shape) < 0.8, y_true, rng.integers(0, args.classes, y_true.shape))
    y_pred = y_pred.astype(np.uint8)
    print(f"{args.n} maps of 64x64 ({y_true.size:,} pixels), {args.classes} classes, "
          f"load average {os.getloadavg()[0]:.1f}")

    wall, cpu = best_of(lambda: confusion_matrix(y_true, y_pred, args.classes), args.repeat)
    verdict = "OK" if cpu <= TARGET_CPU_SECONDS else "SLOW"
    print(f"seglearn confusion_matrix   wall {wall * 1e3:8.1f} ms   cpu {cpu * 1e3:8.1f} ms   "
          f"target cpu <= {TARGET_CPU_SECONDS * 1e3:.0f} ms: {verdict}")

    if not args.no_keras:
        import keras

        def keras_miou():
            metric = keras.metrics.MeanIoU(num_classes=args.classes)
            metric.update_state(y_true, y_pred)
            return float(metric.result())

        keras_miou()  # warm up
        wall, cpu = best_of(keras_miou, args.repeat)
        print(f"keras MeanIoU.update_state  wall {wall * 1e3:8.1f} ms   cpu {cpu * 1e3:8.1f} ms")
        ours = mean_iou(y_true, y_pred, args.classes)
        print(f"mean IoU: seglearn {ours:.6f}, keras {keras_miou():.6f}")


if __name__ == "__main__":
    main()
