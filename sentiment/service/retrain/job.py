"""The retrain job's contract with whoever trains, and its progress.

``sentiment`` never imports ``finetune`` (the layering contract): the training loop is injected as a ``Trainer``, a
callable that the app's wiring (``scheduler.retrain``) fills with the LoRA loop of ``finetune.train``. So the service
holds the rules (what data, one job at a time, bounds, cancel, judging, lineage) and stays testable and importable
without torch training code, and the trainer holds only the training.

``Progress`` is shared between the job thread (which writes step, total and loss) and the readers (the API and the
UI, which read a snapshot, and ``cancel``); every access holds its lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

State = Literal["idle", "preparing", "training", "judging", "finished", "failed", "cancelled"]
RUNNING: tuple[State, ...] = ("preparing", "training", "judging")


@dataclass(frozen=True)
class TrainRequest:
    """One fine-tuning: ``base`` (the serving model's spec, resolved), ``train`` and ``validation`` frames (``text,
    label``), the run folder to write (``output_dir``, a servable run like the CLI's) and the bounds."""

    base: str
    train: pd.DataFrame
    validation: pd.DataFrame
    output_dir: Path
    max_steps: int
    batch_size: int
    max_length: int
    seed: int


class Trainer(Protocol):
    """Fine-tunes ``request.base`` into ``request.output_dir``, reporting each step to ``progress.step`` and
    stopping (keeping its best state) once ``progress.should_stop()``; raises ``RetrainCancelledError`` when it stopped
    because the job was cancelled, after removing what it wrote."""

    def __call__(self, request: TrainRequest, progress: Progress) -> None: ...


class Publisher(Protocol):
    """Publishes the run in ``folder`` to the Hub model repository ``repo`` (``owner/name``) as ``python -m finetune
    publish`` does, after writing its model card from ``state`` (``Challenger.as_state``); ``dry_run`` builds and
    checks the folder and uploads nothing. Returns the built folder; ``SentimentError`` says why it failed."""

    def __call__(
        self, folder: Path, repo: str, state: dict[str, Any], *, revision: str | None = None, dry_run: bool = False
    ) -> Path: ...


class JobRunning(Protocol):
    """Runs a named job with failure isolation and returns its outcome (``success``, ``failure``, ``timeout``,
    ``skipped``): the scheduler's ``JobRunner`` (its metrics and time limit), injected like the trainer."""

    def run(self, name: str, fn: Callable[[], Any]) -> str: ...


class Progress:
    """Step, total and loss of the job now running, with its ETA; ``cancel`` asks it to stop; ``max_seconds`` bounds
    its training (``should_stop`` turns true past it, and the trainer keeps what it has)."""

    def __init__(self, max_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._cancel = threading.Event()
        self.max_seconds = max_seconds
        self.state: State = "preparing"
        self.started = clock()
        self.training_started: float | None = None
        self.step = 0
        self.total = 0
        self.loss: float | None = None
        self.timed_out = False

    def set_state(self, state: State) -> None:
        with self._lock:
            self.state = state
            if state == "training" and self.training_started is None:
                self.training_started = self._clock()

    def update(self, step: int, total: int, loss: float) -> None:
        """One optimiser step done (the trainer calls this)."""
        with self._lock:
            self.step, self.total, self.loss = step, total, loss

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def should_stop(self) -> bool:
        """Cancelled, or training has run ``max_seconds`` (then ``timed_out``: the job goes on with what it has)."""
        if self._cancel.is_set():
            return True
        with self._lock:
            if self.training_started is not None and self._clock() - self.training_started >= self.max_seconds:
                self.timed_out = True
        return self.timed_out

    def snapshot(self) -> dict[str, Any]:
        """State, step, total, loss, elapsed seconds and the ETA of training (from the mean time per step so far,
        bounded by what is left of ``max_seconds``; None before the first step)."""
        with self._lock:
            now = self._clock()
            eta = None
            if self.training_started is not None and self.step and self.state == "training":
                spent = now - self.training_started
                eta = min(spent / self.step * (self.total - self.step), max(0.0, self.max_seconds - spent))
            return {
                "state": self.state,
                "step": self.step,
                "total_steps": self.total,
                "loss": None if self.loss is None else round(self.loss, 4),
                "elapsed_s": round(now - self.started, 1),
                "eta_s": None if eta is None else round(eta, 1),
                "stopped_at_time_limit": self.timed_out,
                "cancel_requested": self._cancel.is_set(),
            }
