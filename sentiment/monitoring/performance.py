"""Estimated performance of the serving model on its newest window of unlabelled traffic.

The estimator (``sentiment.monitoring.estimation``) is fitted on a *labelled* reference: the serving model's
probabilities on ``settings.reference_dataset`` / ``reference_split`` with their labels, stored per model revision
in the one store beside the drift reference profile (a pinned production reference has no labels, so the estimate
always reads the dataset). Each drift check then estimates accuracy, macro-F1 and per-class F1 of the window from
the class probabilities the prediction log already holds (``p_negative``, ``p_neutral``, ``p_positive``): no text,
no extra column.

The method is ``settings.estimation_method`` with ``settings.estimation_calibration``, chosen leave-one-dataset-out
in ``benchmarks/performance_estimation.py`` (see ``benchmarks/README.md`` for the measurement).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from sentiment.errors import EstimationInputError, StoreError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.monitoring.estimation import (
    Estimator,
    LabelledReference,
    PerformanceEstimate,
    confusion_metrics,
    make_estimator,
    realised_confusion,
)
from sentiment.monitoring.reference import reference_key, scored_reference_split
from sentiment.monitoring.reference_rows import get_reference, put_reference
from sentiment.monitoring.trust import TrustVerdict
from sentiment.monitoring.window_trust import window_verdict
from sentiment.settings import Settings
from sentiment.store import Store

logger = logging.getLogger(__name__)

PROBABILITY_COLUMNS = tuple(f"p_{label}" for label in LABELS)  # as the prediction log names them


@dataclass(frozen=True)
class RealisedReference:
    """The labelled reference rows and the serving model's realised accuracy and macro-F1 on them."""

    dataset: str
    split: str
    rows: int
    accuracy: float
    macro_f1: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EstimationReference:
    """The serving model's probabilities and the true labels on the reference dataset (one model revision),
    stored in the one store under ``estimation-<key>`` (``sentiment.monitoring.reference_rows``)."""

    model: str
    model_revision: str
    dataset: str
    split: str
    probabilities: np.ndarray
    labels: np.ndarray

    def payload(self) -> str:
        meta = {k: getattr(self, k) for k in ("model", "model_revision", "dataset", "split")}
        rows = {"probabilities": self.probabilities.round(6).tolist(), "labels": self.labels.tolist()}
        return json.dumps({**meta, **rows})

    @classmethod
    def from_payload(cls, payload: str) -> EstimationReference:
        data = json.loads(payload)
        return cls(
            model=data["model"],
            model_revision=data["model_revision"],
            dataset=data["dataset"],
            split=data["split"],
            probabilities=np.asarray(data["probabilities"], dtype=np.float64),
            labels=np.asarray(data["labels"], dtype=np.int64),
        )

    def summary(self) -> RealisedReference:
        realised = confusion_metrics(realised_confusion(self.labels, self.probabilities.argmax(axis=1)))
        return RealisedReference(self.dataset, self.split, len(self.labels), realised.accuracy, realised.macro_f1)


def estimation_reference(predictor: Predictor, settings: Settings, store: Store) -> EstimationReference:
    """The labelled reference of the serving model: stored per model revision, scored (and stored) when absent."""
    info = predictor.info
    key = reference_key(info.name, info.revision, settings.reference_dataset, settings.reference_split)
    stored = get_reference(store, f"estimation-{key}")
    if stored is not None:
        try:
            return EstimationReference.from_payload(stored)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("estimation reference %s is unreadable (%s); rebuilding it", key, exc)
    frame, result = scored_reference_split(predictor, settings)  # the drift profile's scores, when it was built
    ok = result.valid
    labels = np.array([LABELS.index(v) for v in frame["label"]], dtype=np.int64)
    reference = EstimationReference(
        info.name,
        info.revision,
        settings.reference_dataset,
        settings.reference_split,
        result.probabilities[ok].astype(np.float64),
        labels[ok],
    )
    payload = reference.payload()
    try:
        put_reference(store, f"estimation-{key}", "estimation", payload, model=info.name, model_revision=info.revision)
    except (StoreError, SQLAlchemyError) as exc:  # this check can still use it; a later one scores it again
        logger.warning("the estimation reference %s was built but not kept in the store (%s)", key, exc)
    logger.info("built the estimation reference %s (%d labelled rows) for %s", key, ok.sum(), info.name)
    return reference


@dataclass(frozen=True)
class WindowEstimate:
    """One drift window's estimate, with what it is compared against: the same estimator on the reference rows
    (``reference_accuracy``: comparing estimate with estimate cancels the estimator's own bias) and the
    reference's realised figures."""

    estimate: PerformanceEstimate
    reference_accuracy: float
    reference_macro_f1: float
    reference: RealisedReference
    checked_at: float
    trust: TrustVerdict | None = None  # whether the number may be shown (sentiment.monitoring.trust); None: unjudged

    @property
    def trusted(self) -> bool:
        """The number may be shown: its verdict trusts it, or there is no verdict (a check kept before verdicts)."""
        return self.trust is None or self.trust.trusted

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.estimate.as_dict(),
            "reference_accuracy": self.reference_accuracy,
            "reference_macro_f1": self.reference_macro_f1,
            "reference": self.reference.as_dict(),
            "checked_at": self.checked_at,
            "trust": None if self.trust is None else self.trust.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowEstimate:
        """The estimate ``as_dict`` gave (without the estimated confusion matrix, which ``as_dict`` leaves out)."""
        estimate = PerformanceEstimate(
            method=data["method"],
            n=int(data["n"]),
            accuracy=float(data["accuracy"]),
            accuracy_band=_band(data["accuracy_band"]),
            macro_f1=float(data["macro_f1"]),
            macro_f1_band=_band(data["macro_f1_band"]),
            f1={k: float(v) for k, v in data["f1"].items()},
            f1_band={k: _band(v) for k, v in data["f1_band"].items()},
        )
        return cls(
            estimate=estimate,
            reference_accuracy=float(data["reference_accuracy"]),
            reference_macro_f1=float(data["reference_macro_f1"]),
            reference=RealisedReference(**data["reference"]),
            checked_at=float(data["checked_at"]),
            trust=TrustVerdict.from_dict(data["trust"]) if data.get("trust") else None,
        )


def _band(pair: list[float]) -> tuple[float, float]:
    low, high = pair
    return float(low), float(high)


class PerformanceMonitor:
    """Keeps one fitted estimator per serving model revision and estimates each window handed to it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        # per (model, revision, method): the fitted estimator, its reference and its estimate on that reference
        self._fitted: dict[tuple[str, str, str], tuple[Estimator, EstimationReference, PerformanceEstimate]] = {}

    def _estimator(
        self, predictor: Predictor, method: str | None = None
    ) -> tuple[Estimator, EstimationReference, PerformanceEstimate]:
        """The estimator ``method`` (default: ``settings.estimation_method``) fitted on this revision's labelled
        reference; one per method that a trust route called for (``sentiment.monitoring.trust.ROUTE_METHODS``)."""
        method = method or self.settings.estimation_method
        wanted = (predictor.info.name, predictor.info.revision, method)
        if wanted not in self._fitted:
            self._fitted = {k: v for k, v in self._fitted.items() if k[:2] == wanted[:2]}  # another revision: gone
            kept = [fitted[1] for fitted in self._fitted.values()]  # this revision's reference, read once
            reference = kept[0] if kept else estimation_reference(predictor, self.settings, self.store)
            estimator = make_estimator(
                method,
                LabelledReference.of(reference.probabilities, reference.labels),
                calibration=self.settings.estimation_calibration,
            )
            self._fitted[wanted] = (estimator, reference, estimator.estimate(reference.probabilities))
        return self._fitted[wanted]

    def labelled_reference(self, predictor: Predictor) -> EstimationReference:
        """The serving model's labelled reference rows, kept per model revision: the class shares are fitted on
        them too (``sentiment.service.class_shares``)."""
        return self._estimator(predictor)[1]

    def estimate(self, predictor: Predictor, window: pd.DataFrame, *, judge: bool = False) -> WindowEstimate:
        """The estimate for a window of logged predictions (the prediction log's probability columns). ``judge``:
        with its trust verdict (``sentiment.monitoring.window_trust``), from the estimator the verdict's route
        calls for (label shift alone: the label-shift correction)."""
        estimator, reference, on_reference = self._estimator(predictor)
        probabilities = window[list(PROBABILITY_COLUMNS)].to_numpy(dtype=np.float64)
        found = estimator.estimate(probabilities)
        verdict = None
        if judge:
            try:
                verdict = window_verdict(
                    predictor, self.settings, self.store, estimator.reference, window, probabilities, found.accuracy
                )
            except (EstimationInputError, OSError, ValueError, StoreError, SQLAlchemyError) as exc:
                logger.warning("no trust verdict for this window (its estimate is shown unjudged): %s", exc)
        routed = verdict.method if verdict is not None and verdict.trusted else None
        if routed is not None and routed != self.settings.estimation_method:
            estimator, reference, on_reference = self._estimator(predictor, routed)
            found = estimator.estimate(probabilities)
        return WindowEstimate(
            estimate=found,
            reference_accuracy=on_reference.accuracy,
            reference_macro_f1=on_reference.macro_f1,
            reference=reference.summary(),
            checked_at=time.time(),
            trust=verdict,
        )

    def logged_estimate(self, predictor: Predictor, window: pd.DataFrame) -> WindowEstimate | None:
        """``estimate``, logged; a failure is logged and gives None, so the drift check it belongs to stands (the
        estimate needs the labelled reference dataset, which a deployment may not have, and the store)."""
        try:
            found = self.estimate(predictor, window, judge=True)
        except (EstimationInputError, OSError, ValueError, StoreError) as exc:
            logger.warning("no performance estimate for this window: %s", exc)
            return None
        e = found.estimate
        logger.info(
            "estimated accuracy %.3f [%.3f, %.3f] on %d predictions (%s; reference %.3f; trust: %s)",
            e.accuracy,
            *e.accuracy_band,
            e.n,
            e.method,
            found.reference_accuracy,
            "unjudged" if found.trust is None else found.trust.route,
        )
        return found
