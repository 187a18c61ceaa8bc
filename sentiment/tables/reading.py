"""Reading an upload as a table of strings: its format (encoding, layout, separator, header) sniffed from content,
the text column guessed from one list of names, and every row read back in order, however ragged. Column names are
made distinct (``sentiment.tables.names``) and an Excel ``sep=`` line is read as the separator it names, not as data."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentiment.errors import BatchInputError, EmptyFileError, FileTooLargeError
from sentiment.tables.encoding import BOMS_UTF16, SAMPLE_BYTES, codec_for, detect_encoding
from sentiment.tables.layout import MAX_NOT_TEXT_SHARE, binary_signature, decide_layout, not_text_share, separator_hint
from sentiment.tables.names import unique_names

# Column names that hold the text, in order of preference: the one list for scoring a file and for reading a
# labelled one (``sentiment.datasets.user_csv``).
TEXT_COLUMN_NAMES = ("text", "tweet", "tweet_text", "sentence", "review", "content", "body", "message", "comment")


@dataclass(frozen=True)
class TableFormat:
    """What ``sniff`` decided: ``encoding`` as ``detect_encoding`` names it, the separator, and the column names
    (stripped, made distinct), in file order."""

    encoding: str
    delimiter: str
    columns: list[str]
    header: bool = True  # False for a plain text file: each line is one text
    why: str = ""  # the rule that decided table or lines (and the separator), for the summary
    bom: bool = False  # the file starts with a byte-order mark (the UI says "UTF-8 with BOM" only then)
    separator_line: bool = False  # the file starts with Excel's ``sep=X`` line: not data, and the copy keeps one

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


def _decodes(head: bytes, codec: str) -> bool:
    """Whether ``head`` (the file's first bytes, perhaps cut mid-character at the end) decodes strictly as ``codec``.
    Asked of the bytes, not of the decoded text: a U+FFFD in the text is a character people's exports do hold."""
    try:
        codecs.getincrementaldecoder(codec)("strict").decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _refuse_binary(name: str, encoding: str, head: bytes, codec: str, sample: str) -> None:
    """Raise when the file's start is not text: undecodable UTF-16, or too many characters that no text holds
    (a few stray NULs pass; see ``sentiment.tables.layout.MAX_NOT_TEXT_SHARE``)."""
    advice = "upload a CSV, TSV or .txt file"
    if encoding.startswith("utf-16") and not _decodes(head, codec):
        raise BatchInputError(f"{name} is not a text file (binary content that does not decode as UTF-16); {advice}")
    share = not_text_share(sample)
    if share > MAX_NOT_TEXT_SHARE:
        raise BatchInputError(
            f"{name} is not a text file (binary content: {share:.0%} of its first characters are control or "
            f"undecodable characters; text has at most {MAX_NOT_TEXT_SHARE:.0%}); {advice}"
        )


def sniff(path: Path, max_bytes: int | None = None) -> TableFormat:
    """Work out encoding, layout (table or one text per line), separator and header of an uploaded file from its
    content, refusing what cannot be a table of text. The file name plays no part.

    Raises ``EmptyFileError`` for a file with no text at all (empty, blank, only a ``sep=`` line) and
    ``BatchInputError`` for a file over ``max_bytes`` bytes, a known binary format, a sample that is mostly not text
    or an empty header row; each message says what to upload instead.
    """
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise FileTooLargeError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
    if size == 0:
        raise EmptyFileError(f"{path.name} is empty")
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    bom = head.startswith((*BOMS_UTF16, codecs.BOM_UTF8))  # the UI names a BOM only when there is one
    what = binary_signature(head)  # before anything reads the whole file
    if what is not None:
        raise BatchInputError(f"{path.name} is not a text file ({what}); upload a CSV, TSV or .txt file")
    encoding = detect_encoding(path)
    codec, errors = codec_for(encoding)
    sample = head.decode(codec, errors=errors)
    _refuse_binary(path.name, encoding, head, codec, sample)
    sample = sample.replace("\x00", "")
    hinted, skip = separator_hint(sample)
    sample = sample[skip:]
    if not sample.strip():
        raise EmptyFileError(f"{path.name} holds no text")
    lines = sample.splitlines(keepends=True)
    if len(head) == SAMPLE_BYTES and len(lines) > 1:
        sample = "".join(lines[:-1])  # the last line may be cut mid-way
    layout = decide_layout(sample, hinted)
    columns = [c.strip() for c in layout.columns]
    if not any(columns):
        raise BatchInputError(f"{path.name} has an empty header row; the first row must name the columns")
    return TableFormat(
        encoding=encoding,
        delimiter=layout.delimiter,
        columns=unique_names(columns)[0],
        header=layout.header,
        why=layout.why,
        bom=bom,
        separator_line=hinted is not None,
    )


def guess_text_column(columns: list[str]) -> str | None:
    """The column that obviously holds the text (the only one, or the first name of ``TEXT_COLUMN_NAMES`` present,
    ignoring case), or ``None`` when a person must choose."""
    if len(columns) == 1:
        return columns[0]
    lowered = {c.lower(): c for c in columns}
    for name in TEXT_COLUMN_NAMES:
        if name in lowered:
            return lowered[name]
    return None


def resolve_text_column(fmt: TableFormat, text_column: str | None, name: str) -> int:
    """Index of the text column: ``text_column`` when given, else the guessed one. Raises ``BatchInputError``
    listing the columns when none can be guessed or the one given is not there (``name``: the file, for messages)."""
    chosen = text_column or guess_text_column(fmt.columns)
    if chosen is None:
        raise BatchInputError(
            f"cannot tell which column of {name} holds the text; columns are: {', '.join(fmt.columns)}; "
            "choose one (text_column=...)"
        )
    if chosen not in fmt.columns:
        raise BatchInputError(f"no column {chosen!r} in {name}; columns are: {', '.join(fmt.columns)}")
    return fmt.columns.index(chosen)


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


def allow_csv_fields(max_chars: int) -> None:
    """Let the ``csv`` module read fields of up to ``max_chars`` characters (idempotent; never lowers the limit).

    The limit is process-wide (``csv.field_size_limit``, 128 KiB by default: one long review in a cell would be a
    rejected row). ``records`` raises it to the size of the file it reads, which bounds any field in it, and
    ``sentiment.runtime.configure_process`` raises it to the largest upload at start."""
    if csv.field_size_limit() < max_chars:
        csv.field_size_limit(max_chars)


def records(path: Path, fmt: TableFormat) -> Iterator[Record]:
    """The header as written (``["text"]`` for one text per line; names not yet made distinct), then every data row,
    each with the offset in bytes reached (for progress) and the number of NUL characters removed from it; ``None``
    cells for a row the CSV parser rejects (it is reported, and the rows after it are still read). A ``sep=`` first
    line is skipped."""
    allow_csv_fields(path.stat().st_size)  # no field holds more characters than the file has bytes
    raw = path.open("rb")
    codec, errors = codec_for(fmt.encoding)
    with io.TextIOWrapper(raw, encoding=codec, errors=errors, newline="") as text:
        lines = _NulStripper(iter(text))
        if fmt.separator_line:
            next(lines, None)
            lines.take()
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


def read_table(path: Path, max_bytes: int | None = None) -> pd.DataFrame:
    """A small delimited file as a frame of strings, read with the same sniffing (and the same rule for rows with
    too many or too few fields) as the scorer; rows the CSV parser rejects are left out. Raises as ``sniff`` does."""
    fmt = sniff(path, max_bytes)
    width = len(fmt.columns)
    read = records(path, fmt)
    next(read)  # the header
    rows = [fit_row(row, width, fmt.delimiter)[0] for row, _, _ in read if row is not None]
    return pd.DataFrame(rows, columns=fmt.columns, dtype=str)
