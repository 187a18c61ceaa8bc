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

from sentiment.errors import CalibrationError
from sentiment.evaluation.calibration import ece_of_a_calibrated_model, expected_calibration_error, reliability_bins
from sentiment.inference.calibration import (
    CALIBRATION_FILE,
    DEFAULT_METHOD,
    LABEL_KEEPING_METHODS,
    Calibration,
    negative_log_likelihood,
)
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
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


def _near_ties(base: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Logits whose top two classes differ by ``gaps`` (down to one float32 ulp and exact ties): where rounding a
    calibrated row to float32 could tie two classes that the map kept apart."""
    z = base.copy()
    order = np.argsort(-z, axis=1)
    rows = np.arange(len(z))
    z[rows, order[:, 1]] = z[rows, order[:, 0]] - gaps
    return z


@hsettings(max_examples=80, deadline=None)
@given(
    fit_logits=arrays(np.float64, (60, 3), elements=st.floats(-12.0, 12.0)),
    fit_labels=arrays(np.int64, (60,), elements=st.integers(0, 2)),
    logits=arrays(np.float64, (24, 3), elements=st.floats(-30.0, 30.0)),
    gaps=arrays(np.float64, (24,), elements=st.sampled_from([0.0, 1e-9, 1e-7, 6e-8, 1e-6, 1e-4, 1e-2, 1.0])),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_every_default_calibration_map_keeps_the_argmax_of_every_row(
    fit_logits: np.ndarray, fit_labels: np.ndarray, logits: np.ndarray, gaps: np.ndarray, dtype: type
) -> None:
    """Whatever labelled rows a label-keeping map (the default method and every map served without the opt-in) is
    fitted on, it gives every row of any logits back with the same argmax: random logits, near-ties down to one
    float32 ulp and exact ties, float32 (what models return) and float64 input. No tie is excused: the served label
    must be the model's argmax exactly. The fitted rows are recorded as 0% changed."""
    assert DEFAULT_METHOD in LABEL_KEEPING_METHODS
    for method in LABEL_KEEPING_METHODS:
        cal = Calibration.fit(_softmax(fit_logits), fit_labels, method)
        assert cal.keeps_labels and cal.labels_changed == 0.0
        probs = _softmax(_near_ties(logits, gaps)).astype(dtype)
        after = cal.apply(probs)
        assert np.array_equal(after.argmax(axis=1), probs.argmax(axis=1)), (cal.temperature, probs, after)
        assert np.allclose(after.sum(axis=1), 1.0, atol=1e-5)
        assert not cal.changed_labels(probs).any()


@hsettings(max_examples=60, deadline=None)
@given(
    logits=arrays(np.float64, (24, 3), elements=st.floats(-30.0, 30.0)),
    gaps=arrays(np.float64, (24,), elements=st.sampled_from([0.0, 1e-9, 6e-8, 1e-6, 1e-3])),
    log_t=st.floats(-3.0, 3.0),
)
def test_a_temperature_map_at_any_temperature_keeps_every_label(
    logits: np.ndarray, gaps: np.ndarray, log_t: float
) -> None:
    """Any temperature the fit can return (T in [0.05, 20]), not only fitted ones: a T of 20 squeezes near-ties
    below float32 resolution, and the served row still has the model's top class."""
    cal = Calibration("temperature", tuple(tuple(row) for row in np.eye(3) / np.exp(log_t)), (0.0, 0.0, 0.0))
    probs = _softmax(_near_ties(logits, gaps)).astype(np.float32)
    assert np.array_equal(cal.apply(probs).argmax(axis=1), probs.argmax(axis=1))


def test_only_a_positive_multiple_of_the_identity_with_equal_biases_keeps_labels() -> None:
    """``keeps_labels`` is read from the parameters, not the name: a temperature map whose file holds any other
    parameters is refused (it would change labels), and a matrix map is label-changing unless it is a temperature."""
    assert Calibration("matrix", ((2.0, 0, 0), (0, 2.0, 0), (0, 0, 2.0)), (0.3, 0.3, 0.3)).keeps_labels
    assert not Calibration("matrix", ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)), (0.0, 0.0, 0.2)).keeps_labels
    assert not Calibration("matrix", ((1.0, 0.1, 0), (0, 1.0, 0), (0, 0, 1.0)), (0.0, 0.0, 0.0)).keeps_labels
    assert not Calibration("matrix", ((-1.0, 0, 0), (0, -1.0, 0), (0, 0, -1.0)), (0.0, 0.0, 0.0)).keeps_labels
    with pytest.raises(CalibrationError, match="would change labels"):
        Calibration("temperature", ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)), (0.0, 0.0, 0.2))


def test_a_fitted_matrix_map_records_and_says_that_it_changes_labels() -> None:
    """The class-prior case where matrix scaling helps the likelihood: it moves labels, records the share it moved
    on its own rows, and says so in the line /health and the model card show."""
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (5000, 3))
    labels = _draw(_softmax(z + np.array([0.0, -0.8, 0.8])), rng)
    matrix = Calibration.fit(_softmax(z), labels, "matrix", fitted_on="test rows")
    assert not matrix.keeps_labels
    assert (
        matrix.labels_changed == pytest.approx(matrix.changed_labels(_softmax(z)).mean())
        and matrix.labels_changed > 0.05
    )
    assert f"it changes labels ({matrix.labels_changed:.1%} of the 5,000 rows it was fitted on)" in matrix.describe()
    assert Calibration.fit(_softmax(z), labels).method == "temperature"  # the default map keeps labels


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


def _matrix_map() -> Calibration:
    """A hand-made matrix map that moves probability towards the third class: it changes labels."""
    return Calibration("matrix", ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)), (0.0, 0.0, 1.5), "test rows", 100, 0.25)


def test_a_label_changing_map_serves_only_when_opted_in_and_the_log_says_it_changes_answers(
    tiny_model_dir: Path, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A model folder holding a matrix map: by default the predictor refuses to serve it (warning naming the fix,
    raw probabilities served, /health not calibrated); the constructor refuses it outright; with
    ``calibration_may_change_labels`` it serves, the log line and /health's description say it changes answers, and
    the served labels are the map's argmax (which differ from the model's on these texts)."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    texts = ["good", "bad and sad", "the bus leaves at noon", "fine", "awful", "meh"]
    raw = Predictor.load(str(folder), settings)
    raw_probs = raw.predict_batch(texts).probabilities
    cal = _matrix_map()
    cal.save(folder)
    assert cal.changed_labels(raw_probs).any()  # on these texts the map does change a label

    with caplog.at_level(logging.WARNING, logger="sentiment.inference.predictor"):
        default = Predictor.load(str(folder), settings)
    assert default.calibration is None and not default.info.as_dict()["calibrated"]
    assert default.info.revision == raw.info.revision
    np.testing.assert_array_equal(default.predict_batch(texts).probabilities, raw_probs)
    assert "not applying the matrix calibration map" in caplog.text and "--write temperature" in caplog.text
    assert "25.0% of the 100 rows it was fitted on" in caplog.text

    with pytest.raises(CalibrationError, match="CALIBRATION_MAY_CHANGE_LABELS"):
        Predictor(raw.model, calibration=cal)

    caplog.clear()
    opted = settings.model_copy(update={"calibration_may_change_labels": True})
    with caplog.at_level(logging.WARNING, logger="sentiment.inference.predictor"):
        served = Predictor.load(str(folder), opted)
    assert "CHANGES ANSWERS" in caplog.text
    assert "it changes labels" in served.info.as_dict()["calibration"]
    batch = served.predict_batch(texts)
    assert batch.labels == [LABELS[i] for i in cal.apply(raw_probs).argmax(axis=1)]
    assert batch.labels != [LABELS[i] for i in raw_probs.argmax(axis=1)]


def test_the_shipped_map_keeps_labels() -> None:
    """What ships beside the embedded model is a label-keeping map (so it serves without the opt-in), and the file
    records that it changed none of the rows it was fitted on."""
    from sentiment.models.registry import EMBEDDED_DIR

    shipped = Calibration.load(EMBEDDED_DIR)
    assert shipped is not None and shipped.method == DEFAULT_METHOD and shipped.keeps_labels
    assert shipped.labels_changed == 0.0 and shipped.n > 1000
