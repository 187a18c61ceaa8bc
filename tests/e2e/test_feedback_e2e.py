"""Feedback end to end on the real app: a click in Chromium is stored and counted on /metrics; the owner accepts it
over the API; after a restart on the same data folder the scheduled evaluation's production report uses it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium_page
from conftest import ADMIN_TOKEN, CACHE

from appserver import RunningApp, call_api, metric_value, start_app
from waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
WAIT_MS = 120_000  # bound of each wait for an event (a shared, loaded machine); never a fixed sleep
TEXT = "This airline lost my bag and nobody helped. Awful."
ENV = {
    "SENTIMENT_MODEL": "vader",  # fastest to load (half the embedded start); nothing here depends on the model
    "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
    "SENTIMENT_CACHE_DIR": str(CACHE),
    "SENTIMENT_SCHEDULER_ENABLED": "false",  # the test runs the evaluation itself, once, when it is ready
    "SENTIMENT_EVALUATION_DATASETS": '["vader_tweets"]',
    "SENTIMENT_EVALUATION_SAMPLE_SIZE": "30",
    "SENTIMENT_PRODUCTION_MIN_LABELS": "1",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback-app")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_page(tmp_path_factory.mktemp("chromium-feedback")) as page:
        yield page


def _feedback_rows(data_dir: Path) -> list[tuple[str, str, str, str | None]]:
    with sqlite3.connect(data_dir / "sentiment.sqlite") as conn:
        return conn.execute("SELECT prediction_id, label, reviewed, text FROM feedback ORDER BY id").fetchall()


def _counted(app: RunningApp, label: str, outcome: str) -> float:
    return metric_value(app.metrics(), "sentiment_feedback_total", {"label": label, "outcome": outcome})


def test_a_click_is_stored_counted_reviewed_and_evaluated_after_a_restart(browser: Any, data_dir: Path) -> None:
    from playwright.sync_api import expect

    app = start_app(data_dir, ENV)
    try:
        page = browser
        page.set_default_timeout(WAIT_MS)
        page.goto(app.url, wait_until="domcontentloaded")
        expect(page.locator("#model-info")).to_contain_text("vader", timeout=WAIT_MS)  # the page is built, connected
        expect(page.locator("#feedback-row")).to_be_hidden(timeout=WAIT_MS)  # nothing to judge before a prediction
        page.locator("#text-input textarea").fill(TEXT)
        page.locator("#predict-button").click()
        expect(page.locator("#label-output")).to_contain_text("negative", timeout=WAIT_MS)
        expect(page.locator("#feedback-note")).to_contain_text("not your text", timeout=WAIT_MS)
        page.locator("#feedback-neutral").click()  # the model said negative: this feedback disagrees
        expect(page.locator("#feedback-status")).to_contain_text("neutral recorded", timeout=WAIT_MS)

        ((prediction_id, label, reviewed, text),) = _feedback_rows(data_dir)
        assert (label, reviewed, text) == ("neutral", "unreviewed", None)
        assert _counted(app, "neutral", "recorded") == 1

        page.locator("#feedback-neutral").click()  # the same click again: one row, counted as a duplicate
        wait_until(lambda: _counted(app, "neutral", "duplicate") == 1, "the repeat counted", timeout=30)
        assert len(_feedback_rows(data_dir)) == 1

        event, listed = call_api(app.url, "review_feedback", ADMIN_TOKEN, "", "")
        assert event == "complete" and listed[0]["counts"]["unreviewed"] == 1
        feedback_id = listed[0]["unreviewed"][0]["id"]
        event, reviewed_now = call_api(app.url, "review_feedback", ADMIN_TOKEN, "accepted", str(feedback_id))
        assert event == "complete" and reviewed_now[0]["changed"] == 1
        event, _ = call_api(app.url, "review_feedback", "wrong-token", "accepted", str(feedback_id))
        assert event == "error"  # a wrong token changes nothing (the restart below still finds it accepted once)

        # with the box ticked the text goes with the feedback (and a new prediction has its own id)
        page.locator("#text-input textarea").fill("Best crew ever, thank you!")
        page.locator("#predict-button").click()
        expect(page.locator("#feedback-status")).to_be_empty(timeout=WAIT_MS)
        expect(page.locator("#label-output")).to_contain_text("positive", timeout=WAIT_MS)
        page.locator("#text-input textarea").fill("edited after classifying")  # not what was judged: not stored
        page.locator("#keep-text input").check()
        page.locator("#feedback-positive").click()
        expect(page.locator("#feedback-status")).to_contain_text("with your text", timeout=WAIT_MS)
        second = _feedback_rows(data_dir)[1]
        assert second[0] != prediction_id and second[1:] == ("positive", "unreviewed", "Best crew ever, thank you!")
    finally:
        app.stop()

    app = start_app(data_dir, ENV, log_name="app-restarted.log")
    try:
        event, reports = call_api(app.url, "run_evaluation", ADMIN_TOKEN, timeout=300)
        assert event == "complete", reports
        labels = {"dataset": "production", "split": "window", "source": "scheduled"}
        text = app.metrics()
        assert metric_value(text, "model_evaluation_samples", labels) == 1
        assert metric_value(text, "model_accuracy", labels) == 0  # the model said negative, the person neutral
        event, history = call_api(app.url, "evaluations", 5)
        newest = history[0][0]  # the production report is the job's last
        assert (event, newest["dataset"], newest["n"], newest["source"]) == ("complete", "production", 1, "scheduled")
        assert _feedback_rows(data_dir)[0][:3] == (prediction_id, "neutral", "accepted")
    finally:
        app.stop()


def test_feedback_over_the_api_names_the_prediction_and_keeps_text_only_when_given(running_app: RunningApp) -> None:
    event, (_, details) = call_api(running_app.url, "predict", "The seats were fine, the food was not.")
    assert event == "complete" and len(details["prediction_id"]) == 32
    before = _counted(running_app, "neutral", "recorded")
    event, (outcome,) = call_api(running_app.url, "feedback", details["prediction_id"], "neutral", "my words")
    assert event == "complete" and (outcome["outcome"], outcome["reviewed"]) == ("recorded", "unreviewed")
    assert _counted(running_app, "neutral", "recorded") == before + 1
    with sqlite3.connect(running_app.data_dir / "sentiment.sqlite") as conn:
        (text,) = conn.execute("SELECT text FROM feedback WHERE id = ?", (outcome["feedback_id"],)).fetchone()
    assert text == "my words"
    # plain HTTP sends every parameter (Gradio fills in no defaults there): without the text it is refused anyway
    event, message = call_api(running_app.url, "feedback", "0" * 32, "neutral", "")  # well formed, never issued
    assert event == "error" and "no logged prediction" in str(message)
    event, message = call_api(running_app.url, "feedback", details["prediction_id"], "great", "")
    assert event == "error" and "unknown label" in str(message)
