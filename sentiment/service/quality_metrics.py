"""Prometheus metrics of the model's quality: feedback labels, evaluations, drift checks and estimated performance.

Like the serving metrics, their label values come from fixed sets (class names, datasets the owner configured,
sources ``scheduled``/``visitor``), never from user text.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from sentiment.evaluation.metrics import ClassificationReport
from sentiment.labels import LABELS
from sentiment.monitoring.deployment_reference import SOURCES
from sentiment.monitoring.drift import DRIFT_NO_VERDICT, DriftReport
from sentiment.monitoring.performance import WindowEstimate
from sentiment.service.collectors import PredictionLogCollector, StoreTotalsCollector
from sentiment.service.estimate_metrics import EstimateMetrics
from sentiment.service.share_metrics import ShareMetrics

FEEDBACK_OUTCOMES = (
    "recorded",  # stored, awaiting review (a visitor's) or accepted (the owner's bulk file)
    "duplicate",  # the same label for the same prediction again, whoever sent it: nothing new stored
    "rate_limited",  # refused: the client's hourly limit (SENTIMENT_FEEDBACK_PER_CLIENT_HOUR) was reached
    "unknown_prediction",  # refused: no logged prediction has that id
    "accepted",  # the owner accepted it
    "dropped",  # the owner dropped it
)


class FeedbackMetrics:
    """Feedback on predictions by the label people gave and what became of it (fixed label values only)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.total = Counter(
            "sentiment_feedback_total",
            "Feedback on predictions by the label given and its outcome (recorded, duplicate, refused, reviewed).",
            ["label", "outcome"],
            registry=registry,
        )
        for label in LABELS:
            for outcome in FEEDBACK_OUTCOMES:
                self.total.labels(label=label, outcome=outcome)

    def count(self, label: str, outcome: str, n: int = 1) -> None:
        if label in LABELS and outcome in FEEDBACK_OUTCOMES and n > 0:
            self.total.labels(label=label, outcome=outcome).inc(n)


EVALUATION_SOURCES = ("scheduled", "visitor")


class EvaluationMetrics:
    """Gauges set after every evaluation: model quality by model, dataset, split and ``source`` (label values from
    the registry, the fixed class names and ``EVALUATION_SOURCES`` only).

    ``source`` keeps the operator's figures apart from visitors': the hourly job writes ``scheduled``, and every
    dashboard panel and alert selects only that; an evaluation a visitor runs (an uploaded file, a 3-row sample)
    writes ``visitor`` series, visible on /metrics, which nothing reads to decide the model's health.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        base = ["model", "dataset", "split", "source"]
        per_class = [*base, "class_label", "average"]
        self.accuracy = Gauge("model_accuracy", "Accuracy of the last evaluation.", base, registry=registry)
        self.f1 = Gauge(
            "model_f1",
            "F1 per class (average=none) and macro/weighted (class_label=all).",
            per_class,
            registry=registry,
        )
        self.precision = Gauge("model_precision", "Precision per class and macro.", per_class, registry=registry)
        self.recall = Gauge("model_recall", "Recall per class and macro.", per_class, registry=registry)
        self.confusion = Gauge(
            "model_confusion_matrix",
            "Rows of the last evaluation by true and predicted class.",
            [*base, "true_label", "predicted_label"],
            registry=registry,
        )
        self.samples = Gauge("model_evaluation_samples", "Rows in the last evaluation.", base, registry=registry)
        self.timestamp = Gauge(
            "model_evaluation_timestamp_seconds", "When the last evaluation finished.", base, registry=registry
        )

    def record(
        self, model: str, dataset: str, split: str, report: ClassificationReport, created_at: float, source: str
    ) -> None:
        if source not in EVALUATION_SOURCES:
            raise ValueError(f"unknown evaluation source {source!r}; expected one of {', '.join(EVALUATION_SOURCES)}")
        key = {"model": model[:200], "dataset": dataset, "split": split, "source": source}
        self.accuracy.labels(**key).set(report.accuracy)
        for label, metrics in report.per_class.items():
            cls = {**key, "class_label": label, "average": "none"}
            self.f1.labels(**cls).set(metrics.f1)
            self.precision.labels(**cls).set(metrics.precision)
            self.recall.labels(**cls).set(metrics.recall)
        macro = {**key, "class_label": "all", "average": "macro"}
        self.f1.labels(**macro).set(report.macro_f1)
        self.precision.labels(**macro).set(report.macro_precision)
        self.recall.labels(**macro).set(report.macro_recall)
        self.f1.labels(**{**key, "class_label": "all", "average": "weighted"}).set(report.weighted_f1)
        for i, true_label in enumerate(LABELS):
            for j, predicted in enumerate(LABELS):
                self.confusion.labels(**key, true_label=true_label, predicted_label=predicted).set(
                    report.confusion[i][j]
                )
        self.samples.labels(**key).set(report.n)
        self.timestamp.labels(**key).set(created_at)

    def clear(self, model: str, dataset: str, split: str, source: str) -> None:
        """Remove every series of one evaluation key: no figures beat stale figures (the production evaluation
        below its minimum of labels must neither keep an alert firing nor keep it quiet)."""
        key = (model[:200], dataset, split, source)
        for gauge in (
            self.accuracy,
            self.samples,
            self.timestamp,
            self.f1,
            self.precision,
            self.recall,
            self.confusion,
        ):
            for labels in list(gauge._metrics):
                if labels[:4] == key:
                    gauge.remove(*labels)


class MonitoringMetrics:
    """Drift results, prediction-log health and scheduled-job health."""

    def __init__(self, registry: CollectorRegistry) -> None:
        pair = ["feature", "test"]
        self.shares = ShareMetrics(registry)  # the drift window's class shares (sentiment.service.class_shares)
        self.drift_statistic = Gauge(
            "sentiment_drift_statistic", "Statistic of the last drift check per test.", pair, registry=registry
        )
        self.drift_p_value = Gauge(
            "sentiment_drift_p_value", "Holm-adjusted p-value of the last drift check.", pair, registry=registry
        )
        self.drift_detected = Gauge(
            "sentiment_drift_detected", "1 when the test's level is 'drift'.", pair, registry=registry
        )
        self.drift_status = Gauge(
            "sentiment_drift_status",
            "Overall drift level: 0 ok, 1 warning, 2 drift, -1 no verdict (not checked yet, or too few predictions); "
            "+0.5 while a higher level is seen in a window but not yet confirmed (0.5, 1.5).",
            registry=registry,
        )
        # Until a check has run there is no verdict: "not checked yet" must never read as 0 ("ok").
        self.drift_status.set(DRIFT_NO_VERDICT)
        self.drift_window = Gauge(
            "sentiment_drift_window_size", "Predictions in the last drift window.", registry=registry
        )
        self.drift_effect = Gauge(
            "sentiment_drift_effect_size", "Effect size (KS D, Cramér's V, PSI) per test.", pair, registry=registry
        )
        self.reference_info = Gauge(
            "sentiment_drift_reference_info",
            "1 for the reference the last drift check compared with: dataset (bootstrap), production (the model "
            "revision's first predictions) or pinned (by an admin); 0 for the others.",
            ["source"],
            registry=registry,
        )
        self.log_rows = PredictionLogCollector()
        registry.register(self.log_rows)
        self.store_totals = StoreTotalsCollector()
        registry.register(self.store_totals)
        self.job_runs = Counter(
            "scheduler_job_runs_total", "Scheduled job runs by outcome.", ["job", "outcome"], registry=registry
        )
        self.job_failures = Counter(
            "scheduler_job_failures_total", "Scheduled job runs that raised or timed out.", ["job"], registry=registry
        )
        self.job_last_success = Gauge(
            "scheduler_job_last_success_timestamp_seconds", "When the job last succeeded.", ["job"], registry=registry
        )
        self.job_duration = Gauge(
            "scheduler_job_duration_seconds", "Duration of the job's last run.", ["job"], registry=registry
        )
        self.scheduler_leader = Gauge(
            "sentiment_scheduler_leader",
            "1 while this process runs the scheduled jobs (it holds the scheduler's lock), 0 on a standby replica.",
            registry=registry,
        )
        self.estimate = EstimateMetrics(registry)  # the drift window's label-free estimate and its verdict

    def _checked_gauges(self) -> dict[str, Gauge]:
        """The gauges a drift check sets (drift and estimated performance), by exported name."""
        gauges = (
            self.drift_statistic,
            self.drift_p_value,
            self.drift_detected,
            self.drift_status,
            self.drift_window,
            self.drift_effect,
            self.reference_info,
            *self.estimate.gauges,
        )
        return {next(iter(gauge.describe())).name: gauge for gauge in gauges}

    def checked_series(self) -> list[dict[str, Any]]:
        """Every series the drift checks have set, as exported now (name, labels, value): kept with the check's
        state (``sentiment.monitoring.drift_state``) so a restarted app exports the same series, older tests'
        included, before its first check."""
        return [
            {"name": name, "labels": sample.labels, "value": sample.value}
            for name, gauge in self._checked_gauges().items()
            for metric in gauge.collect()
            for sample in metric.samples
        ]

    def restore_checked(self, series: list[dict[str, Any]]) -> None:
        """Set the series ``checked_series`` gave (a name this code no longer exports is skipped)."""
        gauges = self._checked_gauges()
        for row in series:
            gauge = gauges.get(row["name"])
            if gauge is None:
                continue
            labels = row["labels"]
            (gauge.labels(**labels) if labels else gauge).set(float(row["value"]))

    def record_drift(self, report: DriftReport) -> None:
        self.drift_status.set(report.status_code)
        self.drift_window.set(report.window_size)
        for source in SOURCES:
            self.reference_info.labels(source=source).set(1 if source == report.reference_source else 0)
        for row in report.results:
            key = {"feature": row.feature, "test": row.test}
            self.drift_statistic.labels(**key).set(row.statistic)
            if row.adjusted_p_value is not None:
                self.drift_p_value.labels(**key).set(row.adjusted_p_value)
            self.drift_detected.labels(**key).set(1 if row.level == "drift" else 0)
            if row.effect_size is not None:
                self.drift_effect.labels(**key).set(row.effect_size)

    def record_estimate(self, window: WindowEstimate | None) -> None:
        self.estimate.record(window)
