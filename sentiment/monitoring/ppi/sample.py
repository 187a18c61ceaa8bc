"""The inputs of a prediction-powered interval, checked: a window's predictions, and labelled rows that say how they
were drawn.

An interval's coverage holds only if the labelled rows are a random sample of the window with known inclusion
probabilities. Visitor feedback is self-selected (people correct what they see is wrong, mostly confident
mistakes): an "accuracy" from it is biased by an unknown amount. So every labelled row carries its provenance and
its inclusion probability, the estimators refuse rows whose provenance is not ``RANDOM_SAMPLE``
(``SelfSelectedLabelsError``), and ``sample_looks_random`` tests the claim: a sample that a bug or a hand-picking
reviewer made non-random usually shows in the predictions it holds, which are known for the whole window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chisquare, kstwo

from sentiment.errors import SampleDesignError, SelfSelectedLabelsError
from sentiment.labels import LABELS

logger = logging.getLogger(__name__)

K = len(LABELS)
RANDOM_SAMPLE = "random_sample"  # drawn by the review sampler with a known inclusion probability
FEEDBACK = "feedback"  # given by a visitor on a prediction they chose: self-selected
PROVENANCES = (RANDOM_SAMPLE, FEEDBACK)


def _class_ids(values: Any, what: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "OUS":
        unknown = sorted({str(v) for v in arr.ravel()} - set(LABELS))
        if unknown:
            raise SampleDesignError(f"{what}: unknown labels {unknown}; expected {', '.join(LABELS)}")
        arr = np.array([LABELS.index(str(v)) for v in arr.ravel()], dtype=np.int64)
    if arr.ndim != 1 or (n is not None and len(arr) != n) or (len(arr) and (arr.min() < 0 or arr.max() >= K)):
        raise SampleDesignError(f"{what} must be {n if n is not None else 'n'} class ids in 0..{K - 1} or label names")
    return arr.astype(np.int64)


def _probabilities(values: Any, what: str) -> np.ndarray:
    probs = np.asarray(values, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != K or not np.isfinite(probs).all() or (probs < 0).any():
        raise SampleDesignError(f"{what} must be a finite, non-negative (rows, {K}) array of calibrated probabilities")
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise SampleDesignError(f"{what} has rows of zeros: each row holds the class probabilities of one prediction")
    return probs / sums


@dataclass(frozen=True)
class WindowPredictions:
    """The window's N predictions: calibrated probabilities ``(N, K)`` and the served class ids ``(N,)`` (the argmax
    unless given). Build with ``WindowPredictions.of``."""

    probabilities: np.ndarray
    served: np.ndarray

    @classmethod
    def of(cls, probabilities: Any, served: Any = None) -> WindowPredictions:
        probs = _probabilities(probabilities, "window probabilities")
        ids = probs.argmax(axis=1) if served is None else _class_ids(served, "served classes", len(probs))
        return cls(probs, ids)

    def __len__(self) -> int:
        return len(self.served)

    @property
    def confidence(self) -> np.ndarray:
        """The calibrated probability of the served class: the proxy of "this prediction is right"."""
        return np.asarray(self.probabilities[np.arange(len(self.served)), self.served])


@dataclass(frozen=True)
class LabelledRows:
    """Labelled predictions of a window: true class ids ``labels`` ``(n,)``, the model's calibrated ``probabilities``
    ``(n, K)`` and ``served`` class ids at prediction time, each row's ``inclusion`` probability (the chance the
    sampler drew it) and ``provenance`` (``RANDOM_SAMPLE`` or ``FEEDBACK``). Build with ``LabelledRows.of``."""

    labels: np.ndarray
    probabilities: np.ndarray
    served: np.ndarray
    inclusion: np.ndarray
    provenance: tuple[str, ...]

    @classmethod
    def of(
        cls,
        labels: Any,
        probabilities: Any,
        *,
        inclusion: Any,
        provenance: str | Sequence[str],
        served: Any = None,
    ) -> LabelledRows:
        """Checked rows; ``inclusion`` and ``provenance`` are one value for all rows or one per row. Raises
        ``SampleDesignError`` for wrong shapes, unknown labels or provenances, or inclusion probabilities outside
        (0, 1]."""
        probs = _probabilities(probabilities, "labelled probabilities")
        n = len(probs)
        y = _class_ids(labels, "labels", n)
        ids = probs.argmax(axis=1) if served is None else _class_ids(served, "served classes", n)
        pi = np.broadcast_to(np.asarray(inclusion, dtype=np.float64), (n,)).copy()
        if not np.isfinite(pi).all() or (pi <= 0).any() or (pi > 1).any():
            raise SampleDesignError("inclusion probabilities must lie in (0, 1]: the chance the sampler drew each row")
        prov = (provenance,) * n if isinstance(provenance, str) else tuple(provenance)
        unknown = sorted(set(prov) - set(PROVENANCES))
        if len(prov) != n or unknown:
            raise SampleDesignError(
                f"provenance must be one of {PROVENANCES} per row ({n}); got {unknown or len(prov)}"
            )
        return cls(y, probs, ids, pi, prov)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def confidence(self) -> np.ndarray:
        return np.asarray(self.probabilities[np.arange(len(self.served)), self.served])

    def require_random(self, *, uniform: bool) -> None:
        """Refuse rows that are not a random sample: ``SelfSelectedLabelsError`` for any feedback row;
        ``SampleDesignError`` when ``uniform`` and the inclusion probabilities differ (an estimator that assumes a
        uniform sample would be biased: use the inverse-probability-weighted one)."""
        selected = sum(p != RANDOM_SAMPLE for p in self.provenance)
        if selected:
            raise SelfSelectedLabelsError(
                f"{selected} of {len(self)} labelled rows are self-selected ({FEEDBACK}), not drawn by the random "
                "review sample: an interval from them has no coverage guarantee. Use only rows of the review sample "
                f"(provenance {RANDOM_SAMPLE!r}); keep feedback for review and training"
            )
        if uniform and len(self) and np.ptp(self.inclusion) > 1e-9 * float(self.inclusion.max()):
            raise SampleDesignError(
                "the labelled rows were drawn with unequal inclusion probabilities: use the inverse-probability-"
                "weighted estimator (ppi_active_accuracy), which weights each row by 1/inclusion"
            )


@dataclass(frozen=True)
class RandomnessCheck:
    """Whether the labelled rows' predictions look like a random draw from the window's: a chi-square test of the
    served classes and a Kolmogorov-Smirnov test of the confidences (both weighted by the inclusion probabilities),
    combined by Bonferroni. ``looks_random`` is ``p_value >= alpha``; a failure is a flag, not a proof (and a pass
    does not prove randomness: a reviewer picking by the text itself can pass)."""

    p_value: float
    class_p_value: float
    confidence_p_value: float
    alpha: float
    n: int
    N: int

    @property
    def looks_random(self) -> bool:
        return self.p_value >= self.alpha

    def as_dict(self) -> dict[str, Any]:
        return {
            "p_value": float(self.p_value),
            "class_p_value": float(self.class_p_value),
            "confidence_p_value": float(self.confidence_p_value),
            "alpha": float(self.alpha),
            "looks_random": self.looks_random,
            "n": self.n,
            "N": self.N,
        }


def _goodness_of_fit(observed_bins: np.ndarray, window_bins: np.ndarray, weights: np.ndarray, bins: int) -> float:
    observed = np.bincount(observed_bins, minlength=bins).astype(np.float64)
    expected = np.bincount(window_bins, weights=weights, minlength=bins)
    keep = expected > 0
    if keep.sum() < 2:
        return 1.0
    if (observed[~keep] > 0).any():  # labelled rows where the design puts none: not a sample of this window
        return 0.0
    observed, expected = observed[keep], expected[keep]
    return float(chisquare(observed, expected * observed.sum() / expected.sum()).pvalue)


def _confidence_ks(labelled: np.ndarray, window: np.ndarray, weights: np.ndarray) -> float:
    """Kolmogorov-Smirnov p-value of the labelled rows' confidences against the window's, each window row weighted by
    its inclusion probability (the distribution a draw of the design follows). The reference is itself an empirical
    (discrete) distribution, which makes the p-value conservative: a flag is not raised by chance more often than
    ``alpha``."""
    if len(labelled) == 0:
        return 1.0
    order = np.argsort(window, kind="stable")
    grid = window[order]
    reference = np.cumsum(weights[order]) / weights.sum()
    sample = np.searchsorted(np.sort(labelled), grid, side="right") / len(labelled)
    below = np.searchsorted(np.sort(labelled), grid, side="left") / len(labelled)
    previous = np.r_[0.0, reference[:-1]]
    distance = max(float(np.abs(sample - reference).max()), float(np.abs(below - previous).max()))
    return float(kstwo.sf(distance, len(labelled)))


def sample_looks_random(
    labelled: LabelledRows,
    window: WindowPredictions,
    *,
    window_inclusion: Any = None,
    alpha: float = 0.01,
) -> RandomnessCheck:
    """Test the labelled rows' served classes (chi-square) and confidences (Kolmogorov-Smirnov) against the window's;
    labels are not used. Uniform sampling is assumed unless ``window_inclusion`` ``(N,)`` gives each window row's
    inclusion probability (the active design): then each window row counts in proportion to it."""
    N, n = len(window), len(labelled)
    weights = np.ones(N) if window_inclusion is None else np.asarray(window_inclusion, dtype=np.float64)
    if weights.shape != (N,):
        raise SampleDesignError(f"window_inclusion must hold one inclusion probability per window row ({N})")
    p_class = _goodness_of_fit(labelled.served, window.served, weights, K)
    p_conf = _confidence_ks(labelled.confidence, window.confidence, weights)
    check = RandomnessCheck(min(1.0, 2 * min(p_class, p_conf)), p_class, p_conf, alpha, n, N)
    if not check.looks_random:
        logger.warning("labelled rows do not look like a random sample of the window (p=%.2g)", check.p_value)
    return check
