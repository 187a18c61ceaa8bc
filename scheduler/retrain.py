"""Wires the retrain service (``sentiment.service.retrain``) to what ``sentiment`` may not import: the LoRA loop of
``finetune`` as its trainer, ``finetune``'s publishing to the Hub as its publisher, and a ``JobRunner`` of its own
as its job runner (the scheduled jobs' failure isolation and metrics: ``scheduler_job_runs_total{job="retrain"}``),
with a time limit of the training bound plus a grace for loading the base and judging the challenger."""

from __future__ import annotations

from finetune.retrain import LoraTrainer, RunPublisher
from scheduler.runner import JobRunner
from sentiment.service.retrain import RetrainService
from sentiment.service.serving import SentimentService

RETRAIN_GRACE_S = 600.0  # loading the base, saving, and scoring both models on the held-out and forgetting sets


def build_retrain(service: SentimentService) -> RetrainService:
    """The app's retrain service: one job at a time, bounded, its failures counted as the scheduled jobs' are."""
    runner = JobRunner(service.metrics.monitoring, service.settings.retrain_max_seconds + RETRAIN_GRACE_S)
    return RetrainService(service, LoraTrainer(service.settings), runner, RunPublisher(service.settings))
