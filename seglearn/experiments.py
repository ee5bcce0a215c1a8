"""Small experiments a student designs, and a review of how they were done.

The FAQ chapters answer their questions by experiment, and their design
exercises let the student run one: choose the settings to compare, the seeds,
the split to score on, then decide. :class:`TrialLog` wraps the chapter's
``run(setting, seed=..., split=...) -> score`` so that every trial is recorded
(setting, seed, split, score, seconds); :meth:`TrialLog.review` then checks the
design, not one number:

1. **decided on validation**: no trial scored the test split (the test split is
   touched once, at the end, never to choose);
2. **compared settings**: at least ``min_settings`` different settings;
3. **seeds**: every setting ran over the same ``min_seeds`` or more seeds (a
   gap between settings means something only against the spread over seeds);
4. **same budget**: the settings agree on every ``budget_keys`` entry (steps,
   epochs, data), so that only the compared knob differs;
5. **the choice**: the chosen setting has the best validation mean or is
   within noise of it (:meth:`seglearn.tables.SeedComparison.within_noise`).

A check cell awards ``review.points(of=N)`` (one equal share per criterion met)
with :func:`seglearn.grading.award` and asserts ``review.passed`` so that its
message names what was missing.

Examples
--------
>>> scores = {"small": [0.60, 0.62, 0.61], "large": [0.70, 0.71, 0.69]}
>>> log = TrialLog(lambda setting, *, seed, split: scores[setting][seed])
>>> for setting in ("small", "large"):
...     for seed in (0, 1, 2):
...         _ = log(setting, seed=seed)
>>> review = log.review("large")
>>> review.passed, review.points(of=4)
(True, 4.0)
>>> log.review("small").points(of=4)  # clearly worse: one criterion of five missed
3.2
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ._validation import check_choice, check_positive_int, check_real, check_seed, describe
from .tables import SeedComparison, compare_over_seeds, format_table

__all__ = ["Criterion", "DesignReview", "Trial", "TrialLog", "setting_label"]

SPLITS = ("train", "validation", "test")


def setting_label(setting) -> str:
    """A setting as text: a dict as ``key=value`` pairs in key order, anything else by ``str``.

    Parameters
    ----------
    setting : str, number, tuple or dict
        What one trial ran with, e.g. ``"adam"`` or ``{"optimizer": "adam", "steps": 80}``.

    Returns
    -------
    str

    Examples
    --------
    >>> setting_label({"steps": 80, "optimizer": "adam"})
    'optimizer=adam, steps=80'
    """
    if isinstance(setting, dict):
        return ", ".join(f"{key}={setting[key]}" for key in sorted(setting, key=str))
    return str(setting)


@dataclass(frozen=True)
class Trial:
    """One recorded trial.

    Attributes
    ----------
    setting : object
        What it ran with, as given.
    label : str
        :func:`setting_label` of ``setting``.
    seed : int
    split : str
        ``"train"``, ``"validation"`` or ``"test"``: where ``score`` was measured.
    score : float
    seconds : float
        Wall-clock time of the run.
    """

    setting: object
    label: str
    seed: int
    split: str
    score: float
    seconds: float


@dataclass(frozen=True)
class Criterion:
    """One point of a design review.

    Attributes
    ----------
    name : str
        What is asked, e.g. ``"decided on validation"``.
    passed : bool
    message : str
        Why it passed, or what to change.
    """

    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class DesignReview:
    """The criteria of :meth:`TrialLog.review`, in order; ``print(review)`` lists them.

    Attributes
    ----------
    criteria : tuple of Criterion
    comparison : SeedComparison or None
        The validation comparison the choice was judged on (None when it could
        not be made: fewer than two settings or seeds, or unequal seeds).
    """

    criteria: tuple
    comparison: SeedComparison | None

    @property
    def passed(self) -> bool:
        """True when every criterion is met."""
        return all(c.passed for c in self.criteria)

    @property
    def failures(self) -> str:
        """The messages of the criteria not met, one per line (empty when all are)."""
        return "\n".join(f"{c.name}: {c.message}" for c in self.criteria if not c.passed)

    def points(self, *, of) -> float:
        """``of`` times the fraction of criteria met, rounded to 0.1 point.

        Parameters
        ----------
        of : int or float
            The check's points.
        """
        of = check_real(of, "of", low=0)
        return round(of * sum(c.passed for c in self.criteria) / len(self.criteria), 1)

    def __str__(self) -> str:
        return "\n".join(f"[{'x' if c.passed else ' '}] {c.name}: {c.message}" for c in self.criteria)


class TrialLog:
    """Run and record trials of an experiment, then review its design.

    Parameters
    ----------
    run : callable
        ``run(setting, *, seed, split) -> float``: trains (or evaluates) with
        ``setting`` and ``seed`` and returns the score on ``split``.
    metric : str, default "score"
        The score's name, for tables and verdicts.
    higher_is_better : bool, default True
        False for losses, errors and times.

    Attributes
    ----------
    trials : list of Trial
        Every trial run, in order.

    Examples
    --------
    >>> log = TrialLog(lambda setting, *, seed, split: 0.5 + 0.1 * setting + 0.01 * seed)
    >>> log(1, seed=0), log(2, seed=0, split="validation")
    (0.6, 0.7)
    >>> [t.label for t in log.trials]
    ['1', '2']
    """

    def __init__(self, run, *, metric: str = "score", higher_is_better: bool = True):
        if not callable(run):
            raise TypeError(f"`run` must be a callable run(setting, *, seed, split) -> score. Received: run={describe(run)}")
        self.run = run
        self.metric = str(metric)
        self.higher_is_better = bool(higher_is_better)
        self.trials: list[Trial] = []

    def __call__(self, setting, *, seed, split: str = "validation") -> float:
        """Run one trial, record it and return its score.

        Parameters
        ----------
        setting : str, number, tuple or dict
            Passed to ``run`` unchanged.
        seed : int
            An integer ``>= 0``.
        split : {"train", "validation", "test"}, default "validation"
            The split the score is measured on.

        Returns
        -------
        float
        """
        seed = check_seed(seed)
        split = check_choice(split, "split", SPLITS)
        start = time.perf_counter()
        score = self.run(setting, seed=seed, split=split)
        seconds = time.perf_counter() - start
        try:
            value = float(score)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(score, bool) or not math.isfinite(value):
            raise ValueError(f"`run` must return a finite score. It returned {describe(score)} for "
                             f"setting={setting_label(setting)!r}, seed={seed}, split={split!r}")
        self.trials.append(Trial(setting, setting_label(setting), seed, split, value, seconds))
        return value

    def scores(self, split: str = "validation") -> dict:
        """Setting label -> {seed: score} of the trials on ``split`` (the last trial wins).

        Parameters
        ----------
        split : {"train", "validation", "test"}, default "validation"
        """
        split = check_choice(split, "split", SPLITS)
        table: dict = {}
        for t in self.trials:
            if t.split == split:
                table.setdefault(t.label, {})[t.seed] = t.score
        return table

    def comparison(self, split: str = "validation") -> SeedComparison:
        """The settings compared over their seeds on ``split``, by :func:`~seglearn.tables.compare_over_seeds`.

        Parameters
        ----------
        split : {"train", "validation", "test"}, default "validation"

        Raises
        ------
        ValueError
            When the settings did not all run on the same seeds (the message names them).
        """
        table = self.scores(split)
        seed_sets = {label: sorted(by_seed) for label, by_seed in table.items()}
        if len({tuple(s) for s in seed_sets.values()}) > 1:
            raise ValueError(f"Every setting must run on the same seeds to be compared. Seeds per setting: {seed_sets}")
        results = {label: [by_seed[s] for s in sorted(by_seed)] for label, by_seed in table.items()}
        return compare_over_seeds(results, metric=self.metric, higher_is_better=self.higher_is_better)

    @property
    def table(self) -> str:
        """Every trial as a text table."""
        rows = [(t.label, t.seed, t.split, t.score, t.seconds) for t in self.trials]
        return format_table(rows, ["setting", "seed", "split", self.metric, "seconds"])

    def review(self, chosen, *, min_settings: int = 2, min_seeds: int = 2, budget_keys=()) -> DesignReview:
        """Review the experiment's design and the choice made from it (see the module docstring).

        Parameters
        ----------
        chosen : str, number, tuple or dict
            The setting the student decided on.
        min_settings, min_seeds : int, default 2
            How many settings, and seeds per setting, the comparison needs.
        budget_keys : sequence of str, default ()
            Keys of dict settings that must be equal across the trials
            (``"steps"``, ``"epochs"``): the budget of a fair comparison.

        Returns
        -------
        DesignReview
        """
        min_settings = check_positive_int(min_settings, "min_settings")
        min_seeds = check_positive_int(min_seeds, "min_seeds")
        criteria = []

        on_test = sorted({t.label for t in self.trials if t.split == "test"})
        criteria.append(Criterion(
            "decided on validation", not on_test,
            "no trial scored the test split" if not on_test else
            f"{len(on_test)} setting(s) were scored on the test split ({', '.join(on_test)}): decide on "
            "validation; the test split is scored once, at the end, for the final choice only"))

        table = self.scores("validation")
        criteria.append(Criterion(
            "compared settings", len(table) >= min_settings,
            f"{len(table)} settings scored on validation" + ("" if len(table) >= min_settings else
                                                              f"; compare at least {min_settings}")))

        seed_sets = {label: tuple(sorted(by_seed)) for label, by_seed in table.items()}
        same = len(set(seed_sets.values())) == 1
        enough = bool(seed_sets) and min(len(s) for s in seed_sets.values()) >= min_seeds
        if same and enough:
            message = f"every setting ran on seeds {list(next(iter(seed_sets.values())))}"
        elif not same:
            message = f"the settings ran on different seeds {seed_sets}: run each on the same seeds"
        else:
            message = f"run every setting on at least {min_seeds} seeds (seeds per setting: {seed_sets})"
        criteria.append(Criterion("seeds", same and enough, message))

        unequal = {}
        for key in budget_keys:
            values = {t.setting.get(key) if isinstance(t.setting, dict) else None for t in self.trials}
            if len(values) != 1 or None in values:
                unequal[key] = sorted(map(str, values))
        criteria.append(Criterion(
            "same budget", not unequal,
            "every trial had the same " + ", ".join(budget_keys) if not unequal else
            f"the trials differ in their budget {unequal}: give every setting the same one"))

        comparison = None
        if len(table) >= 2 and same and min(len(s) for s in seed_sets.values()) >= 2:
            comparison = self.comparison("validation")
        label = setting_label(chosen)
        if comparison is None:
            ok, message = False, "no comparison over seeds on validation to choose from"
        elif label not in comparison.values:
            ok, message = False, f"the chosen setting {label!r} was not tried on validation (tried: {list(table)})"
        elif label == comparison.best or comparison.within_noise(label, comparison.best):
            ok = True
            message = (f"{label} has the best validation mean" if label == comparison.best else
                       f"{label} is within noise of the best, {comparison.best}")
        else:
            ok, message = False, (f"{label} is clearly worse than {comparison.best} on validation "
                                  f"({comparison.means[label]:.3f} against {comparison.means[comparison.best]:.3f})")
        criteria.append(Criterion("the choice", ok, message))
        return DesignReview(tuple(criteria), comparison)
