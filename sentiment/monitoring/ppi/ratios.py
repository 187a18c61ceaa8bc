"""PPI++ for a mean of ratios of means (Angelopoulos, Duchi and Zrnic, 2023, "PPI++: Efficient Prediction-Powered
Inference", arXiv:2311.01453, the M-estimation case), built on the mean case of ``sentiment.monitoring.ppi.mean``.

Ratios (recall, F1) are M-estimators: ``R = E[a] / E[b]`` solves ``E[a - R b] = 0``. PPI++ for M-estimation
(the gradient ``R b - a``, the Hessian ``E[b]``) gives the ratio of the two PPI means with one
``lam``, and its variance is the mean case (``mean``) applied to the linearised rows ``(a - R b) / E[b]`` (the delta
method). A mean of K ratios (macro-F1) linearises to the mean of the K linearised rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sentiment.errors import SampleDesignError
from sentiment.monitoring.ppi.mean import MIN_LABELLED, Moments, Unlabelled, mean_estimate, tuned_lambda
from sentiment.monitoring.ppi.result import PPIResult


@dataclass(frozen=True)
class RatioRows:
    """The parts of a mean of K ratios ``(1/K) sum_k E[a_k] / E[b_k]``: labelled outcomes ``a``, ``b`` ``(n, K)``, their
    proxies ``fa``, ``fb`` ``(n, K)``, and the window's proxies ``window_a``, ``window_b`` ``(N, K)``."""

    a: np.ndarray
    b: np.ndarray
    fa: np.ndarray
    fb: np.ndarray
    window_a: np.ndarray
    window_b: np.ndarray


def _ratio_point(rows: RatioRows, lam: float, in_window: bool) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators ``(K,)`` of the PPI estimates at ``lam``."""

    def ppi(y: np.ndarray, f: np.ndarray, window: np.ndarray) -> np.ndarray:
        cols = [Unlabelled.of(window[:, k], f[:, k], in_window).mean for k in range(y.shape[1])]
        return lam * np.array(cols) + (y - lam * f).mean(axis=0)

    return ppi(rows.a, rows.fa, rows.window_a), ppi(rows.b, rows.fb, rows.window_b)


def _linearised(rows: RatioRows, ratio: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The influence rows ``mean_k (a_k - R_k b_k) / B_k`` of the outcomes, their proxies and the window's proxies."""

    def lin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(((a - ratio * b) / den).mean(axis=1))

    return lin(rows.a, rows.b), lin(rows.fa, rows.fb), lin(rows.window_a, rows.window_b)


def ppi_mean_of_ratios(
    rows: RatioRows, *, alpha: float = 0.1, labelled_in_window: bool = True, quantity: str = "ratio"
) -> PPIResult:
    """The PPI++ M-estimation interval for ``(1/K) sum_k E[a_k] / E[b_k]`` (module docstring): ``lam`` tuned on the
    linearised rows at the ``lam = 1`` estimate (as ``ppi_py`` tunes its GLMs), the ratio re-estimated at that ``lam``,
    its variance by the delta method; labels only when that is not narrower or a denominator estimate is not
    positive. The caller checks that every denominator has labelled support."""
    n = len(rows.a)
    in_window = labelled_in_window
    num0, den0 = rows.a.mean(axis=0), rows.b.mean(axis=0)
    if n < MIN_LABELLED or (den0 <= 0).any():
        raise SampleDesignError(f"{quantity}: a denominator has no labelled support in {n} rows; label more rows")
    ratio0 = num0 / den0
    y0, _, _ = _linearised(rows, ratio0, den0)
    classical = (float(ratio0.mean()), float(y0.std() / np.sqrt(n)))

    num1, den1 = _ratio_point(rows, 1.0, in_window)
    lam, method = 0.0, "ppi++ m-estimation (fell back to labels only)"
    estimate, se = classical
    if (den1 > 0).all():
        y1, f1, w1 = _linearised(rows, num1 / den1, den1)
        tuned = tuned_lambda(Moments.of(y1, f1), Unlabelled.of(w1, f1, in_window))
        num, den = _ratio_point(rows, tuned, in_window)
        if (den > 0).all():
            ratio = num / den
            y, f, w = _linearised(rows, ratio, den)
            _, tuned_se = mean_estimate(Moments.of(y, f), Unlabelled.of(w, f, in_window), tuned)
            if tuned_se <= classical[1]:
                lam, method, estimate, se = tuned, "ppi++ m-estimation", float(ratio.mean()), tuned_se
    N = len(rows.window_a) if in_window else len(rows.window_a) + n
    return PPIResult.build(
        quantity, method, n=n, N=N, alpha=alpha, estimate=estimate, se=se,
        classical_estimate=classical[0], classical_se=classical[1], lam=lam,
    )  # fmt: skip
