"""The class shares of the newest drift window, as the app shows and exports them: negative / neutral / positive with
a 90% band, against the reference, and where the numbers come from.

Sources, best first:

1. ``ppi``: the review sample's prediction-powered interval (``sentiment.service.production_truth``), when the
   window of the serving model has one: sampled labels beat every label-free number.
2. ``label_free``: ``settings.class_share_method`` (a label-shift correction: ``acc``, ``pacc``, ``em``) fitted on
   the labelled reference the accuracy estimator uses, *only* where the label-shift fit test does not refute label
   shift on this window; where it does, the correction has lost its guarantee and no corrected number is given.
3. ``counted``: classify-and-count, the predicted classes counted: what the default ``cc`` gives (chosen by
   ``benchmarks/class_shares.py``: on every shifted set the corrections did worse than counting), and the fallback
   of a refuted correction.

"Rose"/"fell" compares estimate with estimate (``sentiment.monitoring.quantification.change``): a label-free share
against the same method's reading of the reference (for counting: the share the model predicts on the reference),
a PPI share against the reference's label share. Each drift check sets the gauges (``ShareMetrics``); they are not
restored on restart: the next check sets them again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sentiment.errors import EstimationInputError, StoreError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.monitoring.estimation import LabelledReference
from sentiment.monitoring.performance import PROBABILITY_COLUMNS, PerformanceMonitor
from sentiment.monitoring.quantification import (
    ClassShares,
    ShareChange,
    ShiftTest,
    estimate_shares,
    interval_change,
    label_shift_fit_test,
    share_change,
)
from sentiment.service.production_truth import HEADLINE_LEVEL, TruthReport
from sentiment.service.share_metrics import ShareMetrics
from sentiment.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelFree:
    """What one drift check measured without labels: the counted shares, the correction when the fit test let it
    through (``corrected``; None for ``cc`` or a refuted correction, ``note`` then says why), the fit test, and the
    change of the shares shown."""

    model: str
    method: str
    counted: ClassShares
    corrected: ClassShares | None
    fit: ShiftTest
    change: ShareChange
    note: str | None
    checked_at: float

    @property
    def shown(self) -> ClassShares:
        return self.corrected if self.corrected is not None else self.counted


@dataclass(frozen=True)
class ShareReading:
    """The shares the card and the gauges show: per class ``(estimate, lower, upper)`` at ``level``, the reference
    share compared with, the change (+1 rose, -1 fell, 0 held), the source and what it rests on."""

    source: str  # ppi | label_free | counted
    method: str
    level: float
    shares: dict[str, tuple[float, float, float]]
    reference: dict[str, float]
    change: dict[str, int]
    predictions: int
    labelled: int
    note: str | None
    fit_p_value: float

    @property
    def line(self) -> str:
        """E.g. "negative 41% (36-46%) vs 25% at reference, neutral ..."."""
        return ", ".join(
            f"{label} {e:.0%} ({low:.0%}-{high:.0%}) vs {self.reference[label]:.0%} at reference"
            for label, (e, low, high) in self.shares.items()
        )

    @property
    def basis(self) -> str:
        """Where the numbers come from, in words."""
        if self.source == "ppi":
            return f"from {self.labelled:,} sampled labels and {self.predictions:,} predictions (PPI++)"
        if self.source == "label_free":
            return f"label-free ({self.method}) on {self.predictions:,} predictions, label shift not refuted"
        return f"predicted classes counted on {self.predictions:,} predictions; reference: predicted there too"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "method": self.method,
            "level": self.level,
            "line": self.line,
            "basis": self.basis,
            "shares": {
                label: dict(zip(("estimate", "lower", "upper"), v, strict=True)) for label, v in self.shares.items()
            },
            "reference": dict(self.reference),
            "change": dict(self.change),
            "predictions": self.predictions,
            "labelled": self.labelled,
            "note": self.note,
            "label_shift_fit_p_value": self.fit_p_value,
        }


def label_free_shares(
    reference: LabelledReference, probabilities: np.ndarray, method: str, bootstrap: int
) -> tuple[ClassShares, ClassShares | None, ShiftTest, ShareChange, str | None]:
    """Counted shares, ``method``'s correction unless the label-shift fit test refutes label shift (then None and
    the reason), the fit test and the change of the shares kept; bands from ``bootstrap`` replicas."""
    counted = estimate_shares(reference, probabilities, "cc", bootstrap=bootstrap)
    fit = label_shift_fit_test(reference, probabilities)
    corrected, note = None, None
    if method != "cc" and fit.detected:
        note = (
            f"no {method} correction: the label-shift fit test refutes label shift on this window "
            f"(p={fit.p_value:.3g}), so the correction has no guarantee; the counted shares are shown"
        )
    elif method != "cc":
        corrected = estimate_shares(reference, probabilities, method, bootstrap=bootstrap)
    elif fit.detected:
        note = (
            f"not a label-shifted reference (fit test p={fit.p_value:.3g}): the counts say what the model predicts, "
            "not the true mix; label sampled predictions (Label tab) for that"
        )
    change = share_change(reference, probabilities, method if corrected is not None else "cc", bootstrap=bootstrap)
    return counted, corrected, fit, change, note


class ClassShareMonitor:
    """Estimates each drift window's class shares (``check``) and publishes the best reading on the gauges, with the
    newest production truth report handed to ``publish`` (the drift job hands it over after each check)."""

    def __init__(self, settings: Settings, performance: PerformanceMonitor, metrics: ShareMetrics) -> None:
        self.settings = settings
        self.performance = performance
        self.metrics = metrics
        self.truth: TruthReport | None = None
        self.last: LabelFree | None = None

    def check(self, predictor: Predictor, window: pd.DataFrame) -> ShareReading | None:
        """Estimate ``window``'s shares (None below ``drift_min_window`` rows or without a labelled reference,
        logged) and set the gauges to the best reading."""
        self.last = self._estimate(predictor, window) if len(window) >= self.settings.drift_min_window else None
        return self.publish()

    def _estimate(self, predictor: Predictor, window: pd.DataFrame) -> LabelFree | None:
        s = self.settings
        started = time.perf_counter()
        try:
            stored = self.performance.labelled_reference(predictor)
            reference = LabelledReference.of(stored.probabilities, stored.labels)
            probabilities = window[list(PROBABILITY_COLUMNS)].to_numpy(dtype=np.float64)
            found = label_free_shares(reference, probabilities, s.class_share_method, s.class_share_bootstrap)
        except (EstimationInputError, OSError, ValueError, StoreError) as exc:
            logger.warning("no class shares for this window: %s", exc)
            return None
        counted, corrected, fit, change, note = found
        logger.info(
            "class shares (%s, %d replicas, %.1f s): %s; label-shift fit p=%.3g%s",
            (corrected or counted).method,
            s.class_share_bootstrap,
            time.perf_counter() - started,
            ", ".join(f"{k} {v:.3f}" for k, v in (corrected or counted).shares.items()),
            fit.p_value,
            f" ({note})" if note else "",
        )
        name = predictor.info.name
        return LabelFree(name, s.class_share_method, counted, corrected, fit, change, note, time.time())

    def reading(self, truth: TruthReport | None) -> ShareReading | None:
        """The best reading of the last check: the PPI shares of ``truth`` when it has them for the same model,
        else the label-free ones (None before a check with a full window)."""
        last = self.last
        if last is None:
            return None
        ppi = _ppi_shares(truth) if truth is not None and truth.model == last.model else None
        if ppi is not None and truth is not None:
            reference = last.counted.reference  # the labelled reference's label shares, on n_reference rows
            n_reference = last.counted.n_reference
            change = {  # the reference's own sampling error counts too (a sample of a few hundred rows)
                label: interval_change(estimate, low, high, reference[label], n_reference, HEADLINE_LEVEL)
                for label, (estimate, low, high) in ppi.items()
            }
            return ShareReading(
                "ppi",
                "ppi++",
                HEADLINE_LEVEL,
                ppi,
                reference,
                change,
                truth.predictions,
                truth.labelled,
                None,
                last.fit.p_value,
            )
        shown = last.shown
        return ShareReading(
            "label_free" if last.corrected is not None else "counted",
            shown.method,
            shown.level,
            {label: (shown.shares[label], *shown.band[label]) for label in LABELS},
            last.change.reference,
            last.change.direction,
            shown.n_window,
            0,
            last.note,
            last.fit.p_value,
        )

    def publish(self, truth: TruthReport | None = None) -> ShareReading | None:
        """Set the gauges to the best reading, with ``truth`` as the newest production truth report when given
        (kept for the next checks: None keeps the last one)."""
        if truth is not None:
            self.truth = truth
        found = self.reading(self.truth)
        self.metrics.show(found)
        return found

    def forget_truth(self) -> ShareReading | None:
        """Drop the production truth report (a new one could not be computed) and set the gauges to the label-free
        reading: an interval of an older window must not stand for the traffic since."""
        self.truth = None
        return self.publish()


def _ppi_shares(truth: TruthReport) -> dict[str, tuple[float, float, float]] | None:
    out = {}
    for label in LABELS:
        result = truth.result(f"share_{label}")
        if result is None:
            return None
        out[label] = (float(result.estimate), float(result.lower), float(result.upper))
    return out
