"""Calibrated probabilities: temperature and matrix scaling, fitted by NLL, saved beside the model they calibrate.

Measuring calibration (ECE, reliability tables) lives in ``sentiment.evaluation.calibration``.

A classifier is calibrated when, of the texts it scores with confidence ``c``, a share ``c`` is right. Fine-tuned
transformers are usually over-confident (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017), which
makes their confidence useless for estimating accuracy on unlabelled traffic (confidence-based performance
estimation reads it as the probability of being right). A calibration map is fitted on held-out labelled data by
minimising the negative log-likelihood (``Calibration``).

Logits are recovered from probabilities as ``log p`` (softmax is invariant to the per-row constant that
``log p = z - logsumexp(z)`` subtracts), so the same map serves every backend, the lexicon included.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
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
_RIDGE = 1e-3  # matrix scaling: a light pull of W towards the identity and b towards 0, against over-fitting


@dataclass(frozen=True)
class Calibration:
    """An affine map of the logits, ``softmax(log p @ W + b)``, fitted by minimising the negative log-likelihood.

    ``temperature`` (Guo et al. 2017): ``W = I / T``, ``b = 0``; one parameter, never changes a label.
    ``matrix`` (matrix scaling, same paper; Kull et al. 2019 for its regularised form): a full 3x3 ``W`` and ``b``
    with a light ridge towards the identity; 12 parameters, it also corrects the model's class priors, so a label
    may change. ``benchmarks/README.md`` has both measured side by side; the shipped map is the better of them there.
    ``fitted_on`` and ``n`` record what the map was fitted on, for the model card.
    """

    method: str
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    fitted_on: str = ""
    n: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CalibrationError(f"unknown calibration method {self.method!r}; known: {', '.join(METHODS)}")
        w, b = np.asarray(self.weights, dtype=np.float64), np.asarray(self.bias, dtype=np.float64)
        k = len(LABELS)
        if w.shape != (k, k) or b.shape != (k,) or not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise CalibrationError(f"a calibration needs a finite {k}x{k} weight matrix and {k} biases")

    @property
    def temperature(self) -> float | None:
        """``T`` of a temperature map, else ``None``."""
        return 1.0 / self.weights[0][0] if self.method == "temperature" else None

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated ``(n, 3)`` float32 probabilities in ``LABELS`` order; NaN rows (invalid texts) stay NaN."""
        probs = np.asarray(probabilities, dtype=np.float64)
        out = np.full(probs.shape, np.nan)
        ok = ~np.isnan(probs).any(axis=1) if probs.size else np.zeros(len(probs), dtype=bool)
        if ok.any():
            out[ok] = softmax(_log(probs[ok]) @ np.asarray(self.weights) + np.asarray(self.bias), axis=1)
        return out.astype(np.float32)

    @classmethod
    def fit(cls, probabilities: Any, labels: Any, method: str = "matrix", fitted_on: str = "") -> Calibration:
        """Fit ``method`` on held-out ``(n, 3)`` probabilities and their labels (names or class ids), with scipy:
        a bounded scalar search on ``log T``, or L-BFGS-B over ``W`` and ``b``.

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
        return cls(
            method=method,
            weights=tuple(tuple(round(float(v), 6) for v in row) for row in weights),
            bias=tuple(round(float(v), 6) for v in bias),
            fitted_on=fitted_on,
            n=len(y),
        )

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
        return f"matrix scaling{where}"

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
            )
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("ignoring %s: %s", path, exc)
            return None
