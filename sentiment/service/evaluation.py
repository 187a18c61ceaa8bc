"""Evaluation as the app offers it: checked model specs, evaluations recorded in the store and in Prometheus gauges.

Used by the Evaluate tab, its API endpoints, the CLI and the scheduled hourly evaluation alike.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from sentiment.datasets import DATASETS
from sentiment.datasets.feedback import FeedbackStore
from sentiment.errors import DatasetError, StoreError
from sentiment.evaluation.report import Comparison, ComparisonReport, EvaluationReport, EvaluationResult
from sentiment.evaluation.runner import Evaluator, ProgressFn
from sentiment.evaluation.store import SCHEDULED, VISITOR, EvaluationRecord, EvaluationStore
from sentiment.inference.pool import ModelPool
from sentiment.models.runs import visitor_spec
from sentiment.models.spec import offered_models
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.monitoring.production import DATASET as PRODUCTION
from sentiment.monitoring.production import SPLIT as PRODUCTION_SPLIT
from sentiment.monitoring.production import InsufficientLabels, NoPredictionLog, evaluate_production
from sentiment.service.quality_metrics import EvaluationMetrics
from sentiment.settings import Settings
from sentiment.store import Store

logger = logging.getLogger(__name__)
UPLOADED = "uploaded"  # the dataset label of a user's labelled file (file names never become metric labels)
# Who ran an evaluation: one word, the same in the history, the API and the gauges' ``source`` label
# (``sentiment.evaluation.store.SOURCES``). Dashboards and alerts read only "scheduled": a visitor's 3-row sample or
# uploaded file must never move, fire or clear them. The CLI's evaluations are not exported (nothing scrapes a CLI
# process).
METRIC_SOURCES = (SCHEDULED, VISITOR)
ProductionOutcome = EvaluationReport | InsufficientLabels | NoPredictionLog


class EvaluationService:
    def __init__(
        self,
        settings: Settings,
        metrics: EvaluationMetrics,
        pool: ModelPool | None = None,
        *,
        store: Store | None = None,
    ) -> None:
        """``store``: the one store the history lives in (the app passes its own); without one, the store of
        ``settings`` is opened (the command line's evaluations)."""
        self.settings = settings
        self.metrics = metrics
        self.evaluator = Evaluator(settings, pool or ModelPool(settings))
        opened = store or Store.open(settings.store_url, timeout_s=settings.database_timeout_s)
        self.store = EvaluationStore(opened)
        self.last_production: ProductionOutcome | None = None  # this process's newest, "insufficient" included

    def check_spec(self, spec: str) -> str:
        return visitor_spec(spec, self.settings.data_dir)

    @staticmethod
    def check_dataset(dataset: str, uploaded: Path | None, split: str | None) -> tuple[str, str, str]:
        """Return (what to load, how to label it in reports and metrics, the split). A user's file is evaluated
        whole unless a split is asked for: it is the user's test set, not a corpus to hold 15% out of."""
        if uploaded is not None:
            return str(uploaded), UPLOADED, split or "all"
        if dataset not in DATASETS:
            raise DatasetError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
        return dataset, dataset, split or "test"

    def visitor_model_label(self, name: str) -> str:
        """A visitor may evaluate any Hub model or fine-tuning run: only the offered models keep their name as a
        label value, the rest are "other", so visitors cannot add series without bound."""
        offered = set(offered_models(self.settings.hub_model.split("@")[0]))
        return name if name in offered else "other"

    def _record(self, result: EvaluationResult, label: str, source: str) -> EvaluationReport:
        """Set the gauges (scheduled and visitor runs) and keep ``result`` in the history under ``label``."""
        result = replace(result, dataset=label)  # a user's file is "uploaded", never its path
        if source in METRIC_SOURCES:
            model = result.model if source == SCHEDULED else self.visitor_model_label(result.model)
            self.metrics.record(model, label, result.split, result.metrics, result.created_at, source)
        report = EvaluationReport(result, source)
        try:
            report = replace(report, id=self.store.add(report))
        except (SQLAlchemyError, StoreError) as exc:  # locked, full, read-only, unreachable
            if source != VISITOR:
                raise  # a scheduled run fails, counted and logged by the scheduler
            # A visitor waited for these figures: show them, say they were not kept.
            reason = _reason(exc)
            logger.error("evaluation history not saved (%s)", reason)
            report = replace(report, warning=f"not saved to the evaluation history ({type(exc).__name__}: {reason})")
        logger.info(
            "evaluated %s on %s/%s (n=%d, seed=%d): accuracy %.3f, macro-F1 %.3f",
            result.model,
            label,
            result.split,
            result.n,
            result.seed,
            result.metrics.accuracy,
            result.metrics.macro_f1,
        )
        return report

    def evaluate(
        self,
        spec: str,
        dataset: str,
        split: str | None = None,
        sample_size: int | None = None,
        seed: int = 0,
        uploaded: Path | None = None,
        progress: ProgressFn | None = None,
        source: str = VISITOR,
        label_map: str | None = None,
    ) -> EvaluationReport:
        """Evaluate one model; ``split`` None means "test" of a registry dataset, all of an uploaded file.
        Callers other than visitors (``source`` "scheduled" or "cli") may name a local folder, such as the
        serving model's own. ``label_map`` says what an uploaded file's labels mean when they are not
        self-evident (``sentiment.datasets.label_map``)."""
        spec = self.check_spec(spec) if source == VISITOR else spec.strip()
        target, label, split = self.check_dataset(dataset, uploaded, split)
        result = self.evaluator.evaluate(
            spec, target, split, sample_size or None, seed, progress, label_map=label_map or None
        )
        return self._record(result, label, source)

    def compare(
        self,
        spec_a: str,
        spec_b: str,
        dataset: str,
        split: str | None = None,
        sample_size: int | None = None,
        seed: int = 0,
        uploaded: Path | None = None,
        progress: ProgressFn | None = None,
        source: str = VISITOR,
        label_map: str | None = None,
    ) -> ComparisonReport:
        """Two models on the same rows (see ``evaluate`` for the arguments); always checked as a visitor's specs."""
        spec_a, spec_b = self.check_spec(spec_a), self.check_spec(spec_b)
        target, label, split = self.check_dataset(dataset, uploaded, split)
        a, b, paired = self.evaluator.compare(
            spec_a, spec_b, target, split, sample_size or None, seed, progress, label_map=label_map or None
        )
        comparison = Comparison.of(paired, a.model, b.model)
        return ComparisonReport(self._record(a, label, source), self._record(b, label, source), comparison)

    def production(
        self, feedback: FeedbackStore, log: PredictionLog | None, model: str, revision: str, seed: int = 0
    ) -> ProductionOutcome:
        """The serving model on its own labelled traffic (``sentiment.monitoring.production``): recorded like a
        scheduled evaluation under ``dataset="production"``, or "insufficient labels" (its gauges then removed)."""
        self.last_production = self._production(feedback, log, model, revision, seed)
        return self.last_production

    def _production(
        self, feedback: FeedbackStore, log: PredictionLog | None, model: str, revision: str, seed: int
    ) -> ProductionOutcome:
        if log is None:
            self.metrics.clear(model, PRODUCTION, PRODUCTION_SPLIT, SCHEDULED)
            return NoPredictionLog(model)
        outcome = evaluate_production(feedback, log, model, revision, self.settings, seed)
        if isinstance(outcome, InsufficientLabels):
            self.metrics.clear(model, PRODUCTION, PRODUCTION_SPLIT, SCHEDULED)
            logger.info(
                "production evaluation of %s: %s (%d of %d)", model, outcome.status, outcome.n, outcome.min_labels
            )
            return outcome
        return self._record(outcome, PRODUCTION, SCHEDULED)

    def last_realised(self, model: str) -> EvaluationRecord | None:
        """The newest production evaluation of ``model`` the history holds (it survives restarts), or None."""
        return next((r for r in self.store.recent(200) if r.dataset == PRODUCTION and r.model == model), None)

    def history(self, limit: int = 50) -> list[EvaluationRecord]:
        return self.store.recent(limit)


def _reason(exc: BaseException) -> str:
    """The database's own words (the first line of the driver's error), without the SQL SQLAlchemy appends."""
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
