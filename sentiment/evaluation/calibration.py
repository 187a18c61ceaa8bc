"""How calibrated a model's probabilities are: top-label expected calibration error and reliability tables.

A classifier is calibrated when, of the texts it scores with confidence ``c``, a share ``c`` is right (Guo et al.,
"On Calibration of Modern Neural Networks", ICML 2017). The maps that fix it are in ``sentiment.inference.calibration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment.inference.calibration import as_arrays

ECE_BINS = 15


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin: ``[lower, upper)``, how many predictions fell in it, their mean confidence and accuracy."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


def reliability_bins(probabilities: Any, labels: Any, n_bins: int = ECE_BINS) -> list[ReliabilityBin]:
    """Top-label reliability table over ``n_bins`` equal-width confidence bins on [0, 1] (empty bins included,
    with NaN confidence and accuracy): the data of a reliability diagram. Takes ``(n, 3)`` probabilities and
    ``(n,)`` labels (names or class ids); raises ``ValueError`` for other shapes."""
    probs, y = as_arrays(probabilities, labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    bins = []
    for i in range(n_bins):
        mask = which == i
        count = int(mask.sum())
        bins.append(
            ReliabilityBin(
                lower=float(edges[i]),
                upper=float(edges[i + 1]),
                count=count,
                confidence=float(confidence[mask].mean()) if count else float("nan"),
                accuracy=float(correct[mask].mean()) if count else float("nan"),
            )
        )
    return bins


def expected_calibration_error(probabilities: Any, labels: Any, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE (Naeini et al. 2015; Guo et al. 2017): ``sum_b |B_b|/n * |acc(B_b) - conf(B_b)|`` over
    ``n_bins`` equal-width bins of the top probability. In [0, 1]; 0 for a perfectly calibrated model.

    Raises ``ValueError`` for mis-shaped input; NaN for an empty sample."""
    bins = reliability_bins(probabilities, labels, n_bins)
    n = sum(b.count for b in bins)
    if n == 0:
        return float("nan")
    return float(sum(b.count / n * abs(b.accuracy - b.confidence) for b in bins if b.count))


def ece_of_a_calibrated_model(
    probabilities: Any, n_bins: int = ECE_BINS, draws: int = 200, seed: int = 0
) -> tuple[float, float]:
    """Mean and 90th percentile of the ECE that a *perfectly* calibrated model with these probabilities would show
    on a sample of this size: labels drawn from the probabilities themselves (consistency resampling, Broecker and
    Smith 2007). ECE is biased upwards on small samples, so an ECE inside this band is as calibrated as the sample
    can show; at 15 bins and ~600 rows the band starts around 0.03."""
    probs = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.default_rng(seed)
    cumulative = probs.cumsum(axis=1)
    values = []
    for _ in range(draws):
        drawn = (rng.random((len(probs), 1)) > cumulative).sum(axis=1).clip(0, probs.shape[1] - 1)
        values.append(expected_calibration_error(probs, drawn, n_bins))
    return float(np.mean(values)), float(np.percentile(values, 90))
