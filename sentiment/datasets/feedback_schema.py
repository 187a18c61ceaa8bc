"""The feedback file format of the versions before the one store (``feedback.sqlite``), and its one-time upgrade from
the version where identical feedback was several rows. Only reading old data folders uses it now
(``sentiment.store.legacy`` merges version-1 files by the same rule); the store's ``feedback`` table is version 2.

Version 2 (``PRAGMA user_version``): one row per (prediction id, label), whoever gave it. A second *different* label for
a prediction is a second row (a conflict the review queue shows); the same label again is no row at all.

Version 1 (the stores written before; ``user_version`` 0): one row per (prediction id, label, Gradio session), so the
same label sent through five new sessions was five rows. The upgrade merges each group of identical rows into one:
- it keeps the first row's id, time, and who gave it, so a ``feedback_id`` handed out earlier still names its row;
- the owner's newest decision in the group wins (accepted or dropped), so no review is lost; a group nobody reviewed
  stays unreviewed;
- the first text given, if any, is kept;
- ids of merged-away rows are never handed out again (the id sequence keeps its old high mark).
It runs in one write transaction: a crash leaves the old table as it was, and a second process opening the store at
the same moment waits, then finds it done.
"""

from __future__ import annotations

import logging
import sqlite3

from sentiment.errors import FeedbackError

logger = logging.getLogger(__name__)
VERSION = 2

_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    client TEXT NOT NULL,
    reviewed TEXT NOT NULL DEFAULT 'unreviewed',
    created_at REAL NOT NULL,
    reviewed_at REAL,
    text TEXT,
    UNIQUE (prediction_id, label)
)
"""
# One row per group of identical version-1 rows (see the module docstring for which values survive).
_MERGE = """
INSERT INTO feedback_v2 (id, prediction_id, label, source, client, reviewed, created_at, reviewed_at, text)
SELECT first_id, prediction_id, label, source, first_client, reviewed, first_at, reviewed_at, first_text
FROM (
    SELECT *,
        ROW_NUMBER() OVER (
            PARTITION BY prediction_id, label
            ORDER BY reviewed = 'unreviewed', COALESCE(reviewed_at, created_at) DESC, id DESC
        ) AS decision_rank,
        MIN(id) OVER same AS first_id,
        MIN(created_at) OVER same AS first_at,
        FIRST_VALUE(session) OVER (PARTITION BY prediction_id, label ORDER BY id) AS first_client,
        FIRST_VALUE(text) OVER (PARTITION BY prediction_id, label ORDER BY text IS NULL, id) AS first_text
    FROM feedback
    WINDOW same AS (PARTITION BY prediction_id, label)
)
WHERE decision_rank = 1
"""


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the table, or upgrade a version-1 store in place; a store from a newer version is refused (this code
    would misread it). ``conn`` is in autocommit mode; the work is one ``BEGIN IMMEDIATE`` transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'").fetchone()
        if version > VERSION:
            raise FeedbackError(
                f"the feedback store is version {version}, newer than this code reads ({VERSION}): run the version "
                "of the app that wrote it, or move the file aside"
            )
        if version < VERSION:
            if exists:
                _upgrade_from_v1(conn)
            else:
                conn.execute(_TABLE.format(name="feedback"))
            conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _upgrade_from_v1(conn: sqlite3.Connection) -> None:
    (before,) = conn.execute("SELECT COUNT(*) FROM feedback").fetchone()
    high = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'feedback'").fetchone()
    conn.execute(_TABLE.format(name="feedback_v2"))
    conn.execute(_MERGE)
    conn.execute("DROP TABLE feedback")  # its indexes go with it; the unique index of the new table serves lookups
    conn.execute("ALTER TABLE feedback_v2 RENAME TO feedback")
    if high is not None:  # the merged-away ids stay used: an id handed out before never names another row
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'feedback'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('feedback', ?)", high)
    (after,) = conn.execute("SELECT COUNT(*) FROM feedback").fetchone()
    logger.info(
        "feedback store upgraded to version %d: %d rows, %d identical repeats merged", VERSION, after, before - after
    )
