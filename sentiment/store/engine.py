"""Opening the one store: an SQLAlchemy engine for its address, brought to the newest schema by Alembic.

SQLite (the default, one file) and PostgreSQL (a store several replicas share) behave alike for the code above:
- SQLite runs in WAL mode (readers never wait for the writer) with ``synchronous=NORMAL``, which loses nothing an
  application crash (``kill -9``) interrupts; a write transaction starts with ``BEGIN IMMEDIATE`` (``Store.write``)
  so concurrent writers queue on the busy timeout instead of failing with "database is locked" when a read
  transaction tries to become a write one.
- PostgreSQL connections are checked before use (``pool_pre_ping``), so a database that restarted is reconnected,
  and opening one waits at most ``SENTIMENT_DATABASE_TIMEOUT_S``: an unreachable store fails fast.
Migrations take a lock first (PostgreSQL: an advisory lock; SQLite: the write lock), so replicas starting together
migrate once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, SQLAlchemyError

from sentiment.errors import StoreError, StoreUnavailableError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
BACKENDS = ("sqlite", "postgresql")
_MIGRATION_LOCK = 0x53454E54  # "SENT": the advisory lock id that serialises migrations of one PostgreSQL database
_WRITE = "sentiment_write"  # execution option: this connection's transactions write (SQLite: BEGIN IMMEDIATE)


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for logs, /health and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<an address SQLAlchemy cannot parse>"


class Store:
    """One database: ``write()`` and ``read()`` hand out connections in a transaction; ``backend`` is ``sqlite`` or
    ``postgresql``.

    A store may be created while its database is down (``Store.open(url, wait=False)``): the app then starts and
    serves predictions, and the store brings the schema up to date on the first use that finds the database
    answering. Until then ``read()`` / ``write()`` raise ``StoreUnavailableError`` at once (one connection attempt
    per ``retry_s`` seconds at most), and ``status()`` says why.
    """

    def __init__(self, engine: Engine, *, migrate: bool = True, retry_s: float = 2.0) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self.url = engine.url.render_as_string(hide_password=True)
        self.retry_s = retry_s
        self._migrate = migrate
        self._ready = not migrate
        self._ready_lock = threading.Lock()
        self._last_try = -math.inf
        self.last_error: str | None = None  # why the last use failed (no SQL, no password); None once it works

    @classmethod
    def open(cls, url: str, *, timeout_s: float = 5.0, migrate: bool = True, wait: bool = True) -> Store:
        """Connect to ``url`` and (``migrate``) bring its schema to the newest revision.

        Raises ``StoreError`` for an address this code cannot use (a bad URL, an unknown backend) and, when
        ``wait``, ``StoreUnavailableError`` if the database does not answer within ``timeout_s`` seconds (without
        ``wait`` the first use tries again).
        """
        store = cls(create_store_engine(url, timeout_s=timeout_s), migrate=migrate)
        if wait:
            try:
                store.ensure_ready(force=True)
            except StoreUnavailableError:
                store.dispose()
                raise
        return store

    def ensure_ready(self, *, force: bool = False) -> None:
        """Migrate once, the first time the database answers; ``StoreUnavailableError`` while it does not."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            now = time.monotonic()
            if not force and now - self._last_try < self.retry_s:
                raise StoreUnavailableError(f"the store {self.url} is unavailable: {self.last_error}")
            self._last_try = now
            try:
                upgrade(self)
            except SQLAlchemyError as exc:
                self._failed(exc)
                raise StoreUnavailableError(f"the store {self.url} is unavailable: {self.last_error}") from exc
            self._ready, self.last_error = True, None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success and rolled back on error;
        ``StoreUnavailableError`` when the database cannot be reached (other database errors pass through)."""
        self.ensure_ready()
        with self._unavailable_as_error(), self._begin_write() as conn:
            yield conn

    def _begin_write(self) -> AbstractContextManager[Connection]:
        return self.engine.execution_options(**{_WRITE: True}).begin()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (a transaction that is rolled back at the end: it never holds a write lock)."""
        self.ensure_ready()
        with self._unavailable_as_error(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            if isinstance(exc, OperationalError) and self.backend == "sqlite" and not _sqlite_unreachable(exc):
                raise  # a locked or full SQLite file is a write failure, not a lost database
            self._failed(exc)
            raise StoreUnavailableError(f"the store {self.url} is unavailable: {self.last_error}") from exc
        else:
            self.last_error = None

    def _failed(self, exc: BaseException) -> None:
        reason = _reason(exc)
        if reason != self.last_error:
            logger.warning("the store %s is unavailable: %s", self.url, reason)
        self.last_error = reason

    def ping(self) -> bool:
        """Whether the database answers now (a fresh round trip; the pool reconnects if it was lost)."""
        try:
            with self.read() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except (StoreUnavailableError, SQLAlchemyError):
            return False

    def status(self) -> dict[str, object]:
        """What /health and the Monitoring tab say about the store: backend, address (no password), whether it
        answered the last use, and why not."""
        available = self.last_error is None
        return {"backend": self.backend, "url": self.url, "available": available, "error": self.last_error}

    def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_unreachable(exc: OperationalError) -> bool:
    """A SQLite error that means the file cannot be used at all (its folder gone, unreadable), not a busy lock."""
    message = str(getattr(exc, "orig", exc)).lower()
    return "unable to open" in message or "disk i/o" in message or "readonly" in message


def create_store_engine(url: str, *, timeout_s: float = 5.0) -> Engine:
    """An engine for ``url`` set up for this app (see the module docstring); ``StoreError`` for a bad address."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"SENTIMENT_DATABASE_URL is not a database address: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": timeout_s, "check_same_thread": False})
        _sqlite_setup(engine, timeout_s)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # the bare scheme means psycopg2 to SQLAlchemy; psycopg 3 is installed
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=timeout_s,
            connect_args={"connect_timeout": max(1, math.ceil(timeout_s))},
        )
    raise StoreError(
        f"SENTIMENT_DATABASE_URL names a {backend!r} database: use sqlite:///path/file.sqlite or "
        "postgresql+psycopg://user:password@host:5432/database"
    )


def _sqlite_setup(engine: Engine, timeout_s: float) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (the documented recipe), and begin
    write transactions immediately."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # autocommit at the driver: the BEGIN below is ours
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(store: Store) -> None:
    """Bring the database to the newest schema (a no-op when it is there), once even if replicas start together."""
    config = alembic_config()
    with store._begin_write() as conn:
        if store.backend == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
        if MigrationContext.configure(conn).get_current_revision() == head_revision():
            return
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    logger.info("the store %s is at schema revision %s", store.url, head_revision())


def _reason(exc: BaseException) -> str:
    """The first line of a driver error, without the SQL and parameters SQLAlchemy appends."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
