"""The owner's question, answered first: is the serving model still right on what people send it?

Three independent readings, each with what it rests on: the *realised* accuracy from feedback labels (the newest
production evaluation, with its interval and label count), the *estimated* accuracy of the newest drift window
without labels (with its band, against the same estimator on the reference), and the drift verdict with the one
feature that moved most. ``Answer.headline`` turns them into one sentence; the Monitoring tab shows it above the
details and ``/monitoring`` returns it as JSON.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sentiment.monitoring.drift import DriftReport, FeatureDrift
from sentiment.monitoring.performance import WindowEstimate
from sentiment.monitoring.production import InsufficientLabels
from sentiment.monitoring.review_queue import ReviewCounts
from sentiment.service import drift_words
from sentiment.service.class_shares import ShareReading
from sentiment.service.production_truth import TruthReport

if TYPE_CHECKING:
    from sentiment.service.serving import SentimentService


@dataclass(frozen=True)
class Realised:
    """Accuracy measured on labelled production traffic: the point, its 95% bootstrap interval, the labels used."""

    accuracy: float
    low: float
    high: float
    labels: int
    at: float  # Unix seconds of the evaluation


@dataclass(frozen=True)
class Answer:
    """Everything the Monitoring tab's first lines say; any reading may be missing, and then says what it waits for.

    ``labels``/``labels_needed``: feedback labels the production evaluation found / needs (``labels_needed`` is 0
    when a realised figure exists)."""

    model: str
    calibrated: bool
    realised: Realised | None
    labels: int
    labels_needed: int
    estimate: WindowEstimate | None
    drift: DriftReport | None
    moved_most: FeatureDrift | None
    confirm_windows: int = 2  # windows sharing no prediction that confirm a level (SENTIMENT_DRIFT_CONFIRM_WINDOWS)
    to_confirm: int | None = None  # about how many predictions until the next such window (None: nothing waits)
    review: ReviewCounts | None = None  # the random review sample: labelled, waiting (None: the sample is off)
    truth: TruthReport | None = None  # prediction-powered intervals from the review sample (None: the log is off)
    shares: ShareReading | None = None  # the last drift window's class shares, PPI ones first (None: no check yet)

    @property
    def shown_estimate(self) -> WindowEstimate | None:
        """The label-free estimate where its trust verdict lets it be shown (``sentiment.monitoring.trust``)."""
        return self.estimate if self.estimate is not None and self.estimate.trusted else None

    @property
    def cannot_tell(self) -> str | None:
        """Where the verdict refused the estimate: why, and how many random labels would answer instead."""
        trust = None if self.estimate is None else self.estimate.trust
        return trust.advice if trust is not None and not trust.trusted else None

    @property
    def verdict(self) -> str:
        """The drift line in words (Markdown), from the report itself: never "ok" for a level seen, not confirmed."""
        return drift_words.verdict(self.drift, self.confirm_windows, self.to_confirm)

    @property
    def moved(self) -> list[str]:
        """What moved and how much, in words, the feature furthest past its threshold first."""
        return drift_words.what_moved(self.drift, severity)

    @property
    def headline(self) -> str:
        """One or two sentences: the most direct evidence first (the prediction-powered interval of the random
        review sample, then feedback labels), then what the unlabelled window says when it points to a drop (labels
        lag: the estimate sees the newest traffic first), only where its trust verdict lets it; else what labels
        would answer."""
        estimate = ""
        dropped = False
        if (shown := self.shown_estimate) is not None:
            low, high = shown.estimate.accuracy_band
            now, reference = shown.estimate.accuracy, shown.reference_accuracy
            estimate = f"estimated accuracy {now:.2f} (band {low:.2f}-{high:.2f}) vs {reference:.2f} at the reference"
            dropped = high < reference
        truth = self.truth.headline if self.truth is not None else None
        if truth is not None:
            measured = f"Measured on a random sample: {truth}."
            return f"{measured} Newest traffic suggests a drop: {estimate}." if dropped else measured
        if self.realised is not None:
            r = self.realised
            measured = (
                f"Measured on {r.labels:,} labelled predictions: accuracy {r.accuracy:.2f} ({r.low:.2f}-{r.high:.2f})."
            )
            return f"{measured} Newest traffic suggests a drop: {estimate}." if dropped else measured
        if estimate and dropped:
            return f"Probably worse than at the reference: {estimate}."
        if estimate:
            changed = self.drift is not None and self.drift.status == "drift"
            return f"No sign of a drop: {estimate}." + (
                " The inputs changed, though (drift confirmed)." if changed else ""
            )
        if self.cannot_tell is not None:
            return f"Can't tell without labels: {self.cannot_tell}."
        return "Not enough traffic yet to say: the first drift check with a full window gives an estimate."

    def as_dict(self) -> dict[str, Any]:
        return {
            "headline": self.headline,
            "model": self.model,
            "calibrated": self.calibrated,
            "realised": None if self.realised is None else asdict(self.realised),
            "labels": self.labels,
            "labels_needed": self.labels_needed,
            "estimate": None if self.shown_estimate is None else self.shown_estimate.as_dict(),
            "trust": None if self.estimate is None or self.estimate.trust is None else self.estimate.trust.as_dict(),
            "drift": None if self.drift is None else self.drift.status,
            "drift_unconfirmed": None if self.drift is None else self.drift.unconfirmed,
            "verdict": self.verdict.replace("**", ""),
            "what_moved": self.moved,
            "moved_most": None if self.moved_most is None else self.moved_most.as_dict(),
            "review_sample": None if self.review is None else self.review.as_dict(),
            "production_truth": None if self.truth is None else self.truth.as_dict(),
            "class_shares": None if self.shares is None else self.shares.as_dict(),
        }


def severity(row: FeatureDrift) -> float:
    """How far past its own threshold a result is (1.0 = at it; comparable across tests): its effect size over the
    effect threshold when the test has one (the effect, not the p-value, says how much moved: with a large window
    a trivial shift has a tiny p); else a distance over its threshold, or for a p-value test
    ``log p_adj / log threshold`` (p_adj = threshold gives 1, smaller p more)."""
    if row.effect_size is not None and row.effect_threshold:
        return row.effect_size / row.effect_threshold
    if row.adjusted_p_value is None:
        return row.statistic / row.threshold if row.threshold > 0 else math.inf
    return math.log(max(row.adjusted_p_value, 1e-300)) / math.log(row.threshold)


def moved_most(report: DriftReport | None) -> FeatureDrift | None:
    """The result furthest past its threshold (ties: the first checked), or None without a graded report."""
    if report is None or not report.results:
        return None
    return max(report.results, key=severity)


def answer(service: SentimentService) -> Answer:
    """The answer for the model serving now (``service.predictor`` is not waited for: a loading app answers too)."""
    info = service.model_info
    model = info.name if info is not None else service.settings.model
    minimum = service.settings.production_min_labels
    realised, labels, needed = None, 0, minimum
    record = service.evaluation.last_realised(model)
    if record is not None:
        stored = service.evaluation.store.report(record.id) or {}
        interval = stored.get("intervals", {}).get("accuracy", {})
        low, high = interval.get("low", record.accuracy), interval.get("high", record.accuracy)
        realised = Realised(record.accuracy, low, high, record.n, record.created_at)
        labels, needed = record.n, 0
    last = service.evaluation.last_production
    newer = record is None or (last is not None and getattr(last, "created_at", 0.0) > record.created_at)
    if isinstance(last, InsufficientLabels) and last.model == model and newer:
        realised, labels, needed = None, last.n, last.min_labels
    monitoring = service.monitoring
    report = monitoring.last_report
    truth = _truth(service, model)
    return Answer(
        model=model,
        calibrated=bool(info and info.calibration),
        realised=realised,
        labels=labels,
        labels_needed=needed,
        estimate=monitoring.last_estimate,
        drift=report,
        moved_most=moved_most(report),
        confirm_windows=service.settings.drift_confirm_windows,
        to_confirm=monitoring.predictions_to_confirm(),
        review=service.review.counts() if service.review.enabled else None,
        truth=truth,
        shares=monitoring.shares.reading(truth),
    )


def _truth(service: SentimentService, model: str) -> TruthReport | None:
    """The review window's intervals, or None when the sample is off (a store error is the caller's to show)."""
    return service.truth.current(model) if service.review.enabled else None
