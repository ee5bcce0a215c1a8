"""Chapter 07's checks accept the correct forms of an answer and reject the plausible wrong ones.

The two older checks read numbers of the chapter (the parameter law ``a + b k^2`` and the
kernel-size comparison); the design exercise ("learning-rate experiment") is reviewed by
``seglearn.experiments.TrialLog.review`` and earns an equal share of its 4 points for each
of its five criteria, so a design with one flaw earns 3.2 points, and the test asserts the
points the check awards. The trainings the checks read are given by the test (``GIVEN``).
"""

import numpy as np

from exercise_harness import check_tests

_LAW = "b = (params[3] - params[1]) // 8\n"

# --------------------------------------------------------------------------- the design exercise's answers
_160 = "8 * STEPS_PER_EPOCH"


def _design(rates="LR_GRID['adam']", seeds="SEEDS[:2]", steps=_160, split="validation",
            chosen="adam_log.comparison().best", extra=""):
    return (f"for lr in {rates}:\n"
            f"    for seed in {seeds}:\n"
            f"        adam_log({{'learning_rate': lr, 'steps': {steps}}}, seed=seed, split={split!r})\n"
            f"{extra}chosen_setting = {chosen}\n")


BY_HAND = """
settings = [{"learning_rate": lr, "steps": 80} for lr in LR_GRID["adam"]]
for seed in SEEDS:
    for setting in settings:
        adam_log(setting, seed=seed)
scores = adam_log.scores()
means = [np.mean(list(scores[setting_label(s)].values())) for s in settings]
chosen_setting = settings[int(np.argmax(means))]
"""

SEEDS_OUTSIDE = """
settings = {setting_label(s): s for s in ({"steps": 8 * STEPS_PER_EPOCH, "learning_rate": lr} for lr in LR_GRID["adam"])}
for seed in (SEED, SEED + 1):
    for setting in settings.values():
        adam_log(setting, seed=seed)
chosen_setting = settings[adam_log.comparison().best]
"""

UNEQUAL_SEEDS = """
for seed in (SEED, SEED + 1):
    adam_log({"learning_rate": 3e-3, "steps": 80}, seed=seed)
for seed in (SEED + 1, SEED + 2):
    adam_log({"learning_rate": 1e-2, "steps": 80}, seed=seed)
chosen_setting = {"learning_rate": 3e-3, "steps": 80}
"""

UNEQUAL_BUDGETS = """
for seed in SEEDS[:2]:
    adam_log({"learning_rate": 3e-3, "steps": 8 * STEPS_PER_EPOCH}, seed=seed)
    adam_log({"learning_rate": 1e-2, "steps": 80}, seed=seed)
chosen_setting = adam_log.comparison().best
"""

# 1e-4 barely moves the weights in 160 steps: clearly worse than 3e-3 on validation
TOO_SMALL = _design(rates="(1e-4, 3e-3)", chosen="{'learning_rate': 1e-4, 'steps': 8 * STEPS_PER_EPOCH}")

RIGHT_ANSWERS = {
    "parameters for k = 9": {
        "instructor": None,
        "float arithmetic, rounded": "b = (params[3] - params[1]) / 8\nparams_k9 = int(round(params[1] + b * (81 - 1)))",
        "a line through (1, p1) and (9, p3) in k^2": (
            "line = np.polyfit([1, 9], [params[1], params[3]], 1)\nparams_k9 = int(round(np.polyval(line, 81)))"),
    },
    "cheapest good kernel": {
        "instructor": None,
        "as text 'k = ...'": ('allowed = [k for k in KERNEL_SIZES if not kernel_cmp.clearly_better(kernel_cmp.best, f"k = {k}")]\n'
                              'cheapest_k = f"k = {min(allowed, key=params.get)}"'),
        "NumPy integer, smallest k (parameters grow with k)": (
            'cheapest_k = np.int64(min(k for k in KERNEL_SIZES\n'
            '                          if not kernel_cmp.clearly_better(kernel_cmp.best, f"k = {k}")))'),
    },
    "learning-rate experiment": {
        "instructor": None,
        "the grid's 80-step runs over three seeds, best mean by hand": BY_HAND,
        "seeds outside, the chosen setting as a dict": SEEDS_OUTSIDE,
    },
}

WRONG_ANSWERS = {
    "parameters for k = 9": {
        "linear in k": (_LAW + "params_k9 = params[1] + b * (9 - 1)", r"a \+ b \* 81"),
        "(k / 3)^2 times k = 3's": ("params_k9 = params[3] * 9", r"a \+ b \* 81"),
        "forgot a": (_LAW + "params_k9 = b * 81", r"a \+ b \* 81"),
    },
    "cheapest good kernel": {
        "a kernel size the experiment did not try": ("cheapest_k = 9", r"give one of \(1, 3, 5, 7\)"),
        "the largest kernel": ("cheapest_k = 7", "fewer parameters|clearly worse"),
        "the smallest kernel, without the comparison": ("cheapest_k = 1", "clearly worse than the best"),
    },
    "learning-rate experiment": {
        "scored on the test split": (_design(split="test", chosen="{'learning_rate': 3e-3, 'steps': 8 * STEPS_PER_EPOCH}"),
                                     "test split"),
        "looked at the test split once while choosing": (
            _design(extra="adam_log({'learning_rate': 3e-3, 'steps': 8 * STEPS_PER_EPOCH}, seed=SEED, split='test')\n"),
            "decided on validation: .*test split"),
        "one seed per setting": (_design(seeds="(SEED,)", chosen="{'learning_rate': 3e-3, 'steps': 8 * STEPS_PER_EPOCH}"),
                                 "at least 2 seeds"),
        "different seeds per setting": (UNEQUAL_SEEDS, "different seeds"),
        "different budgets": (UNEQUAL_BUDGETS, "same budget: .*'steps'"),
        "a clearly worse learning rate chosen": (TOO_SMALL, "clearly worse than learning_rate=0.003"),
        "one learning rate only": (_design(rates="(3e-3,)", chosen="{'learning_rate': 3e-3, 'steps': 8 * STEPS_PER_EPOCH}"),
                                   "compared settings"),
        "a log of its own": ("adam_log = TrialLog(lambda setting, *, seed, split: 0.5)\n" + _design(),
                             "through adam_log = TrialLog\\(adam_trial"),
    },
}

# what the design check awards (4 points, 0.8 for each of the five criteria met)
DESIGN_POINTS = {
    "scored on the test split": 0.8,                 # only "same budget" holds
    "looked at the test split once while choosing": 3.2,
    "one seed per setting": 2.4,                     # no seeds, so no comparison to choose from
    "different seeds per setting": 2.4,
    "different budgets": 3.2,
    "a clearly worse learning rate chosen": 3.2,
    "one learning rate only": 2.4,
}


# --------------------------------------------------------------------------- what the test gives the chapter
# Before its exercises the chapter trains 4 kernel sizes, 3 activations and a grid of optimisers,
# 3 seeds each. The checks need the parameter counts (built here, untrained), the kernel-size
# comparison and a trial function for the learning-rate experiment: the test gives scores
# ranked as such runs rank them (k = 1 and a tiny learning rate far behind, k = 3 and 5 within
# noise of each other), with a seed's noise of 0.01, in no time: the checks are tested on the
# answers' logic and designs, which is what they grade. The notebook test runs the real ones.
KERNEL_IOU = {1: 0.30, 3: 0.62, 5: 0.63, 7: 0.55}
ADAM_IOU = {1e-4: 0.20, 3e-3: 0.60, 1e-2: 0.62}
SPLITS = ("train", "validation", "test")


def _params(namespace):
    return {k: namespace["base_unet"](kernel_size=k).count_params() for k in namespace["KERNEL_SIZES"]}


def _kernel_cmp(namespace):
    seeds = namespace["SEEDS"]
    scores = {f"k = {k}": [KERNEL_IOU[k] + np.random.default_rng([k, seed]).normal(0, 0.01) for seed in seeds]
              for k in namespace["KERNEL_SIZES"]}
    return namespace["compare_over_seeds"](scores, metric="val mIoU")


def _steps_per_epoch(namespace):
    return namespace["N_TRAIN"] // namespace["BATCH_SIZE"]


def _adam_trial(namespace):
    per_epoch, full = namespace["STEPS_PER_EPOCH"], 8 * namespace["STEPS_PER_EPOCH"]

    def adam_trial(setting, *, seed, split):
        lr, n_steps = float(setting["learning_rate"]), int(setting["steps"])
        if n_steps <= 0 or n_steps % per_epoch:
            raise ValueError(f"steps must be a positive multiple of {per_epoch}. Received: steps={setting['steps']!r}")
        noise = np.random.default_rng([seed, round(1e6 * lr), n_steps, SPLITS.index(split)]).normal(0, 0.01)
        return ADAM_IOU.get(lr, 0.5) * min(1.0, n_steps / full) + noise

    return adam_trial


GIVEN = {"params": _params, "kernel_cmp": _kernel_cmp, "STEPS_PER_EPOCH": _steps_per_epoch,
         "adam_trial": _adam_trial}


AWARDS = {**{f"learning-rate experiment: {form}": 4 for form in RIGHT_ANSWERS["learning-rate experiment"]},
          **{f"learning-rate experiment: {mistake}": points for mistake, points in DESIGN_POINTS.items()}}

chapter, test_check_accepts, test_check_rejects = check_tests(
    "07_faq_design_and_training.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, given=GIVEN, confirmation=r"right:|correct:",
    awards=AWARDS)
