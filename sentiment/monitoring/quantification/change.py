"""Did a class's share move away from the reference? A bootstrap band of the difference, estimate against estimate.

A window's estimated share is compared with *the same method's reading of the labelled reference itself*, not with
the reference's true label shares: classify-and-count on the reference gives the share the model predicts there
(its own confusion included), and comparing that with classify-and-count on the window cancels the model's bias,
as ``sentiment.monitoring.performance`` compares an estimate with the same estimator on the reference. For a
correction (ACC, PACC, EM) the reading of the reference is its label shares, exactly (ACC) or nearly (PACC, EM).

The reference is a sample too (a few hundred rows): the band of the difference resamples both, the reference
(refitting the method) and the window, independently; its percentile interval (Efron and Tibshirani 1993, ch. 13)
excluding 0 says the share rose (+1) or fell (-1). Each class is judged at the band's level on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from sentiment.errors import EstimationInputError
from sentiment.labels import LABELS
from sentiment.monitoring.estimation.base import LabelledReference
from sentiment.monitoring.quantification.methods import METHODS, Quantifier
from sentiment.monitoring.quantification.shares import BOOTSTRAP, LEVEL, window_probabilities


@dataclass(frozen=True)
class ShareChange:
    """Per class (``LABELS`` order): ``reference``, the method's reading of the reference rows; ``difference``,
    window minus reference; ``band``, the ``level`` bootstrap band of the difference over ``replicas``."""

    method: str
    reference: dict[str, float]
    difference: dict[str, float]
    band: dict[str, tuple[float, float]]
    level: float
    replicas: int

    @property
    def direction(self) -> dict[str, int]:
        """+1 where the whole band of the difference is above 0 (the share rose), -1 where below (fell), else 0."""
        return {label: 1 if low > 0 else -1 if high < 0 else 0 for label, (low, high) in self.band.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "reference": dict(self.reference),
            "difference": dict(self.difference),
            "band": {label: list(bounds) for label, bounds in self.band.items()},
            "level": self.level,
            "replicas": self.replicas,
            "direction": self.direction,
        }


def _difference(quantifier: Quantifier, reference: LabelledReference, window: np.ndarray) -> np.ndarray:
    return np.asarray(quantifier.shares(window) - quantifier.shares(reference.probabilities))


def share_change(
    reference: LabelledReference,
    probabilities: Any,
    method: str = "cc",
    *,
    level: float = LEVEL,
    bootstrap: int = BOOTSTRAP,
    seed: int = 0,
) -> ShareChange:
    """How each class's share of a window (``(n, k)`` probabilities) differs from the reference's, by ``method``
    fitted on ``reference``, with a ``level`` band from ``bootstrap`` replicas (0: the band is the point, so any
    difference counts). Raises ``EstimationInputError`` for an unknown method, a level outside (0, 1), a negative
    ``bootstrap`` or a bad window."""
    if method not in METHODS:
        raise EstimationInputError(f"unknown class-share method {method!r}; known: {', '.join(METHODS)}")
    if not 0 < level < 1:
        raise EstimationInputError(f"the band's level must be in (0, 1), got {level}")
    if bootstrap < 0:
        raise EstimationInputError(f"bootstrap must be 0 or more replicas, got {bootstrap}")
    probs = window_probabilities(probabilities)
    fitted = Quantifier.fit(method, reference)
    on_reference = fitted.shares(reference.probabilities)
    point = fitted.shares(probs) - on_reference
    rng = np.random.default_rng(seed)
    n, n_ref = len(probs), len(reference)
    replicas = []
    for _ in range(bootstrap):
        resampled = reference.take(rng.integers(0, n_ref, n_ref))
        replicas.append(_difference(Quantifier.fit(method, resampled), resampled, probs[rng.integers(0, n, n)]))
    if bootstrap:
        low, high = np.percentile(np.array(replicas), [(1 - level) / 2 * 100, (1 + level) / 2 * 100], axis=0)
    else:
        low, high = point, point
    return ShareChange(
        method=method,
        reference={label: float(v) for label, v in zip(LABELS, on_reference, strict=True)},
        difference={label: float(v) for label, v in zip(LABELS, point, strict=True)},
        band={label: (float(lo), float(hi)) for label, lo, hi in zip(LABELS, low, high, strict=True)},
        level=level,
        replicas=bootstrap,
    )


def interval_change(
    estimate: float, low: float, high: float, reference: float, n_reference: int, level: float = LEVEL
) -> int:
    """+1 (rose), -1 (fell) or 0: whether a share with a normal-theory ``level`` interval ``[low, high]`` around
    ``estimate`` (the review sample's prediction-powered interval) differs from a reference share measured on
    ``n_reference`` labelled rows, at ``level``.

    The reference share is itself a sample proportion: the difference's standard error combines both, the window's
    from its interval (half-width over z) and the reference's binomial ``sqrt(r (1 - r) / n_reference)`` (a Wald
    two-sample comparison of independent estimates). Reading the reference as exact (is it outside the interval?)
    flags a rise that the reference's own noise explains. With ``n_reference`` large this is that rule. Raises
    ``EstimationInputError`` for a level outside (0, 1), a reference share outside [0, 1] or ``n_reference < 1``."""
    if not 0 < level < 1:
        raise EstimationInputError(f"the level must be in (0, 1), got {level}")
    if not 0 <= reference <= 1 or n_reference < 1:
        raise EstimationInputError(f"a reference share in [0, 1] on 1 row or more, got {reference} on {n_reference}")
    z = NormalDist().inv_cdf((1 + level) / 2)
    window_se = max(high - low, 0.0) / (2 * z)
    reference_se = math.sqrt(reference * (1 - reference) / n_reference)
    # a difference at the bound, to rounding, is no change: as for a reference at the interval's very end (the
    # half-width comes back from high - low with a last-digit error, which made a tie a rise)
    bound = z * math.hypot(window_se, reference_se) + 1e-12
    difference = estimate - reference
    return 1 if difference > bound else -1 if difference < -bound else 0
