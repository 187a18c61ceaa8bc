"""Which of several replicas on one PostgreSQL store runs the scheduled jobs: a session-level advisory lock.

PostgreSQL holds a session-level advisory lock (``pg_try_advisory_lock``) for as long as the connection that took it
stays open, and releases it itself when that session ends: the process was killed (``kill -9`` closes its socket),
the database restarted, or TCP keepalive found the peer gone. So the lock lives on a connection of its own, opened
outside any pool (a pooled connection handed back would keep the lock alive in the pool after the process stopped
leading), and kept open while the process leads. Before each job the holder checks that its session is still there
and still holds the lock: a leader whose connection dropped learns it there, stops leading and tries again, so two
replicas never both run a job after the database has handed the lock to the other one.

Advisory locks belong to one database: replicas of different deployments on one server (different databases) do not
exclude each other.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from sentiment.errors import StoreError

logger = logging.getLogger(__name__)

SCHEDULER_LOCK = 0x53454E544A4F4253  # "SENTJOBS": the scheduler's advisory lock id (the migration lock is "SENT")

_HOLDS = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
    " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :id)"
)


class AdvisoryLeadership:
    """Leadership through ``pg_try_advisory_lock(lock_id)`` on a dedicated connection to ``url``.

    ``acquire()`` never blocks longer than the connect timeout: it says whether this process leads now, taking the
    lock when free and checking it when already held. ``release()`` gives it up (closing the session).
    """

    def __init__(self, url: str | URL, *, timeout_s: float = 5.0, lock_id: int = SCHEDULER_LOCK) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise StoreError(
                f"an advisory lock needs a PostgreSQL store, not {parsed.get_backend_name()!r}: the scheduler of a "
                "SQLite store takes a file lock in the data folder instead"
            )
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        seconds = max(1, math.ceil(timeout_s))
        self._engine = create_engine(
            parsed,
            poolclass=NullPool,  # closing the connection must end the session, and with it the lock
            connect_args={
                "connect_timeout": seconds,
                "application_name": "sentiment-scheduler-leader",
                # a statement never hangs the scheduler's thread, and a vanished peer is noticed within ~25 s
                # the server's own keepalive on this session: a leader whose host vanishes (power, network) is
                # noticed by PostgreSQL, and its lock freed, within about 25 s instead of the OS default of hours
                "options": f"-c statement_timeout={seconds * 1000} -c tcp_keepalives_idle=10 "
                "-c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
        )
        self.lock_id = lock_id
        self.description = f"PostgreSQL advisory lock {lock_id:#x} on {parsed.render_as_string(hide_password=True)}"
        self.last_error: str | None = None  # why the last attempt could not reach the database
        self._conn: Connection | None = None
        self._guard = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether this object holds a session that took the lock (not checked against the database: ``acquire``)."""
        return self._conn is not None

    def acquire(self) -> bool:
        """True while this process leads: the lock is taken now, or the session that took it still holds it.

        False when another session holds the lock or the database does not answer; a leader whose session was lost
        stops leading here and at once tries again on a fresh connection.
        """
        with self._guard:
            if self._conn is not None:
                if self._still_held(self._conn):
                    return True
                logger.warning("lost the %s (%s): no longer leading", self.description, self.last_error)
                self._close()
            return self._try_lock()

    def _still_held(self, conn: Connection) -> bool:
        try:
            held = bool(conn.execute(_HOLDS, {"id": self.lock_id}).scalar())
        except SQLAlchemyError as exc:
            self.last_error = _reason(exc)
            return False
        if not held:
            self.last_error = "the session no longer holds the lock"
        return held

    def _try_lock(self) -> bool:
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            self._unreachable(exc)
            return False
        try:
            won = bool(conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id}).scalar())
        except SQLAlchemyError as exc:
            self._unreachable(exc)
            won = False
        if not won:
            conn.close()
            return False
        self._conn, self.last_error = conn, None
        return True

    def _unreachable(self, exc: BaseException) -> None:
        reason = _reason(exc)
        if reason != self.last_error:
            logger.warning("cannot reach the database for the %s: %s", self.description, reason)
        self.last_error = reason

    def release(self) -> None:
        """Stop leading: unlock and close the session (an already lost session is just dropped)."""
        with self._guard:
            if self._conn is None:
                return
            with contextlib.suppress(SQLAlchemyError):  # a lost session: the server released the lock with it
                self._conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": self.lock_id})
            self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()
        except SQLAlchemyError:
            # a session the server cut can leave the driver mid-command ("another command is already in progress"):
            # the rollback of close() fails, and the connection may already count as closed; either way it is gone
            with contextlib.suppress(SQLAlchemyError):
                conn.invalidate()

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()
    return first[0] if first else type(orig).__name__
