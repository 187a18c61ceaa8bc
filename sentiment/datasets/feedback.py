"""Feedback: people say what the right label of a logged prediction was. The ``feedback`` table of the one store.

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
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from sqlalchemy import distinct, func, select, update

from sentiment.datasets.feedback_rows import Row, find_row, insert_row
from sentiment.errors import FeedbackError, RateLimitedError
from sentiment.labels import LABELS
from sentiment.store import Store
from sentiment.store.schema import feedback

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
    """Feedback in the ``feedback`` table of the one store (SQLite or PostgreSQL alike); a text keeps its first
    ``MAX_TEXT_CHARS`` characters; times in Unix seconds. Ids grow and are never reused (the table's sequence), so a
    ``feedback_id`` handed out once never names another row."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def url(self) -> str:
        """Which store holds the feedback, for messages: its address without the password."""
        return self.store.url

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
        changes the row's state. For new feedback ``admit`` (the caller's rate limit) is called in the same
        transaction, right after the insert: its ``RateLimitedError`` rolls the row back, so a refusal stores
        nothing. ``FeedbackError`` for a bad id, label, source or state.

        Concurrent senders of the same feedback make one row and one ``admit`` call, on both backends. On SQLite the
        write transaction holds the write lock from its start, so a second sender's lookup finds the first's row.
        On PostgreSQL both lookups may miss: the table's unique (prediction_id, label) then makes the second insert
        wait for the first transaction, and fail once it commits (or go in if it rolled back, refused by its own
        ``admit``); the failure is caught in a savepoint and the winner's row re-read as a duplicate. ``admit``
        runs only after an insert went in, so the sender who loses that race consumes no slot."""
        prediction_id, label = check_prediction_id(prediction_id), check_label(label)
        if source not in SOURCES or reviewed not in STATES:
            raise FeedbackError(f"source {source!r} / state {reviewed!r}: expected {SOURCES} / {STATES}")
        now = time.time() if now is None else now
        values = {
            "prediction_id": prediction_id,
            "label": label,
            "source": source,
            "client": client,
            "reviewed": reviewed,
            "created_at": now,
            "text": text[:MAX_TEXT_CHARS] if text else None,
        }
        with self.store.write() as conn:  # lookup, insert and admission are one step for concurrent senders
            row = find_row(conn, prediction_id, label) or insert_row(conn, values)
            duplicate = row.existed
            if not duplicate and admit is not None:
                admit()  # raises to refuse: the transaction, and the row with it, is rolled back
            if duplicate and reviewed != "unreviewed" and row.reviewed != reviewed:  # the owner's word on a label
                conn.execute(update(feedback).where(feedback.c.id == row.id).values(reviewed=reviewed, reviewed_at=now))
                row = Row(row.id, reviewed, existed=True)
            labels = list(
                conn.scalars(
                    select(feedback.c.label)
                    .distinct()
                    .where(feedback.c.prediction_id == prediction_id, feedback.c.reviewed != "dropped")
                    .order_by(feedback.c.label)
                )
            )
        return Recorded(row.id, prediction_id, label, duplicate, row.reviewed, labels)

    def review(self, feedback_ids: Iterable[int], decision: Decision, now: float | None = None) -> list[str]:
        """Accept or drop feedback rows by id; returns the labels of the rows that changed state (one per row)."""
        if decision not in ("accepted", "dropped"):
            raise FeedbackError(f"decision {decision!r}: use 'accepted' or 'dropped'")
        ids = sorted({int(i) for i in feedback_ids})
        if not ids:
            return []
        changing = (feedback.c.reviewed != decision, feedback.c.id.in_(ids))
        with self.store.write() as conn:  # one statement: two owners reviewing at once never both count a row
            changed = conn.execute(
                update(feedback)
                .where(*changing)
                .values(reviewed=decision, reviewed_at=time.time() if now is None else now)
                .returning(feedback.c.id, feedback.c.label)
            ).all()
        return [label for _, label in sorted(changed)]

    def rows(
        self, *, states: Sequence[str] = STATES, since: float | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Feedback rows in these review states (newest first), with their text when it was given."""
        query = select(*(feedback.c[name] for name in COLUMNS)).where(feedback.c.reviewed.in_(list(states)))
        if since is not None:
            query = query.where(feedback.c.created_at >= since)
        query = query.order_by(feedback.c.id.desc()).limit(limit)
        with self.store.read() as conn:
            found = conn.execute(query).all()
        frame = pd.DataFrame([tuple(r) for r in found], columns=list(COLUMNS))
        return frame.astype({"id": "int64", "created_at": "float64", "reviewed_at": "float64"})

    def conflicts(self, limit: int = 100) -> pd.DataFrame:
        """Predictions given more than one label (dropped feedback aside): each with its labels and how many of
        each (``labels``, e.g. "negative:1, positive:1") and its feedback in all, so the owner can decide which to
        keep. Counted in SQL per (prediction, label); the strings are joined here (no GROUP_CONCAT: portable)."""
        kept = feedback.c.reviewed != "dropped"
        conflicted = (
            select(feedback.c.prediction_id)
            .where(kept)
            .group_by(feedback.c.prediction_id)
            .having(func.count(distinct(feedback.c.label)) > 1)
            .order_by(feedback.c.prediction_id)
            .limit(limit)
            .subquery()
        )
        per_label = (
            select(feedback.c.prediction_id, feedback.c.label, func.count().label("n"))
            .join(conflicted, conflicted.c.prediction_id == feedback.c.prediction_id)
            .where(kept)
            .group_by(feedback.c.prediction_id, feedback.c.label)
            .order_by(feedback.c.prediction_id, feedback.c.label)
        )
        with self.store.read() as conn:
            found = conn.execute(per_label).all()
        grouped: dict[str, list[tuple[str, int]]] = {}
        for prediction_id, label, n in found:
            grouped.setdefault(prediction_id, []).append((label, int(n)))
        return pd.DataFrame(
            [
                (pid, ", ".join(f"{label}:{n}" for label, n in counted), sum(n for _, n in counted))
                for pid, counted in grouped.items()
            ],
            columns=["prediction_id", "labels", "feedback"],
        )

    def counts(self) -> dict[str, int]:
        """Rows per review state (every state present), plus ``conflicts``: predictions with disagreeing labels."""
        conflicted = (
            select(feedback.c.prediction_id)
            .where(feedback.c.reviewed != "dropped")
            .group_by(feedback.c.prediction_id)
            .having(func.count(distinct(feedback.c.label)) > 1)
            .subquery()
        )
        with self.store.read() as conn:
            out = dict.fromkeys(STATES, 0)
            for state, n in conn.execute(select(feedback.c.reviewed, func.count()).group_by(feedback.c.reviewed)):
                out[state] = int(n)
            conflicts = conn.scalar(select(func.count()).select_from(conflicted))
        return {**out, "conflicts": int(conflicts or 0)}

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
            f"no {which} feedback with text in the store {store.url}: people must tick 'store my text' and the owner "
            "accept their feedback (/review_feedback) before it can train a model"
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
