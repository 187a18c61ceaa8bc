"""The production prediction log: one row per scored text in the store's ``predictions`` table, written off the
request path.

Requests hand rows to a bounded in-memory queue and return at once; a writer thread (``log_writer``) drains it in
batches into the one store (SQLite or PostgreSQL), keeping them in memory and retrying while the store is down.
When ``capacity`` rows are already held the new rows are dropped and counted (a metric), never waited for: logging
must not slow or fail a prediction. Raw text is stored only if the settings allow it (off by default).

Each row is also drawn into the review sample with the sampler's rate (``review_sampler``): a drawn row carries its
text to the writer, which inserts it into ``review_sample`` in the same transaction as the log rows (the text is
kept there even when text logging is off: it is what the owner labels).

Readers (``window``, ``by_ids``, ``count``, ...) read the store directly and raise ``StoreUnavailableError`` while
it is down; the rows still held in memory are not in their answers until written.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Select, cast, delete, func, insert, select
from sqlalchemy.engine import Result
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from sentiment.errors import StoreError
from sentiment.monitoring import review_sampler
from sentiment.monitoring.features import surface_kind
from sentiment.monitoring.log_schema import COLUMNS, REVIEW_TEXT, Row, as_params, encode_embedding, fitted
from sentiment.monitoring.log_writer import LogCounters, LogWriter
from sentiment.monitoring.review_sampler import Drawn, ReviewSampler
from sentiment.results import BatchResult
from sentiment.settings import setting_default
from sentiment.store import Store
from sentiment.store.schema import predictions

logger = logging.getLogger(__name__)

MAX_STORED_CHARS = 10_000  # with text logging on, a 10 MB request must not become a 10 MB row
_PRUNE_EVERY_S = 60.0
_IDS_PER_QUERY = 500  # prediction ids per IN (...) list: well under either backend's parameter limit


class PredictionLog:
    """Up to ``capacity`` rows held in memory (queued, or waiting for the store), then dropped; ``max_rows`` rows
    and ``max_age_days`` kept in the store; retries after a failed write wait ``retry_initial_s`` doubling to
    ``retry_max_s`` seconds."""

    def __init__(
        self,
        store: Store,
        *,
        capacity: int = setting_default("log_queue_rows"),
        store_text: bool = False,
        max_rows: int = setting_default("log_max_rows"),
        max_age_days: float = setting_default("log_max_days"),
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        sampler: ReviewSampler | None = None,
        review_text_days: float = setting_default("review_text_days"),
    ) -> None:
        """``sampler``: draws rows into the review sample (None: no sample); its texts are kept
        ``review_text_days``."""
        self.store = store
        self.sampler = sampler
        self.review_text_days = review_text_days
        self.store_text = store_text
        self.max_rows = max_rows
        self.max_age_s = max_age_days * 86400
        self._last_prune = -math.inf  # the first write prunes: a restart after a long stop trims at once
        self._writer = LogWriter(
            self._write, capacity=capacity, retry_initial_s=retry_initial_s, retry_max_s=retry_max_s
        )

    @property
    def counters(self) -> LogCounters:
        return self._writer.counters

    @property
    def capacity(self) -> int:
        return self._writer.capacity

    def status(self) -> dict[str, object]:
        """For /health and the Monitoring tab: rows held in memory (not yet in the store) and why the last write
        failed (None while writes succeed): "store unavailable, N rows waiting"."""
        return {"buffered": self.counters.buffered, "error": self._writer.last_error}

    # --- producer side (request threads) ------------------------------------------------------------------------
    def record(self, source: str, model: str, texts: Sequence[object], result: BatchResult) -> None:
        """Queue a row per scored text (lengths in chars, ``ts`` in Unix s); never blocks: full, it drops and counts."""
        now = time.time()
        rows: list[Row] = []
        labels = result.labels
        drawn = self.sampler.draw(len(texts)) if self.sampler is not None else None
        for i, text in enumerate(texts):
            if result.errors[i] is not None:
                continue
            p = result.probabilities[i]
            content = str(text)
            row: Row = (
                now,
                source,
                model,
                len(content),
                int(result.tokens[i]),
                surface_kind(content),
                float(p[0]),
                float(p[1]),
                float(p[2]),
                labels[i],
                float(p.max()),
                content[:MAX_STORED_CHARS] if self.store_text else None,
                result.prediction_id(i) or None,
                encode_embedding(None if result.embeddings is None else result.embeddings[i]),
                content[:MAX_STORED_CHARS] if drawn is not None and drawn[i] and result.prediction_id(i) else None,
            )
            rows.append(fitted(row))
        if rows:
            self._writer.put(rows)

    # --- the writer's side --------------------------------------------------------------------------------------
    def start(self) -> None:
        self._writer.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._writer.stop(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every accepted row is in the store (tests, shutdown, checks); False after ``timeout`` s."""
        return self._writer.flush(timeout)

    def _write(self, rows: list[Row]) -> None:
        """One transaction (called by the writer thread); the counters move only after it commits."""
        with self.store.write() as conn:
            conn.execute(insert(predictions), as_params(rows))
            if self.sampler is not None and (drawn := [_drawn(row) for row in rows if row[REVIEW_TEXT] is not None]):
                self.sampler.admit(conn, drawn)
        if time.monotonic() - self._last_prune > _PRUNE_EVERY_S:
            try:  # the rows are committed: a failed prune must not make the writer write them again
                self.prune()
            except (SQLAlchemyError, StoreError) as exc:
                logger.warning("pruning the prediction log failed (%s); it is tried again in a minute", exc)

    def prune(self) -> None:
        """Delete rows older than ``max_age_days`` and all but the newest ``max_rows`` (ids grow with arrival)."""
        self._last_prune = time.monotonic()
        newest = select(func.max(predictions.c.id)).scalar_subquery()
        with self.store.write() as conn:
            conn.execute(delete(predictions).where(predictions.c.ts < time.time() - self.max_age_s))
            conn.execute(delete(predictions).where(predictions.c.id <= newest - self.max_rows))
            review_sampler.prune(conn, self.review_text_days)

    # --- readers ------------------------------------------------------------------------------------------------
    def _frame(self, query: Select[Any]) -> pd.DataFrame:
        with self.store.read() as conn:
            result: Result[Any] = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def window(
        self, *, last: int | None = None, since: float | None = None, model: str | None = None, text: bool = False
    ) -> pd.DataFrame:
        """The newest ``last`` rows (since a Unix time in s, of one model), oldest first, with the ``text`` column
        only if asked (None where text logging was off); ``embedding`` holds each row's stored embedding (float16
        bytes, or None; ``domain_classifier.as_matrix`` reads them), ``id`` the row id (grows with arrival: the
        drift check's confirmation rule reads which windows share no prediction)."""
        names = ["id", *COLUMNS[:-1], "embedding", *(["text"] if text else [])]
        query = select(*(predictions.c[name] for name in names))
        if since is not None:
            query = query.where(predictions.c.ts >= since)
        if model is not None:
            query = query.where(predictions.c.model == model)
        query = query.order_by(predictions.c.id.desc())
        if last is not None:
            query = query.limit(last)
        frame = self._frame(query)
        if frame.empty:
            frame = pd.DataFrame(columns=names)
        frame["embedding"] = [None if v is None else bytes(v) for v in frame["embedding"]]
        return frame.iloc[::-1].reset_index(drop=True)

    def by_ids(self, ids: Sequence[str]) -> pd.DataFrame:
        """The logged rows (without text) of these prediction ids, with a ``prediction_id`` column; unknown ids are
        simply absent. Queried in chunks: a backend limits the parameters of one statement."""
        columns = [predictions.c[name] for name in (*COLUMNS[:-1], "prediction_id")]
        unique = list(dict.fromkeys(ids))
        frames = [
            self._frame(select(*columns).where(predictions.c.prediction_id.in_(unique[start : start + _IDS_PER_QUERY])))
            for start in range(0, len(unique), _IDS_PER_QUERY)
        ]
        frames = [frame for frame in frames if not frame.empty]
        if not frames:
            return pd.DataFrame(columns=[*COLUMNS[:-1], "prediction_id"])
        return pd.concat(frames, ignore_index=True)

    def oldest(self, model: str) -> float | None:
        """The time of ``model``'s oldest prediction still in the log (None: none); older ones were pruned."""
        with self.store.read() as conn:
            value = conn.execute(select(func.min(predictions.c.ts)).where(predictions.c.model == model)).scalar_one()
        return None if value is None else float(value)

    def probabilities(self, *, since: float, model: str, before: str | None = None) -> pd.DataFrame:
        """The ``ts``, served ``label`` and ``p_<class>`` columns of ``model``'s predictions made since ``since``, and
        logged before the prediction ``before`` (a prediction id; all when None or not in the log), oldest first:
        the window a prediction-powered interval speaks for (no text, no embedding)."""
        names = ("ts", "label", "p_negative", "p_neutral", "p_positive")
        query = select(*(predictions.c[name] for name in names)).where(
            predictions.c.ts >= since, predictions.c.model == model
        )
        if before is not None:
            with self.store.read() as conn:
                found = conn.execute(select(predictions.c.id).where(predictions.c.prediction_id == before)).first()
            if found is not None:
                query = query.where(predictions.c.id < found[0])
        frame = self._frame(query.order_by(predictions.c.id))
        return frame if not frame.empty else pd.DataFrame(columns=list(names))

    def has(self, prediction_id: str) -> bool:
        with self.store.read() as conn:
            query = select(predictions.c.id).where(predictions.c.prediction_id == prediction_id).limit(1)
            return conn.execute(query).first() is not None

    def count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(predictions)).scalar_one())

    def traffic(self, since: float, bucket_s: int = 60) -> pd.DataFrame:
        """Predictions per ``bucket_s``-second bucket and label since ``since`` (Unix s), for the monitoring view."""
        bucket = (self._bucket_index(bucket_s) * bucket_s).label("bucket")
        query = (
            select(bucket, predictions.c.label, func.count().label("n"))
            .where(predictions.c.ts >= since)
            .group_by(bucket, predictions.c.label)
            .order_by(bucket)
        )
        frame = self._frame(query)
        if frame.empty:
            frame = pd.DataFrame({"bucket": pd.Series(dtype="int64"), "label": [], "n": pd.Series(dtype="int64")})
        frame["bucket"] = frame["bucket"].astype("int64")
        frame["time"] = pd.to_datetime(frame["bucket"], unit="s")
        return frame

    def _bucket_index(self, bucket_s: int) -> ColumnElement[Any]:
        """``floor(ts / bucket_s)`` on either backend: SQLite's CAST truncates (``ts`` is never negative), while
        PostgreSQL's CAST rounds, so it floors explicitly (SQLite has no ``floor`` in every build)."""
        if self.store.backend == "sqlite":
            return cast(predictions.c.ts / bucket_s, BigInteger)
        return cast(func.floor(predictions.c.ts / bucket_s), BigInteger)  # int4 overflows in 2038 once multiplied


def _drawn(row: Row) -> Drawn:
    """A logged row drawn into the review sample, as the sampler inserts it."""
    pid, text = row[12], row[14]  # row[14]: REVIEW_TEXT (a literal index keeps the tuple's types for mypy)
    assert pid is not None and text is not None  # only rows with an id are drawn (``record``)
    return Drawn(pid, row[0], row[2], row[9], (row[6], row[7], row[8]), text)


__all__ = ["COLUMNS", "LogCounters", "PredictionLog"]
