"""Drift statistics against scipy and hand computations, Holm's correction, and the grading of a check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sentiment.monitoring.drift import Check, check_drift
from sentiment.monitoring.features import surface_kind
from sentiment.monitoring.stat_tests import DRIFT_TESTS, StatTest, holm, psi_value, register

RNG = np.random.default_rng(11)


def test_tests_are_registered_by_name_with_their_kind_reading_and_thresholds() -> None:
    assert {"ks", "chi2", "psi"} <= set(DRIFT_TESTS)
    described = {
        kind: (test.kind, test.reading, test.threshold, test.warning_threshold) for kind, test in DRIFT_TESTS.items()
    }
    assert described["ks"] == ("ks", "p_value", 0.01, 0.05)
    assert described["chi2"] == ("chi2", "p_value", 0.01, 0.05)
    assert described["psi"] == ("psi", "distance", 0.25, 0.1)


def test_ks_equals_scipy() -> None:
    a, b = RNG.normal(0, 1, 300), RNG.normal(0.3, 1, 200)
    result = DRIFT_TESTS["ks"](reference=a, current=b)
    expected = stats.ks_2samp(a, b)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert (result.n_reference, result.n_current, result.method) == (300, 200, "ks")


def test_ks_statistic_by_hand() -> None:
    # ECDFs of {1,2,3} and {2,3,4}: the largest gap is 1/3 (at x=1 and x=3)
    assert DRIFT_TESTS["ks"](reference=[1, 2, 3], current=[2, 3, 4]).statistic == pytest.approx(1 / 3)


def test_chi_square_equals_scipy_on_the_contingency_table() -> None:
    ref = ["negative"] * 30 + ["neutral"] * 20 + ["positive"] * 50
    cur = ["negative"] * 60 + ["neutral"] * 10 + ["positive"] * 30
    result = DRIFT_TESTS["chi2"](reference=ref, current=cur, categories=["negative", "neutral", "positive"])
    statistic, p, dof, _ = stats.chi2_contingency([[30, 20, 50], [60, 10, 30]], correction=False)
    assert dof == 2
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(p)


def test_chi_square_by_hand_and_with_an_empty_category() -> None:
    # 2x2 table [[10, 10], [20, 0]]: expected [[15, 5], [15, 5]] -> 25/15 + 25/5 + 25/15 + 25/5 = 13.33
    result = DRIFT_TESTS["chi2"](reference=["a"] * 10 + ["b"] * 10, current=["a"] * 20, categories=["a", "b", "never"])
    assert result.statistic == pytest.approx(40 / 3)


def test_psi_by_hand() -> None:
    reference = np.repeat([0.1, 0.3, 0.5, 0.7], 25)  # 4 quantile bins of 25% each
    current = np.repeat([0.1, 0.3, 0.5, 0.7], [40, 30, 20, 10])
    shares = np.array([0.4, 0.3, 0.2, 0.1])
    expected = float(np.sum((shares - 0.25) * np.log(shares / 0.25)))
    assert psi_value(reference, current, bins=4) == pytest.approx(expected)
    assert psi_value(reference, reference, bins=4) == pytest.approx(0.0)
    result = DRIFT_TESTS["psi"](reference=reference, current=current, bins=4, threshold=0.1)
    assert result.p_value is None and result.drifted == (expected > 0.1)


def test_holm_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_surface_kinds() -> None:
    assert surface_kind("see https://x.co") == "url"
    assert surface_kind("@united lost my bag") == "mention"
    assert surface_kind("so #blessed") == "hashtag"
    assert surface_kind("love it 😍") == "emoji"
    assert surface_kind("A measured editorial sentence.") == "plain"
    assert surface_kind("mail me at me@example.com") == "plain"


def _frame(n: int, length_mean: float, p_labels: list[float], rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n_chars": rng.poisson(length_mean, n),
            "n_tokens": rng.poisson(length_mean / 4, n),
            "confidence": rng.uniform(0.4, 1.0, n),
            "label": rng.choice(["negative", "neutral", "positive"], n, p=p_labels),
            "surface": rng.choice(["mention", "plain"], n, p=[0.4, 0.6]),
        }
    )


def test_a_check_grades_shifts_and_refuses_to_judge_a_tiny_window() -> None:
    reference = _frame(2000, 80, [0.3, 0.3, 0.4], RNG)
    same = check_drift(reference, _frame(500, 80, [0.3, 0.3, 0.4], RNG))
    assert same.status == "ok"
    longer = check_drift(reference, _frame(500, 200, [0.3, 0.3, 0.4], RNG))
    assert longer.status == "drift"
    levels = {(r.feature, r.test): r.level for r in longer.results}
    assert levels[("text_length", "ks")] == "drift" and levels[("label", "chi2")] == "ok"
    tiny = check_drift(reference, _frame(20, 200, [1.0, 0.0, 0.0], RNG), min_window=100)
    assert tiny.status == "insufficient_data" and tiny.results == ()


def test_a_new_distance_test_is_graded_by_its_own_thresholds_without_touching_drift(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Registering is all a new test needs: check_drift reads its reading and thresholds, and a distance is neither
    Holm-adjusted nor read as a p-value."""
    monkeypatch.setitem(DRIFT_TESTS, "mean_shift", DRIFT_TESTS["psi"])  # so the registration is undone afterwards

    @register("mean_shift", reading="distance", threshold=20.0, warning_threshold=5.0)
    def mean_shift(*, reference: list[float], current: list[float]) -> tuple[float, float | None]:
        return abs(float(np.mean(current)) - float(np.mean(reference))), None

    checks = (Check("text_length", "mean_shift", "n_chars"),)
    reference = _frame(2000, 80, [0.3, 0.3, 0.4], RNG)
    for length, level in ((80, "ok"), (90, "warning"), (130, "drift")):
        report = check_drift(reference, _frame(500, length, [0.3, 0.3, 0.4], RNG), checks=checks)
        (row,) = report.results
        assert (row.test, row.method, row.threshold, row.p_value, row.adjusted_p_value) == (
            "mean_shift",
            "mean_shift",
            20.0,
            None,
            None,
        )
        assert row.level == level and report.status == level and row.drifted == (level == "drift")


def test_a_new_p_value_test_is_holm_adjusted_with_the_others_and_read_below_its_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(DRIFT_TESTS, "fixed_p", DRIFT_TESTS["ks"])

    @register("fixed_p", reading="p_value", threshold=0.05, warning_threshold=0.2)
    def fixed_p(*, reference: list[float], current: list[float], p: float) -> tuple[float, float | None]:
        return 1.0, p

    reference = _frame(500, 80, [0.3, 0.3, 0.4], RNG)
    alone = check_drift(reference, reference, checks=(Check("confidence", "fixed_p", "confidence", {"p": 0.03}),))
    assert alone.results[0].level == "drift"  # 0.03 < its own 0.05 (ks's 0.01 would only warn)
    both = check_drift(
        reference,
        reference,
        checks=(Check("confidence", "fixed_p", "confidence", {"p": 0.03}), Check("text_length", "ks", "n_chars")),
    )
    custom, ks = both.results
    assert custom.adjusted_p_value == pytest.approx(0.06)  # Holm over two tests: 2 x 0.03
    assert custom.level == "warning" and ks.level == "ok" and both.status == "warning"


def test_a_test_whose_thresholds_contradict_its_reading_is_refused() -> None:
    with pytest.raises(ValueError, match="drift threshold"):
        register("backwards", reading="p_value", threshold=0.1, warning_threshold=0.05)
    with pytest.raises(ValueError, match="drift threshold"):
        register("backwards", reading="distance", threshold=0.1, warning_threshold=0.25)
    assert "backwards" not in DRIFT_TESTS
    silent = StatTest("silent", "p_value", 0.01, 0.05, lambda **_: (1.0, None))
    with pytest.raises(ValueError, match="read by its p-value but computed none"):
        silent(reference=[1.0, 2.0], current=[2.0, 3.0])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(0.0, 1.0), st.sampled_from(["ks", "chi2", "psi"]))
def test_a_level_is_drift_past_the_threshold_warning_past_the_warning_one_else_ok(value: float, kind: str) -> None:
    test = DRIFT_TESTS[kind]
    past = (lambda t: value < t) if test.reading == "p_value" else (lambda t: value > t)
    expected = "drift" if past(test.threshold) else "warning" if past(test.warning_threshold) else "ok"
    assert test.level(value) == expected
