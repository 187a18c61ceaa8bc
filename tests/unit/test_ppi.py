"""Prediction-powered intervals (sentiment.monitoring.ppi): ppi_py as the known answer, coverage by simulation,
never wider than labels only, self-selected labels refused or flagged, and the stratified and active designs.

The simulated traffic: three classes, the model's probabilities ``p = softmax(logits)``, the true class drawn from
``p`` (so ``p`` is calibrated), windows of N = 500. Miscalibrated variants show the proxy the model reports as an
over-confident ``softmax(2.5 logits)``, or an adversarial one unrelated to the truth: PPI's validity must not depend on
the proxy, only its width does. The truth is the traffic's parameter, computed on 400,000 draws.
"""

from __future__ import annotations

import contextlib
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.metrics import f1_score
from statsmodels.stats.proportion import proportion_confint

from sentiment.errors import SampleDesignError, SelfSelectedLabelsError
from sentiment.labels import LABELS
from sentiment.monitoring.ppi import (
    FEEDBACK,
    RANDOM_SAMPLE,
    LabelledRows,
    WindowPredictions,
    inclusion_probabilities,
    ppi_accuracy,
    ppi_active_accuracy,
    ppi_class_shares,
    ppi_macro_f1,
    ppi_mean,
    ppi_precision,
    ppi_recall,
    ppi_stratified_accuracy,
    sample_looks_random,
    window_intervals,
)
from sentiment.monitoring.ppi.mean import wilson_bounds

N = 500
SCENARIOS = ("calibrated", "overconfident", "adversarial")


def traffic(rng: np.random.Generator, rows: int, scenario: str) -> tuple[np.ndarray, np.ndarray]:
    """True class ids and the probabilities the model reports, for ``rows`` predictions."""
    logits = rng.normal(0.0, 1.6, (rows, 3)) + np.array([0.3, -0.4, 0.5])
    p = softmax(logits, axis=1)
    y = (rng.random(rows)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    shown = {
        "calibrated": p,
        "overconfident": softmax(2.5 * logits, axis=1),
        "adversarial": softmax(-0.5 * logits + np.array([0.0, 1.0, 0.0]), axis=1),
    }[scenario]
    return y, shown


def truth(scenario: str) -> dict[str, float]:
    y, shown = traffic(np.random.default_rng(99), 400_000, scenario)
    served = shown.argmax(axis=1)
    out = {"accuracy": float((y == served).mean())}
    out.update({f"share_{name}": float((y == k).mean()) for k, name in enumerate(LABELS)})
    out.update({f"precision_{name}": float((y[served == k] == k).mean()) for k, name in enumerate(LABELS)})
    out.update({f"recall_{name}": float((served[y == k] == k).mean()) for k, name in enumerate(LABELS)})
    out["macro_f1"] = float(f1_score(y, served, average="macro"))
    return out


def uniform_sample(rng: np.random.Generator, y: np.ndarray, shown: np.ndarray, n: int) -> LabelledRows:
    rows = rng.choice(len(y), n, replace=False)
    return LabelledRows.of(y[rows], shown[rows], inclusion=n / len(y), provenance=RANDOM_SAMPLE)


# --- ppi_py is the known answer ------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    window=st.integers(20, 3000),
    share=st.floats(0.01, 0.9),
    alpha=st.sampled_from([0.1, 0.05]),
    in_window=st.booleans(),
    fixed_lam=st.sampled_from([None, 0.0, 0.37, 1.0]),
    binary=st.booleans(),
)
def test_ppi_mean_equals_ppi_py(
    seed: int, window: int, share: float, alpha: float, in_window: bool, fixed_lam: float | None, binary: bool
) -> None:
    """``ppi_mean`` (CLT interval) equals ``ppi_py.ppi_mean_ci`` to 1e-9 on random windows, tuned (``lam=None``) and
    fixed ``lam``, binary or continuous outcomes, with the labelled rows inside the window (taken out exactly) or
    given apart; its labels-only interval equals ``ppi_py.classical_mean_ci``. Where the tuned interval would be wider
    than labels only it falls back to ``lam = 0`` and then equals the classical interval."""
    import ppi_py  # the known answer; imported here, as it takes seconds (numba, statsmodels)

    rng = np.random.default_rng(seed)
    n = max(2, min(window - 1, int(share * window)))
    f = rng.beta(2, 2, window)
    y = (rng.random(window) < 0.1 + 0.8 * f).astype(float) if binary else 2 * f + rng.normal(0, 0.5, window)
    labelled = np.zeros(window, dtype=bool)
    labelled[rng.choice(window, n, replace=False)] = True
    given_window = f if in_window else f[~labelled]
    ours = ppi_mean(y[labelled], f[labelled], given_window, alpha=alpha, labelled_in_window=in_window, lam=fixed_lam)

    fell_back = ours.method.endswith("(fell back to labels only)")
    lam = fixed_lam if fixed_lam is not None else (0.0 if fell_back else None)
    expected = ppi_py.ppi_mean_ci(y[labelled], f[labelled], f[~labelled], alpha=alpha, lam=lam)
    assert ours.lower == pytest.approx(float(np.ravel(expected[0])[0]), abs=1e-9)
    assert ours.upper == pytest.approx(float(np.ravel(expected[1])[0]), abs=1e-9)
    classical = ppi_py.classical_mean_ci(y[labelled], alpha=alpha)
    assert (ours.classical_lower, ours.classical_upper) == pytest.approx(classical, abs=1e-9)
    assert (ours.n, ours.N) == (n, window)


def test_tuned_lambda_is_ppi_py_s() -> None:
    """The tuned ``lam`` is ``ppi_py``'s (its point estimate at ``lam=None`` uses the same weight): checked on a case
    where ``lam`` lies strictly inside (0, 1), so the clipping does not hide a wrong formula."""
    import ppi_py

    rng = np.random.default_rng(7)
    f = rng.beta(2, 2, 800)
    y = (rng.random(800) < f).astype(float)
    labelled = rng.choice(800, 80, replace=False)
    rest = np.setdiff1d(np.arange(800), labelled)
    ours = ppi_mean(y[labelled], f[labelled], f)
    assert 0.0 < ours.lam < 1.0
    assert ours.estimate == pytest.approx(float(ppi_py.ppi_mean_pointestimate(y[labelled], f[labelled], f[rest])[0]))


def test_score_interval_at_lam_zero_is_wilson() -> None:
    """The labels-only interval of the owner's binary quantities is the Wilson score interval (statsmodels as the
    known answer), including the all-correct sample whose CLT interval has zero width."""
    for successes, n in [(17, 25), (25, 25), (0, 8), (130, 200)]:
        y = np.r_[np.ones(successes), np.zeros(n - successes)]
        result = ppi_mean(y, np.full(n, 0.5), np.full(1000, 0.5), interval="score", alpha=0.1)
        wilson = proportion_confint(successes, n, alpha=0.1, method="wilson")
        assert (result.classical_lower, result.classical_upper) == pytest.approx(wilson, abs=1e-12)
        assert result.classical_upper - result.classical_lower > 0.05
        assert wilson_bounds(successes, n, 0.1) == pytest.approx(wilson, abs=1e-12)


# --- never wider than labels only ------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(25, 200),
    scenario=st.sampled_from(SCENARIOS),
    alpha=st.sampled_from([0.1, 0.05]),
)
def test_no_interval_is_wider_than_labels_only(seed: int, n: int, scenario: str, alpha: float) -> None:
    """Every interval (accuracy and shares by CLT and score, precision, recall, macro-F1, stratified, active) is at
    most as wide as the labels-only interval on the same rows, whatever the proxy's quality: by construction (the
    tuned weight falls back to 0 when it does not narrow)."""
    rng = np.random.default_rng(seed)
    y, shown = traffic(rng, N, scenario)
    window = WindowPredictions.of(shown)
    labelled = uniform_sample(rng, y, shown, n)
    results = [ppi_accuracy(labelled, window, alpha=alpha, interval=iv) for iv in ("clt", "score")]
    results += list(ppi_class_shares(labelled, window, alpha=alpha).values())
    results += list(ppi_class_shares(labelled, window, alpha=alpha, interval="clt").values())
    for k in range(3):
        for fn in (ppi_precision, ppi_recall):
            with contextlib.suppress(SampleDesignError):  # too few labels of the class: refused, nothing to compare
                results.append(fn(labelled, window, k, alpha=alpha))
    for optional in (
        lambda: ppi_macro_f1(labelled, window, alpha=alpha),
        lambda: ppi_stratified_accuracy(labelled, window, by="served", alpha=alpha),
        lambda: ppi_stratified_accuracy(labelled, window, by="confidence", alpha=alpha),
    ):
        with contextlib.suppress(SampleDesignError):
            results.append(optional())
    pi = inclusion_probabilities(window.confidence, n)
    drawn = rng.random(N) < pi
    active = LabelledRows.of(y[drawn], shown[drawn], inclusion=pi[drawn], provenance=RANDOM_SAMPLE)
    results.append(ppi_active_accuracy(active, window, alpha=alpha))
    for result in results:
        assert result.width <= result.classical_upper - result.classical_lower + 1e-12, result.as_dict()


# --- coverage by simulation ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_accuracy_and_share_intervals_cover_at_every_n(scenario: str) -> None:
    """2,000 windows (500 at each n in 25, 50, 100, 200): the 90% interval of accuracy and of each class share covers
    the traffic's truth in at least 88% of windows overall and 85% at each n (the Monte Carlo error at 500 windows is
    1.3 points), for a calibrated, an over-confident and an adversarial proxy. With the calibrated proxy PPI also
    narrows: median width at most 0.97x labels only for accuracy, 0.90x for the shares."""
    rng = np.random.default_rng(2024)
    expected = truth(scenario)
    names = ["accuracy"] + [f"share_{name}" for name in LABELS]
    covered = {name: {} for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for n in (25, 50, 100, 200):
        hits = {name: 0 for name in names}
        for _ in range(500):
            y, shown = traffic(rng, N, scenario)
            window = WindowPredictions.of(shown)
            labelled = uniform_sample(rng, y, shown, n)
            found = {"accuracy": ppi_accuracy(labelled, window)}
            found.update({f"share_{k}": v for k, v in ppi_class_shares(labelled, window).items()})
            for name, result in found.items():
                hits[name] += result.lower <= expected[name] <= result.upper
                ratios[name].append(result.width_ratio)
        for name in names:
            covered[name][n] = hits[name] / 500
    for name in names:
        overall = float(np.mean(list(covered[name].values())))
        assert overall >= 0.88, (name, covered[name])
        assert min(covered[name].values()) >= 0.85, (name, covered[name])
    if scenario == "calibrated":
        assert np.nanmedian(ratios["accuracy"]) <= 0.97
        assert all(np.nanmedian(ratios[f"share_{name}"]) <= 0.90 for name in LABELS)


def test_precision_recall_and_macro_f1_cover_at_n_200() -> None:
    """Per-class precision (PPI++ on the rows served as the class), recall (a ratio, PPI++ M-estimation with the delta
    method) and macro-F1 (a mean of three ratios): with 200 labels in 400 windows of the calibrated traffic, each 90%
    interval covers the truth in at least 85% of windows (measured with this seed: 86-91%; delta-method intervals of
    ratios run a point or two under nominal, more at small n, as the module docstring says)."""
    rng = np.random.default_rng(11)
    expected = truth("calibrated")
    hits: dict[str, int] = {}
    for _ in range(400):
        y, shown = traffic(rng, N, "calibrated")
        window = WindowPredictions.of(shown)
        labelled = uniform_sample(rng, y, shown, 200)
        found = {"macro_f1": ppi_macro_f1(labelled, window)}
        for k, name in enumerate(LABELS):
            found[f"precision_{name}"] = ppi_precision(labelled, window, k)
            found[f"recall_{name}"] = ppi_recall(labelled, window, k)
        for name, result in found.items():
            hits[name] = hits.get(name, 0) + (result.lower <= expected[name] <= result.upper)
    assert min(hits.values()) >= 0.85 * 400, hits


def test_recall_and_macro_f1_labels_only_are_the_textbook_values() -> None:
    """At ``lam = 0`` recall is the labelled rows' recall with the delta-method standard error
    ``sd(a - R b) / (sqrt(n) mean(b))``, and macro-F1 is sklearn's macro-F1 of the labelled rows."""
    rng = np.random.default_rng(5)
    y, shown = traffic(rng, N, "calibrated")
    window = WindowPredictions.of(shown)
    labelled = uniform_sample(rng, y, shown, 120)
    recall = ppi_recall(labelled, window, 0)
    a = ((labelled.labels == 0) & (labelled.served == 0)).astype(float)
    b = (labelled.labels == 0).astype(float)
    ratio = a.sum() / b.sum()
    assert recall.classical_estimate == pytest.approx(ratio)
    assert recall.classical_se == pytest.approx((a - ratio * b).std() / (math.sqrt(120) * b.mean()))
    f1 = ppi_macro_f1(labelled, window)
    assert f1.classical_estimate == pytest.approx(f1_score(labelled.labels, labelled.served, average="macro"))


# --- self-selected labels --------------------------------------------------------------------------------------------
def test_feedback_labels_are_refused_with_the_fix_named() -> None:
    """Rows whose provenance is feedback (even one among random ones) are refused by every estimator with
    ``SelfSelectedLabelsError``, which names the random review sample as the fix; rows drawn with unequal
    probabilities are refused by the estimators that assume a uniform sample, pointing at the weighted one."""
    rng = np.random.default_rng(3)
    y, shown = traffic(rng, N, "calibrated")
    window = WindowPredictions.of(shown)
    rows = rng.choice(N, 60, replace=False)
    provenance = [RANDOM_SAMPLE] * 59 + [FEEDBACK]
    mixed = LabelledRows.of(y[rows], shown[rows], inclusion=0.12, provenance=provenance)
    for estimate in (
        ppi_accuracy,
        ppi_class_shares,
        ppi_macro_f1,
        ppi_active_accuracy,
        ppi_stratified_accuracy,
        window_intervals,
    ):
        with pytest.raises(SelfSelectedLabelsError, match="review sample"):
            estimate(mixed, window)
    unequal = LabelledRows.of(y[rows], shown[rows], inclusion=np.linspace(0.05, 0.5, 60), provenance=RANDOM_SAMPLE)
    with pytest.raises(SampleDesignError, match="ppi_active_accuracy"):
        ppi_accuracy(unequal, window)
    with pytest.raises(SampleDesignError, match="provenance"):
        LabelledRows.of(y[rows], shown[rows], inclusion=0.12, provenance="visitor")


def test_confident_mistakes_are_flagged_and_would_have_misled() -> None:
    """Labels given only to confident mistakes (what feedback collects), even when passed off as a random sample, are
    flagged by ``sample_looks_random`` in every one of 50 windows; the accuracy interval they would give misses the
    truth in every window, which is why coverage needs the random sample. Uniform samples are flagged at about the
    test's level (at most 5% of 200 windows at alpha 0.01), and so is an active sample judged with its inclusion
    probabilities."""
    rng = np.random.default_rng(8)
    expected = truth("calibrated")["accuracy"]
    flagged_uniform = flagged_active = 0
    for i in range(200):
        y, shown = traffic(rng, N, "calibrated")
        window = WindowPredictions.of(shown)
        flagged_uniform += not sample_looks_random(uniform_sample(rng, y, shown, 50), window).looks_random
        pi = inclusion_probabilities(window.confidence, 60, floor=0.05)
        drawn = rng.random(N) < pi
        active = LabelledRows.of(y[drawn], shown[drawn], inclusion=pi[drawn], provenance=RANDOM_SAMPLE)
        flagged_active += not sample_looks_random(active, window, window_inclusion=pi).looks_random
        if i < 50:
            mistakes = np.flatnonzero((window.served != y) & (window.confidence > 0.6))[:40]
            chosen = LabelledRows.of(y[mistakes], shown[mistakes], inclusion=40 / N, provenance=RANDOM_SAMPLE)
            assert not sample_looks_random(chosen, window).looks_random
            result = ppi_accuracy(chosen, window)
            assert not result.lower <= expected <= result.upper
    assert flagged_uniform <= 10
    assert flagged_active <= 10


# --- stratified and active designs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["calibrated", "overconfident"])
def test_stratified_and_active_designs_are_unbiased_and_cover(scenario: str) -> None:
    """Over 600 windows with 200 labels (expected, for the active design), stratified PPI++ (by served class, by
    confidence bins) and active PPI++ (inverse-probability weighted, labels drawn with ``inclusion_probabilities``) are
    unbiased (mean error within 0.006, about 4 Monte Carlo standard errors) and their 90% intervals cover the truth in
    at least 86% of windows, with a calibrated and an over-confident proxy. With the calibrated proxy the active
    design's median width is at most 0.95x the uniform labels-only interval at the same label budget."""
    rng = np.random.default_rng(31)
    expected = truth(scenario)["accuracy"]
    errors: dict[str, list[float]] = {"served": [], "confidence": [], "active": []}
    hits = dict.fromkeys(errors, 0)
    active_ratio = []
    for _ in range(600):
        y, shown = traffic(rng, N, scenario)
        window = WindowPredictions.of(shown)
        labelled = uniform_sample(rng, y, shown, 200)
        found = {by: ppi_stratified_accuracy(labelled, window, by=by) for by in ("served", "confidence")}
        pi = inclusion_probabilities(window.confidence, 200)
        drawn = rng.random(N) < pi
        active = LabelledRows.of(y[drawn], shown[drawn], inclusion=pi[drawn], provenance=RANDOM_SAMPLE)
        found["active"] = ppi_active_accuracy(active, window)
        uniform = ppi_accuracy(labelled, window, interval="clt")
        active_ratio.append(found["active"].width / (uniform.classical_upper - uniform.classical_lower))
        for name, result in found.items():
            errors[name].append(result.estimate - expected)
            hits[name] += result.lower <= expected <= result.upper
    for name in errors:
        assert abs(np.mean(errors[name])) <= 0.006, (name, np.mean(errors[name]))
        assert hits[name] >= 0.86 * 600, (name, hits[name])
    if scenario == "calibrated":
        assert np.median(active_ratio) <= 0.95


def test_inclusion_probabilities_spend_the_budget_on_uncertain_predictions() -> None:
    """The probabilities sum to the budget, lie in (0, 1], rise with ``sqrt(c (1 - c))`` of the confidence, keep the
    uniform floor, and cap at 1 (the excess moved to other rows) when the budget nears the window size."""
    confidence = np.linspace(0.5, 0.99, 400)
    pi = inclusion_probabilities(confidence, 50, floor=0.2)
    assert pi.sum() == pytest.approx(50)
    assert (pi > 0).all() and (pi <= 1).all()
    assert (np.diff(pi) <= 1e-15).all()  # confidence above 1/2: less uncertain, sampled less
    assert pi.min() >= 0.2 * 50 / 400 - 1e-12
    full = inclusion_probabilities(confidence, 390)
    assert full.sum() == pytest.approx(390) and full.max() == 1.0
    with pytest.raises(SampleDesignError):
        inclusion_probabilities(confidence, 0)


def test_window_intervals_are_json_ready_at_both_levels() -> None:
    """``window_intervals`` gives every quantity at 90% and 95% (the 95% interval wider), with the randomness check,
    and its ``as_dict`` survives ``json.dumps`` with n, N, alpha, estimate, bounds, classical bounds, width ratio and
    lam; a class with too few labels has its ratios listed as refused, with the reason."""
    rng = np.random.default_rng(4)
    y, shown = traffic(rng, N, "calibrated")
    window = WindowPredictions.of(shown)
    found = window_intervals(uniform_sample(rng, y, shown, 100), window)
    assert set(found.results) == {0.90, 0.95}
    at90, at95 = found.results[0.90]["accuracy"], found.results[0.95]["accuracy"]
    assert at95.width > at90.width and at90.alpha == pytest.approx(0.1)
    assert {"share_negative", "recall_neutral", "precision_positive", "macro_f1"} <= set(found.results[0.90])
    payload = json.loads(json.dumps(found.as_dict()))
    accuracy = payload["intervals"]["0.90"]["accuracy"]
    keys = {"n", "N", "alpha", "estimate", "lower", "upper", "classical_lower", "classical_upper", "width_ratio", "lam"}
    assert keys <= set(accuracy)
    assert (accuracy["n"], accuracy["N"]) == (100, N)
    assert payload["sample_check"]["looks_random"] in (True, False)

    few = np.r_[np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 2)[:30], np.flatnonzero(y == 1)[:2]]
    sparse = window_intervals(LabelledRows.of(y[few], shown[few], inclusion=0.1, provenance=RANDOM_SAMPLE), window)
    assert "recall_neutral" in sparse.refused and "label more rows" in sparse.refused["recall_neutral"]
