"""CSV scoring: what people upload (encodings, separators, bad rows) comes back complete, in order, and safe."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sentiment.errors import BatchInputError
from sentiment.inference.predictor import Predictor
from sentiment.results import BatchResult
from sentiment.settings import Settings
from sentiment.tables.cells import neutralise
from sentiment.tables.reading import sniff
from sentiment.tables.scoring import NEW_COLUMNS, score_file


@pytest.fixture(scope="module")
def predictor(tiny_model_dir: Path, session_settings: Settings) -> Predictor:
    return Predictor.load(str(tiny_model_dir), session_settings)


def _score(predictor: Predictor, path: Path, **kwargs: object) -> tuple[list[list[str]], object]:
    out = path.with_name(path.stem + "_out.csv")
    summary = score_file(path, out, predictor.predict_batch, **kwargs)  # type: ignore[arg-type]
    fmt = sniff(out)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=fmt.delimiter))
    return rows, summary


def test_rows_and_columns_are_kept_in_order_with_four_columns_added(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,text,when\n1,i love this,mon\n2,"hate it, truly",tue\n3,"multi\nline",wed\n')
    rows, summary = _score(predictor, path)
    assert rows[0] == ["id", "text", "when", *NEW_COLUMNS]
    assert [r[:3] for r in rows[1:]] == [
        ["1", "i love this", "mon"],
        ["2", "hate it, truly", "tue"],
        ["3", "multi\nline", "wed"],
    ]
    assert all(r[3] in {"negative", "neutral", "positive"} for r in rows[1:])
    assert all(abs(sum(float(x) for x in r[4:7]) - 1) < 1e-4 for r in rows[1:])
    assert summary.rows == summary.scored == 3


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("text;note\ncafé au lait;x\nmauvais;y\n", "latin-1", ";"),
        ("\ufefftext,note\nhello,x\nworld,y\n", "utf-8", ","),
        ("note\ttext\nx\thello\ny\tworld\n", "utf-8", "\t"),
        ("text|note\nhello|x\nworld|y\n", "utf-8", "|"),
    ],
)
def test_encodings_and_separators_are_detected(
    predictor: Predictor, tmp_path: Path, content: str, encoding: str, delimiter: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content.encode(encoding))
    rows, summary = _score(predictor, path)
    assert rows[0][:2] == content.lstrip("\ufeff").splitlines()[0].split(delimiter)
    assert summary.scored == 2
    assert "café au lait" in rows[1] or "hello" in rows[1] or "x" in rows[1]


def test_a_plain_text_file_is_one_text_per_line(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("i love it\nno, just no\nok\n")
    rows, _ = _score(predictor, path)
    assert rows[0] == ["text", *NEW_COLUMNS]
    assert [r[0] for r in rows[1:]] == ["i love it", "no, just no", "ok"]


def test_empty_and_ragged_rows_are_reported_not_dropped(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,text\n1,good\n2,\n3,   \n4\n5,fine,extra\n6,great\n")
    rows, summary = _score(predictor, path)
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]
    assert rows[2][2:] == ["", "", "", "", "empty text", ""]
    assert rows[5][:2] == ["5", "fine,extra"] and rows[5][-2] == "more than 2 fields"
    assert {len(r) for r in rows} == {8}
    assert summary.scored == 2 and summary.rows == 6
    assert summary.skipped == {"empty text": 2, "text is only whitespace": 1, "more than 2 fields": 1}
    assert summary.skipped_rows == [2, 3, 4, 5]
    assert summary.cleaned == {"short_row_padded": 1} and summary.cleaned_rows == {"short_row_padded": [4]}


def test_formula_cells_are_neutralised_and_numbers_are_not(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('text,a,b,c,d\n=HYPERLINK("x"),+1+1,-5,@SUM(A1),-2.5e3\n')
    rows, _ = _score(predictor, path)
    assert rows[1][:5] == ['\'=HYPERLINK("x")', "'+1+1", "-5", "'@SUM(A1)", "-2.5e3"]
    assert neutralise("\t=cmd") == "'\t=cmd"


def test_the_text_column_can_be_chosen_and_a_wrong_one_is_named(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\nhello,world\n")
    with pytest.raises(BatchInputError, match="choose one"):
        _score(predictor, path)
    with pytest.raises(BatchInputError, match=r"no column 'text' in in\.csv; columns are: a, b"):
        _score(predictor, path, text_column="text")
    rows, _ = _score(predictor, path, text_column="b")
    assert rows[1][:2] == ["hello", "world"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"text\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a text file"),
        (b"PK\x03\x04zipzip", "not a text file"),
        (b"   \n\n", "holds no text"),
    ],
)
def test_files_that_cannot_be_scored_are_refused_with_the_reason(
    predictor: Predictor, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(BatchInputError, match=message):
        _score(predictor, path)
    assert not list(tmp_path.glob("*_out.csv*"))  # nothing half-written is left behind


def test_files_over_the_limit_are_refused_naming_the_limit(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("text\n" + "hello\n" * 1000)
    with pytest.raises(BatchInputError, match=r"limit is 0.0 MB"):
        _score(predictor, path, max_bytes=1000)


def test_chunks_and_progress_cover_the_whole_file(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("text\n" + "".join(f"text number {i}\n" for i in range(250)))
    seen: list[float] = []
    rows, summary = _score(predictor, path, chunk_rows=40, progress=lambda f, _: seen.append(f))
    assert len(rows) == 251 and summary.scored == 250
    assert len(seen) == 7 and seen == sorted(seen) and seen[-1] == 1.0


def test_a_row_the_csv_parser_rejects_is_reported_and_the_others_are_kept(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'text\nfine one\n"unterminated \r quote\nlast one\n')
    rows, summary = _score(predictor, path)
    assert rows[1][0] == "fine one"
    assert summary.scored >= 1 and summary.rows == len(rows) - 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\r\x01", "not a text file"), (b",,\n1,2,3\n", "empty header row")],
    ids=["control-characters", "empty-names"],
)
def test_a_header_that_names_no_column_is_refused_with_the_reason(
    predictor: Predictor, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(BatchInputError, match=message):
        _score(predictor, path)


def test_each_scored_row_names_its_own_prediction_id_and_a_skipped_row_none(
    predictor: Predictor, tmp_path: Path
) -> None:
    """The ids the service gives (random, one per scored text) land in the ``prediction_id`` column, row by row."""
    path = tmp_path / "in.csv"
    path.write_text("id,text\n1,good\n2,\n3,bad\n4,fine\n")
    out = tmp_path / "out.csv"
    given: list[str] = []

    def score(texts: list[str]) -> BatchResult:
        result = predictor.predict_batch(texts).with_new_ids()
        given.extend(result.prediction_ids)
        return result

    score_file(path, out, score, chunk_rows=2)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = [row["prediction_id"] for row in rows]
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert ids[1] == "" and ids == given
    scored = [ids[0], ids[2], ids[3]]
    assert len(set(scored)) == 3 and all(len(i) == 32 and int(i, 16) >= 0 for i in scored)
