"""The SQLite stores failing under a running service: locked by another connection, full, read-only (the one store's
PostgreSQL and SQLite outages of the prediction log: ``test_prediction_log_faults.py``).

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
from sqlalchemy import event

from appserver import metric_value
from scheduler import JobRunner, evaluation_job
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.store import Store
from waiting import wait_until

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
        update={"evaluation_datasets": ["vader_movies"], "evaluation_sample_size": 1000, "database_timeout_s": 0.3}
    )  # a locked store fails a write after 0.3 s instead of 5 (test speed)
    service = SentimentService(
        fast, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), fast)
    )
    service.start()
    service.evaluation.store.busy_timeout_s = 0.3
    yield service
    service.stop()


def _value(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def _errors(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno >= logging.ERROR]


@contextmanager
def store_fault(kind: str, store: Store) -> Iterator[None]:
    """Make every write to the one store's SQLite file fail with a real SQLite error of the given kind, until the
    block ends: a lock is another connection's ``BEGIN EXCLUSIVE``; full and read-only are pragmas on each
    connection the store's pool hands out (and the file's permission bits); the pool is emptied before and after, so
    no connection opened outside the fault is used inside it, or the other way round."""
    path = Path(store.engine.url.database or "")
    if kind == "locked":
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    pragmas = ["PRAGMA max_page_count = {pages}"] if kind == "full" else ["PRAGMA query_only = ON"]

    def on_checkout(dbapi_conn: sqlite3.Connection, _record: object, _proxy: object) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        for pragma in pragmas:
            dbapi_conn.execute(pragma.format(pages=pages))

    store.engine.dispose()
    if kind == "read-only":
        path.chmod(0o444)
    event.listen(store.engine, "checkout", on_checkout)
    try:
        yield
    finally:
        event.remove(store.engine, "checkout", on_checkout)
        path.chmod(0o644)
        store.engine.dispose()


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
    store = service.evaluation.store
    caplog.set_level(logging.ERROR)
    with fault(kind, store):
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
    with fault(kind, service.evaluation.store):
        report = service.evaluation.evaluate("vader", "vader_tweets", sample_size=30)
    assert report.id is None and "not saved" in (report.warning or "") and report.result.metrics.accuracy > 0
    assert report.as_dict()["id"] is None and report.as_dict()["warning"] == report.warning
    assert _value(service, "model_accuracy", dataset="vader_tweets") == report.result.metrics.accuracy
    assert service.evaluation.history() == []
