"""The evaluation service: reports stored in SQLite and exposed as gauges, reproducible by seed, each model loaded from
its own spec, users' files read whole or with a label map (the maths are in tests/unit/test_evaluation.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from appserver import metric_value
from sentiment.labels import LABELS
from sentiment.service.evaluation import EvaluationService
from sentiment.service.metrics import ServiceMetrics
from sentiment.settings import Settings


@pytest.fixture
def evaluation(settings: Settings) -> tuple[EvaluationService, ServiceMetrics]:
    metrics = ServiceMetrics(CollectorRegistry())
    return EvaluationService(settings, metrics.evaluation), metrics


@pytest.mark.slow
def test_evaluations_are_stored_exposed_as_gauges_and_reproducible(evaluation, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    service, metrics = evaluation
    first = service.evaluate("vader", "vader_tweets", "test", sample_size=120, seed=3).as_dict()
    again = service.evaluate("vader", "vader_tweets", "test", sample_size=120, seed=3).as_dict()
    other = service.evaluate("vader", "vader_tweets", "test", sample_size=120, seed=4).as_dict()
    assert first["row_ids"] == again["row_ids"] and first["row_ids"] != other["row_ids"]
    assert first["n"] == 120 and first["seed"] == 3
    text = metrics.render().decode()
    key = {"model": "vader", "dataset": "vader_tweets", "split": "test", "source": "visitor"}
    assert metric_value(text, "model_accuracy", key) == pytest.approx(other["metrics"]["accuracy"])
    assert metric_value(text, "model_evaluation_samples", key) == 120
    assert metric_value(text, "model_f1", {**key, "class_label": "all", "average": "macro"}) == pytest.approx(
        other["metrics"]["macro_f1"]
    )
    cells = sum(
        metric_value(text, "model_confusion_matrix", {**key, "true_label": t, "predicted_label": p})
        for t in LABELS
        for p in LABELS
    )
    assert cells == 120
    history = service.history()
    assert [h.seed for h in history[:3]] == [4, 3, 3]
    reopened = EvaluationService(settings, ServiceMetrics(CollectorRegistry()).evaluation)
    assert len(reopened.history()) == 3  # the store survives a restart


@pytest.mark.slow
def test_comparison_loads_each_model_from_its_own_spec(evaluation) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    result = service.compare("embedded", "vader", "vader_amazon", "test", sample_size=200, seed=0).as_dict()
    assert result["a"]["model"] == "embedded" and result["b"]["model"] == "vader"
    assert result["a"]["row_ids"] == result["b"]["row_ids"]
    assert result["a"]["metrics"] != result["b"]["metrics"]
    assert set(result["comparison"]) >= {"macro_f1_difference", "mcnemar_p_value", "significant"}


def test_a_visitors_evaluation_never_moves_the_scheduled_series(evaluation) -> None:  # type: ignore[no-untyped-def]
    """Dashboards and alerts read source="scheduled": a visitor's 3-row sample of the same dataset and split, or an
    uploaded file, writes its own source="visitor" series and leaves the scheduled one as it was."""
    service, metrics = evaluation
    scheduled = service.evaluate("vader", "vader_tweets", "test", sample_size=60, seed=5, source="scheduled").result
    key = {"model": "vader", "dataset": "vader_tweets", "split": "test"}

    def series(source: str) -> dict[str, float]:
        text = metrics.render().decode()
        names = ("model_accuracy", "model_evaluation_samples", "model_evaluation_timestamp_seconds")
        return {name: metric_value(text, name, {**key, "source": source}) for name in names}

    before = series("scheduled")
    assert before["model_evaluation_samples"] == 60
    assert before["model_accuracy"] == pytest.approx(scheduled.metrics.accuracy)
    visitor = service.evaluate("vader", "vader_tweets", "test", sample_size=3, seed=1).result
    assert series("scheduled") == before
    assert series("visitor")["model_evaluation_samples"] == 3
    assert series("visitor")["model_accuracy"] == pytest.approx(visitor.metrics.accuracy)
    sources = {
        sample.labels.get("source")
        for family in text_string_to_metric_families(metrics.render().decode())
        if family.name.startswith("model_")
        for sample in family.samples
    }
    assert sources == {"scheduled", "visitor"}  # every model_* series says who ran it
    # Visitors choose the model: names outside the offered ones must not become label values.
    assert service.visitor_model_label("someone/any-model") == "other"
    assert service.visitor_model_label("vader") == "vader"


def test_local_paths_and_unknown_datasets_are_refused(evaluation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    with pytest.raises(ValueError, match="local path"):
        service.evaluate(str(tmp_path), "vader_tweets")
    with pytest.raises(ValueError, match="unknown dataset"):
        service.evaluate("vader", "/etc/passwd")


# --- a user's labelled file ---------------------------------------------------------------------------------------

# The reported file: labels -1/0/1, three clearly worded rows of each class.
POLARITY_FILE = """text,label
"I love this phone, it is wonderful and works perfectly!",1
"What a fantastic day, I am so happy with the great service.",1
"Absolutely brilliant movie, I enjoyed every minute of it.",1
"This is the worst product ever, it broke after one day. Awful!",-1
"I hate this company, terrible service and rude staff.",-1
"Horrible experience, I am so angry and disappointed.",-1
The store opens at 9am on weekdays.,0
The train leaves from platform 4.,0
The meeting is scheduled for Tuesday afternoon.,0
"""


@pytest.fixture
def polarity_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.csv"
    path.write_text(POLARITY_FILE, encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_minus_one_zero_one_file_is_read_as_polarity_and_evaluated_whole(  # type: ignore[no-untyped-def]
    evaluation, polarity_file: Path, embedded_predictor
) -> None:
    """The reported case: this file scored accuracy 0.33 (0 read as negative, 1 as neutral) on n=2 of its 9 rows."""
    service, _ = evaluation
    service.evaluator.pool.add("embedded", embedded_predictor)
    report = service.evaluate("embedded", "", uploaded=polarity_file).as_dict()
    assert report["metrics"]["accuracy"] == 1.0
    assert (report["n"], report["split"]) == (9, "all")
    assert report["rows"] == {"used": 9, "total": 9, "why": "the whole file"}
    assert report["label_mapping"] == {
        "column": "label",
        "rule": "polarity",
        "map": {"-1": "negative", "0": "neutral", "1": "positive"},
    }
    assert service.history()[0].n == 9  # the stored report says the same


def test_a_file_evaluated_on_part_of_its_rows_says_which_and_why(evaluation, polarity_file: Path) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    split = service.evaluate("vader", "", split="test", uploaded=polarity_file).as_dict()
    assert split["rows"]["used"] == split["n"] < 9 and split["rows"]["total"] == 9
    assert "split 'test' asked for" in split["rows"]["why"]
    assert len(split["rows"]["file_rows"]) == split["n"]
    sample = service.evaluate("vader", "", sample_size=6, seed=1, uploaded=polarity_file).as_dict()
    assert (sample["n"], sample["split"], sample["rows"]["total"]) == (6, "all", 9)
    assert sample["rows"]["why"] == "stratified sample of 6 rows (seed 1)"
    assert set(sample["rows"]["file_rows"]) < set(range(1, 10))


def test_a_file_whose_labels_need_a_map_is_refused_then_follows_the_map(evaluation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    path = tmp_path / "stars.csv"
    path.write_text("review,stars\ngreat,5\nawful,1\nok,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds 1, 3, 5.*label_map="):
        service.evaluate("vader", "", uploaded=path)
    report = service.evaluate("vader", "", uploaded=path, label_map="1:negative,3:neutral,5:positive").result
    assert report.label_mapping is not None and report.label_mapping.rule == "label_map" and report.n == 3


def test_the_cli_evaluates_a_file_whole_and_prints_rows_and_mapping(
    polarity_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentiment.__main__ import main

    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "report.json"
    assert main(["--model", "vader", "evaluate", "--dataset", str(polarity_file), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "vader on uploaded/all (n=9" in printed
    assert "rows        9 of 9: the whole file" in printed
    assert "column 'label' by polarity: -1 -> negative, 0 -> neutral, 1 -> positive" in printed
    assert json.loads(out.read_text())["rows"]["used"] == 9


@pytest.mark.slow
def test_a_report_carries_the_ece_and_reliability_table_of_the_rows_it_scored(evaluation, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """The report's ECE is the ECE of the same model's probabilities on the same rows, computed apart; the bins
    account for every row; the history keeps it; the production report (no probabilities) says null."""
    from sentiment.datasets import load_split
    from sentiment.evaluation.calibration import expected_calibration_error
    from sentiment.inference.predictor import Predictor

    service, _ = evaluation
    report = service.evaluate("vader", "vader_tweets", "test", sample_size=150, seed=5)
    calibration = report.result.calibration
    assert calibration is not None and len(calibration.bins) == 15
    assert sum(b.count for b in calibration.bins) == 150
    rows = load_split("vader_tweets", "test", settings).iloc[report.result.row_ids]
    probabilities = Predictor.load("vader", settings).predict_batch(rows["text"].tolist()).probabilities
    assert calibration.ece == pytest.approx(expected_calibration_error(probabilities, rows["label"].tolist()))
    stored = json.loads(json.dumps(report.as_dict()))["calibration"]
    assert stored["ece"] == pytest.approx(calibration.ece) and stored["n_bins"] == 15
    empty = [b for b in stored["bins"] if b["count"] == 0]
    assert all(b["accuracy"] is None and b["confidence"] is None for b in empty)
    assert service.history()[0].id == report.id
