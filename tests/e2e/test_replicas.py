"""Two app replicas on one PostgreSQL store, as the multi-replica deployment runs them: real processes on two
loopback ports with the same SENTIMENT_DATABASE_URL (a fresh database), and a real Prometheus scraping both.

What it proves: exactly one replica runs the scheduled jobs (the PostgreSQL advisory lock), and when it is killed
(``kill -9``) the other takes over within one job interval; Prometheus keeps each replica's counters apart, and every
dashboard query gives one right value with two replicas (a gauge of the model or the drift check is not shown, or
summed, once per replica). With the prediction log and feedback in the store, predictions sent to either replica land
in one table and feedback given through one counts in the other's Monitoring.

The replicas get different data folders, so nothing is shared by accident through files: whatever one replica sees of
the other's work came through the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, CACHE
from promserver import legends, panel_queries, query, start_prometheus, wait_for_scrapes_and_rules
from sqlalchemy import create_engine, func, select

from appserver import RunningApp, call_api, metric_value, start_app
from scheduler.runner import STANDBY
from sentiment.store.schema import predictions
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
logger = logging.getLogger(__name__)

INTERVAL_S = 4.0  # the drift check's interval: a standby asks for the lock at least this often
SLACK_S = 4.0  # a busy machine's scheduling delay on top of one interval
ENV = {
    "SENTIMENT_MODEL": "vader",  # fast to load: what is tested is the replicas, not the model
    "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
    "SENTIMENT_CACHE_DIR": str(CACHE),
    "SENTIMENT_DRIFT_INTERVAL_S": str(INTERVAL_S),
    "SENTIMENT_DRIFT_MIN_WINDOW": "10",
    "SENTIMENT_REFERENCE_PRODUCTION_ROWS": "0",
    # one scheduled evaluation soon after start, then none for an hour: the test decides which evaluation is newest
    "SENTIMENT_EVALUATION_INTERVAL_S": "3600",
    "SENTIMENT_FIRST_EVALUATION_DELAY_S": "1",
    "SENTIMENT_EVALUATION_DATASETS": '["vader_tweets"]',
    "SENTIMENT_EVALUATION_SAMPLE_SIZE": "30",
}


@dataclass
class Cluster:
    apps: dict[str, RunningApp]
    prometheus: str
    database: str

    def metrics(self, name: str) -> str:
        return self.apps[name].metrics()

    def leaders(self) -> dict[str, float]:
        """Each live replica's ``sentiment_scheduler_leader``."""
        alive = {n: a for n, a in self.apps.items() if a.process.poll() is None}
        return {n: metric_value(a.metrics(), "sentiment_scheduler_leader") for n, a in alive.items()}

    def roles(self) -> tuple[str, str]:
        """(leader, standby), once exactly one replica says it leads."""
        gauges = wait_until(self.leaders, "exactly one leader", accept=lambda g: sorted(g.values()) == [0, 1])
        leader = next(n for n, v in gauges.items() if v == 1)
        return leader, next(n for n in gauges if n != leader)

    def monitoring(self, name: str) -> dict[str, Any]:
        response = httpx.get(f"{self.apps[name].url}/monitoring", timeout=30)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def cluster(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    database = str(postgres.create_database())
    apps: dict[str, RunningApp] = {}
    prometheus = None
    try:
        for name in ("a", "b"):
            folder = tmp_path_factory.mktemp(f"replica-{name}")  # a data folder each: only the database is shared
            apps[name] = start_app(folder, {**ENV, "SENTIMENT_DATABASE_URL": database})
        targets = [app.url.removeprefix("http://") for app in apps.values()]
        prometheus = start_prometheus(tmp_path_factory.mktemp("prometheus-replicas"), targets)
        yield Cluster(apps, prometheus.url, database)
    finally:
        if prometheus is not None:
            prometheus.stop()
        for app in apps.values():
            app.stop()


def _predict(app: RunningApp, texts: list[str]) -> list[str]:
    """Score ``texts`` through the inference API; returns their logged prediction ids."""
    response = httpx.post(f"{app.url}/predict", json={"inputs": texts}, timeout=120)
    response.raise_for_status()
    return str(response.headers["X-Prediction-Ids"]).split(",")


def _written(app: RunningApp) -> float:
    return metric_value(app.metrics(), "sentiment_prediction_log_rows_total", {"outcome": "written"})


def _predict_logged(app: RunningApp, texts: list[str]) -> list[str]:
    """``_predict``, returning once the replica reports those rows written to its log (a background thread)."""
    before = _written(app)
    ids = _predict(app, texts)
    wait_until(lambda: _written(app), f"{len(texts)} log rows written", accept=lambda n: n >= before + len(texts))
    return ids


def test_exactly_one_replica_runs_the_scheduled_jobs(cluster: Cluster) -> None:
    """One replica's gauge reads 1, the other's 0; the leader's drift check runs on its interval while the standby
    has run no job at all and its Monitoring tab's job table says why."""
    leader, standby = cluster.roles()
    success = {"job": "drift_check", "outcome": "success"}
    wait_until(
        lambda: metric_value(cluster.metrics(leader), "scheduler_job_runs_total", success),
        "two scheduled drift checks on the leader",
        accept=lambda runs: runs >= 2,
    )
    evaluated = {"job": "evaluation"}
    wait_until(
        lambda: metric_value(cluster.metrics(leader), "scheduler_job_last_success_timestamp_seconds", evaluated),
        "the leader's first scheduled evaluation",
    )
    assert metric_value(cluster.metrics(standby), "scheduler_job_runs_total") == 0  # every job, every outcome
    assert cluster.leaders() == {leader: 1, standby: 0}
    standby_jobs = {row["job"]: row["outcome"] for row in cluster.monitoring(standby)["jobs"]}
    assert standby_jobs == {"evaluation": STANDBY, "drift_check": STANDBY}
    leader_jobs = {row["job"]: row["outcome"] for row in cluster.monitoring(leader)["jobs"]}
    assert leader_jobs["drift_check"] == "success"


def test_predictions_sent_to_either_replica_land_in_one_table(cluster: Cluster) -> None:
    """5 texts scored by replica a and 7 by replica b are 12 more rows in the one predictions table, and both
    replicas' Monitoring counts the same log."""
    engine = create_engine(cluster.database)
    try:
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        _predict_logged(cluster.apps["a"], [f"replica a review {i}: good" for i in range(5)])
        _predict_logged(cluster.apps["b"], [f"replica b review {i}: bad" for i in range(7)])
        with engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
    finally:
        engine.dispose()
    assert after - before == 12  # H1
    assert cluster.monitoring("a")["logged"] == cluster.monitoring("b")["logged"] == after  # H1


# Feedback lives in the one store: both replicas count the same rows.
def test_feedback_given_through_one_replica_counts_in_the_others_monitoring(cluster: Cluster) -> None:
    """Feedback on a prediction of replica a, given through replica a, shows in replica b's Monitoring counts."""
    (prediction_id,) = _predict_logged(cluster.apps["a"], ["the crew were lovely"])
    before = cluster.monitoring("b")["feedback"]["unreviewed"]
    event, payload = call_api(cluster.apps["a"].url, "feedback", prediction_id, "positive", "")
    assert event == "complete", payload
    assert cluster.monitoring("b")["feedback"]["unreviewed"] == before + 1  # H2


def _series_key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "instance"))


def test_prometheus_counts_each_replica_once_and_every_dashboard_query_stays_right(cluster: Cluster) -> None:
    """Traffic to both replicas, a scheduled drift verdict on the leader, and an evaluation on each (the standby's,
    run on demand, is the newest). Then, against the real Prometheus scraping both:
    - counters are per instance: ``sum by (instance)`` equals what each replica's /metrics says, and the total both;
    - the Accuracy panel shows one value per (model, dataset, split): the newest evaluation's, not one per replica;
      the confusion matrix is that evaluation's, not the sum of two;
    - the standby follows the leader's verdict from the store (issue 27 review: a standby must not keep what it
      restored at its own start), and the drift status panel shows that verdict once;
    - every panel's query is accepted, and none returns two series that differ only by replica unless its legend
      names the replica."""
    leader, standby = cluster.roles()
    _predict_logged(cluster.apps[leader], [f"flight {i} was {'late' if i % 2 else 'great'}" for i in range(40)])
    _predict_logged(cluster.apps[standby], [f"seat {i} was fine" for i in range(7)])
    wait_until(  # the leader's next scheduled drift check sees a window of 40: a verdict (0 ok .. 2 drift), not -1
        lambda: metric_value(cluster.metrics(leader), "sentiment_drift_status"),
        "a drift verdict on the leader",
        accept=lambda status: status >= 0,
    )
    event, evaluations = call_api(cluster.apps[standby].url, "run_evaluation", ADMIN_TOKEN)
    assert event == "complete", evaluations
    wait_for_scrapes_and_rules(cluster.prometheus, after=time.time(), scrapes=2)
    exported = {name: cluster.metrics(name) for name in (leader, standby)}
    url = {name: cluster.apps[name].url.removeprefix("http://") for name in (leader, standby)}

    per_instance = {
        r["metric"]["instance"]: float(r["value"][1])
        for r in query(cluster.prometheus, "sum by (instance) (sentiment_predictions_total)")["data"]["result"]
    }
    assert per_instance == {url[n]: metric_value(exported[n], "sentiment_predictions_total") for n in url}
    (total,) = query(cluster.prometheus, "sum(sentiment_predictions_total)")["data"]["result"]
    assert float(total["value"][1]) == sum(per_instance.values())

    key = {"dataset": "vader_tweets", "split": "test", "source": "scheduled"}
    stamps = {n: metric_value(exported[n], "model_evaluation_timestamp_seconds", key) for n in url}
    assert stamps[standby] > stamps[leader] > 0  # both replicas export this evaluation's gauges: the case tested
    titles = {(title, expr) for _, title, expr, _ in panel_queries()}
    accuracy = next(expr for title, expr in titles if title == "Accuracy")
    (shown,) = query(cluster.prometheus, accuracy)["data"]["result"]  # one series, not one per replica
    assert float(shown["value"][1]) == metric_value(exported[standby], "model_accuracy", key)
    matrix = next(expr for title, expr in titles if title.startswith("Confusion matrix"))
    cells = {
        (r["metric"]["true_label"], r["metric"]["predicted_label"]): float(r["value"][1])
        for r in query(cluster.prometheus, matrix)["data"]["result"]
    }
    for (true_label, predicted_label), value in cells.items():
        labels = {**key, "true_label": true_label, "predicted_label": predicted_label}
        assert value == metric_value(exported[standby], "model_confusion_matrix", labels)
    assert sum(cells.values()) == 30  # one evaluation's 30 rows, not 60

    status = next(expr for title, expr in titles if title == "Drift status")
    both = wait_until(
        lambda: tuple(metric_value(cluster.metrics(n), "sentiment_drift_status") for n in (leader, standby)),
        "the standby to take up the leader's drift verdict (it polls every interval)",
        accept=lambda pair: pair[0] == pair[1] >= 0,
    )
    wait_for_scrapes_and_rules(cluster.prometheus, after=time.time(), scrapes=2)
    (verdict,) = query(cluster.prometheus, status)["data"]["result"]  # one series: not one per replica
    assert float(verdict["value"][1]) == both[0]

    (leaders,) = query(cluster.prometheus, 'sum(sentiment_scheduler_leader{job="sentiment"})')["data"]["result"]
    assert float(leaders["value"][1]) == 1

    named = legends()
    doubled = []
    for board, title, expr, _ in panel_queries():
        keys = [_series_key(r["metric"]) for r in query(cluster.prometheus, expr)["data"]["result"]]
        if len(keys) != len(set(keys)) and "{{instance}}" not in named[expr]:
            doubled.append(f"{board} / {title}: {expr}")
    assert not doubled, "one series per replica where one value is meant:\n" + "\n".join(doubled)


def test_when_the_leader_is_killed_the_other_replica_takes_over_within_one_interval(cluster: Cluster) -> None:
    """``kill -9`` of the leading replica (nothing of it runs to release the lock; PostgreSQL ends its session):
    the standby leads within one interval (plus a busy machine's slack), runs the drift check, and Prometheus sees
    one leader among the replicas still up."""
    leader, standby = cluster.roles()
    runs = {"job": "drift_check", "outcome": "success"}
    before = metric_value(cluster.metrics(standby), "scheduler_job_runs_total", runs)
    cluster.apps[leader].process.kill()
    killed = time.monotonic()
    cluster.apps[leader].process.wait(30)
    wait_until(
        lambda: cluster.leaders()[standby], "the standby to take over", timeout=INTERVAL_S + SLACK_S, interval=0.05
    )
    took = time.monotonic() - killed
    logger.info("the standby led %.2f s after the leader was killed (interval %g s)", took, INTERVAL_S)
    assert took <= INTERVAL_S + SLACK_S, took
    wait_until(
        lambda: metric_value(cluster.metrics(standby), "scheduler_job_runs_total", runs),
        "a drift check on the new leader",
        accept=lambda n: n > before,
    )
    dead = cluster.apps[leader].url.removeprefix("http://")
    wait_until(
        lambda: {r["metric"]["instance"]: r["value"][1] for r in query(cluster.prometheus, "up")["data"]["result"]},
        "Prometheus to see the killed replica down",
        accept=lambda up: up.get(dead) == "0",
    )
    wait_until(
        lambda: query(cluster.prometheus, 'sum(sentiment_scheduler_leader{job="sentiment"})')["data"]["result"],
        "one leader in Prometheus",
        accept=lambda result: bool(result) and result[0]["value"][1] == "1",
    )
