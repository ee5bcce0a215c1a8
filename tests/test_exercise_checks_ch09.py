"""Chapter 09's exercises: each check accepts the correct forms and rejects the plausible wrong ones.

Three checks: the activation memory extrapolated from one image (exact integer), int8
quantisation by hand (the converter's scale and zero point, TensorFlow's fake
quantisation), and the design of the "how few bits" experiment, whose check gives
partial credit (one share per criterion of ``TrialLog.review``, and the last share for
the fewest bits within noise with the edge found).
"""

from exercise_harness import check_tests

INT8_RIGHT = '''
lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
scale = (hi - lo) / 255
zero_point = int(np.clip(np.round(-128 - lo / scale), -128, 127))
q = np.clip(np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point, -128, 127).astype(np.int8)
return q, scale, zero_point
'''


def int8(old, new):
    assert old in INT8_RIGHT, old
    return INT8_RIGHT.replace(old, new)


BITS = '''
weight_bits = TrialLog(weight_bits_trial, metric="validation mean IoU")
for bits in {bits}:
    for seed in {seeds}:
        weight_bits({{"bits": bits, "images": {images}}}, seed=seed)
{extra}
c = weight_bits.comparison()
fine = [b for b in {bits} if c.within_noise(setting_label({{"bits": b, "images": {images}}}), c.best)]
chosen = {{"bits": {choose}, "images": {images}}}
'''


def bits(bits="(32, 8, 4, 2)", seeds="SEEDS", images=64, extra="", choose="min(fine)"):
    return BITS.format(bits=bits, seeds=seeds, images=images, extra=extra, choose=choose)


RIGHT_ANSWERS = {
    "activation memory extrapolation": {
        "instructor": None,
        "batch times the pixel ratio": "memory_16_128x256 = one * 16 * 8",
        "float ratios, made an int": "memory_16_128x256 = int(one * 16 * (128 / 64) * (256 / 64))",
    },
    "int8 by hand": {
        "instructor": None,
        "float32 arithmetic and np.rint": '''
            lo, hi = min(lo, 0), max(hi, 0)
            s = np.float32((hi - lo) / 255)
            z = int(np.rint(-128 - lo / s))
            q = np.clip(np.rint(np.asarray(x, np.float32) / s) + z, -128, 127).astype(np.int8)
            return q, float(s), z
        ''',
        "the uint8 range 0 ... 255, shifted by 128": '''
            lo, hi = min(lo, 0.0), max(hi, 0.0)
            s = (hi - lo) / 255
            z_uint8 = round(-lo / s)
            q_uint8 = np.clip(np.floor(np.asarray(x) / s + 0.5) + z_uint8, 0, 255)
            return (q_uint8 - 128).astype(np.int8), s, z_uint8 - 128
        ''',
    },
    "how few bits": {
        "instructor": None,
        "four widths, 128 images, other seeds, seeds outer": '''
            weight_bits = TrialLog(weight_bits_trial, metric="validation mean IoU")
            for seed in (SEED + 10, SEED + 11, SEED + 12):
                for bits in (32, 8, 4, 2):
                    weight_bits({"bits": bits, "images": 128}, seed=seed, split="validation")
            c = weight_bits.comparison()
            ok = [b for b in (32, 8, 4, 2) if not c.clearly_better(c.best, f"bits={b}, images=128")]
            chosen = {"bits": min(ok), "images": 128}
        ''',
        "a template design": bits(),
    },
}

WRONG_ANSWERS = {
    "activation memory extrapolation": {
        "one side's ratio only": ("memory_16_128x256 = 16 * one * 2", r"linear in the batch and in H \* W"),
        "forgot the batch": ("memory_16_128x256 = one * 8", r"linear in the batch"),
        "quadratic in the pixels": ("memory_16_128x256 = 16 * one * 8**2", r"linear in the batch and in H \* W"),
    },
    "int8 by hand": {
        "256 steps instead of 255": (int8("scale = (hi - lo) / 255", "scale = (hi - lo) / 256"), r"255 steps apart"),
        "no clipping before the int8 cast": (
            int8("np.clip(np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point, -128, 127)",
                 "(np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point)"), r"clip to -128 \.\.\. 127"),
        "floor instead of round": (int8("np.round(np.asarray(x", "np.floor(np.asarray(x"), r"nearest integer"),
        "range not widened to contain 0": (
            int8("lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)", "lo, hi = float(lo), float(hi)"), r"contain 0"),
        "zero point with the wrong sign": (int8("-128 - lo / scale", "128 + lo / scale"), r"zero point is 127"),
        "zero point not rounded": (
            int8("zero_point = int(np.clip(np.round(-128 - lo / scale), -128, 127))", "zero_point = -128 - lo / scale"),
            r"must be an integer"),
    },
    "how few bits": {
        "peeked at the test split": (
            bits(extra="for b in (32, 8, 4, 2):\n    weight_bits({'bits': b, 'images': 64}, seed=SEED, split='test')"),
            r"decided on validation: .*test split"),
        "one seed": (
            """
            weight_bits = TrialLog(weight_bits_trial)
            for bits in (32, 8, 4, 2):
                weight_bits({"bits": bits, "images": 64}, seed=SEED)
            chosen = {"bits": 4, "images": 64}
            """, r"at least 3 seeds"),
        "shipped float32, the safest": (bits(choose="32"), r"ship the smaller one"),
        "stopped at 8 bits": (bits(bits="(32, 16, 8)"), r"go lower"),
        "fewer images for fewer bits": (
            '''
            weight_bits = TrialLog(weight_bits_trial)
            for bits, images in ((32, 128), (8, 64), (4, 32), (2, 32)):
                for seed in SEEDS:
                    weight_bits({"bits": bits, "images": images}, seed=seed)
            chosen = {"bits": 4, "images": 32}
            ''', r"same budget: .*'images'"),
    },
}

#: Points a design earns when it misses one point, or more (one share of 0.8 per criterion).
PARTIAL_POINTS = {"peeked at the test split": 3.2, "one seed": 2.4, "shipped float32, the safest": 3.2,
                  "stopped at 8 bits": 3.2, "fewer images for fewer bits": 2.4}


AWARDS = {**{f"how few bits: {form}": 4 for form in RIGHT_ANSWERS["how few bits"]},
          **{f"how few bits: {mistake}": points for mistake, points in PARTIAL_POINTS.items()}}

chapter, test_check_accepts, test_check_rejects = check_tests(
    "09_faq_deployment_and_efficiency.ipynb", RIGHT_ANSWERS, WRONG_ANSWERS, awards=AWARDS)
