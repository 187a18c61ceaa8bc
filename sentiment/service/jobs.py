"""The scheduled jobs: ordinary functions of the service, which tests call directly."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from sentiment.datasets import DATASETS
from sentiment.errors import StoreError
from sentiment.evaluation.report import EvaluationReport
from sentiment.evaluation.store import SCHEDULED
from sentiment.monitoring.drift import DriftReport
from sentiment.service.evaluation import ProductionOutcome
from sentiment.service.serving import SentimentService

logger = logging.getLogger(__name__)


def evaluation_job(service: SentimentService) -> list[EvaluationReport | ProductionOutcome]:
    """Evaluate the serving model on a fresh random sample of each configured dataset, then on the labels people
    gave its logged predictions (``dataset="production"``; "insufficient labels" below the minimum). Gauges move."""
    settings = service.settings
    serving = service.predictor.info
    model = serving.name
    seed = int(time.time())  # a new sample every run: over the hours the whole split gets covered
    reports: list[EvaluationReport | ProductionOutcome] = []
    for dataset in settings.evaluation_datasets:
        info = DATASETS.get(dataset)
        split = "all" if info is not None and not info.trainable else "test"
        reports.append(
            service.evaluation.evaluate(model, dataset, split, settings.evaluation_sample_size, seed, source=SCHEDULED)
        )
    log = service.monitoring.log
    if log is not None:
        log.flush(60)  # rows of the newest answers, which feedback may already name
    reports.append(service.evaluation.production(service.feedback.store, log, model, serving.revision, seed))
    return reports


def drift_job(service: SentimentService) -> DriftReport:
    """Compare the newest window of production predictions with the reference profile, then bring the production
    truth gauges (the review sample's prediction-powered intervals) up to date, whether or not the check succeeded:
    the truth does not depend on it. A failure of either is logged and leaves the other standing.

    It also applies the log's retention (old predictions, and sampled texts past ``review_text_days``): the log's
    writer does so only after it writes, so without traffic nothing would expire."""
    log = service.monitoring.log
    if log is not None:
        try:
            log.prune()
        except (SQLAlchemyError, StoreError) as exc:
            logger.warning("pruning the prediction log failed (%s); the next drift check tries again", exc)
    try:
        return service.monitoring.check_drift()
    finally:
        if service.review.enabled:
            _refresh_truth(service)


def _refresh_truth(service: SentimentService) -> None:
    shares = service.monitoring.shares
    try:
        truth = service.truth.report(service.predictor.info.name)
    except Exception:  # a store error, or a bug: the drift verdict must still count as this job's result
        logger.exception("the production truth was not updated after the drift check")
        shares.forget_truth()  # the label-free shares stand in for the stale interval
        return
    shares.publish(truth)  # the review sample's interval replaces the label-free shares
