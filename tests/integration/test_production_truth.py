"""The production truth on a real service (tiny model, real store, real review sample): which predictions the
prediction-powered interval speaks for, and what it reports, on both backends.

The rule under test (``sentiment.service.production_truth``): the owner labels the random sample oldest first, so the
labelled rows are a uniform sample of the predictions made *before the oldest draw still waiting*; the window ends
there. Below ``ppi_min_labels`` there is no interval, only how many labels it still needs; the gauges follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from appserver import metric_value
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings

pytestmark = pytest.mark.slow
TEXTS = [f"the delivery number {i} came {'late' if i % 3 else 'early'} and the box was fine" for i in range(100)]


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings, database_url: str) -> Iterator[SentimentService]:
    configured = settings.model_copy(
        update={
            "database_url": SecretStr(database_url),
            "review_rate": 0.5,
            "review_daily_cap": 100_000,
            "ppi_min_labels": 10,
            "reference_production_rows": 0,
        }
    )
    service = SentimentService(
        configured,
        ServiceMetrics(CollectorRegistry()),
        predictor=Predictor.load(str(tiny_model_dir), configured),
    )
    service.start()
    yield service
    service.stop()


def _sampled(service: SentimentService) -> list[dict]:
    """The sampled rows of ``TEXTS``, in the order the texts were sent."""
    for text in TEXTS:  # one request each: every prediction has its own time, so a window can end between two
        assert service.predict(text).ok
    assert service.monitoring.log is not None and service.monitoring.log.flush(60)
    rows = service.review.queue.rows(state="all", limit=10_000)
    return sorted(rows, key=lambda row: TEXTS.index(row["text"]))


def test_the_window_ends_at_the_oldest_draw_still_waiting_and_counts_what_it_rests_on(
    service: SentimentService,
) -> None:
    """With the k-th sampled row left waiting, the window holds exactly the predictions sent from the first draw up
    to it (N = the difference of their positions among the texts) and the k labelled rows before it (later labels
    wait for it); once it is labelled the window runs to now (n = every sampled row). The labels-only estimate is
    the labelled rows' own accuracy; the PPI interval holds its estimate and is no wider than the labels-only one.
    Fails if the window ignored the waiting row (the labelled rows would no longer be a uniform sample of it)."""
    model = service.predictor.info.name
    rows = _sampled(service)
    assert 30 <= len(rows) <= 70  # Bernoulli(0.5) of 100: outside this is a sampler bug, not chance (p < 1e-4)
    k = len(rows) // 2
    truth = {row["id"]: ("positive" if TEXTS.index(row["text"]) % 2 else "negative") for row in rows}
    for row in rows[:k] + rows[k + 1 :]:
        service.review.label(row["id"], truth[row["id"]])

    waiting = service.truth.report(model)
    assert waiting is not None and waiting.intervals is not None
    first = TEXTS.index(rows[0]["text"])  # the window starts at the first draw: before it nothing is known drawable
    assert (waiting.labelled, waiting.predictions) == (k, TEXTS.index(rows[k]["text"]) - first)
    assert waiting.until == pytest.approx(rows[k]["prediction_ts"])

    service.review.label(rows[k]["id"], truth[rows[k]["id"]])
    full = service.truth.report(model)
    assert full is not None and full.intervals is not None and full.refused is None
    assert (full.labelled, full.predictions, full.needed) == (len(rows), len(TEXTS) - first, 0)
    accuracy = full.result("accuracy")
    assert accuracy is not None
    right = [truth[row["id"]] == row["served_label"] for row in rows]
    assert accuracy.classical_estimate == pytest.approx(np.mean(right))
    assert accuracy.lower <= accuracy.estimate <= accuracy.upper
    assert accuracy.upper - accuracy.lower <= accuracy.classical_upper - accuracy.classical_lower + 1e-12
    shares = [full.result(f"share_{label}") for label in ("negative", "neutral", "positive")]
    assert all(share is not None for share in shares)
    assert full.headline is not None
    assert f"from {len(rows):,} sampled labels and {len(TEXTS) - first} predictions" in full.headline

    metrics = service.metrics.render().decode()
    lower = {"quantity": "accuracy", "bound": "lower", "level": "0.90"}
    assert metric_value(metrics, "sentiment_production_truth", lower) == pytest.approx(accuracy.lower)
    assert metric_value(metrics, "sentiment_production_truth_labels") == len(rows)
    assert metric_value(metrics, "sentiment_production_truth_predictions") == len(TEXTS) - first


def test_below_the_minimum_there_is_no_interval_only_how_many_labels_it_needs(service: SentimentService) -> None:
    """Five labels of ten needed: no interval, ``needed == 5``, the card line asks for 5 more, and the interval gauges
    are empty (an alert must read "no data", not a stale interval)."""
    from sentiment.service.answer import answer
    from sentiment.web.ui.answer import answer_markdown

    model = service.predictor.info.name
    rows = _sampled(service)
    for row in rows[:5]:
        service.review.label(row["id"], "neutral")
    report = service.truth.report(model)
    assert report is not None and report.intervals is None and report.headline is None
    assert (report.labelled, report.needed) == (5, 5)
    card = answer_markdown(answer(service))
    assert "Production truth: label **5 more** sampled predictions for an interval" in card
    assert "sentiment_production_truth{" not in service.metrics.render().decode()


def test_labels_of_predictions_pruned_from_the_log_leave_the_window(service: SentimentService) -> None:
    """The log keeps fewer days than the review sample keeps labels: once the oldest predictions are pruned, the
    window starts at the oldest prediction still logged, and the labels of the pruned ones leave it too (they would
    speak for traffic N no longer counts). Fails if the window kept labels whose predictions are gone."""
    from sqlalchemy import delete, select

    from sentiment.store.schema import predictions

    model = service.predictor.info.name
    rows = _sampled(service)
    for row in rows:
        service.review.label(row["id"], "neutral")
    cut = rows[len(rows) // 2]
    with service.store.write() as conn:  # what the log's retention does to the oldest rows
        conn.execute(delete(predictions).where(predictions.c.ts < cut["prediction_ts"]))
        kept = len(conn.execute(select(predictions.c.id)).all())
    report = service.truth.report(model)
    assert report is not None and report.intervals is not None
    assert (report.labelled, report.predictions) == (len(rows) - len(rows) // 2, kept)


def test_a_view_reuses_the_report_until_a_label_is_taken_or_it_ages(service: SentimentService) -> None:
    """The Monitoring tab refreshes often and each report reads the window's predictions: ``current`` hands back the
    last report while it is younger than its age limit and no label came in since; a label, a skip or age makes a new
    one. Fails if a view recomputed every time (new object) or showed a report that misses the newest label."""
    model = service.predictor.info.name
    rows = _sampled(service)
    for row in rows[:12]:
        service.review.label(row["id"], "neutral")
    first = service.truth.current(model)
    assert first is not None and first.labelled == 12
    assert service.truth.current(model) is first
    service.review.label(rows[12]["id"], "positive")
    labelled = service.truth.current(model)
    assert labelled is not first and labelled is not None and labelled.labelled == 13
    service.review.skip(rows[13]["id"])
    skipped = service.truth.current(model)
    assert skipped is not labelled and skipped is not None and skipped.skipped == 1
    assert service.truth.current(model, max_age_s=0.0) is not skipped


def test_the_drift_job_refreshes_the_truth_when_the_check_fails_and_drops_an_interval_it_cannot_renew(
    service: SentimentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drift job's two halves stand apart: a failing drift check still brings the truth up to date, and a truth
    report that fails leaves the class shares without the old interval (an older window's interval must not stand for
    the traffic since). Fails if either failure kept the other half's stale result."""
    from sentiment.service.jobs import drift_job

    model = service.predictor.info.name
    rows = _sampled(service)
    for row in rows[:12]:
        service.review.label(row["id"], "neutral")
    before = service.truth.report(model)
    service.monitoring.shares.publish(before)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(service.monitoring, "check_drift", broken)
    service.review.label(rows[12]["id"], "positive")
    with pytest.raises(RuntimeError, match="injected fault"):
        drift_job(service)
    renewed = service.monitoring.shares.truth
    assert renewed is not None and renewed is not before and renewed.labelled == 13

    monkeypatch.setattr(service.truth, "report", broken)
    with pytest.raises(RuntimeError, match="injected fault"):
        drift_job(service)
    assert service.monitoring.shares.truth is None


def test_sampled_texts_expire_on_the_drift_job_without_new_traffic(service: SentimentService) -> None:
    """The review sample keeps texts ``review_text_days``: with no prediction since (the log's writer prunes only
    after it writes), the scheduled drift job deletes the expired texts, keeping labelled rows without their text.
    Fails if the retention waited for traffic."""
    import time

    from sqlalchemy import update

    from sentiment.service.jobs import drift_job
    from sentiment.store.schema import review_sample

    rows = _sampled(service)
    service.review.label(rows[0]["id"], "neutral")
    expired = time.time() - (service.settings.review_text_days + 1) * 86400
    with service.store.write() as conn:
        conn.execute(update(review_sample).values(sampled_at=expired))
    drift_job(service)
    kept = service.review.queue.rows(state="all", limit=10_000)
    assert [(row["id"], row["text"]) for row in kept] == [(rows[0]["id"], None)]
