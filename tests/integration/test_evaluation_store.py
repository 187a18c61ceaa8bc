"""The evaluation history in the one store, on SQLite and PostgreSQL (fixture ``store``): old rows read with today's
word for who ran them, the newest evaluation per (model, dataset, split, source) with its report (what a restarting
replica restores its gauges from), and two services on one store (two replicas) sharing one history."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, insert
from test_reports import _result

from appserver import metric_value
from sentiment.errors import StoreUnavailableError
from sentiment.evaluation.report import EvaluationReport
from sentiment.evaluation.store import SOURCES, EvaluationStore
from sentiment.service.evaluation import EvaluationService
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.quality_metrics import EVALUATION_SOURCES
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import evaluations


def _old_row(store: Store, source: str, model: str = "m", created_at: float = 0.0) -> None:
    """A row as the evaluations.sqlite of an older version held it (imported as it was)."""
    with store.write() as conn:
        conn.execute(
            insert(evaluations).values(
                created_at=created_at,
                model=model,
                model_revision="r",
                dataset="d",
                split="test",
                n=1,
                seed=0,
                accuracy=1.0,
                macro_f1=1.0,
                source=source,
                report=json.dumps({"source": source, "accuracy": created_at}),
            )
        )


def test_old_history_rows_read_with_todays_word_for_who_ran_them(store: Store) -> None:
    """Rows stored before the rename said "user" and "scheduler"; the history and the stored report now say
    "visitor" and "scheduled", the words of the gauges and the README."""
    history = EvaluationStore(store)
    for source in ("user", "scheduler", "cli"):
        _old_row(store, source)
    rows = history.recent()
    assert [row.source for row in rows] == ["cli", "scheduled", "visitor"]
    assert [history.report(row.id)["source"] for row in rows] == ["cli", "scheduled", "visitor"]  # type: ignore[index]
    assert history.report(10**9) is None
    assert set(SOURCES) == {"visitor", "scheduled", "cli"} and set(EVALUATION_SOURCES) <= set(SOURCES)


def test_latest_per_key_is_the_newest_evaluation_of_each_series_with_its_report(store: Store) -> None:
    """Three runs of one series, one of another dataset, one of another source: one entry per (model, dataset,
    split, source), the newest (highest id) each, with the report it stored; oldest first. An old "user" row and a
    newer "visitor" row are one series (today's word), the newer winning."""
    history = EvaluationStore(store)
    assert history.latest_per_key() == []
    _old_row(store, "user", model="vader", created_at=5.0)
    ids = {}
    for name, created_at, changes, source in [
        ("first", 10.0, {}, "scheduled"),
        ("other-dataset", 11.0, {"dataset": "vader_amazon"}, "scheduled"),
        ("second", 12.0, {}, "scheduled"),
        ("visitor", 13.0, {"dataset": "d"}, "visitor"),
        ("third", 14.0, {}, "scheduled"),
    ]:
        ids[name] = history.add(EvaluationReport(_result(created_at=created_at, **changes), source))
    latest = history.latest_per_key()
    keys = [(e.record.model, e.record.dataset, e.record.split, e.record.source) for e in latest]
    assert keys == [
        ("vader", "vader_amazon", "test", "scheduled"),
        ("vader", "d", "test", "visitor"),
        ("vader", "vader_tweets", "test", "scheduled"),
    ]
    assert [e.record.id for e in latest] == [ids["other-dataset"], ids["visitor"], ids["third"]]
    newest = latest[-1]
    assert newest.report == history.report(ids["third"]) and newest.report["created_at"] == 14.0
    assert newest.report["metrics"]["accuracy"] == newest.record.accuracy == 0.75


keys = st.tuples(st.sampled_from(["vader", "embedded"]), st.sampled_from(["vader_tweets", "production"]))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.tuples(keys, st.sampled_from(["scheduled", "visitor", "cli"])), max_size=12))
def test_latest_per_key_is_the_last_added_of_each_key_for_any_sequence(
    store: Store, runs: list[tuple[tuple[str, str], str]]
) -> None:
    """For any sequence of stored evaluations: one entry per distinct key, and it is the last one added."""
    with store.write() as conn:
        conn.execute(delete(evaluations))
    history = EvaluationStore(store)
    last: dict[tuple[str, str, str, str], int] = {}
    for i, ((model, dataset), source) in enumerate(runs):
        result = replace(_result(), model=model, dataset=dataset, created_at=float(i))
        last[(model, dataset, "test", source)] = history.add(EvaluationReport(result, source))
    latest = history.latest_per_key()
    assert {(e.record.model, e.record.dataset, e.record.split, e.record.source): e.record.id for e in latest} == last
    assert [e.record.id for e in latest] == sorted(last.values())
    assert all(e.report["created_at"] == e.record.created_at for e in latest)


def test_two_services_on_one_store_share_one_history(settings: Settings, store: Store) -> None:
    """What one replica's evaluation stores, another replica's service (its own metrics, the same store) lists and
    can restore from; the id it was given is the row's."""
    one = EvaluationService(settings, ServiceMetrics(CollectorRegistry()).evaluation, store=store)
    other = EvaluationService(settings, ServiceMetrics(CollectorRegistry()).evaluation, store=store)
    report = one.evaluate("vader", "vader_tweets", "test", sample_size=5, seed=1, source="scheduled")
    assert report.id is not None and report.warning is None
    (listed,) = other.history()
    assert (listed.id, listed.model, listed.n, listed.source) == (report.id, "vader", 5, "scheduled")
    (restored,) = other.store.latest_per_key()
    assert restored.report == json.loads(json.dumps(report.stored()))


def test_a_visitors_evaluation_says_it_was_not_kept_when_the_store_is_unavailable(settings: Settings) -> None:
    """A store that does not answer (nothing listens at its address) fails only the history: the visitor gets the
    figures and a warning in the database's own words (no SQL); the gauges move; a scheduled run raises
    ``StoreUnavailableError`` (the scheduler counts it)."""
    down = Store.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", timeout_s=1, wait=False)
    metrics = ServiceMetrics(CollectorRegistry())
    service = EvaluationService(settings, metrics.evaluation, store=down)
    report = service.evaluate("vader", "vader_tweets", "test", sample_size=5, seed=1)
    assert report.id is None and report.result.n == 5
    assert (report.warning or "").startswith("not saved to the evaluation history (StoreUnavailableError: the store")
    assert "secret" not in (report.warning or "") and "SELECT" not in (report.warning or "")
    key = {"model": "vader", "dataset": "vader_tweets", "split": "test", "source": "visitor"}
    assert metric_value(metrics.render().decode(), "model_evaluation_samples", key) == 5
    with pytest.raises(StoreUnavailableError):
        service.evaluate("vader", "vader_tweets", "test", sample_size=5, seed=1, source="scheduled")
