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


def test_the_model_card_is_a_hub_model_card_with_eval_results(tmp_path: Path) -> None:
    """Written with huggingface_hub's ModelCard: the header parses back, and every test figure is an EvalResult."""
    from huggingface_hub import ModelCard

    from finetune.args import TrainArgs
    from finetune.card import write_card

    (tmp_path / "sentiment.json").write_text(json.dumps({"base_model": "sentence-transformers/all-MiniLM-L6-v2"}))
    results = [
        {"dataset": "vader_tweets", "split": "test", "n": 630, "macro_f1": 0.71, "accuracy": 0.74,
         "vader_macro_f1": 0.55, "vader_accuracy": 0.58},
        {"dataset": "airline_tweets", "split": "all", "n": 14638, "macro_f1": 0.52, "accuracy": 0.6,
         "vader_macro_f1": 0.41, "vader_accuracy": 0.45},
    ]  # fmt: skip
    history = [{"epoch": 1, "step": 50, "train_loss": 0.9, "val_macro_f1": 0.7}]
    write_card(tmp_path, TrainArgs(datasets=["vader_tweets"]), ["python", "-m", "finetune"], results, history,
               1000, 100000, 60.0, 1)  # fmt: skip
    card = ModelCard.load(tmp_path / "README.md")
    data = card.data.to_dict()
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (data["license"], data["library_name"], data["pipeline_tag"]) == ("mit", "peft", "text-classification")
    assert data["tags"] == ["sentiment-analysis", "lora", "peft"]
    found = {
        (e.dataset_type, e.dataset_split, e.metric_type, e.metric_config): e.metric_value
        for e in card.data.eval_results or []
    }
    assert {e.task_type for e in card.data.eval_results or []} == {"text-classification"}
    assert found == {
        ("vader_tweets", "test", "accuracy", None): 0.74,
        ("vader_tweets", "test", "f1", "macro"): 0.71,
        ("airline_tweets", "all", "accuracy", None): 0.6,
        ("airline_tweets", "all", "f1", "macro"): 0.52,
    }
    assert "| vader_tweets | test | 630 | 0.710 | 0.550 | +0.160 | 0.740 | 0.580 |" in card.text
    assert json.loads((tmp_path / "metrics.json").read_text()) == results


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, session_settings: Settings) -> tuple[Path, float, Settings]:
    data = tmp_path_factory.mktemp("finetune")
    settings = session_settings.model_copy(update={"data_dir": data})
    import os

    os.environ["SENTIMENT_DATA_DIR"] = str(data)
    os.environ["SENTIMENT_CACHE_DIR"] = str(session_settings.cache_dir)
    try:
        started = time.perf_counter()
        # 50 steps of 8 texts of up to 64 tokens: the run's shape (adapter, card, history, metrics, run record) is
        # what is tested here, and a fourth of the default batch costs a fourth of the CPU
        argv = ["--datasets", "vader_tweets", "--max_steps", "50", "--batch_size", "8", "--max_length", "64"]
        assert finetune_main([*argv, "--eval_datasets", "vader_tweets"]) == 0
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
    # served by its run name, never by its path on the server (the folder's place is ``info.folder``, kept private)
    assert info.revision.startswith("adapter:") and service.predict("great").model == folder.name == info.name
    assert info.folder == str(folder) and "folder" not in info.as_dict()
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
    assert {(e.dataset_type, e.metric_type) for e in card.data.eval_results or []} == {
        ("vader_tweets", "accuracy"),
        ("vader_tweets", "f1"),
    }
    with pytest.raises(PublishError, match="not a finished run"):
        build_folder(tmp_path, tmp_path / "x", settings)
