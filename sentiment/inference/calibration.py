"""Calibrated probabilities: temperature and matrix scaling, fitted by NLL, saved beside the model they calibrate.

Measuring calibration (ECE, reliability tables) lives in ``sentiment.evaluation.calibration``.

A classifier is calibrated when, of the texts it scores with confidence ``c``, a share ``c`` is right. Fine-tuned
transformers are usually over-confident (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017), which
makes their confidence useless for estimating accuracy on unlabelled traffic (confidence-based performance
estimation reads it as the probability of being right). A calibration map is fitted on held-out labelled data by
minimising the negative log-likelihood (``Calibration``).

Logits are recovered from probabilities as ``log p`` (softmax is invariant to the per-row constant that
``log p = z - logsumexp(z)`` subtracts), so the same map serves every backend, the lexicon included.

**Calibration must not change answers.** A map that serves changes the probabilities, never the label: the label is
the model's argmax. Temperature scaling (the default, ``DEFAULT_METHOD``) provably keeps it (``keeps_labels``);
matrix scaling does not (measured with the embedded model, ``benchmarks/README.md``: the matrix map it shipped
with changed 2-14% of the labels of held-out sets, and moved their macro-F1 by -0.014 to +0.020), so serving it is an
explicit opt-in (``SENTIMENT_CALIBRATION_MAY_CHANGE_LABELS``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from sentiment.errors import CalibrationError
from sentiment.labels import LABELS

logger = logging.getLogger(__name__)

CALIBRATION_FILE = "calibration.json"
_EPS = 1e-12  # probabilities of exactly 0 (the lexicon's hard edges) stay finite in log space
_LOG_T_BOUNDS = (-3.0, 3.0)  # T in [0.05, 20]: beyond either end the model's scores carry no ranking left


def as_arrays(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 3)`` float64 probabilities and ``(n,)`` int64 class ids; label names are mapped through ``LABELS``.

    Raises ``ValueError`` for any other shape and ``KeyError`` for a label name outside ``LABELS``."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(LABELS):
        raise ValueError(f"probabilities must have shape (n, {len(LABELS)}), got {probs.shape}")
    y = np.asarray(labels)
    if y.dtype.kind in "OUS":
        index = {label: i for i, label in enumerate(LABELS)}
        y = np.array([index[str(v)] for v in y], dtype=np.int64)
    y = y.astype(np.int64)
    if y.shape != (len(probs),):
        raise ValueError(f"labels must have shape ({len(probs)},), got {y.shape}")
    return probs, y


def negative_log_likelihood(probabilities: Any, labels: Any) -> float:
    """Mean ``-log p(true class)`` over the rows, in nats; probabilities clipped at 1e-12 so a 0 stays finite."""
    probs, y = as_arrays(probabilities, labels)
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], _EPS, 1.0)).mean())


def _log(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probs, _EPS, 1.0))


METHODS = ("temperature", "matrix")
DEFAULT_METHOD = "temperature"
LABEL_KEEPING_METHODS = ("temperature",)  # the maps a model may serve without the opt-in; each keeps every argmax
_RIDGE = 1e-3  # matrix scaling: a light pull of W towards the identity and b towards 0, against over-fitting


@dataclass(frozen=True)
class Calibration:
    """An affine map of the logits, ``softmax(log p @ W + b)``, fitted by minimising the negative log-likelihood.

    ``temperature`` (Guo et al. 2017): ``W = I / T``, ``b = 0``; one parameter, never changes a label (the
    default, and what ships). ``matrix`` (matrix scaling, same paper; Kull et al. 2019 for its regularised form): a
    full 3x3 ``W`` and ``b`` with a light ridge towards the identity; 12 parameters, it also corrects the model's
    class priors, so it **changes labels**: a predictor serves it only when told to (``allow_label_changes``).
    ``benchmarks/README.md`` has both measured side by side. ``fitted_on`` and ``n`` record what the map was fitted
    on, for the model card; ``labels_changed`` the share of those rows whose top class the map moved (``None``: not
    measured, e.g. a file written before it was recorded).
    """

    method: str
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    fitted_on: str = ""
    n: int = 0
    labels_changed: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CalibrationError(f"unknown calibration method {self.method!r}; known: {', '.join(METHODS)}")
        w, b = np.asarray(self.weights, dtype=np.float64), np.asarray(self.bias, dtype=np.float64)
        k = len(LABELS)
        if w.shape != (k, k) or b.shape != (k,) or not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise CalibrationError(f"a calibration needs a finite {k}x{k} weight matrix and {k} biases")
        if self.method in LABEL_KEEPING_METHODS and not self.keeps_labels:
            raise CalibrationError(
                f"a {self.method} map must be a positive multiple of the identity with equal biases (W = I / T, "
                "b = 0); these parameters would change labels: refit it with `python -m finetune.calibrate`"
            )

    @property
    def keeps_labels(self) -> bool:
        """Whether the map keeps every row's top class: true exactly for ``W = c I`` with ``c > 0`` and equal biases.

        Proof: then ``softmax(c log p + b)_k = p_k^c / sum_j p_j^c``, one strictly increasing function of ``p_k``
        with the same denominator for every class, so ``p_i > p_j`` iff ``q_i > q_j``: the order of the classes,
        and with it the argmax, is the model's (ties stay ties). ``apply`` also keeps it through float32 rounding.
        Any other ``W`` or ``b`` moves some point's argmax (matrix scaling does so by design: a class prior)."""
        w, b = np.asarray(self.weights, dtype=np.float64), np.asarray(self.bias, dtype=np.float64)
        scale = w[0, 0]
        return bool(scale > 0 and np.array_equal(w, scale * np.eye(len(w))) and np.all(b == b[0]))

    @property
    def temperature(self) -> float | None:
        """``T`` of a temperature map, else ``None``."""
        return 1.0 / self.weights[0][0] if self.method == "temperature" else None

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated ``(n, 3)`` float32 probabilities in ``LABELS`` order; NaN rows (invalid texts) stay NaN.

        A label-keeping map returns every row with the input's argmax, exactly: where rounding to float32 tied two
        classes the map kept apart (a gap of a few ulps), the input's top class is raised by one ulp."""
        probs = np.asarray(probabilities, dtype=np.float64)
        out = np.full(probs.shape, np.nan)
        ok = _valid_rows(probs)
        if ok.any():
            out[ok] = softmax(_log(probs[ok]) @ np.asarray(self.weights) + np.asarray(self.bias), axis=1)
        calibrated = out.astype(np.float32)
        if self.keeps_labels and ok.any():
            _keep_top(calibrated, probs, ok)
        return calibrated

    def changed_labels(self, probabilities: Any) -> np.ndarray:
        """``(n,)`` bool: the rows of ``(n, 3)`` probabilities whose top class this map changes (NaN rows: False)."""
        probs = np.asarray(probabilities, dtype=np.float64)
        ok = _valid_rows(probs)
        changed = np.zeros(len(probs), dtype=bool)
        changed[ok] = self.apply(probs[ok]).argmax(axis=1) != probs[ok].argmax(axis=1)
        return changed

    @classmethod
    def fit(cls, probabilities: Any, labels: Any, method: str = DEFAULT_METHOD, fitted_on: str = "") -> Calibration:
        """Fit ``method`` on held-out ``(n, 3)`` probabilities and their labels (names or class ids), with scipy:
        a bounded scalar search on ``log T``, or L-BFGS-B over ``W`` and ``b``. Records the share of those rows
        whose label the map changes (``labels_changed``: 0 for temperature).

        Raises ``CalibrationError`` for an unknown method or fewer than 50 rows (too few to fit), ``ValueError`` for
        bad shapes."""
        from scipy.optimize import minimize, minimize_scalar

        probs, y = as_arrays(probabilities, labels)
        if len(y) < 50:
            raise CalibrationError(f"{len(y)} labelled rows; at least 50 are needed to fit a calibration map")
        k, rows, logits = len(LABELS), np.arange(len(y)), _log(probs)

        def nll(w: np.ndarray, b: np.ndarray) -> float:
            return float(-np.log(np.clip(softmax(logits @ w + b, axis=1)[rows, y], _EPS, 1.0)).mean())

        if method == "temperature":  # a bounded 1-D search on log T; the NLL is convex in 1/T
            found = minimize_scalar(
                lambda log_t: nll(np.eye(k) / np.exp(log_t), np.zeros(k)),
                bounds=_LOG_T_BOUNDS,
                method="bounded",
                options={"xatol": 1e-4},
            )
            weights, bias = np.eye(k) / np.exp(found.x), np.zeros(k)
        elif method == "matrix":
            eye = np.eye(k).ravel()

            def objective(q: np.ndarray) -> float:
                return nll(q[: k * k].reshape(k, k), q[k * k :]) + _RIDGE * float(
                    np.sum((q[: k * k] - eye) ** 2) + np.sum(q[k * k :] ** 2)
                )

            found = minimize(objective, np.r_[eye, np.zeros(k)], method="L-BFGS-B")
            weights, bias = found.x[: k * k].reshape(k, k), found.x[k * k :]
        else:
            raise CalibrationError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")
        fitted = cls(
            method=method,
            weights=tuple(tuple(round(float(v), 6) for v in row) for row in weights),
            bias=tuple(round(float(v), 6) for v in bias),
            fitted_on=fitted_on,
            n=len(y),
        )
        return replace(fitted, labels_changed=float(fitted.changed_labels(probs).mean()))

    def key(self) -> str:
        """A short digest of the parameters: part of the serving revision, so a new map is a new revision."""
        import hashlib

        numbers = [[float(v) for v in row] for row in self.weights], [float(v) for v in self.bias]
        return hashlib.sha256(json.dumps([self.method, *numbers]).encode()).hexdigest()[:8]

    def describe(self) -> str:
        """One line for ``ModelInfo.calibration``, ``/health`` and the model card."""
        where = f" fitted on {self.fitted_on}" if self.fitted_on else ""
        if self.method == "temperature":
            return f"temperature scaling (T={self.temperature:.3g}){where}"
        return f"matrix scaling{where}; it changes labels ({self.label_change_note()})"

    def label_change_note(self) -> str:
        """How many answers the map changes, in words: ``"9.6% of the 3,555 rows it was fitted on"``."""
        if self.labels_changed is None:
            return "share not measured: refit it with `python -m finetune.calibrate` to measure it"
        return f"{self.labels_changed:.1%} of the {self.n:,} rows it was fitted on"

    def save(self, folder: Path) -> Path:
        """Write ``calibration.json`` into the model folder (the folder must exist); returns its path."""
        path = folder / CALIBRATION_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        """The map stored in a model folder, or ``None`` when there is none. A damaged file is logged and ignored:
        uncalibrated probabilities are still the model's, and ``/health`` says the model is not calibrated."""
        path = folder / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(
                method=data["method"],
                weights=tuple(tuple(float(v) for v in row) for row in data["weights"]),
                bias=tuple(float(v) for v in data["bias"]),
                fitted_on=str(data.get("fitted_on", "")),
                n=int(data.get("n", 0)),
                labels_changed=None if data.get("labels_changed") is None else float(data["labels_changed"]),
            )
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("ignoring %s: %s", path, exc)
            return None


def _valid_rows(probabilities: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: the rows without NaN (NaN rows are invalid texts)."""
    if not probabilities.size:
        return np.zeros(len(probabilities), dtype=bool)
    return np.asarray(~np.isnan(probabilities).any(axis=1))


def _keep_top(calibrated: np.ndarray, probabilities: np.ndarray, ok: np.ndarray) -> None:
    """In place: each valid row of ``calibrated`` (float32) gets the argmax of ``probabilities`` back where rounding
    moved it (only ties of a few ulps can: ``keeps_labels`` holds in exact arithmetic), by one ulp."""
    rows = np.flatnonzero(ok)
    top = probabilities[rows].argmax(axis=1)
    moved = calibrated[rows].argmax(axis=1) != top
    for row, k in zip(rows[moved], top[moved], strict=True):
        calibrated[row, k] = np.nextafter(calibrated[row].max(), np.float32(np.inf), dtype=np.float32)
