"""A drift history that cannot write (locked by another connection, read-only) loses only its row: the check's
verdict still reaches ``last_report`` and the gauges, the loss is logged, and the next check is stored again.

Real faults on the one store's SQLite file (tests/store_faults.py). (A full disk is left out: ``PRAGMA
max_page_count`` only bites a write that needs a new page, and a check's row fits the table's first page; the code
path, a database error from the store, is the same.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from store_faults import ERRORS, store_fault

from appserver import metric_value
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[SentimentService]:
    small = settings.model_copy(
        update={
            "drift_window": 60,
            "drift_min_window": 40,
            "reference_production_rows": 0,
            "database_timeout_s": 0.3,  # a lock fails a write after 0.3 s (test speed)
        }
    )
    service = SentimentService(
        small, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), small)
    )
    service.start()
    yield service
    service.stop()


@pytest.mark.parametrize("kind", ["locked", "read-only"])
def test_a_failing_drift_history_leaves_the_verdict_standing(
    service: SentimentService, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    monitoring = service.monitoring
    service.predict_many([f"the flight was late by {i} hours" for i in range(60)])
    assert monitoring.log is not None and monitoring.log.flush(60)  # the window is stored before the fault begins
    caplog.set_level(logging.ERROR, logger="sentiment.service.monitoring")
    with store_fault(kind, service.store):
        report = monitoring.check_drift()
    assert report.status in {"ok", "warning", "drift"} and monitoring.last_report is report
    gauge = metric_value(service.metrics.render().decode(), "sentiment_drift_status")
    assert gauge == report.status_code
    (record,) = [r for r in caplog.records if r.name == "sentiment.service.monitoring" and r.levelno >= logging.ERROR]
    assert "drift history did not keep" in record.getMessage() and ERRORS[kind] in record.getMessage()
    assert monitoring.history.recent() == []

    again = monitoring.check_drift()  # the store is back
    assert [(r.checked_at, r.status) for r in monitoring.history.recent()] == [(again.checked_at, again.status)]
