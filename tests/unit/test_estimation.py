"""Performance estimators on synthetic data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.errors import EstimationInputError
from sentiment.monitoring.estimation import (
    ATC,
    BBSE,
    CBPE,
    ESTIMATORS,
    ImportanceWeighted,
    LabelledReference,
    atc_threshold,
    bbse_weights,
    confusion_metrics,
    make_estimator,
    negative_entropy,
    realised_confusion,
)

K = 3


def calibrated_sample(n: int, rng: np.random.Generator, concentration: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities from a Dirichlet and labels drawn from them: perfectly calibrated by construction."""
    probs = rng.dirichlet(np.full(K, concentration), size=n)
    labels = (rng.random((n, 1)) > probs.cumsum(axis=1)).sum(axis=1).clip(0, K - 1)
    return probs, labels


def label_shift_sample(n: int, prior: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One-dimensional Gaussian classes at -2, 0, 2; probabilities are the Bayes posterior under a *uniform*
    prior (the source), so they are calibrated on a uniform-prior sample and only wrong by the prior elsewhere."""
    labels = rng.choice(K, size=n, p=prior)
    x = rng.normal(np.array([-2.0, 0.0, 2.0])[labels], 1.0)
    logits = -0.5 * (x[:, None] - np.array([-2.0, 0.0, 2.0])[None, :]) ** 2
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True), labels


def truth_of(probs: np.ndarray, labels: np.ndarray):  # type: ignore[no-untyped-def]
    return confusion_metrics(realised_confusion(labels, probs.argmax(axis=1)))


def test_confusion_metrics_by_hand() -> None:
    # rows true, columns predicted: 5 right of 8; class 0: TP 2, FP 1, FN 1 -> F1 = 4/6
    confusion = np.array([[2, 1, 0], [1, 1, 0], [0, 1, 2]])
    m = confusion_metrics(confusion)
    assert m.accuracy == pytest.approx(5 / 8)
    assert m.f1 == pytest.approx((4 / 6, 2 / 5, 4 / 5))
    assert m.macro_f1 == pytest.approx(np.mean([4 / 6, 2 / 5, 4 / 5]))


def test_cbpe_is_right_within_sampling_error_on_calibrated_data() -> None:
    rng = np.random.default_rng(1)
    reference = LabelledReference.of(*calibrated_sample(2000, rng))
    probs, labels = calibrated_sample(3000, rng, concentration=0.5)  # a different confidence mix, still calibrated
    found = CBPE(reference, bootstrap=10).estimate(probs)
    truth = truth_of(probs, labels)
    # the realised accuracy of 3,000 rows varies around the expectation by ~0.008 (one sd)
    assert found.accuracy == pytest.approx(truth.accuracy, abs=0.03)
    assert found.macro_f1 == pytest.approx(truth.macro_f1, abs=0.03)
    assert found.accuracy == pytest.approx(probs.max(axis=1).mean())  # no recalibration: the mean top probability
    assert found.accuracy_band[0] <= truth.accuracy <= found.accuracy_band[1]


def test_cbpe_band_covers_the_truth_about_as_often_as_it_says() -> None:
    rng = np.random.default_rng(2)
    reference = LabelledReference.of(*calibrated_sample(1000, rng))
    estimator = CBPE(reference, bootstrap=5, draws=100)
    hits = 0
    for _ in range(60):
        probs, labels = calibrated_sample(200, rng)
        found = estimator.estimate(probs)
        hits += found.accuracy_band[0] <= truth_of(probs, labels).accuracy <= found.accuracy_band[1]
    assert 0.8 <= hits / 60 <= 1.0  # nominal 90%


def test_recalibration_removes_over_confidence() -> None:
    rng = np.random.default_rng(3)
    probs, labels = calibrated_sample(3000, rng)
    sharpened = probs**3 / (probs**3).sum(axis=1, keepdims=True)  # over-confident, same argmax
    reference = LabelledReference.of(sharpened[:1500], labels[:1500])
    truth = truth_of(sharpened[1500:], labels[1500:]).accuracy
    naive = CBPE(reference, bootstrap=0).point(sharpened[1500:]).accuracy
    recalibrated = CBPE(reference, calibration="temperature", bootstrap=0).point(sharpened[1500:]).accuracy
    assert naive - truth > 0.05
    assert abs(recalibrated - truth) < 0.03


def test_atc_threshold_by_hand() -> None:
    scores = np.array([0.5, 0.1, 0.4, 0.2, 0.3])
    correct = np.array([True, False, True, True, False])  # two errors: two scores must fall below t
    t = atc_threshold(scores, correct)
    assert t == 0.3
    assert np.count_nonzero(scores < t) == 2
    assert atc_threshold(scores, np.ones(5, bool)) == 0.1  # no errors: nothing below
    assert atc_threshold(scores, np.zeros(5, bool)) > 0.5  # all wrong: everything below


def test_atc_estimates_the_share_at_or_above_the_threshold() -> None:
    rng = np.random.default_rng(4)
    reference = LabelledReference.of(*calibrated_sample(500, rng))
    estimator = ATC(reference, bootstrap=0)
    probs, _ = calibrated_sample(300, rng)
    threshold = atc_threshold(
        negative_entropy(reference.probabilities), reference.probabilities.argmax(axis=1) == reference.labels
    )
    expected = float(np.mean(negative_entropy(probs) >= threshold))
    assert estimator.point(probs).accuracy == pytest.approx(expected)


def test_bbse_recovers_known_label_weights() -> None:
    rng = np.random.default_rng(5)
    source = np.full(K, 1 / K)
    target = np.array([0.6, 0.3, 0.1])
    reference = LabelledReference.of(*label_shift_sample(6000, source, rng))
    probs, labels = label_shift_sample(6000, target, rng)
    estimator = BBSE(reference, bootstrap=0)
    np.testing.assert_allclose(estimator.label_weights(probs), target / source, atol=0.1)
    truth = truth_of(probs, labels)
    assert estimator.point(probs).accuracy == pytest.approx(truth.accuracy, abs=0.02)
    # CBPE on the same data is wrong by the prior alone, and BBSE's correction brings macro-F1 closer too
    cbpe = CBPE(reference, bootstrap=0).point(probs)
    assert abs(estimator.point(probs).macro_f1 - truth.macro_f1) < abs(cbpe.macro_f1 - truth.macro_f1)


def test_bbse_weights_solve_the_linear_system_exactly() -> None:
    joint = np.array([[0.3, 0.05, 0.0], [0.03, 0.25, 0.02], [0.0, 0.05, 0.3]])  # rows predicted, columns true
    prior = joint.sum(axis=0)
    weights = np.array([1.5, 0.5, 1.0])
    weights = weights / (weights @ prior)
    np.testing.assert_allclose(bbse_weights(joint, joint @ weights, prior), weights, atol=1e-9)


def test_importance_weighting_follows_a_covariate_shift() -> None:
    """The model is right where x > 0 and a coin flip elsewhere; the window moves towards x > 0: CBPE with the
    reference's (uninformative) probabilities cannot see it, the domain classifier on x can."""
    rng = np.random.default_rng(6)

    def sample(n: int, centre: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = rng.normal(centre, 1.0, size=(n, 2))
        labels = rng.integers(0, K, n)
        right = (x[:, 0] > 0) | (rng.random(n) < 1 / K)
        predicted = np.where(right, labels, (labels + rng.integers(1, K, n)) % K)
        probs = np.full((n, K), 0.2)
        probs[np.arange(n), predicted] = 0.6
        return probs, labels, x

    probs_r, labels_r, x_r = sample(3000, 0.0)
    reference = LabelledReference.of(probs_r, labels_r, x_r)
    probs, labels, x = sample(1000, 1.0)
    truth = truth_of(probs, labels).accuracy
    estimate = ImportanceWeighted(reference, bootstrap=0).point(probs, x).accuracy
    assert abs(estimate - truth) < 0.05
    assert abs(CBPE(reference, bootstrap=0).point(probs).accuracy - truth) > 0.15


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
def test_every_estimator_is_right_without_shift(method: str) -> None:
    rng = np.random.default_rng(7)
    probs, labels = calibrated_sample(9000, rng)
    emb = rng.normal(size=(9000, 4))
    reference = LabelledReference.of(probs[:3000], labels[:3000], emb[:3000])
    found = make_estimator(method, reference, bootstrap=5).estimate(probs[3000:], emb[3000:])
    truth = truth_of(probs[3000:], labels[3000:])
    assert found.method == method and found.n == 6000
    # one sd of the realised accuracy of 6,000 rows is ~0.006; the estimators' own fit on 3,000 adds about as much
    assert found.accuracy == pytest.approx(truth.accuracy, abs=0.03)
    assert found.macro_f1 == pytest.approx(truth.macro_f1, abs=0.03)
    assert found.accuracy_band[0] <= found.accuracy <= found.accuracy_band[1]
    assert set(found.f1) == {"negative", "neutral", "positive"}
    assert found.as_dict()["accuracy_band"] == list(found.accuracy_band)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2**16))
def test_estimates_are_valid_metrics_on_any_window(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = LabelledReference.of(*calibrated_sample(60, rng))
    probs = rng.dirichlet(np.full(K, 0.3), size=n)
    for method in ("cbpe", "atc", "doc", "bbse", "bbse_doc"):
        found = make_estimator(method, reference, bootstrap=2, draws=3).estimate(probs)
        for value, (low, high) in ((found.accuracy, found.accuracy_band), (found.macro_f1, found.macro_f1_band)):
            assert 0.0 <= value <= 1.0 and 0.0 <= low <= high <= 1.0


def test_inputs_that_cannot_be_read_say_what_to_pass() -> None:
    rng = np.random.default_rng(8)
    probs, labels = calibrated_sample(100, rng)
    with pytest.raises(EstimationInputError, match="at least 50"):
        LabelledReference.of(probs[:10], labels[:10])
    with pytest.raises(EstimationInputError, match=r"\(n, 3\)"):
        LabelledReference.of(probs[:, :2], labels)
    with pytest.raises(EstimationInputError, match="unknown labels"):
        LabelledReference.of(probs, ["good"] * 100)
    with pytest.raises(EstimationInputError, match="embeddings"):
        make_estimator("iw", LabelledReference.of(probs, labels))
    with pytest.raises(EstimationInputError, match="unknown estimator"):
        make_estimator("magic", LabelledReference.of(probs, labels))
    with pytest.raises(EstimationInputError, match="NaN"):
        CBPE(LabelledReference.of(probs, labels), bootstrap=0).estimate(np.full((2, 3), np.nan))
    with pytest.raises(EstimationInputError, match="rows of zeros"):
        CBPE(LabelledReference.of(probs, labels), bootstrap=0).estimate(np.zeros((2, 3)))
    with pytest.raises(EstimationInputError, match="empty window"):
        CBPE(LabelledReference.of(probs, labels), bootstrap=0).estimate(np.zeros((0, 3)))
    assert isinstance(EstimationInputError("x"), ValueError)


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
def test_an_estimator_counts_the_served_labels_even_when_its_own_map_changes_them(method: str) -> None:
    """The estimators may refit any map for estimation, a label-changing ``matrix`` one included, but they count
    predictions as served (the argmax of the served probabilities): the estimated confusion's column sums are
    exactly the window's served-label shares. The reference's truth leans towards the third class, so the matrix
    map moves many labels there (asserted); counting its argmax instead would put those rows in another column."""
    from sentiment.inference.calibration import Calibration

    rng = np.random.default_rng(11)
    probs, _ = calibrated_sample(4000, rng)
    biased = probs * np.array([0.5, 0.5, 2.0])
    truth = (rng.random((4000, 1)) > (biased / biased.sum(axis=1, keepdims=True)).cumsum(axis=1)).sum(axis=1)
    emb = rng.normal(size=(4000, 4))
    reference = LabelledReference.of(probs[:2000], truth[:2000].clip(0, K - 1), emb[:2000])
    window = probs[2000:]
    moved = Calibration.fit(reference.probabilities, reference.labels, "matrix").changed_labels(window).mean()
    assert moved > 0.05  # the map the estimator refits does change labels here
    found = make_estimator(method, reference, calibration="matrix", bootstrap=2, draws=3).estimate(window, emb[2000:])
    served_share = np.bincount(window.argmax(axis=1), minlength=K) / len(window)
    np.testing.assert_allclose(np.asarray(found.confusion).sum(axis=0), served_share, atol=1e-9)
