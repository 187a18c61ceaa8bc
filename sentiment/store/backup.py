"""Optional backup of the store to a Hugging Face dataset repo (``SENTIMENT_BACKUP_REPO``).

Every ``SENTIMENT_BACKUP_MINUTES`` the app exports the whole store (``sentiment.store.transfer``) into
``<data_dir>/backups/<UTC time>-<random>/``, and ``huggingface_hub.CommitScheduler`` pushes that folder to the repo
on the same period. The Hub's guidance for the scheduler is an append-only folder of files with unique names (it
uploads files new or changed since its last push): each export is a new folder, written under the scheduler's lock,
so a push never takes half an export. Local exports beyond the newest ``KEEP`` are deleted once the scheduler has
pushed every file of them. The push itself needs the Hub (and ``HF_TOKEN`` with write access); while the scheduler
cannot be created (no network, no token) the exports are still written, the reason is logged once, and creating it
is tried again at the next export.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sentiment.settings import Settings
from sentiment.store.engine import Store
from sentiment.store.transfer import MANIFEST, export_store

logger = logging.getLogger(__name__)

KEEP = 2  # local exports kept after they are pushed (the newest); older pushed ones are deleted
SchedulerFactory = Callable[..., Any]


def export_for_backup(store: Store, folder: Path, now: float | None = None) -> Path:
    """Export ``store`` into a new folder of ``folder`` whose name sorts by time (to the microsecond: pruning keeps
    the newest by name) and never repeats (two exports at one instant, or by two replicas, differ in the random
    part)."""
    now = time.time() if now is None else now
    stamp = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}.{int(now % 1 * 1e6):06d}Z"  # sorts in time order
    target = folder / f"{stamp}-{secrets.token_hex(4)}"
    export_store(store, target)
    return target


def _default_scheduler(**kwargs: Any) -> Any:
    from huggingface_hub import CommitScheduler  # only a deployment that backs up needs it loaded

    return CommitScheduler(**kwargs)


def backup_from_settings(settings: Settings, store: Store) -> StoreBackup | None:
    """The backup ``SENTIMENT_BACKUP_REPO`` asks for (exports under ``<data_dir>/backups``), or None."""
    repo = (settings.backup_repo or "").strip()
    if not repo:
        return None
    return StoreBackup(store, settings.data_dir / "backups", repo, settings.backup_minutes)


class StoreBackup:
    """Exports the store every ``every_minutes`` into ``folder`` and has a ``CommitScheduler`` push them to the
    dataset repo ``repo_id`` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        repo_id: str,
        every_minutes: float,
        *,
        scheduler_factory: SchedulerFactory = _default_scheduler,
        on_export: Callable[[Path], None] | None = None,
    ) -> None:
        self.store, self.folder, self.repo_id, self.every_minutes = store, folder, repo_id, every_minutes
        self.scheduler: Any = None
        self._factory = scheduler_factory
        self._on_export = on_export
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        """Export now and then every period, in a daemon thread (idempotent; restarts a stopped backup)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="store-backup", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """End the exports; the scheduler is stopped too (a stopped CommitScheduler cannot restart: a new one is
        made on the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # a failed backup must never take the app down: logged, tried next period
                logger.error("the store backup failed: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.every_minutes * 60)

    def run_once(self) -> Path:
        """One period's work: make sure the scheduler exists, export under its lock, drop pushed old exports."""
        self._ensure_scheduler()
        with self._lock():
            path = export_for_backup(self.store, self.folder)
            self._prune()
        logger.info("exported the store to %s for the backup to %s", path, self.repo_id)
        if self._on_export is not None:
            self._on_export(path)
        return path

    def _lock(self) -> AbstractContextManager[Any]:
        return self.scheduler.lock if self.scheduler is not None else nullcontext()

    def _ensure_scheduler(self) -> None:
        if self.scheduler is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.scheduler = self._factory(
                repo_id=self.repo_id,
                repo_type="dataset",
                folder_path=self.folder,
                every=self.every_minutes,
                private=True,
            )
        except Exception as exc:  # the Hub unreachable, no token, no right to the repo: exports go on locally
            reason = f"{type(exc).__name__}: {exc}"
            if reason != self.last_error:
                logger.error("cannot push backups to the dataset repo %s (%s); exporting locally", self.repo_id, reason)
            self.last_error = reason
        else:
            self.last_error = None

    def _prune(self) -> None:
        """Delete exports older than the newest ``KEEP`` whose every file the scheduler has pushed (unchanged)."""
        exports = sorted(p for p in self.folder.iterdir() if (p / MANIFEST).is_file())
        uploaded: dict[Path, float] = getattr(self.scheduler, "last_uploaded", {}) or {}
        for old in exports[:-KEEP]:
            files = [f.resolve() for f in old.iterdir() if f.is_file()]
            if files and all(uploaded.get(f) == f.stat().st_mtime for f in files):
                shutil.rmtree(old)
