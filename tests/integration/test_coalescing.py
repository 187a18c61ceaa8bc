"""Dynamic batching: concurrent single requests share forward passes; each gets its own row; a lone one never waits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from sentiment.inference.micro_batcher import MicroBatcher
from sentiment.inference.predictor import Predictor
from sentiment.settings import Settings


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
