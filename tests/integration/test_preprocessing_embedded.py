"""The shipped embedded model reads a mention before a newline as the tweet preprocessing means it to (the rule itself
is tested in tests/unit/test_preprocessing.py)."""

from __future__ import annotations

import pytest

from sentiment.inference.predictor import Predictor


@pytest.mark.slow
def test_a_mention_before_a_newline_no_longer_hides_the_word(embedded_predictor: Predictor) -> None:
    """The reported case: '@shop\\nawful' was scored as '@user' alone (neutral 0.94)."""
    assert embedded_predictor.info.preprocessing == "twitter"
    newline = embedded_predictor.predict_one("@shop\nawful")
    space = embedded_predictor.predict_one("@shop awful")
    assert newline.label == "negative"
    assert newline.scores["negative"] == pytest.approx(space.scores["negative"], abs=0.02)
