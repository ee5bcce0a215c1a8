"""Plain-text tables: :func:`format_table` aligns the results of experiments;
:func:`compare_over_seeds` summarises a comparison repeated over seeds and words
its verdict from the numbers ("clearly better" or "within noise").

NumPy only: importing this module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import describe

__all__ = ["SeedComparison", "compare_over_seeds", "format_table"]


def format_table(rows, headers, *, floatfmt=".3f", align="<"):
    """Format rows as a plain-text table with aligned columns: the package's one table formatter.

    Parameters
    ----------
    rows : sequence of sequences
        One sequence of cells per row, as many cells as ``headers``.
    headers : sequence of str
    floatfmt : str
        Format spec for float cells.
    align : str, default "<"
        ``"<"`` (left) or ``">"`` (right) for every column, or one of them per
        column (``"<>>"``).

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table([("relu", 0.91234), ("tanh", 0.8)], ["activation", "IoU"]))
    activation  IoU
    ----------  -----
    relu        0.912
    tanh        0.800
    >>> print(format_table([("total", 5)], ["check", "points"], align="<>"))
    check  points
    -----  ------
    total       5
    """
    headers = [str(h) for h in headers]
    if not isinstance(align, str) or set(align) - {"<", ">"} or len(align) not in (1, len(headers)):
        raise ValueError(
            f"`align` must be '<' or '>', once or once per column ({len(headers)}). Received: align={align!r}"
        )
    aligns = align * len(headers) if len(align) == 1 else align

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return format(float(value), floatfmt)
        return str(value)

    body = []
    for index, row in enumerate(rows):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(
                f"`rows` must have {len(headers)} cells per row like `headers`. "
                f"Received: rows[{index}]={describe(row)}"
            )
        body.append([cell(v) for v in row])
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(cells, widths, aligns)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, body)])


@dataclass(frozen=True)
class SeedComparison:
    """Settings compared over seeds: their means, spreads and the verdict.

    Made by :func:`compare_over_seeds`; ``print(comparison)`` shows the table
    and the verdict.

    Attributes
    ----------
    metric : str
        What was measured, e.g. ``"val mean IoU"``.
    values : dict of str to float ndarray of shape (n_seeds,)
        The measurements of each setting, one per seed, in the order given.
    higher_is_better : bool
    means, spreads : dict of str to float
        Mean and sample standard deviation (``ddof=1``) over the seeds.
    best : str
        The setting with the best mean.
    """

    metric: str
    values: dict
    higher_is_better: bool
    means: dict
    spreads: dict
    best: str

    def gap(self, a, b) -> float:
        """How much better setting ``a``'s mean is than ``b``'s (negative: worse)."""
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (self.means[self._name(a)] - self.means[self._name(b)])

    def clearly_better(self, a, b) -> bool:
        """True when ``a`` beats ``b`` by more than the spread over seeds.

        The rule: the gap between the means exceeds the sum of the two
        standard deviations, ``gap(a, b) > sd_a + sd_b``. With three seeds a
        standard deviation is itself uncertain, so the rule is deliberately
        strict: what it calls better stays better on other seeds.
        """
        a, b = self._name(a), self._name(b)
        return self.gap(a, b) > self.spreads[a] + self.spreads[b]

    def within_noise(self, a, b) -> bool:
        """True when neither of ``a`` and ``b`` is clearly better than the other."""
        return not (self.clearly_better(a, b) or self.clearly_better(b, a))

    def relation(self, a, b) -> str:
        """How ``a`` compares with ``b``, in words for a sentence chosen by the numbers.

        Returns ``"clearly better than"`` when :meth:`clearly_better` ``(a, b)``,
        ``"clearly worse than"`` when ``clearly_better(b, a)``, else
        ``"within noise of"``.

        Examples
        --------
        >>> c = compare_over_seeds({"relu": [0.80, 0.82, 0.81], "tanh": [0.70, 0.74, 0.72]})
        >>> f"tanh is {c.relation('tanh', 'relu')} relu"
        'tanh is clearly worse than relu'
        """
        if self.clearly_better(a, b):
            return "clearly better than"
        if self.clearly_better(b, a):
            return "clearly worse than"
        return "within noise of"

    def _name(self, name):
        name = str(name)
        if name not in self.values:
            raise ValueError(
                f"The setting must be one of {list(self.values)}. Received: {name!r}"
            )
        return name

    @property
    def table(self) -> str:
        """The per-seed values, mean and spread of each setting as a text table."""
        n = len(next(iter(self.values.values())))
        headers = ["setting", f"mean {self.metric}", "sd", *[f"seed {i + 1}" for i in range(n)]]
        rows = [(name, self.means[name], self.spreads[name], *v) for name, v in self.values.items()]
        return format_table(rows, headers)

    @property
    def verdict(self) -> str:
        """One sentence per comparison with the best setting, chosen by the numbers."""
        n = len(self.values[self.best])
        best = self.best
        word = "highest" if self.higher_is_better else "lowest"
        head = (
            f"Over {n} seeds, {best} has the {word} mean {self.metric} "
            f"({self.means[best]:.3f} ± {self.spreads[best]:.3f})"
        )
        others = [name for name in self.values if name != best]
        if all(self.within_noise(best, name) for name in others):
            widest = max(self.gap(best, name) for name in others)
            return (
                f"{head}, but all settings are within noise of each other: the largest gap "
                f"between means, {widest:.3f}, is smaller than the spread over seeds."
            )
        parts = []
        for name in others:
            gap = self.gap(best, name)
            noise = self.spreads[best] + self.spreads[name]
            if self.clearly_better(best, name):
                parts.append(
                    f"{name} ({self.means[name]:.3f} ± {self.spreads[name]:.3f}) is clearly "
                    f"worse (gap {gap:.3f} > spread {noise:.3f})"
                )
            else:
                parts.append(
                    f"{name} ({self.means[name]:.3f} ± {self.spreads[name]:.3f}) is within "
                    f"noise of it (gap {gap:.3f} <= spread {noise:.3f})"
                )
        return f"{head}; " + "; ".join(parts) + "."

    def __str__(self) -> str:
        return f"{self.table}\n{self.verdict}"


def compare_over_seeds(results, *, metric="score", higher_is_better=True) -> SeedComparison:
    """Compare settings measured over several seeds, with a verdict that respects noise.

    For each setting ``s`` with values ``x_1..x_n`` (one per seed) this
    computes the mean ``m_s`` and the sample standard deviation
    ``sd_s = sqrt(sum_i (x_i - m_s)^2 / (n - 1))``. Setting ``a`` is called
    *clearly better* than ``b`` when ``m_a - m_b > sd_a + sd_b`` (for a
    metric where higher is better); otherwise the two are *within noise*.

    Parameters
    ----------
    results : dict of str to sequence of float
        Setting name -> one measurement per seed; every setting needs the same
        number of seeds, at least 2, all finite.
    metric : str
        Name of the measurement, used in the table and the verdict.
    higher_is_better : bool
        False for losses and times.

    Returns
    -------
    SeedComparison

    Raises
    ------
    ValueError
        For fewer than two settings, fewer than two seeds, unequal numbers of
        seeds or non-finite values, naming the setting.

    Examples
    --------
    >>> c = compare_over_seeds({"relu": [0.80, 0.82, 0.81], "tanh": [0.70, 0.74, 0.72],
    ...                         "elu": [0.79, 0.83, 0.80]}, metric="IoU")
    >>> c.best, c.clearly_better("relu", "tanh"), c.within_noise("relu", "elu")
    ('relu', True, True)
    >>> print(c)
    setting  mean IoU  sd     seed 1  seed 2  seed 3
    -------  --------  -----  ------  ------  ------
    relu     0.810     0.010  0.800   0.820   0.810
    tanh     0.720     0.020  0.700   0.740   0.720
    elu      0.807     0.021  0.790   0.830   0.800
    Over 3 seeds, relu has the highest mean IoU (0.810 ± 0.010); tanh (0.720 ± 0.020) is clearly worse (gap 0.090 > spread 0.030); elu (0.807 ± 0.021) is within noise of it (gap 0.003 <= spread 0.031).
    """
    if not isinstance(results, dict) or len(results) < 2:
        raise ValueError(
            "`results` must be a dict of at least two settings -> one value per seed. "
            f"Received: results={describe(results)}"
        )
    values = {}
    for name, seq in results.items():
        try:
            v = np.asarray(seq, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            v = np.array([np.nan])
        if v.size < 2 or not np.all(np.isfinite(v)):
            raise ValueError(
                f"`results[{name!r}]` must hold at least two finite values, one per seed. "
                f"Received: results[{name!r}]={describe(seq)}"
            )
        values[str(name)] = v
    sizes = {name: v.size for name, v in values.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"Every setting of `results` needs the same number of seeds. Received: {sizes}")
    means = {name: float(v.mean()) for name, v in values.items()}
    spreads = {name: float(v.std(ddof=1)) for name, v in values.items()}
    pick = max if higher_is_better else min
    best = pick(means, key=means.get)
    return SeedComparison(str(metric), values, bool(higher_is_better), means, spreads, best)
