"""Scheduled work inside the app's process: hourly evaluation and periodic drift checks."""

from __future__ import annotations

from scheduler.runner import JobRunner, JobStatus, Scheduler
from sentiment.service.jobs import drift_job, evaluation_job
from sentiment.service.serving import SentimentService

__all__ = ["JobRunner", "JobStatus", "Scheduler", "build_scheduler", "drift_job", "evaluation_job"]


def build_scheduler(service: SentimentService) -> Scheduler:
    """The app's scheduler with its two jobs; the first drift check comes one interval after start."""
    settings = service.settings
    runner = JobRunner(service.metrics.monitoring, settings.job_timeout_s)
    scheduler = Scheduler(runner, settings.data_dir / "scheduler.lock")
    scheduler.add("evaluation", lambda: evaluation_job(service), settings.evaluation_interval_s)
    scheduler.add("drift_check", lambda: drift_job(service), settings.drift_interval_s)
    return scheduler
