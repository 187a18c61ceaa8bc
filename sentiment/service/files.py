"""Job folders of scored files: one fresh folder per job, swept after ``batch_retention_s`` (they hold users' text),
and nothing left by an interrupted job ever offered as a result."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from pathlib import Path

from sentiment.settings import Settings

logger = logging.getLogger(__name__)


class JobFolders:
    """Folders under ``<data_dir>/batch``; a folder being written is never swept, however long its job runs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._running: set[Path] = set()

    def start(self) -> None:
        """Clean what a killed process left, then sweep on a timer (idempotent)."""
        self.clean_interrupted()
        if self._sweeper is None:
            self._stopping.clear()
            self._sweeper = threading.Thread(target=self._sweep_periodically, name="batch-sweeper", daemon=True)
            self._sweeper.start()

    def stop(self) -> None:
        self._stopping.set()
        self._sweeper = None

    def done(self, job: Path) -> None:
        """The job has ended: its folder is swept like any other from now on."""
        self._running.discard(job)

    def clean_interrupted(self) -> int:
        """Remove what a killed process left mid-job (``*.partial`` files): never offered as a result."""
        removed = 0
        for partial in (self.settings.data_dir / "batch").glob("*/*.partial"):
            partial.unlink(missing_ok=True)
            removed += 1
        if removed:
            logger.warning("removed %d unfinished scoring result(s) left by an interrupted run", removed)
        return removed

    def sweep(self) -> int:
        """Delete job folders (scored files hold users' text) older than ``batch_retention_s``; returns how many."""
        root = self.settings.data_dir / "batch"
        if not root.is_dir():
            return 0
        cutoff = time.time() - self.settings.batch_retention_s
        removed = 0
        for old in root.iterdir():  # results are downloaded right away; nothing is kept past the retention
            try:
                expired = old.is_dir() and old not in self._running and old.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if expired:
                shutil.rmtree(old, ignore_errors=True)
                removed += 1
        return removed

    def _sweep_periodically(self) -> None:
        """Sweep on a timer too, so the retention holds when no new job comes (Gradio sweeps its cache alike)."""
        interval = max(1.0, min(600.0, self.settings.batch_retention_s))
        while not self._stopping.wait(interval):
            try:
                self.sweep()
            except OSError as exc:
                logger.warning("sweeping old scored files failed: %s", exc)

    def new(self) -> Path:
        root = self.settings.data_dir / "batch"
        root.mkdir(parents=True, exist_ok=True)
        self.sweep()
        job = root / uuid.uuid4().hex
        job.mkdir()
        self._running.add(job)  # from its creation: a concurrent sweep must not take it
        return job
