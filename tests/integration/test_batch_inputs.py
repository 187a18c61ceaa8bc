"""Which files a batch job reads and writes, its progress line, and ``python -m sentiment score`` on a folder.

Fast: the local engine with the lexicon model; the Ray engine itself is tested in ``tests/test_ray_engine.py``.
"""

from __future__ import annotations

import json
import logging
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sentiment.__main__ import main
from sentiment.errors import BatchInputError, EmptyFileError
from sentiment.service.batch_jobs import score_inputs
from sentiment.settings import Settings
from sentiment.tables.inputs import expand_inputs, output_paths
from sentiment.tables.progress import ProgressLine, describe_progress
from sentiment.tables.scoring import plan_table


def _tables(folder: Path) -> None:
    folder.mkdir()
    (folder / "b.csv").write_text("id,text\n1,good\n")
    (folder / "a.txt").write_text("what a day\nworst ever\n")
    (folder / "c.tsv").write_text("id\ttext\n1\tgood\n")
    (folder / "README.md").write_text("# not a table\n")


def test_a_file_a_folder_and_a_glob_name_their_files_in_order(tmp_path: Path) -> None:
    _tables(tmp_path / "in")
    assert expand_inputs(str(tmp_path / "in" / "README.md")) == [tmp_path / "in" / "README.md"]  # named: read
    assert [p.name for p in expand_inputs(str(tmp_path / "in"))] == ["a.txt", "b.csv", "c.tsv"]
    assert [p.name for p in expand_inputs(str(tmp_path / "in" / "*.csv"))] == ["b.csv"]
    with pytest.raises(BatchInputError, match="give a file, a folder"):
        expand_inputs(str(tmp_path / "in" / "*.parquet"))


def test_one_input_writes_the_file_named_and_several_a_folder_of_scored_copies(tmp_path: Path) -> None:
    _tables(tmp_path / "in")
    plans = [plan_table(p) for p in expand_inputs(str(tmp_path / "in"))]
    assert output_paths(plans[:1], tmp_path / "out.csv") == [tmp_path / "out.csv"]
    assert output_paths(plans[:1], tmp_path / "in") == [tmp_path / "in" / "a_scored.csv"]  # an existing folder
    names = [p.name for p in output_paths(plans, tmp_path / "out")]
    assert names == ["a_scored.csv", "b_scored.csv", "c_scored.tsv"]
    (tmp_path / "taken.csv").write_text("x")
    with pytest.raises(BatchInputError, match="need a folder"):
        output_paths(plans, tmp_path / "taken.csv")


def test_two_inputs_that_would_share_a_scored_name_get_distinct_ones(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("id,text\n1,good\n")
    (tmp_path / "r.txt").write_text("good\nbad\n")
    plans = [plan_table(tmp_path / "r.csv"), plan_table(tmp_path / "r.txt")]
    assert [p.name for p in output_paths(plans, tmp_path / "out")] == ["r_scored.csv", "r_scored_2.csv"]


def test_the_progress_line_says_rows_rate_and_time_left() -> None:
    assert describe_progress(0.25, 1_000, 10.0) == "1,000 rows scored, 100 rows/s, 25% of the input, about 0:00:30 left"
    assert describe_progress(1.0, 4_000, 40.0) == "4,000 rows scored, 100 rows/s, 100% of the input"
    assert "left" not in describe_progress(0.01, 10, 0.5)  # too early to tell


@hypothesis_settings(derandomize=True, max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40))
def test_the_progress_line_logs_at_most_once_per_interval_and_always_at_the_end(gaps: list[float]) -> None:
    clock = [0.0]
    logged: list[float] = []
    line = ProgressLine("f.csv", interval_s=5.0, clock=lambda: clock[0])
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(clock[0])  # type: ignore[method-assign]
    logger = logging.getLogger("sentiment.tables.progress")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        for gap in gaps:
            clock[0] += gap
            line(0.5, "n rows scored")
        line(1.0, "all rows scored")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert logged[0] == gaps[0] and logged[-1] == clock[0]  # the first call and the end always show
    assert all(b - a >= 5.0 for a, b in pairwise(logged[:-1]))  # the end may follow sooner


def test_score_a_folder_from_the_shell_into_a_folder_of_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    _tables(tmp_path / "in")
    assert main(["score", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "vader", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(Path(p).name for p in report["outputs"]) == ["a_scored.csv", "b_scored.csv", "c_scored.tsv"]
    assert [report["outputs"][str(tmp_path / "out" / "a_scored.csv")]["rows"]] == [2]
    assert report["skipped_files"] == {}
    assert (tmp_path / "out" / "c_scored.tsv").read_text().splitlines()[0].startswith("id\ttext\tlabel")


def test_the_issue_folder_scores_its_two_rows_and_lists_the_empty_and_header_only_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #25, item 5: a folder with an empty file, a header-only file and a file of two rows answered
    ``error: a_empty.csv is empty``, rc 2, no output. Now: rc 0, the two rows scored into the folder asked for, and
    both other files listed under ``skipped_files`` with their reason (nothing written for them)."""
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_empty.csv").write_bytes(b"")
    (folder / "b_header.csv").write_text("id,text\n")
    (folder / "c_rows.csv").write_text("id,text\n1,great phone\n2,awful service\n")
    assert main(["score", str(folder), str(tmp_path / "out"), "--model", "vader", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["skipped_files"] == {
        str(folder / "a_empty.csv"): "a_empty.csv is empty",
        str(folder / "b_header.csv"): "b_header.csv has a header but no data rows",
    }
    [(out, summary)] = report["outputs"].items()
    assert Path(out) == tmp_path / "out" / "c_rows_scored.csv"
    assert (summary["rows"], summary["scored"]) == (2, 2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c_rows_scored.csv"]


_NOTHING = {"empty": b"", "blank": b"\n  \r\n\n", "header only": b"id,text\r\n", "sep line only": b"sep=;\r\n"}
_SOMETHING = {"rows": b"id,text\ngood\nbad\n", "lines": b"what a day\nworst ever\n", "blank text": b'text\n" "\n'}


@hypothesis_settings(derandomize=True, max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(sorted(_NOTHING) + sorted(_SOMETHING)), min_size=2, max_size=5))
def test_files_with_nothing_to_score_are_skipped_and_the_job_fails_only_when_all_are(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str]
) -> None:
    """Any folder mixing files with nothing to score (empty, blank lines, header only, a ``sep=`` line only) and
    files with rows: each file with rows gets its scored copy, each other file is listed with a reason and gets
    none; when no file has rows the job raises ``EmptyFileError`` naming every file, and writes nothing."""
    root = tmp_path_factory.mktemp("mixed")
    folder = root / "in"
    folder.mkdir()
    for i, kind in enumerate(kinds):
        (folder / f"f{i}.csv").write_bytes({**_NOTHING, **_SOMETHING}[kind])
    settings = Settings(data_dir=root / "data")
    with_rows = [f"f{i}" for i, kind in enumerate(kinds) if kind in _SOMETHING]
    if not with_rows:
        with pytest.raises(EmptyFileError, match=f"nothing to score in {len(kinds)} files") as refused:
            score_inputs(str(folder), root / "out", "vader", settings, progress=False)
        assert all(f"f{i}.csv" in str(refused.value) for i in range(len(kinds)))
        assert not (root / "out").exists()
        return
    run = score_inputs(str(folder), root / "out", "vader", settings, progress=False)
    assert [out.name for out, _ in run.outputs] == [f"{stem}_scored.csv" for stem in with_rows]
    assert sorted(p.name for p in run.skipped) == [f"f{i}.csv" for i, k in enumerate(kinds) if k in _NOTHING]
    assert all(reason for reason in run.skipped.values())
    assert sorted(p.name for p in (root / "out").iterdir()) == [f"{stem}_scored.csv" for stem in with_rows]


def test_the_engine_and_its_options_are_checked_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "in.csv", "out.csv", "--engine", "spark"])
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_the_number_of_actors_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "in.csv", "out.csv", "--engine", "ray", "--actors", "0"])
    assert "must be at least 1, not 0" in capsys.readouterr().err


def test_without_ray_the_ray_engine_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as where it is not installed
    (tmp_path / "in.csv").write_text("id,text\n1,good\n")
    assert main(["score", str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--engine", "ray", "--quiet"]) == 2
    assert "pip install -r requirements-scale.txt" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_a_parquet_file_is_read_by_its_content_with_nulls_as_empty_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    texts = ["what a great day", None, "=1+1 worst ever"]
    table = pa.table({"id": [1, 2, 3], "text": texts, "stars": [5.0, None, 1.0]})
    pq.write_table(table, tmp_path / "export.data")  # the name says nothing: the magic bytes do
    assert main(["score", str(tmp_path / "export.data"), str(tmp_path / "out.csv"), "--model", "vader", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 3 and summary["scored"] == 2 and summary["input_format"]["encoding"] == "parquet"
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0].startswith("id,text,stars,label") and rows[2].startswith("2,,,,")
    assert rows[3].startswith("3,'=1+1 worst ever,1.0,negative")
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "b.parquet")
    (tmp_path / "export.data").rename(tmp_path / "in" / "a.data")
    assert [p.name for p in expand_inputs(str(tmp_path / "in"))] == ["b.parquet"]  # a folder: by suffix
