"""Calibration maths against known answers, the maps' guarantees as properties, and the map applied where the model
serves (predictor, revision); /health's side is in tests/e2e/test_app_calibration.py."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import softmax

from sentiment.evaluation.calibration import ece_of_a_calibrated_model, expected_calibration_error, reliability_bins
from sentiment.inference.calibration import CALIBRATION_FILE, Calibration, negative_log_likelihood
from sentiment.inference.predictor import Predictor
from sentiment.settings import Settings


def _softmax(z: np.ndarray) -> np.ndarray:
    return softmax(z, axis=1)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random((len(probs), 1)) > probs.cumsum(axis=1)).sum(axis=1).clip(0, 2)


def test_ece_of_a_hand_built_sample() -> None:
    """Ten predictions at confidence 0.9 of which 8 are right, ten at 0.6 of which 6 are right:
    ECE = 0.5 * |0.8 - 0.9| + 0.5 * |0.6 - 0.6| = 0.05 (by hand)."""
    high = [[0.9, 0.05, 0.05]] * 10
    low = [[0.6, 0.3, 0.1]] * 10
    labels = [0] * 8 + [1] * 2 + [0] * 6 + [2] * 4
    assert expected_calibration_error(np.array(high + low), labels) == pytest.approx(0.05)
    bins = [b for b in reliability_bins(np.array(high + low), labels) if b.count]
    assert [(b.count, round(b.confidence, 6), b.accuracy) for b in bins] == [(10, 0.6, 0.6), (10, 0.9, 0.8)]
    assert expected_calibration_error(np.array(high), ["negative"] * 9 + ["neutral"]) == pytest.approx(0.0)


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    """Labels drawn from softmax(z / 2) while the model reports softmax(z): the fitted T is 2 (within 5%), the
    labels never change, and ECE and NLL both drop."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (20_000, 3))
    reported, truth = _softmax(z), _softmax(z / 2)
    labels = _draw(truth, rng)
    cal = Calibration.fit(reported, labels, "temperature")
    assert cal.temperature == pytest.approx(2.0, rel=0.05)
    after = cal.apply(reported)
    assert (after.argmax(axis=1) == reported.argmax(axis=1)).all()
    assert expected_calibration_error(after, labels) < 0.02 < expected_calibration_error(reported, labels)
    assert negative_log_likelihood(after, labels) < negative_log_likelihood(reported, labels)


def test_matrix_scaling_also_corrects_a_class_prior_that_temperature_cannot() -> None:
    """Labels drawn from softmax(z + b) with a bias towards the third class: one temperature cannot move the prior,
    matrix scaling can (lower NLL and ECE on fresh rows from the same process)."""
    rng = np.random.default_rng(1)
    bias = np.array([0.0, -0.8, 0.8])
    z_fit, z_new = rng.normal(0, 2, (20_000, 3)), rng.normal(0, 2, (5_000, 3))
    fit_labels, new_labels = _draw(_softmax(z_fit + bias), rng), _draw(_softmax(z_new + bias), rng)
    temperature = Calibration.fit(_softmax(z_fit), fit_labels, "temperature")
    matrix = Calibration.fit(_softmax(z_fit), fit_labels, "matrix")
    new = _softmax(z_new)
    assert negative_log_likelihood(matrix.apply(new), new_labels) < negative_log_likelihood(
        temperature.apply(new), new_labels
    )
    assert expected_calibration_error(matrix.apply(new), new_labels) < 0.02
    frequency = np.bincount(new_labels, minlength=3) / len(new_labels)
    assert np.abs(matrix.apply(new).mean(axis=0) - frequency).max() < 0.01  # the class mix it predicts is right
    assert np.abs(temperature.apply(new).mean(axis=0) - frequency).max() > 0.03


@hsettings(max_examples=60, deadline=None)
@given(
    probs=arrays(np.float64, (12, 3), elements=st.floats(0.0, 1.0)).map(lambda a: a + 1e-3),
    temperature=st.floats(0.1, 10.0),
)
def test_a_temperature_map_keeps_every_label_and_returns_distributions(probs: np.ndarray, temperature: float) -> None:
    probs = probs / probs.sum(axis=1, keepdims=True)
    cal = Calibration("temperature", tuple(tuple(row) for row in np.eye(3) / temperature), (0.0, 0.0, 0.0))
    after = cal.apply(probs).astype(np.float64)
    assert np.allclose(after.sum(axis=1), 1.0, atol=1e-5)
    top = probs.max(axis=1, keepdims=True)
    unique_top = (probs >= top - 1e-9).sum(axis=1) == 1  # ties may break either way
    assert (after.argmax(axis=1) == probs.argmax(axis=1))[unique_top].all()


def test_invalid_rows_stay_invalid_and_a_bad_map_is_refused() -> None:
    cal = Calibration("temperature", ((0.5, 0, 0), (0, 0.5, 0), (0, 0, 0.5)), (0, 0, 0))
    out = cal.apply(np.array([[0.7, 0.2, 0.1], [np.nan, np.nan, np.nan]]))
    assert np.isnan(out[1]).all() and out[0].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown calibration method"):
        Calibration("isotonic", cal.weights, cal.bias)
    with pytest.raises(ValueError, match="3x3"):
        Calibration("matrix", ((1.0, 0.0),), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="at least 50"):
        Calibration.fit(np.full((10, 3), 1 / 3), [0] * 10)


def test_the_ece_of_a_perfectly_calibrated_model_is_not_zero_on_a_small_sample() -> None:
    """Why the ECE target is read against a band: labels drawn from the probabilities themselves still give an ECE
    that shrinks with the number of rows (about 0.03 at 600 rows and 15 bins)."""
    rng = np.random.default_rng(2)
    small, large = _softmax(rng.normal(0, 2, (600, 3))), _softmax(rng.normal(0, 2, (20_000, 3)))
    (mean_small, p90_small), (mean_large, _) = ece_of_a_calibrated_model(small), ece_of_a_calibrated_model(large)
    assert 0.015 < mean_small < p90_small < 0.08
    assert mean_large < mean_small / 3


def test_a_model_folder_with_a_map_serves_calibrated_scores_under_a_new_revision(
    tiny_model_dir: Path, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    raw = Predictor.load(str(folder), settings)
    texts = ["good", "bad and sad", "the bus leaves at noon"]
    cal = Calibration("temperature", ((0.25, 0, 0), (0, 0.25, 0), (0, 0, 0.25)), (0, 0, 0), fitted_on="test rows")
    cal.save(folder)
    calibrated = Predictor.load(str(folder), settings)
    assert calibrated.info.revision == f"{raw.info.revision}+cal:{cal.key()}"
    assert calibrated.info.as_dict()["calibrated"] and "T=4" in calibrated.info.calibration
    np.testing.assert_allclose(
        calibrated.predict_batch(texts).probabilities, cal.apply(raw.predict_batch(texts).probabilities), atol=1e-6
    )
    assert Predictor.load(str(folder), settings, calibrated=False).info.revision == raw.info.revision

    (folder / CALIBRATION_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        damaged = Predictor.load(str(folder), settings)
    assert damaged.info.revision == raw.info.revision and not damaged.info.as_dict()["calibrated"]
    assert "ignoring" in caplog.text
