"""Two tests that say whether the label-free class shares can be trusted on a window.

``label_shift_test``: *did the class mix change?* A G-test (likelihood-ratio chi-square) of the 2 x k table of
predicted-class counts, reference against window: black-box shift detection (Lipton, Wang and Smola, ICML 2018;
Rabanser, Guennemann and Lipton, NeurIPS 2019 call it BBSD). Under label shift with an informative classifier,
``P(predicted)`` changes exactly when ``P(y)`` does; it also moves under other shifts, so a rejection says
"something moved", and the second test says whether label shift explains it.

``label_shift_fit_test``: *does label shift explain the window?* Under label shift ``P(x | y)`` is fixed, so for any
summary ``c(x)`` of a prediction the window's distribution of ``c`` is a mixture of the reference's per-class
distributions, ``P_w(c) = sum_j p_j P_ref(c | y = j)``, with some shares ``p``. Here ``c`` is the predicted class
crossed with a confidence tercile (cut on the reference): ``3k`` cells, ``k - 1`` of whose degrees of freedom the
shares can absorb. ``p`` is fitted by maximum likelihood (EM on the cells) and the G statistic measures what the
mixture cannot fit. Its null distribution is simulated (a parametric bootstrap): the reference's own cell counts
are noisy, so the asymptotic chi-square would reject too often unless the reference were far larger than the
window. A rejection means ``P(x | y)`` changed in a way the model's outputs show (new topics, another domain, a
model that grew less sure): ACC, PACC and EM then lose their guarantee. Changes that leave the model's outputs
alone are invisible to it (and to the corrections).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency

from sentiment.errors import EstimationInputError
from sentiment.monitoring.estimation.base import LabelledReference
from sentiment.monitoring.quantification.shares import window_probabilities

ALPHA = 0.05
FIT_BOOTSTRAP = 199  # simulated windows behind the fit test's p-value
CONFIDENCE_BINS = 3
_PSEUDO = 0.5  # pseudo-count per cell and class, so a cell the reference never saw has a small probability
_EM_STEPS = 500


@dataclass(frozen=True)
class ShiftTest:
    """One test's outcome; ``detected``: the null (no label shift / label shift fits) is rejected at ``alpha``."""

    test: str
    statistic: float
    p_value: float
    dof: int
    alpha: float
    detected: bool
    n_reference: int
    n_window: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "dof": self.dof,
            "alpha": self.alpha,
            "detected": self.detected,
            "n_reference": self.n_reference,
            "n_window": self.n_window,
        }


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise EstimationInputError(f"alpha must be in (0, 1), got {alpha}")


def label_shift_test(reference: LabelledReference, probabilities: Any, *, alpha: float = ALPHA) -> ShiftTest:
    """G-test that the window's predicted-class distribution equals the reference's (the null: no label shift).
    ``dof`` is ``k - 1`` over the classes predicted anywhere; with a single such class there is nothing to test
    (statistic 0, p-value 1)."""
    _check_alpha(alpha)
    probs = window_probabilities(probabilities)
    k = probs.shape[1]
    table = np.stack(
        [
            np.bincount(reference.probabilities.argmax(axis=1), minlength=k),
            np.bincount(probs.argmax(axis=1), minlength=k),
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        statistic, p_value, dof = 0.0, 1.0, 0
    else:
        found = chi2_contingency(table, correction=False, lambda_="log-likelihood")
        statistic, p_value, dof = float(found.statistic), float(found.pvalue), int(found.dof)
    return ShiftTest(
        "label shift: G-test of predicted-class counts, reference vs window",
        statistic,
        p_value,
        dof,
        alpha,
        p_value < alpha,
        len(reference),
        len(probs),
    )


def _cells(probabilities: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell id of each row: predicted class x confidence bin (``edges``: the inner bin edges)."""
    return probabilities.argmax(axis=1) * (len(edges) + 1) + np.searchsorted(edges, probabilities.max(axis=1))


def _mixture_fit(window_counts: np.ndarray, class_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """G statistic ``(b,)`` and shares ``(b, k)`` of the best label-shift mixture, batched over ``(b, cells)``
    window counts and ``(b, cells, k)`` reference counts per cell and class. The shares are fitted by EM."""
    smoothed = class_counts + _PSEUDO
    conditional = smoothed / smoothed.sum(axis=1, keepdims=True)  # P(cell | class)
    n = window_counts.sum(axis=1, keepdims=True)
    k = class_counts.shape[2]
    shares = np.full((len(window_counts), k), 1.0 / k)
    for _ in range(_EM_STEPS):
        joint = conditional * shares[:, None, :]
        mixture = joint.sum(axis=2, keepdims=True)
        updated = np.einsum("bc,bcj->bj", window_counts, joint / mixture) / n
        done = np.max(np.abs(updated - shares)) < 1e-9
        shares = updated
        if done:
            break
    expected = n * np.einsum("bcj,bj->bc", conditional, shares)
    observed = window_counts.astype(np.float64)
    ratio = np.divide(observed, expected, out=np.ones_like(observed), where=observed > 0)
    return np.asarray(2.0 * np.sum(observed * np.log(ratio), axis=1)), shares


def label_shift_fit_test(
    reference: LabelledReference,
    probabilities: Any,
    *,
    alpha: float = ALPHA,
    bins: int = CONFIDENCE_BINS,
    bootstrap: int = FIT_BOOTSTRAP,
    seed: int = 0,
) -> ShiftTest:
    """Test that the window is a label-shifted reference (the null: ``P(x | y)`` unchanged, as the model sees it).
    The p-value is ``(1 + #{simulated G >= observed G}) / (bootstrap + 1)``; each simulation draws a reference of
    the same class sizes and a window of the same size from the reference's cell distributions mixed by the fitted
    shares, and refits both. ``dof``: cells minus the ``k`` shares (reported; the p-value does not use it)."""
    _check_alpha(alpha)
    if bins < 1 or bootstrap < 1:
        raise EstimationInputError(f"bins and bootstrap must be at least 1, got {bins} and {bootstrap}")
    probs = window_probabilities(probabilities)
    ref_probs, labels = reference.probabilities, reference.labels
    k = ref_probs.shape[1]
    edges = np.quantile(ref_probs.max(axis=1), np.arange(1, bins) / bins)
    n_cells = k * bins
    class_counts = np.zeros((n_cells, k))
    np.add.at(class_counts, (_cells(ref_probs, edges), labels), 1.0)
    window_counts = np.bincount(_cells(probs, edges), minlength=n_cells).astype(np.float64)
    statistic, fitted = _mixture_fit(window_counts[None, :], class_counts[None, :, :])
    observed, shares = float(statistic[0]), fitted[0]

    # the null world: the reference's empirical cell distributions are the truth, mixed by the fitted shares
    sizes = class_counts.sum(axis=0)
    truth = np.divide(class_counts, sizes, out=np.full_like(class_counts, 1.0 / n_cells), where=sizes > 0)
    rng = np.random.default_rng(seed)
    sim_reference = np.stack(
        [rng.multinomial(int(sizes[j]), truth[:, j], size=bootstrap) for j in range(k)], axis=2
    )  # (b, cells, k)
    sim_window = rng.multinomial(len(probs), truth @ shares, size=bootstrap).astype(np.float64)
    simulated, _ = _mixture_fit(sim_window, sim_reference.astype(np.float64))
    p_value = float((1 + np.sum(simulated >= observed - 1e-9)) / (bootstrap + 1))
    return ShiftTest(
        "label-shift fit: G of the best class mixture on predicted class x confidence cells (simulated null)",
        observed,
        p_value,
        n_cells - k,
        alpha,
        p_value < alpha,
        len(reference),
        len(probs),
    )
