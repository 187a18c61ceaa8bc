"""Score a delimited text file row by row, in bounded memory, into a copy with six columns added.

The reader takes what people actually upload (UTF-8 with or without BOM, UTF-16 with or without BOM, Latin-1,
comma / semicolon / tab / pipe separators, a plain one-text-per-line file) and decides its layout from the content,
never from the file name (the rule is in ``sentiment.tables.layout``). Every original row and cell comes back in order:

* Added columns are ``label``, ``score_negative``, ``score_neutral``, ``score_positive``, ``error`` (why a row
  was not scored) and ``prediction_id`` (the id the prediction log keeps the row under, which feedback names; empty
  for a row not scored). Every column of the copy has a distinct name (``sentiment.tables.names``): input columns
  named alike become ``text``, ``text_2``... (listed in the summary's ``columns_renamed``), and an added column never
  takes an input column's name (``predicted_label``...; ``columns_added`` maps each role to the name written).
* An Excel ``sep=X`` first line is read as the separator it names; the copy starts with one too, naming its own.
* Every output row has exactly the header's fields. A row with more fields than the header (an unquoted separator
  inside a cell) keeps its first fields in their columns and the rest, joined by the separator as they were
  written, in the last input column; it is not scored and its ``error`` says ``more than N fields``. A row with
  fewer fields is padded with empty cells and scored; the summary counts it under ``cleaned``.
* NUL characters (stray ones occur in database and spreadsheet exports) are removed; the rows they came from are
  listed under ``cleaned``. Files that are mostly not text are refused (``sentiment.tables.layout.MAX_NOT_TEXT_SHARE``).

A row that cannot be scored never sinks the rest of the file. The result is written to a ``.partial`` file and
renamed only when complete, so an interrupted job never leaves a file that looks finished. Cells a spreadsheet would
execute as a formula are neutralised in the output.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment.errors import EmptyFileError
from sentiment.results import BatchResult
from sentiment.settings import setting_default
from sentiment.tables.cells import neutralise
from sentiment.tables.names import NEW_COLUMNS, added_column_names, unique_names
from sentiment.tables.parquet import table_format, table_records
from sentiment.tables.progress import describe_progress
from sentiment.tables.reading import MALFORMED, Record, TableFormat, fit_row, resolve_text_column
from sentiment.tables.summary import ScoreSummary

logger = logging.getLogger(__name__)

_ERROR = NEW_COLUMNS.index("error")
# A chunk also ends at this many characters: tokenising costs memory per token, so a file of a few huge cells must
# not reach the scorer as one batch (rows of ordinary length reach ``chunk_rows`` long before).
CHUNK_CHARS = 256 * 1024


Scorer = Callable[[list[str]], BatchResult]
ProgressFn = Callable[[float, str], None]


def _chunks(rows: Iterator[Record], size: int, max_chars: int = CHUNK_CHARS) -> Iterator[tuple[list[Record], int]]:
    """Rows in chunks of at most ``size`` rows and about ``max_chars`` characters (a longer row is a chunk alone)."""
    chunk: list[Record] = []
    chars = 0
    offset = 0
    for record in rows:
        chunk.append(record)
        offset = record[1]
        chars += sum(len(cell) for cell in record[0]) if record[0] else 0
        if len(chunk) >= size or chars >= max_chars:
            yield chunk, offset
            chunk = []
            chars = 0
    if chunk:
        yield chunk, offset


@dataclass
class PreparedChunk:
    """A chunk of rows read, cleaned and fitted to the header, with the texts to score: everything about the rows
    that does not need the model. Plain data, so an engine can score ``texts`` on another machine and bring the
    result back to ``write_chunk``."""

    rows: list[list[str]]  # every row, exactly as wide as the header
    errors: list[str | None]  # why the reader could not score the row (``None``: its text goes to the model)
    cleaned: list[tuple[str, ...]]  # what was changed in each row but kept ("nul_removed", "short_row_padded")
    texts: list[str]  # the texts to score, for the rows in ``positions``
    positions: list[int]
    offset: int  # bytes of the input read up to the end of this chunk (for progress)


@dataclass(frozen=True)
class TablePlan:
    """An input sniffed and its header read: what both engines need before the first chunk."""

    path: Path
    fmt: TableFormat
    index: int  # of the text column
    header: list[str]  # as written, names made distinct
    size: int  # bytes, for progress
    renamed: dict[str, str] = field(default_factory=dict)  # new name -> name as written, for repeated names

    @property
    def width(self) -> int:
        return len(self.header)


def plan_table(path: Path, text_column: str | None = None, max_bytes: int | None = None) -> TablePlan:
    """Sniff ``path``, choose its text column and read its header (refusing, with the reason, what cannot be read:
    ``EmptyFileError`` for a file with nothing to score, a header without data rows included)."""
    csv.field_size_limit(max(max_bytes or 0, 1 << 27))
    fmt = table_format(path, max_bytes)
    index = resolve_text_column(fmt, text_column, path.name)
    rows = table_records(path, fmt)
    try:
        header = next(rows)[0] or list(fmt.columns)
        if next(rows, None) is None:
            raise EmptyFileError(f"{path.name} has a header but no data rows")
    finally:
        rows.close()
    header, renamed = unique_names(header)
    return TablePlan(path, fmt, index, header, path.stat().st_size, renamed)


def prepared_chunks(plan: TablePlan, chunk_rows: int) -> Iterator[PreparedChunk]:
    """Every data row of the planned input, in order, read and prepared chunk by chunk (bounded memory)."""
    csv.field_size_limit(1 << 27)  # also in a process that did not plan (a Ray worker)
    rows = table_records(plan.path, plan.fmt)
    next(rows)  # the header
    for chunk, offset in _chunks(rows, chunk_rows):
        yield prepare_chunk(chunk, plan.index, plan.fmt.delimiter, plan.width, offset)


def prepare_chunk(chunk: list[Record], index: int, delimiter: str, width: int, offset: int = 0) -> PreparedChunk:
    """Fit each row to the header and pick the texts to score; touches no summary, so it may run anywhere."""
    prepared = PreparedChunk([], [], [], [], [], offset)
    for position, (maybe_row, _, nuls) in enumerate(chunk):
        cleaned: list[str] = ["nul_removed"] if nuls else []
        error: str | None
        if maybe_row is None:  # unparseable: written as an empty row so the row count still matches
            row, error = [""] * width, MALFORMED
        else:
            if len(maybe_row) < width:
                cleaned.append("short_row_padded")
            row, error = fit_row(maybe_row, width, delimiter)
        prepared.rows.append(row)
        prepared.errors.append(error)
        prepared.cleaned.append(tuple(cleaned))
        if error is None:
            prepared.texts.append(row[index])
            prepared.positions.append(position)
    return prepared


def score_file(
    path: Path,
    out_path: Path,
    score: Scorer,
    text_column: str | None = None,
    chunk_rows: int = setting_default("csv_chunk_rows"),
    max_bytes: int | None = None,
    progress: ProgressFn | None = None,
) -> ScoreSummary:
    """Score ``path`` into ``out_path`` (same delimiter, UTF-8), chunk by chunk; returns what happened per row.

    A chunk is at most ``chunk_rows`` rows and about ``CHUNK_CHARS`` characters; ``max_bytes`` caps the upload's
    size in bytes; ``progress`` gets the share of the file's bytes read, in [0, 1], and a message. Raises
    ``BatchInputError`` when the file is refused (see ``sniff``) or its text column cannot be chosen, and
    ``EmptyFileError`` when it has nothing to score; no partial output is left then.
    """
    plan = plan_table(path, text_column, max_bytes)
    return write_scored(plan, out_path, scored_here(plan, score, chunk_rows), progress)


def scored_here(plan: TablePlan, score: Scorer, chunk_rows: int) -> Iterator[tuple[PreparedChunk, BatchResult | None]]:
    """The local engine: each prepared chunk with its texts scored in this process."""
    for chunk in prepared_chunks(plan, chunk_rows):
        yield chunk, score(chunk.texts) if chunk.texts else None


def write_scored(
    plan: TablePlan,
    out_path: Path,
    scored: Iterable[tuple[PreparedChunk, BatchResult | None]],
    progress: ProgressFn | None = None,
) -> ScoreSummary:
    """Write the scored chunks, in the order given, to ``out_path`` (via a ``.partial`` file renamed when complete)
    and count what happened to every row. Every engine ends here, so the output and the summary are the same
    whichever engine scored the texts."""
    started = time.perf_counter()
    summary = ScoreSummary(
        text_column=plan.fmt.columns[plan.index], input_format=plan.fmt.describe(), columns_renamed=dict(plan.renamed)
    )
    partial = out_path.with_name(out_path.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=plan.fmt.output_delimiter)
            if plan.fmt.separator_line:  # the spreadsheet that wrote the hint opens the copy the same way
                handle.write(f"sep={plan.fmt.output_delimiter}\r\n")
            summary.columns_added = added_column_names(plan.header)
            writer.writerow([neutralise(c) for c in plan.header] + list(summary.columns_added.values()))
            for chunk, result in scored:
                write_chunk(chunk, result, writer, summary)
                if progress is not None:
                    fraction = min(chunk.offset / plan.size, 1.0)
                    progress(fraction, describe_progress(fraction, summary.rows, time.perf_counter() - started))
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    if summary.rows == 0:
        out_path.unlink(missing_ok=True)
        raise EmptyFileError(f"{plan.path.name} has a header but no data rows")
    summary.seconds = time.perf_counter() - started
    return summary


def write_chunk(chunk: PreparedChunk, result: BatchResult | None, writer: Any, summary: ScoreSummary) -> None:
    """Write one prepared chunk with its scores (``result`` holds one row per text of ``chunk.texts``) and count
    its rows in ``summary``, in input order."""
    first_row = summary.rows + 1
    new_cells: list[list[str]] = []
    for position, (error, cleaned) in enumerate(zip(chunk.errors, chunk.cleaned, strict=True)):
        for kind in cleaned:
            summary.clean(kind, first_row + position)
        cells = [""] * len(NEW_COLUMNS)
        cells[_ERROR] = error or ""
        new_cells.append(cells)
        if error is not None:
            summary.skip(error, first_row + position)
    if result is not None:
        labels = result.labels
        for j, position in enumerate(chunk.positions):
            reason = result.errors[j]
            if reason is not None:
                summary.skip(reason, first_row + position)
                new_cells[position][_ERROR] = reason
                continue
            probs = result.probabilities[j]
            new_cells[position] = [labels[j], *(f"{p:.6f}" for p in probs), "", result.prediction_id(j)]
            summary.label_counts[labels[j]] += 1
            summary.scored += 1
            summary.truncated += int(result.truncated[j])
    for row, cells in zip(chunk.rows, new_cells, strict=True):
        writer.writerow([neutralise(c) for c in row] + cells)
    summary.rows += len(chunk.rows)
    summary.skipped_rows.sort()
