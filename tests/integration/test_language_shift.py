"""Scenario (d) of the drift benchmark at small scale, on the embedded model's own features of real non-English
sentences (``sentiment.datasets.non_english``): a language shift reaches drift within a few windows, and which
checks see it. The synthetic scenarios (a) and (b) are in tests/unit/test_drift_scenarios.py; this one needs the
model, since what a language shift does to tokens, confidence, predicted labels and embeddings is the model's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.datasets import load_split
from sentiment.datasets.non_english import load_non_english
from sentiment.inference.predictor import Predictor
from sentiment.monitoring.drift import check_drift
from sentiment.monitoring.reference import features_of
from sentiment.monitoring.simulation import predictions_until
from sentiment.settings import Settings

REPLAY = {"window": 200, "step": 50, "confirm_windows": 2}


@pytest.fixture(scope="module")
def frames(embedded_predictor: Predictor, session_settings: Settings) -> dict[str, pd.DataFrame]:
    """Features of 300 reference tweets, 300 held-out tweets and the 487 non-English sentences, scored once."""
    s = session_settings

    def tweets(split: str, seed: int) -> list[str]:
        return list(load_split("vader_tweets", split, s).sample(300, random_state=seed)["text"])

    return {
        "reference": features_of(tweets("test", 1), embedded_predictor),
        "held_out": features_of(tweets("validation", 0), embedded_predictor),
        "non_english": features_of(load_non_english()["text"].tolist(), embedded_predictor),
    }


def _draw(pool: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pool.iloc[rng.choice(len(pool), size=n)].reset_index(drop=True)


@pytest.mark.slow
def test_d_a_language_shift_reaches_drift_within_a_few_windows(frames: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(4)
    reference, held_out, non_english = frames["reference"], frames["held_out"], frames["non_english"]
    found = predictions_until(reference, _draw(held_out, 200, rng), _draw(non_english, 1000, rng), **REPLAY)
    # a window that is partly other languages drifts, and a second window sharing none of its predictions confirms
    assert found is not None and found <= 2 * REPLAY["window"]
    # No "no shift, no drift" control here: in-distribution windows of real tweets still reach drift on some days
    # (the benchmark's false-alarm row measures how often); the synthetic control is in test_drift_scenarios.py.


@pytest.mark.slow
def test_d_every_kind_of_check_sees_a_window_of_other_languages(frames: dict[str, pd.DataFrame]) -> None:
    """On a full window of non-English sentences the model answers "neutral" with low confidence (it was trained on
    English tweets), so the label and confidence checks fire as well as the semantic one; length and surface fire
    because these sentences are short and unmarked (a property of the pool, not of language: see the data README).
    Token counts move least: WordPiece cuts other scripts into many pieces, so short sentences are not few tokens."""
    non_english = frames["non_english"]
    assert (non_english["label"] == "neutral").mean() > 0.8
    report = check_drift(frames["reference"], _draw(non_english, 200, np.random.default_rng(5)))
    levels = {(row.feature, row.test): row.level for row in report.results}
    assert report.status == "drift"
    for check in [("embedding", "domain_auc"), ("label", "chi2"), ("confidence", "ks"), ("surface", "chi2")]:
        assert levels[check] == "drift", levels
    assert report.explanation  # the semantic check fired, so the report says what changed
