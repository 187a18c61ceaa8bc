"""Bias-corrected temperature scaling (BCTS): the recalibration EM needs before it can read a prior.

Alexandari, Kundaje and Shrikumar ("Maximum Likelihood with Bias-Corrected Calibration is Hard-To-Beat at Label
Shift Adaptation", ICML 2020) show that EM (Saerens et al. 2002) is only as good as the calibration of the
posteriors it starts from, and that temperature scaling alone leaves a systematic per-class bias that EM reads as a
prior shift. BCTS fits ``softmax(log p / T + b)``: one temperature and one bias per class, by minimising the
negative log-likelihood on the labelled reference.

Parameterised here as ``a = 1 / T`` (the NLL is convex in ``(a, b)``; in ``T`` it is not), with ``b[0] = 0``
(softmax is invariant to a common shift of the biases, so one of them is free). A useful consequence, tested: at
the optimum the gradient in each bias is ``mean(p_k) - mean(y_k)``, so the calibrated reference posteriors average
to the reference's label shares exactly, the source prior EM needs.

The biases can change the top class of a text. This map is used only inside EM's arithmetic, never to relabel
a served prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax, softmax

_EPS = 1e-12
_BOUNDS_A = (1e-3, 1e3)  # T between 1e-3 and 1e3
_BOUNDS_B = (-30.0, 30.0)  # a class absent from the reference drives its bias down; this stops it finitely
_MAX_STEPS = 50
_GRADIENT_TOLERANCE = 1e-10


def _logits(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probabilities, _EPS, 1.0))


@dataclass(frozen=True)
class BiasCorrectedTemperature:
    """A fitted BCTS map: ``softmax(inverse_temperature * log p + biases)``; ``biases[0]`` is 0."""

    inverse_temperature: float
    biases: tuple[float, ...]

    @property
    def temperature(self) -> float:
        return 1.0 / self.inverse_temperature

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """Recalibrated ``(n, k)`` probabilities of ``(n, k)`` probabilities (float64)."""
        z = self.inverse_temperature * _logits(probabilities) + np.asarray(self.biases)
        return np.asarray(softmax(z, axis=1))

    @classmethod
    def fit(cls, probabilities: np.ndarray, labels: np.ndarray) -> BiasCorrectedTemperature:
        """Fit on ``(n, k)`` probabilities and ``(n,)`` class ids by Newton's method with a backtracking line search
        (three parameters, a convex objective: it converges in a few steps, and a bootstrap refits it hundreds of
        times, so no general-purpose optimiser's overhead)."""
        logits = _logits(np.asarray(probabilities, dtype=np.float64))
        n, k = logits.shape
        onehot = np.eye(k)[np.asarray(labels)]
        # features[r, c, :] = d z[r, c] / d (a, b_1 .. b_{k-1})
        features = np.zeros((n, k, k))
        features[:, :, 0] = logits
        features[:, np.arange(1, k), np.arange(1, k)] = 1.0

        def nll(x: np.ndarray) -> float:
            return float(-np.sum(log_softmax(features @ x, axis=1) * onehot) / n)

        x = np.r_[1.0, np.zeros(k - 1)]
        lower, upper = np.r_[_BOUNDS_A[0], [_BOUNDS_B[0]] * (k - 1)], np.r_[_BOUNDS_A[1], [_BOUNDS_B[1]] * (k - 1)]
        for _ in range(_MAX_STEPS):
            p = softmax(features @ x, axis=1)
            grad = np.einsum("rc,rcd->d", p - onehot, features) / n
            mean_f = np.einsum("rc,rcd->rd", p, features)
            hess = (np.einsum("rc,rcd,rce->de", p, features, features) - mean_f.T @ mean_f) / n
            if np.max(np.abs(grad)) < _GRADIENT_TOLERANCE:
                break
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            current, t = nll(x), 1.0
            while t > 1e-8:
                trial = np.clip(x - t * step, lower, upper)
                if nll(trial) <= current - 1e-4 * t * float(grad @ step):
                    break
                t /= 2
            else:
                break  # no descent left along the Newton direction: at the optimum to machine precision
            x = trial
        return cls(float(x[0]), (0.0, *(float(v) for v in x[1:])))
