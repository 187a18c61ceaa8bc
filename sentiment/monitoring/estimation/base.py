"""The estimator interface: inputs checked, a labelled reference, expected confusion matrices and the
uncertainty band of a window's estimate. The estimators themselves are in ``methods``."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sentiment.errors import EstimationInputError
from sentiment.evaluation.metrics import f1_per_class, macro_f1
from sentiment.inference.calibration import Calibration
from sentiment.labels import LABELS

logger = logging.getLogger(__name__)

K = len(LABELS)
BAND = 0.90  # the band's nominal coverage
MIN_REFERENCE = 50  # fewer labelled reference rows cannot fit a calibration map
CALIBRATIONS = ("none", "temperature", "matrix")


def _probabilities(values: Any, what: str) -> np.ndarray:
    probs = np.asarray(values, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != K:
        raise EstimationInputError(f"{what} must be an (n, {K}) array of class probabilities, got shape {probs.shape}")
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise EstimationInputError(f"{what} has NaN, infinite or negative values: drop invalid rows first")
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise EstimationInputError(f"{what} has rows of zeros: every row must hold the class probabilities of a text")
    return probs / sums


def served_labels(probabilities: np.ndarray) -> np.ndarray:
    """``(n,)`` class ids the app served for ``(n, K)`` served probabilities: their argmax, the model's own label
    (a serving map keeps it: ``Calibration.keeps_labels``). Every estimator counts predictions with this, never with
    the argmax of the probabilities its own map recalibrated (a ``matrix`` map may move it: that would estimate a
    classifier nobody serves)."""
    return np.asarray(probabilities).argmax(axis=1)


def _embeddings(values: Any, n: int, what: str) -> np.ndarray | None:
    if values is None:
        return None
    emb = np.asarray(values, dtype=np.float64)
    if emb.ndim != 2 or len(emb) != n or not np.isfinite(emb).all():
        raise EstimationInputError(f"{what} must be a finite (n, d) array with one row per prediction ({n})")
    return emb


@dataclass(frozen=True)
class LabelledReference:
    """The labelled data an estimator is fitted on: the model's probabilities, the true class ids, and optionally
    the embeddings of the same rows (only ``iw`` reads them). Build with ``LabelledReference.of``.

    ``probabilities`` ``(n, K)`` float64, rows normalised to sum 1; ``labels`` ``(n,)`` int64 class ids in ``LABELS``
    order; ``embeddings`` ``(n, d)`` float64 or None."""

    probabilities: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray | None = None

    @classmethod
    def of(cls, probabilities: Any, labels: Any, embeddings: Any = None) -> LabelledReference:
        """Checked and normalised arrays; labels as class ids or ``LABELS`` names. Raises ``EstimationInputError``
        for a wrong shape, NaN or negative probabilities, an unknown label or fewer than ``MIN_REFERENCE`` rows."""
        probs = _probabilities(probabilities, "reference probabilities")
        y = np.asarray(labels)
        if y.dtype.kind in "OUS":
            unknown = sorted({str(v) for v in y} - set(LABELS))
            if unknown:
                raise EstimationInputError(f"unknown labels {unknown}; expected {', '.join(LABELS)}")
            y = np.array([LABELS.index(str(v)) for v in y])
        if y.shape != (len(probs),) or (len(y) and (y.min() < 0 or y.max() >= K)):
            raise EstimationInputError(f"labels must be {len(probs)} class ids in 0..{K - 1} or label names")
        if len(y) < MIN_REFERENCE:
            raise EstimationInputError(f"{len(y)} labelled reference rows; at least {MIN_REFERENCE} are needed")
        return cls(probs, y.astype(np.int64), _embeddings(embeddings, len(probs), "reference embeddings"))

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: np.ndarray) -> LabelledReference:
        """The reference at row indices ``rows`` (repeats allowed: a bootstrap replica)."""
        emb = None if self.embeddings is None else self.embeddings[rows]
        return LabelledReference(self.probabilities[rows], self.labels[rows], emb)


@dataclass(frozen=True)
class Metrics:
    """Accuracy, per-class F1 (``LABELS`` order) and macro-F1 of one confusion matrix."""

    accuracy: float
    f1: tuple[float, ...]
    macro_f1: float


def confusion_metrics(confusion: np.ndarray) -> Metrics:
    """Metrics of a confusion matrix (rows: true class, columns: predicted class; counts or shares), with the
    F1 and macro-F1 of ``sentiment.evaluation.metrics``, so an estimate and an evaluation mean the same thing."""
    c = np.asarray(confusion, dtype=np.float64)
    total = c.sum()
    f1 = f1_per_class(c)
    accuracy = float(np.trace(c) / total) if total else float("nan")
    return Metrics(accuracy, tuple(float(v) for v in f1), float(macro_f1(c)))


def expected_confusion(true_probabilities: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``C[i, j]`` = share of rows predicted ``j`` whose true class is ``i``, when each row's true class is drawn
    from its row of ``true_probabilities``: the CBPE confusion matrix (normalised to sum to 1). Takes ``(n, K)``
    probabilities and ``(n,)`` predicted class ids; returns ``(K, K)``."""
    onehot = np.eye(K)[predicted]
    return true_probabilities.T @ onehot / max(len(predicted), 1)


def realised_confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The ``(K, K)`` confusion matrix of ``(n,)`` known class ids against ``(n,)`` predicted ones, as shares."""
    return expected_confusion(np.eye(K)[labels], predicted)


def _by_predicted_column(conditional: np.ndarray, predicted_share: np.ndarray) -> np.ndarray:
    """A confusion matrix from ``P(true = i | predicted = j)`` (columns summing to 1) and the window's share of each
    predicted class (known exactly: they are the served labels)."""
    return conditional * predicted_share[None, :]


def _column_conditional(confusion: np.ndarray) -> np.ndarray:
    """``P(true | predicted)`` of a confusion matrix; a class never predicted gets a uniform column (unused)."""
    sums = confusion.sum(axis=0, keepdims=True)
    return np.divide(confusion, sums, out=np.full_like(confusion, 1.0 / K), where=sums > 0)


@dataclass(frozen=True)
class PerformanceEstimate:
    """The estimate for one window: point values and the band (``band_*``: the 5th and 95th percentile of what a
    window of ``n`` predictions would realise), plus the estimated confusion matrix (shares, rows true)."""

    method: str
    n: int
    accuracy: float
    accuracy_band: tuple[float, float]
    macro_f1: float
    macro_f1_band: tuple[float, float]
    f1: dict[str, float]
    f1_band: dict[str, tuple[float, float]]
    confusion: tuple[tuple[float, ...], ...] = field(repr=False, default=())

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (lists for bands), without the confusion matrix."""
        return {
            "method": self.method,
            "n": self.n,
            "accuracy": self.accuracy,
            "accuracy_band": list(self.accuracy_band),
            "macro_f1": self.macro_f1,
            "macro_f1_band": list(self.macro_f1_band),
            "f1": dict(self.f1),
            "f1_band": {k: list(v) for k, v in self.f1_band.items()},
        }


class Estimator(ABC):
    """Fitted on a labelled reference once; ``estimate`` reads one window of unlabelled predictions.

    ``calibration``: the map refitted on the reference before the probabilities are read (``none`` trusts them as
    they come: production probabilities are already calibrated by the model's own map); ``bootstrap``: replicas of
    the reference fit behind the band; ``draws``: label draws per replica. Raises ``EstimationInputError`` for an
    unknown calibration, or when the method needs embeddings (``iw``) that the reference lacks."""

    name: ClassVar[str]
    needs_embeddings: ClassVar[bool] = False

    def __init__(
        self,
        reference: LabelledReference,
        *,
        calibration: str = "none",
        bootstrap: int = 30,
        draws: int = 20,
        seed: int = 0,
    ) -> None:
        if calibration not in CALIBRATIONS:
            raise EstimationInputError(f"unknown calibration {calibration!r}; known: {', '.join(CALIBRATIONS)}")
        if self.needs_embeddings and reference.embeddings is None:
            raise EstimationInputError(f"{self.name} needs the reference's embeddings")
        self.reference = reference
        self.calibration = calibration
        self.draws = draws
        self._rng = np.random.default_rng(seed)
        self._state = self._fit(reference)
        self._replicas = [
            self._fit(reference.take(self._rng.integers(0, len(reference), len(reference)))) for _ in range(bootstrap)
        ]

    # -- what a method defines ---------------------------------------------------------------------------------
    @abstractmethod
    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> Any:
        """Whatever the method keeps from the (calibrated) reference."""

    @abstractmethod
    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        """The estimated confusion matrix (shares) of a window."""

    # -- shared machinery --------------------------------------------------------------------------------------
    def _fit(self, reference: LabelledReference) -> Any:
        if self.calibration == "none":
            return self._fit_state(reference, None)
        cal = Calibration.fit(reference.probabilities, reference.labels, self.calibration)
        return self._fit_state(reference, cal)

    @staticmethod
    def _calibrated(state: Any, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities after the estimator's own map: read for *expected* outcomes only; which label each row
        was served stays ``served_labels(probabilities)`` whatever this map does to the argmax."""
        cal = getattr(state, "calibration", None)
        return probabilities if cal is None else cal.apply(probabilities).astype(np.float64)

    def point(self, probabilities: Any, embeddings: Any = None) -> Metrics:
        """The point estimate alone (no band): what a benchmark sweeping many windows needs."""
        probs = _probabilities(probabilities, "window probabilities")
        return confusion_metrics(self._confusion(self._state, probs, self._window_embeddings(embeddings, len(probs))))

    def _window_embeddings(self, embeddings: Any, n: int) -> np.ndarray | None:
        emb = _embeddings(embeddings, n, "window embeddings")
        if self.needs_embeddings and emb is None:
            raise EstimationInputError(f"{self.name} needs the window's embeddings")
        return emb

    def estimate(self, probabilities: Any, embeddings: Any = None) -> PerformanceEstimate:
        """Point estimate and band for one window: ``(n, K)`` class probabilities of the served predictions (and
        ``(n, d)`` embeddings for ``iw``). Raises ``EstimationInputError`` for an empty or unreadable window."""
        probs = _probabilities(probabilities, "window probabilities")
        n = len(probs)
        if n == 0:
            raise EstimationInputError("an empty window has no performance to estimate")
        emb = self._window_embeddings(embeddings, n)
        point = self._confusion(self._state, probs, emb)
        replicas = [self._confusion(state, probs, emb) for state in self._replicas] or [point]
        predicted_counts = np.bincount(served_labels(probs), minlength=K)
        samples = [
            confusion_metrics(confusion)
            for c in replicas
            for confusion in _realisations(c, predicted_counts, self.draws, self._rng)
        ]
        metrics = confusion_metrics(point)
        low, high = (1 - BAND) / 2 * 100, (1 + BAND) / 2 * 100

        def band(values: list[float]) -> tuple[float, float]:
            lo, hi = np.percentile(values, [low, high])
            return float(lo), float(hi)

        return PerformanceEstimate(
            method=self.name,
            n=n,
            accuracy=metrics.accuracy,
            accuracy_band=band([s.accuracy for s in samples]),
            macro_f1=metrics.macro_f1,
            macro_f1_band=band([s.macro_f1 for s in samples]),
            f1=dict(zip(LABELS, metrics.f1, strict=True)),
            f1_band={label: band([s.f1[i] for s in samples]) for i, label in enumerate(LABELS)},
            confusion=tuple(tuple(float(v) for v in row) for row in point),
        )


def _realisations(confusion: np.ndarray, predicted_counts: np.ndarray, draws: int, rng: np.random.Generator) -> list:
    """``draws`` confusion matrices (counts) a window with these predicted counts could realise when the true class
    of each row predicted ``j`` is drawn from column ``j`` of ``confusion``."""
    conditional = _column_conditional(np.clip(confusion, 0.0, None))
    out = np.zeros((draws, K, K))
    for j, count in enumerate(predicted_counts):
        if count:
            out[:, :, j] = rng.multinomial(int(count), conditional[:, j], size=draws)
    return list(out)
