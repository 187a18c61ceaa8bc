"""The optional backup to a Hub dataset repo (``SENTIMENT_BACKUP_REPO``), tested up to the push: the Hub cannot be
reached from the tests, so ``CommitScheduler``'s upload itself is not run. What is tested: each export is a whole
store export in a folder of its own with a unique name, written under the scheduler's lock; old exports are deleted
only after the scheduler recorded them pushed; with the real ``CommitScheduler`` unable to reach the Hub the exports
go on and the reason is logged; the settings turn it on."""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.backup import KEEP, StoreBackup, backup_from_settings, export_for_backup
from sentiment.store.legacy import import_legacy_data
from sentiment.store.schema import TABLES
from sentiment.store.transfer import MANIFEST, import_store

DATA = Path(__file__).resolve().parents[1] / "data"


def _tables(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.read() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))] for t in TABLES}


@pytest.fixture
def filled(store: Store, tmp_path: Path) -> Store:
    shutil.copytree(DATA / "legacy_data_dir", tmp_path / "legacy")
    import_legacy_data(store, tmp_path / "legacy")
    return store


def test_exports_in_one_second_get_unique_folders_and_each_is_a_whole_store(filled: Store, tmp_path: Path) -> None:
    """Two exports stamped with the same time: two folders (the random part differs), both starting with the UTC
    time, and the import of either gives back every table of the store."""
    first = export_for_backup(filled, tmp_path / "backups", now=0.0)
    second = export_for_backup(filled, tmp_path / "backups", now=0.0)
    assert first != second
    assert first.name.startswith("19700101T000000.000000Z-") and second.name.startswith("19700101T000000.000000Z-")
    target = Store.open(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    try:
        import_store(target, second)
        assert _tables(target) == _tables(filled)
    finally:
        target.dispose()


class HubSide:
    """Stands in for ``CommitScheduler`` where the Hub is needed (it cannot be reached here): the same ``lock`` and
    ``last_uploaded`` (resolved path -> mtime of what was pushed) that ``CommitScheduler.push_to_hub`` keeps. Its
    lock records which exports existed when it was taken and released."""

    def __init__(self, folder: Path, **_: Any) -> None:
        self.folder = folder
        self.last_uploaded: dict[Path, float] = {}
        self.seen: list[tuple[set[str], set[str]]] = []
        self.stopped = False
        outer = self

        class Lock:
            def __enter__(self) -> None:
                outer._inner.acquire()
                outer._before = outer.exports()

            def __exit__(self, *exc: object) -> None:
                outer.seen.append((outer._before, outer.exports()))
                outer._inner.release()

        self._inner = threading.Lock()
        self._before: set[str] = set()
        self.lock = Lock()

    def exports(self) -> set[str]:
        return {p.name for p in self.folder.iterdir() if (p / MANIFEST).is_file()}

    def push(self) -> None:
        """Record every file as pushed, as a successful ``push_to_hub`` does."""
        for path in self.folder.rglob("*"):
            if path.is_file():
                self.last_uploaded[path.resolve()] = path.stat().st_mtime

    def stop(self) -> None:
        self.stopped = True


def test_exports_are_written_under_the_lock_and_only_pushed_ones_are_pruned(filled: Store, tmp_path: Path) -> None:
    """Each export appears while the scheduler's lock is held (a push never lists half an export); four exports
    with nothing pushed are all kept; after a push, the next export deletes the pushed ones older than the newest
    ``KEEP`` (2): the last pushed one and the new one stay."""
    folder = tmp_path / "backups"
    hub: list[HubSide] = []

    def factory(**kwargs: Any) -> HubSide:
        assert kwargs["repo_type"] == "dataset" and kwargs["every"] == 60
        hub.append(HubSide(kwargs["folder_path"]))
        return hub[-1]

    backup = StoreBackup(filled, folder, "owner/backup", 60, scheduler_factory=factory)
    paths = [backup.run_once() for _ in range(4)]
    side = hub[0]
    for before, after in side.seen:
        assert len(after - before) == 1  # the new export appeared inside the lock
    assert side.exports() == {p.name for p in paths}  # nothing pushed: nothing deleted
    side.push()
    newest = backup.run_once()
    assert side.exports() == {paths[-1].name, newest.name} and KEEP == 2
    backup.stop()
    assert side.stopped and backup.scheduler is None


def test_with_the_hub_unreachable_the_real_scheduler_fails_and_exports_go_on(
    filled: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real ``CommitScheduler`` (HF_HUB_OFFLINE=1: it cannot create the repo) raises at creation; the backup
    thread logs why once, still writes the export, and a second period tries again."""
    exported: queue.Queue[Path] = queue.Queue()
    backup = StoreBackup(filled, tmp_path / "backups", "owner/backup", 60, on_export=exported.put)
    backup.start()
    try:
        path = exported.get(timeout=60)
    finally:
        backup.stop()
    assert (path / MANIFEST).is_file() and (path / "predictions.parquet").is_file()
    assert backup.scheduler is None and "OfflineModeIsEnabled" in (backup.last_error or "")
    assert "cannot push backups to the dataset repo owner/backup" in caplog.text
    backup.run_once()
    assert caplog.text.count("cannot push backups") == 1  # the same reason is not logged again


def test_the_settings_turn_the_backup_on(store: Store, tmp_path: Path) -> None:
    assert backup_from_settings(Settings(data_dir=tmp_path), store) is None
    backup = backup_from_settings(Settings(data_dir=tmp_path, backup_repo="me/b", backup_minutes=15), store)
    assert backup is not None
    assert (backup.repo_id, backup.every_minutes, backup.folder) == ("me/b", 15, tmp_path / "backups")
