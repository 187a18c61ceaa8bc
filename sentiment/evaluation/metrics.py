"""Classification metrics computed from labels, with no hidden NaN: a class with no support or no predictions gets
precision/recall/F1 of 0.0 (as scikit-learn's ``zero_division=0``) and the report says so through ``support``.

This module holds the maths only; running a model over a dataset lives in ``sentiment.evaluation.runner``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from sentiment.labels import LABEL_TO_ID, LABELS


@dataclass(frozen=True)
class ClassMetrics:
    """One class: precision, recall and F1 in [0, 1] (0.0 where undefined); ``support``: its true rows."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationReport:
    """Accuracy, macro/weighted F1, per-class metrics and the confusion matrix (rows true, columns predicted).

    ``confusion`` is 3x3 counts in ``labels`` (= ``LABELS``) order; ``n`` the rows it counts."""

    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    macro_precision: float
    macro_recall: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]
    labels: list[str] = field(default_factory=lambda: list(LABELS))

    def as_dict(self) -> dict[str, object]:
        """Plain dicts and lists, for JSON."""
        return asdict(self)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str]) -> np.ndarray:
    """``(3, 3)`` int64 counts in ``LABELS`` order, rows true, columns predicted, from canonical label names.

    Raises ``ValueError`` when the lengths differ and ``KeyError`` for a name outside ``LABELS`` (map labels with
    ``canonical_labels`` first)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    t = np.fromiter((LABEL_TO_ID[y] for y in y_true), dtype=np.int64, count=len(y_true))
    p = np.fromiter((LABEL_TO_ID[y] for y in y_pred), dtype=np.int64, count=len(y_pred))
    np.add.at(matrix, (t, p), 1)
    return matrix


def f1_per_class(confusions: np.ndarray) -> np.ndarray:
    """F1 of each class, ``2 TP / (2 TP + FP + FN)``, of one confusion matrix or a stack of them.

    ``confusions`` has shape ``(..., K, K)``, rows the true class and columns the predicted one, in counts or
    shares; the result has shape ``(..., K)``. A class neither present nor predicted gets 0.0, as scikit-learn's
    ``f1_score(zero_division=0)``.
    """
    c = np.asarray(confusions, dtype=float)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    denominator = c.sum(axis=-1) + c.sum(axis=-2)  # support + predicted = 2 TP + FP + FN
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def macro_f1(confusions: np.ndarray) -> np.ndarray:
    """Macro-F1 of one confusion matrix (a 0-d array) or of each of a stack (shape ``(...)``): the unweighted mean
    of ``f1_per_class`` over the classes present in the data or the predictions.

    This is scikit-learn's ``f1_score(average="macro", zero_division=0)`` when ``labels`` is not given: a class
    absent from both carries no information about the model. Evaluation reports, bootstrap intervals and the
    label-free estimates all use this one definition.
    """
    c = np.asarray(confusions, dtype=float)
    present = (c.sum(axis=-1) + c.sum(axis=-2)) > 0
    return np.asarray(f1_per_class(c).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1))


def report_from_confusion(matrix: np.ndarray) -> ClassificationReport:
    """The report of a ``(3, 3)`` confusion matrix. All metrics derive from it, so bootstrap resamples can reuse
    this cheaply; macro averages follow scikit-learn's defaults (see below)."""
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = f1_per_class(matrix)
    n = int(matrix.sum())
    # Macro averages run over the classes present in the data or the predictions (see ``macro_f1``).
    present = (support > 0) | (predicted > 0)
    n_present = max(int(present.sum()), 1)
    per_class = {
        label: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i, label in enumerate(LABELS)
    }
    return ClassificationReport(
        n=n,
        accuracy=float(tp.sum() / n) if n else 0.0,
        macro_f1=float(macro_f1(matrix)),
        weighted_f1=float((f1 * support).sum() / support.sum()) if support.sum() else 0.0,
        macro_precision=float(precision[present].sum() / n_present),
        macro_recall=float(recall[present].sum() / n_present),
        per_class=per_class,
        confusion=matrix.astype(int).tolist(),
    )


def classification_report(y_true: Sequence[str], y_pred: Sequence[str]) -> ClassificationReport:
    """The report of canonical label names; raises as ``confusion_matrix`` does."""
    return report_from_confusion(confusion_matrix(y_true, y_pred))
