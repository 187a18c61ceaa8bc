"""Where the app keeps what it must remember: the data folder, the one database, and the prediction log's limits.

Where the memory survives: a Hugging Face Space's own disk is wiped on every restart and rebuild; only a persistent
volume (Spaces mount persistent storage, or a storage bucket, at ``/data``) or a database elsewhere outlives it. So
when a volume is mounted at ``SENTIMENT_VOLUME_DIR`` the data folder (and with it the SQLite store) defaults to a
folder on it, and ``StorageSettings.persistence`` says whether the store in use survives a restart and, when it does
not, how to make it survive (``/health``, the start-up log and the Monitoring tab show that sentence).

Kept apart from ``sentiment.settings`` (the rest of the configuration) so that each file stays small; ``Settings``
inherits these fields, so they are read and validated with the others (``SENTIMENT_<FIELD>``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

VOLUME_FOLDER = "sentiment"  # the data folder's name on a mounted volume (the volume may hold other things: HF_HOME)


@dataclass(frozen=True)
class Persistence:
    """Whether the store survives a restart of the app, and when it does not, the sentence that says so and how to
    fix it (``warning``; None when persistent)."""

    persistent: bool
    warning: str | None = None


class StorageSettings(BaseSettings):
    """The data folder, the database address and the prediction log's bounds."""

    data_dir: Path = Field(
        Path("data"),
        description="Folder for caches, downloads, scored files and the SQLite store; default: <volume>/sentiment "
        "when a persistent volume is mounted at SENTIMENT_VOLUME_DIR, else ./data.",
    )
    volume_dir: Path = Field(
        Path("/data"),
        description="Where a persistent volume is mounted (Hugging Face Spaces mount persistent storage or a "
        "storage bucket at /data); when one is, the data folder defaults to a folder on it.",
    )
    volume_mounted: bool | None = Field(
        None,
        description="Whether a persistent volume is mounted at SENTIMENT_VOLUME_DIR; unset: detected (a mount point "
        "this process can write). Set it where detection cannot tell, e.g. a volume that is the container's root.",
    )
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
    log_text: bool = Field(
        False,
        description="Also store the raw text in the prediction log (privacy: off). The review sample's texts are "
        "stored whatever this says (SENTIMENT_REVIEW_RATE).",
    )
    log_queue_rows: int = Field(
        50_000,
        ge=100,
        description="Rows the log holds in memory, waiting to be written or for the database to come back, before "
        "it drops new ones (counted in sentiment_prediction_log_rows_total{outcome=dropped}).",
    )
    log_max_rows: int = Field(1_000_000, ge=1000, description="Rows kept in the prediction log.")
    log_max_days: float = Field(30.0, gt=0, description="Days kept in the prediction log.")
    review_rate: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Share of logged predictions drawn at random into the review sample (each with this chance; "
        "0: no sample). Their texts are kept for labelling even when SENTIMENT_LOG_TEXT is off.",
    )
    review_daily_cap: int = Field(
        200,
        ge=0,
        le=1_000_000,
        description="Most predictions drawn into the review sample per UTC day: once reached, the day's sample ends "
        "(later predictions of that day are not drawn, and the store records when it ended).",
    )
    review_text_days: float = Field(
        90.0,
        gt=0,
        le=3650,
        description="Days the review sample keeps a sampled text: older texts are deleted (labels are kept without "
        "their text; rows never labelled go with their text).",
    )

    ppi_min_labels: int = Field(
        25,
        ge=10,
        le=100_000,
        description="Labels of the review sample a window needs before the Monitoring card shows its prediction-"
        "powered interval (at 25 a rare class's 90% share interval covered 85-92% of simulated windows on real sets, "
        "from 50 on 88% or more: benchmarks/ppi_coverage.py).",
    )
    class_share_method: Literal["cc", "acc", "pcc", "pacc", "em"] = Field(
        "cc",
        description="Class shares of each drift window (benchmarks/class_shares.py chose cc); a correction (acc, "
        "pacc, em) is shown only where the label-shift fit test does not refute label shift on the window.",
    )
    class_share_bootstrap: int = Field(
        200,
        ge=50,
        le=5000,
        description="Bootstrap replicas behind the class shares' 90% bands and their change, per drift check (200, "
        "window 1,000, reference 630: cc 0.04 s, em 2.4 s on 2 busy cores; under 50 a 90% band is too coarse).",
    )

    @model_validator(mode="after")
    def _data_dir_on_the_volume(self) -> StorageSettings:
        """Put the data folder on a mounted volume unless ``SENTIMENT_DATA_DIR`` says where it goes."""
        if "data_dir" not in self.model_fields_set and self.volume_is_mounted:
            self.data_dir = self.volume_dir / VOLUME_FOLDER
        return self

    @property
    def volume_is_mounted(self) -> bool:
        """``SENTIMENT_VOLUME_MOUNTED`` when set; else whether ``volume_dir`` is a mount point this process can write
        (a folder of the same name on the container's own disk is not a volume: it is wiped with the rest)."""
        if self.volume_mounted is not None:
            return self.volume_mounted
        return os.path.ismount(self.volume_dir) and os.access(self.volume_dir, os.W_OK)

    @property
    def on_space(self) -> bool:
        """Running on a Hugging Face Space (it sets ``SPACE_ID``, read by ``Settings.space_id``): the Space's own disk
        is wiped on every restart and rebuild."""
        return bool(getattr(self, "space_id", None))

    @property
    def persistence(self) -> Persistence:
        """Whether the monitoring memory survives a restart and a deploy, and if not, what to do.

        The rule: a database elsewhere (PostgreSQL) survives; an in-memory SQLite store never does; a SQLite file
        survives when it lies on the mounted volume, or when the app is not on a Space (a machine's disk, or a
        container's volume, is kept between runs: the operator chose it). On a Space, a SQLite file anywhere but on
        the volume sits on the disk the platform wipes."""
        try:
            url = make_url(self.store_url)
        except ArgumentError:
            return Persistence(True)  # the store refuses the address with its own error; nothing to add here
        if url.get_backend_name() != "sqlite":
            return Persistence(True)
        database = url.database or ""
        if not database or database == ":memory:":
            where = "the SQLite store is in memory, which the process takes with it"
        elif not self.on_space or self._on_volume(Path(database)):
            return Persistence(True)
        else:
            where = f"the SQLite file {database} is on the Space's own disk, which is wiped"
        return Persistence(
            False,
            "Monitoring memory (feedback, the prediction log, evaluations, drift history, references) is lost on "
            f"every restart and deploy: {where}. To keep it, attach persistent storage or a storage bucket at "
            f"{self.volume_dir} (the data folder and the store then go there by themselves), or set "
            "SENTIMENT_DATABASE_URL to a database that outlives the app "
            "(postgresql+psycopg://user:password@host:5432/database).",
        )

    def _on_volume(self, path: Path) -> bool:
        return self.volume_is_mounted and path.resolve().is_relative_to(self.volume_dir.resolve())

    @property
    def store_url(self) -> str:
        """The database address in use (with its password: never log it; ``sentiment.store.safe_url`` hides it)."""
        if self.database_url is not None and self.database_url.get_secret_value().strip():
            return self.database_url.get_secret_value().strip()
        return f"sqlite:///{(self.data_dir / 'sentiment.sqlite').as_posix()}"
