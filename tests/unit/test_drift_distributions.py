"""The distribution summaries a drift report carries: known answers on tiny inputs, and properties every summary
keeps (shares sum to 1 on both sides, the same bins on both sides, the KS D and the PSI read back from them)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.labels import LABELS
from sentiment.monitoring.distributions import category_summary, cdf_summary, psi_summary, score_summary, summarize
from sentiment.monitoring.drift import CHECKS, check_drift
from sentiment.monitoring.features import SURFACE_KINDS
from sentiment.monitoring.stat_tests import DRIFT_TESTS, psi_value
from sentiment.web.ui.drift_plots import figures_of, history_plot

samples = st.lists(st.integers(-50, 50), min_size=1, max_size=60)


def test_category_shares_by_hand() -> None:
    found = category_summary(
        reference=["a", "a", "b", "c"], current=["b", "b", "b", "z"], categories=["a", "b", "c"]
    )  # "z" is outside the categories: not counted, as in the chi-square test
    assert found == {
        "kind": "categories",
        "categories": ["a", "b", "c"],
        "reference": [0.5, 0.25, 0.25],
        "current": [0.0, 1.0, 0.0],
    }


def test_cdf_shares_and_gap_by_hand() -> None:
    # ECDFs of {1,2,3} and {2,3,4}: the first largest gap, 1/3, is at x=1
    found = cdf_summary(reference=[1, 2, 3], current=[2, 3, 4], bins=3)
    assert found["edges"] == [1.0, 2.0, 3.0, 4.0]
    assert found["reference"] == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])  # at 1, then (1, 2], (2, 3], (3, 4]
    assert found["current"] == pytest.approx([0.0, 1 / 3, 1 / 3, 1 / 3])
    assert found["gap"] == pytest.approx({"at": 1.0, "reference": 1 / 3, "current": 0.0})
    assert found["median"] == {"reference": 2.0, "current": 3.0}  # the plain-words summary quotes these


def test_psi_shares_by_hand() -> None:
    # reference quartiles of 1..8: edges 1, 2.75, 4.5, 6.25, 8; two rows a bin; the current sits in the top bin
    found = psi_summary(reference=list(range(1, 9)), current=[7, 8, 8, 9], bins=4)
    assert found["edges"] == pytest.approx([1, 2.75, 4.5, 6.25, 8])
    assert found["reference"] == [0.25] * 4
    assert found["current"] == [0.0, 0.0, 0.0, 1.0]


@settings(max_examples=60, derandomize=True, deadline=None)
@given(samples, samples)
def test_a_cdf_summary_has_shared_bins_whole_shares_and_its_largest_gap_is_the_ks_statistic(
    reference: list[int], current: list[int]
) -> None:
    found = cdf_summary(reference=reference, current=current)
    edges = found["edges"]
    assert edges == sorted(edges) and len(found["reference"]) == len(found["current"]) == len(edges)
    assert sum(found["reference"]) == pytest.approx(1) and sum(found["current"]) == pytest.approx(1)
    gaps = np.abs(np.cumsum(found["reference"]) - np.cumsum(found["current"]))
    statistic = DRIFT_TESTS["ks"](reference=reference, current=current).statistic
    assert float(gaps.max()) == pytest.approx(statistic)  # the CDFs drawn part by exactly D
    gap = found["gap"]
    assert abs(gap["reference"] - gap["current"]) == pytest.approx(statistic)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(samples, samples)
def test_a_psi_summary_gives_back_the_psi_it_explains(reference: list[int], current: list[int]) -> None:
    found = psi_summary(reference=reference, current=current)
    assert len(found["reference"]) == len(found["current"]) == len(found["edges"]) - 1
    assert sum(found["reference"]) == pytest.approx(1) and sum(found["current"]) == pytest.approx(1)
    r, c = (np.maximum(np.array(found[side]), 1e-4) for side in ("reference", "current"))
    expected = psi_value(np.array(reference, float), np.array(current, float))
    assert float(np.sum((c - r) * np.log(c / r))) == pytest.approx(expected, abs=1e-9)


def test_score_summary_shares_on_shared_bins_part_when_the_embeddings_do() -> None:
    rng = np.random.default_rng(3)
    reference, alike, shifted = (
        rng.standard_normal((200, 16)),
        rng.standard_normal((150, 16)),
        rng.standard_normal((150, 16)),
    )
    shifted[:, 0] += 2.0
    for current in (alike, shifted):
        found = score_summary(reference=list(reference), current=list(current))
        assert len(found["reference"]) == len(found["current"]) == len(found["edges"]) - 1
        assert sum(found["reference"]) == pytest.approx(1) and sum(found["current"]) == pytest.approx(1)

    def mean_score(found: dict, side: str) -> float:
        centres = np.convolve(found["edges"], [0.5, 0.5], "valid")
        return float(np.dot(centres, found[side]))

    far = score_summary(reference=list(reference), current=list(shifted))
    near = score_summary(reference=list(reference), current=list(alike))
    assert mean_score(far, "current") - mean_score(far, "reference") > 2 * abs(
        mean_score(near, "current") - mean_score(near, "reference")
    )


def test_an_unknown_test_or_an_empty_side_has_no_summary() -> None:
    assert summarize("no-such-test", reference=[1.0], current=[2.0]) is None
    assert summarize("ks", reference=[], current=[2.0]) is None


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n_chars": rng.poisson(80 + 40 * shift, n),
            "n_tokens": rng.poisson(20 + 10 * shift, n),
            "confidence": np.clip(rng.normal(0.8 - 0.2 * shift, 0.1, n), 1 / 3, 1),
            "label": rng.choice(LABELS, n),
            "surface": rng.choice(SURFACE_KINDS, n),
            "embedding": list(rng.standard_normal((n, 16)) + shift),
        }
    )


def test_every_check_of_a_report_carries_its_summary_and_the_report_stays_small() -> None:
    rng = np.random.default_rng(5)
    report = check_drift(_frame(rng, 800, 0.0), _frame(rng, 300, 1.0), min_window=100)
    assert [(r.feature, r.test) for r in report.results] == [(c.feature, c.test) for c in CHECKS]
    kinds = {(r.feature, r.test): r.distribution["kind"] for r in report.results if r.distribution}
    assert kinds == {
        ("text_length", "ks"): "cdf",
        ("token_count", "ks"): "cdf",
        ("confidence", "ks"): "cdf",
        ("confidence", "psi"): "bins",
        ("label", "chi2"): "categories",
        ("surface", "chi2"): "categories",
        ("embedding", "domain_auc"): "scores",
    }
    label = next(r for r in report.results if r.test == "chi2" and r.feature == "label").distribution
    assert label is not None and label["categories"] == list(LABELS)
    as_json = json.dumps(report.as_dict())
    assert len(as_json) < 20_000  # tens of bins per test, never rows
    assert all("distribution" in row for row in report.as_dict()["results"])
    assert check_drift(_frame(rng, 800, 0.0), _frame(rng, 300, 0.0), summaries=False).results[0].distribution is None


def test_the_pictures_draw_every_test_with_its_level_and_the_history_has_a_point_per_check() -> None:
    rng = np.random.default_rng(6)
    report = check_drift(_frame(rng, 800, 0.0), _frame(rng, 300, 1.0), min_window=100)
    page = figures_of(report.as_dict()["results"])
    assert page.count('class="drift-plot"') == len(CHECKS)
    assert 'data-test="domain_auc" data-level="drift"' in page and 'class="ks-gap"' in page
    assert "p_adj = " in page and "effect threshold 0.1" in page
    records = [
        {"checked_at": 1000.0 + 300 * i, "status": s, "raw_status": r, "consecutive": 1, "window_size": 500}
        | {"reference_source": "dataset"}
        for i, (s, r) in enumerate([("insufficient_data", "insufficient_data"), ("ok", "drift"), ("drift", "drift")])
    ]
    timeline = history_plot(records)
    assert timeline.count('class="history-point"') == 3 and 'data-raw-status="drift"' in timeline
    assert "No drift checks stored yet" in history_plot([]) and "No drift pictures yet" in figures_of([])
