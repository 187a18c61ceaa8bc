"""The optional MLflow logging of a fine-tuning run, against a real MLflow file store: the run's parameters, its
per-epoch and test metrics and its whole folder come back through MLflow's own client; a store that refuses the run
costs a warning, not the finished run.

MLflow 3 refuses a ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE=true`` (it wants a database); the file store is
what a user without a server points at, so that is the store tested here, with the opt-in and without it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from finetune.tracking import log_to_mlflow
from sentiment.models.runs import RUN_FILE
from sentiment.settings import Settings

DATASET = "vader_tweets"


def test_without_a_tracking_uri_or_without_mlflow_nothing_is_logged_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert log_to_mlflow(tmp_path, {"base": "x"}, [], []) is False
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setitem(sys.modules, "mlflow", None)  # ``import mlflow`` raises ImportError, as when not installed
    with caplog.at_level(logging.WARNING, logger="finetune.tracking"):
        assert log_to_mlflow(tmp_path, {"base": "x"}, [], []) is False
    assert "mlflow is not installed" in caplog.text
    assert not (tmp_path / "mlruns").exists()


def test_a_store_that_refuses_the_run_is_a_warning_and_logs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("mlflow", reason="optional: pip install -r requirements-tracking.txt")
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.json").write_text("[]\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses a file store without it
    history = [{"epoch": 1, "step": 2, "train_loss": 1.0, "val_macro_f1": 0.5, "val_accuracy": 0.5}]
    with caplog.at_level(logging.WARNING, logger="finetune.tracking"):
        assert log_to_mlflow(run, {"base": "x"}, history, [{"dataset": DATASET, "macro_f1": 0.5}]) is False
    assert "run was not logged to MLflow" in caplog.text and "the run itself is complete" in caplog.text
    assert "MLFLOW_ALLOW_FILE_STORE" in caplog.text  # MLflow's own reason reaches the user
    assert not list((tmp_path / "mlruns").rglob("meta.yaml")), "a refused store must hold no run"


@pytest.mark.slow
def test_a_finetune_run_lands_in_an_mlflow_file_store_with_its_params_metrics_and_folder(
    tiny_model_dir: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow", reason="optional: pip install -r requirements-tracking.txt")
    from mlflow.tracking import MlflowClient

    from finetune.__main__ import main as finetune_main
    from finetune.__main__ import parse

    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(settings.cache_dir))
    out = tmp_path / "run"
    argv = ["--datasets", DATASET, "--eval_datasets", DATASET, "--base", str(tiny_model_dir), "--max_steps", "2"]
    argv += ["--max_length", "32", "--output_dir", str(out)]
    assert finetune_main(argv) == 0

    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert len(runs) == 1, "one fine-tuning run is one MLflow run"
    run = runs[0]
    assert run.info.run_name == out.name and run.info.status == "FINISHED"
    params = run.data.params
    assert set(params) == set(parse(argv).as_dict())  # every training argument, nothing else
    assert params["base"] == str(tiny_model_dir) and params["max_steps"] == "2" and params["max_length"] == "32"
    assert params["datasets"] == str([DATASET])

    client = MlflowClient()
    history = json.loads((out / "history.json").read_text())
    assert history, "the run recorded no epoch"
    for name in ("train_loss", "val_macro_f1", "val_accuracy"):
        logged = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, name))
        assert [step for step, _ in logged] == [int(r["epoch"]) for r in history], name
        assert [value for _, value in logged] == pytest.approx([r[name] for r in history]), name
    assert "epoch" not in run.data.metrics and "step" not in run.data.metrics  # they are the x axis, not metrics
    test_f1 = json.loads((out / RUN_FILE).read_text())["test"][DATASET]
    assert run.data.metrics[f"test_macro_f1_{DATASET}"] == pytest.approx(test_f1, abs=5e-5)

    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == sorted(p.name for p in out.iterdir())
    copy = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "back")))
    for name in ("adapter_model.safetensors", "README.md", "history.json", RUN_FILE):
        assert (copy / name).read_bytes() == (out / name).read_bytes(), name
