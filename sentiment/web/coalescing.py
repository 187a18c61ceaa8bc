"""One-text API requests that arrive together become one service call, on the event loop, before any thread.

The service's micro-batcher already lets concurrent one-text requests share a forward pass, but each request still
holds its own worker thread through its ids, metrics and prediction-log row, and with 16 clients those 16 threads
take turns on the GIL with the model and the event loop (the profile in benchmarks/README.md, "Gradio /predict:
event batching", shows the same on Gradio's path: 1 ms of pre- and postprocessing became 12 ms). Here the requests
wait as asyncio futures instead; one drain task hands everything waiting to ``score`` in one thread call (as Text
Embeddings Inference's batching task does: whatever is queued when the model is free), and each future gets its own
text's prediction back.

A lone request goes at once. Under load, though, "whatever is queued" alternates: when a call of 16 answers, the
first client to send again finds the model free and is scored alone while the other 15 arrive. So after a call of
more than one request, the next waits up to ``wait_s`` (``SENTIMENT_BATCH_WAIT_MS``, as the micro-batcher's) for
as many requests as the last call had, if that call ended less than ``RECENT_S`` ago; after a call of one, or
after a quiet second, it never waits.

Requests that share a call must not share a failure: when the call raises, each of its requests is scored again
alone, so an exception that one text causes reaches only its own request (and one that every text causes, a model
that no longer serves, still reaches all).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool

from sentiment.results import Prediction

logger = logging.getLogger(__name__)

RECENT_S = 1.0  # a call of several requests that ended this recently means more are on their way

# texts of several one-text requests and each request's ``truncate`` -> one prediction each, in order
# (``SentimentService.classify_each``)
ScoreEach = Callable[[Sequence[str], Sequence[bool]], list[Prediction]]


class RequestCoalescer:
    """``await coalescer(text)`` -> that text's ``Prediction``; concurrent calls share one ``score`` call of at most
    ``max_texts`` texts. When ``score`` raises, each request of that call is scored again alone and gets its own
    answer or exception; a request whose client went away (its future cancelled) is scored with the others and its
    answer dropped."""

    def __init__(self, score: ScoreEach, max_texts: int, wait_s: float = 0.0) -> None:
        if max_texts < 1:
            raise ValueError(f"max_texts must be at least 1, got {max_texts}")
        self._score = score
        self._max_texts = max_texts
        self._wait_s = wait_s
        self._waiting: deque[tuple[str, bool, asyncio.Future[Prediction]]] = deque()
        self._drain: asyncio.Task[None] | None = None
        # made by each wait, on the loop serving the requests (an app can be served by more than one loop in turn)
        self._arrived: asyncio.Event | None = None
        self._last_call = 0  # requests in the last call
        self._last_end = 0.0  # when it answered (the loop's clock)

    async def __call__(self, text: str, truncate: bool = True) -> Prediction:
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._waiting.append((text, truncate, future))
        if self._arrived is not None:
            self._arrived.set()
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _gather(self) -> None:
        """After a call of several requests: wait (at most ``wait_s``) until as many are waiting again."""
        wanted = min(self._last_call, self._max_texts)
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_end > RECENT_S
        if self._last_call <= 1 or self._wait_s <= 0 or len(self._waiting) >= wanted or quiet:
            return
        deadline = loop.time() + self._wait_s
        self._arrived = asyncio.Event()
        while len(self._waiting) < wanted and (remaining := deadline - loop.time()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break

    async def _run(self) -> None:
        while self._waiting:
            await self._gather()
            batch = [self._waiting.popleft() for _ in range(min(self._max_texts, len(self._waiting)))]
            self._last_call = len(batch)
            try:
                predictions = await run_in_threadpool(
                    self._score, [text for text, _, _ in batch], [truncate for _, truncate, _ in batch]
                )
            except Exception as exc:
                await self._alone(batch, exc)
                continue
            finally:
                self._last_end = asyncio.get_running_loop().time()
            for (_, _, future), prediction in zip(batch, predictions, strict=True):
                if not future.done():
                    future.set_result(prediction)

    async def _alone(self, batch: list[tuple[str, bool, asyncio.Future[Prediction]]], exc: Exception) -> None:
        """A call failed: score each of its requests alone (a call of one already was), so only the request whose
        text fails gets an exception."""
        if len(batch) > 1:
            logger.warning("a call of %d coalesced requests failed (%r); scoring each alone", len(batch), exc)
        for text, truncate, future in batch:
            if future.done():
                continue
            if len(batch) == 1:
                future.set_exception(exc)
                continue
            try:
                prediction = (await run_in_threadpool(self._score, [text], [truncate]))[0]
            except Exception as own:
                if not future.done():
                    future.set_exception(own)
            else:
                if not future.done():
                    future.set_result(prediction)
