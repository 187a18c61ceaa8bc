"""One window's class shares with a band: the point estimate of a method and a bootstrap over both samples.

The estimate has two sources of noise: the window is a sample of the traffic, and the reference that the
correction is fitted on (``M`` of ACC/PACC, the BCTS map of EM) is a sample too; with a reference of a few hundred
rows the second one dominates. Each bootstrap replica therefore resamples both, refits the method on the reference
replica and reads the window replica; the band is the percentile interval of the replicas (Efron and Tibshirani
1993, ch. 13), which stays inside ``[0, 1]`` as shares must.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment.errors import EstimationInputError
from sentiment.labels import LABELS
from sentiment.monitoring.estimation.base import LabelledReference, _probabilities
from sentiment.monitoring.quantification.methods import METHODS, Quantifier, classify_and_count

LEVEL = 0.90  # the band's nominal coverage
BOOTSTRAP = 200  # replicas behind a band


@dataclass(frozen=True)
class ClassShares:
    """A window's estimated class shares (``LABELS`` order, summing to 1) and their band.

    ``counted``: the classify-and-count shares (the raw predicted distribution); ``reference``: the reference's
    label shares, what "vs 25% at reference" compares with."""

    method: str
    n_window: int
    n_reference: int
    shares: dict[str, float]
    band: dict[str, tuple[float, float]]
    level: float
    counted: dict[str, float]
    reference: dict[str, float]
    replicas: int

    @property
    def change(self) -> dict[str, str]:
        """Per class, ``rose`` or ``fell`` when the reference's share lies outside the band, else ``held``: what an
        alert such as "the negative share rose" reads. Each class is judged at the band's level on its own (no
        correction for looking at three classes; the label-shift test answers the joint question)."""
        out = {}
        for label, (low, high) in self.band.items():
            ref = self.reference[label]
            out[label] = "rose" if ref < low else "fell" if ref > high else "held"
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: plain floats, bands as two-element lists, and ``change``."""
        return {
            "method": self.method,
            "n_window": self.n_window,
            "n_reference": self.n_reference,
            "shares": dict(self.shares),
            "band": {label: list(bounds) for label, bounds in self.band.items()},
            "level": self.level,
            "counted": dict(self.counted),
            "reference": dict(self.reference),
            "replicas": self.replicas,
            "change": self.change,
        }


def _named(values: np.ndarray) -> dict[str, float]:
    return {label: float(v) for label, v in zip(LABELS, values, strict=True)}


def window_probabilities(values: Any) -> np.ndarray:
    """A window's checked ``(n, k)`` probabilities (rows renormalised). Raises ``EstimationInputError`` for a wrong
    shape, invalid values or an empty window."""
    probs = _probabilities(values, "window probabilities")
    if len(probs) == 0:
        raise EstimationInputError("an empty window has no class shares to estimate")
    return probs


def estimate_shares(
    reference: LabelledReference,
    probabilities: Any,
    method: str = "em",
    *,
    level: float = LEVEL,
    bootstrap: int = BOOTSTRAP,
    seed: int = 0,
) -> ClassShares:
    """The class shares of one window of served predictions (``(n, k)`` class probabilities) by ``method`` (one of
    ``METHODS``), fitted on ``reference``, with a ``level`` band from ``bootstrap`` replicas (0: the band is the
    point). Raises ``EstimationInputError`` for an unknown method, a level outside (0, 1) or a bad window."""
    if method not in METHODS:
        raise EstimationInputError(f"unknown class-share method {method!r}; known: {', '.join(METHODS)}")
    if not 0 < level < 1:
        raise EstimationInputError(f"the band's level must be in (0, 1), got {level}")
    if bootstrap < 0:
        raise EstimationInputError(f"bootstrap must be 0 or more replicas, got {bootstrap}")
    probs = window_probabilities(probabilities)
    point = Quantifier.fit(method, reference).shares(probs)
    rng = np.random.default_rng(seed)
    n, n_ref = len(probs), len(reference)
    replicas = np.array(
        [
            Quantifier.fit(method, reference.take(rng.integers(0, n_ref, n_ref))).shares(probs[rng.integers(0, n, n)])
            for _ in range(bootstrap)
        ]
    ).reshape(-1, probs.shape[1])
    if bootstrap:
        low, high = np.percentile(replicas, [(1 - level) / 2 * 100, (1 + level) / 2 * 100], axis=0)
    else:
        low, high = point, point
    k = probs.shape[1]
    return ClassShares(
        method=method,
        n_window=n,
        n_reference=n_ref,
        shares=_named(point),
        band={label: (float(lo), float(hi)) for label, lo, hi in zip(LABELS, low, high, strict=True)},
        level=level,
        counted=_named(classify_and_count(probs)),
        reference=_named(np.bincount(reference.labels, minlength=k) / n_ref),
        replicas=bootstrap,
    )
