"""Drift tests: each a ``StatTest`` that knows its kind, how its statistic is read and its default thresholds.

Always called by keyword as ``test(reference=..., current=...)``. A p-value based test reports its raw p-value;
``sentiment.monitoring.drift`` corrects for running several at once (Holm) and grades every result through the
test's own ``level`` (so a new test needs no branch there). Registered by kind in ``DRIFT_TESTS``, the names that
settings and checks use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Reading = Literal["p_value", "distance"]  # a p-value drifts below its threshold, a distance above it
LEVELS = ("ok", "warning", "drift")


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


# (reference, current, **options) -> (statistic, p-value or None)
Compute = Callable[..., tuple[float, float | None]]


@dataclass(frozen=True)
class StatTest:
    """One drift test: ``kind`` (its registry name and ``method``), whether its statistic is read as a
    ``p_value`` or a ``distance``, the threshold past which it means drift and the one past which it is a
    warning (for a p-value: below; for a distance: above)."""

    kind: str
    reading: Reading
    threshold: float
    warning_threshold: float
    compute: Compute

    @property
    def uses_p_value(self) -> bool:
        return self.reading == "p_value"

    def beyond(self, value: float, threshold: float) -> bool:
        """Whether ``value`` (a p-value or the statistic, as the test reads) is past ``threshold``."""
        return value < threshold if self.uses_p_value else value > threshold

    def level(self, value: float) -> str:
        """ok, warning or drift for ``value``: the (adjusted) p-value of a p-value test, else the statistic."""
        if self.beyond(value, self.threshold):
            return "drift"
        return "warning" if self.beyond(value, self.warning_threshold) else "ok"

    def __call__(
        self, *, reference: Sequence[Any], current: Sequence[Any], threshold: float | None = None, **options: Any
    ) -> DriftResult:
        limit = self.threshold if threshold is None else threshold
        statistic, p_value = self.compute(reference=reference, current=current, **options)
        if self.uses_p_value and p_value is None:
            raise ValueError(f"the drift test {self.kind!r} is read by its p-value but computed none")
        value = p_value if self.uses_p_value and p_value is not None else statistic
        return DriftResult(
            statistic, p_value, self.beyond(value, limit), limit, self.kind, len(reference), len(current)
        )


DRIFT_TESTS: dict[str, StatTest] = {}


def register(
    kind: str, *, reading: Reading, threshold: float, warning_threshold: float
) -> Callable[[Compute], StatTest]:
    """Register ``compute`` as the test ``kind`` with its reading and default thresholds."""
    if reading == "p_value" and not threshold <= warning_threshold:
        raise ValueError(f"{kind}: a p-value's drift threshold must not exceed its warning threshold")
    if reading == "distance" and not threshold >= warning_threshold:
        raise ValueError(f"{kind}: a distance's drift threshold must not be below its warning threshold")

    def add(compute: Compute) -> StatTest:
        test = StatTest(kind, reading, threshold, warning_threshold, compute)
        DRIFT_TESTS[kind] = test
        return test

    return add


# p-value tests: drift below 0.01 and a warning below 0.05, read after Holm's correction.
@register("ks", reading="p_value", threshold=0.01, warning_threshold=0.05)
def ks_test(*, reference: Sequence[float], current: Sequence[float]) -> tuple[float, float | None]:
    """Two-sample Kolmogorov-Smirnov: the largest gap between the two empirical distribution functions."""
    from scipy import stats  # here, not at import: slows start-up (benchmarks/README.md#import-scipy-late)

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    result = stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    return float(result.statistic), float(result.pvalue)


@register("chi2", reading="p_value", threshold=0.01, warning_threshold=0.05)
def chi_square_test(
    *, reference: Sequence[str], current: Sequence[str], categories: Sequence[str] | None = None
) -> tuple[float, float | None]:
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
        return 0.0, 1.0
    from scipy import stats

    statistic, p, _, _ = stats.chi2_contingency(table, correction=False)
    return float(statistic), float(p)


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


# The usual reading of PSI: below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 major shift.
@register("psi", reading="distance", threshold=0.25, warning_threshold=0.1)
def psi_test(*, reference: Sequence[float], current: Sequence[float], bins: int = 10) -> tuple[float, float | None]:
    """PSI of ``current`` against quantile bins of ``reference`` (no p-value: judged by its thresholds)."""
    return psi_value(np.asarray(reference, dtype=float), np.asarray(current, dtype=float), bins), None


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


# AUC past this is a shift worth reading even when significant: 0.5 is "indistinguishable"; 0.55 is the classifier
# ranking a random current text above a random reference text 55% of the time (the effect size of this test).
DOMAIN_AUC_EFFECT = 0.55


@register("domain_auc", reading="p_value", threshold=0.01, warning_threshold=0.05)
def domain_auc_test(*, reference: Sequence[Any], current: Sequence[Any]) -> tuple[float, float | None]:
    """Domain classifier on embeddings (``monitoring.domain_classifier``): the statistic is the cross-fitted ROC AUC
    (effect size; see ``DOMAIN_AUC_EFFECT``), the p-value a permutation one."""
    from sentiment.monitoring.domain_classifier import domain_auc

    return domain_auc(reference, current)
