"""A user's own labelled file: a text column and a label column, labels in any accepted spelling."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sentiment.labels import LabelMappingError, canonical_label

TEXT_COLUMNS = ("text", "tweet", "sentence", "review", "content", "body", "message")
LABEL_COLUMNS = ("label", "sentiment", "class", "polarity", "target")


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise ValueError(f"no column {wanted!r}; columns are: {', '.join(columns)}")
        return wanted
    lowered = {c.lower().strip(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise ValueError(
        f"cannot tell which column holds the {role}; columns are: {', '.join(columns)}; pass {role}_column=..."
    )


def load_labelled_csv(path: Path, text_column: str | None = None, label_column: str | None = None) -> pd.DataFrame:
    """Read a labelled CSV/TSV as ``text, label``; rows with an empty text or an unknown label are refused by name."""
    from sentiment.batch import read_table

    frame = read_table(path)
    columns = [str(c) for c in frame.columns]
    text_col = _pick(columns, text_column, TEXT_COLUMNS, "text")
    label_col = _pick(columns, label_column, LABEL_COLUMNS, "label")
    texts = frame[text_col].fillna("").astype(str).str.strip()
    labels: list[str] = []
    bad: list[str] = []
    for position, value in enumerate(frame[label_col].tolist()):
        try:
            labels.append(canonical_label(value))
        except LabelMappingError:
            labels.append("")
            if len(bad) < 5:
                bad.append(f"row {position + 1}: {value!r}")
    if bad:
        raise LabelMappingError(
            f"{path.name}: labels that are not negative/neutral/positive (or NEG/NEU/POS, LABEL_0..2, 0..2): "
            + "; ".join(bad)
        )
    out = pd.DataFrame({"text": texts, "label": labels})
    out = out[out["text"] != ""].reset_index(drop=True)
    if out.empty:
        raise ValueError(f"{path.name} has no rows with text")
    return out
