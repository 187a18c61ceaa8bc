"""Prometheus gauges of the drift window's label-free estimate (``model_estimated_*``) and of its trust verdict
(``sentiment_estimate_trusted``, ``sentiment_estimate_labels_needed``). Label values are method names, bounds, metric
and class names: fixed sets, never user text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from sentiment.monitoring.performance import WindowEstimate


class EstimateMetrics:
    """The estimate gauges; ``record`` sets them from a window's estimate."""

    def __init__(self, registry: CollectorRegistry) -> None:
        bound = ["method", "bound"]
        self.estimated_accuracy = Gauge(
            "model_estimated_accuracy",
            "Estimated accuracy on the last drift window: bound=estimate, or low/high of its 90% band.",
            bound,
            registry=registry,
        )
        self.estimated_macro_f1 = Gauge(
            "model_estimated_macro_f1",
            "Estimated macro-F1 on the last drift window (bound as above).",
            bound,
            registry=registry,
        )
        self.estimated_f1 = Gauge(
            "model_estimated_f1",
            "Estimated F1 per class on the last drift window (bound as above).",
            ["method", "class_label", "bound"],
            registry=registry,
        )
        self.estimated_reference = Gauge(
            "model_estimated_reference",
            "The same estimator on the labelled reference rows: what the window's estimate is compared with.",
            ["method", "metric"],
            registry=registry,
        )
        self.estimate_trusted = Gauge(
            "sentiment_estimate_trusted",
            "1: the last drift window's label-free estimate passed its trust verdict; 0: refused (model_estimated_* "
            "are then NaN and sentiment_estimate_labels_needed says how many random labels would answer); NaN: no "
            "verdict.",
            registry=registry,
        )
        self.estimate_labels_needed = Gauge(
            "sentiment_estimate_labels_needed",
            "Random labels for a +-SENTIMENT_TRUST_HALF_WIDTH interval on the accuracy when the estimate was refused "
            "(else NaN).",
            registry=registry,
        )

    @property
    def gauges(self) -> tuple[Gauge, ...]:
        return (
            self.estimated_accuracy,
            self.estimated_macro_f1,
            self.estimated_f1,
            self.estimated_reference,
            self.estimate_trusted,
            self.estimate_labels_needed,
        )

    def record(self, window: WindowEstimate | None) -> None:
        """Set the estimated-performance gauges from a window's estimate; ``None`` (a window too small to
        estimate) or an estimate its trust verdict refuses sets every series to NaN, so no alert reads a stale or
        untrusted estimate."""
        trust = None if window is None else window.trust
        self.estimate_trusted.set(float("nan") if trust is None else float(trust.trusted))
        needed = None if trust is None else trust.labels_needed
        self.estimate_labels_needed.set(float("nan") if needed is None else needed)
        method = None if window is None or not window.trusted else window.estimate.method
        for gauge, names in (
            (self.estimated_accuracy, ("method", "bound")),
            (self.estimated_macro_f1, ("method", "bound")),
            (self.estimated_f1, ("method", "class_label", "bound")),
            (self.estimated_reference, ("method", "metric")),
        ):
            for metric in gauge.collect():
                for sample in metric.samples:
                    if method is None and gauge is not self.estimated_reference:
                        gauge.labels(**sample.labels).set(float("nan"))
                    elif method is not None and sample.labels["method"] != method:
                        # a trust route changed the method: the old one's series go, not linger beside it
                        gauge.remove(*(sample.labels[name] for name in names))
        if window is None or not window.trusted:
            return
        estimate = window.estimate
        for gauge, value, (low, high) in (
            (self.estimated_accuracy, estimate.accuracy, estimate.accuracy_band),
            (self.estimated_macro_f1, estimate.macro_f1, estimate.macro_f1_band),
        ):
            gauge.labels(method=method, bound="estimate").set(value)
            gauge.labels(method=method, bound="low").set(low)
            gauge.labels(method=method, bound="high").set(high)
        for label, value in estimate.f1.items():
            self.estimated_f1.labels(method=method, class_label=label, bound="estimate").set(value)
            low, high = estimate.f1_band[label]
            self.estimated_f1.labels(method=method, class_label=label, bound="low").set(low)
            self.estimated_f1.labels(method=method, class_label=label, bound="high").set(high)
        self.estimated_reference.labels(method=method, metric="accuracy").set(window.reference_accuracy)
        self.estimated_reference.labels(method=method, metric="macro_f1").set(window.reference_macro_f1)
