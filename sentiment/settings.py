"""All configuration in one validated place, read from the environment (prefix ``SENTIMENT_``).

Constructors receive a ``Settings`` instance rather than reading the environment themselves, so tests can build
any configuration explicitly and nothing deep in the code depends on global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HUB_MODEL = "cardiffnlp/twitter-roberta-base-sentiment-latest"


class Settings(BaseSettings):
    """Settings of the sentiment service; every field can be set as ``SENTIMENT_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="SENTIMENT_", extra="ignore", validate_default=True, populate_by_name=True, protected_namespaces=()
    )

    model: str = Field(
        "auto",
        description="Model spec: 'auto', 'embedded', 'vader', a Hub id (optionally '@revision') or a local folder.",
    )
    hub_model: str = Field(DEFAULT_HUB_MODEL, description="Hub model that 'auto' prefers when the Hub is reachable.")
    hub_timeout_s: float = Field(3.0, gt=0, le=60, description="How long 'auto' waits to learn if the Hub answers.")
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per forward pass (texts are sorted by length).")
    max_length: int | None = Field(
        None, ge=8, le=4096, description="Token limit per text; default: the model's own maximum (at most 512)."
    )
    torch_threads: int | None = Field(None, ge=1, le=256, description="torch intra-op threads; default: torch's.")
    data_dir: Path = Field(Path("data"), description="Folder for caches, downloads and the SQLite stores.")
    dataset_neutral_band: float = Field(
        0.5, ge=0, le=4, description="VADER ground truth: mean ratings within +-band are neutral."
    )
    seed: int = Field(42, description="Seed of the dataset splits.")

    host: str = Field("0.0.0.0", description="Address the app listens on.")
    port: int = Field(
        7860,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("SENTIMENT_PORT", "PORT"),
        description="Port of the app (UI, API, /metrics, /health); the platform's plain PORT works too.",
    )
    max_upload_mb: float = Field(50.0, gt=0, le=2048, description="Largest file the batch scorer accepts.")
    csv_chunk_rows: int = Field(2000, ge=1, le=1_000_000, description="Rows read, scored and written at a time.")
    max_texts_per_request: int = Field(256, ge=1, le=100_000, description="Most lines the multi-text box scores.")
    ready_timeout_s: float = Field(30.0, ge=0, le=600, description="How long a request waits for a loading model.")
    batch_retention_s: float = Field(3600.0, ge=0, description="Scored files older than this are deleted.")
    concurrency_limit: int = Field(2, ge=1, le=64, description="Events of one kind that run at once.")
    queue_size: int = Field(64, ge=1, le=10_000, description="Most waiting events before Gradio answers 'busy'.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of the app.")

    cache_override: Path | None = Field(
        None,
        validation_alias=AliasChoices("SENTIMENT_CACHE_DIR"),
        description="Where downloads and parsed datasets are cached; default: <data_dir>/cache.",
    )

    @property
    def cache_dir(self) -> Path:
        """Where downloaded and derived files (dataset archives, parsed tables) are kept."""
        return self.cache_override or self.data_dir / "cache"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
