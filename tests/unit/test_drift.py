"""Drift statistics against scipy and hand computations, Holm's correction, and the grading of a check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sentiment.monitoring.drift import check_drift
from sentiment.monitoring.features import surface_kind
from sentiment.monitoring.stat_tests import DRIFT_TESTS, holm, psi_value

RNG = np.random.default_rng(11)


def test_tests_are_registered_by_name() -> None:
    assert {"ks", "chi2", "psi"} <= set(DRIFT_TESTS)


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
    levels = {(r["feature"], r["test"]): r["level"] for r in longer.results}
    assert levels[("text_length", "ks")] == "drift" and levels[("label", "chi2")] == "ok"
    tiny = check_drift(reference, _frame(20, 200, [1.0, 0.0, 0.0], RNG), min_window=100)
    assert tiny.status == "insufficient_data" and tiny.results == []
