"""APScheduler in the app's process, its jobs run by exactly one process among those sharing a store, every run
measured.

A job that raises is logged and counted and the next run still happens; a job that runs past its time limit is
reported as failed (a Python thread cannot be killed, so a still-running job makes the next run skip, counted too).
Reload modes, several workers and several replicas each start the app: a lock (``scheduler.leadership``: a file lock
for a SQLite store, a PostgreSQL advisory lock for a shared one) lets only one of them run the jobs, and the others
stand by and take over when it goes away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.leadership import FileLeadership, Leadership
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


STANDBY = "standby: another process runs the scheduled jobs"
LEADER_POLL_MAX_S = 15.0  # a standby asks for leadership at least this often (and at every job tick)


class Scheduler:
    """The background scheduler with its jobs, run by the one process that holds ``leadership``.

    Every process that starts one polls for leadership (every ``poll_s`` and at each job tick) and runs a scheduled
    job only after checking, right before it, that it still leads: a standby takes over within one poll once the
    leader dies, and a leader that lost its lock stops running jobs. ``run_now`` (a person's request through the UI)
    runs on any process.
    """

    def __init__(
        self,
        runner: JobRunner,
        leadership: Leadership | Path,
        poll_s: float | None = None,
        follow: Callable[[], None] | None = None,
    ) -> None:
        self.runner = runner
        self.follow = follow  # what a standby does at each poll: take up what the leader's jobs kept in the store
        self.leadership: Leadership = FileLeadership(leadership) if isinstance(leadership, Path) else leadership
        self.poll_s = poll_s
        self.leading = False
        self._guard = threading.Lock()
        self._stopped = False
        self._scheduler = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
        )
        self.jobs: dict[str, tuple[Callable[[], Any], float]] = {}

    def add(self, name: str, fn: Callable[[], Any], interval_s: float, first_run_s: float | None = None) -> None:
        self.jobs[name] = (fn, interval_s)
        self.runner.statuses[name] = JobStatus(name, interval_s)
        self.runner.metrics.job_failures.labels(job=name)  # exported as 0 from the start, so rate() works
        start = datetime.now() + timedelta(seconds=first_run_s if first_run_s is not None else interval_s)
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=interval_s,
            args=[name, fn],
            id=name,
            next_run_time=start,
            replace_existing=True,
        )

    def _tick(self, name: str, fn: Callable[[], Any]) -> str:
        """A scheduled run: only on the leader, and only after checking the lock is still ours."""
        if not self.lead():
            self.runner.statuses[name].last_outcome = STANDBY
            return "standby"
        return self.runner.run(name, fn)

    def lead(self) -> bool:
        """Take leadership if it is free, or check that it is still held; sets ``leading`` and the gauge."""
        with self._guard:
            leading = not self._stopped and self.leadership.acquire()
            if leading != self.leading:
                if leading:
                    logger.info("this process now runs the scheduled jobs (%s)", self.leadership.description)
                else:
                    logger.warning("this process no longer runs the scheduled jobs (%s)", self.leadership.description)
            self.leading = leading
            self.runner.metrics.scheduler_leader.set(1 if leading else 0)
            return leading

    def _poll(self) -> None:
        """Ask for leadership; standing by, follow the leader (its drift verdict and evaluations, from the store),
        so this replica's gauges never keep what it restored at its own start. A failure is logged, never raised:
        the poll must keep running."""
        if self.lead() or self.follow is None:
            return
        try:
            self.follow()
        except Exception:  # a store that is down, say: the next poll tries again
            logger.warning("a standby could not follow the leader's results", exc_info=True)

    def next_run(self, name: str) -> float | None:
        """Unix time of the next scheduled run of ``name`` (None: not scheduled, or the scheduler is not running)."""
        job = self._scheduler.get_job(name) if self._scheduler.running else None
        when = getattr(job, "next_run_time", None)
        return when.timestamp() if when is not None else None

    def run_now(self, name: str) -> str:
        fn, _ = self.jobs[name]
        return self.runner.run(name, fn)

    def start(self) -> bool:
        """Start polling for leadership and running the jobs while leading; True (the scheduler runs here, leading or
        standing by). ``leading`` says which."""
        intervals = [interval for _, interval in self.jobs.values()]
        poll = self.poll_s if self.poll_s is not None else min([*intervals, LEADER_POLL_MAX_S])
        self._stopped = False
        if not self.lead():
            logger.info("another process runs the scheduled jobs (%s); standing by", self.leadership.description)
            for status in self.runner.statuses.values():
                status.last_outcome = STANDBY
        self._scheduler.add_job(self._poll, "interval", seconds=poll, id="leadership", replace_existing=True)
        self._scheduler.start()
        logger.info("scheduler started: %s", ", ".join(f"{n} every {i:g} s" for n, (_, i) in self.jobs.items()))
        return True

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def shutdown(self) -> None:
        """Stop the jobs and give leadership up, so a standby takes over at its next poll."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        with self._guard:
            self._stopped = True
            self.leadership.release()
            self.leading = False
            self.runner.metrics.scheduler_leader.set(0)
