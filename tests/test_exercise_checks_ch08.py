"""Chapter 08's checks accept the correct forms of an answer and reject the plausible wrong ones.

The design exercise ("loss experiment") is reviewed by ``seglearn.experiments.TrialLog.review``
and earns an equal share of its 4 points for each of its five criteria met, so a design with
one flaw earns 3.2 points; the test asserts the points the check awards. ``star_trial`` keeps
every training in the chapter's ``loss_runs`` (the comparison's runs included), which the
answers share (the harness copies the namespace shallowly), so each setting and seed is
trained once for the whole module. The symmetries check compares the student's 8 pairs with
the ones ``seglearn.training.random_symmetries`` draws.
"""

import numpy as np

from exercise_harness import check_tests

# --------------------------------------------------------------------------- median-frequency weights
_SHARE = ("masks = np.asarray(masks)\n"
          "share = np.bincount(masks.ravel(), minlength=num_classes) / masks.size\n"
          "present = share > 0\n"
          "out = np.ones(num_classes)\n")

UNIQUE_COUNTS = """
values, counts = np.unique(masks, return_counts=True)
share = np.zeros(num_classes)
share[values] = counts / np.size(masks)
out = np.ones(num_classes)
out[values] = np.median(share[values]) / share[values]
return out
"""

CLASS_LOOP = """
masks = np.asarray(masks)
shares = [float(np.mean(masks == c)) for c in range(num_classes)]
middle = np.median([s for s in shares if s > 0])
return [middle / s if s > 0 else 1.0 for s in shares]
"""

# --------------------------------------------------------------------------- the design exercise's answers


def _design(losses='("cross-entropy", "Dice", "Dice + CE")', seeds="SEEDS", epochs="EPOCHS", split="validation",
            chosen="star_log.comparison().best", extra=""):
    return (f"for name in {losses}:\n"
            f"    for seed in {seeds}:\n"
            f"        star_log({{'loss': name, 'epochs': {epochs}}}, seed=seed, split={split!r})\n"
            f"{extra}chosen_loss = {chosen}\n")


BY_HAND = """
settings = [{"loss": "Dice", "epochs": EPOCHS}, {"loss": "Dice + CE", "epochs": EPOCHS}]
for seed in SEEDS:
    for setting in settings:
        star_log(setting, seed=seed)
scores = star_log.scores()
means = [np.mean(list(scores[setting_label(s)].values())) for s in settings]
chosen_loss = settings[int(np.argmax(means))]
"""

UNEQUAL_SEEDS = """
for seed in SEEDS[:2]:
    star_log({"loss": "Dice", "epochs": EPOCHS}, seed=seed)
for seed in SEEDS[1:]:
    star_log({"loss": "cross-entropy", "epochs": EPOCHS}, seed=seed)
chosen_loss = {"loss": "Dice", "epochs": EPOCHS}
"""

UNEQUAL_BUDGETS = """
for seed in SEEDS[:2]:
    star_log({"loss": "Dice", "epochs": EPOCHS}, seed=seed)
    star_log({"loss": "cross-entropy", "epochs": 2}, seed=seed)
chosen_loss = star_log.comparison().best
"""

DICE = "{'loss': 'Dice', 'epochs': EPOCHS}"
CROSS_ENTROPY = "{'loss': 'cross-entropy', 'epochs': EPOCHS}"

# --------------------------------------------------------------------------- the eight symmetries
TRANSPOSE_AND_FLIPS = """
pairs = []
for swap in (False, True):
    x, y = (np.transpose(image, (1, 0, 2)), mask.T) if swap else (image, mask)
    for up_down in (False, True):
        for left_right in (False, True):
            xx, yy = (x[::-1], y[::-1]) if up_down else (x, y)
            pairs.append((xx[:, ::-1], yy[:, ::-1]) if left_right else (xx, yy))
return pairs
"""

TURNS_THEN_FLIP_AXIS_0 = """
turns = [(np.rot90(image, k, axes=(0, 1)), np.rot90(mask, k)) for k in range(4)]
return tuple(turns + [(np.flip(x, axis=0), np.flip(y, axis=0)) for x, y in turns])
"""


def _symmetries(image_turn="np.rot90(image, k)", mask_turn="np.rot90(mask, k)",
                image_mirror="np.fliplr(x)", mask_mirror="np.fliplr(y)"):
    return (f"pairs = []\n"
            f"for k in range(4):\n"
            f"    x, y = {image_turn}, {mask_turn}\n"
            f"    pairs += [(x, y), ({image_mirror}, {mask_mirror})]\n"
            f"return pairs\n")


FLIPS_AS_MIRRORS = """
turns = [(np.rot90(image, k), np.rot90(mask, k)) for k in range(4)]
mirrors = [(np.fliplr(image), np.fliplr(mask)), (np.flipud(image), np.flipud(mask)),
           (np.flipud(np.fliplr(image)), np.flipud(np.fliplr(mask))), (np.transpose(image, (1, 0, 2)), mask.T)]
return turns + mirrors
"""

RIGHT_ANSWERS = {
    "median-frequency weights": {
        "instructor": None,
        "np.unique counts": UNIQUE_COUNTS,
        "a loop over the classes, as a list": CLASS_LOOP,
    },
    "loss experiment": {
        "instructor": None,
        "Dice against Dice + CE, best mean by hand": BY_HAND,
        "the comparison's four losses (no new training)": _design(
            losses='("cross-entropy", "weighted CE", "Dice", "focal")'),
    },
    "eight symmetries": {
        "instructor": None,
        "transpose, then the two flips": TRANSPOSE_AND_FLIPS,
        "the 4 turns and their up-down mirrors, a tuple": TURNS_THEN_FLIP_AXIS_0,
    },
}

WRONG_ANSWERS = {
    "median-frequency weights": {
        "median over every class, absent ones as 0": (
            _SHARE + "out[present] = np.median(share) / share[present]\nreturn out", "median of the present classes"),
        "inverse frequency without the median": (
            _SHARE + "out[present] = 1 / share[present]\nreturn out", "median of the present classes"),
        "absent classes weighted 0": (
            _SHARE.replace("np.ones", "np.zeros") + "out[present] = np.median(share[present]) / share[present]\nreturn out",
            "median of the present classes"),
    },
    "loss experiment": {
        "scored on the test split": (_design(split="test", chosen=DICE), "test split"),
        "looked at the test split once while choosing": (
            _design(extra=f"star_log({DICE}, seed=SEED, split='test')\n"), "decided on validation: .*test split"),
        "one seed per setting": (_design(seeds="(SEED,)", chosen=DICE), "at least 2 seeds"),
        "different seeds per setting": (UNEQUAL_SEEDS, "different seeds"),
        "different budgets": (UNEQUAL_BUDGETS, "same budget: .*'epochs'"),
        "a clearly worse loss chosen": (_design(losses='("cross-entropy", "Dice")', chosen=CROSS_ENTROPY),
                                        "clearly worse than epochs=4, loss=Dice"),
        "one loss only": (_design(losses='("Dice",)', chosen=DICE), "compared settings"),
        "a log of its own": ("star_log = TrialLog(lambda setting, *, seed, split: 0.5)\n" + _design(),
                             r"through star_log = TrialLog\(star_trial"),
    },
    "eight symmetries": {
        "the mask left as it is": (_symmetries(mask_turn="mask", mask_mirror="y"), "the mask must turn with its image"),
        "the mask turned the other way": (_symmetries(mask_turn="np.rot90(mask, -k)"), "the mask must turn with its image"),
        "np.flip without an axis": (_symmetries(image_mirror="np.flip(x)", mask_mirror="np.flip(y)"),
                                    "colours are reversed"),
        "the 4 turns only": ("return [(np.rot90(image, k), np.rot90(mask, k)) for k in range(4)]", "returned 4 pairs"),
        "both flips taken for a mirror image": (FLIPS_AS_MIRRORS, "only 7 of your 8 pairs differ"),
    },
}

# what the design check awards (4 points, 0.8 for each of the five criteria met)
DESIGN_POINTS = {
    "scored on the test split": 0.8,                 # only "same budget" holds
    "looked at the test split once while choosing": 3.2,
    "one seed per setting": 2.4,                     # no seeds, so no comparison to choose from
    "different seeds per setting": 2.4,
    "different budgets": 3.2,
    "a clearly worse loss chosen": 3.2,
    "one loss only": 2.4,
}


# --------------------------------------------------------------------------- what the test gives the chapter
# The chapter trains 3 baselines and 4 losses x 3 seeds before its first exercise; the checks
# need only the rare-star data, its class weights, the training windows and a trial function. The trial function
# given scores each loss as those runs rank them (cross-entropy misses the stars, Dice and
# Dice + CE find them, within noise of each other), with a seed's noise of 0.01, in no time:
# the checks are tested on how a design is made, which is what they grade.
STAR_IOU = {"cross-entropy": 0.10, "weighted CE": 0.45, "Dice": 0.55, "focal": 0.20, "Dice + CE": 0.56}
SPLITS = ("train", "validation", "test")


def _rare_train(namespace):
    return namespace["make_shapes"](384, seed=namespace["DATA_SEEDS"]["imbalance_train"], **namespace["RARE"])


def _weights(namespace):
    """Median-frequency weights of the rare-star training masks, as the chapter computes them."""
    masks, num_classes = namespace["rare_train"][1], namespace["NUM_CLASSES"]
    share = np.bincount(masks.ravel(), minlength=num_classes) / masks.size
    weights = np.ones(num_classes)
    weights[share > 0] = np.median(share[share > 0]) / share[share > 0]
    return weights


def _star_trial(namespace):
    full_epochs = namespace["EPOCHS"]

    def star_trial(setting, *, seed, split):
        name, epochs = setting["loss"], int(setting["epochs"])
        if name not in STAR_IOU:
            raise ValueError(f"loss must be one of {list(STAR_IOU)}. Received: loss={name!r}")
        noise = np.random.default_rng([seed, list(STAR_IOU).index(name), epochs, SPLITS.index(split)]).normal(0, 0.01)
        return STAR_IOU[name] * min(1.0, epochs / full_epochs) + noise

    return star_trial


def _train(namespace):
    """The chapter's training windows (its first cell of experiments also trains baselines on them)."""
    n = namespace
    scenes = n["make_shapes"](n["N_SCENES"]["train"], seed=n["DATA_SEEDS"]["train"], **n["SCENE"])
    return n["random_crops"](*scenes, n["WINDOW"], per_image=2, seed=n["SEED"])


GIVEN = {"rare_train": _rare_train, "weights": _weights, "star_trial": _star_trial, "train": _train}


AWARDS = {**{f"loss experiment: {form}": 4 for form in RIGHT_ANSWERS["loss experiment"]},
          **{f"loss experiment: {mistake}": points for mistake, points in DESIGN_POINTS.items()}}

chapter, test_check_accepts, test_check_rejects = check_tests(
    "08_faq_data_and_robustness.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, given=GIVEN, confirmation=r"right:|Check passed",
    awards=AWARDS)
