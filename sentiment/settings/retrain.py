"""Settings of the retrain job (``sentiment.service.retrain``): how many production labels it needs, which share of
them it keeps for judging, what it mixes in against forgetting, and its bounds.

Kept apart from ``sentiment.settings`` so that each file stays small; ``Settings`` inherits these fields, so they are
read and validated with the others (``SENTIMENT_<FIELD>``).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


class RetrainSettings(BaseSettings):
    """The retrain job's data rules and bounds."""

    retrain_min_labels: int = Field(
        200, ge=1, description="Production labels (training and held-out together) a retrain needs at least."
    )
    retrain_holdout_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of production labels never trained on and kept to judge a challenger (by a hash of the "
        "prediction id: the same labels stay held out in every retrain).",
    )
    retrain_mix_dataset: str | None = Field(
        "vader_tweets", description="Shipped dataset whose train split is mixed in against forgetting; unset: none."
    )
    retrain_mix_ratio: float = Field(
        1.0,
        ge=0,
        le=10,
        description="Rows of the mixed-in dataset per production training row (not yet measured: issue 29's "
        "benchmark is to choose it).",
    )
    retrain_max_steps: int = Field(200, ge=1, description="Optimiser steps a retrain job takes at most.")
    retrain_max_seconds: float = Field(
        900.0, gt=0, description="Seconds of training a retrain job takes at most (then it keeps what it has)."
    )
    retrain_learning_rate: float = Field(
        1e-4,
        gt=0,
        le=1,
        description="Peak learning rate of a retrain job. Lower than the CLI's 1e-3 (made for a fresh adapter): a "
        "retrain continues the serving model's trained adapter, and at 1e-3 it undid what that adapter knew "
        "(benchmarks/README.md#python-benchmarksretrain_looppy: -0.050 accuracy at 400 labels, +0.005 at 1e-4).",
    )
    retrain_batch_size: int = Field(16, ge=1, le=256, description="Texts per optimiser step of a retrain job.")
    retrain_max_length: int = Field(64, ge=8, le=512, description="Token limit per training text of a retrain job.")
    retrain_forgetting_dataset: str = Field(
        "vader_tweets", description="Shipped dataset whose test split catches forgetting in the challenger report."
    )
    retrain_forgetting_tolerance: float = Field(
        0.01, ge=0, le=1, description="Accuracy a challenger may lose on the forgetting test set and be promoted."
    )

    @field_validator("retrain_mix_dataset")
    @classmethod
    def _not_the_production_labels(cls, value: str | None) -> str | None:
        """Mixing ``production-feedback`` in would train on the held-out labels that judge the challenger."""
        if value == "production-feedback":
            raise ValueError(
                "SENTIMENT_RETRAIN_MIX_DATASET=production-feedback would train on the held-out production labels "
                "that judge the challenger; name a shipped dataset (e.g. vader_tweets), or leave it empty"
            )
        return value or None
