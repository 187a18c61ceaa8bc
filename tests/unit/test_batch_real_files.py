"""Files as people really send them (issue #15, cases 1, 2, 6, 7): each bug report's input with the value it must
give, and a property test for the class it belongs to.

Regression tests score with a real (tiny) model; property tests score with ``constant_scorer`` so that a few hundred
generated files run in seconds (they test the reader and writer, not the model).
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from scorers import constant_scorer
from sentiment.__main__ import main
from sentiment.errors import BatchInputError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.settings import Settings
from sentiment.tables.cells import neutralise
from sentiment.tables.reading import TableFormat, sniff
from sentiment.tables.scoring import NEW_COLUMNS, Scorer, score_file
from sentiment.tables.summary import ScoreSummary


def _examples(n: int) -> hsettings:
    return hsettings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


SCORES = [f"score_{label}" for label in LABELS]


@pytest.fixture(scope="module")
def predictor(tiny_model_dir: Path, session_settings: Settings) -> Predictor:
    return Predictor.load(str(tiny_model_dir), session_settings)


def _run(path: Path, score: Scorer = constant_scorer, **kwargs: object) -> tuple[list[list[str]], ScoreSummary, Path]:
    out = path.with_name(path.name + "_out")
    summary = score_file(path, out, score, **kwargs)  # type: ignore[arg-type]
    delimiter = sniff(path).output_delimiter
    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter)), summary, out


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


# --- 1. rows with more (or fewer) fields than the header --------------------------------------------------------


def test_a_row_with_an_unquoted_comma_keeps_every_column_in_place(predictor: Predictor, tmp_path: Path) -> None:
    """The bug report's file: row 1 has an unquoted comma. It was written back with 7 fields under a 6-field header,
    so readers shifted it (``label`` read as ``' fast shipping'``). Now it keeps the header's width, its extra field
    folded into ``text``, unscored, with the reason in ``error``."""
    path = tmp_path / "reviews.csv"
    path.write_text("id,text\n1,Good value, fast shipping\n2,Terrible support\n3,Fine\n")
    rows, summary, out = _run(path, predictor.predict_batch)
    assert {len(row) for row in rows} == {2 + len(NEW_COLUMNS)}
    assert pd.read_csv(out)["id"].tolist() == [1, 2, 3]
    with out.open(newline="") as handle:
        first = next(csv.DictReader(handle))
    assert first == dict.fromkeys(["label", *SCORES, "prediction_id"], "") | {
        "id": "1",
        "text": "Good value, fast shipping",
        "error": "more than 2 fields",
    }
    assert (summary.rows, summary.scored, summary.skipped, summary.skipped_rows) == (
        3,
        2,
        {"more than 2 fields": 1},
        [1],
    )


@_examples(80)
@given(
    width=st.integers(2, 5),
    rows=st.lists(
        st.lists(st.text(alphabet="ab ,\"'\n-=", max_size=8), min_size=0, max_size=8), min_size=1, max_size=12
    ),
)
def test_every_output_row_has_the_header_width_whatever_the_input(
    tmp_path_factory: pytest.TempPathFactory, width: int, rows: list[list[str]]
) -> None:
    """Random ragged files (rows of 0 to 8 fields under a header of 2 to 5): every output row has exactly the header's
    fields plus the added ones; cells stay in their columns; extra fields are joined into the last input column; only
    rows with too many fields are refused for that reason; pandas reads back one row per input row."""
    header = ["id", *(f"c{i}" for i in range(1, width - 1)), "text"]
    path = tmp_path_factory.mktemp("ragged") / "ragged.csv"
    path.write_text(_csv([header, *rows]))
    out_rows, summary, out = _run(path)
    if not sniff(path).header:  # most rows shorter than the header: one text per line (the layout tests cover it)
        assert {len(row) for row in out_rows} == {1 + len(NEW_COLUMNS)}
        return
    assert {len(row) for row in out_rows} == {width + len(NEW_COLUMNS)}
    assert len(out_rows) == len(rows) + 1 == summary.rows + 1
    for row, written in zip(rows, out_rows[1:], strict=True):
        kept = [*row[: width - 1], ",".join(row[width - 1 :])] if len(row) > width else row + [""] * (width - len(row))
        assert written[:width] == [neutralise(cell) for cell in kept]
        assert (written[width + NEW_COLUMNS.index("error")] == f"more than {width} fields") == (len(row) > width)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert frame.shape == (len(rows), width + len(NEW_COLUMNS))


# --- 2. input columns named like output columns ------------------------------------------------------------------


def test_a_label_column_in_the_input_keeps_its_values(predictor: Predictor, tmp_path: Path) -> None:
    """The user's own ``label`` column was shadowed by the prediction (two ``label`` columns, a reader saw ours).
    Now the input keeps its name and values and the prediction is ``predicted_label``."""
    path = tmp_path / "labelled.csv"
    path.write_text("text,label\nThe meeting is at noon,negative\n")
    rows, summary, out = _run(path, predictor.predict_batch)
    assert rows[0] == ["text", "label", "predicted_label", *SCORES, "error", "prediction_id"]
    with out.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["label"] == "negative" and row["predicted_label"] in LABELS
    assert summary.columns_added == {
        "label": "predicted_label",
        **{s: s for s in SCORES},
        "error": "error",
        "prediction_id": "prediction_id",
    }
    assert summary.as_dict()["columns_added"] == summary.columns_added


def test_every_added_name_already_taken_gets_the_next_free_one(tmp_path: Path) -> None:
    path = tmp_path / "taken.csv"
    path.write_text("text,Label,predicted_label,score_negative,ERROR,Prediction_ID\nfine,a,b,c,d,e\n")
    rows, summary, _ = _run(path)
    assert rows[0][6:] == [
        "predicted_label_2",
        "predicted_score_negative",
        "score_neutral",
        "score_positive",
        "scoring_error",
        "sentiment_prediction_id",
    ]
    assert rows[1][:6] == ["fine", "a", "b", "c", "d", "e"]
    assert list(summary.columns_added.values()) == rows[0][6:]


_TAKEN_NAMES = [
    *NEW_COLUMNS,
    *("predicted_label", "predicted_label_2", "scoring_error", "predicted_score_neutral", "sentiment_prediction_id"),
]


@_examples(100)
@given(
    header=st.lists(
        st.one_of(
            st.sampled_from(_TAKEN_NAMES).map(lambda n: n.upper() if len(n) % 3 == 0 else n),
            st.from_regex(r"[a-z][a-z0-9_ ]{0,9}", fullmatch=True),
        ),
        min_size=2,
        max_size=9,
        unique_by=lambda name: name.strip().casefold(),
    )
)
def test_output_names_are_unique_and_start_with_the_input_header(
    tmp_path_factory: pytest.TempPathFactory, header: list[str]
) -> None:
    """Random headers drawn partly from the names the scorer adds (any case): the output header starts with the
    input header unchanged and no two names are equal, ignoring case and surrounding spaces."""
    path = tmp_path_factory.mktemp("names") / "names.csv"
    path.write_text(_csv([header, [f"word{i}" for i in range(len(header))]] * 2))
    rows, summary, _ = _run(path, text_column=header[0].strip())
    assert rows[0][: len(header)] == header
    assert len({name.strip().casefold() for name in rows[0]}) == len(rows[0])
    assert rows[0][len(header) :] == list(summary.columns_added.values())
    assert list(summary.columns_added) == NEW_COLUMNS


# --- 6. the layout (table or one text per line) comes from the content, never the extension --------------------

EXCEL_UNICODE_TEXT = codecs.BOM_UTF16_LE + "id\ttext\tstars\r\n1\tI really like it\t5\r\n2\tIt is awful\t1\r\n".encode(
    "utf-16-le"
)
LINES_WITH_COMMAS = "I really like it\nNo, just no\nThe meeting is at noon\nFine, thanks, bye\nIt is awful\n"
EXTENSIONS = [".csv", ".tsv", ".txt", "", ".dat"]


def test_excel_unicode_text_saved_as_txt_is_read_as_a_table(predictor: Predictor, tmp_path: Path) -> None:
    """Excel's "Unicode Text" (UTF-16LE, tab-separated) saved as ``reviews.txt`` was read one text per line: the
    header scored as a review, ids and stars inside each text. Now: three columns, ``text`` scored, two rows."""
    path = tmp_path / "reviews.txt"
    path.write_bytes(EXCEL_UNICODE_TEXT)
    rows, summary, _ = _run(path, predictor.predict_batch)
    assert sniff(path).columns == ["id", "text", "stars"]
    assert rows[0][:3] == ["id", "text", "stars"]
    assert [row[:3] for row in rows[1:]] == [["1", "I really like it", "5"], ["2", "It is awful", "1"]]
    assert (summary.text_column, summary.rows, summary.scored) == ("text", 2, 2)
    assert summary.input_format["layout"] == "table" and summary.input_format["delimiter"] == "\t"


@pytest.mark.parametrize(
    "content",
    [EXCEL_UNICODE_TEXT, EXCEL_UNICODE_TEXT[2:], LINES_WITH_COMMAS.encode(), b"id;text\n1;Bon, pas cher\n2;Nul\n"],
    ids=["excel-unicode-text", "utf-16-without-bom", "lines-with-commas", "semicolons"],
)
def test_the_same_bytes_give_the_same_format_under_every_extension(tmp_path: Path, content: bytes) -> None:
    formats: list[TableFormat] = []
    for extension in EXTENSIONS:
        path = tmp_path / f"upload{extension}"
        path.write_bytes(content)
        formats.append(sniff(path))
    assert all(fmt == formats[0] for fmt in formats), formats


def test_utf16_without_a_byte_order_mark_is_read_as_utf16(tmp_path: Path) -> None:
    path = tmp_path / "no-bom.txt"
    path.write_bytes(EXCEL_UNICODE_TEXT[2:])
    fmt = sniff(path)
    assert (fmt.encoding, fmt.delimiter, fmt.columns) == ("utf-16-le", "\t", ["id", "text", "stars"])


def test_the_cli_reads_a_txt_table_as_a_table(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "reviews.txt"
    path.write_bytes(EXCEL_UNICODE_TEXT)
    out = tmp_path / "scored.tsv"
    assert main(["--model", str(tiny_model_dir), "score", str(path), str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["id", "text", "stars", *NEW_COLUMNS]
    assert [row[1] for row in rows[1:]] == ["I really like it", "It is awful"]
    assert '"scored": 2' in capsys.readouterr().out


_WORDS = ["good", "bad", "the", "service", "was", "fast", "slow", "really", "not", "it", "i", "love", "price", "ok"]
_SENTENCE = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8).map(" ".join)


@st.composite
def _lines_file(draw: st.DrawFn) -> list[str]:
    """Sentences, one per line, where fewer than half of the lines after the first hold commas."""
    plain = draw(st.lists(_SENTENCE, min_size=2, max_size=14))
    with_commas = draw(
        st.lists(st.lists(_SENTENCE, min_size=2, max_size=4).map(", ".join), max_size=(len(plain) - 1) // 2 + 1)
    )
    lines = plain + with_commas
    order = draw(st.permutations(range(len(lines))))
    shuffled = [lines[i] for i in order]
    return shuffled if sum("," in line for line in shuffled[1:]) * 2 < len(shuffled) - 1 else plain


@_examples(60)
@given(lines=_lines_file())
def test_a_file_of_sentences_is_one_text_per_line_under_every_extension(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    """Sentences with commas in some lines (the first line too): read as one text per line whatever the name, each
    line one row, in order. The rule: a table needs most lines to split into the first line's number of fields."""
    folder = tmp_path_factory.mktemp("lines")
    for extension in EXTENSIONS:
        path = folder / f"sentences{extension}"
        path.write_text("\n".join(lines) + "\n")
        assert not sniff(path).header
        rows, summary, _ = _run(path)
        assert [row[0] for row in rows[1:]] == lines and summary.rows == len(lines)


@pytest.mark.parametrize("name", ["review", "Customer Comments", "tweet_text"])
def test_a_one_column_file_named_by_its_header_keeps_commas_in_the_text(tmp_path: Path, name: str) -> None:
    path = tmp_path / "one.txt"
    path.write_text(f"{name}\nGood value, fast shipping\nBad\n")
    rows, summary, out = _run(path)
    assert [row[0] for row in rows] == [name, "Good value, fast shipping", "Bad"]
    assert summary.scored == 2 and summary.input_format["layout"] == "table"
    assert pd.read_csv(out)[name].tolist() == ["Good value, fast shipping", "Bad"]  # written comma-separated
    assert sniff(path).scored_name(path) == "one_scored.csv"


# --- 7. stray NUL bytes ------------------------------------------------------------------------------------------


def test_a_stray_nul_byte_is_removed_and_reported_not_a_reason_to_refuse(predictor: Predictor, tmp_path: Path) -> None:
    """``text\\nhello\\x00world\\nfine\\n`` was refused as "not a text file (binary content)"."""
    path = tmp_path / "export.csv"
    path.write_bytes(b"text\nhello\x00world\nfine\n")
    rows, summary, _ = _run(path, predictor.predict_batch)
    assert [row[0] for row in rows[1:]] == ["helloworld", "fine"]
    assert (summary.rows, summary.scored) == (2, 2)
    assert summary.cleaned == {"nul_removed": 1} and summary.cleaned_rows == {"nul_removed": [1]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "a PNG image"),
        (b"PK\x03\x04\x14\x00\x00\x00text,label", "ZIP archive"),
        (b"text\n" + b"abc\x00\x00\x00\x00\x00\n" * 50, r"binary content: 55% of its first characters"),
        (bytes(range(256)) * 4, "binary content"),
    ],
    ids=["png", "zip", "nul-padding", "all-bytes"],
)
def test_content_that_is_mostly_not_text_is_still_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(BatchInputError, match=message):
        sniff(path)


def test_the_binary_threshold_is_ten_percent_of_the_characters(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(b"text\n" + b"abcdefgh\x00\n" * 100)  # 10 characters a line, one NUL
    assert sniff(path).columns == ["text"]
    path.write_bytes(b"text\n" + b"abcdefg\x00\x00\n" * 100)
    with pytest.raises(BatchInputError, match="20% of its first characters"):
        sniff(path)


_CELL = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Co", "Cn", "Zl", "Zp"]),
    min_size=12,
    max_size=40,
).filter(str.strip)


@_examples(60)
@given(
    rows=st.lists(st.tuples(_CELL, st.none() | st.integers(0, 40)), min_size=1, max_size=20),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom"]),
)
def test_text_with_a_few_nuls_keeps_every_row_and_utf16_is_never_mistaken_for_it(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, int | None]], encoding: str
) -> None:
    """Random text (any script) with a NUL put into about half the rows (at most one NUL in 13 characters), saved as
    UTF-8 or UTF-16 (whose bytes are half NUL): every row is scored and comes back with its NULs removed; the rows
    that held one, and only those, are reported. A UTF-16 file is decoded as UTF-16, not read as NUL-laden UTF-8."""
    texts = [text if at is None else text[:at] + "\x00" + text[at:] for text, at in rows]
    dirty = [number for number, (_, at) in enumerate(rows, start=1) if at is not None]
    content = _csv([["id", "text"], *([str(i), t] for i, t in enumerate(texts))])
    if encoding == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + content.encode("utf-16-be")
    else:
        data = content.encode(encoding)
    path = tmp_path_factory.mktemp("nul") / "export.csv"
    path.write_bytes(data)
    out_rows, summary, _ = _run(path)
    assert [row[1] for row in out_rows[1:]] == [neutralise(t.replace("\x00", "")) for t in texts]
    assert summary.rows == summary.scored == len(texts)
    assert summary.cleaned.get("nul_removed", 0) == len(dirty)
    assert summary.cleaned_rows.get("nul_removed", []) == dirty
    assert summary.input_format["encoding"] == ("utf-16" if encoding.startswith("utf-16") else "utf-8-sig")


def test_a_replacement_character_in_a_utf16_export_is_text_not_a_decoding_error(tmp_path: Path) -> None:
    """U+FFFD is a character exports hold (text mangled before it reached the file); the UTF-16 rule asks whether
    the bytes decode, not whether the text holds one. Found by the property test above: ``'00000000000\\ufffd'``."""
    path = tmp_path / "export.csv"
    path.write_bytes("id,text\r\n0,caf\ufffd was fine\r\n".encode("utf-16"))
    out_rows, summary, _ = _run(path)
    assert [row[1] for row in out_rows[1:]] == ["caf\ufffd was fine"] and summary.scored == 1
    path.write_bytes(codecs.BOM_UTF16_LE + "id,text\n0,fine\n".encode("utf-16-le") + b"\x00\xdc\x41\x00")
    with pytest.raises(BatchInputError, match="does not decode as UTF-16"):  # a lone low surrogate, then "A"
        sniff(path)
