"""A request is checked whole before anything of it is scored, and a text that fails the model fails only itself
(issue #25, items 1 and 2), on the service, the micro-batcher, the CLI and evaluations, with a real tiny model and
a real prediction log.

- ``{"inputs": ["Great product", ""]}`` was answered 422 but its first text was scored, logged and counted;
- a 67,337-character text without ``truncate`` was refused only after its forward pass;
- a text that made the forward pass raise failed every text sharing the pass with it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sentiment.errors import DatasetError, EmptyTextError, RequestRefusedError, TextTooLongError
from sentiment.evaluation.runner import evaluate_frame
from sentiment.inference.micro_batcher import MicroBatcher
from sentiment.inference.predictor import Predictor
from sentiment.results import BatchResult, ForwardOutput
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from tiny_models import started_service
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
ISSUE_LONG = ("The battery died after a day and support never answered. " * 1200)[:67_337]
TOKENS_OVER = "word " * 100  # 500 characters: under the predictor's character cut, over the tiny model's 64 tokens


class RecordingModel:
    """The real tiny model, recording what each forward pass received; a text holding ``POISON`` makes the pass
    raise, as a model bug that only some input triggers would (validation cannot know every such input)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.forwarded: list[list[str]] = []
        self.tokenized: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def tokenize(self, texts: list[str]) -> Any:
        self.tokenized.append(list(texts))
        return self.inner.tokenize(texts)

    def forward(self, texts: list[str], batch_size: int, embed: bool = False) -> ForwardOutput:
        self.forwarded.append(list(texts))
        if any("POISON" in t for t in texts):
            raise ValueError("the model cannot score this input")
        return self.inner.forward(texts, batch_size, embed=embed)  # type: ignore[no-any-return]


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[tuple[SentimentService, RecordingModel]]:
    with started_service(tiny_model_dir, settings, log_predictions=True) as started:
        model = RecordingModel(started.predictor.model)
        started.predictor.model = model
        yield started, model


def _logged_rows(service: SentimentService) -> int:
    log = service.monitoring.log
    assert log is not None and log.flush(30)
    return log.count()


def _counters(service: SentimentService) -> dict[str, float]:
    metrics = service.metrics
    return {
        "predictions": sum(
            metrics.predictions.labels(sentiment=s)._value.get() for s in ("negative", "neutral", "positive")
        ),
        "truncated": metrics.truncated._value.get(),
        "empty_text": metrics.errors.labels(reason="empty_text")._value.get(),
        "text_too_long": metrics.errors.labels(reason="text_too_long")._value.get(),
    }


def test_a_refused_request_is_not_scored_logged_or_counted_and_long_texts_are_refused_by_tokens_only(
    service: tuple[SentimentService, RecordingModel],
) -> None:
    """The issue's two requests and a text over the limit by tokens (not by characters), each without truncation:
    refused with every bad text named by index, with no forward pass at all, no prediction-log row, no prediction
    or truncation counted; only the refusal reasons move (``empty_text`` 1, ``text_too_long`` 2). The over-limit
    text was tokenised to find out. A good request afterwards is logged and counted once: the log works."""
    svc, model = service
    rows, before = _logged_rows(svc), _counters(svc)
    model.forwarded.clear()
    with pytest.raises(RequestRefusedError) as empty:
        svc.classify(["Great product", ""], truncate=False)
    assert [(i, type(e), str(e)) for i, e in empty.value.problems] == [(1, EmptyTextError, "empty text")]
    with pytest.raises(RequestRefusedError) as long:
        svc.classify(["Great product", ISSUE_LONG, TOKENS_OVER], truncate=False)
    assert [(i, type(e)) for i, e in long.value.problems] == [(1, TextTooLongError), (2, TextTooLongError)]
    assert "truncate=true" in str(long.value.problems[0][1])
    assert model.forwarded == []  # refused before any forward pass
    assert [TOKENS_OVER.strip() in " ".join(t) for t in model.tokenized][-1]  # measured by tokens
    assert _logged_rows(svc) == rows
    after = _counters(svc)
    assert after == {**before, "empty_text": before["empty_text"] + 1, "text_too_long": before["text_too_long"] + 2}
    scored = svc.classify(["Great product", TOKENS_OVER], truncate=True)
    assert [p.truncated for p in scored] == [False, True] and all(p.error is None for p in scored)
    assert _logged_rows(svc) == rows + 2
    assert (
        _counters(svc)["predictions"] == before["predictions"] + 2
        and _counters(svc)["truncated"] == before["truncated"] + 1
    )


def test_a_one_text_request_over_the_limit_is_refused_inside_its_shared_call_without_a_forward_pass(
    service: tuple[SentimentService, RecordingModel],
) -> None:
    """One-text API requests coalesced into one call (``classify_each``), each with its own ``truncate``: the one
    that refuses truncation is an error row (``text_too_long``) that never reaches the forward pass; the one that
    allows it, with the same text, is scored and flagged truncated; the short one is scored."""
    svc, model = service
    model.forwarded.clear()
    rows = _logged_rows(svc)
    fine, refused, cut = svc.classify_each(["fine", TOKENS_OVER, TOKENS_OVER], truncate=[False, False, True])
    assert fine.error is None and cut.error is None and cut.truncated
    assert refused.error is not None and "token limit" in refused.error and refused.label is None
    assert len(model.forwarded) == 1 and len(model.forwarded[0]) == 2  # "fine" and the truncated copy only
    assert _logged_rows(svc) == rows + 2


def test_a_text_that_fails_the_model_fails_only_itself_in_a_shared_micro_batch(
    tiny_model_dir: Path, session_settings: Settings
) -> None:
    """Defence in depth beneath validation: a text that passes ``validate_text`` but makes the forward pass raise
    shares a pass with two good texts (the first pass is held so that they queue together). The shared pass
    fails; each text is then scored alone: the good ones get the rows they get alone, only the bad one's caller
    gets the exception. Fails if the micro-batcher hands the pass's exception to all three again."""
    predictor = Predictor.load(str(tiny_model_dir), session_settings)
    model = RecordingModel(predictor.model)
    predictor.model = model  # type: ignore[assignment]
    entered, release = threading.Event(), threading.Event()

    def held_first(texts: Sequence[object]) -> BatchResult:
        if texts == ["first"]:
            entered.set()
            assert release.wait(30)
        return predictor.predict_batch(texts)

    batcher = MicroBatcher(held_first, max_batch=8, max_wait_s=1.0)
    results: dict[str, object] = {}

    def call(text: str) -> None:
        try:
            results[text] = batcher.submit(text)
        except Exception as exc:
            results[text] = exc

    texts = ["first", "great phone", "POISON text", "awful"]
    threads = [threading.Thread(target=call, args=(texts[0],))]
    threads[0].start()
    assert entered.wait(30)
    threads += [threading.Thread(target=call, args=(t,)) for t in texts[1:]]
    for t in threads[1:]:
        t.start()
    wait_until(lambda: batcher._waiting == 4, "the three texts queued behind the held pass")
    release.set()
    for t in threads:
        t.join(60)
    assert ["great phone", "POISON text", "awful"] in model.forwarded  # they did share a pass, which failed
    assert isinstance(results["POISON text"], ValueError)
    for text in ("great phone", "awful"):
        alone = predictor.predict_batch([text]).probabilities[0]
        row = results[text]
        assert isinstance(row, BatchResult) and row.errors == [None]
        np.testing.assert_allclose(row.probabilities[0], alone, atol=1e-5)
    batcher.close()


def test_an_evaluation_upload_with_a_surrogate_names_the_row_and_why(
    tiny_model_dir: Path, session_settings: Settings
) -> None:
    """An evaluation refuses a file with a row it cannot score, naming the row and the rule, never a TypeError
    from the tokenizer: a half-scored evaluation would bias its figures."""
    predictor = Predictor.load(str(tiny_model_dir), session_settings)
    # pandas 3's default (Arrow) strings cannot hold a surrogate at all, so a file read for an evaluation never
    # carries one; a frame of Python objects can, and must still be refused by the rule rather than by the tokenizer
    frame = pd.DataFrame({"text": ["fine", "great \ud83d phone"], "label": ["positive", "positive"]}, dtype=object)
    with pytest.raises(DatasetError, match=r"row 1 \(text is not valid Unicode: a lone surrogate U\+D83D"):
        evaluate_frame(predictor, frame)


def test_the_cli_refuses_an_argument_that_is_not_valid_unicode_and_scores_the_others(tmp_path: Path) -> None:
    """``python -m sentiment predict`` given an argument with a byte that is not UTF-8 (Python reads it as the
    surrogate U+DCFF): that line is an error naming the code point, echoed with U+FFFD (printing the surrogate
    would crash), and the next argument is scored; exit status 0."""
    env = {"HF_HUB_OFFLINE": "1", "SENTIMENT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "sentiment", "predict", "--model", "vader", b"great \xff phone", "I love it"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    lines = done.stdout.decode().splitlines()[1:]  # after the "# model" line
    assert lines[0].startswith("error\ttext is not valid Unicode: a lone surrogate U+DCFF at character 6")
    assert lines[0].endswith("\tgreat \ufffd phone")
    assert lines[1].startswith("positive\t")
