"""The answer the Monitoring tab gives first: which feature moved most (each test read against its own threshold),
and a headline that puts labels first and still says when the newest unlabelled traffic points to a drop."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sentiment.monitoring.drift import DriftReport, FeatureDrift
from sentiment.monitoring.estimation import PerformanceEstimate
from sentiment.monitoring.performance import RealisedReference, WindowEstimate
from sentiment.monitoring.trust import NO_OVERLAP, TrustVerdict, labels_for_interval
from sentiment.service.answer import Answer, Realised, moved_most, severity
from sentiment.web.ui.answer import answer_details, answer_markdown


def _row(feature: str, test: str, statistic: float, adjusted: float | None, threshold: float) -> FeatureDrift:
    level = (
        "drift"
        if (adjusted is not None and adjusted < threshold) or (adjusted is None and statistic > threshold)
        else "ok"
    )
    return FeatureDrift(
        feature, test, statistic, adjusted, level == "drift", threshold, test, 600, 200, adjusted, level
    )


def _report(*rows: FeatureDrift) -> DriftReport:
    status = "drift" if any(r.level == "drift" for r in rows) else "ok"
    return DriftReport(status, 200, 100, 0.0, None, rows)


def _estimate(accuracy: float, band: tuple[float, float], reference: float) -> WindowEstimate:
    point = PerformanceEstimate("doc", 200, accuracy, band, accuracy, band, {}, {})
    return WindowEstimate(point, reference, reference, RealisedReference("vader_tweets", "test", 630, 0.8, 0.8), 0.0)


def _answer(**changes: object) -> Answer:
    fields: dict[str, object] = {
        "model": "embedded",
        "calibrated": True,
        "realised": None,
        "labels": 3,
        "labels_needed": 50,
        "estimate": None,
        "drift": None,
        "moved_most": None,
    }
    return Answer(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_result_at_its_threshold_has_severity_one_whatever_the_test() -> None:
    assert severity(_row("confidence", "psi", 0.25, None, 0.25)) == pytest.approx(1.0)
    assert severity(_row("label", "chi2", 9.0, 0.01, 0.01)) == pytest.approx(1.0)
    assert severity(_row("label", "chi2", 9.0, 0.0, 0.01)) > 100  # p underflowed to 0: far past, still finite


def test_the_feature_that_moved_most_is_the_one_furthest_past_its_own_threshold() -> None:
    """A PSI of 0.5 (twice its 0.25) outranks a KS p of 0.005 (log 0.005 / log 0.01 = 1.15) but not a chi2 p of
    1e-6 (3.0); a bigger raw statistic counts for nothing across tests."""
    psi = _row("confidence", "psi", 0.5, None, 0.25)
    ks = _row("text_length", "ks", 0.9, 0.005, 0.01)
    chi2 = _row("label", "chi2", 3.0, 1e-6, 0.01)
    assert moved_most(_report(psi, ks)) == psi
    assert moved_most(_report(psi, ks, chi2)) == chi2
    assert moved_most(None) is None and moved_most(_report()) is None


@given(p=st.floats(1e-12, 1.0), q=st.floats(1e-12, 1.0))
@hsettings(max_examples=50, deadline=None, derandomize=True)
def test_a_smaller_adjusted_p_value_never_ranks_lower(p: float, q: float) -> None:
    a, b = _row("a", "ks", 0.1, p, 0.01), _row("b", "ks", 0.1, q, 0.01)
    assert (severity(a) >= severity(b)) == (p <= q) or p == q


def test_the_headline_puts_labels_first_and_still_reports_a_drop_the_estimate_sees() -> None:
    measured = Realised(0.81, 0.74, 0.87, 120, 0.0)
    dropped = _estimate(0.70, (0.64, 0.75), 0.83)
    steady = _estimate(0.82, (0.77, 0.86), 0.83)
    assert _answer(realised=measured).headline == "Measured on 120 labelled predictions: accuracy 0.81 (0.74-0.87)."
    both = _answer(realised=measured, estimate=dropped).headline
    assert both.startswith("Measured on 120") and "Newest traffic suggests a drop: estimated accuracy 0.70" in both
    assert _answer(estimate=dropped).headline.startswith("Probably worse than at the reference: estimated accuracy")
    assert _answer(estimate=steady).headline.startswith("No sign of a drop: estimated accuracy 0.82")
    assert _answer().headline.startswith("Not enough traffic yet")


def test_the_card_says_what_each_missing_reading_waits_for() -> None:
    card = answer_markdown(_answer())
    assert "waiting for labels, 3 of 50 needed" in card
    assert "Estimated accuracy now: after the first drift check" in card and "Drift: no check yet" in card
    row = _row("surface", "chi2", 160.0, 2e-34, 0.01)
    full = answer_markdown(
        _answer(
            realised=Realised(0.8, 0.7, 0.9, 60, 0.0),
            estimate=_estimate(0.7, (0.6, 0.75), 0.83),
            drift=_report(row),
            moved_most=row,
        )
    )
    assert "from 60 labels" in full and "200 predictions, no labels needed) vs 0.83 at the reference" in full
    assert "Drift: **drift**" in full and "chi2" not in full  # the statistics are in the details, not the lead
    answer = _answer(estimate=_estimate(0.7, (0.6, 0.75), 0.83), drift=_report(row), moved_most=row)
    assert "moved most: **surface** (chi2, adjusted p 2e-34 (threshold 0.01), drift)" in answer_details(answer)
    assert "estimated by doc" in answer_details(answer)


def _unconfirmed(status: str, raw: str, windows: int = 1) -> DriftReport:
    return replace(_report(), status=status, raw_status=raw, windows=windows, consecutive=windows)


def test_a_shift_seen_in_one_window_reads_not_yet_confirmed_never_ok() -> None:
    """The issue's case: the headline says "probably worse" while the drift line said **ok** for a window that
    drifted. Now the line says what was seen, how many windows confirm it and about when the next comes; the gauge
    carries the same state as a distinct value (0.5), and /monitoring's answer names it."""
    report = _unconfirmed("ok", "drift")
    answer = _answer(drift=report, estimate=_estimate(0.73, (0.68, 0.78), 0.83), to_confirm=180)
    card = answer_markdown(answer)
    assert (
        "Drift: **drift seen in 1 window, not yet confirmed**: confirmed after 2 windows that share no prediction; "
        "the next such window comes in ~180 predictions"
    ) in card
    assert "**ok**" not in card and "no drift" not in card
    assert report.unconfirmed == "drift" and report.status_code == 0.5
    assert answer.as_dict()["drift_unconfirmed"] == "drift"
    assert "not yet confirmed" in answer.as_dict()["verdict"] and "**" not in answer.as_dict()["verdict"]


@given(
    status=st.sampled_from(["ok", "warning", "drift"]),
    raw=st.sampled_from(["ok", "warning", "drift"]),
    windows=st.integers(1, 5),
    confirm=st.integers(1, 5),
)
@hsettings(max_examples=60, deadline=None, derandomize=True)
def test_the_verdict_and_the_gauge_name_every_unconfirmed_level(
    status: str, raw: str, windows: int, confirm: int
) -> None:
    """For every pair of reported and own level: a window that reached a level above the reported one is said
    to be "seen ..., not yet confirmed" (never "no drift"), and the gauge is the confirmed level plus 0.5, so an
    alert on ``== 2`` fires only for confirmed drift; a window at the reported level reads as that level."""
    levels = ["ok", "warning", "drift"]
    if levels.index(raw) < levels.index(status):
        raw = status  # a window's own level never lies below the confirmed one
    report = _unconfirmed(status, raw, windows)
    words = answer_markdown(_answer(drift=report, confirm_windows=confirm))
    if raw != status:
        assert report.unconfirmed == raw and "not yet confirmed" in words
        assert f"seen in {windows} window" in words and f"confirmed after {confirm} window" in words
        assert report.status_code == levels.index(status) + 0.5
        assert "Drift: **no drift**" not in words
    else:
        assert report.unconfirmed is None and "not yet confirmed" not in words
        assert report.status_code == levels.index(status)
    assert (report.status_code == 2) == (status == "drift")


def _graded(feature: str, test: str, statistic: float, distribution: dict[str, object]) -> FeatureDrift:
    return replace(_row(feature, test, statistic, None, 0.01), level="drift", distribution=distribution)


def test_what_moved_is_said_with_both_numbers_strongest_first() -> None:
    """Each kind of test reads in words from what it compared: medians of a KS test, the category share that
    moved most of a chi-square, the domain classifier's AUC as "tells them apart N% of the time"."""
    length = _graded("text_length", "ks", 0.3, {"kind": "cdf", "median": {"reference": 77.0, "current": 95.0}})
    label = _graded(
        "label",
        "chi2",
        20.0,
        {
            "kind": "categories",
            "categories": ["negative", "neutral", "positive"],
            "reference": [0.28, 0.3, 0.42],
            "current": [0.56, 0.2, 0.24],
        },
    )
    topic = _graded("embedding", "domain_auc", 0.73, {"kind": "scores"})
    surface = _graded(
        "surface",
        "chi2",
        30.0,
        {"kind": "categories", "categories": ["url", "plain"], "reference": [0.4, 0.6], "current": [0.1, 0.9]},
    )
    quiet = replace(_row("token_count", "ks", 0.01, None, 0.5), level="ok")
    moved = _answer(drift=_report(length, label, topic, surface, quiet)).moved
    assert "texts got longer: median 95 vs 77 characters" in moved
    assert "more negative: 56% vs 28%" in moved
    assert any(p.startswith("the topics changed: a classifier tells") and "73% of the time" in p for p in moved)
    assert "fewer texts with links: 10% vs 40%" in moved
    assert not any("token" in p for p in moved)  # a test at ok is not news
    assert len(moved) == 4


def _refused(accuracy: float, band: tuple[float, float], reference: float) -> WindowEstimate:
    """An estimate whose trust verdict refused it: the window is unlike the labelled reference (AUC 0.99)."""
    verdict = TrustVerdict(
        route=NO_OVERLAP,
        trusted=False,
        method=None,
        reason="this traffic is unlike anything labelled (domain AUC 0.99)",
        domain_auc=0.99,
        domain_p=1e-30,
        label_shift_p=0.2,
        label_shift_fit_p=None,
        max_domain_auc=0.96,
        alpha=0.05,
        labels_needed=labels_for_interval(accuracy),
        level=0.90,
        half_width=0.05,
    )
    return replace(_estimate(accuracy, band, reference), trust=verdict)


def test_a_refused_estimate_gives_no_number_but_the_labels_to_collect() -> None:
    """A refused estimate of 0.60 (far below the reference's 0.83: it would read as a drop) is never shown: the
    card and the headline say "can't tell" with N = ceil(1.645^2 * 0.6 * 0.4 / 0.05^2) = 260 labels; realised
    labels still lead the headline and no "suggests a drop" rides on the refused number; the JSON's estimate is
    null while its verdict is served."""
    refused = _refused(0.60, (0.55, 0.65), 0.83)
    card = answer_markdown(_answer(estimate=refused))
    assert (
        "- Estimated accuracy now: **can't tell**: this traffic is unlike anything labelled (domain AUC 0.99): "
        "label 260 random predictions for a ±0.05 interval (90%) (Label tab)"
    ) in card
    assert "0.60" not in card
    headline = _answer(estimate=refused).headline
    assert headline == (
        "Can't tell without labels: this traffic is unlike anything labelled (domain AUC 0.99): label 260 random "
        "predictions for a ±0.05 interval (90%)."
    )
    measured = _answer(realised=Realised(0.81, 0.74, 0.87, 120, 0.0), estimate=refused).headline
    assert measured == "Measured on 120 labelled predictions: accuracy 0.81 (0.74-0.87)."
    served = _answer(estimate=refused).as_dict()
    assert served["estimate"] is None
    assert served["trust"]["labels_needed"] == 260 and served["trust"]["route"] == NO_OVERLAP
    trusted = replace(refused, trust=replace(refused.trust, trusted=True, route="covariate_shift", labels_needed=None))
    assert _answer(estimate=trusted).as_dict()["estimate"]["accuracy"] == 0.60
    assert "Estimated accuracy now: **0.60**" in answer_markdown(_answer(estimate=trusted))


def test_the_estimate_gauges_follow_the_verdict_and_the_routed_method() -> None:
    """A trusted DoC estimate sets the ``doc`` series; a window routed to the label-shift correction replaces them
    with ``bbse`` series (no stale ``doc`` value beside it); a refused window blanks every series (NaN), sets
    ``sentiment_estimate_trusted`` 0 and ``sentiment_estimate_labels_needed`` to N. Fails if an untrusted or superseded
    number stayed on /metrics."""
    from prometheus_client import CollectorRegistry, generate_latest

    from appserver import metric_value
    from sentiment.service.quality_metrics import MonitoringMetrics

    registry = CollectorRegistry()
    metrics = MonitoringMetrics(registry)
    refused = _refused(0.60, (0.55, 0.65), 0.83)
    assert refused.trust is not None
    shown = replace(refused, trust=replace(refused.trust, trusted=True, route="no_shift", labels_needed=None))
    metrics.record_estimate(shown)
    text = generate_latest(registry).decode()
    assert metric_value(text, "model_estimated_accuracy", {"method": "doc", "bound": "estimate"}) == 0.60
    assert metric_value(text, "sentiment_estimate_trusted") == 1

    point = replace(shown.estimate, method="bbse", accuracy=0.7)
    metrics.record_estimate(replace(shown, estimate=point))
    text = generate_latest(registry).decode()
    assert 'method="doc"' not in text
    assert metric_value(text, "model_estimated_accuracy", {"method": "bbse", "bound": "estimate"}) == 0.7

    metrics.record_estimate(refused)
    text = generate_latest(registry).decode()
    assert 'model_estimated_accuracy{bound="estimate",method="bbse"} NaN' in text
    assert metric_value(text, "sentiment_estimate_trusted") == 0
    assert metric_value(text, "sentiment_estimate_labels_needed") == 260
