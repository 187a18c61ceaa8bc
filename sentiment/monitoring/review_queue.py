"""The review sample in the store (``review_sample``): what to label next, labels and skips, counts, and the labelled
rows an interval reads (``labelled``) with the times the sample covered (``sampling_open``).

Rows are drawn by ``review_sampler`` as predictions are logged. Labels here are the owner's (the Label view, the admin
API, a bulk file): they never mix with visitor feedback (``feedback`` table), which is self-selected.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Row, and_, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from sentiment.errors import ReviewError
from sentiment.labels import LABELS
from sentiment.monitoring.review_sampler import CLOSED_KEY, DAY_S, utc_day
from sentiment.store import Store
from sentiment.store.schema import monitor_state, predictions, review_sample

Labeller = Literal["admin", "api", "bulk"]
LABELLERS: tuple[Labeller, ...] = ("admin", "api", "bulk")
State = Literal["waiting", "labelled", "skipped", "all"]
SHOWN = ("id", "prediction_id", "prediction_ts", "model", "served_label", "p_negative", "p_neutral", "p_positive")
ITEM_COLUMNS = (*SHOWN, "text", "inclusion_probability", "sampled_at", "label", "labelled_at", "labeller", "skipped")
_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class ReviewCounts:
    """Rows sampled; labelled; waiting (unlabelled, not skipped, text still kept); skipped (unlabelled)."""

    sampled: int
    labelled: int
    waiting: int
    skipped: int

    def as_dict(self) -> dict[str, int]:
        return {"sampled": self.sampled, "labelled": self.labelled, "waiting": self.waiting, "skipped": self.skipped}


def check_review_label(label: object) -> str:
    """``label`` as one of ``LABELS`` (any case, spaces stripped), or ``ReviewError`` naming the three."""
    value = str(label if label is not None else "").strip().lower()
    if value not in LABELS:
        raise ReviewError(f"unknown label {str(label)[:40]!r}: use one of {', '.join(LABELS)}")
    return value


def _waiting() -> ColumnElement[bool]:
    return and_(review_sample.c.label.is_(None), review_sample.c.skipped == 0, review_sample.c.text.is_not(None))


def _state(state: State) -> ColumnElement[bool] | None:
    if state == "waiting":
        return _waiting()
    if state == "labelled":
        return review_sample.c.label.is_not(None)
    if state == "skipped":
        return and_(review_sample.c.label.is_(None), review_sample.c.skipped == 1)
    return None


def _plain(row: Row[Any]) -> dict[str, Any]:
    """A row as a dict with plain ``str`` keys: SQLAlchemy's keys are a ``str`` subclass that orjson (Gradio's JSON
    writer) refuses as a key ("Dict key must be str")."""
    return {str(key): value for key, value in row._mapping.items()}


class ReviewQueue:
    """Reads and changes ``review_sample`` rows in ``store``; ``StoreUnavailableError`` while the store is down."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Counts this process's labels and skips: a reader that caches figures derived from the labels (the
        # production truth report) knows they changed. Another replica's labels are not counted here.
        self.revision = 0

    def next(self) -> dict[str, Any] | None:
        """The oldest sampled row still waiting (not labelled, not skipped), or None when none waits."""
        query = select(*(review_sample.c[c] for c in ITEM_COLUMNS)).where(_waiting())
        with self.store.read() as conn:
            row = conn.execute(query.order_by(review_sample.c.id).limit(1)).first()
        return None if row is None else _plain(row)

    def get(self, review_id: int) -> dict[str, Any]:
        query = select(*(review_sample.c[c] for c in ITEM_COLUMNS)).where(review_sample.c.id == review_id)
        with self.store.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ReviewError(f"no sampled prediction has review id {review_id}: list them with /review_sample")
        return _plain(row)

    def label(self, review_id: int, label: str, labeller: Labeller, now: float | None = None) -> dict[str, Any]:
        """Give (or correct) the label of one sampled row; returns the row. ``ReviewError``: unknown id or label."""
        label = check_review_label(label)
        values = {"label": label, "labelled_at": time.time() if now is None else now, "labeller": labeller}
        self._change(review_id, values)
        return self.get(review_id)

    def skip(self, review_id: int) -> dict[str, Any]:
        """Set one row aside (a text the owner cannot judge); it keeps its place but is not offered again. A
        skipped row is a missing label: intervals say how many were skipped (skipping is not random)."""
        self._change(review_id, {"skipped": 1})
        return self.get(review_id)

    def _change(self, review_id: int, values: dict[str, Any]) -> None:
        with self.store.write() as conn:
            changed = conn.execute(update(review_sample).where(review_sample.c.id == review_id).values(**values))
        if changed.rowcount == 0:
            raise ReviewError(f"no sampled prediction has review id {review_id}: list them with /review_sample")
        self.revision += 1

    def ids_of(self, prediction_ids: Sequence[str]) -> dict[str, int]:
        """Review ids of these prediction ids (those in the sample)."""
        unique = list(dict.fromkeys(prediction_ids))
        found: dict[str, int] = {}
        with self.store.read() as conn:
            for start in range(0, len(unique), _IDS_PER_QUERY):
                chunk = unique[start : start + _IDS_PER_QUERY]
                query = select(review_sample.c.prediction_id, review_sample.c.id)
                found.update(dict(conn.execute(query.where(review_sample.c.prediction_id.in_(chunk))).tuples().all()))
        return found

    def known(self, review_ids: Sequence[int]) -> set[int]:
        unique = list(dict.fromkeys(review_ids))
        found: set[int] = set()
        with self.store.read() as conn:
            for start in range(0, len(unique), _IDS_PER_QUERY):
                chunk = unique[start : start + _IDS_PER_QUERY]
                found.update(conn.execute(select(review_sample.c.id).where(review_sample.c.id.in_(chunk))).scalars())
        return found

    def rows(self, state: State = "waiting", limit: int = 50, since: float | None = None) -> list[dict[str, Any]]:
        """Sampled rows in ``state``, oldest first (at most ``limit``; since a prediction time)."""
        query = select(*(review_sample.c[c] for c in ITEM_COLUMNS))
        if (condition := _state(state)) is not None:
            query = query.where(condition)
        if since is not None:
            query = query.where(review_sample.c.prediction_ts >= since)
        with self.store.read() as conn:
            return [_plain(r) for r in conn.execute(query.order_by(review_sample.c.id).limit(limit))]

    def first_drawn(self, model: str) -> float | None:
        """The prediction time of ``model``'s oldest row in the sample (None: none drawn yet): no prediction before it
        is known to have been drawable (sampling may have been off, or not yet built)."""
        query = select(func.min(review_sample.c.prediction_ts)).where(review_sample.c.model == model)
        with self.store.read() as conn:
            value = conn.execute(query).scalar_one()
        return None if value is None else float(value)

    def first_waiting(self, *, since: float, model: str) -> tuple[int, str, float, int] | None:
        """``model``'s first sampled row since ``since`` still waiting for its label, as (review id, prediction id,
        prediction time, the prediction's log id), or None when none waits: the labelled rows are a uniform sample
        of the predictions logged before it. First in the prediction log's order (its ids grow with arrival, and a
        drawn row is written in the same transaction as its prediction): two replicas writing at once may commit
        review rows in the other order, the log's ids are the one order both the window and its labels are cut by.
        """
        query = (
            select(review_sample.c.id, review_sample.c.prediction_id, review_sample.c.prediction_ts, predictions.c.id)
            .join(predictions, predictions.c.prediction_id == review_sample.c.prediction_id)
            .where(_waiting(), review_sample.c.prediction_ts >= since, review_sample.c.model == model)
            .order_by(predictions.c.id)
            .limit(1)
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (int(row[0]), str(row[1]), float(row[2]), int(row[3]))

    def counts(self, since: float | None = None, model: str | None = None) -> ReviewCounts:
        """How many rows are sampled, labelled, waiting and skipped (of predictions made since ``since``, by
        ``model``)."""
        where = review_sample.c.prediction_ts >= since if since is not None else None
        of_model = review_sample.c.model == model if model is not None else None
        values = []
        with self.store.read() as conn:
            for condition in (None, _state("labelled"), _waiting(), _state("skipped")):
                query = select(func.count()).select_from(review_sample)
                for part in (where, of_model, condition):
                    if part is not None:
                        query = query.where(part)
                values.append(int(conn.execute(query).scalar_one()))
        return ReviewCounts(*values)

    def labelled(
        self,
        since: float | None = None,
        until: float | None = None,
        before_log_id: int | None = None,
        text: bool = False,
    ) -> pd.DataFrame:
        """The labelled rows of predictions made in ``[since, until)`` (and logged before the prediction log's row
        ``before_log_id``: see ``first_waiting``), oldest first: what an interval combines with the model's output on
        all predictions of that window. Columns: id, prediction_id, prediction_ts, model, served_label, p_negative,
        p_neutral, p_positive (the served probabilities), label (the owner's), inclusion_probability (the chance the
        row was drawn with), and ``text`` if asked (None once ``SENTIMENT_REVIEW_TEXT_DAYS`` removed it)."""
        names = (*SHOWN, "label", "inclusion_probability", *(["text"] if text else []))
        query = select(*(review_sample.c[c] for c in names)).where(review_sample.c.label.is_not(None))
        if since is not None:
            query = query.where(review_sample.c.prediction_ts >= since)
        if until is not None:
            query = query.where(review_sample.c.prediction_ts < until)
        if before_log_id is not None:
            logged_before = select(predictions.c.prediction_id).where(predictions.c.id < before_log_id)
            query = query.where(review_sample.c.prediction_id.in_(logged_before))
        with self.store.read() as conn:
            result = conn.execute(query.order_by(review_sample.c.id))
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return frame if not frame.empty else pd.DataFrame(columns=list(names))

    def closed_days(self) -> dict[str, float]:
        """UTC day -> the prediction time of the first draw the daily cap refused (the day's sample ended there)."""
        closed = monitor_state.c.key.startswith(CLOSED_KEY, autoescape=True)  # "_" is a LIKE wildcard otherwise
        query = select(monitor_state.c.key, monitor_state.c.value).where(closed)
        with self.store.read() as conn:
            return {key[len(CLOSED_KEY) :]: float(json.loads(value)["at"]) for key, value in conn.execute(query)}

    def sampling_open(self, prediction_ts: Sequence[float] | np.ndarray) -> np.ndarray:
        """For each prediction time: whether a prediction made then could be drawn (its day's cap not yet reached).
        The labelled rows are a uniform sample of exactly the predictions marked True (see ``review_sampler``)."""
        times = np.asarray(prediction_ts, dtype=float)
        closed = self.closed_days()
        if not closed:
            return np.ones(times.shape, dtype=bool)
        days, which = np.unique((times // DAY_S).astype(np.int64), return_inverse=True)
        ends = np.array([closed.get(utc_day(int(day) * DAY_S), np.inf) for day in days], dtype=float)
        return times < ends[which.reshape(times.shape)]
