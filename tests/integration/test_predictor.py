"""The predictor: input order, single-vs-batch equality, truncation flags and per-text errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiment.errors import InvalidTextError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.settings import Settings

TEXTS = [
    "i love this so much",
    "worst service ever, i hate waiting in lines and this is terrible and awful",
    "the package arrived on tuesday",
    "@someone check http://example.com now",
    "not bad",
    "absolutely wonderful experience " * 5,
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path, session_settings: Settings) -> Predictor:
    return Predictor.load(str(tiny_model_dir), session_settings.model_copy(update={"batch_size": 4}))


@pytest.mark.parametrize(
    ("which", "precision", "tolerance"),
    [("tiny", "fp32", 1e-4), ("embedded", "fp32", 1e-4), ("embedded", "bf16", 5e-3)],
)
def test_a_text_alone_and_in_a_batch_gets_the_same_probabilities(
    which: str, precision: str, tolerance: float, tiny_model_dir: Path, session_settings: Settings
) -> None:
    """Exact in fp32 (1e-4); bf16 rounds differently per batch shape, so within 5e-3 there, with the same labels."""
    spec = str(tiny_model_dir) if which == "tiny" else "embedded"
    predictor = Predictor.load(spec, session_settings.model_copy(update={"precision": precision, "batch_size": 4}))
    assert predictor.info.precision == precision
    together = predictor.predict_batch(TEXTS).probabilities
    alone = np.stack([predictor.predict_batch([t]).probabilities[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=tolerance)
    assert (together.argmax(axis=1) == alone.argmax(axis=1)).all()


def test_results_come_back_in_input_order_whatever_the_length_sorting(tiny: Predictor) -> None:
    forward = tiny.predict_batch(TEXTS).probabilities
    backward = tiny.predict_batch(TEXTS[::-1]).probabilities[::-1]
    np.testing.assert_allclose(forward, backward, atol=1e-4)


def test_every_prediction_has_a_label_and_all_three_probabilities(tiny: Predictor) -> None:
    for p in tiny.predict(TEXTS):
        assert p.ok and p.label in LABELS
        assert set(p.scores) == set(LABELS)
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.label == max(p.scores, key=p.scores.__getitem__)


def test_long_texts_are_truncated_and_flagged_not_refused(tiny: Predictor) -> None:
    short, long, exact = tiny.predict(["not bad", "what a great day " * 25_000, "i"])
    assert not short.truncated and not exact.truncated
    assert long.ok and long.truncated


def test_truncation_flag_is_exact_at_the_limit(tiny_model_dir: Path, session_settings: Settings) -> None:
    """A text of exactly max_length tokens is not truncated; one token more is."""
    predictor = Predictor.load(str(tiny_model_dir), session_settings.model_copy(update={"max_length": 10}))
    fits = " ".join(["love"] * 8)  # 8 tokens + [CLS] + [SEP] = 10
    over = " ".join(["love"] * 9)
    a, b = predictor.predict([fits, over])
    assert (a.truncated, b.truncated) == (False, True)


def test_bad_inputs_get_their_own_error_and_never_sink_the_batch(tiny: Predictor) -> None:
    results = tiny.predict(["good", "", "   \n\t", None, 42, "bad"])
    assert [r.error for r in results] == [
        None,
        "empty text",
        "text is only whitespace",
        "expected text, got NoneType",
        "expected text, got int",
        None,
    ]
    assert results[0].ok and results[5].ok


def test_predict_one_raises_a_specific_error(tiny: Predictor) -> None:
    with pytest.raises(InvalidTextError, match="whitespace"):
        tiny.predict_one("  ")


def test_the_embedded_model_separates_clear_cases(embedded_predictor: Predictor) -> None:
    labels = [
        p.label
        for p in embedded_predictor.predict(
            [
                "I absolutely love this, best day ever!",
                "This is the worst product I have ever bought. Terrible.",
            ]
        )
    ]
    assert labels == ["positive", "negative"]
