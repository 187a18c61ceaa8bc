"""The prediction log's table: its columns, the migration of older files, and the stored embedding's encoding.

Kept apart from ``prediction_log`` (the queue and the writer thread) so that each stays small.
"""

from __future__ import annotations

import sqlite3

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    source TEXT NOT NULL,
    model TEXT NOT NULL,
    n_chars INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    surface TEXT NOT NULL,
    p_negative REAL NOT NULL,
    p_neutral REAL NOT NULL,
    p_positive REAL NOT NULL,
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    text TEXT
);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
"""
# Columns added since the first release, (name, type): old stores (rows kept) and fresh ones get them by ALTER TABLE.
_ADDED_COLUMNS = (("prediction_id", "TEXT"), ("embedding", "BLOB"))
_ADDED_INDEXES = "CREATE INDEX IF NOT EXISTS predictions_prediction_id ON predictions (prediction_id);"
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
# One row as the writer inserts it, in ``INSERTED`` order.
Row = tuple[float, str, str, int, int, str, float, float, float, str, float, str | None, str | None, bytes | None]


def encode_embedding(vector: np.ndarray | None) -> bytes | None:
    """One text's embedding as the BLOB stored in its row (float16, little-endian: 16 dims are 32 bytes, and ~3
    significant digits are plenty for a domain classifier); None (or a NaN row) stays NULL."""
    if vector is None or not np.all(np.isfinite(vector)):
        return None
    return np.asarray(vector, dtype="<f2").tobytes()


def migrate(conn: sqlite3.Connection) -> None:
    """Add the columns (and their indexes) a store made by an older version lacks; its rows stay."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")
    conn.executescript(_ADDED_INDEXES)
