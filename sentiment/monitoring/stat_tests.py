"""Drift tests: each a plain function ``(reference, current) -> DriftResult``, registered by name.

Always called by keyword as ``test(reference=..., current=...)``. A p-value based test reports its raw p-value;
``sentiment.monitoring.drift`` corrects for running several at once (Holm) and turns the results into a level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DriftResult:
    statistic: float
    p_value: float | None  # None for tests without one (PSI): they are judged by their threshold
    drifted: bool
    threshold: float
    method: str
    n_reference: int
    n_current: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DriftTest = Callable[..., DriftResult]
DRIFT_TESTS: dict[str, DriftTest] = {}


def register(name: str) -> Callable[[DriftTest], DriftTest]:
    def add(fn: DriftTest) -> DriftTest:
        DRIFT_TESTS[name] = fn
        return fn

    return add


@register("ks")
def ks_test(*, reference: Sequence[float], current: Sequence[float], alpha: float = 0.05) -> DriftResult:
    """Two-sample Kolmogorov-Smirnov: the largest gap between the two empirical distribution functions."""
    from scipy import stats  # here, not at import: slows start-up (benchmarks/README.md#import-scipy-late)

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    result = stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    p = float(result.pvalue)
    return DriftResult(float(result.statistic), p, p < alpha, alpha, "ks", len(ref), len(cur))


@register("chi2")
def chi_square_test(
    *, reference: Sequence[str], current: Sequence[str], alpha: float = 0.05, categories: Sequence[str] | None = None
) -> DriftResult:
    """Chi-square test of homogeneity on category counts (e.g. predicted labels) of the two samples.

    Categories absent from both samples are dropped (they carry no information and would make expected counts
    zero).
    """
    cats = list(categories) if categories is not None else sorted(set(reference) | set(current))
    ref_counts = np.array([sum(1 for x in reference if x == c) for c in cats], dtype=float)
    cur_counts = np.array([sum(1 for x in current if x == c) for c in cats], dtype=float)
    keep = (ref_counts + cur_counts) > 0
    table = np.stack([ref_counts[keep], cur_counts[keep]])
    if table.shape[1] < 2:
        return DriftResult(0.0, 1.0, False, alpha, "chi2", len(reference), len(current))
    from scipy import stats

    statistic, p, _, _ = stats.chi2_contingency(table, correction=False)
    return DriftResult(float(statistic), float(p), float(p) < alpha, alpha, "chi2", len(reference), len(current))


def psi_value(reference: np.ndarray, current: np.ndarray, bins: int = 10, epsilon: float = 1e-4) -> float:
    """Population stability index over quantile bins of the reference: sum (c - r) * ln(c / r)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0
    inner = edges[1:-1]
    ref_share = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=len(edges) - 1)
    cur_share = np.bincount(np.searchsorted(inner, current, side="right"), minlength=len(edges) - 1)
    r = np.maximum(ref_share / max(len(reference), 1), epsilon)
    c = np.maximum(cur_share / max(len(current), 1), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


@register("psi")
def psi_test(
    *, reference: Sequence[float], current: Sequence[float], threshold: float = 0.25, bins: int = 10
) -> DriftResult:
    """PSI with the usual reading: below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 major shift."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    value = psi_value(ref, cur, bins)
    return DriftResult(value, None, value > threshold, threshold, "psi", len(ref), len(cur))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control without independence assumptions)."""
    m = len(p_values)
    order = np.argsort(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return adjusted.tolist()
