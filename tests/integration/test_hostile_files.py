"""Hostile files on the CSV path, named one by one: each is refused quickly with a reason, or scored, in bounded time
and memory (peak resident memory sampled every 10 ms while it runs), through the real service and a real model.

Complements the property-based ``test_security.py::test_any_bytes_as_a_csv_are_scored_or_refused_with_a_reason``,
whose inputs are too small to find what only size reveals.
"""

from __future__ import annotations

import csv
import gzip
import random
import sqlite3
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from prometheus_client import CollectorRegistry

from appserver import metric_value
from sentiment.errors import BatchInputError
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.tables.encoding import MIXED
from sentiment.tables.reading import sniff

MB = 2**20


@pytest.fixture(scope="module")
def service(tiny_model_dir: Path, session_settings: Settings) -> SentimentService:
    predictor = Predictor.load(str(tiny_model_dir), session_settings)
    return SentimentService(session_settings, ServiceMetrics(CollectorRegistry()), predictor=predictor)


@dataclass
class Cost:
    seconds: float = 0.0
    peak_growth_mb: float = 0.0


@contextmanager
def cost() -> Iterator[Cost]:
    """Wall time and peak resident-memory growth of the block (sampled, so a short spike is seen too)."""
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = Cost()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        result.peak_growth_mb = (max(peak, process.memory_info().rss) - before) / MB
        print(f"{result.seconds:.2f} s, peak resident memory +{result.peak_growth_mb:.0f} MB")


def _read(path: Path) -> list[list[str]]:
    fmt = sniff(path)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=fmt.delimiter))


def _bad_files(service: SentimentService) -> float:
    return metric_value(service.metrics.render().decode(), "sentiment_errors_total", {"reason": "bad_file"})


def _zip_bomb(path: Path, expanded_mb: int) -> None:
    zeros = b"0" * MB
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("data.csv", "w", force_zip64=True) as member,
    ):
        member.write(b"text\n")
        for _ in range(expanded_mb):
            member.write(zeros)


def _gzip_bomb(path: Path, expanded_mb: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(b"text\n")
        zeros = b"0" * MB
        for _ in range(expanded_mb):
            handle.write(zeros)


@pytest.mark.parametrize("make", [_zip_bomb, _gzip_bomb], ids=["zip", "gzip"])
def test_a_compression_bomb_renamed_csv_is_refused_at_once_without_being_expanded(
    service: SentimentService, tmp_path: Path, make
) -> None:  # type: ignore[no-untyped-def]
    """A ~100 KB archive that expands to 200 MB, uploaded as ``.csv``: refused from its first bytes as "not a text
    file" (counted as a bad file), in well under a second and a few MB of memory; nothing is decompressed and no
    job folder is left. Fails if the binary/archive check in ``sniff`` is removed (the bytes would be parsed)."""
    path = tmp_path / "innocent.csv"
    make(path, 200)
    assert path.stat().st_size < 2 * MB
    before = _bad_files(service)
    with cost() as spent, pytest.raises(BatchInputError, match=r"innocent\.csv is not a text file"):
        service.inspect_file(path)
    with pytest.raises(BatchInputError, match="not a text file"):
        service.score_file(path)
    assert spent.seconds < 1.0 and spent.peak_growth_mb < 50
    assert _bad_files(service) == before + 2
    assert not list((service.settings.data_dir / "batch").glob(f"*/{path.stem}*"))


def test_thousands_of_doubled_quotes_in_a_cell_come_back_exactly_and_scored(
    service: SentimentService, tmp_path: Path
) -> None:
    """Cells made of thousands of escaped quotes (``""``), one of a million: every cell is read back exactly as it
    was and scored (the huge one flagged truncated), in bounded time and memory. Fails if a long cell reaches the
    tokeniser whole (the predictor's per-text cut, ``sentiment.inference.predictor.CHARS_PER_TOKEN``), or the parser
    mangles quotes."""
    cells = ['"' * 1_000_000, 'she said "no" ' + '"' * 5000, "plain"] + ['"' * 2000 + "?"] * 300
    path = tmp_path / "quotes.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text"], *([c] for c in cells)])
    with cost() as spent:
        scored = service.score_file(path)
    rows = _read(scored.path)
    assert [row[0] for row in rows[1:]] == cells
    assert scored.summary.scored == len(cells) and scored.summary.truncated >= 2
    assert spent.seconds < 30 and spent.peak_growth_mb < 300


@pytest.mark.slow
def test_a_quote_that_never_closes_across_a_10_mb_file_is_one_cut_row_in_bounded_memory(
    service: SentimentService, tmp_path: Path
) -> None:
    """An opening quote that is never closed swallows the rest of a 10 MB file into one cell (that is what CSV
    means): it is scored as one row, flagged truncated, in seconds and a few hundred MB at most. Without the
    per-text character cut the tokeniser takes the 10 MB cell whole: ~30 s and ~3 GB here."""
    path = tmp_path / "unclosed.csv"
    lines = "".join(f"line {i} of a quote that never closes, with, commas\n" for i in range(200_000))
    path.write_text('id,text\n1,"' + lines)
    assert path.stat().st_size > 10 * MB
    with cost() as spent:
        scored = service.score_file(path)
    assert (scored.summary.rows, scored.summary.scored, scored.summary.truncated) == (1, 1, 1)
    assert spent.seconds < 10 and spent.peak_growth_mb < 400


def test_utf8_rows_and_latin1_rows_in_one_file_both_come_back_as_written(
    service: SentimentService, tmp_path: Path
) -> None:
    """Rows exported from different tools and pasted together: some UTF-8, some Latin-1. Each cell comes back as it
    was written (UTF-8 where the bytes are UTF-8, Latin-1 where not), every row scored. Fails if the file is read as
    one encoding: the whole file as Latin-1 turns the UTF-8 rows into mojibake (``cafÃ©``)."""
    rows = [
        ("utf-8", "1", "café crème, très bon"),
        ("latin-1", "2", "café crème, très bon"),
        ("utf-8", "3", "naïve “smart quotes” and emoji 😀"),
        ("latin-1", "4", "Größe: mittel, Preis: 5 €".replace("€", "EUR")),
    ]
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"id,text\n" + b"".join(f'{i},"{t}"\n'.encode(enc) for enc, i, t in rows))
    assert sniff(path).encoding == MIXED
    scored = service.score_file(path)
    assert [row[:2] for row in _read(scored.path)[1:]] == [[i, t] for _, i, t in rows]
    assert scored.summary.scored == len(rows)


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-16-le", "\t"), ("utf-16-be", ",")], ids=["excel-unicode-text", "utf-16-be"]
)
def test_a_utf16_file_with_a_byte_order_mark_is_read_not_refused_as_binary(
    service: SentimentService, tmp_path: Path, encoding: str, delimiter: str
) -> None:
    """UTF-16 with a byte-order mark (Excel's "Unicode Text" export is tab-separated UTF-16LE) is full of NUL bytes
    yet is text: it is read, scored and written back as UTF-8 with every cell intact. Fails if NUL bytes alone mark
    a file as binary (it was refused as "not a text file")."""
    table = [["text", "stars"], ["I love it ♥", "5"], ["très mauvais", "1"], ["日本語のレビュー", "3"]]
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeff".encode(encoding) + "\n".join(delimiter.join(r) for r in table).encode(encoding))
    scored = service.score_file(path)
    assert [row[:2] for row in _read(scored.path)] == table
    assert scored.summary.scored == 3


def test_utf16_text_hiding_binary_content_is_still_refused(service: SentimentService, tmp_path: Path) -> None:
    """A UTF-16 byte-order mark in front of binary data (control characters and undecodable units once decoded)
    does not get it in."""
    path = tmp_path / "fake.csv"
    path.write_bytes(b"\xff\xfe" + bytes(range(256)) * 50)
    with pytest.raises(BatchInputError, match="not a text file"):
        service.score_file(path)


def _sqlite_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (text TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [(f"row {i}",) for i in range(500)])
    conn.close()


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(5 * MB))


@pytest.mark.parametrize("make", [_sqlite_database, _random_bytes], ids=["sqlite-database", "random-bytes"])
def test_a_binary_file_renamed_csv_is_refused_quickly_with_the_reason(
    service: SentimentService, tmp_path: Path, make
) -> None:  # type: ignore[no-untyped-def]
    """A real SQLite database and 5 MB of random bytes, named ``.csv``: refused as "not a text file" from the first
    64 KB, quickly and in bounded memory. Fails if the binary check in ``sniff`` is removed."""
    path = tmp_path / "data.csv"
    make(path)
    with cost() as spent, pytest.raises(BatchInputError, match=r"data\.csv is not a text file"):
        service.score_file(path)
    assert spent.seconds < 1.0 and spent.peak_growth_mb < 50


def test_excel_unicode_text_saved_as_txt_is_scored_as_a_table_into_a_tsv(
    service: SentimentService, tmp_path: Path
) -> None:
    """Excel's "Unicode Text" export keeps the ``.txt`` name: the service reads it as the table it is (issue #15,
    case 6), offers its columns, and names the result for what it holds (tab-separated: ``.tsv``)."""
    path = tmp_path / "reviews.txt"
    path.write_bytes(
        b"\xff\xfe" + "id\ttext\tstars\r\n1\tI really like it\t5\r\n2\tIt is awful\t1\r\n".encode("utf-16-le")
    )
    fmt, guess = service.inspect_file(path)
    assert (fmt.columns, guess) == (["id", "text", "stars"], "text")
    scored = service.score_file(path)
    assert scored.path.name == "reviews_scored.tsv"
    assert [row[:3] for row in _read(scored.path)] == [
        ["id", "text", "stars"],
        ["1", "I really like it", "5"],
        ["2", "It is awful", "1"],
    ]
    assert (scored.summary.rows, scored.summary.scored) == (2, 2)
