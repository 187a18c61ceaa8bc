"""The production prediction log: one SQLite row per scored text, written off the request path.

Requests hand rows to a bounded in-memory queue and return at once; a writer thread drains it in batches into a
WAL-mode SQLite file. When the queue is full the rows are dropped and counted (a metric), never waited for: logging
must not slow or fail a prediction. Raw text is stored only if the settings allow it (off by default).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentiment.monitoring.features import surface_kind
from sentiment.monitoring.log_schema import COLUMNS, INSERTED, SCHEMA, Row, encode_embedding, migrate
from sentiment.results import BatchResult
from sentiment.settings import setting_default

logger = logging.getLogger(__name__)

MAX_STORED_CHARS = 10_000  # with text logging on, a 10 MB request must not become a 10 MB row


@dataclass
class LogCounters:
    """Plain counters the metrics layer reads (kept here so the log has no Prometheus dependency)."""

    written: int = 0
    dropped: int = 0
    failures: int = 0


class PredictionLog:
    """Up to ``capacity`` rows queued, then dropped; ``max_rows`` rows and ``max_age_days`` kept; timeouts in s."""

    def __init__(
        self,
        path: Path,
        *,
        capacity: int = setting_default("log_queue_rows"),
        store_text: bool = False,
        max_rows: int = setting_default("log_max_rows"),
        max_age_days: float = setting_default("log_max_days"),
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s  # how long a write waits for another connection's lock
        self.capacity = capacity
        self.store_text = store_text
        self.max_rows = max_rows
        self.max_age_s = max_age_days * 86400
        self.counters = LogCounters()
        self._queue: queue.SimpleQueue[list[Row] | None] = queue.SimpleQueue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._idle = threading.Condition(self._pending_lock)
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self._failure_logged = False
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    # --- producer side (request threads) ------------------------------------------------------------------------
    def record(self, source: str, model: str, texts: Sequence[object], result: BatchResult) -> None:
        """Queue a row per scored text (lengths in chars, ``ts`` in Unix s); never blocks: full, it drops and counts."""
        now = time.time()
        rows: list[Row] = []
        labels = result.labels
        for i, text in enumerate(texts):
            if result.errors[i] is not None:
                continue
            p = result.probabilities[i]
            content = str(text)
            rows.append(
                (
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
                )
            )
        if not rows:
            return
        with self._pending_lock:
            if self._pending + len(rows) > self.capacity:
                self.counters.dropped += len(rows)
                return
            self._pending += len(rows)
        self._queue.put(rows)

    # --- consumer side (one writer thread) ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written (tests, shutdown); False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < 256:  # drain what is already there: one transaction for a burst
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            rows = [row for chunk in batch for row in chunk]
            try:
                conn = conn or self._connect()
                self._write(conn, rows)
            except sqlite3.Error as exc:  # read-only, locked, full disk: count, log once, keep serving
                self.counters.failures += len(rows)
                if not self._failure_logged:
                    logger.error("prediction log write failed (%s); predictions are still served", exc)
                    self._failure_logged = True
                if conn is not None:
                    conn.close()
                    conn = None  # reconnect on the next batch: the store may have come back
            finally:
                with self._idle:
                    self._pending -= len(rows)
                    self._idle.notify_all()
        if conn is not None:
            conn.close()

    def _write(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        with conn:
            conn.executemany(
                f"INSERT INTO predictions ({', '.join(INSERTED)}) VALUES ({', '.join('?' * len(INSERTED))})", rows
            )
        self.counters.written += len(rows)
        self._failure_logged = False
        if time.monotonic() - self._last_prune > 60:
            self._prune(conn)

    def _prune(self, conn: sqlite3.Connection) -> None:
        self._last_prune = time.monotonic()
        with conn:
            conn.execute("DELETE FROM predictions WHERE ts < ?", (time.time() - self.max_age_s,))
            conn.execute("DELETE FROM predictions WHERE id <= (SELECT MAX(id) FROM predictions) - ?", (self.max_rows,))

    # --- readers ------------------------------------------------------------------------------------------------
    def window(
        self, *, last: int | None = None, since: float | None = None, model: str | None = None, text: bool = False
    ) -> pd.DataFrame:
        """The newest ``last`` rows (since a Unix time in s, of one model), oldest first, with the ``text`` column
        only if asked (None where text logging was off); ``embedding`` holds each row's stored embedding (float16
        bytes, or None; ``domain_classifier.as_matrix`` reads them), ``id`` the row id (grows with arrival: the
        drift check's confirmation rule reads which windows share no prediction)."""
        query = f"SELECT id, {', '.join(COLUMNS[:-1])}, embedding{', text' if text else ''} FROM predictions"
        params: list[float | int | str] = []
        where = []
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if model is not None:
            where.append("model = ?")
            params.append(model)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY id DESC"
        if last is not None:
            query += " LIMIT ?"
            params.append(last)
        with self._connect() as conn:
            frame = pd.read_sql_query(query, conn, params=params)
        return frame.iloc[::-1].reset_index(drop=True)

    def by_ids(self, ids: Sequence[str]) -> pd.DataFrame:
        """The logged rows (without text) of these prediction ids, with a ``prediction_id`` column; unknown ids are
        simply absent. Queried in chunks: SQLite limits the parameters of one statement."""
        columns = ", ".join((*COLUMNS[:-1], "prediction_id"))
        frames = []
        unique = list(dict.fromkeys(ids))
        with self._connect() as conn:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                frames.append(
                    pd.read_sql_query(
                        f"SELECT {columns} FROM predictions WHERE prediction_id IN ({', '.join('?' * len(chunk))})",
                        conn,
                        params=chunk,
                    )
                )
        if not frames:
            return pd.DataFrame(columns=[*COLUMNS[:-1], "prediction_id"])
        return pd.concat(frames, ignore_index=True)

    def has(self, prediction_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM predictions WHERE prediction_id = ? LIMIT 1", (prediction_id,))
            return row.fetchone() is not None

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    def traffic(self, since: float, bucket_s: int = 60) -> pd.DataFrame:
        """Predictions per ``bucket_s``-second bucket and label since ``since`` (Unix s), for the monitoring view."""
        with self._connect() as conn:
            frame = pd.read_sql_query(
                "SELECT CAST(ts / ? AS INTEGER) * ? AS bucket, label, COUNT(*) AS n FROM predictions "
                "WHERE ts >= ? GROUP BY bucket, label ORDER BY bucket",
                conn,
                params=[bucket_s, bucket_s, since],
            )
        frame["time"] = pd.to_datetime(frame["bucket"], unit="s")
        return frame


__all__ = ["COLUMNS", "PredictionLog", "migrate"]  # migrate: re-exported from log_schema
