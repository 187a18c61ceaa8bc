"""All configuration in one validated place, read from the environment (prefix ``SENTIMENT_``).

Constructors receive a ``Settings`` instance rather than reading the environment themselves, so tests can build
any configuration explicitly and nothing deep in the code depends on global state. Rules between fields (a minimum
window not above the window, datasets that exist) are checked when the settings are read, so a bad combination
stops the app at start with a message naming the variables, not hours later in a scheduled job.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from sentiment.settings.dataset_names import KNOWN_SPLITS, dataset_problem
from sentiment.settings.estimation import EstimationSettings
from sentiment.settings.retrain import RetrainSettings
from sentiment.settings.storage import StorageSettings

DEFAULT_HUB_MODEL = "cardiffnlp/twitter-roberta-base-sentiment-latest"


class Settings(EstimationSettings, RetrainSettings, StorageSettings):
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
    batch_size: int = Field(64, ge=1, le=1024, description="Most texts per forward pass (texts are sorted by length).")
    max_length: int | None = Field(
        None, ge=8, le=4096, description="Token limit per text; default: the model's own maximum (at most 512)."
    )
    precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        "auto", description="Numeric format of transformer inference; auto: bf16 where the CPU has native bf16."
    )
    calibration_may_change_labels: bool = Field(
        False,
        description="Serve a model's calibration map even when it changes answers (a matrix map changed 2-14% of "
        "held-out labels, measured); off: only maps that keep every label (temperature) are applied.",
    )
    token_budget: int = Field(2048, ge=64, description="Padded tokens per forward pass (texts sorted by length).")
    packing: bool = Field(
        True,
        description="Pack texts of mixed lengths into shared rows (BERT/RoBERTa families) when it saves 20%+ tokens.",
    )
    torchscript: bool = Field(
        True,
        description="Run BERT/RoBERTa encoders as a TorchScript trace: a forward pass does not wait on the GIL.",
    )
    torch_threads: int | None = Field(None, ge=1, le=256, description="torch intra-op threads; default: torch's.")
    gil_switch_interval_ms: float = Field(
        0.1, gt=0, le=100, description="How often Python hands the GIL over (its default is 5 ms); the app sets it."
    )
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
    batch_wait_ms: float = Field(
        5.0,
        ge=0,
        le=1000,
        description="How long a single prediction waits for others to share its forward pass (dynamic batching).",
    )
    model_pool_size: int = Field(
        2,
        ge=0,
        le=16,
        description="Loaded models kept besides the serving one (evaluations, switching back); roberta-base: ~500 MB.",
    )
    predict_concurrency: int = Field(16, ge=1, le=256, description="Single predictions handled at once.")
    predict_max_batch: int = Field(
        16,
        ge=1,
        le=256,
        description="Most one-text requests answered by one handler call and one forward pass: Gradio /predict calls "
        "(Gradio's event batching; capped at SENTIMENT_PREDICT_CONCURRENCY; 1: one handler call per request) and "
        "inference API requests (coalesced on the event loop).",
    )
    concurrency_limit: int = Field(2, ge=1, le=64, description="Events of one kind that run at once.")
    queue_size: int = Field(64, ge=1, le=10_000, description="Most waiting events before Gradio answers 'busy'.")
    queue_poll_s: float = Field(
        0.005, gt=0, le=1, description="How often an idle Gradio queue looks for new events (Gradio's own: 0.001)."
    )
    api_max_in_flight: int = Field(
        64,
        ge=1,
        le=10_000,
        description="Most requests the inference API (/predict, POST /) holds at once; more get 503 + Retry-After.",
    )
    max_request_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=1 << 30,
        description="Largest request body the inference API and Gradio's API calls read (uploads have their own "
        "limit); a larger one is answered 413 at once, before the model sees it.",
    )
    session_capacity: int = Field(
        1000, ge=10, le=100_000, description="Gradio sessions kept in memory; every API call without one is new."
    )
    admin_token: SecretStr | None = Field(
        None, description="Token that state-changing actions (switching the model) require; unset: they are off."
    )
    metrics_token: SecretStr | None = Field(
        None, description="When set, GET /metrics needs 'Authorization: Bearer <token>' (for public Spaces)."
    )
    # Monitoring (the data folder, the store and the prediction log: sentiment.settings.storage)
    feedback_per_client_hour: int = Field(
        120,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("SENTIMENT_FEEDBACK_PER_CLIENT_HOUR", "SENTIMENT_FEEDBACK_PER_SESSION_HOUR"),
        description="New pieces of feedback one client (an address; an IPv6 /64) may give in any hour; more is "
        "refused with the seconds to wait. Keep it at or above SENTIMENT_PRODUCTION_MIN_LABELS, so one honest "
        "labeller can label a production evaluation's worth within the hour. An admin token lifts it.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For names the "
        "client (e.g. 10.0.0.0/8); empty: the header is ignored, since any visitor can write one.",
    )
    proxy_hops: int | None = Field(
        None,
        ge=0,
        le=32,
        description="Reverse proxies in front of the app, each appending to X-Forwarded-For: the client is the N-th "
        "address from its right (entries further left are the visitor's own). Default 0, on a Hugging Face Space 1. "
        "Another way to say what SENTIMENT_TRUSTED_PROXIES says: set one of them.",
    )
    space_id: str | None = Field(
        None,
        validation_alias=AliasChoices("SPACE_ID"),
        description="Set by Hugging Face Spaces (owner/name); makes SENTIMENT_PROXY_HOPS default to 1.",
    )
    production_window_days: float = Field(
        7.0, gt=0, le=3650, description="The production evaluation uses predictions labelled in this many last days."
    )
    production_min_labels: int = Field(
        50, ge=1, description="Fewer labelled production predictions than this: 'insufficient labels', no figures."
    )
    production_unreviewed: bool = Field(
        False, description="Let unreviewed visitor feedback into the production evaluation (default: accepted only)."
    )
    feedback_train_unreviewed: bool = Field(
        False,
        description="The production-feedback dataset includes unreviewed feedback (python -m finetune "
        "--unreviewed_feedback sets it; default: accepted only).",
    )
    reference_dataset: str = Field("vader_tweets", description="Dataset the drift reference profile is built on.")
    reference_split: str = Field("test", description="Split of the reference dataset.")
    drift_window: int = Field(500, ge=10, description="Newest logged predictions compared with the reference.")
    drift_min_window: int = Field(100, ge=10, description="Fewer rows than this: 'insufficient data', not 'ok'.")
    drift_interval_s: float = Field(300.0, gt=0, description="Seconds between scheduled drift checks.")
    drift_confirm_windows: int = Field(
        2,
        ge=1,
        description="Windows sharing no prediction that must reach warning/drift, with every check between them, "
        "before the status says so (1: each check).",
    )
    drift_history_rows: int = Field(
        5000, ge=1, description="Drift checks kept in the status history (oldest go first; 5000: 17 days at 300 s)."
    )
    reference_production_rows: int = Field(
        1000,
        ge=0,
        description="The first N production predictions of a model revision become its drift reference (0: off).",
    )
    evaluation_interval_s: float = Field(3600.0, gt=0, description="Seconds between scheduled evaluations.")
    first_evaluation_delay_s: float = Field(
        120.0,
        ge=0,
        description="Seconds after start before the first scheduled evaluation (at most one interval), so a fresh "
        "app has figures within minutes rather than after an hour.",
    )
    evaluation_datasets: list[str] = Field(
        default_factory=lambda: ["vader_tweets", "airline_tweets"],
        description="Datasets the scheduled evaluation samples (JSON list in the environment).",
    )
    evaluation_sample_size: int = Field(300, ge=10, description="Rows per dataset in a scheduled evaluation.")
    job_timeout_s: float = Field(600.0, gt=0, description="A scheduled job running longer is reported as failed.")
    scheduler_enabled: bool = Field(True, description="Run the scheduled evaluation and drift checks in the app.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of the app.")

    cache_override: Path | None = Field(
        None,
        validation_alias=AliasChoices("SENTIMENT_CACHE_DIR"),
        description="Where downloads and parsed datasets are cached; default: <data_dir>/cache.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        """Each entry an address or a network: a typo would otherwise trust nobody (or, as '*', everybody)."""
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"SENTIMENT_TRUSTED_PROXIES: {entry!r} is not an address or network (like 10.0.0.0/8); list the "
                    "proxies themselves ('*' is not accepted: it would let every visitor choose its address)"
                ) from None
            if "/" in entry and str(network) != entry:  # uvicorn matches networks strictly: 10.0.0.1/8 trusts nobody
                raise ValueError(
                    f"SENTIMENT_TRUSTED_PROXIES: {entry!r} has host bits set; write the network as {network}"
                )
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """``trusted_proxies`` as a list (the form uvicorn's proxy-headers middleware takes)."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def forwarded_hops(self) -> int:
        """How many proxies' X-Forwarded-For entries to count from the right: ``SENTIMENT_PROXY_HOPS`` when set;
        else 1 on a Hugging Face Space (every request reaches it through the Space's proxy, whose changing private
        address cannot be listed) unless ``SENTIMENT_TRUSTED_PROXIES`` names the proxies; else 0."""
        if self.proxy_hops is not None:
            return self.proxy_hops
        return 1 if self.space_id and not self.trusted_proxy_list else 0

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        """Every rule between fields that is broken, in one message naming the environment variables."""
        problems: list[str] = []
        if self.proxy_hops is not None and self.trusted_proxy_list:
            problems.append(
                f"both {_env('trusted_proxies')} and {_env('proxy_hops')}={self.proxy_hops} are set: they are two ways "
                "to say which X-Forwarded-For entry names the client; keep the proxy list if the proxies' addresses "
                "are fixed, else unset it and keep the number of proxies"
            )
        if self.drift_min_window > self.drift_window:
            problems.append(
                f"{_env('drift_min_window')}={self.drift_min_window} is above {_env('drift_window')}="
                f"{self.drift_window}: every drift check would say 'insufficient data'"
            )
        if self.drift_window > self.log_max_rows:
            problems.append(
                f"{_env('drift_window')}={self.drift_window} is above {_env('log_max_rows')}={self.log_max_rows}: "
                "the prediction log never holds a full drift window"
            )
        for field, names in (
            ("reference_dataset", [self.reference_dataset]),
            ("evaluation_datasets", self.evaluation_datasets),
            ("retrain_mix_dataset", [self.retrain_mix_dataset] if self.retrain_mix_dataset else []),
            ("retrain_forgetting_dataset", [self.retrain_forgetting_dataset]),
        ):
            problems += [f"{_env(field)}: {problem}" for problem in map(dataset_problem, names) if problem]
        if self.reference_split not in KNOWN_SPLITS:
            problems.append(
                f"{_env('reference_split')}={self.reference_split!r} is not a split; "
                f"use one of {', '.join(KNOWN_SPLITS)}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def cache_dir(self) -> Path:
        """Where downloaded and derived files (dataset archives, parsed tables) are kept."""
        return self.cache_override or self.data_dir / "cache"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def setting_default(field: str) -> Any:
    """The default of a ``Settings`` field, for constructor defaults: one source, so a library default never
    disagrees with the app's (``MicroBatcher(max_batch=...)``, ``TransformerModel.token_budget``, ...)."""
    return Settings.model_fields[field].default


def _env(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"SENTIMENT_{field.upper()}"
