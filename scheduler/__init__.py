"""Scheduled work inside the app's process: hourly evaluation and periodic drift checks."""

from __future__ import annotations

from scheduler.leadership import FileLeadership, Leadership, leadership_for
from scheduler.runner import JobRunner, JobStatus, Scheduler
from sentiment.service.jobs import drift_job, evaluation_job
from sentiment.service.serving import SentimentService

__all__ = [
    "FileLeadership",
    "JobRunner",
    "JobStatus",
    "Leadership",
    "Scheduler",
    "build_scheduler",
    "drift_job",
    "evaluation_job",
    "leadership_for",
]


def build_scheduler(service: SentimentService) -> Scheduler:
    """The app's scheduler with its two jobs. The first drift check comes one interval after start (a window needs
    traffic first); the first evaluation ``SENTIMENT_FIRST_EVALUATION_DELAY_S`` after start (or one interval, if
    shorter), so a fresh app's evaluation figures do not wait an hour. Replicas sharing a PostgreSQL store elect one
    runner through an advisory lock in it; with SQLite, a file lock in the data folder does."""
    settings = service.settings
    runner = JobRunner(service.metrics.monitoring, settings.job_timeout_s)
    leadership = leadership_for(service.store, settings.data_dir, settings.database_timeout_s)
    scheduler = Scheduler(runner, leadership, follow=service.follow_store)
    first = min(settings.first_evaluation_delay_s, settings.evaluation_interval_s)
    scheduler.add("evaluation", lambda: evaluation_job(service), settings.evaluation_interval_s, first_run_s=first)
    scheduler.add("drift_check", lambda: drift_job(service), settings.drift_interval_s)
    return scheduler
