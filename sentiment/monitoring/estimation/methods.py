"""Estimated accuracy and F1 on unlabelled traffic: five published estimators behind one interface.

Production traffic has no labels, and feedback arrives late and for a few texts only; the model's own outputs on a
window of traffic, read against a labelled reference, give an estimate of how well it is doing now. Every estimator
here estimates the *expected confusion matrix* of the window, ``C[i, j]`` = share of the window whose true class is
``i`` and predicted class is ``j`` (the predictions are the served labels, ``argmax`` of the window's
probabilities, so the column sums are known exactly); accuracy, per-class F1 and macro-F1 follow from it.

- ``cbpe``: confidence-based performance estimation (NannyML): recalibrate the probabilities on the reference, then
  ``C[:, j]`` sums the calibrated probabilities of the rows predicted ``j``. Exact if the calibration still holds.
- ``atc``: average thresholded confidence (Garg et al., ICLR 2022): the threshold ``t`` on a confidence score below
  which the reference has as many rows as it has errors; the window's accuracy is its share of rows at or above
  ``t``. The score is the negative entropy of the calibrated probabilities (ATC-NE, the paper's better variant).
- ``doc``: difference of confidences (Guillory et al., ICCV 2021): the reference's realised confusion plus the
  change in the expected one between reference and window (per predicted class).
- ``bbse``: black-box shift estimation (Lipton et al., ICML 2018) of the window's label mix from the reference's
  confusion matrix of hard predictions, then CBPE on the probabilities re-weighted by ``q(y) / p(y)``: right under
  pure label shift, where calibration on the reference does not hold on the window.
- ``bbse_doc``: BBSE's label-shift correction, then DoC's per-class correction on top.
- ``iw``: importance weighting under covariate shift: a logistic-regression domain classifier between reference
  and window on (projected) sentence embeddings gives each reference row the weight ``p(window|x) / p(ref|x)``; the
  weighted reference gives each predicted class the distribution of its true class (importance-weighted calibration,
  one map per predicted class).

The uncertainty band is the 5th to 95th percentile of the metric a window of this size would *realise*, over
bootstrap replicas of the reference fit (the estimator's own uncertainty) times draws of the true labels from the
estimated confusion matrix, predicted counts held at the window's (the window's sampling noise).
``benchmarks/performance_estimation.py`` measures every estimator side by side on shifted data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from sentiment.errors import EstimationInputError
from sentiment.inference.calibration import Calibration
from sentiment.monitoring.estimation.base import (
    Estimator,
    K,
    LabelledReference,
    _by_predicted_column,
    _column_conditional,
    _probabilities,
    expected_confusion,
    realised_confusion,
    served_labels,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Calibrated:
    calibration: Calibration | None


class CBPE(Estimator):
    """Confidence-based performance estimation (NannyML CBPE): expected confusion of the calibrated probabilities."""

    name = "cbpe"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _Calibrated:
        return _Calibrated(calibrate)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        return expected_confusion(self._calibrated(state, probabilities), served_labels(probabilities))


def negative_entropy(probabilities: np.ndarray) -> np.ndarray:
    """``sum p log p`` (nats) of each row of ``(n, K)``: 0 one-hot, ``-log K`` uniform (ATC-NE's score), ``(n,)``."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return (p * np.log(p)).sum(axis=1)


def atc_threshold(scores: np.ndarray, correct: np.ndarray) -> float:
    """The ATC threshold: the score ``t`` with as many reference rows scoring below it as there are errors
    (Garg et al. 2022, eq. 1): the ``m``-th smallest score (0-based) for ``m`` errors. With every row right, no
    row may fall below: ``t`` is the smallest score; with every row wrong, ``t`` is above every score."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    errors = int(len(ordered) - np.count_nonzero(correct))
    return float(ordered[errors]) if errors < len(ordered) else float(np.nextafter(ordered[-1], np.inf))


@dataclass(frozen=True)
class _ATCState:
    calibration: Calibration | None
    threshold: float


class ATC(Estimator):
    """Average thresholded confidence (Garg et al. 2022), for accuracy only; for the confusion matrix a row at or
    above the threshold counts as right (all its mass on its predicted class) and a row below it as wrong, its mass
    spread over the other classes in proportion to their calibrated probabilities (so per-class F1 follows too)."""

    name = "atc"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _ATCState:
        probs = reference.probabilities if calibrate is None else calibrate.apply(reference.probabilities)
        correct = served_labels(reference.probabilities) == reference.labels
        return _ATCState(calibrate, atc_threshold(negative_entropy(probs), correct))

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        probs = self._calibrated(state, probabilities)
        predicted = served_labels(probabilities)
        right = negative_entropy(probs) >= state.threshold
        others = probs.copy()
        others[np.arange(len(predicted)), predicted] = 0.0
        sums = others.sum(axis=1, keepdims=True)
        others = np.divide(others, sums, out=np.full_like(others, 1.0 / (K - 1)), where=sums > 0)
        others[np.arange(len(predicted)), predicted] = 0.0
        truth = np.where(right[:, None], np.eye(K)[predicted], others)
        return expected_confusion(truth, predicted)


@dataclass(frozen=True)
class _DoCState:
    calibration: Calibration | None
    bias: np.ndarray  # realised minus expected P(true | predicted) on the reference, per predicted class


class DoC(Estimator):
    """Difference of confidences (Guillory et al. 2021), per predicted class: the reference's realised ``P(true |
    predicted)`` moved by the change of the expected one (calibrated probabilities) from the reference to the window."""

    name = "doc"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _DoCState:
        probs = reference.probabilities if calibrate is None else calibrate.apply(reference.probabilities)
        predicted = served_labels(reference.probabilities)
        realised = _column_conditional(realised_confusion(reference.labels, predicted))
        expected = _column_conditional(expected_confusion(probs.astype(np.float64), predicted))
        return _DoCState(calibrate, realised - expected)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        predicted = served_labels(probabilities)
        expected = expected_confusion(self._calibrated(state, probabilities), predicted)
        share = expected.sum(axis=0)
        conditional = _column_conditional(np.clip(_column_conditional(expected) + state.bias, 0.0, None))
        return _by_predicted_column(conditional, share)


def bbse_weights(confusion: np.ndarray, predicted_share: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Black-box shift estimation (Lipton et al. 2018): ``(K,)`` weights ``w_y = q(y) / p(y)`` solving ``C w = mu``,
    ``C[i, j] = P_ref(predicted = i, true = j)`` and ``mu`` is the window's share of each predicted class.
    Negative solutions (sampling noise, or a shift that is not label shift) are clipped to 0 and the weights
    rescaled so that the implied label mix ``w * prior`` sums to 1."""
    solved, *_ = np.linalg.lstsq(confusion, predicted_share, rcond=None)
    weights = np.clip(solved, 0.0, None)
    mass = float(weights @ prior)
    return weights / mass if mass > 0 else np.ones_like(weights)


@dataclass(frozen=True)
class _BBSEState:
    calibration: Calibration | None
    joint: np.ndarray  # P_ref(predicted = i, true = j), hard predictions
    prior: np.ndarray  # P_ref(true = j)


class BBSE(Estimator):
    """CBPE on label-shift-corrected probabilities, ``q(y | x) ∝ w_y p(y | x)``, with BBSE's (Lipton et al. 2018)."""

    name = "bbse"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _BBSEState:
        predicted = served_labels(reference.probabilities)
        joint = realised_confusion(reference.labels, predicted).T  # rows predicted, columns true
        prior = np.bincount(reference.labels, minlength=K) / len(reference)
        return _BBSEState(calibrate, joint, prior)

    def label_weights(self, probabilities: Any) -> np.ndarray:
        """The estimated ``q(y) / p(y)`` of a window of ``(n, K)`` probabilities: ``(K,)``, ``LABELS`` order."""
        probs = _probabilities(probabilities, "window probabilities")
        share = np.bincount(served_labels(probs), minlength=K) / len(probs)
        return bbse_weights(self._state.joint, share, self._state.prior)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        predicted = served_labels(probabilities)
        share = np.bincount(predicted, minlength=K) / len(predicted)
        weights = bbse_weights(state.joint, share, state.prior)
        shifted = self._calibrated(state, probabilities) * weights[None, :]
        sums = shifted.sum(axis=1, keepdims=True)
        shifted = np.divide(shifted, sums, out=np.full_like(shifted, 1.0 / K), where=sums > 0)
        return expected_confusion(shifted, predicted)


@dataclass(frozen=True)
class _BBSEDoCState:
    doc: _DoCState
    bbse: _BBSEState


class BBSEDoC(Estimator):
    """DoC on label-shift-corrected probabilities: BBSE's weights move the expected confusion to the window's
    estimated label mix, and DoC's per-class correction from the reference is added on top. Right when the shift
    is label shift *and* the calibration has a stable per-class bias; measured beside the others, it is not a
    default (see ``benchmarks/README.md``)."""

    name = "bbse_doc"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _BBSEDoCState:
        doc = DoC._fit_state(self, reference, calibrate)  # type: ignore[arg-type]
        bbse = BBSE._fit_state(self, reference, calibrate)  # type: ignore[arg-type]
        return _BBSEDoCState(doc, bbse)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        shifted = BBSE._confusion(self, state.bbse, probabilities, embeddings)  # type: ignore[arg-type]
        share = shifted.sum(axis=0)
        conditional = _column_conditional(np.clip(_column_conditional(shifted) + state.doc.bias, 0.0, None))
        return _by_predicted_column(conditional, share)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-regularised binary logistic regression of ``x`` ``(n, d)`` on ``y`` ``(n,)`` in {0, 1}: ``(d,)`` weights and
    the intercept, by scipy's L-BFGS-B; ``l2`` is the penalty on the weights per row (the intercept is free)."""
    n, d = x.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.logaddexp(0.0, z).sum() - y @ z) / n + 0.5 * l2 * float(w @ w)
        residual = (p - y) / n
        return value, np.r_[x.T @ residual + l2 * w, residual.sum()]

    found = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B")
    return found.x[:d], float(found.x[d])


@dataclass(frozen=True)
class _IWState:
    calibration: Calibration | None
    reference: LabelledReference


class ImportanceWeighted(Estimator):
    """Importance-weighted calibration: the reference rows re-weighted by a domain classifier's density ratio,
    then each predicted class's true-class distribution read from the weighted reference.

    ``l2`` regularises the domain classifier (standardised embeddings); ``max_weight`` caps a weight at that many
    times the mean, so that a few reference rows cannot carry the whole estimate."""

    name = "iw"
    needs_embeddings = True

    def __init__(self, reference: LabelledReference, *, l2: float = 1e-3, max_weight: float = 20.0, **kw: Any) -> None:
        self.l2, self.max_weight = l2, max_weight
        super().__init__(reference, **kw)

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _IWState:
        return _IWState(calibrate, reference)

    def importance_weights(self, reference_embeddings: np.ndarray, window_embeddings: np.ndarray) -> np.ndarray:
        """``p(window | x) / p(reference | x)`` of each reference row from ``(n, d)`` embeddings: mean 1, capped."""
        both = np.vstack([reference_embeddings, window_embeddings])
        mean, std = both.mean(axis=0), both.std(axis=0) + 1e-9
        x = (both - mean) / std
        y = np.r_[np.zeros(len(reference_embeddings)), np.ones(len(window_embeddings))]
        w, b = fit_logistic(x, y, self.l2)
        logit = x[: len(reference_embeddings)] @ w + b  # log odds window vs reference, at the sample sizes
        weights = np.exp(logit - logit.max())
        weights /= weights.mean()
        weights = np.minimum(weights, self.max_weight)
        return weights / weights.mean()

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        assert embeddings is not None and state.reference.embeddings is not None
        ref = state.reference
        weights = self.importance_weights(ref.embeddings, embeddings)
        predicted_ref = served_labels(ref.probabilities)
        weighted = (np.eye(K)[ref.labels] * weights[:, None]).T @ np.eye(K)[predicted_ref]
        predicted = served_labels(probabilities)
        share = np.bincount(predicted, minlength=K) / len(predicted)
        return _by_predicted_column(_column_conditional(weighted), share)


ESTIMATORS: dict[str, type[Estimator]] = {cls.name: cls for cls in (CBPE, ATC, DoC, BBSE, BBSEDoC, ImportanceWeighted)}


def make_estimator(method: str, reference: LabelledReference, **options: Any) -> Estimator:
    """The estimator registered as ``method``, fitted on ``reference``; ``EstimationInputError`` for an unknown one."""
    if method not in ESTIMATORS:
        raise EstimationInputError(f"unknown estimator {method!r}; known: {', '.join(ESTIMATORS)}")
    return ESTIMATORS[method](reference, **options)


def random_projection(dimensions: int, out: int = 16, seed: int = 0) -> np.ndarray:
    """A fixed Gaussian projection ``(dimensions, out)``, scaled by ``1 / sqrt(out)`` (Johnson-Lindenstrauss):
    what the prediction log stores of a sentence embedding, small and useless for recovering the text."""
    return np.random.default_rng(seed).standard_normal((dimensions, out)) / np.sqrt(out)
