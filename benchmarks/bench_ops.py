"""Time seglearn.ops (NumPy) against TensorFlow on course-sized shapes.

Run ``python benchmarks/bench_ops.py`` (``--help`` for options). For every
shape it prints the best NumPy time, the best TensorFlow time and their ratio
(numpy / tf; below 1 means NumPy is faster), then the geometric mean of the
ratios per group, checked against the targets:

* conv2d forward: geometric mean <= 1.5
* pooling (max and average): geometric mean <= 2.0

Fairness: both sides get float32 data already in their own format (NumPy
arrays, ``tf.constant`` tensors), run with their default thread pools on the
same cores, are warmed up, and are timed alternately (NumPy, TF, NumPy, ...)
so that a burst of load from other processes hits both; each side's time is
the best of ``--repeat`` runs. TensorFlow's time is the better of the eager
op and the same op in a ``tf.function``. Process CPU time of the best run is
shown too: on a shared machine, wall time is inflated by other processes.
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from seglearn import ops  # noqa: E402

CONV_TARGET = 1.5
POOL_TARGET = 2.0

# (batch, size, C_in, C_out, kernel, strides); padding "same" as in a U-Net.
CONV_CASES = [
    (16, 64, 3, 16, 3, 1),
    (16, 64, 16, 32, 3, 1),
    (16, 64, 32, 64, 3, 1),
    (8, 128, 3, 16, 3, 1),
    (8, 128, 16, 32, 3, 1),
    (16, 64, 16, 32, 5, 1),
    (8, 128, 3, 16, 5, 1),
    (16, 64, 16, 32, 3, 2),
    (8, 128, 32, 64, 3, 2),
    (16, 64, 3, 16, 5, 2),
]

# (batch, size, channels, pool, strides, padding)
POOL_CASES = [
    (16, 64, 16, 2, 2, "valid"),
    (16, 64, 32, 2, 2, "valid"),
    (8, 128, 16, 2, 2, "valid"),
    (16, 64, 64, 2, 2, "valid"),
    (16, 64, 16, 3, 2, "same"),
    (8, 128, 32, 3, 2, "same"),
    (16, 64, 16, 3, 1, "same"),
]


def _time(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(np_fn, tf_fns, repeat):
    """Best (wall, cpu) of NumPy and of the best TF variant, timed alternately."""
    for fn in (np_fn, *tf_fns):  # warm-up: allocations, TF graph tracing
        fn()
        fn()
    best_np, best_tf = (math.inf, 0.0), (math.inf, 0.0)
    for _ in range(repeat):
        best_np = min(best_np, _time(np_fn))
        for fn in tf_fns:
            best_tf = min(best_tf, _time(fn))
    return best_np, best_tf


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def run(repeat: int, groups):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, tensorflow {tf.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (1 min), best of {repeat}")
    results, cpu_results = {}, {}

    def report(group, label, best_np, best_tf):
        ratio = best_np[0] / best_tf[0]
        results.setdefault(group, []).append(ratio)
        cpu_results.setdefault(group, []).append(best_np[1] / best_tf[1])
        print(f"  {label:<34} numpy {best_np[0] * 1e3:8.2f} ms (cpu {best_np[1] * 1e3:7.2f})"
              f"   tf {best_tf[0] * 1e3:8.2f} ms (cpu {best_tf[1] * 1e3:7.2f})   ratio {ratio:5.2f}")

    if "conv" in groups:
        print("conv2d, padding='same', float32:")
        for n, size, c_in, c_out, k, s in CONV_CASES:
            x = rng.standard_normal((n, size, size, c_in), dtype=np.float32)
            w = rng.standard_normal((k, k, c_in, c_out), dtype=np.float32)
            xt, wt = tf.constant(x), tf.constant(w)
            graph = tf.function(lambda a, b, s=s: tf.nn.conv2d(a, b, s, "SAME"))
            best = compare(
                lambda: ops.conv2d(x, w, strides=s, padding="same"),
                [lambda: tf.nn.conv2d(xt, wt, s, "SAME"), lambda: graph(xt, wt)],
                repeat,
            )
            report("conv2d", f"{n}x{size}x{size}x{c_in} -> {c_out}, {k}x{k}/{s}", *best)

    if "pool" in groups:
        for name, ours, theirs in (("max", ops.max_pool2d, tf.nn.max_pool2d), ("avg", ops.avg_pool2d, tf.nn.avg_pool2d)):
            print(f"{name}_pool2d, float32:")
            for n, size, c, p, s, padding in POOL_CASES:
                x = rng.standard_normal((n, size, size, c), dtype=np.float32)
                xt = tf.constant(x)
                graph = tf.function(lambda a, p=p, s=s, pad=padding.upper(), f=theirs: f(a, p, s, pad))
                best = compare(
                    lambda: ours(x, p, s, padding),
                    [lambda: theirs(xt, p, s, padding.upper()), lambda: graph(xt)],
                    repeat,
                )
                report("pooling", f"{n}x{size}x{size}x{c}, {p}x{p}/{s} {padding}", *best)

    print(f"geometric mean of numpy / tf (wall time; load average now {os.getloadavg()[0]:.2f}):")
    targets = {"conv2d": CONV_TARGET, "pooling": POOL_TARGET}
    for group, ratios in results.items():
        g = geomean(ratios)
        verdict = "meets" if g <= targets[group] else "MISSES"
        print(f"  {group:<8} {g:5.2f}  ({verdict} target <= {targets[group]});"
              f"  process CPU time ratio {geomean(cpu_results[group]):5.2f}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per side and shape (default 7)")
    parser.add_argument("--only", choices=("conv", "pool"), help="run one group only")
    args = parser.parse_args(argv)
    groups = {args.only} if args.only else {"conv", "pool"}
    run(args.repeat, groups)


if __name__ == "__main__":
    main()
