"""The SQLite stores failing under a running service: locked by another connection, full, read-only.

Real SQLite files, a real service with a real (tiny) model. The faults are real SQLite errors on the store's own
connections: a lock is another connection holding ``BEGIN EXCLUSIVE``; a full disk is ``PRAGMA max_page_count`` set
to the file's current size on the store's connections, which fails writes with the very error a full disk gives
(SQLITE_FULL, "database or disk is full"); read-only is the file's permission bits (and ``PRAGMA query_only`` on its
connections when the tests run as root, whom permission bits do not stop).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from store_faults import store_fault

from appserver import metric_value
from scheduler import JobRunner, evaluation_job
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings

FAULTS = ("locked", "full", "read-only")
ERRORS = {"locked": "database is locked", "full": "database or disk is full", "read-only": "readonly database"}


class _Store:  # what the fault needs of a store: its file and the method that opens its connections
    path: Path
    _connect: Callable[[], sqlite3.Connection]


@contextmanager
def fault(kind: str, store: _Store) -> Iterator[None]:
    """Make every write to ``store`` fail with a real SQLite error of the given kind, until the block ends."""
    opened = store._connect

    def with_pragmas(*pragmas: str) -> Callable[[], sqlite3.Connection]:
        def connect() -> sqlite3.Connection:
            conn = opened()
            for pragma in pragmas:
                conn.execute(pragma.format(pages=conn.execute("PRAGMA page_count").fetchone()[0]))
            return conn

        return connect

    if kind == "locked":
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
    elif kind == "full":
        store._connect = with_pragmas("PRAGMA max_page_count = {pages}")  # type: ignore[method-assign]
        try:
            yield
        finally:
            del store._connect  # type: ignore[attr-defined]
    else:
        store.path.chmod(0o444)
        if os.geteuid() == 0:
            store._connect = with_pragmas("PRAGMA query_only = ON")  # type: ignore[method-assign]
        try:
            yield
        finally:
            store.path.chmod(0o644)
            store.__dict__.pop("_connect", None)


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
    assert service.monitoring.log is not None
    service.monitoring.log.busy_timeout_s = 0.3  # a lock fails a write after 0.3 s instead of 5 (test speed)
    yield service
    service.stop()


def _value(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def _errors(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("kind", FAULTS)
def test_a_failing_prediction_log_never_fails_a_prediction_is_counted_and_logged_once(
    service: SentimentService, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """While the prediction log's SQLite file is locked, full or read-only, every prediction is still answered;
    the rows that could not be written are counted in ``sentiment_prediction_log_rows_total{outcome="failed"}``;
    the failure is logged once for the whole outage, not once per batch; when the store comes back, rows are
    written again. Fails if the writer stops catching SQLite errors, or logs each failed batch."""
    log = service.monitoring.log
    assert log is not None
    texts = [f"what a lovely day number {i}" for i in range(200)]  # a batch needs new pages: 'full' bites
    caplog.set_level(logging.ERROR, logger="sentiment.monitoring.prediction_log")
    with fault(kind, log):
        for _ in range(3):  # three batches, each failing on its own
            predictions = service.predict_many(texts)
            assert all(p.ok for p in predictions)
            assert log.flush(30)
        assert service.predict("still answered").ok
        assert log.flush(30)
    failed = _value(service, "sentiment_prediction_log_rows_total", outcome="failed")
    written = _value(service, "sentiment_prediction_log_rows_total", outcome="written")
    assert failed >= 3 * 200 and failed + written == 3 * 200 + 1  # a lone row may still fit a full file's last page
    records = _errors(caplog, "sentiment.monitoring.prediction_log")
    assert len(records) == 1, [r.getMessage() for r in records]
    assert ERRORS[kind] in records[0].getMessage() and "still served" in records[0].getMessage()

    service.predict_many(texts[:10])  # the store is back: rows are written again
    assert log.flush(30)
    assert _value(service, "sentiment_prediction_log_rows_total", outcome="written") == written + 10
    assert log.count() == written + 10


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
