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
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize

from sentiment.calibration import Calibration
from sentiment.labels import LABELS

logger = logging.getLogger(__name__)

K = len(LABELS)
BAND = 0.90  # the band's nominal coverage
MIN_REFERENCE = 50  # fewer labelled reference rows cannot fit a calibration map
CALIBRATIONS = ("none", "temperature", "matrix")


class EstimationInputError(ValueError):
    """Probabilities, labels or embeddings that an estimator cannot read; the message says what to pass."""


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
    the embeddings of the same rows (only ``iw`` reads them). Build with ``LabelledReference.of``."""

    probabilities: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray | None = None

    @classmethod
    def of(cls, probabilities: Any, labels: Any, embeddings: Any = None) -> LabelledReference:
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
        emb = None if self.embeddings is None else self.embeddings[rows]
        return LabelledReference(self.probabilities[rows], self.labels[rows], emb)


@dataclass(frozen=True)
class Metrics:
    """Accuracy, per-class F1 (``LABELS`` order) and macro-F1 of one confusion matrix."""

    accuracy: float
    f1: tuple[float, ...]
    macro_f1: float


def confusion_metrics(confusion: np.ndarray) -> Metrics:
    """Metrics of a confusion matrix (rows: true class, columns: predicted class; counts or shares). F1 of a
    class that is neither present nor predicted is 0, as ``sklearn.metrics.f1_score(zero_division=0)`` has it."""
    c = np.asarray(confusion, dtype=np.float64)
    total = c.sum()
    tp = np.diag(c)
    denominator = c.sum(axis=0) + c.sum(axis=1)  # 2 TP + FP + FN
    f1 = np.divide(2 * tp, denominator, out=np.zeros(K), where=denominator > 0)
    return Metrics(float(tp.sum() / total) if total else float("nan"), tuple(float(v) for v in f1), float(f1.mean()))


def expected_confusion(true_probabilities: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``C[i, j]`` = share of rows predicted ``j`` whose true class is ``i``, when each row's true class is drawn
    from its row of ``true_probabilities``: the CBPE confusion matrix (normalised to sum to 1)."""
    onehot = np.eye(K)[predicted]
    return true_probabilities.T @ onehot / max(len(predicted), 1)


def realised_confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The confusion matrix of known labels, as shares."""
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


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


class Estimator(ABC):
    """Fitted on a labelled reference once; ``estimate`` reads one window of unlabelled predictions.

    ``calibration``: the map refitted on the reference before the probabilities are read (``none`` trusts them as
    they come: production probabilities are already calibrated by the model's own map); ``bootstrap``: replicas of
    the reference fit behind the band; ``draws``: label draws per replica."""

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
        """Point estimate and band for one window of predictions (rows of class probabilities)."""
        probs = _probabilities(probabilities, "window probabilities")
        n = len(probs)
        if n == 0:
            raise EstimationInputError("an empty window has no performance to estimate")
        emb = self._window_embeddings(embeddings, n)
        point = self._confusion(self._state, probs, emb)
        replicas = [self._confusion(state, probs, emb) for state in self._replicas] or [point]
        predicted_counts = np.bincount(probs.argmax(axis=1), minlength=K)
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


@dataclass(frozen=True)
class _Calibrated:
    calibration: Calibration | None


class CBPE(Estimator):
    """Confidence-based performance estimation: the expected confusion matrix of the calibrated probabilities."""

    name = "cbpe"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _Calibrated:
        return _Calibrated(calibrate)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        return expected_confusion(self._calibrated(state, probabilities), probabilities.argmax(axis=1))


def negative_entropy(probabilities: np.ndarray) -> np.ndarray:
    """``sum p log p`` per row: 0 for a one-hot row, ``-log K`` for a uniform one (ATC-NE's confidence score)."""
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
    """Average thresholded confidence. ATC estimates accuracy only; for the confusion matrix a row at or above the
    threshold counts as right (all its mass on its predicted class) and a row below it as wrong, its mass spread
    over the other classes in proportion to their calibrated probabilities (so per-class F1 follows too)."""

    name = "atc"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _ATCState:
        probs = reference.probabilities if calibrate is None else calibrate.apply(reference.probabilities)
        correct = reference.probabilities.argmax(axis=1) == reference.labels
        return _ATCState(calibrate, atc_threshold(negative_entropy(probs), correct))

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        probs = self._calibrated(state, probabilities)
        predicted = probabilities.argmax(axis=1)
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
    """Difference of confidences, per predicted class: the reference's realised ``P(true | predicted)`` moved by
    the change of the expected one (calibrated probabilities) from the reference to the window."""

    name = "doc"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _DoCState:
        probs = reference.probabilities if calibrate is None else calibrate.apply(reference.probabilities)
        predicted = reference.probabilities.argmax(axis=1)
        realised = _column_conditional(realised_confusion(reference.labels, predicted))
        expected = _column_conditional(expected_confusion(probs.astype(np.float64), predicted))
        return _DoCState(calibrate, realised - expected)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        predicted = probabilities.argmax(axis=1)
        expected = expected_confusion(self._calibrated(state, probabilities), predicted)
        share = expected.sum(axis=0)
        conditional = _column_conditional(np.clip(_column_conditional(expected) + state.bias, 0.0, None))
        return _by_predicted_column(conditional, share)


def bbse_weights(confusion: np.ndarray, predicted_share: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Black-box shift estimation: class weights ``w_y = q(y) / p(y)`` solving ``C w = mu`` where
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
    """CBPE on label-shift-corrected probabilities: ``q(y | x) ∝ w_y p(y | x)`` with BBSE's weights."""

    name = "bbse"

    def _fit_state(self, reference: LabelledReference, calibrate: Any) -> _BBSEState:
        predicted = reference.probabilities.argmax(axis=1)
        joint = realised_confusion(reference.labels, predicted).T  # rows predicted, columns true
        prior = np.bincount(reference.labels, minlength=K) / len(reference)
        return _BBSEState(calibrate, joint, prior)

    def label_weights(self, probabilities: Any) -> np.ndarray:
        """The estimated ``q(y) / p(y)`` of a window (``LABELS`` order)."""
        probs = _probabilities(probabilities, "window probabilities")
        share = np.bincount(probs.argmax(axis=1), minlength=K) / len(probs)
        return bbse_weights(self._state.joint, share, self._state.prior)

    def _confusion(self, state: Any, probabilities: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        predicted = probabilities.argmax(axis=1)
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
    """L2-regularised binary logistic regression (weights, intercept) by L-BFGS; ``l2`` is the penalty on the
    weights per row (the intercept is free). ``y`` in {0, 1}."""
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
        """``p(window | x) / p(reference | x)`` for each reference row, normalised to mean 1 and capped."""
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
        predicted_ref = ref.probabilities.argmax(axis=1)
        weighted = (np.eye(K)[ref.labels] * weights[:, None]).T @ np.eye(K)[predicted_ref]
        predicted = probabilities.argmax(axis=1)
        share = np.bincount(predicted, minlength=K) / len(predicted)
        return _by_predicted_column(_column_conditional(weighted), share)


ESTIMATORS: dict[str, type[Estimator]] = {cls.name: cls for cls in (CBPE, ATC, DoC, BBSE, BBSEDoC, ImportanceWeighted)}


def make_estimator(method: str, reference: LabelledReference, **options: Any) -> Estimator:
    """The estimator registered as ``method``, fitted on ``reference``."""
    if method not in ESTIMATORS:
        raise EstimationInputError(f"unknown estimator {method!r}; known: {', '.join(ESTIMATORS)}")
    return ESTIMATORS[method](reference, **options)


def random_projection(dimensions: int, out: int = 16, seed: int = 0) -> np.ndarray:
    """A fixed Gaussian projection ``(dimensions, out)``, scaled by ``1 / sqrt(out)`` (Johnson-Lindenstrauss):
    what the prediction log stores of a sentence embedding, small and useless for recovering the text."""
    return np.random.default_rng(seed).standard_normal((dimensions, out)) / np.sqrt(out)
