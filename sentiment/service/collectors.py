"""Prometheus collectors that read their values when scraped, instead of copying them into counters that lag.

``PredictionLogCollector``: this process's prediction-log counters. ``StoreTotalsCollector``: totals of the one
store, which other processes (the CLI, other replicas) write too.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from sentiment.monitoring.prediction_log import LogCounters


class PredictionLogCollector(Collector):
    """``sentiment_prediction_log_rows_total`` read from the prediction log's own counters at each collection.

    The log counts rows in plain integers (it has no Prometheus dependency); a collector exports them as they are
    when scraped, instead of copying them into a second counter that lags until someone syncs it. With no log
    watched (logging off) every outcome reads 0, so ``rate()`` and the dashboards see the series from the start.
    """

    NAME = "sentiment_prediction_log_rows"
    HELP = "Prediction-log rows by outcome (written, dropped when the queue was full, failed)."
    OUTCOMES = ("written", "dropped", "failed")

    def __init__(self) -> None:
        self._counters: LogCounters | None = None

    def watch(self, counters: LogCounters | None) -> None:
        """Export these counters from now on (the log of the monitoring service that owns this registry)."""
        self._counters = counters

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.NAME, self.HELP, labels=["outcome"])]

    def collect(self) -> Iterator[Metric]:
        c = self._counters
        values = (c.written, c.dropped, c.failures) if c is not None else (0, 0, 0)
        family = CounterMetricFamily(self.NAME, self.HELP, labels=["outcome"])
        for outcome, value in zip(self.OUTCOMES, values, strict=True):
            family.add_metric([outcome], float(value))
        yield family
