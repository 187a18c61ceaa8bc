"""Evaluation maths against scikit-learn and hand computations, sampling by seed, paired tests, the SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from appserver import metric_value
from sentiment.evaluation.metrics import classification_report, confusion_matrix, macro_f1
from sentiment.evaluation.runner import stratified_sample
from sentiment.evaluation.uncertainty import bootstrap_intervals, mcnemar_exact, paired_comparison
from sentiment.labels import LABELS
from sentiment.service.evaluation import EvaluationService
from sentiment.service.metrics import ServiceMetrics
from sentiment.settings import Settings

RNG = np.random.default_rng(7)


def _random_labels(n: int, p: list[float]) -> list[str]:
    return [LABELS[i] for i in RNG.choice(3, size=n, p=p)]


@pytest.mark.parametrize("case", range(20))
def test_metrics_equal_scikit_learns_on_the_same_predictions(case: int) -> None:
    p_true = [[0.3, 0.3, 0.4], [0.6, 0.1, 0.3], [0.0, 0.5, 0.5], [0.2, 0.8, 0.0]][case % 4]
    p_pred = [[0.3, 0.3, 0.4], [0.1, 0.1, 0.8], [0.5, 0.0, 0.5], [1.0, 0.0, 0.0]][(case // 4) % 4]
    y_true, y_pred = _random_labels(200, p_true), _random_labels(200, p_pred)
    report = classification_report(y_true, y_pred)
    assert report.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert report.macro_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert report.weighted_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=list(LABELS), zero_division=0)
    for i, label in enumerate(LABELS):
        c = report.per_class[label]
        assert (c.precision, c.recall, c.f1, c.support) == pytest.approx((p[i], r[i], f[i], s[i]))
    assert report.confusion == skm.confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist()


def test_a_tiny_known_case_by_hand() -> None:
    # true: neg neg neu pos ; predicted: neg pos neu neu
    report = classification_report(
        ["negative", "negative", "neutral", "positive"], ["negative", "positive", "neutral", "neutral"]
    )
    assert report.accuracy == 0.5
    neg, neu, pos = (report.per_class[x] for x in LABELS)
    assert (neg.precision, neg.recall, neg.f1) == (1.0, 0.5, pytest.approx(2 / 3))
    assert (neu.precision, neu.recall, neu.f1) == (0.5, 1.0, pytest.approx(2 / 3))
    assert (pos.precision, pos.recall, pos.f1) == (0.0, 0.0, 0.0)
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_absent_classes_give_zeros_not_nan() -> None:
    only_pos = classification_report(["positive"] * 5, ["positive"] * 4 + ["negative"])
    values = [only_pos.accuracy, only_pos.macro_f1, only_pos.weighted_f1]
    values += [v for c in only_pos.per_class.values() for v in (c.precision, c.recall, c.f1)]
    assert not any(np.isnan(values))
    assert only_pos.per_class["neutral"].support == 0
    assert only_pos.macro_f1 == pytest.approx(
        skm.f1_score(["positive"] * 5, ["positive"] * 4 + ["negative"], average="macro", zero_division=0)
    )


_PAIRS = st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=60)


@given(pairs=st.lists(_PAIRS, min_size=1, max_size=4))
@hsettings(max_examples=60, deadline=None, derandomize=True)
def test_one_macro_f1_for_reports_bootstraps_and_estimates_equals_scikit_learns(
    pairs: list[list[tuple[str, str]]],
) -> None:
    """Reports, bootstrap stacks and label-free estimates share ``macro_f1``: scikit-learn's macro average over the
    classes present in the labels or the predictions (absent classes included: small samples lack some)."""
    from sentiment.monitoring.estimation import confusion_metrics

    stack = np.stack([confusion_matrix([t for t, _ in p], [q for _, q in p]) for p in pairs])
    batched = macro_f1(stack)
    assert batched.shape == (len(pairs),)
    for sample, matrix, value in zip(pairs, stack, batched, strict=True):
        y_true, y_pred = [t for t, _ in sample], [q for _, q in sample]
        expected = skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
        report = classification_report(y_true, y_pred)
        assert report.macro_f1 == pytest.approx(expected, abs=1e-12)
        assert value == pytest.approx(expected, abs=1e-12)
        assert confusion_metrics(matrix).macro_f1 == pytest.approx(expected, abs=1e-12)
        per_class = skm.f1_score(y_true, y_pred, labels=list(LABELS), average=None, zero_division=0)
        assert [report.per_class[label].f1 for label in LABELS] == pytest.approx(list(per_class), abs=1e-12)


def test_macro_f1_by_hand_skips_a_class_absent_from_labels_and_predictions() -> None:
    # negative: TP 2, FP 1, FN 0 -> 4/5; positive: TP 1, FP 0, FN 1 -> 2/3; neutral never seen -> not averaged
    matrix = np.array([[2, 0, 0], [0, 0, 0], [1, 0, 1]])
    assert float(macro_f1(matrix)) == pytest.approx((4 / 5 + 2 / 3) / 2)


def test_bootstrap_matrices_agree_with_the_report_and_intervals_cover_the_estimate() -> None:
    y_true = RNG.integers(0, 3, 400)
    y_pred = np.where(RNG.random(400) < 0.7, y_true, RNG.integers(0, 3, 400))
    report = classification_report([LABELS[i] for i in y_true], [LABELS[i] for i in y_pred])
    full = np.zeros((1, 3, 3), dtype=int)
    np.add.at(full, (0, y_true, y_pred), 1)
    assert macro_f1(full)[0] == pytest.approx(report.macro_f1)
    ci = bootstrap_intervals(y_true, y_pred, seed=1)
    assert ci["accuracy"].low < report.accuracy < ci["accuracy"].high
    assert ci["macro_f1"].low < report.macro_f1 < ci["macro_f1"].high
    assert 0.04 < ci["accuracy"].high - ci["accuracy"].low < 0.15  # about 4 standard errors of a proportion


def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs() -> None:
    assert mcnemar_exact(10, 2) == pytest.approx(scipy_stats.binomtest(2, 12, 0.5).pvalue)
    assert mcnemar_exact(0, 0) == 1.0


def test_paired_comparison_finds_a_real_difference_and_not_a_fake_one() -> None:
    y = RNG.integers(0, 3, 600)
    good = np.where(RNG.random(600) < 0.85, y, RNG.integers(0, 3, 600))
    poor = np.where(RNG.random(600) < 0.55, y, RNG.integers(0, 3, 600))
    better = paired_comparison(y, poor, good, seed=0)
    assert better.significant and better.macro_f1_difference > 0.2 and better.mcnemar_p_value < 1e-6
    same = paired_comparison(y, good, good.copy(), seed=0)
    assert not same.significant and same.macro_f1_difference == 0


def test_a_seed_decides_which_rows_a_sample_holds_and_keeps_the_class_mix() -> None:
    frame = pd.DataFrame(
        {"text": [f"t{i}" for i in range(1000)], "label": ["negative"] * 500 + ["neutral"] * 200 + ["positive"] * 300}
    )
    a1, a2, b = (stratified_sample(frame, 100, seed) for seed in (1, 1, 2))
    assert a1.equals(a2)
    assert set(a1["text"]) != set(b["text"])
    assert a1["label"].value_counts().to_dict() == {"negative": 50, "neutral": 20, "positive": 30}
    assert len(stratified_sample(frame, None, 0)) == 1000


@pytest.fixture
def evaluation(settings: Settings) -> tuple[EvaluationService, ServiceMetrics]:
    metrics = ServiceMetrics(CollectorRegistry())
    return EvaluationService(settings, metrics.evaluation), metrics


@pytest.mark.slow
def test_evaluations_are_stored_exposed_as_gauges_and_reproducible(evaluation, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    service, metrics = evaluation
    first = service.evaluate("vader", "vader_tweets", "test", sample_size=120, seed=3)
    again = service.evaluate("vader", "vader_tweets", "test", sample_size=120, seed=3)
    other = service.evaluate("vader", "vader_tweets", "test", sample_size=120, seed=4)
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
    assert [h["seed"] for h in history[:3]] == [4, 3, 3]
    reopened = EvaluationService(settings, ServiceMetrics(CollectorRegistry()).evaluation)
    assert len(reopened.history()) == 3  # the store survives a restart


@pytest.mark.slow
def test_comparison_loads_each_model_from_its_own_spec(evaluation) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    result = service.compare("embedded", "vader", "vader_amazon", "test", sample_size=200, seed=0)
    assert result["a"]["model"] == "embedded" and result["b"]["model"] == "vader"
    assert result["a"]["row_ids"] == result["b"]["row_ids"]
    assert result["a"]["metrics"] != result["b"]["metrics"]
    assert set(result["comparison"]) >= {"macro_f1_difference", "mcnemar_p_value", "significant"}


def test_a_visitors_evaluation_never_moves_the_scheduled_series(evaluation) -> None:  # type: ignore[no-untyped-def]
    """Dashboards and alerts read source="scheduled": a visitor's 3-row sample of the same dataset and split, or an
    uploaded file, writes its own source="visitor" series and leaves the scheduled one as it was."""
    service, metrics = evaluation
    scheduled = service.evaluate("vader", "vader_tweets", "test", sample_size=60, seed=5, source="scheduler")
    key = {"model": "vader", "dataset": "vader_tweets", "split": "test"}

    def series(source: str) -> dict[str, float]:
        text = metrics.render().decode()
        names = ("model_accuracy", "model_evaluation_samples", "model_evaluation_timestamp_seconds")
        return {name: metric_value(text, name, {**key, "source": source}) for name in names}

    before = series("scheduled")
    assert before["model_evaluation_samples"] == 60
    assert before["model_accuracy"] == pytest.approx(scheduled["metrics"]["accuracy"])
    visitor = service.evaluate("vader", "vader_tweets", "test", sample_size=3, seed=1)
    assert series("scheduled") == before
    assert series("visitor")["model_evaluation_samples"] == 3
    assert series("visitor")["model_accuracy"] == pytest.approx(visitor["metrics"]["accuracy"])
    sources = {
        sample.labels.get("source")
        for family in text_string_to_metric_families(metrics.render().decode())
        if family.name.startswith("model_")
        for sample in family.samples
    }
    assert sources == {"scheduled", "visitor"}  # every model_* series says who ran it
    # Visitors choose the model: names outside the offered ones must not become label values.
    assert service._visitor_model_label("someone/any-model") == "other"
    assert service._visitor_model_label("vader") == "vader"


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
    report = service.evaluate("embedded", "", uploaded=polarity_file)
    assert report["metrics"]["accuracy"] == 1.0
    assert (report["n"], report["split"]) == (9, "all")
    assert report["rows"] == {"used": 9, "total": 9, "why": "the whole file"}
    assert report["label_mapping"] == {
        "column": "label",
        "rule": "polarity",
        "map": {"-1": "negative", "0": "neutral", "1": "positive"},
    }
    assert service.history()[0]["n"] == 9  # the stored report says the same


def test_a_file_evaluated_on_part_of_its_rows_says_which_and_why(evaluation, polarity_file: Path) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    split = service.evaluate("vader", "", split="test", uploaded=polarity_file)
    assert split["rows"]["used"] == split["n"] < 9 and split["rows"]["total"] == 9
    assert "split 'test' asked for" in split["rows"]["why"]
    assert len(split["rows"]["file_rows"]) == split["n"]
    sample = service.evaluate("vader", "", sample_size=6, seed=1, uploaded=polarity_file)
    assert (sample["n"], sample["split"], sample["rows"]["total"]) == (6, "all", 9)
    assert sample["rows"]["why"] == "stratified sample of 6 rows (seed 1)"
    assert set(sample["rows"]["file_rows"]) < set(range(1, 10))


def test_a_file_whose_labels_need_a_map_is_refused_then_follows_the_map(evaluation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    path = tmp_path / "stars.csv"
    path.write_text("review,stars\ngreat,5\nawful,1\nok,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds 1, 3, 5.*label_map="):
        service.evaluate("vader", "", uploaded=path)
    report = service.evaluate("vader", "", uploaded=path, label_map="1:negative,3:neutral,5:positive")
    assert report["label_mapping"]["rule"] == "label_map" and report["n"] == 3


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
