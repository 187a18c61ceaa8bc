"""Feedback: people say what the right label of a logged prediction was. One SQLite file beside the prediction log.

A row is (prediction id, label): the same label for the same prediction is one row, whoever sends it and however often
(a uniqueness rule of the table, so no caller can break it); two different labels for one prediction are both kept and
reported as a conflict, never silently resolved. Each row names who gave it first (``client``: a pseudonym, never an
address). A visitor's feedback starts ``unreviewed``: it is counted, but the production evaluation and fine-tuning
use only what the owner ``accepted`` unless told otherwise, so nobody can steer the model's measured quality or its
training by clicking. Feedback the owner brings in bulk (a labelled file, from the command line) is accepted as it
comes, and accepts a label a visitor already gave.

``add`` takes an ``admit`` callable that it calls, inside its write transaction, only when the feedback is new: the
caller's rate limit (``sentiment.service.rate_limit``) counts new rows, never repeats, and a refusal stores nothing.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from sentiment.datasets.feedback_schema import ensure_schema
from sentiment.errors import FeedbackError, RateLimitedError
from sentiment.labels import LABELS

STATES = ("unreviewed", "accepted", "dropped")
SOURCES = ("visitor", "bulk")  # visitor: the UI and /feedback; bulk: the owner's labelled file
MAX_TEXT_CHARS = 10_000
PREDICTION_ID = re.compile(r"^[0-9a-f]{32}$")
Decision = Literal["accepted", "dropped"]
COLUMNS = ("id", "prediction_id", "label", "source", "client", "reviewed", "created_at", "reviewed_at", "text")


def check_prediction_id(prediction_id: object) -> str:
    """The id as logged (32 lowercase hex digits), or ``FeedbackError`` saying where to find a right one."""
    value = str(prediction_id or "").strip().lower()
    if not PREDICTION_ID.match(value):
        raise FeedbackError(
            f"{str(prediction_id)[:60]!r} is not a prediction id: use the 32 hex digits of `prediction_id` in a "
            "prediction's details, the /predict_batch table or a scored file"
        )
    return value


def check_label(label: object) -> str:
    """The label as one of ``LABELS`` (any case, spaces stripped), or ``FeedbackError`` naming the three."""
    value = str(label or "").strip().lower()
    if value not in LABELS:
        raise FeedbackError(f"unknown label {str(label)[:40]!r}: use one of {', '.join(LABELS)}")
    return value


@dataclass(frozen=True)
class Recorded:
    """What became of one piece of feedback: stored now or already there, and every label the prediction has."""

    feedback_id: int
    prediction_id: str
    label: str
    duplicate: bool
    reviewed: str
    labels: list[str]  # distinct labels given for this prediction (not dropped): more than one is a conflict

    @property
    def conflict(self) -> bool:
        return len(self.labels) > 1

    def as_dict(self) -> dict[str, object]:
        return {
            "feedback_id": self.feedback_id,
            "prediction_id": self.prediction_id,
            "label": self.label,
            "outcome": "duplicate" if self.duplicate else "recorded",
            "reviewed": self.reviewed,
            "labels_given": self.labels,
            "conflict": self.conflict,
        }


class FeedbackStore:
    """One SQLite file; a text keeps its first ``MAX_TEXT_CHARS`` characters; times in Unix seconds, timeouts in s."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            ensure_schema(conn)  # creates it, or upgrades a store written before repeats were one row

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction taken at once (``BEGIN IMMEDIATE``: concurrent writers queue, none reads stale
        rows), committed on success and rolled back on any error; the connection is closed either way."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def add(
        self,
        prediction_id: str,
        label: str,
        *,
        client: str,
        source: str = "visitor",
        text: str | None = None,
        reviewed: str = "unreviewed",
        now: float | None = None,
        admit: Callable[[], None] | None = None,
    ) -> Recorded:
        """Store one piece of feedback unless this label is already there for this prediction (from anyone): then
        it is a duplicate and ``admit`` is not called; only a decided ``reviewed`` (the owner's labelled file) then
        changes the row's state. For new feedback ``admit`` (the caller's rate limit) is called first, in the same
        transaction: its ``RateLimitedError`` stores nothing. ``FeedbackError`` for a bad id, label, source or state."""
        prediction_id, label = check_prediction_id(prediction_id), check_label(label)
        if source not in SOURCES or reviewed not in STATES:
            raise FeedbackError(f"source {source!r} / state {reviewed!r}: expected {SOURCES} / {STATES}")
        now = time.time() if now is None else now
        with self._transaction() as conn:  # lookup, admission and insert are one step for concurrent senders
            row = conn.execute(
                "SELECT id, reviewed FROM feedback WHERE prediction_id = ? AND label = ?", (prediction_id, label)
            ).fetchone()
            duplicate = row is not None
            if row is None:
                if admit is not None:
                    admit()
                cursor = conn.execute(
                    "INSERT INTO feedback (prediction_id, label, source, client, reviewed, created_at, text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (prediction_id, label, source, client, reviewed, now, text[:MAX_TEXT_CHARS] if text else None),
                )
                row = (cursor.lastrowid, reviewed)
            elif reviewed != "unreviewed" and row[1] != reviewed:  # the owner's word on a label already given
                conn.execute("UPDATE feedback SET reviewed = ?, reviewed_at = ? WHERE id = ?", (reviewed, now, row[0]))
                row = (row[0], reviewed)
            labels = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT label FROM feedback WHERE prediction_id = ? AND reviewed != 'dropped' "
                    "ORDER BY label",
                    (prediction_id,),
                )
            ]
        return Recorded(int(row[0]), prediction_id, label, duplicate, str(row[1]), labels)

    def review(self, feedback_ids: Iterable[int], decision: Decision, now: float | None = None) -> list[str]:
        """Accept or drop feedback rows by id; returns the labels of the rows that changed state (one per row)."""
        if decision not in ("accepted", "dropped"):
            raise FeedbackError(f"decision {decision!r}: use 'accepted' or 'dropped'")
        ids = sorted({int(i) for i in feedback_ids})
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with self._transaction() as conn:
            changed = [
                r[0]
                for r in conn.execute(
                    f"SELECT label FROM feedback WHERE reviewed != ? AND id IN ({marks})", (decision, *ids)
                )
            ]
            conn.execute(
                f"UPDATE feedback SET reviewed = ?, reviewed_at = ? WHERE reviewed != ? AND id IN ({marks})",
                (decision, time.time() if now is None else now, decision, *ids),
            )
        return changed

    def rows(
        self, *, states: Sequence[str] = STATES, since: float | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Feedback rows in these review states (newest first), with their text when it was given."""
        where = [f"reviewed IN ({', '.join('?' * len(states))})"]
        params: list[object] = [*states]
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        query = f"SELECT {', '.join(COLUMNS)} FROM feedback WHERE {' AND '.join(where)} ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with closing(self._connect()) as conn:
            return pd.read_sql_query(query, conn, params=params)

    def conflicts(self, limit: int = 100) -> pd.DataFrame:
        """Predictions given more than one label (dropped feedback aside): each with its labels and how many of
        each, so the owner can decide which to keep."""
        with closing(self._connect()) as conn:
            return pd.read_sql_query(
                "SELECT prediction_id, GROUP_CONCAT(label || ':' || n, ', ') AS labels, SUM(n) AS feedback "
                "FROM (SELECT prediction_id, label, COUNT(*) AS n FROM feedback WHERE reviewed != 'dropped' "
                "GROUP BY prediction_id, label) GROUP BY prediction_id HAVING COUNT(*) > 1 "
                "ORDER BY prediction_id LIMIT ?",
                conn,
                params=[limit],
            )

    def counts(self) -> dict[str, int]:
        """Rows per review state (every state present), plus ``conflicts``: predictions with disagreeing labels."""
        with closing(self._connect()) as conn:
            out = dict.fromkeys(STATES, 0)
            for state, n in conn.execute("SELECT reviewed, COUNT(*) FROM feedback GROUP BY reviewed"):
                out[state] = int(n)
            (conflicts,) = conn.execute(
                "SELECT COUNT(*) FROM (SELECT prediction_id FROM feedback WHERE reviewed != 'dropped' "
                "GROUP BY prediction_id HAVING COUNT(DISTINCT label) > 1)"
            ).fetchone()
        return {**out, "conflicts": int(conflicts)}

    def labels(self, states: Sequence[str], since: float | None = None) -> tuple[pd.DataFrame, int]:
        """One agreed label per prediction from feedback in ``states`` (``prediction_id``, ``label``, ``text``:
        the first text given, if any), and how many predictions were left out because their labels disagree."""
        frame = self.rows(states=states, since=since)
        if frame.empty:
            return pd.DataFrame(columns=["prediction_id", "label", "text"]), 0
        distinct = frame.groupby("prediction_id")["label"].nunique()
        agreed = frame[frame["prediction_id"].isin(distinct.index[distinct == 1])]
        first = (
            agreed.sort_values("id")
            .groupby("prediction_id", as_index=False)
            .agg(label=("label", "first"), text=("text", "first"))
        )
        return first, int((distinct > 1).sum())


def training_frame(store: FeedbackStore, unreviewed: bool = False) -> pd.DataFrame:
    """``text, label`` of the feedback people gave with their text: accepted feedback only, unless ``unreviewed``
    (an explicit choice: unreviewed clicks are anyone's). Conflicting labels are left out, as in the evaluation."""
    states = ("accepted", "unreviewed") if unreviewed else ("accepted",)
    labels, _ = store.labels(states)
    frame = labels.dropna(subset=["text"])[["text", "label"]].reset_index(drop=True)
    if frame.empty:
        which = "accepted or unreviewed" if unreviewed else "accepted"
        raise FeedbackError(
            f"no {which} feedback with text in {store.path}: people must tick 'store my text' and the owner accept "
            "their feedback (/review_feedback) before it can train a model"
        )
    return frame


__all__ = [
    "STATES",
    "FeedbackError",
    "FeedbackStore",
    "RateLimitedError",
    "Recorded",
    "check_label",
    "check_prediction_id",
    "training_frame",
]
