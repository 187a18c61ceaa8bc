"""Parquet inputs for batch jobs: the same records as a delimited file (header, then rows of strings), so that the
scorer's rules (text column, empty texts, formulas, the summary) apply unchanged and the scored copy is a CSV.

A Parquet file is recognised by its magic bytes, never its name. Values become text as ``str`` writes them; a null is
an empty cell. Uploads in the app are not read as Parquet: only ``python -m sentiment score`` and ``score_inputs``.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from sentiment.errors import BatchInputError
from sentiment.tables.names import unique_names
from sentiment.tables.reading import Record, TableFormat, records, sniff

PARQUET = "parquet"  # TableFormat.encoding of a Parquet file: its text is typed columns, not an encoding
_MAGIC = b"PAR1"
_BATCH_ROWS = 4096


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_MAGIC)) == _MAGIC


def table_format(path: Path, max_bytes: int | None = None) -> TableFormat:
    """The format of a Parquet file (columns from its schema) or of a delimited one (``sniff``)."""
    if not is_parquet(path):
        return sniff(path, max_bytes)
    import pyarrow.parquet as pq

    try:
        columns = list(pq.ParquetFile(path).schema_arrow.names)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise BatchInputError(f"{path.name} starts like Parquet but cannot be read as Parquet: {exc}") from exc
    why = f"a Parquet file of {len(columns)} columns; values written as text"
    return TableFormat(encoding=PARQUET, delimiter=",", columns=unique_names(columns)[0], header=True, why=why)


def table_records(path: Path, fmt: TableFormat) -> Generator[Record, None, None]:
    """``reading.records`` for either kind of file: the header, then each row with the input's progress as a byte
    offset (estimated from rows read for Parquet) and the NULs removed (none: Parquet strings are not scanned)."""
    if fmt.encoding != PARQUET:
        yield from records(path, fmt)
        return
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    size, total = path.stat().st_size, max(table.metadata.num_rows, 1)
    yield list(table.schema_arrow.names), 0, 0  # as written: the planner makes repeated names distinct
    done = 0
    for batch in table.iter_batches(batch_size=_BATCH_ROWS):
        columns = [column.to_pylist() for column in batch.columns]
        for values in zip(*columns, strict=True):
            done += 1
            yield ["" if v is None else str(v) for v in values], size * done // total, 0
