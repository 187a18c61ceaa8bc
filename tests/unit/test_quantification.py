"""Class shares under label shift (sentiment.monitoring.quantification) against quapy as the known answer, on
synthetic traffic whose true shares are known, and the two shift tests by simulation."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator, ClassifierMixin

from sentiment.errors import EstimationInputError
from sentiment.monitoring.estimation import LabelledReference
from sentiment.monitoring.quantification import (
    METHODS,
    BiasCorrectedTemperature,
    Quantifier,
    choose_method,
    em_prior,
    estimate_shares,
    label_shift_fit_test,
    label_shift_test,
    simplex_least_squares,
)

K = 3
MEANS = np.array([-2.0, 0.0, 2.0])
UNIFORM = np.full(K, 1.0 / K)


def label_shift_sample(n: int, prior: object, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes at -2, 0, 2 (sd 1); the probabilities are the Bayes posterior under a uniform prior, so
    they are calibrated on uniform-prior traffic and wrong only by the prior elsewhere: pure label shift."""
    labels = rng.choice(K, size=n, p=np.asarray(prior))
    x = rng.normal(MEANS[labels], 1.0)
    log_lik = -0.5 * (x[:, None] - MEANS) ** 2
    probs = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True), labels


def soften(probs: np.ndarray, power: float) -> np.ndarray:
    """The same predictions, less (power < 1) or more sure: what another domain does to P(x | y) as seen by the
    model, with the class mix unchanged."""
    out = probs**power
    return out / out.sum(axis=1, keepdims=True)


class Precomputed(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted 'classifier' whose input is already its posterior matrix: how quapy reads precomputed outputs."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Precomputed:
        self.classes_ = np.arange(K)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X).argmax(axis=1)


def quapy_shares(method: str, ref_probs: np.ndarray, ref_labels: np.ndarray, window: np.ndarray) -> np.ndarray:
    """quapy 0.2.3's answer, fitted on the same reference posteriors (its defaults: ACC/PACC solve by SLSQP on the
    simplex, then clip; EMQ with BCTS from the abstention package and the calibrated mean as the source prior)."""
    from quapy.method import aggregative as qa

    made = {
        "cc": lambda c: qa.CC(c, fit_classifier=False),
        "pcc": lambda c: qa.PCC(c, fit_classifier=False),
        "acc": lambda c: qa.ACC(c, fit_classifier=False, val_split=None),
        "pacc": lambda c: qa.PACC(c, fit_classifier=False, val_split=None),
        "em": lambda c: qa.EMQ(
            c, fit_classifier=False, val_split=(ref_probs, ref_labels), calib="bcts", exact_train_prev=False
        ),
    }
    quantifier = made[method](Precomputed().fit(ref_probs, ref_labels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantifier.fit(ref_probs, ref_labels)
        if method == "em":  # quapy stops EM when the shares move < 1e-4 on average; ours at 1e-6 (max)
            return np.asarray(quantifier.aggregate(window, epsilon=1e-10))
        return np.asarray(quantifier.aggregate(quantifier.classify(window)))


# CC and PCC are the same arithmetic. quapy's ACC/PACC minimise ||M p - q|| by SLSQP, which stops when that
# objective changes by less than 1e-6; near the optimum the objective is quadratic in p, so p is only fixed to about
# sqrt(1e-6) = 1e-3 (measured: 5e-4 with the optimum on a face of the simplex), while ours is exact. Its BCTS is an
# L-BFGS-B fit at tol 1e-7 (calibrated probabilities within 6e-5 of ours, tested below), and EM stops at a 1e-6 step.
TOLERANCE = {"cc": 1e-12, "pcc": 1e-12, "acc": 1e-3, "pacc": 1e-3, "em": 1e-3}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("prior", [UNIFORM, (0.6, 0.3, 0.1), (0.05, 0.25, 0.7), (0.2, 0.7, 0.1)])
def test_matches_quapy_under_label_shift(method: str, prior: tuple[float, ...]) -> None:
    """On label-shifted windows of an informative classifier (a well-posed adjustment) every method gives
    quapy's shares, to the tolerance its solver and stopping rule allow (``TOLERANCE``)."""
    rng = np.random.default_rng(7)
    ref_probs, ref_labels = label_shift_sample(800, UNIFORM, rng)
    window, _ = label_shift_sample(400, prior, rng)
    ours = Quantifier.fit(method, LabelledReference.of(ref_probs, ref_labels)).shares(window)
    np.testing.assert_allclose(ours, quapy_shares(method, ref_probs, ref_labels, window), atol=TOLERANCE[method])


def _window_log_likelihood(posteriors: np.ndarray, source: np.ndarray, prior: np.ndarray) -> float:
    return float(np.sum(np.log((posteriors * (prior / source)).sum(axis=1))))


@pytest.mark.parametrize("seed", range(6))
def test_matches_quapy_on_random_calibrated_classifiers(seed: int) -> None:
    """Random posteriors (Dirichlet, random concentration) with labels drawn from them (a calibrated classifier of
    random sharpness) and a random window: every method gives quapy's shares to ``TOLERANCE``."""
    rng = np.random.default_rng(100 + seed)
    ref_probs = rng.dirichlet(np.full(K, rng.uniform(0.2, 1.0)), 600)
    ref_labels = (rng.random((600, 1)) > ref_probs.cumsum(axis=1)).sum(axis=1).clip(0, K - 1)
    window = rng.dirichlet(np.full(K, rng.uniform(0.2, 1.0)) * rng.dirichlet(np.ones(K)) * K, 300)
    reference = LabelledReference.of(ref_probs, ref_labels)
    for method in METHODS:
        ours = Quantifier.fit(method, reference).shares(window)
        theirs = quapy_shares(method, ref_probs, ref_labels, window)
        np.testing.assert_allclose(ours, theirs, atol=TOLERANCE[method], err_msg=method)


@pytest.mark.parametrize("seed", range(6))
def test_uninformative_cases_are_at_least_as_good_as_quapy(seed: int) -> None:
    """Random posteriors with labels independent of them: the classifier carries no information, the adjustment is
    ill-posed and many share vectors fit equally well, so the shares may differ from quapy's and the known answer
    is the objective. ACC and PACC's residual ``||M p - q||`` is never above quapy's (ours is the exact minimum on
    the simplex, quapy's an SLSQP search). EM's window log-likelihood is within 0.01 nats of quapy's or above:
    the likelihood is nearly flat here, EM creeps, and both stop early; 0.01 nats is a likelihood ratio of 1.01,
    far below what any test could tell apart (a 95% likelihood-ratio test needs 1.9 nats)."""
    rng = np.random.default_rng(seed)
    ref_probs, ref_labels = rng.dirichlet(np.full(K, 0.7), 300), rng.integers(0, K, 300)
    window = rng.dirichlet(np.full(K, rng.uniform(0.3, 3.0)), 200)
    reference = LabelledReference.of(ref_probs, ref_labels)
    for method, counted in (("acc", np.bincount(window.argmax(axis=1), minlength=K) / 200), ("pacc", window.mean(0))):
        fitted = Quantifier.fit(method, reference)
        assert fitted.rates is not None
        ours, theirs = fitted.shares(window), quapy_shares(method, ref_probs, ref_labels, window)
        assert np.linalg.norm(fitted.rates @ ours - counted) <= np.linalg.norm(fitted.rates @ theirs - counted) + 1e-9
    em = Quantifier.fit("em", reference)
    assert em.calibration is not None
    posteriors = em.calibration.apply(window)
    ours, theirs = em.shares(window), quapy_shares("em", ref_probs, ref_labels, window)
    likelihood = _window_log_likelihood(posteriors, em.source_prior, ours)
    assert likelihood >= _window_log_likelihood(posteriors, em.source_prior, theirs) - 0.01


def test_bcts_matches_abstention_and_reproduces_the_reference_prior() -> None:
    """BCTS equals the abstention package's (what quapy's EMQ-BCTS calls) to 1e-4 on every probability, and its
    calibrated reference posteriors average to the reference's label shares (the bias gradients are zero at the
    optimum), so EM on the reference itself returns the reference's shares."""
    from abstention.calibration import TempScaling

    rng = np.random.default_rng(3)
    probs, labels = label_shift_sample(1000, (0.5, 0.2, 0.3), rng)
    probs = soften(probs, 0.6)  # under-confident: a temperature below 1 and non-zero biases to find
    ours = BiasCorrectedTemperature.fit(probs, labels)
    theirs = TempScaling(bias_positions="all")(probs, np.eye(K)[labels], posterior_supplied=True)
    np.testing.assert_allclose(ours.apply(probs), theirs(probs), atol=1e-4)
    assert ours.temperature < 0.8
    label_shares = np.bincount(labels, minlength=K) / len(labels)
    np.testing.assert_allclose(ours.apply(probs).mean(axis=0), label_shares, atol=1e-8)
    np.testing.assert_allclose(em_prior(ours.apply(probs), label_shares), label_shares, atol=1e-6)


@pytest.mark.parametrize("prior", [(0.7, 0.25, 0.05), (0.1, 0.2, 0.7)])
def test_corrections_recover_shifted_shares_and_counting_does_not(prior: tuple[float, ...]) -> None:
    """Pure label shift, calibrated classifier, 3,000 reference rows and a 5,000-row window: ACC, PACC and EM land
    within 0.035 of the window's true shares in every class (their sampling error here is about 0.01-0.02), while
    CC and PCC miss by more than 0.05 (they report the classifier's pull towards the reference's uniform prior)."""
    rng = np.random.default_rng(1)
    ref_probs, ref_labels = label_shift_sample(3000, UNIFORM, rng)
    window, labels = label_shift_sample(5000, prior, rng)
    reference = LabelledReference.of(ref_probs, ref_labels)
    truth = np.bincount(labels, minlength=K) / len(labels)
    errors = {m: np.abs(Quantifier.fit(m, reference).shares(window) - truth).max() for m in METHODS}
    assert max(errors["acc"], errors["pacc"], errors["em"]) <= 0.035, errors
    assert min(errors["cc"], errors["pcc"]) > 0.05, errors


def test_simplex_least_squares_is_the_inverse_inside_and_the_best_point_outside() -> None:
    """Where ``M^{-1} q`` is a valid share vector the solver returns it; where it is not, the answer is on the
    simplex and no random point of the simplex has a smaller residual (the raw inverse has negative shares)."""
    m = np.array([[0.8, 0.15, 0.05], [0.15, 0.7, 0.15], [0.05, 0.15, 0.8]])
    inside = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(simplex_least_squares(m, m @ inside), inside, atol=1e-10)
    outside = np.array([0.9, 0.02, 0.08])  # q that no share vector produces: M^{-1} q has a negative share
    assert (np.linalg.solve(m, outside) < 0).any()
    found = simplex_least_squares(m, outside)
    assert found.min() >= 0 and found.sum() == pytest.approx(1.0)
    points = np.random.default_rng(0).dirichlet(np.ones(K), 20000)
    residuals = np.linalg.norm(points @ m.T - outside, axis=1)
    assert np.linalg.norm(m @ found - outside) <= residuals.min() + 1e-12


probabilities = arrays(
    np.float64, st.tuples(st.integers(1, 40), st.just(K)), elements=st.floats(0.0, 1.0, allow_subnormal=False)
).filter(lambda a: bool((a.sum(axis=1) > 1e-3).all()))


@settings(max_examples=25, deadline=None)
@given(window=probabilities, seed=st.integers(0, 2**16), data=st.data())
def test_shares_are_on_the_simplex_and_ignore_row_order(window: np.ndarray, seed: int, data: st.DataObject) -> None:
    """For any window (ties, one-hot rows, one row) and any reference, every method's shares are in [0, 1] and sum
    to 1, and permuting the window's rows does not change them."""
    rng = np.random.default_rng(seed)
    ref_probs, ref_labels = rng.dirichlet(np.full(K, 0.5), 60), rng.integers(0, K, 60)
    reference = LabelledReference.of(ref_probs, ref_labels)
    window = window / window.sum(axis=1, keepdims=True)
    order = data.draw(st.permutations(range(len(window))))
    for method in METHODS:
        fitted = Quantifier.fit(method, reference)
        shares = fitted.shares(window)
        assert shares.shape == (K,) and shares.min() >= 0 and shares.max() <= 1
        assert shares.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(fitted.shares(window[list(order)]), shares, atol=1e-9)


def test_band_covers_the_true_shares_and_is_json_ready() -> None:
    """Over 40 label-shifted windows, ACC's 90% bootstrap band (window and reference resampled) covers the true
    prior in at least 75% of windows per class (40 windows: binomial noise about 0.05 around the nominal 0.9),
    and the result serialises as JSON with the counted and reference shares beside the estimate."""
    rng = np.random.default_rng(11)
    prior = np.array([0.6, 0.3, 0.1])
    covered = []
    for seed in range(40):
        ref_probs, ref_labels = label_shift_sample(600, UNIFORM, rng)
        window, _ = label_shift_sample(300, prior, rng)
        result = estimate_shares(LabelledReference.of(ref_probs, ref_labels), window, "acc", bootstrap=60, seed=seed)
        covered.append([lo <= p <= hi for (lo, hi), p in zip(result.band.values(), prior, strict=True)])
    assert np.mean(covered, axis=0).min() >= 0.75
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["method"] == "acc" and payload["replicas"] == 60 and payload["level"] == 0.9
    assert set(payload["shares"]) == {"negative", "neutral", "positive"}
    assert sum(payload["shares"].values()) == pytest.approx(1.0)
    assert payload["reference"]["negative"] == pytest.approx(np.mean(ref_labels == 0))
    lo, hi = payload["band"]["negative"]
    assert 0 <= lo <= hi <= 1
    # from a uniform reference to 0.6 / 0.3 / 0.1: negative rose, positive fell, neutral (1/3 vs 0.3) held
    assert payload["change"] == {"negative": "rose", "neutral": "held", "positive": "fell"}


def test_bad_inputs_say_what_is_wrong() -> None:
    rng = np.random.default_rng(0)
    reference = LabelledReference.of(*label_shift_sample(100, UNIFORM, rng))
    with pytest.raises(EstimationInputError, match="unknown class-share method 'median'"):
        estimate_shares(reference, np.full((5, K), 1 / K), "median")
    with pytest.raises(EstimationInputError, match="empty window"):
        estimate_shares(reference, np.zeros((0, K)))
    with pytest.raises(EstimationInputError, match="shape"):
        estimate_shares(reference, np.ones((4, 2)))
    with pytest.raises(EstimationInputError, match="level"):
        estimate_shares(reference, np.full((5, K), 1 / K), level=1.5)


def test_label_shift_test_is_the_g_test_of_predicted_counts() -> None:
    """The statistic is ``2 sum O log(O / E)`` over the 2 x 3 table of predicted classes (hand-computed here), with
    2 degrees of freedom; a class predicted nowhere drops out of the table."""
    ref = np.eye(K)[np.repeat([0, 1, 2], [60, 30, 30])] * 0.8 + 0.2 / K
    window = np.eye(K)[np.repeat([0, 1, 2], [20, 20, 60])] * 0.8 + 0.2 / K
    reference = LabelledReference.of(ref, np.repeat([0, 1, 2], [60, 30, 30]))
    observed = np.array([[60, 30, 30], [20, 20, 60]], dtype=float)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    result = label_shift_test(reference, window)
    assert result.statistic == pytest.approx(2 * np.sum(observed * np.log(observed / expected)), rel=1e-12)
    assert result.dof == 2 and result.detected and result.p_value < 1e-6
    json.dumps(result.as_dict())
    two_classes = np.eye(K)[np.repeat([0, 2], [50, 50])] * 0.8 + 0.2 / K  # nobody predicted neutral
    no_neutral = label_shift_test(LabelledReference.of(two_classes, np.repeat([0, 2], [50, 50])), two_classes)
    assert no_neutral.dof == 1 and no_neutral.statistic == pytest.approx(0.0) and not no_neutral.detected


def test_label_shift_test_rejects_a_prior_change_and_holds_its_size() -> None:
    """With 1,000 reference rows and windows of 400: a clear prior change (uniform to 0.6/0.3/0.1) is detected in
    every one of 50 windows, and with no change the rejection rate over 400 windows is near alpha = 0.05 (between
    0.025 and 0.08: 400 windows give a binomial standard error of 0.011)."""
    rng = np.random.default_rng(5)
    reference = LabelledReference.of(*label_shift_sample(1000, UNIFORM, rng))
    shifted = [label_shift_test(reference, label_shift_sample(400, (0.6, 0.3, 0.1), rng)[0]) for _ in range(50)]
    assert all(t.detected for t in shifted)
    rejections = [
        label_shift_test(
            LabelledReference.of(*label_shift_sample(1000, UNIFORM, rng)), label_shift_sample(400, UNIFORM, rng)[0]
        ).detected
        for _ in range(400)
    ]
    assert 0.025 <= np.mean(rejections) <= 0.08


def test_fit_test_holds_under_label_shift_and_rejects_a_changed_domain() -> None:
    """The label-shift fit test's null is "the window is the reference with other class shares". Under pure label
    shift (a strong one, uniform to 0.6/0.3/0.1, which the label-shift test above flags every time) its p-values
    over 200 windows are close to uniform: at most 10% fall below 0.05, and 12-28% below 0.2 (standard error 0.028;
    measured over 300 windows: 0.03 below 0.05, 0.19 below 0.2, 0.48 below 0.5), so a prior change alone is not
    mistaken for a changed domain, and the test is not dead either. When the same windows' predictions are softened
    (another domain: each class looks less sure than on the reference, its mix unchanged) it rejects all 20."""
    rng = np.random.default_rng(9)
    p_values, softened = [], []
    for seed in range(200):
        reference = LabelledReference.of(*label_shift_sample(1000, UNIFORM, rng))
        window, _ = label_shift_sample(500, (0.6, 0.3, 0.1), rng)
        p_values.append(label_shift_fit_test(reference, window, bootstrap=99, seed=seed).p_value)
        if seed < 20:
            softened.append(label_shift_fit_test(reference, soften(window, 0.4), bootstrap=99, seed=seed).detected)
    assert np.mean(np.less(p_values, 0.05)) <= 0.10
    assert 0.12 <= np.mean(np.less(p_values, 0.2)) <= 0.28
    assert all(softened)


def test_choose_method_decides_on_gated_windows_only() -> None:
    """With a gate, the choice reads only the windows the gate passes: two sets where the label-shift model holds
    (corrections win) and one where the model's outputs are softened (another domain: counting wins there, the
    fit test rejects every window). Gated by the fit test, a correction is chosen for every held-out set, the
    softened set is reported with no window given and no gated errors; ungated, its errors count in the choice."""
    rng = np.random.default_rng(4)
    reference = LabelledReference.of(*label_shift_sample(1500, UNIFORM, rng))
    shifted, _ = label_shift_sample(2000, (0.3, 0.4, 0.3), rng)
    sets = {
        "negative": label_shift_sample(2000, (0.7, 0.2, 0.1), rng),
        "positive": label_shift_sample(2000, (0.1, 0.2, 0.7), rng),
        "other domain": (soften(shifted, 0.3), _),
    }

    def gate(window: np.ndarray) -> bool:
        return not label_shift_fit_test(reference, window, bootstrap=49).detected

    choice = choose_method(sets, reference, window=400, windows=6, gate=gate)
    assert choice.given["other domain"] == 0.0 and "other domain" not in choice.mae_given
    assert min(choice.given["negative"], choice.given["positive"]) >= 0.5
    assert set(choice.held_out.values()) <= {"acc", "pacc", "em"}
    assert np.isnan(choice.error("other domain", "cc", given=True))
    # held out "negative": gated, only "positive" decides (EM is best there); ungated, EM's 0.35 error on the
    # other domain counts too and ACC is chosen (the same windows: the same seed draws them)
    assert choice.held_out["negative"] == min(METHODS, key=lambda m: choice.error("positive", m, given=True))
    ungated = choose_method(sets, reference, window=400, windows=6)
    assert ungated.held_out["negative"] != choice.held_out["negative"]


def test_choose_method_is_leave_one_dataset_out() -> None:
    """Three label-shifted sets, one reference: a correction (ACC, PACC or EM) is chosen and its error is at most
    half of CC's on every set; the choice for a held-out set is exactly the choice made on the other sets alone
    (its own windows never enter it), and the table has every method's per-class error on every set."""
    rng = np.random.default_rng(2)
    reference = LabelledReference.of(*label_shift_sample(2000, UNIFORM, rng))
    sets = {
        "mostly negative": label_shift_sample(3000, (0.7, 0.2, 0.1), rng),
        "mostly positive": label_shift_sample(3000, (0.1, 0.2, 0.7), rng),
        "mostly neutral": label_shift_sample(3000, (0.15, 0.7, 0.15), rng),
    }
    choice = choose_method(sets, reference, window=500, windows=10)
    assert choice.chosen in ("acc", "pacc", "em")
    for name in sets:
        assert set(choice.mae[name]) == set(METHODS) and len(choice.mae[name]["cc"]) == K
        assert choice.error(name, choice.held_out[name]) <= choice.error(name, "cc") / 2
    without_neutral = choose_method(
        {k: v for k, v in sets.items() if k != "mostly neutral"}, reference, window=500, windows=10
    )
    assert choice.held_out["mostly neutral"] == without_neutral.chosen
    json.dumps(choice.as_dict())
    assert choice.given == dict.fromkeys(sets, 1.0) and choice.mae_given == choice.mae
    with pytest.raises(EstimationInputError, match="at least two labelled sets"):
        choose_method({"one": sets["mostly negative"]}, reference)
    with pytest.raises(EstimationInputError, match="at least 500 rows"):
        choose_method({"a": sets["mostly negative"], "b": (np.full((10, K), 1 / K), np.zeros(10))}, reference)
