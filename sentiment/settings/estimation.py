"""Settings of the label-free estimates on each drift window (``sentiment.monitoring.performance`` and
``sentiment.monitoring.trust``): which estimator, which calibration map it refits, and when its number is trusted.

Kept apart from ``sentiment.settings`` so that each file stays small; ``Settings`` inherits these fields, so they are
read and validated with the others (``SENTIMENT_<FIELD>``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings


class EstimationSettings(BaseSettings):
    """The estimator of accuracy and F1 without labels, and the trust verdict on its number."""

    estimation_method: Literal["cbpe", "atc", "doc", "bbse"] = Field(
        "doc", description="Estimator of accuracy and F1 on each drift window (benchmarks/performance_estimation.py)."
    )
    estimation_calibration: Literal["none", "temperature", "matrix"] = Field(
        "temperature",
        description="Calibration map the estimator refits on the labelled reference first; it shapes the estimate "
        "only (the labels it counts are the served ones).",
    )
    trust_max_domain_auc: float = Field(
        0.96,
        ge=0.5,
        le=1.0,
        description="Above this domain-classifier AUC (reference vs window embeddings) the window is unlike anything "
        "labelled: no label-free number, the labels to collect instead (benchmarks/trust_verdicts.py).",
    )
    trust_level: float = Field(0.90, gt=0, lt=1, description="Level of the interval the 'label N' advice is for.")
    trust_half_width: float = Field(0.05, gt=0, le=0.5, description="Half-width of that interval (accuracy).")
