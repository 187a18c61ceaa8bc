"""The one-time import of a data folder written before the one store (four SQLite files and ``reference/*.json``).

On the first start against an empty store, every row of ``predictions.sqlite``, ``feedback.sqlite``,
``evaluations.sqlite`` and ``drift_history.sqlite`` and every reference file moves into the store's tables:
- ids are kept (a ``feedback_id`` handed out earlier still names its row; the log's order is its id order), and each
  id sequence starts past the old file's high mark, so an id is never handed out twice;
- a feedback file of version 1 (one row per Gradio session) is merged as that version's upgrade did: one row per
  (prediction, label), keeping the first row's id, time, giver and text and the owner's newest decision;
- a reference file becomes one row (``key`` = its stem, ``payload`` = its exact text);
- the old files are read from copies and left exactly as they were.
It is one write transaction that also records the mark ``legacy_import`` in ``monitor_state``: a crash leaves the
store empty and the next start tries again; a store that has the mark (or any row) is never imported into again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text

from sentiment.errors import StoreTransferError
from sentiment.store.engine import Store
from sentiment.store.rows import advance_ids, insert_rows, is_empty
from sentiment.store.schema import drift_checks, evaluations, feedback, monitor_state, predictions, references

logger = logging.getLogger(__name__)

MARK = "legacy_import"  # monitor_state key: the import ran (its value: when, from where, rows per table)
FILES = {  # old file -> (its table, the store's table)
    "predictions.sqlite": ("predictions", predictions),
    "feedback.sqlite": ("feedback", feedback),
    "evaluations.sqlite": ("evaluations", evaluations),
    "drift_history.sqlite": ("drift_checks", drift_checks),
}
_FEEDBACK_VERSION = 2  # PRAGMA user_version of the feedback file this code reads as is; 0 with `session`: version 1
_PG_LOCK = 0x4C454743  # "LEGC": replicas starting together on one PostgreSQL import once
_REFERENCE = re.compile(r"^(?:(pinned|serving|estimation)-)?([0-9a-f]{16})$")
_KINDS = {None: "profile", "pinned": "pinned", "serving": "serving_since", "estimation": "estimation"}

# Version 1 feedback, merged as sentiment.datasets.feedback_schema's upgrade merges it (one row per group of rows
# with the same prediction and label; which values survive: the module docstring).
_V1_MERGED = """
SELECT first_id AS id, prediction_id, label, source, first_client AS client, reviewed, first_at AS created_at,
       reviewed_at, first_text AS text
FROM (
    SELECT *,
        ROW_NUMBER() OVER (
            PARTITION BY prediction_id, label
            ORDER BY reviewed = 'unreviewed', COALESCE(reviewed_at, created_at) DESC, id DESC
        ) AS decision_rank,
        MIN(id) OVER same AS first_id,
        MIN(created_at) OVER same AS first_at,
        FIRST_VALUE(session) OVER (PARTITION BY prediction_id, label ORDER BY id) AS first_client,
        FIRST_VALUE(text) OVER (PARTITION BY prediction_id, label ORDER BY text IS NULL, id) AS first_text
    FROM feedback
    WINDOW same AS (PARTITION BY prediction_id, label)
)
WHERE decision_rank = 1
ORDER BY first_id
"""


def legacy_files(data_dir: Path) -> list[Path]:
    """The old store files and reference files present in ``data_dir``."""
    found = [data_dir / name for name in FILES if (data_dir / name).is_file()]
    folder = data_dir / "reference"
    return found + (sorted(folder.glob("*.json")) if folder.is_dir() else [])


def import_legacy_data(store: Store, data_dir: Path) -> dict[str, int] | None:
    """Move ``data_dir``'s old files into ``store`` once (see the module docstring); returns rows per table, or None
    when there was nothing to do (no old files, already imported, or a store that already holds rows: logged).

    Raises ``StoreTransferError`` for an old file that cannot be read (the store is left empty: fix or move the file
    aside, and the next start imports) and ``StoreUnavailableError`` when the store does not answer."""
    if not legacy_files(data_dir):
        return None
    with store.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK})
        if conn.execute(select(monitor_state.c.key).where(monitor_state.c.key == MARK)).first() is not None:
            return None
        if not is_empty(conn):
            logger.warning(
                "old monitoring files in %s were not imported: the store %s already holds rows (import them into an "
                "empty store, e.g. a new SENTIMENT_DATABASE_URL, then move the rows with python -m sentiment export/"
                "import)",
                data_dir,
                store.url,
            )
            return None
        logger.info(
            "importing the old monitoring files of %s into the store %s, once (a large log takes a while: "
            "about 20,000 rows a second)",
            data_dir,
            store.url,
        )
        counts = _import(conn, data_dir)
        value = {"imported_at": time.time(), "data_dir": str(data_dir), "rows": counts}
        conn.execute(insert(monitor_state).values(key=MARK, value=json.dumps(value), updated_at=time.time()))
    logger.info(
        "imported the old monitoring files of %s into the store %s (rows: %s); the old files are left in place",
        data_dir,
        store.url,
        ", ".join(f"{name} {n}" for name, n in counts.items()),
    )
    return counts


def _import(conn: Connection, data_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, (old_table, table) in FILES.items():
        path = data_dir / name
        if not path.is_file():
            counts[table.name] = 0
            continue
        with _read_copy(path) as old:
            columns = _columns(old, old_table)
            if columns is None:  # a file the old code created but never wrote a table into
                counts[table.name] = 0
                continue
            rows = _feedback_rows(old, path, columns) if table is feedback else _rows(old, old_table, table, columns)
            counts[table.name] = insert_rows(conn, table, rows)
            advance_ids(conn, table, _sequence_mark(old, old_table))
    counts[references.name] = insert_rows(conn, references, _reference_rows(data_dir / "reference"))
    return counts


@contextmanager
def _read_copy(path: Path) -> Iterator[sqlite3.Connection]:
    """``path`` opened from a private copy (with its WAL, whose committed rows count): the original's bytes, and its
    -wal and -shm files, stay exactly as they were."""
    with tempfile.TemporaryDirectory(prefix="sentiment-legacy-") as folder:
        copy = Path(folder) / path.name
        for suffix in ("", "-wal"):
            if Path(f"{path}{suffix}").is_file():
                shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
        try:
            with closing(sqlite3.connect(copy)) as conn:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                yield conn
        except sqlite3.DatabaseError as exc:
            raise StoreTransferError(
                f"cannot import the old file {path}: {exc}; repair it or move it out of the data folder, and the "
                "next start imports the rest"
            ) from exc


def _columns(old: sqlite3.Connection, name: str) -> list[str] | None:
    present = [row[1] for row in old.execute(f"PRAGMA table_info({name})")]
    return present or None


def _rows(old: sqlite3.Connection, old_table: str, table: Table, present: list[str]) -> Iterator[dict[str, Any]]:
    """The old table's rows by id, as dicts of the store's columns (columns an older file lacks are None)."""
    wanted = [c.name for c in table.columns if c.name in present]
    cursor = old.execute(f"SELECT {', '.join(wanted)} FROM {old_table} ORDER BY id")
    missing = {c.name: None for c in table.columns if c.name not in present}
    for row in cursor:
        yield {**dict(zip(wanted, row, strict=True)), **missing}


def _feedback_rows(old: sqlite3.Connection, path: Path, present: list[str]) -> Iterator[dict[str, Any]]:
    (version,) = old.execute("PRAGMA user_version").fetchone()
    if version > _FEEDBACK_VERSION:
        raise StoreTransferError(
            f"cannot import the old file {path}: feedback version {version} is newer than this code reads "
            f"({_FEEDBACK_VERSION}); move it out of the data folder"
        )
    if "session" in present:  # version 1: identical feedback from several sessions was several rows
        cursor = old.execute(_V1_MERGED)
        names = [d[0] for d in cursor.description]
        return (dict(zip(names, row, strict=True)) for row in cursor)
    return _rows(old, "feedback", feedback, present)


def _sequence_mark(old: sqlite3.Connection, name: str) -> int:
    """The old file's AUTOINCREMENT mark (above its largest id when rows were deleted or merged away)."""
    try:
        row = old.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # no AUTOINCREMENT table ever held a row
        return 0
    return int(row[0]) if row else 0


def _reference_rows(folder: Path) -> list[dict[str, Any]]:
    """One row per reference file (the contract: ``sentiment.store.schema.references``). A file of another name, or
    not UTF-8, is skipped with a warning (it stays where it is)."""
    files: dict[str, tuple[str, str, Any]] = {}  # stem -> (kind, exact text, parsed JSON or None)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        match = _REFERENCE.match(path.stem)
        try:
            payload = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            match = None
        if match is None:
            logger.warning("not importing %s: not a reference file this app wrote", path)
            continue
        try:
            parsed = json.loads(payload)
        except ValueError:  # imported as it is: its reader rebuilds an unreadable reference, as before
            parsed = None
        files[path.stem] = (_KINDS[match.group(1)], payload, parsed if isinstance(parsed, dict) else None)
    profiles = {stem: data for stem, (kind, _, data) in files.items() if kind == "profile" and data}
    rows = []
    for stem, (kind, payload, data) in files.items():
        model, revision, created_at = _described(kind, stem, data or {}, profiles)
        if created_at is None:  # the file does not say: when it was last written
            created_at = (folder / f"{stem}.json").stat().st_mtime
        row = {"key": stem, "kind": kind, "model": model, "model_revision": revision, "created_at": created_at}
        rows.append({**row, "payload": payload})
    return rows


def _described(
    kind: str, stem: str, data: dict[str, Any], profiles: dict[str, dict[str, Any]]
) -> tuple[str, str, float | None]:
    """(model, revision, created_at) of one reference file where it says (or its profile says), else ("", "",
    None)."""
    if kind == "pinned":  # {"profile": "<key>.json"}: the pinned profile's model, written at the same moment
        data = profiles.get(str(data.get("profile", "")).removesuffix(".json"), {})
    if kind == "serving_since":  # {"since": t}; the key hashes the model: find it among the profiles' models
        since = data.get("since")
        for profile in profiles.values():
            raw = f"v{profile.get('version')}|{profile.get('model')}|{profile.get('model_revision')}|production|since"
            if hashlib.sha256(raw.encode()).hexdigest()[:16] == stem.removeprefix("serving-"):
                data = profile
                break
        else:
            data = {}
        data = {**data, "created_at": since}
    created = data.get("created_at")
    return (
        str(data.get("model") or ""),
        str(data.get("model_revision") or ""),
        float(created) if isinstance(created, int | float) else None,
    )
