"""A dataset name is answered about what the user meant: a name that looks like a file (a path separator or a file
extension) is answered about that file ("no file 'mine.csv'"), never with the list of registry names; every other
unknown name gets that list. One rule (``sentiment.settings.dataset_names.dataset_problem``) for the settings, the
registry's ``load_split`` and ``python -m sentiment evaluate --dataset``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment.__main__ import main
from sentiment.datasets import DATASETS, load_split
from sentiment.errors import DatasetError
from sentiment.settings import Settings
from sentiment.settings.dataset_names import KNOWN_DATASETS, dataset_problem, looks_like_a_path

# Names a user might type: words of letters, digits, '_' and '-' (registry names are such words).
WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_-0123456789"), min_size=1, max_size=12)
EXTENSION = st.sampled_from([".csv", ".tsv", ".txt", ".parquet", ".jsonl", ".xlsx", ".CSV", ".json"])


@given(stem=WORD, extension=EXTENSION, folders=st.lists(WORD, max_size=2), backslash=st.booleans())
def test_a_name_with_a_separator_or_an_extension_that_names_no_file_says_no_file(
    stem: str, extension: str, folders: list[str], backslash: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any such name absent from disk is answered "no file '<name>'", and never lists the registry instead."""
    root = tmp_path_factory.getbasetemp() / "nowhere-to-be-found"
    sep = "\\" if backslash else "/"
    name = sep.join([str(root), *folders, stem + extension])
    assert looks_like_a_path(name)
    problem = dataset_problem(name)
    assert problem is not None and problem.startswith(f"no file {name!r}"), problem
    assert "unknown dataset" not in problem


@given(name=WORD)
def test_a_bare_word_that_is_no_dataset_lists_the_known_ones(name: str) -> None:
    """A word without separator or extension is a dataset name: unknown ones get the registry's names."""
    problem = dataset_problem(name)
    if name in KNOWN_DATASETS:
        assert problem is None
        return
    assert not looks_like_a_path(name)
    assert problem == (
        f"unknown dataset {name!r}; known: {', '.join(KNOWN_DATASETS)}, or the path of a labelled .csv/.tsv/.txt file"
    )


def test_an_existing_file_a_folder_and_a_file_of_another_kind_each_get_their_own_answer(tmp_path: Path) -> None:
    labelled = tmp_path / "mine.csv"
    labelled.write_text("text,label\ngood,positive\n", encoding="utf-8")
    other = tmp_path / "mine.parquet"
    other.write_bytes(b"PAR1")
    assert dataset_problem(str(labelled)) is None
    assert (
        dataset_problem(str(tmp_path))
        == f"{str(tmp_path)!r} is a folder; give the path of a labelled .csv/.tsv/.txt file"
    )
    assert (
        dataset_problem(str(other))
        == f"{str(other)!r} is not a .csv/.tsv/.txt file; save the text and label columns as CSV"
    )


def test_the_registry_says_no_file_for_a_missing_path(tmp_path: Path) -> None:
    """``load_split`` (what the evaluator and the fine-tuner call) raises the same answer, with the registry's names."""
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(DatasetError, match=r"^no file 'gone/mine\.csv' \(relative to .*\); give a labelled") as raised:
        load_split("gone/mine.csv", "all", settings)
    assert str(raised.value).endswith(", or a dataset: " + ", ".join(DATASETS))


def test_evaluate_with_a_missing_file_says_no_file_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: ``python -m sentiment evaluate --model embedded --dataset mine.csv`` in a folder without it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    assert main(["evaluate", "--model", "vader", "--dataset", "mine.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no file 'mine.csv' (relative to {os.getcwd()})"), err
    assert "unknown dataset" not in err and "Traceback" not in err
