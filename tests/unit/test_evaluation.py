"""Evaluation maths against scikit-learn and hand computations, sampling by seed, paired tests (the service and its
SQLite store are in tests/integration/test_evaluation_service.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from sentiment.evaluation.metrics import classification_report, confusion_matrix, macro_f1
from sentiment.evaluation.runner import stratified_sample
from sentiment.evaluation.uncertainty import bootstrap_intervals, mcnemar_exact, paired_comparison
from sentiment.labels import LABELS

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


def test_a_calibration_summary_matches_a_hand_worked_ece_and_draws_one_bar_per_filled_bin() -> None:
    """Two rows at confidence 0.9, one right: one filled bin with accuracy 0.5, so ECE = |0.5 - 0.9| = 0.4 (by
    hand); four rows at 0.5 and 0.9 split 2/2, all right: ECE = 0.5 * 0.5 + 0.5 * 0.1 = 0.3."""
    from sentiment.evaluation.report import CalibrationSummary
    from sentiment.web.ui.figures import reliability_svg

    summary = CalibrationSummary.of([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05]], [0, 1])
    assert summary.ece == pytest.approx(0.4)
    assert [b.count for b in summary.bins if b.count] == [2]
    both = CalibrationSummary.of([[0.5, 0.3, 0.2]] * 2 + [[0.05, 0.05, 0.9]] * 2, [0, 0, 2, 2])
    assert both.ece == pytest.approx(0.3)
    result = _result_with(both)
    svg = reliability_svg(result)
    assert svg.count('class="reliability-bin"') == 2 and "ECE 0.300" in svg and "<svg" in svg
    assert reliability_svg(_result_with(None)) == ""


def _result_with(calibration):  # type: ignore[no-untyped-def]
    from sentiment.evaluation.metrics import classification_report
    from sentiment.evaluation.report import EvaluationResult, Intervals, RowsUsed
    from sentiment.evaluation.uncertainty import bootstrap_intervals

    truth = ["negative", "negative", "positive", "positive"]
    ids = np.array([0, 0, 2, 2])
    return EvaluationResult(
        model="m <b>",
        model_revision="r",
        dataset="d",
        split="test",
        n=4,
        seed=0,
        metrics=classification_report(truth, truth),
        intervals=Intervals.of(bootstrap_intervals(ids, ids, seed=0)),
        seconds=0.0,
        created_at=0.0,
        row_ids=[0, 1, 2, 3],
        predictions=truth,
        rows=RowsUsed(4, 4, "all"),
        calibration=calibration,
    )
