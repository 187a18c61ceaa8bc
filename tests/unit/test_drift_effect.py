"""Drift is significance *and* size: effect sizes that do not grow with n, the minimum window of each test, and the
persistence rule that keeps repeated checks on overlapping windows from alarming on one unlucky window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.monitoring.drift import CHECKS, DriftReport, FeatureDrift, check_drift
from sentiment.monitoring.stat_tests import DRIFT_TESTS, LEVELS, cramers_v
from sentiment.service.answer import moved_most, severity

LABELS3 = ["negative", "neutral", "positive"]


def _labels(counts: dict[str, int]) -> list[str]:
    return [label for label, n in counts.items() for _ in range(n)]


def _frame(n: int, rng: np.random.Generator, *, shift: float, shares: list[float]) -> pd.DataFrame:
    length = rng.normal(80 + shift * 20, 20, n)
    return pd.DataFrame(
        {
            "n_chars": length,
            "n_tokens": length / 4,
            "confidence": np.clip(rng.normal(0.7 + shift * 0.1, 0.1, n), 0.34, 1.0),
            "label": _labels(dict(zip(LABELS3, (np.array(shares) * n).round().astype(int), strict=True))),
            "surface": _labels({"mention": int(0.4 * n), "plain": n - int(0.4 * n)}),
        }
    )


def test_a_trivial_shift_in_large_windows_is_significant_but_graded_ok() -> None:
    """50,000 vs 50,000: a 6%-of-a-sd length shift and 2-point label shares give p < 1e-6, yet no test alarms."""
    rng = np.random.default_rng(3)
    reference = _frame(50_000, rng, shift=0.0, shares=[0.33, 0.33, 0.34])
    current = _frame(50_000, rng, shift=0.06, shares=[0.35, 0.31, 0.34])
    report = check_drift(reference, current)
    rows = {(r.feature, r.test): r for r in report.results}
    assert rows[("text_length", "ks")].p_value is not None and rows[("text_length", "ks")].p_value < 1e-6
    assert rows[("label", "chi2")].p_value is not None and rows[("label", "chi2")].p_value < 1e-6
    assert all(r.effect_size is not None and r.effect_size < r.effect_threshold for r in report.results)  # type: ignore[operator]
    assert report.status == "ok" and {r.level for r in report.results} == {"ok"}


def test_a_real_shift_is_graded_drift_with_its_effect_reported() -> None:
    rng = np.random.default_rng(4)
    reference = _frame(4000, rng, shift=0.0, shares=[0.3, 0.3, 0.4])
    current = _frame(500, rng, shift=1.0, shares=[0.6, 0.15, 0.25])  # length +1 sd, negative share doubled
    rows = {(r.feature, r.test): r for r in check_drift(reference, current).results}
    length, label = rows[("text_length", "ks")], rows[("label", "chi2")]
    assert length.level == "drift" and length.effect_size == pytest.approx(length.statistic)
    assert label.level == "drift" and label.effect_size is not None and label.effect_size > 0.2
    assert label.as_dict()["effect_threshold"] == 0.1  # reported next to the p-value, as added keys


def test_cramers_v_is_zero_for_equal_mixes_and_one_for_disjoint_ones() -> None:
    assert cramers_v(reference=["a", "b"] * 50, current=["b", "a"] * 7) == pytest.approx(0.0)
    assert cramers_v(reference=["a"] * 30, current=["b"] * 3) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    ref=st.lists(st.integers(0, 40), min_size=3, max_size=3).filter(lambda c: sum(c) > 0),
    cur=st.lists(st.integers(0, 40), min_size=3, max_size=3).filter(lambda c: sum(c) > 0),
    k=st.integers(2, 30),
)
def test_cramers_v_does_not_move_with_the_sample_sizes(ref: list[int], cur: list[int], k: int) -> None:
    """The same shares, k times as many rows on either side: the same V (what makes one threshold fit every window)."""
    reference, current = _labels(dict(zip("abc", ref, strict=True))), _labels(dict(zip("abc", cur, strict=True)))
    base = cramers_v(reference=reference, current=current)
    assert cramers_v(reference=reference * k, current=current) == pytest.approx(base)
    assert cramers_v(reference=reference, current=current * k) == pytest.approx(base)
    assert 0.0 <= base <= 1.0 + 1e-12


@pytest.mark.parametrize(("test", "minimum"), [("ks", 20), ("chi2", 30), ("psi", 40), ("domain_auc", 40)])
def test_each_test_has_a_stated_minimum_window_below_which_a_check_has_no_verdict(test: str, minimum: int) -> None:
    assert DRIFT_TESTS[test].min_window == minimum
    check = next(c for c in CHECKS if c.test == test)
    rng = np.random.default_rng(5)
    reference = _frame(1000, rng, shift=0.0, shares=[0.3, 0.3, 0.4])
    reference["embedding"] = list(rng.standard_normal((1000, 16)))
    below = check_drift(reference, reference.head(minimum - 1), min_window=10, checks=[check])
    assert below.status == "insufficient_data" and below.min_window == minimum
    at = check_drift(reference, reference.head(minimum), min_window=10, checks=[check])
    assert at.status in LEVELS and len(at.results) == 1


def test_the_configured_minimum_wins_when_it_is_larger() -> None:
    rng = np.random.default_rng(6)
    frame = _frame(200, rng, shift=0.0, shares=[0.3, 0.3, 0.4])
    assert check_drift(frame, frame.head(150), min_window=160).status == "insufficient_data"


def _row(
    feature: str, test: str, *, p: float | None, statistic: float, effect: float | None, limit: float | None
) -> FeatureDrift:
    threshold = 0.25 if p is None else 0.01
    return FeatureDrift(feature, test, statistic, p, False, threshold, test, 100, 100, p, "ok", effect, limit)


def test_moved_most_ranks_by_effect_over_its_threshold_not_by_p_value() -> None:
    """A huge window makes a trivial shift's p tiny; the feature that moved most is the one with the larger effect."""
    trivial = _row("text_length", "ks", p=1e-30, statistic=0.02, effect=0.02, limit=0.1)
    real = _row("label", "chi2", p=1e-4, statistic=40.0, effect=0.3, limit=0.1)
    assert severity(real) == pytest.approx(3.0) and severity(trivial) == pytest.approx(0.2)
    report = DriftReport("drift", 500, 100, 0.0, None, (trivial, real))
    assert moved_most(report) is real
    legacy = _row("confidence", "psi", p=None, statistic=0.5, effect=None, limit=None)
    assert severity(legacy) == pytest.approx(2.0)  # a test without an effect size keeps the old reading
