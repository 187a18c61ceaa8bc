"""Moving rows into the store with their ids: what the legacy import and ``import DIR`` share.

Ids name rows outside the store (a ``feedback_id`` handed to a visitor, the drift confirmation rule's window
bounds), so rows moved in keep theirs, and the id sequence is then advanced past the highest id ever handed out:
past the rows' own ids and past the sequence's old high mark (ids of deleted rows are never handed out again).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sentiment.store.schema import TABLES, monitor_state

ID_TABLES = tuple(table for table in TABLES if "id" in table.c)  # tables whose rows are numbered by the store
DATA_TABLES = tuple(table for table in TABLES if table is not monitor_state)
CHUNK = 2000  # rows per INSERT: bounded memory for a log of a million rows


def is_empty(conn: Connection, tables: Iterable[Table] = DATA_TABLES) -> bool:
    """Whether none of ``tables`` holds a row."""
    return all(conn.execute(select(table).limit(1)).first() is None for table in tables)


def row_counts(conn: Connection, tables: Iterable[Table] = TABLES) -> dict[str, int]:
    return {table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one()) for table in tables}


def insert_rows(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` (dicts by column name, ids included) in chunks; returns how many."""
    done = 0
    for chunk in _chunks(rows, CHUNK):
        conn.execute(insert(table), chunk)
        done += len(chunk)
    return done


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def id_high(conn: Connection, table: Table) -> int:
    """The highest id ``table`` has handed out: its largest row id, or its sequence's mark if that is higher."""
    largest = int(conn.execute(select(func.max(table.c.id))).scalar_one() or 0)
    if conn.dialect.name == "sqlite":
        mark = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table.name}).scalar()
    else:
        mark = conn.execute(
            text("SELECT pg_sequence_last_value(pg_get_serial_sequence(:t, 'id')::regclass)"), {"t": table.name}
        ).scalar()
    return max(largest, int(mark or 0))


def advance_ids(conn: Connection, table: Table, high: int) -> None:
    """Make ``table``'s next id larger than ``high`` and than every id it handed out; never moves it back."""
    high = max(high, id_high(conn, table))
    if high <= 0:
        return
    params = {"t": table.name, "high": high}
    if conn.dialect.name == "sqlite":  # AUTOINCREMENT's mark, one row per table in sqlite_sequence
        conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), params)
        conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :high)"), params)
    else:
        conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :high)"), params)


def upsert(conn: Connection, table: Table, row: dict[str, Any], key: str = "key") -> None:
    """Insert ``row`` or, when a row with its ``key`` exists, replace its other columns: one statement
    (``INSERT ... ON CONFLICT DO UPDATE`` on both backends), so two replicas writing one key at once never meet a
    unique-key error (a delete then insert can, under PostgreSQL's READ COMMITTED)."""
    statement: Any = (postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table).values(**row)
    changed = {name: statement.excluded[name] for name in row if name != key}
    conn.execute(statement.on_conflict_do_update(index_elements=[table.c[key]], set_=changed))
