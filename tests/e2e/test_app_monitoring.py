"""Drift through the running app: long formal texts move the length tests, mostly-negative airline tweets move
the label mix; both read back from /metrics after a drift check requested over gradio_client. A first drifted window
is reported as seen and not yet confirmed (gauge 0.5), never as "ok"."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from gradio_client import Client, handle_file

from appserver import RunningApp, metric_value
from sentiment.datasets import load_split
from sentiment.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _feed(client: Client, texts: list[str], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([t] for t in texts)
    _, summary, _ = client.predict(handle_file(str(path)), "text", api_name="/score_csv")
    assert summary["scored"] == len(texts)


def _detected(app: RunningApp, feature: str, test: str) -> float:
    return metric_value(app.metrics(), "sentiment_drift_detected", {"feature": feature, "test": test})


def test_a_shift_in_length_and_in_label_mix_is_detected(
    running_app: RunningApp, session_settings: Settings, tmp_path: Path
) -> None:
    client = Client(running_app.url, verbose=False)
    # The app is shared by the session: other test files (in this process or this xdist worker) may have run drift
    # checks before. Resetting the reference starts a new confirmation run, so this test's first check is the run's
    # first whatever ran before it.
    client.predict(ADMIN_TOKEN, api_name="/reset_reference")
    movies = load_split("vader_movies", "test", session_settings)["text"].tolist()[:1100]
    _feed(client, movies[:600], tmp_path / "movies.csv")
    report = client.predict(ADMIN_TOKEN, api_name="/run_drift_check")
    assert report["window_size"] == 500
    assert report["raw_status"] == "drift" and report["consecutive"] == 1 and report["windows"] == 1
    assert report["status"] != "drift"  # one drifted window is not yet reported (SENTIMENT_DRIFT_CONFIRM_WINDOWS=2)
    # ...nor as its confirmed level alone: the gauge adds 0.5 (0.5 after ok, 1.5 after a confirmed warning)
    gauge = {"ok": 0.5, "warning": 1.5}[report["status"]]
    assert metric_value(running_app.metrics(), "sentiment_drift_status") == gauge
    answer = client.predict(api_name="/monitoring")["answer"]
    assert answer["drift_unconfirmed"] == "drift" and "drift seen in 1 window, not yet confirmed" in answer["verdict"]
    assert _detected(running_app, "text_length", "ks") == 1
    report = client.predict(ADMIN_TOKEN, api_name="/run_drift_check")  # the same window again is no new evidence
    assert report["status"] != "drift" and report["consecutive"] >= 2 and report["windows"] == 1
    _feed(client, movies[600:], tmp_path / "more_movies.csv")  # a window that shares no prediction with the first
    report = client.predict(ADMIN_TOKEN, api_name="/run_drift_check")
    assert report["status"] == "drift" and report["consecutive"] >= 3 and report["windows"] == 2
    assert metric_value(running_app.metrics(), "sentiment_drift_status") == 2

    airline = load_split("airline_tweets", "all", session_settings)
    negative = airline[airline["label"] == "negative"]["text"].tolist()[:450]
    others = airline[airline["label"] != "negative"]["text"].tolist()[:150]
    _feed(client, negative + others, tmp_path / "airline.csv")
    report = client.predict(ADMIN_TOKEN, api_name="/run_drift_check")
    levels = {(r["feature"], r["test"]): r["level"] for r in report["results"]}
    assert levels[("label", "chi2")] == "drift"
    assert _detected(running_app, "label", "chi2") == 1
    assert metric_value(running_app.metrics(), "sentiment_drift_window_size") == 500
    with pytest.raises(Exception, match="wrong or missing admin token"):
        client.predict("", api_name="/run_drift_check")  # running jobs changes state: admins only
    overview = client.predict(api_name="/monitoring")
    assert overview["logged"] >= 1200
    assert {job["job"] for job in overview["jobs"]} == {"evaluation", "drift_check"}
    # The last window (mostly negative airline complaints) has an accuracy estimate with a band, next to the
    # same estimator on the reference; the gauge says the same.
    estimate = overview["estimate"]
    assert estimate["n"] == 500 and estimate["accuracy_band"][0] <= estimate["accuracy"] <= estimate["accuracy_band"][1]
    assert 0 < estimate["reference_accuracy"] <= 1
    gauge = metric_value(running_app.metrics(), "model_estimated_accuracy", {"bound": "estimate"})
    assert gauge == pytest.approx(estimate["accuracy"])
