"""What happened to every row of a scored file: counts, reasons, cleaned rows and the label mix, for any engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sentiment.labels import LABELS

_REPORTED_ROWS = 20  # row numbers listed per reason in the summary


@dataclass
class ScoreSummary:
    """What happened to every row: how many scored, how many skipped and why, what was cleaned, the label mix,
    and what the reader chose (layout, encoding, separator, text column, names of the added and renamed columns).
    Row numbers are 1-based data rows (the header not counted); ``seconds`` is the wall-clock time of the job."""

    rows: int = 0
    scored: int = 0
    truncated: int = 0
    text_column: str = ""
    label_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: list[int] = field(default_factory=list)  # first few 1-based data-row numbers, for the report
    cleaned: dict[str, int] = field(default_factory=dict)  # rows changed but kept: "nul_removed", "short_row_padded"
    cleaned_rows: dict[str, list[int]] = field(default_factory=dict)  # first few row numbers per kind
    columns_added: dict[str, str] = field(default_factory=dict)  # role -> column name written
    columns_renamed: dict[str, str] = field(default_factory=dict)  # input columns named alike: new name -> as written
    input_format: dict[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """The JSON form the UI and the API return."""
        return {
            "rows": self.rows,
            "scored": self.scored,
            "truncated": self.truncated,
            "text_column": self.text_column,
            "label_counts": dict(self.label_counts),
            "skipped": dict(self.skipped),
            "skipped_rows": list(self.skipped_rows),
            "cleaned": dict(self.cleaned),
            "cleaned_rows": {kind: list(rows) for kind, rows in self.cleaned_rows.items()},
            "columns_added": dict(self.columns_added),
            "columns_renamed": dict(self.columns_renamed),
            "input_format": dict(self.input_format),
            "seconds": round(self.seconds, 3),
        }

    def skip(self, reason: str, row_number: int) -> None:
        """Count a row not scored under ``reason``; the first 20 row numbers are kept."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.skipped_rows) < _REPORTED_ROWS:
            self.skipped_rows.append(row_number)

    def clean(self, kind: str, row_number: int) -> None:
        """Count a row changed but kept (``nul_removed``, ``short_row_padded``); the first 20 per kind are kept."""
        self.cleaned[kind] = self.cleaned.get(kind, 0) + 1
        rows = self.cleaned_rows.setdefault(kind, [])
        if len(rows) < _REPORTED_ROWS:
            rows.append(row_number)


def label_counts_frame(summary: ScoreSummary) -> pd.DataFrame:
    """Counts per class, in class order, for the summary chart."""
    return pd.DataFrame({"label": list(LABELS), "count": [summary.label_counts[label] for label in LABELS]})
