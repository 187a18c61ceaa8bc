"""Where the app keeps what it must remember: the data folder, the one database, and the prediction log's limits.

Kept apart from ``sentiment.settings`` (the rest of the configuration) so that each file stays small; ``Settings``
inherits these fields, so they are read and validated with the others (``SENTIMENT_<FIELD>``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings


class StorageSettings(BaseSettings):
    """The data folder, the database address and the prediction log's bounds."""

    data_dir: Path = Field(Path("data"), description="Folder for caches, downloads, scored files and the SQLite store.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy address of the one store (monitoring memory): default sqlite:///<data_dir>/"
        "sentiment.sqlite; postgresql+psycopg://user:password@host/db for a store several replicas share.",
    )
    database_timeout_s: float = Field(
        5.0, gt=0, le=120, description="How long opening a database connection (or a locked SQLite write) may wait."
    )
    backup_repo: str | None = Field(
        None,
        description="Hugging Face dataset repo (owner/name) the store is exported to as Parquet every "
        "SENTIMENT_BACKUP_MINUTES by huggingface_hub's CommitScheduler (needs HF_TOKEN with write access; "
        "default: no backup).",
    )
    backup_minutes: float = Field(
        60.0, gt=0, description="Minutes between backup exports (and pushes) when SENTIMENT_BACKUP_REPO is set."
    )
    log_predictions: bool = Field(True, description="Keep one row per scored text in the prediction log.")
    log_text: bool = Field(False, description="Also store the raw text in the prediction log (privacy: off).")
    log_queue_rows: int = Field(
        50_000,
        ge=100,
        description="Rows the log holds in memory, waiting to be written or for the database to come back, before "
        "it drops new ones (counted in sentiment_prediction_log_rows_total{outcome=dropped}).",
    )
    log_max_rows: int = Field(1_000_000, ge=1000, description="Rows kept in the prediction log.")
    log_max_days: float = Field(30.0, gt=0, description="Days kept in the prediction log.")

    @property
    def store_url(self) -> str:
        """The database address in use (with its password: never log it; ``sentiment.store.safe_url`` hides it)."""
        if self.database_url is not None and self.database_url.get_secret_value().strip():
            return self.database_url.get_secret_value().strip()
        return f"sqlite:///{(self.data_dir / 'sentiment.sqlite').as_posix()}"
