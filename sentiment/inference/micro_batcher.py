"""Dynamic batching for concurrent single-text requests.

Requests that arrive within a few milliseconds of each other are scored in one forward pass: on a CPU a batch of 16
short texts costs little more than one, so throughput grows with concurrency instead of queueing one by one. A
request waits (at most ``max_wait_s``) only while other requests are in flight; a lone request runs at once. Each
caller gets its own row back, errors included.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from sentiment.results import BatchResult

Scorer = Callable[[Sequence[object]], BatchResult]


def row_of(result: BatchResult, i: int) -> BatchResult:
    return BatchResult(
        probabilities=result.probabilities[i : i + 1],
        truncated=result.truncated[i : i + 1],
        errors=[result.errors[i]],
        error_reasons=result.error_reasons[i : i + 1],
        tokens=result.tokens[i : i + 1],
        model=result.model,
    )


class MicroBatcher:
    def __init__(
        self,
        score: Scorer,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._score = score
        self._on_batch = on_batch  # told the size of every batch scored (a metric)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.SimpleQueue[tuple[object, Future[BatchResult]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting = 0  # callers between submit and their result
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()
        self.batches = 0  # forward passes run, for tests and benchmarks
        self.items = 0

    def submit(self, text: object, timeout: float | None = 120.0) -> BatchResult:
        """Score one text together with whatever else is waiting; returns its one-row result."""
        future: Future[BatchResult] = Future()
        with self._lock:
            self._waiting += 1
        try:
            self._queue.put((text, future))
            return future.result(timeout)
        finally:
            with self._lock:
                self._waiting -= 1

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            pending = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(pending) < self.max_batch:
                with self._lock:
                    others = self._waiting > len(pending)
                if not others and self._queue.empty():
                    break  # nobody else is on the way: do not make a lone request wait
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    pending.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            try:
                result = self._score([text for text, _ in pending])
            except BaseException as exc:  # the callers see the error; the batcher keeps running
                for _, future in pending:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(pending)
            if self._on_batch is not None:
                self._on_batch(len(pending))
            for i, (_, future) in enumerate(pending):
                future.set_result(row_of(result, i))
