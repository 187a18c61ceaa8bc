"""The scheduled jobs: ordinary functions of the service, which tests call directly."""

from __future__ import annotations

import logging
import time
from typing import Any

from sentiment.datasets import DATASETS
from sentiment.service import SentimentService

logger = logging.getLogger(__name__)


def evaluation_job(service: SentimentService) -> list[dict[str, Any]]:
    """Evaluate the serving model on a fresh random sample of each configured dataset (gauges move)."""
    settings = service.settings
    model = service.predictor.info.name
    seed = int(time.time())  # a new sample every run: over the hours the whole split gets covered
    reports = []
    for dataset in settings.evaluation_datasets:
        info = DATASETS.get(dataset)
        split = "all" if info is not None and not info.trainable else "test"
        reports.append(
            service.evaluation.evaluate(
                model, dataset, split, settings.evaluation_sample_size, seed, source="scheduler"
            )
        )
    return reports


def drift_job(service: SentimentService) -> dict[str, Any]:
    """Compare the newest window of production predictions with the reference profile."""
    return service.monitoring.check_drift().as_dict()
