"""Dynamic batching: concurrent single requests share forward passes; each gets its own row; a lone one never waits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sentiment.errors import ModelUnavailableError
from sentiment.inference.micro_batcher import MicroBatcher
from sentiment.inference.predictor import Predictor
from sentiment.settings import Settings
from waiting import wait_until


def test_concurrent_requests_share_forward_passes_and_get_their_own_rows(
    tiny_model_dir: Path, session_settings: Settings
) -> None:
    predictor = Predictor.load(str(tiny_model_dir), session_settings.model_copy(update={"precision": "fp32"}))
    sizes: list[int] = []  # what the service reports as the sentiment_coalesced_batch_size histogram
    batcher = MicroBatcher(predictor.predict_batch, max_batch=32, max_wait_s=0.05, on_batch=sizes.append)
    texts = [f"what a great day number {i}" for i in range(24)] + ["", "   "]
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(texts))

    def call(i: int) -> None:
        barrier.wait()
        results[i] = batcher.submit(texts[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert batcher.items == len(texts) and batcher.batches < len(texts) / 2  # coalesced, not one by one
    assert sum(sizes) == len(texts) and len(sizes) == batcher.batches
    expected = predictor.predict_batch(texts[:24]).probabilities
    for i in range(24):
        np.testing.assert_allclose(results[i].probabilities[0], expected[i], atol=1e-5)  # type: ignore[attr-defined]
    assert results[24].errors == ["empty text"] and results[25].errors == ["text is only whitespace"]  # type: ignore[attr-defined]


def test_a_lone_request_does_not_wait_for_company(tiny_model_dir: Path, session_settings: Settings) -> None:
    predictor = Predictor.load(str(tiny_model_dir), session_settings)
    batcher = MicroBatcher(predictor.predict_batch, max_batch=32, max_wait_s=1.0)
    batcher.submit("warm up")
    started = time.perf_counter()
    batcher.submit("hello there")
    assert time.perf_counter() - started < 0.5  # far below the 1 s the batcher may wait when others are coming


def test_a_failing_forward_pass_fails_its_callers_and_the_batcher_goes_on() -> None:
    calls = []

    def flaky(texts):  # type: ignore[no-untyped-def]
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("boom")
        from sentiment.results import BatchResult

        n = len(texts)
        return BatchResult(np.full((n, 3), 1 / 3, dtype=np.float32), np.zeros(n, bool), [None] * n, np.ones(n, int))

    batcher = MicroBatcher(flaky, max_wait_s=0.001)
    try:
        batcher.submit("a")
    except RuntimeError as exc:
        assert "boom" in str(exc)
    else:
        raise AssertionError("the error must reach the caller")
    assert batcher.submit("b").errors == [None]


def _uniform(texts):  # type: ignore[no-untyped-def]
    from sentiment.results import BatchResult

    n = len(texts)
    return BatchResult(np.full((n, 3), 1 / 3, dtype=np.float32), np.zeros(n, bool), [None] * n, np.ones(n, int))


def test_close_answers_the_queued_requests_ends_the_thread_and_refuses_later_ones() -> None:
    """Requests queued before ``close`` get their rows (the forward pass in progress is not cut short); the thread
    ends; a request after ``close`` fails at once, saying the service is stopping. Twice is once."""
    release = threading.Event()
    entered = threading.Event()

    def slow(texts):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(30)
        return _uniform(texts)

    batcher = MicroBatcher(slow, max_batch=1, max_wait_s=0.0)
    results: list[object] = []
    callers = [threading.Thread(target=lambda i=i: results.append(batcher.submit(f"t{i}"))) for i in range(3)]
    for t in callers:
        t.start()
    assert entered.wait(30)  # the first pass is running
    wait_until(lambda: batcher._waiting == 3, "the other two requests queued behind it")
    closer = threading.Thread(target=batcher.close)
    closer.start()
    wait_until(lambda: batcher.closed, "close to begin")
    with pytest.raises(ModelUnavailableError, match="stopping"):
        batcher.submit("too late")
    release.set()
    closer.join(30)
    for t in callers:
        t.join(30)
    assert len(results) == 3 and batcher.items == 3
    assert not batcher._thread.is_alive()
    assert batcher.close() is True


def test_the_service_stop_closes_its_batcher_and_start_opens_a_new_one(
    tiny_model_dir: Path, settings: Settings
) -> None:
    from prometheus_client import CollectorRegistry

    from sentiment.service.metrics import ServiceMetrics
    from sentiment.service.serving import SentimentService

    service = SentimentService(
        settings, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), settings)
    )
    thread = service._batcher._thread
    service.predict("fine")
    service.stop()
    assert not thread.is_alive()
    with pytest.raises(ModelUnavailableError, match="stopping"):
        service.predict("after stop")
    service.start()
    try:
        assert service.predict("back again").label in {"negative", "neutral", "positive"}
    finally:
        service.stop()
