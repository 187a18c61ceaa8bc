"""Scheduled jobs in a real APScheduler: they run on their interval, move their gauges, and a failing or hanging
job is counted while the next run still happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from appserver import metric_value
from scheduler import JobRunner, Scheduler, build_scheduler, drift_job, evaluation_job
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from tiny_models import started_service
from waiting import wait_until


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[SentimentService]:
    with started_service(
        tiny_model_dir,
        settings,
        evaluation_interval_s=1.0,
        drift_interval_s=1.0,
        evaluation_datasets=["vader_tweets"],
        evaluation_sample_size=30,
        drift_min_window=10,
    ) as service:
        yield service


def _value(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def _wait(condition, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_the_evaluation_job_runs_on_its_interval_and_moves_its_gauges(service: SentimentService) -> None:
    scheduler = build_scheduler(service)
    assert scheduler.start()
    try:
        assert _wait(lambda: _value(service, "scheduler_job_last_success_timestamp_seconds", job="evaluation") > 0)
        first = _value(service, "scheduler_job_last_success_timestamp_seconds", job="evaluation")
        assert _wait(lambda: _value(service, "scheduler_job_last_success_timestamp_seconds", job="evaluation") > first)
    finally:
        scheduler.shutdown()
    model = service.predictor.info.name
    key = {"model": model, "dataset": "vader_tweets", "split": "test", "source": "scheduled"}
    assert _value(service, "model_evaluation_samples", **key) == 30
    assert _value(service, "model_accuracy", **key) > 0
    assert _value(service, "scheduler_job_duration_seconds", job="evaluation") > 0
    scheduled = [row for row in service.evaluation.history() if row.source == "scheduled"]
    assert len(scheduled) >= 2  # two runs, each stored with its own fresh sample seed
    assert all(row.dataset == "vader_tweets" and row.n == 30 for row in scheduled)


def test_a_failing_job_is_counted_and_the_next_run_still_happens(tmp_path: Path) -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    runner = JobRunner(metrics.monitoring, timeout_s=5)
    scheduler = Scheduler(runner, tmp_path / "lock")
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first run fails")

    scheduler.add("flaky", flaky, interval_s=0.5, first_run_s=0.1)
    assert scheduler.start()
    try:
        assert _wait(lambda: len(calls) >= 2 and runner.statuses["flaky"].last_outcome == "success", 15)
    finally:
        scheduler.shutdown()
    text = metrics.render().decode()
    assert metric_value(text, "scheduler_job_failures_total", {"job": "flaky"}) == 1
    assert metric_value(text, "scheduler_job_last_success_timestamp_seconds", {"job": "flaky"}) > 0
    assert runner.statuses["flaky"].failures == 1


def test_a_hanging_job_times_out_and_its_next_run_is_skipped_not_stacked() -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    runner = JobRunner(metrics.monitoring, timeout_s=0.3)
    release = threading.Event()
    assert runner.run("hang", lambda: release.wait(10)) == "timeout"
    assert runner.run("hang", lambda: None) == "skipped"
    release.set()
    wait_until(lambda: not runner.is_running("hang"), "the released job's thread to end", timeout=30)
    assert runner.run("hang", lambda: None) == "success"
    assert metric_value(metrics.render().decode(), "scheduler_job_failures_total", {"job": "hang"}) == 2


def test_only_one_process_runs_the_scheduler(tmp_path: Path) -> None:
    first = Scheduler(JobRunner(ServiceMetrics(CollectorRegistry()).monitoring, 5), tmp_path / "scheduler.lock")
    second = Scheduler(JobRunner(ServiceMetrics(CollectorRegistry()).monitoring, 5), tmp_path / "scheduler.lock")
    assert first.start()
    try:
        assert not second.start()  # flock is per open file description: a second opener is refused
    finally:
        first.shutdown()
    assert second.start()
    second.shutdown()


def test_a_lock_held_by_another_process_keeps_the_scheduler_off_until_released(tmp_path: Path) -> None:
    import subprocess
    import sys

    lock = tmp_path / "scheduler.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True);"
            " sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        scheduler = Scheduler(JobRunner(ServiceMetrics(CollectorRegistry()).monitoring, 5), lock)
        assert not scheduler.start()
    finally:
        holder.communicate("", timeout=30)  # closing stdin ends the holder, which releases its lock
    assert scheduler.start()
    scheduler.shutdown()


def test_shutdown_on_another_thread_releases_the_lock(tmp_path: Path) -> None:
    import threading

    first = Scheduler(JobRunner(ServiceMetrics(CollectorRegistry()).monitoring, 5), tmp_path / "scheduler.lock")
    assert first.start()
    stopper = threading.Thread(target=first.shutdown)
    stopper.start()
    stopper.join(30)
    second = Scheduler(JobRunner(ServiceMetrics(CollectorRegistry()).monitoring, 5), tmp_path / "scheduler.lock")
    assert second.start()
    second.shutdown()


@pytest.mark.slow
def test_the_drift_job_reads_the_log_of_the_serving_model(service: SentimentService) -> None:
    assert drift_job(service).status == "insufficient_data"
    service.predict_many([f"what a great day number {i}" for i in range(40)])
    report = drift_job(service)
    assert report.status in {"ok", "warning", "drift"} and report.window_size == 40
    assert _value(service, "sentiment_drift_window_size") == 40
    assert _value(service, "sentiment_prediction_log_rows_total", outcome="written") == 40
    assert evaluation_job(service)[0].as_dict()["n"] == 30


def test_a_window_of_production_traffic_can_be_pinned_as_the_reference(service: SentimentService) -> None:
    service.predict_many([f"the flight was late by {i} hours" for i in range(50)])
    pinned = service.monitoring.pin_reference(rows=50)
    assert (pinned.dataset, len(pinned.frame)) == ("production", 50)
    report = service.monitoring.check_drift()
    assert report.reference is not None and report.reference.dataset == "production"
    assert report.status == "ok"  # the window is the reference itself
    from sentiment.service.monitoring import MonitoringService

    restarted = MonitoringService(
        service.settings, service.metrics.monitoring, lambda: service.predictor, store=service.store
    )
    assert restarted.reference().dataset == "production"  # the pin survives a restart


def test_the_first_evaluation_comes_soon_after_start_and_the_job_table_says_when(
    tiny_model_dir: Path, settings: Settings
) -> None:
    """A fresh app's evaluation figures read "never run" for an hour before: the first evaluation now comes
    ``SENTIMENT_FIRST_EVALUATION_DELAY_S`` after start (never later than one interval), the drift check one interval
    after start, and the Monitoring tab's job table shows each next run beside "not run yet"."""
    from sentiment.web.ui.monitoring_tables import jobs_frame

    with started_service(
        tiny_model_dir, settings, evaluation_interval_s=3600.0, first_evaluation_delay_s=30.0, drift_interval_s=300.0
    ) as service:
        service.jobs = scheduler = build_scheduler(service)
        started = time.time()
        assert scheduler.start()
        try:
            evaluation, drift = scheduler.next_run("evaluation"), scheduler.next_run("drift_check")
            assert evaluation is not None and drift is not None
            assert 28 <= evaluation - started <= 32 and 298 <= drift - started <= 302
            rows = jobs_frame(service).set_index("job")
            assert rows.loc["evaluation", "outcome"] == "not run yet"
            assert rows.loc["evaluation", "next run (UTC)"] == time.strftime(
                "%Y-%m-%d %H:%M:%S", time.gmtime(evaluation)
            )
        finally:
            scheduler.shutdown()
        assert scheduler.next_run("evaluation") is None  # nothing is scheduled once the scheduler stops
    with started_service(tiny_model_dir, settings, evaluation_interval_s=10.0) as service:  # delay 120 s > interval
        scheduler = build_scheduler(service)
        started = time.time()
        assert scheduler.start()
        try:
            evaluation = scheduler.next_run("evaluation")
            assert evaluation is not None and evaluation - started <= 11
        finally:
            scheduler.shutdown()
