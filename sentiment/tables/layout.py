"""Is an upload a delimited table or one text per line, and is it text at all? Decided from content, never the name.

People save the same table as ``.csv``, ``.tsv``, ``.txt`` (Excel's "Unicode Text"), ``.dat`` or with no extension,
and plain lists of sentences under any of those names too, so the file name says nothing reliable. The rule, applied
to the first 64 KB:

* **Excel's separator hint.** A first line ``sep=;`` (any one character after ``sep=``) names the separator; that
  line is not data, and the table's header is the line after it.
* **Table.** Some separator (comma, tab, semicolon, pipe) splits the first record into two or more fields, and at
  least half of the next records (up to 100, blank lines ignored) split into exactly as many. When the first record
  names a text column (``text``, ``review``, ``comments``...: ``HEADER_WORDS``), records with *more* fields count
  too: an unquoted separator inside the text lengthens a row without making the file any less a table. A file of
  one line is a table only when every field of that line is a single word (``id,text``), so a one-line sentence
  with a comma stays a sentence. Where several separators fit, the one most records agree with wins (then more
  columns, then the order above).
* **One-column table.** The first line alone names a text column (``text``, ``review_text``, ``Customer Feedback``).
* **One text per line** otherwise: a list of sentences, some holding commas, does not have the same number of
  separators on most lines.

Binary content is refused: known signatures (ZIP and so ``.xlsx``, gzip, PDF, PNG, JPEG, SQLite, old ``.xls``), or
more than ``MAX_NOT_TEXT_SHARE`` of the decoded characters being control characters (NUL included), private-use or
undecodable. A few stray NULs, as database and spreadsheet exports contain, stay well below that and are removed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

DELIMITERS = (",", "\t", ";", "|")
# Words that name a column of free text (``Review Text``, ``comments``, ``tweet_body``): a first line made of them is a
# header, not a text. Wider than the scorer's guess of *which* column to score (``reading.TEXT_COLUMN_NAMES``).
HEADER_WORDS = frozenset(
    {
        *("text", "tweet", "sentence", "review", "content", "body", "message", "comment", "feedback", "response"),
        *("answer", "opinion", "description", "note", "remark", "post", "reply", "caption", "utterance"),
    }
)
SAMPLE_RECORDS = 100
# Above this share of non-text characters a file is binary. Random bytes read as Windows-1252 (as bytes that are not
# UTF-8 are: ``sentiment.tables.encoding``) are ~14% control characters, a SQLite database is mostly NUL; text with
# stray NULs (a few per row) is far below.
MAX_NOT_TEXT_SHARE = 0.10
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")
_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one: save it as CSV)"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or Office document: save it as CSV"),
)
_WORD = re.compile(r"^\w+$")
# Excel writes ``sep=;`` as the first line when asked for a separator hint, and reads it back as one.
_SEPARATOR_HINT = re.compile(r"\Asep=([^\r\n\"])[ \t]*(?:\r\n|\r|\n|\Z)", re.IGNORECASE)
_NAME_PARTS = re.compile(r"[_\s-]+")


@dataclass(frozen=True)
class Layout:
    """What ``decide_layout`` found: the separator to read with, the header, and the rule that decided."""

    delimiter: str
    columns: list[str]  # the header's fields as written (not stripped); ``["text"]`` for one text per line
    header: bool  # False: each line is one text
    why: str  # the rule that decided, for the summary


def binary_signature(head: bytes) -> str | None:
    """What the file is when its first bytes are a known binary format, else ``None``."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    return None


def not_text_share(sample: str) -> float:
    """Share, in [0, 1], of the sample's characters that no text file holds: control characters (NUL included; tab
    and newlines are text), private-use and undecodable (U+FFFD) ones; 0.0 for an empty sample."""
    return len(NOT_TEXT.findall(sample)) / len(sample) if sample else 0.0


def names_text_column(name: str) -> bool:
    """``text``, ``Review``, ``tweet_text``, ``Customer Comments``: up to three words, one of them (singular or
    plural) a ``HEADER_WORDS`` word."""
    words = _NAME_PARTS.split(name.strip().casefold())
    return 0 < len(words) <= 3 and any(word in HEADER_WORDS or word.removesuffix("s") in HEADER_WORDS for word in words)


def _records(sample: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in reader:
            if any(cell.strip() for cell in record) or len(record) > 1:
                records.append(record)
            if len(records) > SAMPLE_RECORDS:
                break
    except csv.Error:
        pass  # the records read so far decide; the reader reports the bad row when scoring
    return records


@dataclass(frozen=True)
class _Fit:
    share: float  # of the records after the first that agree with it
    width: int  # fields in the first record
    longer_ok: bool  # the first record names a text column, so longer records agreed too
    rows: int  # records after the first, in the sample


def _fit(records: list[list[str]]) -> _Fit | None:
    """How well a first record of 2+ fields fits the records after it as their header, or None if it does not."""
    if not records or len(records[0]) < 2:
        return None
    width, data = len(records[0]), records[1:]
    if not data:  # one line: a header only if it reads like names, not like a sentence
        names = all(_WORD.match(c.strip()) or not c.strip() for c in records[0])
        return _Fit(1.0, width, False, 0) if names else None
    longer_ok = any(names_text_column(c) for c in records[0])
    share = sum(len(r) == width or (longer_ok and len(r) > width) for r in data) / len(data)
    return _Fit(share, width, longer_ok, len(data)) if share >= 0.5 else None


def _why(fit: _Fit, delimiter: str) -> str:
    name = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[delimiter]
    why = f"a table: the first line splits into {fit.width} {name}-separated fields"
    if not fit.rows:
        return why + " that read as column names"
    more = " or more (the header names a text column)" if fit.longer_ok else ""
    rows = f"{fit.rows} row" + ("s" if fit.rows != 1 else "")
    return why + f", and {fit.share:.0%} of the next {rows} into as many{more}"


def separator_hint(sample: str) -> tuple[str | None, int]:
    """The separator named by an Excel ``sep=X`` first line and the number of characters of that line (newline
    included), or ``(None, 0)`` when the sample does not start with one."""
    hint = _SEPARATOR_HINT.match(sample)
    return (hint.group(1), hint.end()) if hint else (None, 0)


def decide_layout(sample: str, delimiter: str | None = None) -> Layout:
    """Table (which separator, which columns) or one text per line, from a decoded sample whose lines are whole
    (the reader passes the first 64 KB, after any ``sep=`` line); never raises: anything else is one text per line.
    ``delimiter``: the separator the file's ``sep=`` line names, which makes it a table split at that separator."""
    if delimiter is not None:
        names = next(iter(_records(sample, delimiter)), [""])
        why = f"a table: its first line sep={delimiter} names the separator (Excel's separator hint)"
        return Layout(delimiter=delimiter, columns=names, header=True, why=why)
    best: tuple[float, int, int] | None = None
    chosen: tuple[str, list[list[str]], _Fit] | None = None
    for rank, delimiter in enumerate(DELIMITERS):
        records = _records(sample, delimiter)
        fit = _fit(records)
        if fit is not None and (best is None or (fit.share, fit.width, -rank) > best):
            best, chosen = (fit.share, fit.width, -rank), (delimiter, records, fit)
    if chosen is not None:
        delimiter, records, fit = chosen
        return Layout(delimiter=delimiter, columns=records[0], header=True, why=_why(fit, delimiter))
    first = next((line for line in sample.splitlines() if line.strip()), "")
    if names_text_column(first) and not any(d in first for d in DELIMITERS):
        # No separator splits the rows: read with one that does not occur, so a comma in a text stays in it.
        unused = next((d for d in DELIMITERS if d not in sample), ",")
        return Layout(
            delimiter=unused,
            columns=[first],
            header=True,
            why=f"a one-column table: the first line is the column name {first.strip()!r}",
        )
    return Layout(
        delimiter="\t",
        columns=["text"],
        header=False,
        why="one text per line: no separator splits most lines into the first line's number of fields",
    )
