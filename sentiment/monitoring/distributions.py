"""Small summaries of what each drift test compared, so a reader can see the two distributions behind a verdict.

A drift check attaches one summary per check to its report (``FeatureDrift.distribution``): tens of numbers, not
rows, so the report stays small in ``/monitoring`` and the UI only draws what the check itself measured.

- ``ks``: both empirical CDFs on shared points (equal-width over the pooled range, plus the point where they part
  most). The KS statistic D *is* the largest vertical gap between the two CDFs, so the CDF with that gap marked
  shows the statistic itself; a histogram would hide it. The points carry the histogram shares too.
- ``psi``: the shares of both sides in the test's own bins (quantiles of the reference): the numbers PSI sums.
- ``chi2``: the share of each category on each side.
- ``domain_auc``: the domain classifier's out-of-fold scores of reference and current rows as shares on shared
  bins: two humps that overlap when the windows look alike and part as the AUC grows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sentiment.monitoring.stat_tests import counts_of, quantile_bin_counts

BINS = 20  # equal-width bins of a numeric feature or a score: enough to see a shape, few enough to stay small
Summary = dict[str, Any]


def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]


def _largest_gap(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """(x, F_reference(x), F_current(x)) at the pooled value where the two right-continuous ECDFs part most: the
    KS statistic D is ``|F_reference(x) - F_current(x)|`` there (scipy's ``ks_2samp`` computes the same)."""
    pooled = np.unique(np.concatenate([reference, current]))
    n_ref, n_cur = len(reference), len(current)
    below_ref = np.searchsorted(np.sort(reference), pooled, side="right").astype(np.int64)
    below_cur = np.searchsorted(np.sort(current), pooled, side="right").astype(np.int64)
    i = int(np.argmax(np.abs(below_ref * n_cur - below_cur * n_ref)))  # in integers: ties resolve to the first
    return float(pooled[i]), float(below_ref[i] / n_ref), float(below_cur[i] / n_cur)


def _binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts at or below ``edges[0]`` (the pooled minimum), then per bin ``(edges[i-1], edges[i]]``: one per edge,
    so the cumulative share at each edge is the ECDF there, exactly."""
    return np.diff(np.r_[0, np.searchsorted(np.sort(values), edges, side="right")])


def cdf_summary(*, reference: Sequence[Any], current: Sequence[Any], bins: int = BINS, **_: Any) -> Summary:
    """Shares of both sides on shared edges (``BINS`` equal-width over the pooled range, plus the largest gap's
    point), one share per edge (``_binned``), so ``cumsum(shares)`` is each side's ECDF at the edges and its largest
    gap is the KS D; and both medians."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    at, f_ref, f_cur = _largest_gap(ref, cur)
    low, high = float(min(ref.min(), cur.min())), float(max(ref.max(), cur.max()))
    edges = np.unique(np.r_[np.linspace(low, high, bins + 1), at])
    return {
        "kind": "cdf",
        "edges": [float(e) for e in edges],
        "reference": _shares(_binned(ref, edges)),
        "current": _shares(_binned(cur, edges)),
        "gap": {"at": at, "reference": f_ref, "current": f_cur},
        # what moved, in the feature's own unit, for the plain-words summary ("median 95 vs 77 characters")
        "median": {"reference": float(np.median(ref)), "current": float(np.median(cur))},
    }


def psi_summary(*, reference: Sequence[Any], current: Sequence[Any], bins: int = 10, **_: Any) -> Summary:
    """Both sides' shares in the PSI's own bins (``stat_tests.quantile_bin_counts``, what ``psi_value`` sums)."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    edges, ref_counts, cur_counts = quantile_bin_counts(ref, cur, bins)
    if len(edges) < 2:
        edges = np.array([float(ref.min()), float(ref.max())])
    return {
        "kind": "bins",
        "edges": [float(e) for e in edges],
        "reference": _shares(ref_counts),
        "current": _shares(cur_counts),
    }


def category_summary(
    *, reference: Sequence[Any], current: Sequence[Any], categories: Sequence[str] | None = None, **_: Any
) -> Summary:
    """Each category's share on each side, in the test's category order (values outside it are not counted, as
    in the chi-square test)."""
    cats = list(categories) if categories is not None else sorted({str(v) for v in [*reference, *current]})
    return {
        "kind": "categories",
        "categories": cats,
        "reference": _shares(counts_of(reference, cats)),
        "current": _shares(counts_of(current, cats)),
    }


def score_summary(*, reference: Sequence[Any], current: Sequence[Any], bins: int = BINS, **_: Any) -> Summary:
    """Shares of the domain classifier's out-of-fold scores (log-odds of "current") per side on shared bins: the
    same cross-fitted scores the test reads its AUC from (``domain_classifier.domain_scores``, seeded)."""
    from sentiment.monitoring.domain_classifier import as_matrix, domain_scores

    scores = domain_scores(as_matrix(reference), as_matrix(current))
    ref, cur = scores.reference, scores.current
    low, high = float(min(ref.min(), cur.min())), float(max(ref.max(), cur.max()))
    edges = np.linspace(low, high, bins + 1) if high > low else np.array([low, low + 1.0])
    return {
        "kind": "scores",
        "edges": [float(e) for e in edges],
        "reference": _shares(np.histogram(ref, bins=edges)[0]),
        "current": _shares(np.histogram(cur, bins=edges)[0]),
    }


SUMMARIES: dict[str, Callable[..., Summary]] = {
    "ks": cdf_summary,
    "psi": psi_summary,
    "chi2": category_summary,
    "domain_auc": score_summary,
}


def summarize(test: str, *, reference: Sequence[Any], current: Sequence[Any], **options: Any) -> Summary | None:
    """The summary of what the test ``test`` compared (None for a test without one, or an empty side)."""
    summary = SUMMARIES.get(test)
    if summary is None or not len(reference) or not len(current):
        return None
    return summary(reference=reference, current=current, **options)
