"""The typed reports against the JSON the API, the CLI's --json and the evaluation history served before they were
typed: one pinned example per report type (keys, order and values), and properties over any confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sentiment.datasets.label_map import LabelMapping
from sentiment.evaluation.metrics import report_from_confusion
from sentiment.evaluation.report import (
    Comparison,
    ComparisonReport,
    EvaluationReport,
    EvaluationResult,
    FileRead,
    Intervals,
    RowsUsed,
)
from sentiment.evaluation.store import EvaluationStore
from sentiment.evaluation.uncertainty import Interval, PairedComparison
from sentiment.labels import LABELS
from sentiment.monitoring.drift import CHECKS, check_drift
from sentiment.monitoring.estimation import PerformanceEstimate
from sentiment.monitoring.performance import RealisedReference, WindowEstimate
from sentiment.monitoring.production import InsufficientLabels, NoPredictionLog
from sentiment.monitoring.reference import ReferenceSummary
from sentiment.store import Store

MATRIX = np.array([[5, 1, 0], [2, 3, 1], [0, 1, 7]])
WHY = "stratified sample of 20 rows (seed 7) of split 'test' of vader_tweets"


def _result(matrix: np.ndarray = MATRIX, **changes: object) -> EvaluationResult:
    fields: dict[str, object] = {
        "model": "vader",
        "model_revision": "3.3.2",
        "dataset": "vader_tweets",
        "split": "test",
        "n": int(matrix.sum()),
        "seed": 7,
        "metrics": report_from_confusion(matrix),
        "intervals": Intervals(Interval(0.5, 0.9), Interval(0.45, 0.85)),
        "seconds": 1.23456,
        "created_at": 1795000000.0,
        "row_ids": [0, 1, 2],
        "predictions": ["negative"] * 3,
        "rows": RowsUsed(int(matrix.sum()), 840, WHY),
    }
    return EvaluationResult(**{**fields, **changes})  # type: ignore[arg-type]


# What /evaluate returned for this evaluation before the report was typed (the previous commit's as_dict, plus the
# "source" and "id" the service added), and since then "calibration" (null here: the result kept no probabilities).
PINNED_EVALUATION = {
    "model": "vader",
    "model_revision": "3.3.2",
    "dataset": "vader_tweets",
    "split": "test",
    "n": 20,
    "seed": 7,
    "metrics": {
        "n": 20,
        "accuracy": 0.75,
        "macro_f1": 0.7298951048951049,
        "weighted_f1": 0.7444055944055943,
        "macro_precision": 0.7297619047619047,
        "macro_recall": 0.7361111111111112,
        "per_class": {
            "negative": {
                "precision": 0.7142857142857143,
                "recall": 0.8333333333333334,
                "f1": 0.7692307692307692,
                "support": 6,
            },
            "neutral": {"precision": 0.6, "recall": 0.5, "f1": 0.5454545454545454, "support": 6},
            "positive": {"precision": 0.875, "recall": 0.875, "f1": 0.875, "support": 8},
        },
        "confusion": [[5, 1, 0], [2, 3, 1], [0, 1, 7]],
        "labels": ["negative", "neutral", "positive"],
    },
    "intervals": {
        "accuracy": {"low": 0.5, "high": 0.9, "level": 0.95},
        "macro_f1": {"low": 0.45, "high": 0.85, "level": 0.95},
    },
    "seconds": 1.235,
    "created_at": 1795000000.0,
    "row_ids": [0, 1, 2],
    "rows": {"used": 20, "total": 840, "why": WHY},
    "label_mapping": None,
    "file": None,
    "calibration": None,
    "source": "visitor",
    "id": 4,
}


def _rounded(value: object) -> object:
    """Floats to 12 significant digits, in any nesting: the pin is the JSON's shape and values, not the last bit
    of a sum whose order may change (one F1 implementation now serves reports, bootstraps and estimates)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def test_an_evaluation_report_is_the_json_served_before() -> None:
    served = EvaluationReport(_result(), "visitor", id=4).as_dict()
    assert _rounded(served) == _rounded(PINNED_EVALUATION)
    assert list(served) == list(PINNED_EVALUATION)  # the same key order too (json.dumps keeps it)
    assert list(served["metrics"]) == list(PINNED_EVALUATION["metrics"])  # type: ignore[call-overload]
    warned = EvaluationReport(_result(), "visitor", warning="not saved to the evaluation history (OperationalError: x)")
    assert warned.as_dict()["id"] is None and warned.as_dict()["warning"].startswith("not saved")
    assert "warning" not in served


def test_a_users_file_report_says_how_the_file_was_read_and_which_rows(tmp_path: Path) -> None:
    mapping = LabelMapping("polarity", {"1": "positive", "-1": "negative", "0": "neutral"})
    file = FileRead("text", mapping, 9, 1, 0)
    rows = RowsUsed(6, 9, "1 rows without text skipped; stratified sample of 6 rows (seed 1)", (1, 2, 4, 5, 7, 9))
    served = _result(rows=rows, file=file, dataset="uploaded", split="all").as_dict()
    assert served["rows"] == {"used": 6, "total": 9, "why": rows.why, "file_rows": [1, 2, 4, 5, 7, 9]}
    assert served["label_mapping"] == {
        "column": "label",
        "rule": "polarity",
        "map": {"-1": "negative", "0": "neutral", "1": "positive"},
    }
    assert served["file"] == {
        "text_column": "text",
        "label_mapping": served["label_mapping"],
        "rows_in_file": 9,
        "rows_without_text": 1,
        "rows_without_label": 0,
    }


def test_the_history_stores_the_served_json_but_its_own_id(store: Store) -> None:
    """On SQLite and PostgreSQL: the stored report is the served JSON, the listing's columns come in order."""
    store = EvaluationStore(store)
    report = EvaluationReport(_result(), "scheduled")
    stored_id = store.add(report)
    kept = store.report(stored_id)
    pinned = {k: v for k, v in PINNED_EVALUATION.items() if k != "id"} | {"source": "scheduled"}
    assert kept == report.stored() and _rounded(kept) == _rounded(pinned)
    (row,) = store.recent()
    assert list(row.as_dict()) == [  # the columns /evaluations lists, in order
        "id",
        "created_at",
        "model",
        "model_revision",
        "dataset",
        "split",
        "n",
        "seed",
        "accuracy",
        "macro_f1",
        "source",
    ]
    assert (row.id, row.source, row.accuracy, row.macro_f1, row.n) == (
        stored_id,
        "scheduled",
        0.75,
        pytest.approx(0.7298951048951049),
        20,
    )


PAIRED = PairedComparison(
    macro_f1_difference=0.05,
    macro_f1_interval=Interval(0.01, 0.09, 0.95),
    bootstrap_p_value=0.02,
    accuracy_difference=0.04,
    mcnemar_p_value=0.3,
    only_a_correct=3,
    only_b_correct=7,
    significant=True,
)


def test_a_comparison_report_is_both_reports_and_the_paired_tests() -> None:
    a, b = EvaluationReport(_result(), "visitor", 1), EvaluationReport(_result(model="embedded"), "visitor", 2)
    served = ComparisonReport(a, b, Comparison.of(PAIRED, "vader", "embedded")).as_dict()
    assert list(served) == ["a", "b", "comparison"] and served["a"]["id"] == 1 and served["b"]["model"] == "embedded"
    assert served["comparison"] == {
        "macro_f1_difference": 0.05,
        "macro_f1_interval": {"low": 0.01, "high": 0.09, "level": 0.95},
        "bootstrap_p_value": 0.02,
        "accuracy_difference": 0.04,
        "mcnemar_p_value": 0.3,
        "only_a_correct": 3,
        "only_b_correct": 7,
        "significant": True,
        "better": "embedded",  # B minus A is positive and significant
    }
    from dataclasses import replace

    assert Comparison.of(replace(PAIRED, macro_f1_difference=-0.05), "vader", "embedded").better == "vader"
    assert Comparison.of(replace(PAIRED, significant=False), "vader", "embedded").better is None


def test_the_production_outcomes_without_figures_are_the_json_served_before() -> None:
    why = "accepted feedback on predictions of the last 7 days"
    short = InsufficientLabels("embedded", 3, 50, RowsUsed(3, 3, why), 1795000000.0)
    assert short.as_dict() == {
        "model": "embedded",
        "dataset": "production",
        "split": "window",
        "status": "insufficient labels",
        "n": 3,
        "min_labels": 50,
        "rows": {"used": 3, "total": 3, "why": why},
        "created_at": 1795000000.0,
    }
    assert list(short.as_dict()) == ["model", "dataset", "split", "status", "n", "min_labels", "rows", "created_at"]
    assert NoPredictionLog("embedded").as_dict() == {
        "model": "embedded",
        "dataset": "production",
        "status": "no prediction log (SENTIMENT_LOG_PREDICTIONS)",
    }


def _frame(n: int, length: float, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n_chars": rng.poisson(length, n),
            "n_tokens": rng.poisson(length / 4, n),
            "confidence": rng.uniform(0.4, 1.0, n),
            "label": rng.choice(list(LABELS), n),
            "surface": rng.choice(["mention", "plain"], n),
        }
    )


RESULT_KEYS = [
    "feature",
    "test",
    "statistic",
    "p_value",
    "drifted",
    "threshold",
    "method",
    "n_reference",
    "n_current",
    "adjusted_p_value",
    "level",
    "effect_size",
    "effect_threshold",
    "distribution",  # what the test compared (monitoring.distributions)
]


def test_a_drift_report_is_the_json_served_before() -> None:
    rng = np.random.default_rng(3)
    reference = _frame(800, 80, rng)
    summary = ReferenceSummary("embedded", "abc", "vader_tweets", "test", 800, 1795000000.0, 1)
    report = check_drift(reference, _frame(300, 120, rng), reference_info=summary)
    served = report.as_dict()
    assert list(served) == [
        "status",
        "window_size",
        "min_window",
        "checked_at",
        "reference",
        "results",
        "raw_status",
        "consecutive",
        "windows",  # disjoint windows in the run (monitoring.persistence)
        "reference_source",
        "explanation",
    ]
    assert served["reference"] == {
        "model": "embedded",
        "model_revision": "abc",
        "dataset": "vader_tweets",
        "split": "test",
        "rows": 800,
        "created_at": 1795000000.0,
        "version": 1,
    }
    # frames without embeddings (the lexicon, rows logged before them) skip the semantic check, and only it
    run = [(c.feature, c.test) for c in CHECKS if c.column in reference]
    assert run == [(c.feature, c.test) for c in CHECKS if c.test != "domain_auc"]
    assert [(r["feature"], r["test"]) for r in served["results"]] == run
    for row in served["results"]:
        assert list(row) == RESULT_KEYS
        assert row["method"] == row["test"] and row["drifted"] == (row["level"] == "drift")
        assert (row["p_value"] is None) == (row["adjusted_p_value"] is None) == (row["test"] == "psi")
    assert json.loads(json.dumps(served)) == served
    assert report.status_code == {"ok": 0, "warning": 1, "drift": 2}[report.status]
    tiny = check_drift(reference, _frame(20, 80, rng)).as_dict()
    assert (tiny["status"], tiny["reference"], tiny["results"]) == ("insufficient_data", {}, [])


def test_a_window_estimate_is_the_json_served_before() -> None:
    estimate = PerformanceEstimate(
        method="doc",
        n=500,
        accuracy=0.7,
        accuracy_band=(0.65, 0.75),
        macro_f1=0.68,
        macro_f1_band=(0.6, 0.72),
        f1={"negative": 0.7, "neutral": 0.6, "positive": 0.74},
        f1_band={"negative": (0.6, 0.8), "neutral": (0.5, 0.7), "positive": (0.7, 0.8)},
    )
    window = WindowEstimate(estimate, 0.72, 0.7, RealisedReference("vader_tweets", "test", 630, 0.71, 0.69), 1795.0)
    assert window.as_dict() == {
        "method": "doc",
        "n": 500,
        "accuracy": 0.7,
        "accuracy_band": [0.65, 0.75],
        "macro_f1": 0.68,
        "macro_f1_band": [0.6, 0.72],
        "f1": {"negative": 0.7, "neutral": 0.6, "positive": 0.74},
        "f1_band": {"negative": [0.6, 0.8], "neutral": [0.5, 0.7], "positive": [0.7, 0.8]},
        "reference_accuracy": 0.72,
        "reference_macro_f1": 0.7,
        "reference": {"dataset": "vader_tweets", "split": "test", "rows": 630, "accuracy": 0.71, "macro_f1": 0.69},
        "checked_at": 1795.0,
        "trust": None,  # added with the trust verdicts: an estimate no verdict judged (sentiment.monitoring.trust)
    }


@settings(max_examples=80, deadline=None, derandomize=True)
@given(arrays(np.int64, (3, 3), elements=st.integers(0, 200)).filter(lambda m: m.sum() > 0))
def test_any_confusion_matrix_comes_back_from_the_served_json_with_the_same_numbers(matrix: np.ndarray) -> None:
    """confusion -> report -> as_dict -> JSON -> the same matrix, supports, counts and the figures derived from it."""
    served = json.loads(json.dumps(EvaluationReport(_result(matrix), "scheduled", 1).as_dict()))
    metrics = served["metrics"]
    assert metrics["confusion"] == matrix.tolist()
    assert served["n"] == metrics["n"] == int(matrix.sum())
    assert [metrics["per_class"][label]["support"] for label in LABELS] == matrix.sum(axis=1).tolist()
    assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    again = report_from_confusion(np.array(metrics["confusion"]))
    assert metrics == again.as_dict()  # nothing is lost or rounded on the way out
