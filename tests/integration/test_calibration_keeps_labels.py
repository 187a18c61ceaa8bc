"""Calibration keeps the label, on real texts: the embedded model's raw probabilities on held-out labelled sets it
was not calibrated on, a default map fitted on another set, and every predicted label (hence macro-F1) unchanged;
the matrix map, which changes labels, is reported as doing so and is not served without the opt-in.

About 550 texts are scored once per module (a few seconds on 2 quiet cores). The maths of each map is in
tests/unit/test_calibration.py; the served path end to end in tests/e2e/test_app_calibration.py."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.datasets import load_split
from sentiment.errors import CalibrationError
from sentiment.evaluation.metrics import macro_f1
from sentiment.inference.calibration import DEFAULT_METHOD, Calibration
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.models.registry import EMBEDDED_DIR
from sentiment.monitoring.estimation.base import realised_confusion
from sentiment.settings import Settings

FIT = ("vader_tweets", "validation", 250)  # where the map is fitted (as the estimator's reference is)
HELD_OUT = (("airline_tweets", "test", 150), ("vader_amazon", "test", 150))  # another domain, another medium


class Scored:
    """One set's texts, labels and the model's raw (uncalibrated) probabilities, valid rows only."""

    def __init__(self, predictor: Predictor, settings: Settings, dataset: str, split: str, n: int) -> None:
        frame = load_split(dataset, split, settings)
        frame = frame.sample(n=min(n, len(frame)), random_state=0)
        result = predictor.predict_batch(frame["text"].tolist())
        ok = np.asarray(result.valid)
        self.name = dataset
        self.texts = [t for t, keep in zip(frame["text"], ok, strict=True) if keep]
        self.probabilities = result.probabilities[ok]
        self.labels = np.array([LABELS.index(v) for v in frame["label"]])[ok]

    def macro_f1(self, probabilities: np.ndarray) -> float:
        return float(macro_f1(realised_confusion(self.labels, probabilities.argmax(axis=1))))


@pytest.fixture(scope="module")
def raw(session_settings: Settings) -> Predictor:
    return Predictor.load("embedded", session_settings, calibrated=False)


@pytest.fixture(scope="module")
def scored(raw: Predictor, session_settings: Settings) -> dict[str, Scored]:
    sets = [Scored(raw, session_settings, *spec) for spec in (FIT, *HELD_OUT)]
    return {s.name: s for s in sets}


def test_the_default_map_changes_no_label_and_no_macro_f1_on_held_out_real_texts(scored: dict[str, Scored]) -> None:
    """The default map fitted on vader_tweets (validation), applied to airline tweets and Amazon reviews: 0 labels
    changed out of every row, macro-F1 identical. The shipped map (fitted on the four VADER validation splits)
    does the same on these rows. The old shipped matrix map changed 8.1% (airline) and 7.0% (Amazon) of the labels
    of these sets (benchmarks/README.md)."""
    fit = scored[FIT[0]]
    default = Calibration.fit(fit.probabilities, fit.labels)
    shipped = Calibration.load(EMBEDDED_DIR)
    assert default.method == DEFAULT_METHOD and default.temperature != pytest.approx(1.0, abs=0.02)  # it does rescale
    assert shipped is not None
    for dataset, _, n in HELD_OUT:
        held = scored[dataset]
        assert len(held.labels) >= 0.95 * n
        for cal in (default, shipped):
            calibrated = cal.apply(held.probabilities)
            assert not np.allclose(calibrated, held.probabilities, atol=1e-3)  # the probabilities did move
            assert int(cal.changed_labels(held.probabilities).sum()) == 0, (dataset, cal.describe())
            assert held.macro_f1(calibrated) == held.macro_f1(held.probabilities)


def test_the_served_labels_are_the_models_argmax(scored: dict[str, Scored], embedded_predictor: Predictor) -> None:
    """The predictor that serves (the embedded model with its shipped map) answers each held-out text with the
    raw model's argmax: the map that serves changes the scores, never the answer."""
    assert embedded_predictor.calibration is not None and embedded_predictor.calibration.keeps_labels
    for dataset, _, _ in HELD_OUT:
        held = scored[dataset]
        served = embedded_predictor.predict_batch(held.texts[:60])
        assert served.labels == [LABELS[i] for i in held.probabilities[:60].argmax(axis=1)]


def test_the_matrix_map_is_reported_as_label_changing_and_needs_the_opt_in(
    scored: dict[str, Scored], raw: Predictor
) -> None:
    """The matrix map fitted on the same rows changes labels of the held-out sets; it says so (``keeps_labels``,
    the share recorded at fit, its description) and a predictor refuses to serve it without the opt-in."""
    fit = scored[FIT[0]]
    matrix = Calibration.fit(fit.probabilities, fit.labels, "matrix")
    assert not matrix.keeps_labels and matrix.labels_changed is not None and matrix.labels_changed > 0
    assert "it changes labels" in matrix.describe()
    changed = [matrix.changed_labels(scored[d].probabilities).mean() for d, _, _ in HELD_OUT]
    assert all(share > 0.01 for share in changed), changed
    with pytest.raises(CalibrationError, match="CALIBRATION_MAY_CHANGE_LABELS"):
        Predictor(raw.model, calibration=matrix)
