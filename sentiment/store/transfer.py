"""The whole monitoring state as Parquet files: ``python -m sentiment export DIR`` and ``import DIR``.

An export is a backup and the way to move a store between SQLite and PostgreSQL: one Parquet file per table (every
column, ids and bytes included, exact) and ``manifest.json`` (schema revision, rows per table, each table's id high
mark, when, from which backend), written last, so a folder with a manifest is a finished export. The export reads
all tables in one transaction (one consistent moment, also while the app writes). An import refuses a store that
holds rows unless told to replace them, checks that the export is of this code's schema revision, keeps ids, and
continues each id sequence past the exported high mark; it is one transaction (all or nothing).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Column, Double, Integer, LargeBinary, Table, delete, select

from sentiment.errors import StoreTransferError
from sentiment.store.engine import Store, head_revision
from sentiment.store.rows import CHUNK, ID_TABLES, advance_ids, id_high, insert_rows, row_counts
from sentiment.store.schema import TABLES

MANIFEST = "manifest.json"
FORMAT = "sentiment-store-export"
FORMAT_VERSION = 1


def arrow_type(column: Column[Any]) -> pa.DataType:
    """The Parquet type that holds ``column``'s values exactly (64-bit ints and doubles, UTF-8 text, raw bytes)."""
    kind = column.type
    if isinstance(kind, LargeBinary):
        return pa.binary()
    if isinstance(kind, Double):
        return pa.float64()
    if isinstance(kind, Integer):
        return pa.int64()
    return pa.string()


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=bool(c.nullable)) for c in table.columns])


def export_store(store: Store, folder: Path) -> dict[str, Any]:
    """Write every table of ``store`` into ``folder`` (new or empty) and return the manifest."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise StoreTransferError(f"{folder} is not an empty folder: export into a new folder (nothing is overwritten)")
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, dict[str, Any]] = {}
    with store.read() as conn:
        if conn.dialect.name == "postgresql":  # every table as of one moment, while writers go on
            conn.execution_options(isolation_level="REPEATABLE READ")
        for table in TABLES:
            name = f"{table.name}.parquet"
            schema = arrow_schema(table)
            rows = 0
            result = conn.execution_options(yield_per=CHUNK).execute(select(table).order_by(*table.primary_key))
            with pq.ParquetWriter(folder / name, schema) as writer:
                for part in result.partitions():
                    writer.write_table(pa.Table.from_pylist([dict(r._mapping) for r in part], schema=schema))
                    rows += len(part)
                if rows == 0:
                    writer.write_table(schema.empty_table())
            tables[table.name] = {"file": name, "rows": rows}
            if table in ID_TABLES:
                tables[table.name]["id_high"] = id_high(conn, table)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_revision": store.revision(),
        "created_at": time.time(),
        "backend": store.backend,
        "tables": tables,
    }
    partial = folder / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=2))
    os.replace(partial, folder / MANIFEST)  # last, and whole: a folder with a manifest is a finished export
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the export in ``folder``, checked against this code's schema; ``StoreTransferError`` says
    what is wrong."""
    if not folder.is_dir():
        raise StoreTransferError(f"no export folder {folder}: give a folder written by python -m sentiment export")
    path = folder / MANIFEST
    if not path.is_file():
        raise StoreTransferError(
            f"no {MANIFEST} in {folder}: not a folder written by python -m sentiment export, or an export that did "
            "not finish (export again)"
        )
    try:
        manifest = json.loads(path.read_text())
        tables = manifest["tables"]
        known = manifest["format"] == FORMAT and isinstance(tables, dict)
        counts = {name: int(tables[name]["rows"]) for name in tables} if known else {}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise StoreTransferError(f"{path} is not a readable export manifest ({type(exc).__name__}: {exc})") from exc
    if not known or manifest.get("format_version") != FORMAT_VERSION:
        raise StoreTransferError(f"{path} is not a manifest of a {FORMAT} version {FORMAT_VERSION} folder")
    if manifest.get("schema_revision") != head_revision():
        raise StoreTransferError(
            f"{folder} was exported at schema revision {manifest.get('schema_revision')!r}, this code's store is at "
            f"{head_revision()!r}: import it with the app version that wrote it, and export again with this one"
        )
    if set(counts) != {t.name for t in TABLES}:
        raise StoreTransferError(f"{path} lists the tables {sorted(counts)}, expected {sorted(t.name for t in TABLES)}")
    return dict(manifest)


def import_store(store: Store, folder: Path, *, replace: bool = False) -> dict[str, int]:
    """Load the export in ``folder`` into ``store``; returns rows per table. The store must be empty unless
    ``replace`` (then its rows are deleted first, in the same transaction)."""
    manifest = read_manifest(folder)
    files = {table.name: _checked_file(folder, table, manifest["tables"][table.name]) for table in TABLES}
    with store.write() as conn:
        held = {name: n for name, n in row_counts(conn).items() if n}
        if held and not replace:
            raise StoreTransferError(
                f"the store {store.url} is not empty ({', '.join(f'{n} {name}' for name, n in held.items())}): "
                "import into an empty store, or pass --replace to delete these rows first"
            )
        for table in reversed(TABLES):
            conn.execute(delete(table))
        for table in TABLES:
            batches = files[table.name].iter_batches(batch_size=CHUNK)
            insert_rows(conn, table, (row for batch in batches for row in batch.to_pylist()))
            if table in ID_TABLES:
                advance_ids(conn, table, int(manifest["tables"][table.name].get("id_high", 0)))
        return row_counts(conn)


def _checked_file(folder: Path, table: Table, entry: dict[str, Any]) -> pq.ParquetFile:
    path = folder / str(entry.get("file", ""))
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise StoreTransferError(f"cannot read {path} of the export ({exc}): export again") from exc
    columns = parquet.schema_arrow.names
    if columns != [c.name for c in table.columns]:
        raise StoreTransferError(f"{path} has the columns {columns}, not those of the table {table.name}")
    if parquet.metadata.num_rows != int(entry["rows"]):
        raise StoreTransferError(
            f"{path} holds {parquet.metadata.num_rows} rows, the manifest says {entry['rows']}: the export is damaged"
        )
    return parquet
