"""Fine-tuning as a product: a short real run on CPU, its run folder, publishing dry run, and serving it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from finetune.__main__ import main as finetune_main
from finetune.__main__ import parse
from finetune.publish import PublishError, build_folder
from sentiment.errors import AccessDeniedError
from sentiment.inference.predictor import Predictor
from sentiment.models.runs import list_runs
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings


def test_arguments_are_validated_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="lora_dropout must be in"):
        parse(["--lora_dropout", "1.5"])
    with pytest.raises(SystemExit):
        parse(["--preset", "nope"])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, session_settings: Settings) -> tuple[Path, float, Settings]:
    data = tmp_path_factory.mktemp("finetune")
    settings = session_settings.model_copy(update={"data_dir": data})
    import os

    os.environ["SENTIMENT_DATA_DIR"] = str(data)
    os.environ["SENTIMENT_CACHE_DIR"] = str(session_settings.cache_dir)
    try:
        started = time.perf_counter()
        assert (
            finetune_main(["--datasets", "vader_tweets", "--max_steps", "50", "--eval_datasets", "vader_tweets"]) == 0
        )
        seconds = time.perf_counter() - started
    finally:
        os.environ.pop("SENTIMENT_DATA_DIR")
        os.environ.pop("SENTIMENT_CACHE_DIR")
    (folder,) = (data / "runs").iterdir()
    return folder, seconds, settings


@pytest.mark.slow
def test_a_50_step_run_trains_under_1_percent_and_is_recorded(run: tuple[Path, float, Settings]) -> None:
    folder, seconds, settings = run
    summary = json.loads((folder / "run.json").read_text())
    share = summary["trainable_parameters"] / summary["total_parameters"]
    print(f"50-step run: {seconds:.0f} s, trainable {summary['trainable_parameters']:,} ({share:.2%})")
    assert share <= 0.01
    assert {
        "adapter_model.safetensors",
        "adapter_config.json",
        "README.md",
        "training_args.json",
        "history.json",
        "metrics.json",
        "sentiment.json",
    } <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "history.json").read_text())[0]["step"] == 50
    assert [r["run"] for r in list_runs(settings.data_dir)] == [folder.name]


@pytest.mark.slow
def test_the_run_folder_serves_by_path_and_by_name(run: tuple[Path, float, Settings]) -> None:
    folder, _, settings = run
    assert Predictor.load(str(folder), settings).predict_one("what a lovely day").label is not None
    admin = settings.model_copy(update={"admin_token": SecretStr("s3cret"), "model": "vader"})
    service = SentimentService(admin, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load("vader", admin))
    with pytest.raises(AccessDeniedError):
        service.switch_model(folder.name, "wrong")
    info = service.switch_model(folder.name, "s3cret")
    assert info.revision.startswith("adapter:") and service.predict("great").model == str(folder)
    with pytest.raises(ValueError, match="is a local path"):
        service.switch_model("/etc", "s3cret")  # a visitor never names a path
    assert service.switch_model(service.served[-1], "s3cret").name == "vader"  # rollback


@pytest.mark.slow
def test_publish_dry_run_builds_a_folder_whose_card_parses_and_adapter_loads(
    run: tuple[Path, float, Settings], tmp_path: Path
) -> None:
    from huggingface_hub import ModelCard

    folder, _, settings = run
    files = build_folder(folder, tmp_path / "out", settings)
    assert {"adapter_model.safetensors", "README.md", "sentiment.json"} <= set(files)
    card = ModelCard.load(tmp_path / "out" / "README.md")
    assert card.data.to_dict()["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(PublishError, match="not a finished run"):
        build_folder(tmp_path, tmp_path / "x", settings)
