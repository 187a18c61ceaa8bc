"""Evaluation maths against scikit-learn and hand computations, sampling by seed, paired tests, the SQLite store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from appserver import metric_value
from sentiment.evaluate import stratified_sample
from sentiment.evaluation import classification_report
from sentiment.evaluation_service import EvaluationService
from sentiment.labels import LABELS
from sentiment.metrics import ServiceMetrics
from sentiment.settings import Settings
from sentiment.stats import bootstrap_intervals, macro_f1_of, mcnemar_exact, paired_comparison

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


def test_bootstrap_matrices_agree_with_the_report_and_intervals_cover_the_estimate() -> None:
    y_true = RNG.integers(0, 3, 400)
    y_pred = np.where(RNG.random(400) < 0.7, y_true, RNG.integers(0, 3, 400))
    report = classification_report([LABELS[i] for i in y_true], [LABELS[i] for i in y_pred])
    full = np.zeros((1, 3, 3), dtype=int)
    np.add.at(full, (0, y_true, y_pred), 1)
    assert macro_f1_of(full)[0] == pytest.approx(report.macro_f1)
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
    key = {"model": "vader", "dataset": "vader_tweets", "split": "test"}
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


def test_local_paths_and_unknown_datasets_are_refused(evaluation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, _ = evaluation
    with pytest.raises(ValueError, match="local path"):
        service.evaluate(str(tmp_path), "vader_tweets")
    with pytest.raises(ValueError, match="unknown dataset"):
        service.evaluate("vader", "/etc/passwd")
