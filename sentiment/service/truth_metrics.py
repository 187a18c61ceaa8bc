"""Prometheus gauges of the production truth (``sentiment.service.production_truth``): the prediction-powered
interval of the serving model's accuracy, class shares and macro-F1 on the review window, with the labels and
predictions it rests on.

One family, ``sentiment_production_truth{quantity, bound, level}``: ``quantity`` is ``accuracy``, ``share_<class>``
or ``macro_f1``; ``bound`` is ``estimate``, ``lower`` or ``upper``; ``level`` is ``0.90`` or ``0.95``. Every label
value comes from a fixed set. The series are removed when the window has no interval, so an alert reads "no data",
never a stale interval.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from sentiment.labels import LABELS
from sentiment.monitoring.ppi import WindowIntervals

QUANTITIES = ("accuracy", *(f"share_{label}" for label in LABELS), "macro_f1")


class TruthMetrics:
    """The gauges; ``show`` sets them from one window's intervals (or clears them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.interval = Gauge(
            "sentiment_production_truth",
            "Prediction-powered interval (PPI++) on the review window: estimate, lower and upper bound per quantity "
            "(accuracy, share_<class>, macro_f1) and confidence level.",
            ["quantity", "bound", "level"],
            registry=registry,
        )
        self.labels = Gauge(
            "sentiment_production_truth_labels",
            "Owner's labels of the random review sample in the window (n).",
            registry=registry,
        )
        self.predictions = Gauge(
            "sentiment_production_truth_predictions",
            "Predictions of the window the interval speaks for (N, the labelled ones included).",
            registry=registry,
        )
        self.timestamp = Gauge(
            "sentiment_production_truth_timestamp_seconds",
            "When the production truth was last computed (Unix seconds).",
            registry=registry,
        )

    def show(self, intervals: WindowIntervals | None, labelled: int, predictions: int, at: float) -> None:
        self.labels.set(labelled)
        self.predictions.set(predictions)
        self.timestamp.set(at)
        self.interval.clear()
        if intervals is None:
            return
        for level, results in intervals.results.items():
            for quantity in QUANTITIES:
                result = results.get(quantity)
                if result is None:
                    continue
                for bound, value in (("estimate", result.estimate), ("lower", result.lower), ("upper", result.upper)):
                    self.interval.labels(quantity=quantity, bound=bound, level=f"{level:.2f}").set(value)
