"""seglearn.experiments: the trial log records every trial, and its review judges the design."""

import pytest

from seglearn.experiments import TrialLog, setting_label

SCORES = {"small": [0.60, 0.62, 0.61], "large": [0.70, 0.71, 0.69], "medium": [0.69, 0.72, 0.66]}


def _run(setting, *, seed, split):
    label = setting["size"] if isinstance(setting, dict) else setting
    return SCORES[label][seed] - (0.05 if split == "test" else 0.0)


def _log(settings=("small", "large"), seeds=(0, 1, 2), split="validation"):
    log = TrialLog(_run, metric="val IoU")
    for setting in settings:
        for seed in seeds:
            log(setting, seed=seed, split=split)
    return log


def _failed(review):
    return [c.name for c in review.criteria if not c.passed]


def test_a_sound_design_passes_every_criterion():
    review = _log().review("large")
    assert review.passed and review.points(of=4) == 4.0, str(review)
    assert review.comparison.best == "large"
    assert "[x] decided on validation" in str(review)


def test_the_log_records_setting_seed_split_score_and_time():
    log = _log(settings=("small",), seeds=(1,))
    (trial,) = log.trials
    assert (trial.label, trial.seed, trial.split, trial.score) == ("small", 1, "validation", 0.62)
    assert trial.seconds >= 0
    assert "val IoU" in log.table and "small" in log.table


def test_choosing_a_clearly_worse_setting_loses_the_choice_only():
    review = _log().review("small")
    assert _failed(review) == ["the choice"]
    assert "clearly worse than large" in review.failures
    assert review.points(of=4) == pytest.approx(3.2)


def test_a_setting_within_noise_of_the_best_is_a_defensible_choice():
    review = _log(settings=("large", "medium")).review("medium")
    assert review.passed, review.failures
    assert "within noise" in str(review)


def test_scoring_the_test_split_fails_decided_on_validation():
    log = _log()
    log("large", seed=0, split="test")
    review = log.review("large")
    assert _failed(review) == ["decided on validation"]
    assert "test split" in review.failures


def test_deciding_on_the_test_split_alone_fails_more():
    review = _log(split="test").review("large")
    assert {"decided on validation", "compared settings", "seeds", "the choice"} <= set(_failed(review))
    assert review.points(of=4) == pytest.approx(0.8)


def test_one_seed_per_setting_is_not_enough():
    review = _log(seeds=(0,)).review("large")
    assert set(_failed(review)) == {"seeds", "the choice"}
    assert "at least 2 seeds" in review.failures


def test_different_seeds_per_setting_are_named():
    log = _log(settings=("small",), seeds=(0, 1))
    log("large", seed=1)
    log("large", seed=2)
    review = log.review("large")
    assert "different seeds" in review.failures
    with pytest.raises(ValueError, match="same seeds"):
        log.comparison()


def test_one_setting_is_no_comparison():
    review = _log(settings=("large",)).review("large")
    assert set(_failed(review)) == {"compared settings", "the choice"}


def test_budgets_must_agree_when_asked():
    log = TrialLog(_run)
    for seed in (0, 1):
        log({"size": "small", "steps": 80}, seed=seed)
        log({"size": "large", "steps": 160}, seed=seed)
    review = log.review({"size": "large", "steps": 160}, budget_keys=("steps",))
    assert _failed(review) == ["same budget"]
    assert "'steps': ['160', '80']" in review.failures
    assert log.review({"size": "large", "steps": 160}).passed  # not asked: not judged


def test_a_chosen_setting_never_tried_is_named():
    review = _log().review("huge")
    assert "'huge' was not tried" in review.failures


def test_lower_is_better_picks_the_smallest():
    log = TrialLog(_run, higher_is_better=False)
    for setting in ("small", "large"):
        for seed in (0, 1):
            log(setting, seed=seed)
    assert log.review("small").passed
    assert not log.review("large").passed


def test_setting_label_orders_dict_keys():
    assert setting_label({"b": 2, "a": "x"}) == "a=x, b=2"
    assert setting_label(0.1) == "0.1"


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, r"`seed` must be an integer >= 0. Received: seed=-1"),
    ({"seed": 0, "split": "testing"}, r"`split` must be one of 'train', 'validation', 'test'. Received: split='testing'"),
])
def test_bad_trial_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrialLog(_run)("small", **kwargs)


def test_a_run_returning_no_score_is_named():
    log = TrialLog(lambda setting, *, seed, split: None)
    with pytest.raises(ValueError, match="finite score. It returned None for setting='a', seed=0"):
        log("a", seed=0)
    assert log.trials == []


def test_run_must_be_callable():
    with pytest.raises(TypeError, match="`run` must be a callable"):
        TrialLog("train")
