"""A user's own labelled file: a text column and a label column, mapped by the rule of ``label_map``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.datasets.label_map import LabelMapping, infer_label_mapping
from sentiment.errors import DatasetError, LabelMappingError
from sentiment.tables.reading import TEXT_COLUMN_NAMES

LABEL_COLUMNS = ("label", "sentiment", "class", "polarity", "target", "stars", "rating")


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise DatasetError(f"no column {wanted!r}; columns are: {', '.join(columns)}")
        return wanted
    lowered = {c.lower().strip(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise DatasetError(
        f"cannot tell which column holds the {role}; columns are: {', '.join(columns)}; pass {role}_column=..."
    )


@dataclass(frozen=True)
class LabelledFile:
    """The usable rows of a file as ``text, label`` (``row`` is the 1-based data row in the file), and what was
    done to get them, so a report can say it."""

    frame: pd.DataFrame
    mapping: LabelMapping
    text_column: str
    rows_in_file: int
    without_text: int
    without_label: int

    def as_dict(self) -> dict[str, Any]:
        """What was done to the file, for a report (the rows themselves are in ``frame``)."""
        return {
            "text_column": self.text_column,
            "label_mapping": self.mapping.as_dict(),
            "rows_in_file": self.rows_in_file,
            "rows_without_text": self.without_text,
            "rows_without_label": self.without_label,
        }


def read_labelled_file(
    path: Path,
    text_column: str | None = None,
    label_column: str | None = None,
    label_map: str | dict[str, str] | None = None,
) -> LabelledFile:
    """Read a labelled CSV/TSV. Rows without text or without a label cannot be evaluated and are counted, not
    scored; the label column is mapped as a whole (``infer_label_mapping``) or refused with how to name it.

    Raises ``BatchInputError`` for a file that is not a readable table (``read_table``), ``ValueError`` when a
    column cannot be found or no row has both a text and a label, ``LabelMappingError`` for an unmappable column.
    """
    from sentiment.tables.reading import read_table

    frame = read_table(path)
    columns = [str(c) for c in frame.columns]
    text_col = _pick(columns, text_column, TEXT_COLUMN_NAMES, "text")
    label_col = _pick(columns, label_column, LABEL_COLUMNS, "label")
    texts = frame[text_col].fillna("").astype(str).str.strip()
    has_text = (texts != "").to_numpy()
    raw = frame[label_col].tolist()
    try:
        mapping = infer_label_mapping([v for v, ok in zip(raw, has_text, strict=True) if ok], label_map, label_col)
    except LabelMappingError as exc:
        raise LabelMappingError(f"{path.name}: {exc}") from None
    labels = mapping.apply(raw)
    keep = [bool(ok) and label is not None for ok, label in zip(has_text, labels, strict=True)]
    out = pd.DataFrame({"text": texts, "label": labels, "row": range(1, len(frame) + 1)})[keep]
    if out.empty:
        raise DatasetError(f"{path.name} has no rows with both a text and a label")
    return LabelledFile(
        frame=out.reset_index(drop=True),
        mapping=mapping,
        text_column=text_col,
        rows_in_file=len(frame),
        without_text=int((~has_text).sum()),
        without_label=int(sum(1 for ok, label in zip(has_text, labels, strict=True) if ok and label is None)),
    )


def load_labelled_csv(
    path: Path,
    text_column: str | None = None,
    label_column: str | None = None,
    label_map: str | dict[str, str] | None = None,
) -> pd.DataFrame:
    """The usable rows of a labelled file as ``text, label`` (see ``read_labelled_file``)."""
    return read_labelled_file(path, text_column, label_column, label_map).frame[["text", "label"]]
