"""Semantic drift on the model's own representation: embeddings from the same pass, a domain-classifier test that
is calibrated under "no drift", and a topic shift at equal length that only it detects (issue 18, target c)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.models import embedding
from sentiment.monitoring.drift import CHECKS, check_drift
from sentiment.monitoring.reference import features_of
from sentiment.monitoring.scenarios import matched_topic_shift, topic_shift
from sentiment.monitoring.stat_tests import DRIFT_TESTS
from sentiment.settings import Settings

SURFACE_FEATURES = {"text_length", "token_count", "confidence", "label", "surface"}


def test_packed_padded_and_one_at_a_time_passes_give_the_same_embedding(embedded_predictor: Predictor) -> None:
    texts = ["I love it", "terrible service @united, never again", "meh " * 30, "", "fine."]
    batch = embedded_predictor.predict_batch(texts, embed=True)
    assert batch.embeddings is not None and batch.embeddings.shape == (5, embedding.EMBEDDING_DIMS)
    assert np.isnan(batch.embeddings[3]).all() and np.isfinite(batch.embeddings[[0, 1, 2, 4]]).all()
    for i in (0, 1, 2, 4):
        alone = embedded_predictor.predict_batch([texts[i]], embed=True).embeddings
        assert alone is not None
        np.testing.assert_allclose(alone[0], batch.embeddings[i], atol=1e-4)
    assert embedded_predictor.predict_batch(texts).embeddings is None  # only when asked


def test_the_projection_is_fixed_by_the_seed_alone() -> None:
    embedding.projection.cache_clear()
    first = embedding.projection(384).copy()
    embedding.projection.cache_clear()
    np.testing.assert_array_equal(first, embedding.projection(384))
    assert first.shape == (384, embedding.EMBEDDING_DIMS)


def test_the_domain_classifier_test_keeps_its_false_alarm_rate_on_identical_distributions() -> None:
    rng = np.random.default_rng(7)
    test = DRIFT_TESTS["domain_auc"]
    p_values = [
        test(reference=list(rng.standard_normal((200, 16))), current=list(rng.standard_normal((150, 16)))).p_value
        for _ in range(60)
    ]
    assert np.mean(np.array(p_values) < 0.05) <= 0.15  # 5% nominal; 60 draws: 3 expected, 9 is far in the tail


def test_the_domain_classifier_test_sees_a_shift_in_one_direction() -> None:
    rng = np.random.default_rng(8)
    shifted = rng.standard_normal((150, 16))
    shifted[:, 3] += 0.6
    result = DRIFT_TESTS["domain_auc"](reference=list(rng.standard_normal((200, 16))), current=list(shifted))
    assert result.p_value is not None and result.p_value < 0.01 and result.statistic > 0.6


def test_the_shift_generator_keeps_length_mark_and_label() -> None:
    templates = ["@bob this is a tweet about lunch", "plain words here ok", "see http://x.co/a now"]
    texts, labels = topic_shift(
        templates,
        ["positive", "neutral", "negative"],
        ["a very long movie review that is positive " * 3, "neutral film notes " * 5, "bad film " * 9],
        ["positive", "neutral", "negative"],
        np.random.default_rng(0),
    )
    assert [len(t) for t in texts] == [len(t) for t in templates]
    assert texts[0].startswith("@bob ") and texts[2].startswith("http://x.co/a ")
    assert labels == ["positive", "neutral", "negative"]


@pytest.mark.slow
def test_a_topic_shift_at_equal_length_is_caught_by_the_semantic_test_and_by_no_surface_test(
    embedded_predictor: Predictor, session_settings: Settings, tmp_path: Path
) -> None:
    """300 reference tweets vs 300 movie-review snippets cut to held-out tweets' lengths, marks, labels and
    confidences: only the embedding check grades drift, and the report says what changed."""
    s = session_settings
    reference = features_of(
        load_split("vader_tweets", "test", s).sample(300, random_state=1)["text"].tolist(), embedded_predictor
    )
    held_out = load_split("vader_tweets", "validation", s).sample(300, random_state=0)
    movies = load_split("vader_movies", "train", s)

    shifted = matched_topic_shift(
        held_out["text"].tolist(),
        held_out["label"].tolist(),
        movies["text"].tolist(),
        movies["label"].tolist(),
        lambda texts: features_of(texts, embedded_predictor),
        np.random.default_rng(0),
    )
    current = features_of(shifted, embedded_predictor)  # scored once: the model's pass is this test's cost
    report = check_drift(reference, current)
    levels = {(row.feature, row.test): row.level for row in report.results}
    assert len(levels) == len(CHECKS)
    assert levels[("embedding", "domain_auc")] == "drift"
    assert all(level != "drift" for (feature, _), level in levels.items() if feature in SURFACE_FEATURES), levels
    assert report.status == "drift"
    assert report.explanation and "Most typical of the current window" in report.explanation  # texts on both sides
    assert report.as_dict()["explanation"] == report.explanation

    same = check_drift(reference, features_of(held_out["text"].tolist(), embedded_predictor))
    assert {row.feature: row.level for row in same.results if row.test == "domain_auc"} == {"embedding": "ok"}
    assert same.explanation is None

    no_text = check_drift(reference.drop(columns="text"), current)
    assert no_text.explanation and "mean chars" in no_text.explanation  # features, not texts, when none are logged
