"""One-text API requests that arrive together become one service call, on the event loop, before any thread.

The service's micro-batcher already lets concurrent one-text requests share a forward pass, but each request still
holds its own worker thread through its ids, metrics and prediction-log row, and with 16 clients those 16 threads
take turns on the GIL with the model and the event loop (the profile in benchmarks/README.md, "Gradio /predict:
event batching", shows the same on Gradio's path: 1 ms of pre- and postprocessing became 12 ms). Here the requests
wait as asyncio futures instead; one drain task hands everything waiting to ``score`` in one thread call (so it
forms the batch as Text Embeddings Inference's batching task does: whatever is queued when the model is free, no
timer, so a lone request goes at once), and each future gets its own text's prediction back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool

from sentiment.results import Prediction

# texts of several one-text requests -> one prediction each, in order (``SentimentService.classify_each``)
ScoreEach = Callable[[Sequence[str]], list[Prediction]]


class RequestCoalescer:
    """``await coalescer(text)`` -> that text's ``Prediction``; concurrent calls share one ``score`` call of at most
    ``max_texts`` texts. An exception from ``score`` is raised to every request of that call; a request whose
    client went away (its future cancelled) is scored with the others and its answer dropped."""

    def __init__(self, score: ScoreEach, max_texts: int) -> None:
        if max_texts < 1:
            raise ValueError(f"max_texts must be at least 1, got {max_texts}")
        self._score = score
        self._max_texts = max_texts
        self._waiting: deque[tuple[str, asyncio.Future[Prediction]]] = deque()
        self._drain: asyncio.Task[None] | None = None

    async def __call__(self, text: str) -> Prediction:
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._waiting.append((text, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch = [self._waiting.popleft() for _ in range(min(self._max_texts, len(self._waiting)))]
            try:
                predictions = await run_in_threadpool(self._score, [text for text, _ in batch])
            except Exception as exc:  # every request of this call fails the same way (e.g. no model serving)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), prediction in zip(batch, predictions, strict=True):
                if not future.done():
                    future.set_result(prediction)
