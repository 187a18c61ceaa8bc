"""Who runs the scheduled jobs: one process among all that share a store.

- A SQLite store lives on one machine: a non-blocking file lock (``filelock``: ``flock`` on Unix) on
  ``<data_dir>/scheduler.lock`` picks one process among reload modes and several workers.
- A PostgreSQL store may be shared by replicas on several machines, where a file lock means nothing: a PostgreSQL
  advisory lock on a dedicated connection (``sentiment.store.leader``) picks one replica, and the database releases it
  when that replica dies.

Both are tried again and again (``Scheduler`` polls), so a standby takes over when the leader goes away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from sentiment.store import Store
from sentiment.store.leader import AdvisoryLeadership


class Leadership(Protocol):
    """A lock one process holds at a time. ``acquire`` never blocks: True while this process leads (taking the lock
    when it is free, checking it when already held); ``release`` gives it up."""

    description: str

    def acquire(self) -> bool: ...

    def release(self) -> None: ...


class FileLeadership:
    """The file lock: one process per machine (and per data folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file lock {path}"
        # Not thread-local: the app's shutdown may run on another thread than the one that took the lock.
        self._lock = FileLock(path, thread_local=False)

    def acquire(self) -> bool:
        if self._lock.is_locked:  # flock is held until released or the process ends: nothing can take it from us
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def leadership_for(store: Store, data_dir: Path, timeout_s: float = 5.0) -> Leadership:
    """The lock that fits the store: an advisory lock in a PostgreSQL store, else a file lock in the data folder."""
    if store.backend == "postgresql":
        return AdvisoryLeadership(store.engine.url, timeout_s=timeout_s)
    return FileLeadership(data_dir / "scheduler.lock")
