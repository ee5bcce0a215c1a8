"""Chapter 06's U-Net exercise: its check accepts the correct forms and rejects the plausible wrong ones.

The check (``# CHECK: build the unet``) compares the student's ``build_unet`` with
``seglearn.models.unet`` built with the same settings. It accepts both ways of doubling
the resolution that ``models.unet`` offers (``Conv2DTranspose(n, 2, strides=2)``, or
``UpSampling2D(2)`` then a 1x1 ``Conv2D``) and both batch normalisations
(``keras.layers.BatchNormalization`` and ``seglearn.models.FusedBatchNormalization``,
which have the same four weights per channel).
"""

import re

import pytest

from exercise_harness import Chapter

CHECK = "build the unet"

TEMPLATE = '''
def conv_block(x, filters):
    for _ in range(2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias={bias})(x)
        {bn}
        x = keras.layers.Activation("relu")(x)
    return x

inputs = keras.Input(input_shape)
x, skips = inputs, []
for level in range(depth):
    x = conv_block(x, {enc_filters})
    {keep}
    x = keras.layers.MaxPooling2D(2)(x)
    {keep_after}
x = conv_block(x, base_filters * 2**depth)
for level in reversed(range(depth)):
    {up}
    {join}
    x = conv_block(x, {dec_filters})
logits = keras.layers.Conv2D(num_classes, 1)(x)
return keras.Model(inputs, logits)
'''

RIGHT_PARTS = dict(
    bias="False",
    bn="x = keras.layers.BatchNormalization()(x)",
    enc_filters="base_filters * 2**level",
    keep="skips.append(x)",
    keep_after="",
    up="x = keras.layers.Conv2DTranspose(base_filters * 2**level, 2, strides=2)(x)",
    join="x = keras.layers.Concatenate()([x, skips[level]])",
    dec_filters="base_filters * 2**level",
)


def answer(**changes):
    return TEMPLATE.format(**{**RIGHT_PARTS, **changes})


RIGHT = {
    "instructor": None,
    "transposed convolution, keras BatchNormalization": answer(),
    "UpSampling2D then a 1x1 Conv2D": answer(
        up="x = keras.layers.UpSampling2D(2)(x)\n    x = keras.layers.Conv2D(base_filters * 2**level, 1)(x)"),
    "bilinear UpSampling2D then a 1x1 Conv2D": answer(
        up='x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)\n'
           "    x = keras.layers.Conv2D(base_filters * 2**level, 1)(x)"),
    "seglearn FusedBatchNormalization": answer(
        bn="x = seglearn.models.FusedBatchNormalization(momentum=0.9)(x)"),
    "skip first in the concatenation": answer(join="x = keras.layers.Concatenate()([skips[level], x])"),
}

WRONG = {  # answer -> what the message must point at
    "no skips (an FCN)": (answer(join=""), "FCN"),
    "encoder filters not doubled": (answer(enc_filters="base_filters"), "encoder doubles"),
    "decoder filters do not halve": (answer(dec_filters="base_filters * 2**depth"), "halve"),
    "skip kept after the pooling": (answer(keep="", keep_after="skips.append(x)"), "wrong level"),
    "skips joined in the wrong order": (
        answer(join="x = keras.layers.Concatenate()([x, skips[depth - 1 - level]])"), "wrong level"),
    "no batch normalisation": (answer(bn="pass"), "batch normalisation"),
    "biases before batch norm": (answer(bias="True"), "use_bias=False"),
    "3x3 convolution after UpSampling2D": (
        answer(up="x = keras.layers.UpSampling2D(2)(x)\n"
                  '    x = keras.layers.Conv2D(base_filters * 2**level, 3, padding="same")(x)'), "parameters"),
    "depth typed in": (answer().replace("range(depth)", "range(DEPTH)").replace("2**depth", "2**DEPTH"),
                       "depth=2"),
}


@pytest.fixture(scope="module")
def chapter_06():
    return Chapter("06_segmentation_unet.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("code", RIGHT.values(), ids=RIGHT.keys())
def test_build_unet_check_accepts(chapter_06, code):
    outcome = chapter_06.check(CHECK, code)
    assert outcome.passed, outcome.message
    assert outcome.output.startswith("right:"), outcome.output


@pytest.mark.slow
@pytest.mark.parametrize("code, hint", WRONG.values(), ids=WRONG.keys())
def test_build_unet_check_rejects(chapter_06, code, hint):
    outcome = chapter_06.check(CHECK, code)
    assert not outcome.passed, f"the check passed a wrong answer; it printed {outcome.output!r}"
    assert re.search(hint, outcome.message), outcome.message
