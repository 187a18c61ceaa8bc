"""APScheduler in the app's process, started exactly once per machine, with every job run measured.

A job that raises is logged and counted and the next run still happens; a job that runs past its time limit is
reported as failed (a Python thread cannot be killed, so a still-running job makes the next run skip, counted too).
Reload modes and several workers each import the app: a non-blocking file lock (``filelock``: ``flock`` on Unix)
on a file in the data folder lets only the first process run the scheduler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from filelock import FileLock, Timeout

from sentiment.service.quality_metrics import MonitoringMetrics

logger = logging.getLogger(__name__)


@dataclass
class JobStatus:
    name: str
    interval_s: float
    last_run: float | None = None
    last_success: float | None = None
    last_outcome: str = "not run yet"
    last_error: str | None = None
    last_duration_s: float | None = None
    runs: int = 0
    failures: int = 0


@dataclass
class JobRunner:
    """Runs one job with a time limit and records what happened (metrics and a status for the UI)."""

    metrics: MonitoringMetrics
    timeout_s: float
    statuses: dict[str, JobStatus] = field(default_factory=dict)
    _threads: dict[str, threading.Thread] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any]) -> str:
        status = self.statuses.setdefault(name, JobStatus(name, 0))
        if self.is_running(name):
            return self._fail(status, "skipped", "the previous run is still running", 0.0)
        outcome: dict[str, BaseException | None] = {"error": None}

        def target() -> None:
            try:
                fn()
            except BaseException as exc:  # report every failure, including SystemExit from a library
                outcome["error"] = exc

        started = time.perf_counter()
        status.last_run = time.time()
        thread = threading.Thread(target=target, name=f"job-{name}", daemon=True)
        self._threads[name] = thread
        thread.start()
        thread.join(self.timeout_s)
        duration = time.perf_counter() - started
        self.metrics.job_duration.labels(job=name).set(duration)
        status.runs += 1
        status.last_duration_s = duration
        if thread.is_alive():
            return self._fail(status, "timeout", f"still running after {self.timeout_s:g} s", duration)
        error = outcome["error"]
        if error is not None:
            logger.error("scheduled job %s failed: %s: %s", name, type(error).__name__, error, exc_info=error)
            return self._fail(status, "failure", f"{type(error).__name__}: {error}", duration)
        status.last_success = time.time()
        status.last_outcome, status.last_error = "success", None
        self.metrics.job_runs.labels(job=name, outcome="success").inc()
        self.metrics.job_last_success.labels(job=name).set(status.last_success)
        return "success"

    def is_running(self, name: str) -> bool:
        """Whether a run of ``name`` is still going (also one that timed out: its thread cannot be killed)."""
        thread = self._threads.get(name)
        return thread is not None and thread.is_alive()

    def _fail(self, status: JobStatus, outcome: str, message: str, duration: float) -> str:
        status.failures += 1
        status.last_outcome, status.last_error = outcome, message
        self.metrics.job_runs.labels(job=status.name, outcome=outcome).inc()
        self.metrics.job_failures.labels(job=status.name).inc()
        if outcome != "failure":
            logger.error("scheduled job %s: %s", status.name, message)
        return outcome


class Scheduler:
    """The background scheduler with its jobs; ``start`` returns False where another process holds the lock."""

    def __init__(self, runner: JobRunner, lock_path: Path) -> None:
        self.runner = runner
        self.lock_path = lock_path
        # Not thread-local: the app's shutdown may run on another thread than the one that started the scheduler.
        self._lock = FileLock(lock_path, thread_local=False)
        self._scheduler = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
        )
        self.jobs: dict[str, tuple[Callable[[], Any], float]] = {}

    def add(self, name: str, fn: Callable[[], Any], interval_s: float, first_run_s: float | None = None) -> None:
        self.jobs[name] = (fn, interval_s)
        self.runner.statuses[name] = JobStatus(name, interval_s)
        self.runner.metrics.job_failures.labels(job=name)  # exported as 0 from the start, so rate() works
        from datetime import datetime, timedelta

        start = datetime.now() + timedelta(seconds=first_run_s if first_run_s is not None else interval_s)
        self._scheduler.add_job(
            self.runner.run,
            "interval",
            seconds=interval_s,
            args=[name, fn],
            id=name,
            next_run_time=start,
            replace_existing=True,
        )

    def next_run(self, name: str) -> float | None:
        """Unix time of the next scheduled run of ``name`` (None: not scheduled, or the scheduler is not running)."""
        job = self._scheduler.get_job(name) if self._scheduler.running else None
        when = getattr(job, "next_run_time", None)
        return when.timestamp() if when is not None else None

    def run_now(self, name: str) -> str:
        fn, _ = self.jobs[name]
        return self.runner.run(name, fn)

    def start(self) -> bool:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            logger.info("another process runs the scheduler (%s is locked); not starting one here", self.lock_path)
            return False
        self._scheduler.start()
        logger.info("scheduler started: %s", ", ".join(f"{n} every {i:g} s" for n, (_, i) in self.jobs.items()))
        return True

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._lock.is_locked:
            self._lock.release()
