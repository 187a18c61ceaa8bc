"""The quality gauges at start: the newest stored evaluation per (model, dataset, split, source) is set again before
any scheduled job runs, so a restart is invisible on /metrics apart from the process counters.

Without it every ``model_accuracy`` series (``dataset="production"`` included) disappears until the next hourly
evaluation: the accuracy alerts resolve and stay blind for up to an hour. The drift gauges come back with the drift
check's own state (``MonitoringService``, ``sentiment.monitoring.drift_state``).

Only what a live process exports comes back: ``scheduled`` and ``visitor`` evaluations (the CLI's are not exported),
under the same label values ``EvaluationService`` gives them (a visitor's model outside the offered ones is
"other"), each key set from its newest evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from sentiment.errors import StoreError
from sentiment.evaluation.metrics import ClassificationReport, ClassMetrics
from sentiment.evaluation.store import SCHEDULED, EvaluationStore
from sentiment.service.evaluation import METRIC_SOURCES, EvaluationService
from sentiment.service.quality_metrics import EvaluationMetrics

logger = logging.getLogger(__name__)


def stored_metrics(report: Mapping[str, Any]) -> ClassificationReport:
    """The metrics of a stored evaluation report (``EvaluationReport.stored()``'s ``metrics``)."""
    data = dict(report["metrics"])
    per_class = {label: ClassMetrics(**values) for label, values in data.pop("per_class").items()}
    return ClassificationReport(**data, per_class=per_class)


def restore_evaluation_gauges(
    metrics: EvaluationMetrics, reports: Iterable[Mapping[str, Any]], model_label: Callable[[str, str], str]
) -> int:
    """Set the gauges from stored reports (``EvaluationReport.stored()`` dicts), oldest first so each key ends at
    its newest; ``model_label(model, source)`` is the gauge's model label. Returns how many were set; a report this
    code cannot read is skipped (logged)."""
    exported = [r for r in reports if r.get("source") in METRIC_SOURCES]
    restored = 0
    for report in sorted(exported, key=lambda r: float(r["created_at"])):
        try:
            source = str(report["source"])
            model = model_label(str(report["model"]), source)
            split, created_at = str(report["split"]), float(report["created_at"])
            metrics.record(model, str(report["dataset"]), split, stored_metrics(report), created_at, source)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("a stored evaluation of %s is not restored to the gauges: %s", report.get("model"), exc)
            continue
        restored += 1
    return restored


def newest_evaluations(history: EvaluationStore) -> list[dict[str, Any]]:
    """The stored report of the newest evaluation per (model, dataset, split, source), oldest first
    (``EvaluationStore.latest_per_key``)."""
    return [stored.report for stored in history.latest_per_key()]


def restore_quality_gauges(metrics: EvaluationMetrics, evaluation: EvaluationService, *, quiet: bool = False) -> int:
    """At start: the quality gauges from the evaluation history. A history that cannot be read leaves them empty
    (logged): the next evaluation sets them."""

    def model_label(model: str, source: str) -> str:
        return model if source == SCHEDULED else evaluation.visitor_model_label(model)

    try:
        reports = newest_evaluations(evaluation.store)
    except (SQLAlchemyError, StoreError) as exc:
        (logger.debug if quiet else logger.warning)(
            "the quality gauges wait for the next evaluation: the history cannot be read (%s)", exc
        )
        return 0
    restored = restore_evaluation_gauges(metrics, reports, model_label)
    (logger.debug if quiet else logger.info)("restored the quality gauges of %d stored evaluation(s)", restored)
    return restored
