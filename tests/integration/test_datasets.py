"""Datasets parsed from the real fetched files, and splits that are deterministic, stratified and disjoint."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment.datasets import load_split, read_labelled_file
from sentiment.datasets.splits import split_frame
from sentiment.datasets.vader import parse_ground_truth
from sentiment.errors import DatasetUnavailableError, LabelMappingError
from sentiment.settings import Settings
from sentiment.tables.reading import TEXT_COLUMN_NAMES, guess_text_column

pytestmark = pytest.mark.slow

EXPECTED = {  # counts published with the corpora (VADER ground truth cut at +-0.5; airline subset)
    "vader_tweets": (4200, {"negative": 1062, "neutral": 838, "positive": 2300}),
    "vader_amazon": (3708, {"negative": 1218, "neutral": 765, "positive": 1725}),
    "vader_movies": (10605, None),
    "vader_nyt": (5190, None),
    "airline_tweets": (14638, {"negative": 9176, "neutral": 3099, "positive": 2363}),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_files_parse_into_the_published_counts(name: str, settings: Settings) -> None:
    frame = load_split(name, "all", settings)
    n, counts = EXPECTED[name]
    assert len(frame) == n
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].str.strip().ne("").all()
    if counts:
        assert frame["label"].value_counts().to_dict() == counts


def test_ground_truth_parsing_cuts_at_the_band_and_skips_malformed_lines() -> None:
    raw = "1\t2.5\tgreat\r\n2\t0.4\tmeh\r\n3\t-0.6\tbad\r\nbroken line\r\n4\tx\tnot a number\r\n5\t-0.5\tedge"
    frame = parse_ground_truth(raw, neutral_band=0.5)
    assert frame["label"].tolist() == ["positive", "neutral", "negative", "neutral"]


def test_splits_are_deterministic_stratified_and_disjoint(settings: Settings) -> None:
    parts = {s: load_split("vader_tweets", s, settings) for s in ("train", "validation", "test")}
    assert sum(len(p) for p in parts.values()) == 4200
    assert load_split("vader_tweets", "test", settings).equals(parts["test"])
    share = parts["test"]["label"].value_counts(normalize=True)
    whole = load_split("vader_tweets", "all", settings)["label"].value_counts(normalize=True)
    assert (share - whole).abs().max() < 0.01


def test_a_different_seed_gives_a_different_split() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(300)], "label": ["negative", "neutral", "positive"] * 100})
    a, b = split_frame(frame, "test", seed=1), split_frame(frame, "test", seed=2)
    assert len(a) == len(b) == 45
    parts = [set(split_frame(frame, s, seed=1)["text"]) for s in ("train", "validation", "test")]
    assert parts[0].isdisjoint(parts[1]) and parts[0].isdisjoint(parts[2]) and parts[1].isdisjoint(parts[2])
    assert len(parts[0] | parts[1] | parts[2]) == 300
    assert set(a["text"]) != set(b["text"])
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert set(split_frame(shuffled, "test", seed=1)["text"]) == set(a["text"])  # file order does not matter


def test_hub_datasets_fail_fast_offline_naming_the_offline_ones(settings: Settings) -> None:
    with pytest.raises(DatasetUnavailableError, match="vader_tweets"):
        load_split("tweet_eval", "test", settings)


def test_a_users_labelled_csv_in_any_spelling(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("tweet;Sentiment\nlove it;POS\nhate it;NEG\nit is;Neutral\nfine;positive\n", encoding="utf-8")
    frame = load_split(str(path), "all", settings)
    assert frame["label"].tolist() == ["positive", "negative", "neutral", "positive"]


@pytest.mark.parametrize("name", TEXT_COLUMN_NAMES)
def test_a_labelled_file_finds_its_text_column_by_the_names_the_scorer_knows(tmp_path: Path, name: str) -> None:
    """One list of text-column names: a column the file scorer would pick is the text of a labelled file too."""
    path = tmp_path / "mine.csv"
    path.write_text(f"id,{name.upper()},label\n1,good,positive\n2,bad,negative\n", encoding="utf-8")
    assert guess_text_column(["id", name.upper(), "label"]) == name.upper()
    labelled = read_labelled_file(path)
    assert labelled.text_column == name.upper()
    assert labelled.frame["text"].tolist() == ["good", "bad"]


def test_a_polarity_column_maps_as_a_whole_and_rows_without_text_or_label_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "polarity.csv"
    path.write_text("text,label\ngood,1\nbad,-1\nfact,0\n,1\nno label,\n", encoding="utf-8")
    labelled = read_labelled_file(path)
    assert labelled.frame["label"].tolist() == ["positive", "negative", "neutral"]
    assert labelled.frame["row"].tolist() == [1, 2, 3]
    assert (labelled.rows_in_file, labelled.without_text, labelled.without_label) == (5, 1, 1)
    assert labelled.as_dict()["label_mapping"] == {
        "column": "label",
        "rule": "polarity",
        "map": {"-1": "negative", "0": "neutral", "1": "positive"},
    }


@pytest.mark.parametrize(
    ("labels", "label_map", "expected"),
    [
        (["0", "1", "2"], "0:negative,1:neutral,2:positive", ["negative", "neutral", "positive"]),
        (["1", "3", "5"], '{"1": "negative", "3": "neutral", "5": "positive"}', ["negative", "neutral", "positive"]),
        (["2", "1", "0"], "0:negative,1:positive,2:neutral", ["neutral", "positive", "negative"]),
    ],
)
def test_numeric_labels_other_than_polarity_need_a_label_map(
    tmp_path: Path, settings: Settings, labels: list[str], label_map: str, expected: list[str]
) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("text,label\n" + "".join(f"t{i},{v}\n" for i, v in enumerate(labels)), encoding="utf-8")
    with pytest.raises(LabelMappingError, match=r"numbers\.csv: label column 'label' holds .*label_map="):
        load_split(str(path), "all", settings)
    assert load_split(str(path), "all", settings, label_map=label_map)["label"].tolist() == expected


def test_unknown_names_and_splits_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        load_split("imdb", "test", settings)
    with pytest.raises(ValueError, match="unknown split"):
        load_split("vader_tweets", "dev", settings)
