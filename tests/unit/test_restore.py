"""Restoring the quality gauges from stored evaluations: a stored report sets exactly the series the live evaluation
set, each gauge key ends at its newest evaluation whatever order the store gives them in, and evaluations no
process exports (the CLI's) stay off /metrics."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from sentiment.evaluation.metrics import classification_report
from sentiment.labels import LABELS
from sentiment.service.quality_metrics import EvaluationMetrics
from sentiment.service.restore import restore_evaluation_gauges, stored_metrics

label_lists = st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=60)


def _stored(pairs: list[tuple[str, str]], model: str, source: str, created_at: float) -> dict[str, Any]:
    """A report as the history stores it (``EvaluationReport.stored()``: JSON, metrics as plain dicts)."""
    report = classification_report([t for t, _ in pairs], [p for _, p in pairs])
    stored = {"model": model, "dataset": "vader_tweets", "split": "test", "source": source, "created_at": created_at}
    return json.loads(json.dumps({**stored, "metrics": report.as_dict()}))


def _exposition(metrics: Any) -> str:
    return generate_latest(metrics.registry).decode()


class Gauges(EvaluationMetrics):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        super().__init__(self.registry)


@settings(max_examples=40, deadline=None)
@given(pairs=label_lists)
def test_a_stored_report_sets_the_series_the_live_evaluation_set(pairs: list[tuple[str, str]]) -> None:
    """Property: for any labels, the gauges restored from the stored JSON equal those the evaluation itself set."""
    stored = _stored(pairs, "embedded", "scheduled", 1000.0)
    live, restored = Gauges(), Gauges()
    live.record(
        "embedded", "vader_tweets", "test", classification_report(*zip(*pairs, strict=True)), 1000.0, "scheduled"
    )
    assert restore_evaluation_gauges(restored, [stored], lambda model, source: model) == 1
    assert _exposition(restored) == _exposition(live)
    assert stored_metrics(stored) == classification_report(*zip(*pairs, strict=True))


@settings(max_examples=40, deadline=None)
@given(older=label_lists, newer=label_lists, reverse=st.booleans())
def test_each_key_ends_at_its_newest_evaluation(
    older: list[tuple[str, str]], newer: list[tuple[str, str]], reverse: bool
) -> None:
    """Two visitor models that share the label value "other": whichever order the reports come in, the gauges
    hold the newer one; a CLI evaluation (newest of all) is not exported."""
    reports = [
        _stored(older, "some/model-a", "visitor", 100.0),
        _stored(newer, "some/model-b", "visitor", 200.0),
        _stored(older, "embedded", "cli", 300.0),
    ]
    restored = Gauges()
    count = restore_evaluation_gauges(restored, reports[::-1] if reverse else reports, lambda model, source: "other")
    expected = Gauges()
    expected.record("other", "vader_tweets", "test", classification_report(*zip(*newer, strict=True)), 200.0, "visitor")
    assert count == 2
    assert _exposition(restored) == _exposition(expected)


def test_an_unreadable_stored_report_is_skipped_and_the_others_restored() -> None:
    good = _stored([("positive", "positive")], "embedded", "scheduled", 10.0)
    broken = {**good, "model": "other-model", "metrics": {"accuracy": 1.0}}  # no per-class figures
    restored = Gauges()
    assert restore_evaluation_gauges(restored, [broken, good], lambda model, source: model) == 1
    assert 'model="embedded"' in _exposition(restored) and "other-model" not in _exposition(restored)
