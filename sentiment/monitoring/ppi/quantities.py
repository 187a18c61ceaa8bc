"""The numbers the owner reads, for one window, by PPI++: accuracy, class shares, per-class precision and recall,
and macro-F1.

Each takes the window's predictions and labelled rows of the random review sample (``LabelledRows``; feedback rows
are refused with ``SelfSelectedLabelsError``) and returns ``PPIResult`` at one ``alpha``:

- accuracy: ``Y = 1[label == served]``, proxy = calibrated probability of the served class;
- share of class k: ``Y = 1[label == k]``, proxy = calibrated ``P(k)``;
- precision of k = ``E[1[label == k] | served == k]``: a mean over the window's rows served as k, whose labelled rows
  are a uniform subsample of them, so plain PPI++ on that subgroup (no ratio needed);
- recall of k = ``E[1[label == k, served == k]] / E[1[label == k]]``: a ratio, by PPI++ M-estimation with the delta
  method (``mean.ppi_mean_of_ratios``); proxies ``P(k) 1[served == k]`` and ``P(k)``;
- macro-F1 = mean over k of ``F1_k = 2 E[1[y=k, s=k]] / (E[1[s=k]] + E[1[y=k]])``, also a mean of ratios of means, so
  it has an asymptotically valid interval by the same M-estimation: each ``F1_k`` solves the smooth estimating
  equation ``E[2 1[y=k, s=k] - F1_k (1[s=k] + 1[y=k])] = 0``, which PPI++'s M-estimation covers, and the mean of the
  three is linear in them. Its weak point is small n: each ``F1_k`` linearises around a denominator estimated from
  few labels of a rare class. It is given only when every class has at least ``MIN_CLASS_LABELS`` labelled rows.

Accuracy, shares and precision (0/1 outcomes) use the score interval (``mean.score_bounds``), recall and macro-F1 the
delta-method CLT interval (recall falls back to the Wilson interval of the labelled rows near 0 and 1, see
``ppi_recall``).

Measured coverage of the 90% intervals (tests/unit/test_ppi.py's simulated traffic, 800 windows of 500 per cell,
Monte Carlo error about 1 point): accuracy and shares 86-93% at every n from 25 to 200, for calibrated, over-
confident and adversarial proxies; precision 85-90%; recall (delta method) 78-84% at n = 25, 84-90% from n = 50;
macro-F1 85% at n = 25, 87% at n = 50, 89-92% from n = 100. Below about 50 labels the ratios are not to be trusted
at their nominal level; the card should say so or show accuracy and shares only.

Ratios and precision need labelled support per class: below ``MIN_CLASS_LABELS`` labelled rows of the class (for
precision: served as the class) the quantity is refused (``SampleDesignError``; ``window_intervals`` lists it under
``refused`` with the reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from sentiment.errors import SampleDesignError
from sentiment.labels import LABELS
from sentiment.monitoring.ppi.mean import ppi_mean, wilson_bounds
from sentiment.monitoring.ppi.ratios import RatioRows, ppi_mean_of_ratios
from sentiment.monitoring.ppi.result import LEVELS, PPIResult
from sentiment.monitoring.ppi.sample import LabelledRows, RandomnessCheck, WindowPredictions, sample_looks_random

Interval = Literal["clt", "score"]
K = len(LABELS)
MIN_CLASS_LABELS = 5  # labelled rows a class needs before its precision, recall or F1 is estimated


def _uniform(labelled: LabelledRows) -> None:
    labelled.require_random(uniform=True)


def ppi_accuracy(
    labelled: LabelledRows, window: WindowPredictions, *, alpha: float = 0.1, interval: Interval = "score"
) -> PPIResult:
    """Accuracy of the served predictions on the traffic, from a uniform random review sample of the window."""
    _uniform(labelled)
    correct = (labelled.labels == labelled.served).astype(np.float64)
    return ppi_mean(
        correct, labelled.confidence, window.confidence, alpha=alpha, interval=interval, quantity="accuracy"
    )


def ppi_class_shares(
    labelled: LabelledRows, window: WindowPredictions, *, alpha: float = 0.1, interval: Interval = "score"
) -> dict[str, PPIResult]:
    """Each class's share of the traffic's true labels (one PPI++ mean per class, each with its own ``lam``)."""
    _uniform(labelled)
    return {
        name: ppi_mean(
            (labelled.labels == k).astype(np.float64),
            labelled.probabilities[:, k],
            window.probabilities[:, k],
            alpha=alpha,
            interval=interval,
            quantity=f"share_{name}",
        )
        for k, name in enumerate(LABELS)
    }


def _support(count: int, what: str) -> None:
    if count < MIN_CLASS_LABELS:
        raise SampleDesignError(
            f"{what}: {count} labelled rows support it, at least {MIN_CLASS_LABELS} are needed; label more rows of "
            "the review sample"
        )


def ppi_precision(labelled: LabelledRows, window: WindowPredictions, k: int, *, alpha: float = 0.1) -> PPIResult:
    """Precision of class ``k``: PPI++ on the rows served as ``k`` (the labelled ones among them are a uniform
    subsample of the window's)."""
    _uniform(labelled)
    mine, theirs = labelled.served == k, window.served == k
    _support(int(mine.sum()), f"precision of {LABELS[k]}")
    return ppi_mean(
        (labelled.labels[mine] == k).astype(np.float64),
        labelled.probabilities[mine, k],
        window.probabilities[theirs, k],
        alpha=alpha,
        interval="score",
        quantity=f"precision_{LABELS[k]}",
    )


def _recall_rows(labelled: LabelledRows, window: WindowPredictions, classes: list[int]) -> RatioRows:
    def parts(labels: np.ndarray | None, probs: np.ndarray, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cols_a, cols_b = [], []
        for k in classes:
            hit = (served == k).astype(np.float64)
            truth = probs[:, k] if labels is None else (labels == k).astype(np.float64)
            cols_a.append(truth * hit)
            cols_b.append(truth)
        return np.stack(cols_a, axis=1), np.stack(cols_b, axis=1)

    a, b = parts(labelled.labels, labelled.probabilities, labelled.served)
    fa, fb = parts(None, labelled.probabilities, labelled.served)
    wa, wb = parts(None, window.probabilities, window.served)
    return RatioRows(a, b, fa, fb, wa, wb)


def ppi_recall(labelled: LabelledRows, window: WindowPredictions, k: int, *, alpha: float = 0.1) -> PPIResult:
    """Recall of class ``k``: a ratio of two PPI means, PPI++ M-estimation with the delta method.

    Labels only, recall is a proportion: among the labelled rows of class ``k`` (a uniform sample of the traffic's
    class-``k`` rows), the share served as ``k``; its Wilson interval is the labels-only interval reported. The delta
    method's interval is kept only where it is narrower and both counts (served as ``k`` or not) reach
    ``MIN_CLASS_LABELS``: near a recall of 0 or 1 a plug-in variance collapses (0 hits of 20 gives a zero-width
    interval) and the simulations showed it covering a recall of 0.01 in 6% of windows; the Wilson interval does not
    collapse."""
    _uniform(labelled)
    truth = labelled.labels == k
    _support(int(truth.sum()), f"recall of {LABELS[k]}")
    result = ppi_mean_of_ratios(_recall_rows(labelled, window, [k]), alpha=alpha, quantity=f"recall_{LABELS[k]}")
    trials, hits = int(truth.sum()), int((labelled.served[truth] == k).sum())
    wilson = wilson_bounds(hits, trials, alpha)
    if min(hits, trials - hits) < MIN_CLASS_LABELS or result.width > wilson[1] - wilson[0]:
        p = hits / trials
        return PPIResult.build(
            result.quantity, "wilson (labels only)", n=result.n, N=result.N, alpha=alpha, estimate=p,
            se=math.sqrt(p * (1 - p) / trials), classical_estimate=p, classical_se=result.classical_se, lam=0.0,
            bounds=wilson, classical_bounds=wilson,
        )  # fmt: skip
    return replace(result, classical_lower=wilson[0], classical_upper=wilson[1])


def ppi_macro_f1(labelled: LabelledRows, window: WindowPredictions, *, alpha: float = 0.1) -> PPIResult:
    """Macro-F1 as the mean of the K ratios ``2 TP_k / (served_k + true_k)`` (module docstring)."""
    _uniform(labelled)
    for k in range(K):
        _support(int((labelled.labels == k).sum()), f"macro-F1 (class {LABELS[k]})")
    rec = _recall_rows(labelled, window, list(range(K)))
    served_l = np.stack([(labelled.served == k) for k in range(K)], axis=1).astype(np.float64)
    served_w = np.stack([(window.served == k) for k in range(K)], axis=1).astype(np.float64)
    rows = RatioRows(
        2 * rec.a, served_l + rec.b, 2 * rec.fa, served_l + rec.fb, 2 * rec.window_a, served_w + rec.window_b
    )
    return ppi_mean_of_ratios(rows, alpha=alpha, quantity="macro_f1")


@dataclass
class WindowIntervals:
    """Every interval of one window at each level (``results[level][quantity]``), the randomness check of the sample,
    and the quantities refused (``refused[quantity]`` = the reason, e.g. too few labels of a class)."""

    n: int
    N: int
    sample_check: RandomnessCheck
    results: dict[float, dict[str, PPIResult]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "N": self.N,
            "sample_check": self.sample_check.as_dict(),
            "intervals": {
                f"{level:.2f}": {name: r.as_dict() for name, r in by_name.items()}
                for level, by_name in self.results.items()
            },
            "refused": dict(self.refused),
        }


def window_intervals(
    labelled: LabelledRows, window: WindowPredictions, *, levels: tuple[float, ...] = LEVELS
) -> WindowIntervals:
    """All the owner's quantities for one window at each level (90% and 95% by default). Feedback rows are refused
    (``SelfSelectedLabelsError``) before anything is computed; a sample that does not look random is flagged in
    ``sample_check`` (and logged), not refused: the test can fail by chance at rate ``alpha``."""
    _uniform(labelled)
    out = WindowIntervals(len(labelled), len(window), sample_looks_random(labelled, window))
    for level in levels:
        alpha = round(1.0 - level, 10)
        found: dict[str, PPIResult] = {"accuracy": ppi_accuracy(labelled, window, alpha=alpha)}
        found.update({r.quantity: r for r in ppi_class_shares(labelled, window, alpha=alpha).values()})
        per_class = [("precision", ppi_precision), ("recall", ppi_recall)]
        for name, fn in per_class:
            for k, label in enumerate(LABELS):
                try:
                    found[f"{name}_{label}"] = fn(labelled, window, k, alpha=alpha)
                except SampleDesignError as error:
                    out.refused[f"{name}_{label}"] = str(error)
        try:
            found["macro_f1"] = ppi_macro_f1(labelled, window, alpha=alpha)
        except SampleDesignError as error:
            out.refused["macro_f1"] = str(error)
        out.results[level] = found
    return out
