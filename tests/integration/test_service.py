"""The service the UI calls: metrics move by exactly what was scored, readiness, and a failed load that stays up."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from appserver import metric_value
from sentiment.errors import InvalidTextError, ModelUnavailableError
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from waiting import wait_until


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> SentimentService:
    predictor = Predictor.load(str(tiny_model_dir), settings)
    return SentimentService(settings, ServiceMetrics(CollectorRegistry()), predictor=predictor)


def _value(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def test_counters_move_by_exactly_the_texts_scored(service: SentimentService, tmp_path: Path) -> None:
    service.predict("i love this")
    service.predict_many(["a", "", "b"])
    path = tmp_path / "f.csv"
    path.write_text("text\none\ntwo\n\nthree\n")
    service.score_file(path)
    assert _value(service, "sentiment_predictions_total") == 1 + 2 + 3
    assert _value(service, "sentiment_errors_total", reason="empty_text") == 2
    assert _value(service, "sentiment_batch_size_count", endpoint="predict_batch") == 1
    assert _value(service, "sentiment_batch_size_sum", endpoint="predict_batch") == 3
    assert _value(service, "sentiment_text_length_count") == 6
    assert _value(service, "sentiment_prediction_latency_seconds_count", endpoint="score_csv", unit="request") == 1
    assert _value(service, "sentiment_requests_in_progress") == 0


def test_the_in_progress_gauge_counts_a_request_while_it_scores_and_after_it_fails(
    service: SentimentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []

    def failing(texts: object, **options: object) -> None:
        seen.append(_value(service, "sentiment_requests_in_progress", endpoint="predict_batch"))
        raise RuntimeError("model crashed")

    monkeypatch.setattr(service.predictor, "predict_batch", failing)
    with pytest.raises(RuntimeError, match="model crashed"):
        service.predict_many(["a", "b"])
    assert seen == [1]
    assert _value(service, "sentiment_requests_in_progress", endpoint="predict_batch") == 0
    # the bug reaches the caller unchanged; the UI edge counts it once as "internal" (tests/integration/test_errors.py)
    assert _value(service, "sentiment_errors_total", reason="internal") == 0


def test_no_user_text_ever_becomes_a_label_value(service: SentimentService) -> None:
    secret = "my-very-private-text-4242"
    service.predict(secret)
    with pytest.raises(InvalidTextError):
        service.predict("   ")
    assert secret not in service.metrics.render().decode()


def test_model_info_names_the_serving_model(service: SentimentService) -> None:
    info = service.model_info
    assert info is not None
    assert _value(service, "sentiment_model_info", model=info.name, source="local", revision=info.revision) == 1
    assert service.health()["status"] == "ready"


def test_too_many_texts_in_one_request_are_refused_with_the_limit(service: SentimentService) -> None:
    with pytest.raises(InvalidTextError, match="limit is 256"):
        service.predict_many(["x"] * 257)


def test_a_model_that_fails_to_load_leaves_the_service_up_and_saying_why(settings: Settings) -> None:
    broken = settings.model_copy(update={"model": "/nonexistent/model", "ready_timeout_s": 5})
    service = SentimentService(broken, ServiceMetrics(CollectorRegistry()))
    service.start()
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        service.predict("hello")
    health = service.health()
    assert health["status"] == "failed" and "does not exist" in health["error"]
    assert _value(service, "sentiment_errors_total", reason="model_unavailable") == 1


def test_old_scored_files_are_deleted(service: SentimentService, tmp_path: Path) -> None:
    import os

    path = tmp_path / "f.csv"
    path.write_text("text\nhello\n")
    old = service.score_file(path).path.parent
    os.utime(old, (0, 0))  # older than any retention
    service.score_file(path)
    assert not old.exists()
    from sentiment.web.ui.blocks import build_blocks

    demo = build_blocks(service)
    assert demo.delete_cache == (600, int(service.settings.batch_retention_s))


def test_expired_results_are_deleted_on_a_timer_and_a_running_job_never_is(
    tiny_model_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    """Scored files (they hold users' text) go once older than ``batch_retention_s`` even when no new job comes
    to trigger a sweep; a job that runs longer than the retention is not swept from under itself. Fails if the
    service sweeps only when a new job starts, or if the sweep ignores which jobs are running."""
    import time

    short = settings.model_copy(update={"batch_retention_s": 0.5, "csv_chunk_rows": 10})
    service = SentimentService(
        short, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), short)
    )
    service.start()
    try:
        path = tmp_path / "f.csv"
        path.write_text("text\n" + "hello there\n" * 30)
        slow = service.score_file(path, progress=lambda *_: time.sleep(0.8), text_column="text")  # 3 chunks: 2.4 s
        assert slow.path.exists() and slow.summary.scored == 30
        wait_until(lambda: not slow.path.parent.exists(), "the sweeper to delete the expired result", timeout=60)
    finally:
        service.stop()


def test_prediction_log_rows_are_the_logs_own_counters_at_every_scrape() -> None:
    """A collector reads the log's counters when scraped: nothing to sync, and every outcome exists from the start."""
    from sentiment.monitoring.prediction_log import LogCounters

    metrics = ServiceMetrics(CollectorRegistry())
    text = metrics.render().decode()
    assert "# TYPE sentiment_prediction_log_rows_total counter" in text
    for outcome in ("written", "dropped", "failed"):
        assert metric_value(text, "sentiment_prediction_log_rows_total", {"outcome": outcome}) == 0
    counters = LogCounters()
    metrics.monitoring.log_rows.watch(counters)
    counters.written, counters.dropped, counters.failures = 7, 2, 1
    text = metrics.render().decode()
    found = {
        o: metric_value(text, "sentiment_prediction_log_rows_total", {"outcome": o})
        for o in ("written", "dropped", "failed")
    }
    assert found == {"written": 7, "dropped": 2, "failed": 1}
