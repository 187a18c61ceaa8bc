"""The prediction log's writer thread: rows from a queue into the store, in arrival order, surviving store outages.

Requests put rows on a queue and return at once (``PredictionLog.record``); one thread drains it in batches, each
batch one transaction. When a write fails because the store cannot take it (PostgreSQL down, a SQLite file locked,
full or read-only: any database error but a refused row) the rows are not lost: they stay in memory, in order,
and the writer tries again after a backoff (``retry_initial_s`` doubling to ``retry_max_s``), until the store takes
them. What is held in memory (queued plus waiting) is bounded by the log's capacity: beyond it ``record`` drops new
rows and counts them. A row the database refuses as data (DataError, IntegrityError; ``log_schema.fitted`` makes
that unexpected) is written alone, and only a row refused alone is discarded and counted as failed, so it cannot
block the rows behind it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from sentiment.errors import StoreError
from sentiment.monitoring.log_schema import Row

logger = logging.getLogger("sentiment.monitoring.prediction_log")  # one logger for the whole log, as before

BATCH_ROWS = 2000  # rows per transaction at most: a backlog after an outage goes in a few large transactions
# After the first row of a quiet spell, wait this long for more before writing: rows that arrive one request at a
# time then share a transaction instead of each paying for its own (benchmarks/README.md, logging_overhead).
LINGER_S = 0.05
_REFUSED = (DataError, IntegrityError)  # the database says these rows are wrong, not that it cannot write now


@dataclass
class LogCounters:
    """Plain counters the metrics layer reads (kept here so the log has no Prometheus dependency).

    ``written``: rows committed. ``dropped``: rows refused at ``record`` because ``capacity`` rows were already held.
    ``failures``: rows lost after they were accepted (refused by the database as data, or still held at ``stop``).
    ``buffered``: rows accepted and not yet committed (queued, or waiting for the store to come back).
    ``retries``: write attempts that failed and will be tried again.
    """

    written: int = 0
    dropped: int = 0
    failures: int = 0
    buffered: int = 0
    retries: int = 0


class LogWriter:
    """The queue, the rows held for a retry, and the thread that writes them with ``write(rows)`` (one
    transaction; raises on failure)."""

    def __init__(
        self,
        write: Callable[[list[Row]], None],
        *,
        capacity: int,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        linger_s: float = LINGER_S,
    ) -> None:
        self._write = write
        self.linger_s = linger_s
        self.capacity = capacity
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.counters = LogCounters()
        self.last_error: str | None = None  # why the last write failed; None once a write succeeds
        self._queue: queue.SimpleQueue[list[Row] | None] = queue.SimpleQueue()
        self._held: deque[Row] = deque()  # taken off the queue, not yet committed (writer thread only)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._tries = 0  # write attempts begun (numbered from 1)
        self._failed_try = 0  # the number of the last attempt that failed

    # --- producer side (request threads) ----------------------------------------------------------------------
    def put(self, rows: list[Row]) -> bool:
        """Queue ``rows`` unless that would hold more than ``capacity`` rows; never blocks. False: dropped."""
        with self._lock:
            if self.counters.buffered + len(rows) > self.capacity:
                self.counters.dropped += len(rows)
                return False
            self.counters.buffered += len(rows)
        self._queue.put(rows)
        return True

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is held (one last try), then end the thread; rows the store cannot take now are lost, counted
        in ``failures`` and logged."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every accepted row is committed. False after ``timeout`` seconds, or as soon as a write that
        began during the wait fails: the store cannot take the rows now, and a scheduled check that waits to read
        them would only wait out its whole timeout before failing on the same store."""
        deadline = time.monotonic() + timeout
        with self._idle:
            began = self._tries
            while self.counters.buffered:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._failed_try > began:
                    return False
                self._idle.wait(remaining)
        return True

    # --- the writer thread --------------------------------------------------------------------------------------
    def _take(self, timeout: float | None) -> bool:
        """Move queued rows into ``_held``, waiting up to ``timeout`` s (None: until some arrive) for the first;
        False once ``stop`` was asked."""
        try:
            item = self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return True
        while True:
            if item is None:
                return False
            self._held.extend(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return True

    def _run(self) -> None:
        delay = 0.0  # the backoff before the next try, after a failed write (0: none)
        running = True
        while running:
            if not self._held:
                running = self._take(None)
                linger = time.monotonic() + self.linger_s
                while running and len(self._held) < BATCH_ROWS and (left := linger - time.monotonic()) > 0:
                    running = self._take(left)
            elif delay:  # wait out the backoff; rows and a stop request arriving meanwhile are taken, not written
                wake = time.monotonic() + delay
                while running and (left := wake - time.monotonic()) > 0:
                    running = self._take(left)
            else:
                running = self._take(0)
            delay = self._write_held(delay)
        if self._held:  # the last iteration tried once more after the stop request: the store cannot take them
            self._lose(len(self._held), "the prediction log stopped while the store could not take its rows")

    def _write_held(self, delay: float) -> float:
        """Write held rows in order, a batch per transaction; returns the next backoff (0 once all are written)."""
        while self._held:
            batch = [self._held[i] for i in range(min(len(self._held), BATCH_ROWS))]
            with self._lock:
                self._tries += 1
            try:
                self._write(batch)
            except _REFUSED:
                self._write_one_by_one(len(batch))
            except (SQLAlchemyError, StoreError) as exc:
                return self._failed(exc, delay)
            except Exception as exc:  # not a database error: these rows cannot be stored, the rest can
                logger.exception("prediction log rows could not be written (%s)", exc)
                self._write_one_by_one(len(batch))
            else:
                self._committed(len(batch))
        return 0.0

    def _write_one_by_one(self, n: int) -> None:
        """A batch the database refused: each row alone, so only the rows it refuses alone are lost."""
        for _ in range(n):
            try:
                self._write([self._held[0]])
            except (SQLAlchemyError, StoreError) as exc:
                if not isinstance(exc, _REFUSED):
                    return  # the store itself fails now: the outer loop backs off with the rest held
                self._lose(1, f"the store refused a prediction log row ({type(exc).__name__})")
            except Exception:  # a row no database can take
                self._lose(1, "a prediction log row could not be encoded")
            else:
                self._committed(1)

    def _committed(self, n: int) -> None:
        for _ in range(n):
            self._held.popleft()
        if self.last_error is not None:
            logger.warning("prediction log writes resumed after: %s", self.last_error)
            self.last_error = None
        with self._idle:
            self.counters.written += n
            self.counters.buffered -= n
            self._idle.notify_all()

    def _lose(self, n: int, why: str) -> None:
        for _ in range(n):
            self._held.popleft()
        logger.error("%s: %d row(s) lost", why, n)
        with self._idle:
            self.counters.failures += n
            self.counters.buffered -= n
            self._idle.notify_all()

    def _failed(self, exc: BaseException, delay: float) -> float:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] or type(exc).__name__
        if self.last_error is None:  # once per outage, not once per try
            logger.error(
                "prediction log write failed (%s); %d rows are kept in memory and written when the store takes them "
                "again; predictions are still served",
                reason,
                self.counters.buffered,
            )
        self.last_error = reason
        with self._idle:
            self.counters.retries += 1
            self._failed_try = self._tries
            self._idle.notify_all()  # a flush waiting for these rows learns they cannot be written now
        return min(self.retry_max_s, max(self.retry_initial_s, delay * 2))
