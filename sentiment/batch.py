"""Score a delimited text file row by row, in bounded memory, into a copy with six columns added.

The reader takes what people actually upload (UTF-8 with or without BOM, UTF-16 with or without BOM, Latin-1,
comma / semicolon / tab / pipe separators, a plain one-text-per-line file) and decides its layout from the content,
never from the file name (the rule is in ``sentiment.layout``). Every original row and cell comes back in order:

* Added columns are ``label``, ``score_negative``, ``score_neutral``, ``score_positive``, ``error`` (why a row
  was not scored) and ``prediction_id`` (the id the prediction log keeps the row under, which feedback names; empty
  for a row not scored). A name the input already uses (case-insensitively) is never reused: the added column becomes
  ``predicted_<name>`` (``scoring_error`` for ``error``), then ``predicted_<name>_2``, ``_3``... until unique; the
  summary's ``columns_added`` maps each role to the name written.
* Every output row has exactly the header's fields. A row with more fields than the header (an unquoted separator
  inside a cell) keeps its first fields in their columns and the rest, joined by the separator as they were
  written, in the last input column; it is not scored and its ``error`` says ``more than N fields``. A row with
  fewer fields is padded with empty cells and scored; the summary counts it under ``cleaned``.
* NUL characters (stray ones occur in database and spreadsheet exports) are removed; the rows they came from are
  listed under ``cleaned``. Files that are mostly not text are refused (``sentiment.layout.MAX_NOT_TEXT_SHARE``).

A row that cannot be scored never sinks the rest of the file. The result is written to a ``.partial`` file and
renamed only when complete, so an interrupted job never leaves a file that looks finished. Cells a spreadsheet would
execute as a formula are neutralised in the output.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.labels import LABELS
from sentiment.layout import MAX_NOT_TEXT_SHARE, binary_signature, decide_layout, not_text_share
from sentiment.predictor import BatchResult

logger = logging.getLogger(__name__)

# the roles, and their names by default
NEW_COLUMNS = ["label", *(f"score_{label}" for label in LABELS), "error", "prediction_id"]
_ERROR = NEW_COLUMNS.index("error")
TEXT_COLUMN_NAMES = ("text", "tweet", "tweet_text", "sentence", "review", "content", "body", "message", "comment")
_FALLBACK_NAMES = {"error": "scoring_error", "prediction_id": "sentiment_prediction_id"}  # else predicted_<role>
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
_REPORTED_ROWS = 20  # row numbers listed per reason in the summary


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
    why: str = ""  # the rule that decided table or lines (and the separator), for the summary
    bom: bool = False  # the file starts with a byte-order mark (the UI says "UTF-8 with BOM" only then)

    @property
    def output_delimiter(self) -> str:
        """The scored copy keeps the input's separator; a file without one (one text per line, or a single column)
        becomes a comma-separated table."""
        return self.delimiter if self.header and len(self.columns) > 1 else ","

    def scored_name(self, path: Path) -> str:
        """``<stem>_scored.tsv`` when the copy is tab-separated, else ``<stem>_scored.csv``: named for what it holds,
        whatever the upload was called (Excel's "Unicode Text" is a tab-separated ``.txt``)."""
        suffix = ".tsv" if self.output_delimiter == "\t" else ".csv"
        return f"{path.stem}_scored{suffix}"

    def describe(self) -> dict[str, str | None]:
        """What the reader chose, for the summary."""
        return {
            "layout": "table" if self.header else "lines",
            "encoding": self.encoding,
            "delimiter": self.delimiter if self.header and len(self.columns) > 1 else None,  # None: no separator
            "why": self.why,
        }


@dataclass
class ScoreSummary:
    """What happened to every row: how many scored, how many skipped and why, what was cleaned, the label mix,
    and what the reader chose (layout, encoding, separator, text column, names of the added columns)."""

    rows: int = 0
    scored: int = 0
    truncated: int = 0
    text_column: str = ""
    label_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_rows: list[int] = field(default_factory=list)  # first few 1-based data-row numbers, for the report
    cleaned: dict[str, int] = field(default_factory=dict)  # rows changed but kept: "nul_removed", "short_row_padded"
    cleaned_rows: dict[str, list[int]] = field(default_factory=dict)  # first few row numbers per kind
    columns_added: dict[str, str] = field(default_factory=dict)  # role -> column name written
    input_format: dict[str, str | None] = field(default_factory=dict)
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
            "cleaned": dict(self.cleaned),
            "cleaned_rows": {kind: list(rows) for kind, rows in self.cleaned_rows.items()},
            "columns_added": dict(self.columns_added),
            "input_format": dict(self.input_format),
            "seconds": round(self.seconds, 3),
        }

    def skip(self, reason: str, row_number: int) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.skipped_rows) < _REPORTED_ROWS:
            self.skipped_rows.append(row_number)

    def clean(self, kind: str, row_number: int) -> None:
        self.cleaned[kind] = self.cleaned.get(kind, 0) + 1
        rows = self.cleaned_rows.setdefault(kind, [])
        if len(rows) < _REPORTED_ROWS:
            rows.append(row_number)


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NUL bytes fill one side of the byte pairs and not the other (Latin-script UTF-16
    saved without a byte-order mark); text with stray NULs has them on both sides, binary data too."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd >= 0.3 * pairs and even <= 0.05 * odd:
        return "utf-16-le"
    if even >= 0.3 * pairs and odd <= 0.05 * even:
        return "utf-16-be"
    return None


def _detect_encoding(path: Path) -> str:
    """``utf-16`` after a UTF-16 byte-order mark; ``utf-16-le``/``-be`` for UTF-16 without one; ``utf-8-sig`` when the
    whole file decodes as UTF-8 (a BOM is dropped); else ``MIXED`` when some bytes are UTF-8 characters (each row is
    read as UTF-8 where it is valid UTF-8, Latin-1 where not), and Latin-1 when none are. Never fails."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid, utf8_seen, tail = True, False, b""
    with path.open("rb") as handle:
        if handle.read(2) in _BOMS_UTF16:
            return "utf-16"
        handle.seek(0)
        bomless = _utf16_without_bom(handle.read(_SAMPLE_BYTES))
        if bomless is not None:
            return bomless
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


def _refuse_binary(name: str, encoding: str, sample: str) -> None:
    """Raise when the decoded sample is not text: undecodable UTF-16, or too many characters that no text holds
    (a few stray NULs pass; see ``sentiment.layout.MAX_NOT_TEXT_SHARE``)."""
    advice = "upload a CSV, TSV or .txt file"
    if encoding.startswith("utf-16") and "\ufffd" in sample[:-1]:  # the last character may be cut by the sample
        raise BatchInputError(f"{name} is not a text file (binary content that does not decode as UTF-16); {advice}")
    share = not_text_share(sample)
    if share > MAX_NOT_TEXT_SHARE:
        raise BatchInputError(
            f"{name} is not a text file (binary content: {share:.0%} of its first characters are control or "
            f"undecodable characters; text has at most {MAX_NOT_TEXT_SHARE:.0%}); {advice}"
        )


def sniff(path: Path, max_bytes: int | None = None) -> TableFormat:
    """Work out encoding, layout (table or one text per line), separator and header of an uploaded file from its
    content, refusing what cannot be a table of text. The file name plays no part."""
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise BatchInputError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
    if size == 0:
        raise BatchInputError(f"{path.name} is empty")
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    bom = head.startswith((*_BOMS_UTF16, codecs.BOM_UTF8))  # the UI names a BOM only when there is one
    what = binary_signature(head)  # before anything reads the whole file
    if what is not None:
        raise BatchInputError(f"{path.name} is not a text file ({what}); upload a CSV, TSV or .txt file")
    encoding = _detect_encoding(path)
    codec, errors = _codec(encoding)
    sample = head.decode(codec, errors=errors)
    _refuse_binary(path.name, encoding, sample)
    sample = sample.replace("\x00", "")
    if not sample.strip():
        raise BatchInputError(f"{path.name} holds no text")
    lines = sample.splitlines(keepends=True)
    if len(head) == _SAMPLE_BYTES and len(lines) > 1:
        sample = "".join(lines[:-1])  # the last line may be cut mid-way
    layout = decide_layout(sample)
    columns = [c.strip() for c in layout.columns]
    if not any(columns):
        raise BatchInputError(f"{path.name} has an empty header row; the first row must name the columns")
    return TableFormat(
        encoding=encoding, delimiter=layout.delimiter, columns=columns, header=layout.header, why=layout.why, bom=bom
    )


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


def added_column_names(columns: Sequence[str]) -> dict[str, str]:
    """Role -> name of each added column, none equal (ignoring case and surrounding spaces) to an input column or
    to another added one: ``label``, else ``predicted_label``, else ``predicted_label_2``, ``_3``..."""
    taken = {c.strip().casefold() for c in columns}
    names: dict[str, str] = {}
    for role in NEW_COLUMNS:
        name = role
        fallback = _FALLBACK_NAMES.get(role, f"predicted_{role}")
        attempt = 1
        while name.casefold() in taken:
            name = fallback if attempt == 1 else f"{fallback}_{attempt}"
            attempt += 1
        taken.add(name.casefold())
        names[role] = name
    return names


def neutralise(cell: str) -> str:
    """Prefix a quote to cells a spreadsheet would run as a formula (OWASP CSV injection); numbers stay as they are."""
    if cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


MALFORMED = "malformed CSV row"
Record = tuple[list[str] | None, int, int]  # cells (None: the parser rejected the row), byte offset, NULs removed


class _NulStripper:
    """Lines of a text stream with NUL characters removed, counting them (``take`` returns the count since the last
    call, i.e. for the record the CSV reader just built from these lines)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._removed = 0

    def __iter__(self) -> _NulStripper:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if "\x00" in line:
            self._removed += line.count("\x00")
            line = line.replace("\x00", "")
        return line

    def take(self) -> int:
        removed, self._removed = self._removed, 0
        return removed


def _records(path: Path, fmt: TableFormat) -> Iterator[Record]:
    """The header as written (``["text"]`` for one text per line), then every data row, each with the byte offset
    reached (for progress) and the NULs removed from it; ``None`` cells for a row the CSV parser rejects (it is
    reported, and the rows after it are still read)."""
    raw = path.open("rb")
    codec, errors = _codec(fmt.encoding)
    with io.TextIOWrapper(raw, encoding=codec, errors=errors, newline="") as text:
        lines = _NulStripper(iter(text))
        if not fmt.header:
            yield ["text"], 0, 0
            for line in lines:
                yield [line.rstrip("\r\n")], raw.tell(), lines.take()
            return
        reader = csv.reader(lines, delimiter=fmt.delimiter)
        header_seen = False
        while True:
            row: list[str] | None
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                row = None
            removed = lines.take()
            if header_seen:
                yield row, raw.tell(), removed
            elif row != []:  # blank lines before the header are not rows
                header_seen = True
                yield (row if row is not None else list(fmt.columns)), raw.tell(), 0


def fit_row(row: list[str], width: int, delimiter: str) -> tuple[list[str], str | None]:
    """The row with exactly ``width`` cells, and why it cannot be scored as it stands (``None`` if it can): extra
    fields are joined, as written, into the last cell; missing ones are empty."""
    if len(row) > width:
        return [*row[: width - 1], delimiter.join(row[width - 1 :])], f"more than {width} fields"
    return row + [""] * (width - len(row)), None


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
    summary = ScoreSummary(text_column=fmt.columns[index], input_format=fmt.describe())
    size = path.stat().st_size
    partial = out_path.with_name(out_path.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=fmt.output_delimiter)
            records = _records(path, fmt)
            header = next(records)[0] or list(fmt.columns)
            summary.columns_added = added_column_names(header)
            writer.writerow([neutralise(c) for c in header] + list(summary.columns_added.values()))
            for chunk, offset in _chunks(records, chunk_rows):
                _score_chunk(chunk, index, fmt.delimiter, len(header), score, writer, summary)
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


def _score_chunk(
    chunk: list[Record], index: int, delimiter: str, width: int, score: Scorer, writer: Any, summary: ScoreSummary
) -> None:
    first_row = summary.rows + 1
    rows: list[list[str]] = []
    new_cells: list[list[str]] = []
    texts: list[str] = []
    positions: list[int] = []
    for offset, (maybe_row, _, nuls) in enumerate(chunk):
        number = first_row + offset
        error: str | None
        if nuls:
            summary.clean("nul_removed", number)
        if maybe_row is None:  # unparseable: written as an empty row so the row count still matches
            row, error = [""] * width, MALFORMED
        else:
            if len(maybe_row) < width:
                summary.clean("short_row_padded", number)
            row, error = fit_row(maybe_row, width, delimiter)
        rows.append(row)
        cells = [""] * len(NEW_COLUMNS)
        cells[_ERROR] = error or ""
        new_cells.append(cells)
        if error is not None:
            summary.skip(error, number)
            continue
        texts.append(row[index])
        positions.append(offset)
    result = score(texts) if texts else None
    if result is not None:
        labels = result.labels
        for j, offset in enumerate(positions):
            reason = result.errors[j]
            if reason is not None:
                summary.skip(reason, first_row + offset)
                new_cells[offset][_ERROR] = reason
                continue
            probs = result.probabilities[j]
            new_cells[offset] = [labels[j], *(f"{p:.6f}" for p in probs), "", result.prediction_id(j)]
            summary.label_counts[labels[j]] += 1
            summary.scored += 1
            summary.truncated += int(result.truncated[j])
    for row, cells in zip(rows, new_cells, strict=True):
        writer.writerow([neutralise(c) for c in row] + cells)
    summary.rows += len(chunk)
    summary.skipped_rows.sort()


def read_table(path: Path, max_bytes: int | None = None) -> pd.DataFrame:
    """A small delimited file as a frame of strings, read with the same sniffing (and the same rule for rows with
    too many or too few fields) as the scorer; rows the CSV parser rejects are left out."""
    fmt = sniff(path, max_bytes)
    width = len(fmt.columns)
    records = _records(path, fmt)
    next(records)  # the header
    rows = [fit_row(row, width, fmt.delimiter)[0] for row, _, _ in records if row is not None]
    return pd.DataFrame(rows, columns=fmt.columns, dtype=str)


def label_counts_frame(summary: ScoreSummary) -> pd.DataFrame:
    """Counts per class, in class order, for the summary chart."""
    return pd.DataFrame({"label": list(LABELS), "count": [summary.label_counts[label] for label in LABELS]})


__all__ = [
    "NEW_COLUMNS",
    "BatchInputError",
    "ScoreSummary",
    "TableFormat",
    "added_column_names",
    "fit_row",
    "guess_text_column",
    "label_counts_frame",
    "neutralise",
    "read_table",
    "score_file",
    "sniff",
]
