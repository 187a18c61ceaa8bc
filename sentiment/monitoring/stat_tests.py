"""Drift tests: each a ``StatTest`` that knows its kind, how its statistic is read and its default thresholds.

Always called by keyword as ``test(reference=..., current=...)``. A p-value based test reports its raw p-value;
``sentiment.monitoring.drift`` corrects for running several at once (Holm) and grades every result through the
test's own ``level`` (so a new test needs no branch there). Registered by kind in ``DRIFT_TESTS``, the names that
settings and checks use.

Significance alone is not drift: with 50,000 predictions a window, a 1% shift in a share is "significant" at any
level. So a test may also name an *effect size* (a number that does not grow with the sample) and a threshold for
it; it then grades warning or drift only when significant *and* the effect reaches that threshold. The documented
thresholds (README "Monitoring"): KS statistic D >= 0.1 (the two CDFs part by 10 points somewhere), Cramér's V >=
0.1 for category mixes (Cohen's "small" effect), PSI read as is. Each test's ``min_window`` says below how many
current rows it has no verdict (a check with fewer reports insufficient data).
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
    effect_size: float | None = None  # None for a test without one: graded by significance alone
    effect_threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# (reference, current, **options) -> (statistic, p-value or None)
Compute = Callable[..., tuple[float, float | None]]
# (reference, current, statistic, **options) -> effect size (independent of the sample sizes)
Effect = Callable[..., float]


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
    effect: Effect | None = None
    effect_threshold: float | None = None
    min_window: int = 10

    @property
    def uses_p_value(self) -> bool:
        return self.reading == "p_value"

    def beyond(self, value: float, threshold: float) -> bool:
        """Whether ``value`` (a p-value or the statistic, as the test reads) is past ``threshold``."""
        return value < threshold if self.uses_p_value else value > threshold

    def large_enough(self, effect_size: float | None) -> bool:
        """Whether the effect is big enough to matter (always, for a test without an effect size)."""
        if self.effect_threshold is None or effect_size is None:
            return True
        return effect_size >= self.effect_threshold

    def level(self, value: float, effect_size: float | None = None) -> str:
        """ok, warning or drift for ``value`` (the adjusted p-value of a p-value test, else the statistic); ok
        whatever ``value`` says when ``effect_size`` is below the test's effect threshold."""
        if not self.large_enough(effect_size):
            return "ok"
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
        effect = None
        if self.effect is not None:
            effect = float(self.effect(reference=reference, current=current, statistic=statistic, **options))
        drifted = self.beyond(value, limit) and self.large_enough(effect)
        return DriftResult(
            statistic, p_value, drifted, limit, self.kind, len(reference), len(current), effect, self.effect_threshold
        )


DRIFT_TESTS: dict[str, StatTest] = {}


def register(
    kind: str,
    *,
    reading: Reading,
    threshold: float,
    warning_threshold: float,
    effect: Effect | None = None,
    effect_threshold: float | None = None,
    min_window: int = 10,
) -> Callable[[Compute], StatTest]:
    """Register ``compute`` as the test ``kind`` with its reading, default thresholds, optional effect size (and
    its threshold) and the fewest current rows it grades."""
    if reading == "p_value" and not threshold <= warning_threshold:
        raise ValueError(f"{kind}: a p-value's drift threshold must not exceed its warning threshold")
    if reading == "distance" and not threshold >= warning_threshold:
        raise ValueError(f"{kind}: a distance's drift threshold must not be below its warning threshold")

    def add(compute: Compute) -> StatTest:
        test = StatTest(kind, reading, threshold, warning_threshold, compute, effect, effect_threshold, min_window)
        DRIFT_TESTS[kind] = test
        return test

    return add


def counts_of(values: Sequence[Any], categories: Sequence[str]) -> np.ndarray:
    """How many of ``values`` fall in each category (values outside them are not counted), as floats."""
    found = dict(zip(*np.unique(np.asarray(values, dtype=str), return_counts=True), strict=True)) if len(values) else {}
    return np.array([found.get(str(c), 0) for c in categories], dtype=float)


def statistic_itself(*, statistic: float, **_: Any) -> float:
    """The effect size of a test whose statistic already is one (KS's D, PSI): it does not grow with n."""
    return statistic


def cramers_v(
    *, reference: Sequence[str], current: Sequence[str], categories: Sequence[str] | None = None, **_: Any
) -> float:
    """Cramér's V of the reference-vs-current table with both samples weighted equally.

    The plain V of the count table shrinks when one sample is much larger than the other (a 4,000-row reference
    against a 500-row window), so the same shift would read differently with the window size. With equal weights,
    V^2 = 1/2 * sum_c (r_c - q_c)^2 / (r_c + q_c) over the shares r (reference) and q (current): 0 for equal
    mixes, 1 for disjoint ones, whatever the sample sizes.
    """
    cats = list(categories) if categories is not None else sorted(set(reference) | set(current))
    if not reference or not current:
        return 0.0
    r, q = counts_of(reference, cats) / len(reference), counts_of(current, cats) / len(current)
    both = (r + q) > 0
    return float(np.sqrt(0.5 * np.sum((r[both] - q[both]) ** 2 / (r[both] + q[both]))))


# p-value tests: drift below 0.01 and a warning below 0.05, read after Holm's correction, and only when the effect
# passes its threshold. Minimum windows: KS 20 current rows (scipy's exact distribution covers small samples, but
# below 20 only a D far above 0.1 can be significant), chi-square 30 (expected counts >= 5 for a category of 1/6
# share), PSI 40 (10 quantile bins of about 4 rows; fewer and one row moves a bin's share by more than 0.1).
@register(
    "ks",
    reading="p_value",
    threshold=0.01,
    warning_threshold=0.05,
    effect=statistic_itself,
    effect_threshold=0.1,
    min_window=20,
)
def ks_test(*, reference: Sequence[float], current: Sequence[float]) -> tuple[float, float | None]:
    """Two-sample Kolmogorov-Smirnov: the largest gap between the two empirical distribution functions."""
    from scipy import stats  # here, not at import: slows start-up (benchmarks/README.md#import-scipy-late)

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    result = stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    return float(result.statistic), float(result.pvalue)


@register(
    "chi2",
    reading="p_value",
    threshold=0.01,
    warning_threshold=0.05,
    effect=cramers_v,
    effect_threshold=0.1,
    min_window=30,
)
def chi_square_test(
    *, reference: Sequence[str], current: Sequence[str], categories: Sequence[str] | None = None
) -> tuple[float, float | None]:
    """Chi-square test of homogeneity on category counts (e.g. predicted labels) of the two samples.

    Categories absent from both samples are dropped (they carry no information and would make expected counts
    zero).
    """
    cats = list(categories) if categories is not None else sorted(set(reference) | set(current))
    ref_counts, cur_counts = counts_of(reference, cats), counts_of(current, cats)
    keep = (ref_counts + cur_counts) > 0
    table = np.stack([ref_counts[keep], cur_counts[keep]])
    if table.shape[1] < 2:
        return 0.0, 1.0
    from scipy import stats

    statistic, p, _, _ = stats.chi2_contingency(table, correction=False)
    return float(statistic), float(p)


def quantile_bin_counts(
    reference: np.ndarray, current: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges, reference counts, current counts) in the PSI's bins: ``bins`` quantiles of the reference (ties
    merged), the outer bins open-ended. One edge (a constant reference) gives one bin holding everything."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    inner = edges[1:-1]
    size = max(len(edges) - 1, 1)
    ref_counts = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=size)
    cur_counts = np.bincount(np.searchsorted(inner, current, side="right"), minlength=size)
    return edges, ref_counts, cur_counts


def psi_value(reference: np.ndarray, current: np.ndarray, bins: int = 10, epsilon: float = 1e-4) -> float:
    """Population stability index over quantile bins of the reference: sum (c - r) * ln(c / r)."""
    edges, ref_counts, cur_counts = quantile_bin_counts(reference, current, bins)
    if len(edges) < 2:
        return 0.0
    r = np.maximum(ref_counts / max(len(reference), 1), epsilon)
    c = np.maximum(cur_counts / max(len(current), 1), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


# The usual reading of PSI: below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 major shift.
@register(
    "psi",
    reading="distance",
    threshold=0.25,
    warning_threshold=0.1,
    effect=statistic_itself,
    effect_threshold=0.1,
    min_window=40,
)
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


# AUC past this is a shift worth reading, not only a significant one: 0.5 is "indistinguishable"; 0.55 is the
# classifier ranking a random current text above a random reference text 55% of the time (the effect size of this
# test). Minimum window 40: the AUC is read on one held-out half (20 current rows at least), where its normal
# approximation to the Mann-Whitney distribution holds.
DOMAIN_AUC_EFFECT = 0.55


@register(
    "domain_auc",
    reading="p_value",
    threshold=0.01,
    warning_threshold=0.05,
    effect=statistic_itself,
    effect_threshold=DOMAIN_AUC_EFFECT,
    min_window=40,
)
def domain_auc_test(*, reference: Sequence[Any], current: Sequence[Any]) -> tuple[float, float | None]:
    """Domain classifier on embeddings (``monitoring.domain_classifier``): the statistic is the cross-fitted ROC AUC
    (effect size; see ``DOMAIN_AUC_EFFECT``), the p-value a permutation one."""
    from sentiment.monitoring.domain_classifier import domain_auc

    return domain_auc(reference, current)
