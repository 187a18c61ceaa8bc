"""Real SQLite faults on the one store's file, for tests of what a running service does when its store fails.

- ``locked``: another connection holds ``BEGIN EXCLUSIVE`` on the file; the store's writes wait its busy timeout
  (``SENTIMENT_DATABASE_TIMEOUT_S``: tests set it short) and fail with "database is locked".
- ``full``: ``PRAGMA max_page_count`` set to the file's size on the store's connections: a write that needs a new page
  fails with the error a full disk gives (SQLITE_FULL, "database or disk is full").
- ``read-only``: the file's permission bits, and ``PRAGMA query_only`` on the store's connections when the tests run
  as root (whom permission bits do not stop): "attempt to write a readonly database".

The pragmas reach the store's connections through an SQLAlchemy ``connect`` listener; the pool is emptied on the way
in and out, so every connection used inside the block has them and none outside does.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from sentiment.store import Store

FAULTS = ("locked", "full", "read-only")
ERRORS = {"locked": "database is locked", "full": "database or disk is full", "read-only": "readonly database"}


@contextmanager
def _pragmas(store: Store, *pragmas: str) -> Iterator[None]:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for pragma in pragmas:
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(pragma.format(pages=pages))
        cursor.close()

    store.engine.dispose()
    event.listen(store.engine, "connect", connect)
    try:
        yield
    finally:
        event.remove(store.engine, "connect", connect)
        store.engine.dispose()


@contextmanager
def store_fault(kind: str, store: Store) -> Iterator[None]:
    """Make every write to the SQLite ``store`` fail with a real SQLite error of this kind until the block ends."""
    assert store.backend == "sqlite" and store.engine.url.database, "these faults are SQLite's"
    path = Path(store.engine.url.database)
    if kind == "locked":
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
    elif kind == "full":
        with _pragmas(store, "PRAGMA max_page_count = {pages}"):
            yield
    elif kind == "read-only":
        path.chmod(0o444)
        try:
            with _pragmas(store, *(["PRAGMA query_only = ON"] if os.geteuid() == 0 else [])):
                yield
        finally:
            path.chmod(0o644)
    else:
        raise ValueError(f"unknown fault {kind!r}: one of {FAULTS}")
