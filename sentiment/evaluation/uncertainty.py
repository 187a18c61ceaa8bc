"""Uncertainty for evaluation numbers: bootstrap confidence intervals and paired tests between two models.

Everything works from integer class ids, resampling confusion matrices with numpy, so 1,000 resamples of a few
thousand rows take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sentiment.evaluation.metrics import macro_f1
from sentiment.labels import LABELS

K = len(LABELS)


@dataclass(frozen=True)
class Interval:
    """A two-sided interval ``[low, high]`` at confidence ``level`` (0.95: 95%)."""

    low: float
    high: float
    level: float = 0.95


def _confusions(y_true: np.ndarray, y_pred: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Confusion matrices of many resamples at once: ``samples`` is (B, n) row indices -> (B, K, K)."""
    cells = y_true[samples] * K + y_pred[samples]
    counts = np.zeros((samples.shape[0], K * K), dtype=np.int64)
    np.add.at(counts, (np.arange(samples.shape[0])[:, None], cells), 1)
    return counts.reshape(-1, K, K)


def accuracy_of(confusions: np.ndarray) -> np.ndarray:
    """Accuracy of each of ``(B, K, K)`` confusion matrices: ``(B,)`` floats (0 for an empty matrix)."""
    totals = confusions.sum(axis=(1, 2))
    return np.trace(confusions, axis1=1, axis2=2) / np.maximum(totals, 1)


def bootstrap_intervals(
    y_true: np.ndarray, y_pred: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, Interval]:
    """Percentile bootstrap intervals (Efron 1979) for accuracy and macro-F1: ``n_boot`` resamples of the rows
    with replacement. ``y_true`` and ``y_pred`` are ``(n,)`` integer class ids in ``LABELS`` order; ``seed`` makes
    the intervals reproducible. An empty sample gives ``[0, 0]``."""
    n = len(y_true)
    if n == 0:
        return {"accuracy": Interval(0.0, 0.0, level), "macro_f1": Interval(0.0, 0.0, level)}
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, n, size=(n_boot, n))
    confusions = _confusions(y_true, y_pred, samples)
    alpha = (1 - level) / 2
    out = {}
    for name, values in (("accuracy", accuracy_of(confusions)), ("macro_f1", macro_f1(confusions))):
        low, high = np.quantile(values, [alpha, 1 - alpha])
        out[name] = Interval(float(low), float(high), level)
    return out


@dataclass(frozen=True)
class PairedComparison:
    """Model B minus model A on the same rows. ``significant``: the macro-F1 interval (at ``1 - alpha``) excludes
    0; ``only_a_correct`` / ``only_b_correct`` are the discordant rows McNemar's test counts."""

    macro_f1_difference: float
    macro_f1_interval: Interval
    bootstrap_p_value: float
    accuracy_difference: float
    mcnemar_p_value: float
    only_a_correct: int
    only_b_correct: int
    significant: bool


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar test (McNemar 1947): under H0 the discordant pairs split 50/50, so the p-value is
    scipy's exact binomial test of ``min(only_a, only_b)`` in ``only_a + only_b`` at 0.5 (1.0 with none)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    from scipy import stats as scipy_stats  # not at import: slows start-up (benchmarks/README.md#import-scipy-late)

    return float(scipy_stats.binomtest(min(only_a, only_b), n, 0.5).pvalue)


def paired_comparison(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> PairedComparison:
    """Paired bootstrap of the macro-F1 difference (same resampled rows for both models) and McNemar on accuracy.

    ``y_true``, ``pred_a`` and ``pred_b`` are ``(n,)`` integer class ids of the same rows; ``alpha`` is the
    two-sided significance level."""
    n = len(y_true)
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, n, size=(n_boot, n))
    whole = np.arange(n)[None, :]
    diff = float(macro_f1(_confusions(y_true, pred_b, whole))[0] - macro_f1(_confusions(y_true, pred_a, whole))[0])
    boot = macro_f1(_confusions(y_true, pred_b, samples)) - macro_f1(_confusions(y_true, pred_a, samples))
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    # Two-sided bootstrap p-value: how often the resampled difference falls on the other side of zero.
    p_boot = float(min(1.0, 2 * min((boot <= 0).mean(), (boot >= 0).mean())))
    correct_a, correct_b = pred_a == y_true, pred_b == y_true
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((correct_b & ~correct_a).sum())
    p_mcnemar = mcnemar_exact(only_a, only_b)
    return PairedComparison(
        macro_f1_difference=diff,
        macro_f1_interval=Interval(float(low), float(high), 1 - alpha),
        bootstrap_p_value=p_boot,
        accuracy_difference=float(correct_b.mean() - correct_a.mean()) if n else 0.0,
        mcnemar_p_value=p_mcnemar,
        only_a_correct=only_a,
        only_b_correct=only_b,
        significant=bool(low > 0 or high < 0),
    )
