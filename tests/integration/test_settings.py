"""Settings (sentiment/settings.py): rules between fields fail fast, naming the variables; library defaults are the
settings' defaults."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sentiment.settings import Settings
from sentiment.settings.dataset_names import KNOWN_DATASETS, KNOWN_SPLITS

REPO = Path(__file__).resolve().parents[2]

BAD = {
    "min window above window": (
        {"drift_window": 50, "drift_min_window": 100},
        ["SENTIMENT_DRIFT_MIN_WINDOW=100", "SENTIMENT_DRIFT_WINDOW=50"],
    ),
    "window above the log": (
        {"drift_window": 5000, "log_max_rows": 1000},
        ["SENTIMENT_DRIFT_WINDOW=5000", "SENTIMENT_LOG_MAX_ROWS=1000"],
    ),
    "unknown reference dataset": (
        {"reference_dataset": "vader_tweet"},
        ["SENTIMENT_REFERENCE_DATASET", "'vader_tweet'"],
    ),
    "unknown evaluation dataset": (
        {"evaluation_datasets": ["vader_tweets", "imdb"]},
        ["SENTIMENT_EVALUATION_DATASETS", "'imdb'"],
    ),
    "missing labelled file": (
        {"evaluation_datasets": ["/nowhere/labelled.csv"]},
        ["SENTIMENT_EVALUATION_DATASETS", "no file '/nowhere/labelled.csv'"],
    ),
    "unknown split": ({"reference_split": "dev"}, ["SENTIMENT_REFERENCE_SPLIT='dev'", "validation"]),
}


@pytest.mark.parametrize("fields,names", BAD.values(), ids=BAD.keys())
def test_each_broken_rule_raises_naming_the_variables(fields: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**fields)
    for name in names:
        assert name in str(raised.value)


def test_every_broken_rule_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(drift_min_window=600, reference_dataset="nope", reference_split="dev")
    message = str(raised.value)
    assert all(v in message for v in ("DRIFT_MIN_WINDOW", "REFERENCE_DATASET", "REFERENCE_SPLIT"))


def test_good_combinations_pass(tmp_path: Path) -> None:
    labelled = tmp_path / "mine.csv"
    labelled.write_text("text,label\ngood,positive\n")
    settings = Settings(
        drift_window=100,
        drift_min_window=100,
        evaluation_datasets=[*KNOWN_DATASETS, str(labelled)],
        reference_split="all",
    )
    assert settings.drift_min_window == settings.drift_window


def test_the_known_names_are_the_dataset_registry() -> None:
    """Settings cannot import the registry (it is the lowest layer); the registry checks the list at import."""
    from sentiment.datasets import DATASETS, FEEDBACK_DATASET, SPLITS

    assert set(KNOWN_DATASETS) == {*DATASETS, FEEDBACK_DATASET} and SPLITS == KNOWN_SPLITS


def test_the_app_refuses_to_start_with_a_bad_combination(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SENTIMENT_DATA_DIR": str(tmp_path),
        "SENTIMENT_DRIFT_WINDOW": "50",
        "SENTIMENT_DRIFT_MIN_WINDOW": "100",
    }
    done = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "invalid settings" in done.stderr and "SENTIMENT_DRIFT_MIN_WINDOW=100" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "prediction_log.sqlite").exists()


def _defaults(function: Callable[..., Any]) -> dict[str, Any]:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def test_library_defaults_are_the_settings_defaults() -> None:
    """A default written twice drifts apart (token_budget was 8192 in the model, 2048 in Settings): one source."""
    from sentiment.datasets.splits import split_frame
    from sentiment.datasets.vader import load_vader, parse_ground_truth
    from sentiment.inference.micro_batcher import MicroBatcher
    from sentiment.inference.pool import ModelPool
    from sentiment.inference.predictor import Predictor
    from sentiment.models.hub import hub_status
    from sentiment.models.transformer import TransformerModel
    from sentiment.monitoring.drift import check_drift
    from sentiment.monitoring.prediction_log import PredictionLog
    from sentiment.service.rate_limit import SlidingWindowLimiter
    from sentiment.tables.scoring import score_file

    d = {name: field.default for name, field in Settings.model_fields.items()}
    fields = TransformerModel.__dataclass_fields__
    pairs = [
        (_defaults(MicroBatcher)["max_batch"], d["batch_size"]),
        (_defaults(MicroBatcher)["max_wait_s"], d["batch_wait_ms"] / 1000),
        (_defaults(Predictor)["batch_size"], d["batch_size"]),
        (fields["token_budget"].default, d["token_budget"]),
        (fields["pack_texts"].default, d["packing"]),
        (fields["trace"].default, d["torchscript"]),
        (ModelPool(Settings()).size, d["model_pool_size"]),
        (_defaults(score_file)["chunk_rows"], d["csv_chunk_rows"]),
        (_defaults(PredictionLog)["capacity"], d["log_queue_rows"]),
        (_defaults(PredictionLog)["max_rows"], d["log_max_rows"]),
        (_defaults(PredictionLog)["max_age_days"], d["log_max_days"]),
        (_defaults(check_drift)["min_window"], d["drift_min_window"]),
        (_defaults(split_frame)["seed"], d["seed"]),
        (_defaults(hub_status)["timeout_s"], d["hub_timeout_s"]),
        (_defaults(load_vader)["neutral_band"], d["dataset_neutral_band"]),
        (_defaults(parse_ground_truth)["neutral_band"], d["dataset_neutral_band"]),
        (_defaults(SlidingWindowLimiter)["limit"], d["feedback_per_client_hour"]),
    ]
    assert [a for a, b in pairs if a != b] == []
