"""Score a delimited text file row by row, in bounded memory, into a copy with four columns added.

The reader sniffs what people actually upload (UTF-8 with or without BOM, Latin-1, comma / semicolon / tab /
pipe separators, a plain one-text-per-line file) and keeps every original row and cell as it was. A row that
cannot be scored is written with empty new columns and reported; it never sinks the rest of the file. The result is
written to a ``.partial`` file and renamed only when complete, so an interrupted job never leaves a file that looks
finished. Cells a spreadsheet would execute as a formula are neutralised in the output.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.labels import LABELS
from sentiment.predictor import BatchResult

logger = logging.getLogger(__name__)

NEW_COLUMNS = ["label", *(f"score_{label}" for label in LABELS)]
TEXT_COLUMN_NAMES = ("text", "tweet", "tweet_text", "sentence", "review", "content", "body", "message", "comment")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?$")
_SAMPLE_BYTES = 64 * 1024
# A chunk also ends at this many characters: tokenising costs memory per token, so a file of a few huge cells must
# not reach the scorer as one batch (rows of ordinary length reach ``chunk_rows`` long before).
CHUNK_CHARS = 256 * 1024
MIXED = "utf-8+latin-1"  # UTF-8 rows and Latin-1 rows in one file (pasted together from different exports)
_MIXED_ERRORS = "sentiment-utf8-else-latin1"
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_BOMS_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")  # control characters, undecodable units


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: bytes that are not valid UTF-8 are read as Latin-1 (one character per byte)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error(_MIXED_ERRORS, _latin1_fallback)

Scorer = Callable[[list[str]], BatchResult]
ProgressFn = Callable[[float, str], None]


class BatchInputError(ValueError):
    """A file that cannot be scored at all (too large, binary, empty, no such column); says what to change."""


@dataclass(frozen=True)
class TableFormat:
    encoding: str
    delimiter: str
    columns: list[str]
    header: bool = True  # False for a plain text file: each line is one text
    bom: bool = False  # the file starts with a byte-order mark (the UI says "UTF-8 with BOM" only then)


@dataclass
class ScoreSummary:
    """What happened to every row: how many scored, how many skipped and why, the label mix."""

    rows: int = 0
    scored: int = 0
    truncated: int = 0
    text_column: str = ""
    label_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: list[int] = field(default_factory=list)  # first few 1-based data-row numbers, for the report
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "scored": self.scored,
            "truncated": self.truncated,
            "text_column": self.text_column,
            "label_counts": dict(self.label_counts),
            "skipped": dict(self.skipped),
            "skipped_rows": list(self.skipped_rows),
            "seconds": round(self.seconds, 3),
        }


def _detect_encoding(path: Path) -> str:
    """``utf-16`` after a UTF-16 byte-order mark; ``utf-8-sig`` when the whole file decodes as UTF-8 (a BOM is
    dropped); else ``MIXED`` when some bytes are UTF-8 characters (each row is read as UTF-8 where it is valid UTF-8,
    Latin-1 where not), and Latin-1 when none are. Never fails."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid, utf8_seen, tail = True, False, b""
    with path.open("rb") as handle:
        if handle.read(2) in _BOMS_UTF16:
            return "utf-16"
        handle.seek(0)
        for block in iter(lambda: handle.read(1 << 20), b""):
            if valid:
                try:
                    decoder.decode(block)
                    continue
                except UnicodeDecodeError:
                    valid = False
            utf8_seen = utf8_seen or _UTF8_SEQUENCE.search(tail + block) is not None
            tail = block[-3:]  # a character cut between two blocks
        if valid:
            try:
                decoder.decode(b"", final=True)
                return "utf-8-sig"
            except UnicodeDecodeError:
                pass
    if not utf8_seen:  # the UTF-8 check stopped at the first bad block: look at the blocks it had accepted too
        with path.open("rb") as handle:
            utf8_seen = any(_UTF8_SEQUENCE.search(block) for block in iter(lambda: handle.read(1 << 20), b""))
    return MIXED if utf8_seen else "latin-1"


def _codec(encoding: str) -> tuple[str, str]:
    """Python codec and error handler that read a file of the detected ``encoding``."""
    return ("utf-8-sig", _MIXED_ERRORS) if encoding == MIXED else (encoding, "replace")


def sniff(path: Path, max_bytes: int | None = None) -> TableFormat:
    """Work out encoding, delimiter and header of an uploaded file, refusing what cannot be a table of text."""
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise BatchInputError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
    if size == 0:
        raise BatchInputError(f"{path.name} is empty")
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    utf16 = head.startswith(_BOMS_UTF16)  # UTF-16 text ("Unicode text" from Excel) is full of NUL bytes
    bom = utf16 or head.startswith(codecs.BOM_UTF8)
    if (b"\x00" in head and not utf16) or head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"%PDF", b"\x89PNG")):
        raise BatchInputError(f"{path.name} is not a text file (binary content); upload a CSV, TSV or .txt file")
    encoding = _detect_encoding(path)
    codec, errors = _codec(encoding)
    sample = head.decode(codec, errors=errors)
    if utf16 and _NOT_TEXT.search(sample[:-1]):  # the last character may be cut by the sample's end
        raise BatchInputError(f"{path.name} is not a text file (binary content); upload a CSV, TSV or .txt file")
    if not sample.strip():
        raise BatchInputError(f"{path.name} holds no text")
    if path.suffix.lower() == ".txt":
        return TableFormat(encoding=encoding, delimiter="\t", columns=["text"], header=False, bom=bom)
    lines = sample.splitlines()
    if len(head) == _SAMPLE_BYTES and len(lines) > 1:
        sample = "\n".join(lines[:-1])  # the last line may be cut mid-way
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        header = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:
        raise BatchInputError(f"{path.name}: the header row cannot be read as CSV ({exc})") from None
    columns = [c.strip() for c in header]
    if not any(columns):
        raise BatchInputError(f"{path.name} has an empty header row; the first row must name the columns")
    return TableFormat(encoding=encoding, delimiter=delimiter, columns=columns, bom=bom)


def guess_text_column(columns: list[str]) -> str | None:
    """The column that obviously holds the text, or ``None`` when a person must choose."""
    if len(columns) == 1:
        return columns[0]
    lowered = {c.lower(): c for c in columns}
    for name in TEXT_COLUMN_NAMES:
        if name in lowered:
            return lowered[name]
    return None


def resolve_text_column(fmt: TableFormat, text_column: str | None, name: str) -> int:
    chosen = text_column or guess_text_column(fmt.columns)
    if chosen is None:
        raise BatchInputError(
            f"cannot tell which column of {name} holds the text; columns are: {', '.join(fmt.columns)}; "
            "choose one (text_column=...)"
        )
    if chosen not in fmt.columns:
        raise BatchInputError(f"no column {chosen!r} in {name}; columns are: {', '.join(fmt.columns)}")
    return fmt.columns.index(chosen)


def neutralise(cell: str) -> str:
    """Prefix a quote to cells a spreadsheet would run as a formula (OWASP CSV injection); numbers stay as they are."""
    if cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


MALFORMED = "malformed CSV row"


def _rows(path: Path, fmt: TableFormat) -> Iterator[tuple[list[str] | None, int]]:
    """Data rows with the byte offset reached (for progress), header skipped; ``None`` for a row the CSV parser
    rejects (it is reported, and the rows after it are still read)."""
    raw = path.open("rb")
    codec, errors = _codec(fmt.encoding)
    with io.TextIOWrapper(raw, encoding=codec, errors=errors, newline="") as text:
        if not fmt.header:
            for line in text:
                yield [line.rstrip("\r\n")], raw.tell()
            return
        reader = csv.reader(text, delimiter=fmt.delimiter)
        first = True
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                if not first:
                    yield None, raw.tell()
                first = False
                continue
            if not first:
                yield row, raw.tell()
            first = False


def _chunks(
    rows: Iterator[tuple[list[str] | None, int]], size: int, max_chars: int = CHUNK_CHARS
) -> Iterator[tuple[list[list[str] | None], int]]:
    """Rows in chunks of at most ``size`` rows and about ``max_chars`` characters (a longer row is a chunk alone)."""
    chunk: list[list[str] | None] = []
    chars = 0
    offset = 0
    for row, offset in rows:
        chunk.append(row)
        chars += sum(len(cell) for cell in row) if row else 0
        if len(chunk) >= size or chars >= max_chars:
            yield chunk, offset
            chunk = []
            chars = 0
    if chunk:
        yield chunk, offset


def score_file(
    path: Path,
    out_path: Path,
    score: Scorer,
    text_column: str | None = None,
    chunk_rows: int = 2000,
    max_bytes: int | None = None,
    progress: ProgressFn | None = None,
) -> ScoreSummary:
    """Score ``path`` into ``out_path`` (same delimiter, UTF-8), chunk by chunk; returns what happened per row."""
    started = time.perf_counter()
    csv.field_size_limit(max(max_bytes or 0, 1 << 27))
    fmt = sniff(path, max_bytes)
    index = resolve_text_column(fmt, text_column, path.name)
    width = len(fmt.columns)
    summary = ScoreSummary(text_column=fmt.columns[index])
    size = path.stat().st_size
    partial = out_path.with_name(out_path.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=fmt.delimiter if fmt.header else ",")
            writer.writerow([neutralise(c) for c in fmt.columns] + NEW_COLUMNS)
            for chunk, offset in _chunks(_rows(path, fmt), chunk_rows):
                _score_chunk(chunk, index, width, score, writer, summary)
                if progress is not None:
                    progress(min(offset / size, 1.0), f"{summary.rows:,} rows scored")
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    if summary.rows == 0:
        out_path.unlink(missing_ok=True)
        raise BatchInputError(f"{path.name} has a header but no data rows")
    summary.seconds = time.perf_counter() - started
    return summary


def _skip(summary: ScoreSummary, reason: str, row_number: int) -> None:
    summary.skipped[reason] = summary.skipped.get(reason, 0) + 1
    if len(summary.skipped_rows) < 20:
        summary.skipped_rows.append(row_number)


def _score_chunk(
    chunk: list[list[str] | None], index: int, width: int, score: Scorer, writer: Any, summary: ScoreSummary
) -> None:
    first_row = summary.rows + 1
    texts: list[str] = []
    positions: list[int] = []
    for offset, maybe_row in enumerate(chunk):
        if maybe_row is None:  # unparseable: written as an empty row so the row count still matches
            _skip(summary, MALFORMED, first_row + offset)
            chunk[offset] = [""] * width
            continue
        row = maybe_row
        if len(row) < width:
            row.extend([""] * (width - len(row)))  # a short row keeps its cells; missing ones are empty
        if len(row) > width:
            _skip(summary, f"more than {width} fields", first_row + offset)
            continue
        texts.append(row[index])
        positions.append(offset)
    result = score(texts) if texts else None
    new_cells: list[list[str]] = [[""] * len(NEW_COLUMNS) for _ in chunk]
    if result is not None:
        labels = result.labels
        for j, offset in enumerate(positions):
            error = result.errors[j]
            if error is not None:
                _skip(summary, error, first_row + offset)
                continue
            probs = result.probabilities[j]
            new_cells[offset] = [labels[j], *(f"{p:.6f}" for p in probs)]
            summary.label_counts[labels[j]] += 1
            summary.scored += 1
            summary.truncated += int(result.truncated[j])
    for offset, written in enumerate(chunk):
        writer.writerow([neutralise(c) for c in written or []] + new_cells[offset])
    summary.rows += len(chunk)
    summary.skipped_rows.sort()


def read_table(path: Path, max_bytes: int | None = None) -> pd.DataFrame:
    """A small delimited file as a frame of strings, read with the same sniffing as the scorer."""
    fmt = sniff(path, max_bytes)
    width = len(fmt.columns)
    rows = [(row + [""] * (width - len(row)))[:width] for row, _ in _rows(path, fmt) if row is not None]
    return pd.DataFrame(rows, columns=fmt.columns, dtype=str)


def label_counts_frame(summary: ScoreSummary) -> pd.DataFrame:
    """Counts per class, in class order, for the summary chart."""
    return pd.DataFrame({"label": list(LABELS), "count": [summary.label_counts[label] for label in LABELS]})


__all__ = [
    "NEW_COLUMNS",
    "BatchInputError",
    "ScoreSummary",
    "TableFormat",
    "guess_text_column",
    "label_counts_frame",
    "neutralise",
    "read_table",
    "score_file",
    "sniff",
]
