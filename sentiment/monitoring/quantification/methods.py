"""Class-share estimators (quantifiers): what share of a window is negative, neutral, positive, without labels.

Counting the served labels (classify-and-count, CC) is biased whenever the class shares move away from the
reference's: a classifier that confuses neutral with positive moves a fixed fraction of each class across, so the
counted share drifts towards the classifier's own bias. The corrections assume *label shift*: the class shares
change, but each class's texts look as they did on the reference (``P(x | y)`` is fixed). Then:

- ``cc``: classify-and-count, the share of each predicted class (Forman 2008; what the dashboard shows today).
- ``acc``: adjusted classify-and-count (Forman 2008): the counted shares ``q`` satisfy ``q = M p`` with ``M[i, j] =
  P(predicted i | true j)`` measured on the reference; ``p`` is solved on the simplex (``simplex_least_squares``).
- ``pcc``: probabilistic classify-and-count (Bella et al., ICDM 2010): the mean class probability. Unbiased only
  when the probabilities are calibrated *for the window's prior*, so it inherits the same bias as CC under shift.
- ``pacc``: probabilistic ACC (Bella et al. 2010): ``M[i, j] = E[p_i(x) | true j]`` on the reference and the mean
  probability as ``q``.
- ``em``: the EM of Saerens, Latinne and Decaestecker (Neural Computation 14(1), 2002, eqs. 2.9-2.10) run on
  probabilities recalibrated by BCTS (``bcts``), with the mean calibrated reference posterior as the source prior
  (Alexandari et al., ICML 2020). Maximum likelihood for the window's prior under label shift.

Every estimator returns ``(k,)`` shares on the simplex in ``LABELS`` order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from sentiment.errors import EstimationInputError
from sentiment.monitoring.estimation.base import LabelledReference
from sentiment.monitoring.quantification.bcts import BiasCorrectedTemperature
from sentiment.monitoring.quantification.simplex import simplex_least_squares

logger = logging.getLogger(__name__)

METHODS = ("cc", "acc", "pcc", "pacc", "em")
EM_TOLERANCE = 1e-6  # stop when no share moves by more than this between two EM steps
EM_MAX_ITER = 1000


def classify_and_count(probabilities: np.ndarray) -> np.ndarray:
    """The share of each predicted (top) class of ``(n, k)`` probabilities."""
    k = probabilities.shape[1]
    return np.bincount(probabilities.argmax(axis=1), minlength=k) / max(len(probabilities), 1)


def probabilistic_classify_and_count(probabilities: np.ndarray) -> np.ndarray:
    """The mean class probability of ``(n, k)`` probabilities (rows summing to 1)."""
    mean = probabilities.mean(axis=0)
    return np.asarray(mean / mean.sum())


def conditional_rates(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``M[i, j]``: the mean of output ``i`` over the reference rows of true class ``j``, for ``(n, k)`` outputs
    (one-hot predictions for ACC, probabilities for PACC) and ``(n,)`` class ids. A class the reference lacks gets
    the identity column (it is reported as itself), quapy's convention: the adjustment cannot learn about it."""
    k = outputs.shape[1]
    rates = np.eye(k)
    for j in range(k):
        rows = labels == j
        if rows.any():
            rates[:, j] = outputs[rows].mean(axis=0)
    return rates


def em_prior(
    posteriors: np.ndarray,
    source_prior: np.ndarray,
    *,
    tolerance: float = EM_TOLERANCE,
    max_iter: int = EM_MAX_ITER,
) -> np.ndarray:
    """The window's prior by EM (Saerens et al. 2002): reweight each row's ``(n, k)`` calibrated posteriors by
    ``prior / source_prior`` and renormalise (E-step, eq. 2.9), then take their mean as the next prior (M-step,
    eq. 2.10), starting from ``source_prior`` (``(k,)``, all positive). Each step raises the window's likelihood.

    Stops when no share moves by ``tolerance`` in a step. Where the likelihood is nearly flat (a classifier that
    tells the classes apart poorly) EM creeps and stops short of the maximum; the shares are then ill-determined
    by any method, and the bootstrap band of ``estimate_shares`` shows it by its width."""
    source = np.asarray(source_prior, dtype=np.float64)
    prior = source.copy()
    for _ in range(max_iter):
        weighted = posteriors * (prior / source)
        updated = (weighted / weighted.sum(axis=1, keepdims=True)).mean(axis=0)
        if np.max(np.abs(updated - prior)) < tolerance:
            return np.asarray(updated / updated.sum())
        prior = updated
    logger.debug("EM stopped after %d steps without converging to %g", max_iter, tolerance)
    return np.asarray(prior / prior.sum())


@dataclass(frozen=True, eq=False)
class Quantifier:
    """One method fitted on a labelled reference: ``shares(probabilities)`` reads a window.

    ``rates``: ``M`` of ACC/PACC (None otherwise); ``calibration``: the BCTS map of EM (None otherwise);
    ``source_prior``: the reference's label shares as the method sees them (the mean calibrated posterior for EM)."""

    method: str
    source_prior: np.ndarray
    rates: np.ndarray | None = None
    calibration: BiasCorrectedTemperature | None = None

    @classmethod
    def fit(cls, method: str, reference: LabelledReference) -> Quantifier:
        """Fit ``method`` (one of ``METHODS``) on ``reference``. Raises ``EstimationInputError`` for another name."""
        probs, labels = reference.probabilities, reference.labels
        k = probs.shape[1]
        label_shares = np.bincount(labels, minlength=k) / len(labels)
        if method in ("cc", "pcc"):
            return cls(method, label_shares)
        if method == "acc":
            return cls(method, label_shares, rates=conditional_rates(np.eye(k)[probs.argmax(axis=1)], labels))
        if method == "pacc":
            return cls(method, label_shares, rates=conditional_rates(probs, labels))
        if method == "em":
            calibration = BiasCorrectedTemperature.fit(probs, labels)
            return cls(method, calibration.apply(probs).mean(axis=0), calibration=calibration)
        raise EstimationInputError(f"unknown class-share method {method!r}; known: {', '.join(METHODS)}")

    def shares(self, probabilities: np.ndarray) -> np.ndarray:
        """``(k,)`` class shares of a window's ``(n, k)`` probabilities (rows summing to 1, ``n >= 1``)."""
        if self.method in ("cc", "acc"):
            counted = classify_and_count(probabilities)
            return counted if self.rates is None else simplex_least_squares(self.rates, counted)
        if self.method in ("pcc", "pacc"):
            mean = probabilistic_classify_and_count(probabilities)
            return mean if self.rates is None else simplex_least_squares(self.rates, mean)
        assert self.calibration is not None  # em
        return em_prior(self.calibration.apply(probabilities), self.source_prior)
