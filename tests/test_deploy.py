"""Tests of seglearn.deploy: TensorFlow Lite conversion and inference.

``tiny_model`` and ``calib`` are the shared fixtures of ``tests/conftest.py``.
"""

import numpy as np
import pytest

from seglearn import deploy

pytestmark = pytest.mark.tf


def test_tflite_float_equals_keras(tiny_model, calib):
    flat = deploy.tflite_convert(tiny_model, "float")
    got = deploy.tflite_predict(flat, calib[:5])
    want = np.asarray(tiny_model(calib[:5], training=False))
    # Same float32 arithmetic, possibly in another order (XNNPACK): a few ulps.
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_tflite_quantised_models_are_smaller_and_close(tiny_model, calib):
    sizes = {}
    outputs = {}
    for mode in deploy.TFLITE_MODES:
        content = deploy.tflite_convert(tiny_model, mode, representative_data=calib)
        sizes[mode] = len(content)
        outputs[mode] = deploy.tflite_predict(content, calib[:4])
    assert sizes["dynamic"] < sizes["float"] and sizes["int8"] < sizes["float"]
    span = float(np.ptp(outputs["float"]))
    for mode in ("dynamic", "int8"):
        error = float(np.abs(outputs[mode] - outputs["float"]).max())
        # int8 has 256 levels over each tensor's range: errors of a few
        # quantisation steps (span / 256 each) add up through 3 layers.
        assert error < 0.1 * span, (mode, error, span)
        assert error > 0, f"{mode} should not be exactly float"


def test_tflite_rejects_bad_input(tiny_model, calib):
    with pytest.raises(ValueError, match="representative_data"):
        deploy.tflite_convert(tiny_model, "int8")
    with pytest.raises(ValueError, match="mode"):
        deploy.tflite_convert(tiny_model, "int4")
    with pytest.raises(ValueError, match="representative_data"):
        deploy.tflite_convert(tiny_model, "int8", representative_data=calib[:, :8, :8])
    with pytest.raises(TypeError, match="model_content"):
        deploy.tflite_predict("model.tflite", calib)
    content = deploy.tflite_convert(tiny_model, "float")
    with pytest.raises(ValueError, match="images"):
        deploy.tflite_predict(content, calib[:, :8, :8])

