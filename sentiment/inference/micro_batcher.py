"""Dynamic batching for concurrent single-text requests.

Requests that arrive within a few milliseconds of each other are scored in one forward pass: on a CPU a batch of 16
short texts costs little more than one, so throughput grows with concurrency instead of queueing one by one. A
request waits (at most ``max_wait_s``) only while other requests are in flight; a lone request runs at once. Each
caller gets its own row back, errors included. When a shared pass raises, each of its texts is scored again alone, so
an exception one text causes reaches only its own caller. ``close`` ends the thread once the texts already queued
are answered; later ones are refused with ``ModelUnavailableError``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import fields, replace
from typing import Any

import numpy as np

from sentiment.errors import ModelUnavailableError
from sentiment.results import BatchResult
from sentiment.settings import setting_default

logger = logging.getLogger(__name__)

Scorer = Callable[[Sequence[object]], BatchResult]


def row_of(result: BatchResult, i: int) -> BatchResult:
    """Row ``i`` of ``result`` as a one-row result: every per-row field (one entry per text) sliced, the others
    kept. Generic on purpose: a per-row field added to ``BatchResult`` later is carried too, where a hand-written
    copy once dropped the embeddings and, with them, the semantic drift test of every single-text request."""
    n = len(result.errors)
    rows: dict[str, Any] = {
        f.name: value[i : i + 1]
        for f in fields(result)
        if isinstance(value := getattr(result, f.name), np.ndarray | list | tuple) and len(value) == n
    }
    return replace(result, **rows)


class MicroBatcher:
    """One thread that scores queued single texts in shared forward passes, until ``close``."""

    def __init__(
        self,
        score: Scorer,
        max_batch: int = setting_default("batch_size"),
        max_wait_s: float = setting_default("batch_wait_ms") / 1000,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._score = score
        self._on_batch = on_batch  # told the size of every batch scored (a metric)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.SimpleQueue[tuple[object, Future[BatchResult]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting = 0  # callers between submit and their result
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()
        self.batches = 0  # forward passes run, for tests and benchmarks
        self.items = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, text: object, timeout: float | None = 120.0) -> BatchResult:
        """Score one text together with whatever else is waiting; returns its one-row result.

        Raises ``ModelUnavailableError`` once the batcher is closed (the service is stopping)."""
        future: Future[BatchResult] = Future()
        with self._lock:
            if self._closed:
                raise ModelUnavailableError("the service is stopping: no more predictions are taken")
            self._waiting += 1
            self._queue.put((text, future))  # under the lock: nothing is queued behind close's end marker
        try:
            return future.result(timeout)
        finally:
            with self._lock:
                self._waiting -= 1

    def close(self, timeout: float | None = 30.0) -> bool:
        """Stop taking texts, answer those already queued, and end the thread (idempotent). True when the thread
        has ended within ``timeout`` (a forward pass in progress is never interrupted)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)  # the end marker, behind every text already queued
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
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
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True  # closed: score what was queued before the marker, then end
                    break
                pending.append(item)
            self._answer(pending)

    def _answer(self, pending: list[tuple[object, Future[BatchResult]]]) -> None:
        try:
            result = self._score([text for text, _ in pending])
        except BaseException as exc:  # the callers see the error; the batcher keeps running
            if len(pending) == 1 or not isinstance(exc, Exception):
                for _, future in pending:
                    future.set_exception(exc)
                return
            logger.warning("a pass of %d texts failed (%r); scoring each alone", len(pending), exc)
            for one in pending:
                self._answer([one])  # only a text that fails alone fails its caller
            return
        self.batches += 1
        self.items += len(pending)
        if self._on_batch is not None:
            self._on_batch(len(pending))
        for i, (_, future) in enumerate(pending):
            future.set_result(row_of(result, i))
