"""Datasets parsed from the real fetched files, and splits that are deterministic, stratified and disjoint."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment.datasets import DatasetUnavailableError, load_split
from sentiment.datasets.splits import split_frame
from sentiment.datasets.vader import parse_ground_truth
from sentiment.settings import Settings

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
    path.write_text("tweet;Sentiment\nlove it;POS\nhate it;NEG\nit is;Neutral\nfine;LABEL_2\n", encoding="utf-8")
    frame = load_split(str(path), "all", settings)
    assert frame["label"].tolist() == ["positive", "negative", "neutral", "positive"]


def test_unknown_names_and_splits_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        load_split("imdb", "test", settings)
    with pytest.raises(ValueError, match="unknown split"):
        load_split("vader_tweets", "dev", settings)
