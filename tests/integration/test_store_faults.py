"""The one store's SQLite file failing under a running service: locked by another connection, full, read-only (the
one store's PostgreSQL and SQLite outages of the prediction log: ``test_prediction_log_faults.py``).

Real SQLite files, a real service with a real (tiny) model; the faults are real SQLite errors on the store's own
connections (``tests/store_faults.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from store_faults import ERRORS, FAULTS, store_fault

from appserver import metric_value
from scheduler import JobRunner, evaluation_job
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from waiting import wait_until


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[SentimentService]:
    # 1000 rows: the report (with its row ids) needs pages of its own, so a full file refuses it
    fast = settings.model_copy(
        update={
            "evaluation_datasets": ["vader_movies"],
            "evaluation_sample_size": 1000,
            "database_timeout_s": 0.3,  # the one store: a lock fails a write after 0.3 s (test speed)
        }
    )
    service = SentimentService(
        fast, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), fast)
    )
    service.start()
    yield service
    service.stop()


def _value(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def _errors(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("kind", FAULTS)
def test_a_failing_prediction_log_never_fails_a_prediction_keeps_its_rows_and_logs_once(
    service: SentimentService, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """While the store's SQLite file is locked, full or read-only, every prediction is still answered; the log's
    rows stay in memory (``buffered`` = every row, none written, none failed or dropped) while the writer retries;
    the failure is logged once for the whole outage, naming SQLite's error, not once per try; when the fault ends,
    every row is written exactly once (``sentiment_prediction_log_rows_total{outcome="written"}`` and the table
    agree). Fails if the writer drops rows on a failed write, stops retrying, or logs each failed try."""
    log = service.monitoring.log
    assert log is not None
    texts = [f"what a lovely day number {i}" for i in range(200)]  # a batch needs new pages: 'full' bites
    caplog.set_level(logging.ERROR, logger="sentiment.monitoring.prediction_log")
    with store_fault(kind, service.store):
        for _ in range(3):  # three batches while the store refuses writes
            predictions = service.predict_many(texts)
            assert all(p.ok for p in predictions)
        assert service.predict("still answered").ok
        wait_until(lambda: log.counters.retries, "the writer to fail twice", accept=lambda n: n >= 2, timeout=60)
        assert (log.counters.written, log.counters.buffered) == (0, 3 * 200 + 1)
    assert log.flush(60)
    assert _value(service, "sentiment_prediction_log_rows_total", outcome="written") == 3 * 200 + 1
    assert _value(service, "sentiment_prediction_log_rows_total", outcome="failed") == 0
    assert _value(service, "sentiment_prediction_log_rows_total", outcome="dropped") == 0
    assert log.count() == 3 * 200 + 1
    records = _errors(caplog, "sentiment.monitoring.prediction_log")
    assert len(records) == 1, [r.getMessage() for r in records]
    assert ERRORS[kind] in records[0].getMessage() and "still served" in records[0].getMessage()


@pytest.mark.slow
@pytest.mark.parametrize("kind", FAULTS)
def test_a_failing_evaluation_store_fails_only_the_evaluation_counted_and_logged_once(
    service: SentimentService, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """While the evaluation store's SQLite file is locked, full or read-only, a scheduled evaluation fails cleanly:
    counted in ``scheduler_job_failures_total{job="evaluation"}``, logged once for the run, the reason kept for the
    Monitoring tab; predictions and the prediction log carry on; the next run after the fault is stored. Fails if the
    job runner stops catching a job's error (the failure would go uncounted) or a store error reaches predictions."""
    runner = JobRunner(service.metrics.monitoring, timeout_s=120)
    caplog.set_level(logging.ERROR)
    with store_fault(kind, service.store):  # the evaluation history lives in the one store
        assert runner.run("evaluation", lambda: evaluation_job(service)) == "failure"
        assert service.predict("predictions do not need the evaluation store").ok
    assert _value(service, "scheduler_job_failures_total", job="evaluation") == 1
    assert ERRORS[kind] in (runner.statuses["evaluation"].last_error or "")
    records = _errors(caplog, "scheduler.runner")
    assert len(records) == 1 and ERRORS[kind] in records[0].getMessage()
    assert service.monitoring.log is not None and service.monitoring.log.flush(10)
    assert service.monitoring.log.count() == 1
    assert service.evaluation.history() == []

    assert runner.run("evaluation", lambda: evaluation_job(service)) == "success"
    history = service.evaluation.history()
    assert [(row.dataset, row.n, row.source) for row in history] == [("vader_movies", 1000, "scheduled")]


@pytest.mark.parametrize("kind", ["locked"])
def test_a_visitors_evaluation_keeps_its_figures_when_the_history_cannot_store_them(
    service: SentimentService, kind: str
) -> None:
    """A visitor who waited for an evaluation gets its figures and a warning that the history did not keep them,
    and the gauges move; only a scheduled run fails (and is counted) on a store error."""
    with store_fault(kind, service.store):
        report = service.evaluation.evaluate("vader", "vader_tweets", sample_size=30)
    assert report.id is None and "not saved" in (report.warning or "") and report.result.metrics.accuracy > 0
    assert report.as_dict()["id"] is None and report.as_dict()["warning"] == report.warning
    assert _value(service, "model_accuracy", dataset="vader_tweets") == report.result.metrics.accuracy
    assert service.evaluation.history() == []
