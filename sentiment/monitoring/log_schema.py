"""The prediction log's rows: which columns of the store's ``predictions`` table it writes, how a scored text becomes
a row that the table accepts on every backend, and the stored embedding's encoding.

Kept apart from ``prediction_log`` (the queue and the readers) and ``log_writer`` (the writer thread) so that each
stays small. The table itself is ``sentiment.store.schema.predictions`` (changed only by Alembic revisions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import String

from sentiment.store.schema import predictions

# What the readers return (``text`` only on request), in this order.
COLUMNS = (
    "ts",
    "source",
    "model",
    "n_chars",
    "n_tokens",
    "surface",
    "p_negative",
    "p_neutral",
    "p_positive",
    "label",
    "confidence",
    "text",
)
INSERTED = (*COLUMNS, "prediction_id", "embedding")
# One row as the writer inserts it, in ``INSERTED`` order, then the text kept for the review sample: the scored text
# when the row was drawn into it (``review_sampler``; kept even with text logging off), else None.
Row = tuple[
    float, str, str, int, int, str, float, float, float, str, float, str | None, str | None, bytes | None, str | None
]
REVIEW_TEXT = len(INSERTED)  # the index of that last element

# The width of each bounded text column (PostgreSQL refuses a longer value; SQLite would keep it): a row is cut to
# fit here, once, instead of failing its whole batch in the writer.
_WIDTHS = {
    i: column.type.length
    for i, name in enumerate(INSERTED)
    if isinstance((column := predictions.c[name]).type, String) and column.type.length
}
_TEXT_COLUMNS = tuple(i for i, name in enumerate(INSERTED) if isinstance(predictions.c[name].type, String))


def storable(value: str) -> str:
    """``value`` as both backends store it: NUL (which PostgreSQL text refuses) becomes U+FFFD, and a lone
    surrogate (which no UTF-8 database can hold) becomes ``?``. Cheap for the usual clean string."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def fitted(row: Row) -> Row:
    """``row`` with every text value storable and cut to its column's width: the store accepts any row this
    returns, on SQLite and on PostgreSQL, so one visitor's odd text never blocks the rows queued behind it."""
    values: list[Any] = list(row)
    for i in (*_TEXT_COLUMNS, REVIEW_TEXT):
        if values[i] is not None:
            values[i] = storable(values[i])
            width = _WIDTHS.get(i)
            if width is not None and len(values[i]) > width:
                values[i] = values[i][:width]
    return tuple(values)


def as_params(rows: list[Row]) -> list[dict[str, Any]]:
    """Rows as the parameter sets of one executemany ``INSERT``."""
    return [dict(zip(INSERTED, row[:REVIEW_TEXT], strict=True)) for row in rows]


def encode_embedding(vector: np.ndarray | None) -> bytes | None:
    """One text's embedding as the bytes stored in its row (float16, little-endian: 16 dims are 32 bytes, and ~3
    significant digits are plenty for a domain classifier); None (or a NaN row) stays NULL."""
    if vector is None or not np.all(np.isfinite(vector)):
        return None
    return np.asarray(vector, dtype="<f2").tobytes()
