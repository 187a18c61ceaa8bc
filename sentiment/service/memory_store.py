"""The app's one store as the service opens it at start: connect without waiting, say once when its memory will not
outlive a restart, move an old data folder into it, and start the optional Hub backup.

Kept out of ``serving`` (the predictor's lifecycle) so that each stays small; ``SentimentService`` holds the
``MemoryStore`` and asks it for /health's ``store`` object.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from sentiment.errors import StoreError, StoreUnavailableError
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.backup import backup_from_settings
from sentiment.store.legacy import import_legacy_data

logger = logging.getLogger(__name__)


class MemoryStore:
    """The opened ``store``, its optional ``backup`` (SENTIMENT_BACKUP_REPO) and what /health says about both."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Opened without waiting: a database that is down at start must not keep the app from serving predictions;
        # the store migrates on the first use that finds it answering.
        self.store = Store.open(settings.store_url, timeout_s=settings.database_timeout_s, wait=False)
        try:
            self.store.ensure_ready(force=True)
        except StoreUnavailableError as exc:
            logger.error("%s; predictions are served, monitoring memory waits for it", exc)
        if warning := settings.persistence.warning:  # e.g. a Space without a volume: say so once, at start
            logger.warning("%s", warning)
        self._import_legacy_data()
        self.backup = backup_from_settings(settings, self.store)  # None when unset

    def _import_legacy_data(self) -> None:
        """Move a data folder written before the one store into it, once (``sentiment.store.legacy``). A failure is
        logged and leaves the store as it was: the app serves; the next start tries again if nothing was written to
        the store meanwhile (the import only fills an empty store), else the log says so."""
        try:
            import_legacy_data(self.store, self.settings.data_dir)
        except (StoreError, SQLAlchemyError) as exc:  # a lock held too long, a row the database refuses
            logger.error("the old monitoring files were not imported: %s", exc)

    def start(self) -> None:
        if self.backup is not None:
            self.backup.start()

    def stop(self) -> None:
        if self.backup is not None:
            self.backup.stop()

    def status(self) -> dict[str, Any]:
        """The store as /health and the Monitoring tab report it: ``Store.status()`` (backend, address without its
        password, available, error) plus whether it outlives a restart and deploy, and if not, the warning."""
        persistence = self.settings.persistence
        return {**self.store.status(), "persistent": persistence.persistent, "warning": persistence.warning}
