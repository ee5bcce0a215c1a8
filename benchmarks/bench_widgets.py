"""Redraw time of the chapter 02/03 explorers: a control change must redraw well under a second.

A redraw is what happens when a student moves a slider: the explorer's
observer calls the drawing function on its one figure (``set_data`` on the
image artists) and the figure is rendered to PNG for the ``Output`` widget,
as the inline backend does. We time both steps on a 64 x 64 course image for
a sweep of control values and print the median and the worst case, in wall
and process CPU time (on a loaded machine the CPU time is the fairer figure).

Run: ``python benchmarks/bench_widgets.py``
"""

import io
import statistics
import time

from seglearn import widgets
from seglearn.datasets import make_shapes

TARGET_SECONDS = 1.0


def _time(explorer, changes):
    """Wall and CPU seconds per (control change + PNG render)."""
    wall, cpu = [], []
    for name, value in changes:
        w0, c0 = time.perf_counter(), time.process_time()
        explorer.controls[name].value = value
        explorer.figure.savefig(io.BytesIO(), format="png")
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def main():
    images, _ = make_shapes(1, seed=0)
    image = images[0]
    conv_changes = [
        ("kernel_type", kind) for kind in widgets.KERNEL_KINDS
    ] + [("kernel_size", k) for k in (5, 7, 9, 3)] + [("strides", s) for s in (2, 3, 4, 1)] + [
        ("padding", p) for p in ("same", "valid")
    ] + [("dilation_rate", d) for d in (2, 3, 4, 1)]
    pool_changes = [("pool_size", p) for p in (3, 4, 1, 2)] + [("strides", s) for s in (1, 3, 4, 2)] + [
        ("padding", p) for p in ("same", "valid")
    ] + [("pool_type", t) for t in ("average", "max")]
    print(f"{'explorer':16}{'redraws':>8}{'median wall':>13}{'max wall':>10}{'median cpu':>12}{'max cpu':>9}")
    worst = 0.0
    for name, explorer, changes in [
        ("conv_explorer", widgets.conv_explorer(image), conv_changes),
        ("pool_explorer", widgets.pool_explorer(image), pool_changes),
    ]:
        explorer.figure.savefig(io.BytesIO(), format="png")  # warm up fonts and caches
        wall, cpu = _time(explorer, changes)
        worst = max(worst, max(cpu))
        print(f"{name:16}{len(wall):>8}{statistics.median(wall) * 1e3:>10.0f} ms{max(wall) * 1e3:>7.0f} ms"
              f"{statistics.median(cpu) * 1e3:>9.0f} ms{max(cpu) * 1e3:>6.0f} ms")
    verdict = "OK" if worst < TARGET_SECONDS else "TOO SLOW"
    print(f"worst CPU time per redraw {worst * 1e3:.0f} ms (target < {TARGET_SECONDS * 1e3:.0f} ms): {verdict}")


if __name__ == "__main__":
    main()
