"""What an evaluation reports, as typed values from the runner to the edge: one model's figures on some rows, the
same once recorded (by whom, under which id), and two models compared on the same rows.

Each type's ``as_dict`` is the JSON the API, the CLI's ``--json`` and the evaluation history hold; nothing between
modules reads those dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sentiment.datasets.label_map import LabelMapping
from sentiment.datasets.user_csv import LabelledFile
from sentiment.evaluation.calibration import ECE_BINS, ReliabilityBin, expected_calibration_error, reliability_bins
from sentiment.evaluation.metrics import ClassificationReport
from sentiment.evaluation.uncertainty import Interval, PairedComparison


@dataclass(frozen=True)
class RowsUsed:
    """How many rows an evaluation scored, of how many, and in words why those: a report that says n=2 must say
    of how many and what left the rest out."""

    used: int
    total: int  # rows of the file (a user's file) or of the split (a registry dataset)
    why: str
    file_rows: tuple[int, ...] | None = None  # a user's file: its 1-based data rows used, when not all of them

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"used": self.used, "total": self.total, "why": self.why}
        if self.file_rows is not None:
            out["file_rows"] = list(self.file_rows)
        return out


@dataclass(frozen=True)
class FileRead:
    """How a user's labelled file was read: its text column, the label mapping used and the rows it skipped."""

    text_column: str
    label_mapping: LabelMapping
    rows_in_file: int
    rows_without_text: int
    rows_without_label: int

    @classmethod
    def of(cls, labelled: LabelledFile) -> FileRead:
        return cls(
            labelled.text_column, labelled.mapping, labelled.rows_in_file, labelled.without_text, labelled.without_label
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "text_column": self.text_column,
            "label_mapping": self.label_mapping.as_dict(),
            "rows_in_file": self.rows_in_file,
            "rows_without_text": self.rows_without_text,
            "rows_without_label": self.rows_without_label,
        }


@dataclass(frozen=True)
class Intervals:
    """Bootstrap confidence intervals of accuracy and macro-F1 (``uncertainty.bootstrap_intervals``)."""

    accuracy: Interval
    macro_f1: Interval

    @classmethod
    def of(cls, intervals: Mapping[str, Interval]) -> Intervals:
        return cls(intervals["accuracy"], intervals["macro_f1"])

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": asdict(self.accuracy), "macro_f1": asdict(self.macro_f1)}


@dataclass(frozen=True)
class CalibrationSummary:
    """How far the model's confidence is from its accuracy on these rows: top-label ECE over ``ECE_BINS``
    equal-width bins and the reliability table behind it (``evaluation.calibration``; Guo et al. 2017)."""

    ece: float
    bins: tuple[ReliabilityBin, ...]

    @classmethod
    def of(cls, probabilities: Any, labels: Any) -> CalibrationSummary:
        """From ``(n, 3)`` probabilities in ``LABELS`` order and ``(n,)`` class ids or names."""
        bins = tuple(reliability_bins(probabilities, labels, ECE_BINS))
        return cls(expected_calibration_error(probabilities, labels, ECE_BINS), bins)

    def as_dict(self) -> dict[str, Any]:
        """Empty bins keep their edges and count, with ``None`` confidence and accuracy (JSON has no NaN)."""
        return {
            "ece": self.ece,
            "n_bins": len(self.bins),
            "bins": [
                {
                    "lower": b.lower,
                    "upper": b.upper,
                    "count": b.count,
                    "confidence": b.confidence if b.count else None,
                    "accuracy": b.accuracy if b.count else None,
                }
                for b in self.bins
            ],
        }


@dataclass(frozen=True)
class EvaluationResult:
    """One model on one set of labelled rows: its metrics (accuracy, macro/weighted F1, per-class precision,
    recall, F1 and support, the confusion matrix), bootstrap intervals for accuracy and macro-F1, and the rows."""

    model: str
    model_revision: str
    dataset: str
    split: str
    n: int
    seed: int
    metrics: ClassificationReport
    intervals: Intervals
    seconds: float
    created_at: float
    row_ids: list[int]  # positions in the split: shows which rows a seed drew
    predictions: list[str]  # per row, for paired comparisons (not part of the stored report)
    rows: RowsUsed
    file: FileRead | None = None  # a user's file: columns, label mapping used, rows skipped
    calibration: CalibrationSummary | None = None  # None where no probabilities were kept (production labels)

    @property
    def label_mapping(self) -> LabelMapping | None:
        return self.file.label_mapping if self.file else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_revision": self.model_revision,
            "dataset": self.dataset,
            "split": self.split,
            "n": self.n,
            "seed": self.seed,
            "metrics": self.metrics.as_dict(),
            "intervals": self.intervals.as_dict(),
            "seconds": round(self.seconds, 3),
            "created_at": self.created_at,
            "row_ids": self.row_ids,
            "rows": self.rows.as_dict(),
            "label_mapping": self.label_mapping.as_dict() if self.label_mapping else None,
            "file": self.file.as_dict() if self.file else None,
            "calibration": self.calibration.as_dict() if self.calibration else None,
        }


@dataclass(frozen=True)
class EvaluationReport:
    """An evaluation as the app recorded it: who ran it (``source``: visitor, scheduled, cli), its id in the history
    (None when the history could not keep it, and then ``warning`` says why)."""

    result: EvaluationResult
    source: str
    id: int | None = None
    warning: str | None = None

    def stored(self) -> dict[str, Any]:
        """What the history keeps of it (the id is the history's own)."""
        return {**self.result.as_dict(), "source": self.source}

    def as_dict(self) -> dict[str, Any]:
        out = {**self.stored(), "id": self.id}
        if self.warning is not None:
            out["warning"] = self.warning
        return out


@dataclass(frozen=True)
class Comparison:
    """B minus A on the same rows, and which model is better when the difference is significant (else None)."""

    paired: PairedComparison
    better: str | None

    @classmethod
    def of(cls, paired: PairedComparison, model_a: str, model_b: str) -> Comparison:
        better = (model_b if paired.macro_f1_difference > 0 else model_a) if paired.significant else None
        return cls(paired, better)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.paired), "better": self.better}


@dataclass(frozen=True)
class ComparisonReport:
    a: EvaluationReport
    b: EvaluationReport
    comparison: Comparison

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a.as_dict(), "b": self.b.as_dict(), "comparison": self.comparison.as_dict()}
