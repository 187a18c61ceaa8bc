"""Production truth on traffic nobody labelled: prediction-powered intervals for the serving model's accuracy, class
shares and macro-F1 on the last ``production_window_days``, from the owner's labels of the random review sample plus
the model's calibrated probabilities on every prediction of that window (``sentiment.monitoring.ppi``).

Which predictions an interval speaks for. The sampler draws each logged prediction with the same chance, and the
owner labels the sample oldest first. So the labelled rows are a uniform sample of the predictions made *before the
oldest draw still waiting for review* (by arrival, in the prediction log's order: the rows of one request share a
time, and replicas may commit review rows out of order): the window ends there, not now; later predictions join
the window as their draws are labelled. Predictions made after a day's cap closed that day's sample could not be
drawn and are left out of the window (``ReviewQueue.sampling_open``). Skipped rows are missing labels that need not
be missing at random: they are counted and said, not imputed. Visitor feedback never enters: it is self-selected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sentiment.errors import SampleDesignError
from sentiment.labels import LABELS
from sentiment.monitoring.ppi import RANDOM_SAMPLE, LabelledRows, PPIResult, WindowIntervals, WindowPredictions
from sentiment.monitoring.ppi import window_intervals as compute_intervals
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.monitoring.review_queue import ReviewCounts, ReviewQueue
from sentiment.service.truth_metrics import TruthMetrics
from sentiment.settings import Settings

logger = logging.getLogger(__name__)
PROBABILITIES = [f"p_{label}" for label in LABELS]
HEADLINE_LEVEL = 0.90  # the level the card and the gauges' default series read; /monitoring carries 0.95 too
# How long a view may show a report before it is computed again (unless this process took a label since): a report
# reads the window's predictions (a week of traffic) and refits the intervals, and the Monitoring tab refreshes often.
FRESH_S = 30.0


@dataclass(frozen=True)
class TruthWindow:
    """A window's rows for intervals: ``labelled`` review rows (``ReviewQueue.labelled``'s columns) and the
    ``predictions`` that could be drawn (``PredictionLog.probabilities``'s), from ``since`` to ``until`` (Unix s);
    ``counts``: the window's sampled rows by state."""

    since: float
    until: float
    labelled: pd.DataFrame
    predictions: pd.DataFrame
    counts: ReviewCounts


@dataclass(frozen=True)
class TruthReport:
    """One window's prediction-powered figures for one model (``intervals`` None below ``min_labels`` labels, or
    when the labels cannot give a valid interval: ``refused`` then says why).

    ``labelled``: sampled predictions of the window with the owner's label (n); ``predictions``: the window's
    predictions that could be drawn (N, the labelled ones included); ``skipped``/``waiting``: sampled rows of the
    window set aside / not yet labelled; ``since``/``until``: the window, Unix seconds (``until``: the time of the
    oldest draw still waiting, or now)."""

    model: str
    since: float
    until: float
    labelled: int
    predictions: int
    skipped: int
    waiting: int
    min_labels: int
    intervals: WindowIntervals | None
    refused: str | None
    computed_at: float

    def result(self, quantity: str, level: float = HEADLINE_LEVEL) -> PPIResult | None:
        if self.intervals is None:
            return None
        return self.intervals.results.get(level, {}).get(quantity)

    @property
    def needed(self) -> int:
        """Labels still needed before an interval is given (0 once there is one)."""
        return 0 if self.intervals is not None else max(self.min_labels - self.labelled, 0)

    @property
    def headline(self) -> str | None:
        """E.g. "accuracy 0.61 (0.55-0.67) from 48 sampled labels and 2,310 predictions" (90%), or None."""
        accuracy = self.result("accuracy")
        if accuracy is None:
            return None
        line = (
            f"accuracy {accuracy.estimate:.2f} ({accuracy.lower:.2f}-{accuracy.upper:.2f}, 90%) from "
            f"{self.labelled:,} sampled labels and {self.predictions:,} predictions"
        )
        if self.skipped:
            line += f" ({self.skipped} sampled texts skipped: not counted)"
        return line

    @property
    def shares_line(self) -> str | None:
        """E.g. "negative 41% (36-46%), neutral 20% (16-25%), positive 39% (34-44%)" (90%), or None."""
        parts = []
        for label in LABELS:
            share = self.result(f"share_{label}")
            if share is None:
                return None
            parts.append(f"{label} {share.estimate:.0%} ({share.lower:.0%}-{share.upper:.0%})")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "since": self.since,
            "until": self.until,
            "labelled": self.labelled,
            "predictions": self.predictions,
            "skipped": self.skipped,
            "waiting": self.waiting,
            "min_labels": self.min_labels,
            "needed": self.needed,
            "headline": self.headline,
            "shares": self.shares_line,
            "refused": self.refused,
            "computed_at": self.computed_at,
            "ppi": None if self.intervals is None else self.intervals.as_dict(),
        }


class ProductionTruth:
    """Computes ``TruthReport``s for the serving model and keeps the newest on the gauges (``TruthMetrics``).

    ``log`` is a getter: the prediction log may be off (then there is no window and no report)."""

    def __init__(
        self,
        settings: Settings,
        queue: ReviewQueue,
        log: Callable[[], PredictionLog | None],
        metrics: TruthMetrics,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self._log = log
        self.metrics = metrics
        self.last: TruthReport | None = None
        self._revision = -1  # the queue's revision ``last`` was computed at

    def current(self, model: str, max_age_s: float = FRESH_S) -> TruthReport | None:
        """``last`` when it is for ``model``, younger than ``max_age_s`` seconds and no label or skip was taken in
        this process since; else a new ``report``. For views: the scheduled drift job calls ``report`` itself."""
        last = self.last
        fresh = last is not None and last.model == model and self._revision == self.queue.revision
        if fresh and last is not None and 0 <= time.time() - last.computed_at < max_age_s and self._log() is not None:
            return last
        return self.report(model)

    def window(self, model: str, now: float | None = None, text: bool = False) -> TruthWindow | None:
        """The rows an interval for ``model`` combines (None when the log is off): its labelled review rows (with
        their texts if ``text``) and the probabilities of its predictions that could be drawn, in the window
        ``report`` describes."""
        log = self._log()
        if log is None:
            return None
        now = time.time() if now is None else now
        # The window starts at the newest of: the configured days back; the oldest prediction still in the log (labels
        # of pruned predictions would speak for traffic the window no longer holds); the first draw of the sample
        # (before it, sampling may have been off: those predictions could not be drawn).
        starts = [now - self.settings.production_window_days * 86400, log.oldest(model), self.queue.first_drawn(model)]
        since = max(start for start in starts if start is not None)
        waiting = self.queue.first_waiting(since=since, model=model)
        until = now if waiting is None else waiting[2]
        labelled = self.queue.labelled(since=since, before_log_id=None if waiting is None else waiting[3], text=text)
        labelled = labelled[labelled["model"] == model]
        counts = self.queue.counts(since=since, model=model)  # the window's own: another model's rows are not its
        window = log.probabilities(since=since, model=model, before=None if waiting is None else waiting[1])
        window = window[self.queue.sampling_open(window["ts"].to_numpy())]
        return TruthWindow(since, until, labelled, window, counts)

    def report(self, model: str, now: float | None = None) -> TruthReport | None:
        """The window's figures for ``model`` (None when the log is off). ``StoreUnavailableError`` while the store
        is down. Sets the gauges to this report (clears them when it has no interval: a stale interval must not keep
        an alert quiet or firing)."""
        revision = self.queue.revision
        now = time.time() if now is None else now
        found = self.window(model, now)
        if found is None:
            return None
        since, until, labelled, window, counts = (
            found.since,
            found.until,
            found.labelled,
            found.predictions,
            found.counts,
        )
        intervals, refused = None, None
        minimum = self.settings.ppi_min_labels
        if len(labelled) >= minimum and len(window) >= len(labelled):
            try:
                intervals = compute_intervals(
                    LabelledRows.of(
                        labelled["label"].tolist(),
                        labelled[PROBABILITIES].to_numpy(dtype=np.float64),
                        inclusion=labelled["inclusion_probability"].to_numpy(dtype=np.float64),
                        provenance=RANDOM_SAMPLE,
                        served=labelled["served_label"].tolist(),
                    ),
                    WindowPredictions.of(window[PROBABILITIES].to_numpy(dtype=np.float64), window["label"].tolist()),
                )
            except SampleDesignError as error:  # e.g. the sampling rate changed inside the window
                refused = str(error)
                logger.warning("no prediction-powered interval for %s: %s", model, error)
        elif len(labelled) >= minimum:
            refused = f"the prediction log holds {len(window)} of the window's predictions, fewer than its labels"
        result = TruthReport(
            model=model,
            since=since,
            until=until,
            labelled=len(labelled),
            predictions=len(window),
            skipped=counts.skipped,
            waiting=counts.waiting,
            min_labels=minimum,
            intervals=intervals,
            refused=refused,
            computed_at=now,
        )
        if intervals is not None and not intervals.sample_check.looks_random:
            logger.warning(
                "the labelled review rows do not look like a random draw of the window (p=%.3g): were rows labelled "
                "out of order or picked?",
                intervals.sample_check.p_value,
            )
        self.last, self._revision = result, revision
        self.metrics.show(result.intervals, result.labelled, result.predictions, now)
        return result
