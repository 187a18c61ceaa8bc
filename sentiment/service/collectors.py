"""Prometheus collectors that read their values when scraped, instead of copying them into counters that lag.

``PredictionLogCollector``: this process's prediction-log counters. ``StoreTotalsCollector``: totals of the one
store, which other processes (the CLI's bulk feedback, other replicas) write too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from sentiment.datasets.feedback import STATES
from sentiment.errors import StoreError
from sentiment.labels import LABELS
from sentiment.monitoring.prediction_log import LogCounters
from sentiment.store import Store
from sentiment.store.schema import feedback, predictions

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class StoreTotals:
    """What the store holds now: feedback rows per (label, review state), prediction-log rows."""

    feedback: dict[tuple[str, str], int]
    predictions: int


def read_store_totals(store: Store) -> StoreTotals:
    """Two COUNT queries (one grouped): cheap enough for a scrape every few seconds."""
    counts = dict.fromkeys(((label, state) for label in LABELS for state in STATES), 0)
    with store.read() as conn:
        grouped = select(feedback.c.label, feedback.c.reviewed, func.count()).group_by(
            feedback.c.label, feedback.c.reviewed
        )
        for label, state, n in conn.execute(grouped):
            if (label, state) in counts:  # fixed label values only
                counts[label, state] = int(n)
        rows = int(conn.execute(select(func.count()).select_from(predictions)).scalar_one())
    return StoreTotals(counts, rows)


class StoreTotalsCollector(Collector):
    """Totals of the one store, read when scraped: ``sentiment_feedback_stored{label, state}`` and
    ``sentiment_prediction_log_stored_rows``.

    ``sentiment_feedback_total`` counts what *this process* did with feedback; these say what the store holds,
    whoever wrote it: bulk feedback imported from the command line, or given through another replica, shows here
    at the next scrape. Read at most once per ``max_age_s`` (scrapes in between get the same values); while the
    store does not answer, the last values read are exported (none before the first read) and the scrape goes on.
    """

    FEEDBACK = "sentiment_feedback_stored"
    FEEDBACK_HELP = "Feedback rows the store holds, by the label given and review state (every process's)."
    ROWS = "sentiment_prediction_log_stored_rows"
    ROWS_HELP = "Prediction-log rows the store holds now (every process's, after retention)."

    def __init__(self, max_age_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._store: Store | None = None
        self._totals: StoreTotals | None = None
        self._read_at = -float("inf")
        self._lock = threading.Lock()

    def watch(self, store: Store | None) -> None:
        """Export this store's totals from now on."""
        with self._lock:
            self._store, self._totals, self._read_at = store, None, -float("inf")

    def describe(self) -> list[Metric]:
        return [
            GaugeMetricFamily(self.FEEDBACK, self.FEEDBACK_HELP, labels=["label", "state"]),
            GaugeMetricFamily(self.ROWS, self.ROWS_HELP),
        ]

    def totals(self) -> StoreTotals | None:
        """The totals to export: read again when older than ``max_age_s``, else the last read (None: never read)."""
        with self._lock:
            store = self._store
            if store is None or self._clock() - self._read_at < self.max_age_s:
                return self._totals
            self._read_at = self._clock()  # a store that is down is tried again only after max_age_s too
            try:
                self._totals = read_store_totals(store)
            except (StoreError, SQLAlchemyError) as exc:
                logger.warning("store totals not read for /metrics (the last values stand): %s", exc)
            return self._totals

    def collect(self) -> Iterator[Metric]:
        totals = self.totals()
        if totals is None:
            return
        family = GaugeMetricFamily(self.FEEDBACK, self.FEEDBACK_HELP, labels=["label", "state"])
        for (label, state), n in totals.feedback.items():
            family.add_metric([label, state], float(n))
        yield family
        yield GaugeMetricFamily(self.ROWS, self.ROWS_HELP, value=float(totals.predictions))
