"""A restart of the real app (``python app.py``, stopped with SIGTERM and started again on the same data folder and
store) is invisible on /metrics apart from the process counters: the quality, drift and estimate series are there,
with the same values, as soon as the new process says it is ready, long before its first scheduled job; and
``/monitoring`` shows the same last drift report and estimate."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_TOKEN, CACHE
from prometheus_client.parser import text_string_to_metric_families

from appserver import RunningApp, call_api, start_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENV = {
    "SENTIMENT_MODEL": "vader",  # fastest to load (half the embedded start); nothing here depends on the model
    "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
    "SENTIMENT_CACHE_DIR": str(CACHE),
    "SENTIMENT_REFERENCE_PRODUCTION_ROWS": "0",
    "SENTIMENT_DRIFT_WINDOW": "40",
    "SENTIMENT_DRIFT_MIN_WINDOW": "10",
    "SENTIMENT_EVALUATION_DATASETS": '["vader_tweets"]',
    "SENTIMENT_EVALUATION_SAMPLE_SIZE": "30",
    # no scheduled job runs during the test: what /metrics shows after the restart was restored, not recomputed
    "SENTIMENT_FIRST_EVALUATION_DELAY_S": "3600",
    "SENTIMENT_EVALUATION_INTERVAL_S": "3600",
    "SENTIMENT_DRIFT_INTERVAL_S": "3600",
}


def _job_series(app: RunningApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], str]:
    """The samples the scheduled jobs set (quality, drift, estimate) by name and labels; values as ``repr``."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): repr(sample.value)
        for family in text_string_to_metric_families(app.metrics())
        for sample in family.samples
        if sample.name.startswith(("model_", "sentiment_drift_", "sentiment_estimate_"))
    }


def _last_check(app: RunningApp) -> tuple[str, ...]:
    """What ``/monitoring`` says of the last check: its report, estimate, the label mix of its window and the
    reference in use."""
    figures = httpx.get(f"{app.url}/monitoring", timeout=30).json()
    return tuple(json.dumps(figures[k], sort_keys=True) for k in ("drift", "estimate", "label_mix", "reference_source"))


def test_a_restarted_app_exports_the_same_job_series_before_any_job_runs(tmp_path: Path) -> None:
    first = start_app(tmp_path / "data", ENV)
    try:
        event, _ = call_api(first.url, "predict_batch", "\n".join(f"review {i}: a lovely stay" for i in range(40)))
        assert event == "complete"
        event, reports = call_api(first.url, "run_evaluation", ADMIN_TOKEN, timeout=300)
        assert event == "complete", reports
        event, report = call_api(first.url, "run_drift_check", ADMIN_TOKEN, timeout=300)
        assert event == "complete", report
        before, shown = _job_series(first), _last_check(first)
    finally:
        first.stop()
    names = {name for name, _ in before}
    assert {"model_accuracy", "sentiment_drift_status", "sentiment_drift_statistic"} <= names
    assert json.loads(shown[0]) and json.loads(shown[0])["status"] != "insufficient_data"

    second = start_app(tmp_path / "data", ENV, log_name="app-2.log")
    try:
        assert _job_series(second) == before
        assert _last_check(second) == shown
    finally:
        second.stop()
