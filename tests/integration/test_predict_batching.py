"""Gradio's ``/predict`` with event batching (``sentiment.web.ui.predict``): concurrent calls share one handler call
and one forward pass, yet each caller gets its own text's answer, a text that cannot be scored is refused to its
caller alone, and every call still counts as one request; with ``SENTIMENT_PREDICT_MAX_BATCH=1`` (or a Gradio whose
batched validators are not known to work) the event is unbatched, as before."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gradio as gr
import pytest
from gradio import queueing
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError as SettingsError

from sentiment.inference.predictor import Predictor
from sentiment.results import Prediction
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web import gradio_batching
from sentiment.web.ui.blocks import build_blocks
from sentiment.web.ui.predict import batch_size
from waiting import wait_until

# Different words, different VADER scores: an answer given to the wrong caller shows.
TEXTS = [
    "I love this, best day ever!",
    "Terrible service, never again.",
    "The store opens at nine.",
    "Not bad at all, quite good actually",
    "awful awful awful",
    "great",
]
BLANK = "   \n "


def _sample(metrics: ServiceMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture(scope="module")
def vader(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    settings = Settings(data_dir=tmp_path_factory.mktemp("vader"), model="vader")
    return Predictor.load("vader", settings)


def _service(vader: Predictor, tmp_path: Any, **settings: Any) -> SentimentService:
    config = Settings(data_dir=tmp_path, model="vader", scheduler_enabled=False, **settings)
    return SentimentService(config, ServiceMetrics(CollectorRegistry()), predictor=vader)


class HeldFirstBatch:
    """Wraps ``service.predict_each``: the first call waits until the test releases it, so the calls sent meanwhile
    wait in Gradio's queue and are handed over together; every call's texts are recorded."""

    def __init__(self, service: SentimentService) -> None:
        self.inner = service.predict_each
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: Sequence[object]) -> list[Prediction]:
        self.calls.append([str(t) for t in texts])
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(60), "the test never released the first batch"
        return self.inner(texts)


@pytest.fixture
def batched(vader: Predictor, tmp_path: Any) -> Iterator[tuple[SentimentService, HeldFirstBatch, gr.Blocks]]:
    service = _service(vader, tmp_path)
    held = HeldFirstBatch(service)
    service.predict_each = held  # type: ignore[method-assign]
    demo = build_blocks(service).queue()
    demo.launch(prevent_thread_lock=True, quiet=True)
    yield service, held, demo
    held.release.set()
    demo.close()
    service.stop()


def test_concurrent_calls_share_a_batch_and_each_gets_its_own_answer_and_a_bad_text_its_own_error(
    batched: tuple[SentimentService, HeldFirstBatch, gr.Blocks], vader: Predictor
) -> None:
    """While one call is being scored, six more and one blank text are sent at once: the blank one is refused to
    its caller alone (validation message, counted once as ``empty_text``), the six are scored in one handler call,
    and each caller receives its own text's label and probabilities and its own prediction id. Each call counts as
    one request of one text. Fails if answers are mixed up, if the blank text fails the others or is not refused,
    or if a batch counts as one request."""
    service, held, demo = batched
    metrics = service.metrics
    client = Client(demo.local_url, verbose=False)
    requests_before = _sample(metrics, "sentiment_batch_size_count", {"endpoint": "predict"})
    with ThreadPoolExecutor(len(TEXTS) + 2) as pool:
        first = pool.submit(client.predict, "first in, held", api_name="/predict")
        assert held.entered.wait(60), "the first call never reached the handler"
        sent = [*TEXTS[:3], BLANK, *TEXTS[3:]]
        futures = [pool.submit(client.predict, text, api_name="/predict") for text in sent]
        wait_until(lambda: len(demo._queue), "the six scoreable calls to wait in the queue", accept=lambda n: n >= 6)
        held.release.set()
        first.result(60)
        answers: dict[str, Any] = {}
        for text, future in zip(sent, futures, strict=True):
            try:
                answers[text] = future.result(60)
            except Exception as exc:  # the blank one; any other failure is checked below
                answers[text] = exc
    refused = answers.pop(BLANK)
    assert isinstance(refused, ValidationError) and "text is only whitespace" in str(refused), refused
    assert [sorted(call) for call in held.calls[1:]] == [sorted(TEXTS)]  # one batch, without the blank text
    expected = vader.predict_batch(TEXTS).predictions()
    ids = set()
    for text, want in zip(TEXTS, expected, strict=True):
        label, details = answers[text]
        assert label["label"] == want.label and details["label"] == want.label, text
        got = {c["label"]: c["confidence"] for c in label["confidences"]}
        assert got == pytest.approx(want.scores), text
        ids.add(details["prediction_id"])
    assert len(ids) == len(TEXTS) and "" not in ids
    assert _sample(metrics, "sentiment_errors_total", {"reason": "empty_text"}) == 1
    assert _sample(metrics, "sentiment_batch_size_count", {"endpoint": "predict"}) - requests_before == 1 + len(TEXTS)
    assert _sample(metrics, "sentiment_batch_size_sum", {"endpoint": "predict"}) == 1 + len(TEXTS)
    assert _sample(metrics, "sentiment_coalesced_batch_size_bucket", {"le": "4.0"}) == 1  # the held one, alone
    assert _sample(metrics, "sentiment_coalesced_batch_size_count") == 2


def test_unbatched_predict_answers_an_empty_text_with_an_error_event_as_before(vader: Predictor, tmp_path: Any) -> None:
    """``SENTIMENT_PREDICT_MAX_BATCH=1``: one handler call per call, and an empty text fails in the handler (an
    ``AppError`` with the message), counted once."""
    service = _service(vader, tmp_path, predict_max_batch=1)
    assert batch_size(service) == 1
    demo = build_blocks(service).queue()
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        label, details = client.predict(TEXTS[0], api_name="/predict")
        assert label["label"] == details["label"] == "positive"
        with pytest.raises(AppError, match="text is only whitespace"):
            client.predict(BLANK, api_name="/predict")
    finally:
        demo.close()
        service.stop()
    assert _sample(service.metrics, "sentiment_errors_total", {"reason": "empty_text"}) == 1


@pytest.mark.parametrize(
    ("max_batch", "concurrency", "size"), [(16, 16, 16), (16, 4, 4), (8, 64, 8), (1, 16, 1), (32, 1, 1)]
)
def test_the_batch_is_the_setting_within_the_concurrency(
    vader: Predictor, tmp_path: Any, max_batch: int, concurrency: int, size: int
) -> None:
    service = _service(vader, tmp_path, predict_max_batch=max_batch, predict_concurrency=concurrency)
    assert batch_size(service) == size


@pytest.mark.parametrize("value", ["0", "257", "many"])
def test_a_bad_predict_max_batch_stops_the_settings_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SENTIMENT_PREDICT_MAX_BATCH", value)
    with pytest.raises(SettingsError, match="predict_max_batch"):
        Settings()


def test_predict_max_batch_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_PREDICT_MAX_BATCH", "4")
    assert Settings().predict_max_batch == 4


def test_a_batched_validators_refusal_is_read_once_installed() -> None:
    """Gradio 6.31 hands its queue a batched validator's result as a tuple and reads only lists: a refusal passed.
    ``install`` makes the queue read it."""
    assert gradio_batching.install()
    refusal = (gr.validate(False, "empty text"),)
    valid, data = queueing.process_validation_response(refusal, None)
    assert valid is False and data[0]["message"] == "empty text"
    assert queueing.process_validation_response((gr.validate(True, ""),), None)[0] is True


def test_on_an_untested_gradio_predict_runs_unbatched(
    monkeypatch: pytest.MonkeyPatch, vader: Predictor, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(queueing, "process_validation_response", gradio_batching._READ_LISTS_ONLY)
    monkeypatch.setattr(gr, "__version__", "99.0.0")
    with caplog.at_level(logging.WARNING, logger="sentiment.web.gradio_batching"):
        assert batch_size(_service(vader, tmp_path)) == 1
    assert "99.0.0" in caplog.text
    assert queueing.process_validation_response is gradio_batching._READ_LISTS_ONLY


@given(st.lists(st.sampled_from([*TEXTS, "", " ", "\n\t"]), min_size=1, max_size=12))
def test_predict_each_answers_every_text_in_order_and_a_blank_one_fails_alone(
    vader_service: SentimentService, texts: list[str]
) -> None:
    """Property: for any mix of texts and blank ones, ``predict_each`` answers each in order, a blank one with its
    error and the others exactly as scored alone, with a prediction id each; each text counts as one request."""
    metrics = vader_service.metrics
    before = _sample(metrics, "sentiment_batch_size_count", {"endpoint": "predict"})
    answers = vader_service.predict_each(texts)
    assert len(answers) == len(texts)
    for text, answer in zip(texts, answers, strict=True):
        if text.strip():
            alone = vader_service.predictor.predict_batch([text]).predictions()[0]
            assert answer.error is None and answer.label == alone.label and answer.prediction_id
            assert answer.scores == pytest.approx(alone.scores)
        else:
            assert answer.error is not None and answer.label is None
    assert _sample(metrics, "sentiment_batch_size_count", {"endpoint": "predict"}) - before == len(texts)


@pytest.fixture(scope="module")
def vader_service(vader: Predictor, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentimentService]:
    service = _service(vader, tmp_path_factory.mktemp("each"))
    yield service
    service.stop()
