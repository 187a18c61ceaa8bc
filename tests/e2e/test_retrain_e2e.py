"""The retrain loop over ``gradio_client`` on a real app (``python app.py`` serving a tiny model, its own process):
labels from the review sample, then ``/retrain_start``, ``/retrain_status`` until the job has finished, the
``/challenger_report``, ``/promote`` (``/health`` then names the new model) and ``/rollback`` (``/health`` names the
configured one again); and in real Chromium, the Retrain tab runs the same loop with its buttons."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import SCREENSHOTS, chromium_page
from conftest import ADMIN_TOKEN, CACHE
from gradio_client import Client

from appserver import RunningApp, start_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
LABELS = ("negative", "neutral", "positive")
WORDS = {"negative": "worst service ever", "neutral": "the package arrived on tuesday", "positive": "i love this"}


@pytest.fixture(scope="module")
def retrain_app(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[RunningApp]:
    """The app serving a tiny model, drawing every prediction into the review sample, retraining from 30 labels in
    4 steps (the loop is under test here, not the model's quality)."""
    app = start_app(
        tmp_path_factory.mktemp("retrain-app"),
        {
            "SENTIMENT_MODEL": str(tiny_model_dir),
            "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
            "SENTIMENT_CACHE_DIR": str(CACHE),
            "SENTIMENT_SCHEDULER_ENABLED": "false",
            "SENTIMENT_REFERENCE_PRODUCTION_ROWS": "0",
            "SENTIMENT_REVIEW_RATE": "1",
            "SENTIMENT_REVIEW_DAILY_CAP": "1000000",
            "SENTIMENT_RETRAIN_MIN_LABELS": "30",
            "SENTIMENT_RETRAIN_MAX_STEPS": "4",
            "SENTIMENT_RETRAIN_BATCH_SIZE": "8",
            "SENTIMENT_RETRAIN_MAX_LENGTH": "16",
            "SENTIMENT_RETRAIN_MIX_RATIO": "0.25",
        },
    )
    yield app
    app.stop()


def _label_sample(app: RunningApp, client: Client, n: int) -> None:
    """Send ``n`` texts, wait until the log's writer has drawn them into the sample, and label each."""
    tag = uuid.uuid4().hex[:8]
    texts = {f"{WORDS[LABELS[i % 3]]} {tag} {i}": LABELS[i % 3] for i in range(n)}
    assert httpx.post(f"{app.url}/predict", json={"inputs": list(texts)}, timeout=120).status_code == 200
    deadline = time.monotonic() + 60
    while True:
        rows = client.predict(ADMIN_TOKEN, "waiting", 1000, api_name="/review_sample")["rows"]
        if set(texts) <= {row["text"] for row in rows}:
            break
        assert time.monotonic() < deadline, "the sampled rows did not reach the store within 60 s"
        time.sleep(0.2)  # polling a condition (the writer thread's commit), bounded by the deadline
    for row in rows:
        client.predict(ADMIN_TOKEN, row["id"], texts[row["text"]], api_name="/review_label")


def _health_model(app: RunningApp) -> str:
    return str(httpx.get(f"{app.url}/health", timeout=10).json()["model"]["name"])


def test_labels_retrain_report_promote_and_roll_back_over_the_api(retrain_app: RunningApp) -> None:
    """Below the minimum ``/retrain_start`` refuses with the number of labels still needed; with 36 labels the job
    finishes; the report holds both models on the held-out labels and on vader_tweets with a verdict; ``/promote``
    serves the challenger (``/health`` names it, the lineage row names the run and the configured base); a second
    ``/rollback`` target that never served is refused; ``/rollback`` serves the configured model again;
    ``/publish_challenger`` says it cannot reach the Hub (offline) and uploads nothing."""
    client = Client(retrain_app.url, verbose=False)
    configured = _health_model(retrain_app)
    _label_sample(retrain_app, client, 12)
    with pytest.raises(Exception, match="label 18 more"):
        client.predict(ADMIN_TOKEN, api_name="/retrain_start")
    _label_sample(retrain_app, client, 24)
    started = client.predict(ADMIN_TOKEN, api_name="/retrain_start")
    assert started["state"] in {"preparing", "training", "judging", "finished"}
    deadline = time.monotonic() + 120
    while (status := client.predict(ADMIN_TOKEN, api_name="/retrain_status"))["running"]:
        assert time.monotonic() < deadline, f"the retrain job did not finish within 120 s: {status}"
        time.sleep(0.5)  # polling the job's state over the API, as a program would; bounded by the deadline
    assert status["state"] == "finished", status
    assert status["total_steps"] == 4 and status["challenger"]["rows"]["production_train"] > 0
    report = client.predict(ADMIN_TOKEN, api_name="/challenger_report")
    assert report["verdict"] in {"promote", "keep"} and report["reason"].startswith(report["verdict"])
    assert report["held_out"]["challenger"]["n"] == status["challenger"]["rows"]["held_out"]
    assert report["forgetting_dataset"] == "vader_tweets" and report["forgetting"]["champion"]["n"] > 0
    promoted = client.predict(ADMIN_TOKEN, True, api_name="/promote")
    assert _health_model(retrain_app) == promoted["serving"]["name"] != configured
    lineage = promoted["lineage"]
    assert (lineage["action"], lineage["model"]) == ("promote", status["challenger"]["run"])
    assert lineage["metrics"]["verdict"] == report["verdict"] and len(lineage["adapter_digest"]) == 64
    with pytest.raises(Exception, match="has not served here"):
        client.predict(ADMIN_TOKEN, "vader", api_name="/rollback")
    back = client.predict(ADMIN_TOKEN, api_name="/rollback")
    assert back["lineage"]["action"] == "rollback"
    assert _health_model(retrain_app) == back["serving"]["name"] == configured
    with pytest.raises(Exception, match=r"HF_HUB_OFFLINE is set\. Nothing was uploaded"):  # offline: it says so
        client.predict(ADMIN_TOKEN, "me/sentiment", api_name="/publish_challenger")


@pytest.fixture
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_page(tmp_path_factory.mktemp("chromium-retrain")) as page:
        yield page


@pytest.mark.browser
def test_the_retrain_tab_shows_progress_and_the_verdict_and_promotes(page: Any, retrain_app: RunningApp) -> None:
    """The owner gives the token and clicks Start: the status refreshes by itself (the tab's timer) until it reads
    "Finished: step 4 of 4, loss ..." with the challenger's verdict and reason (the verdict said once) and both
    models' accuracy on the window's traffic (or why the review sample cannot give it); with the override ticked,
    Promote serves the challenger: the tab and the page's model line name its run, never its path on the server, and
    ``/health`` names it."""
    from browser import LONG
    from playwright.sync_api import expect

    client = Client(retrain_app.url, verbose=False)
    _label_sample(retrain_app, client, 30)
    page.goto(retrain_app.url, wait_until="load", timeout=LONG)
    page.get_by_role("tab", name="Retrain").click()
    page.locator("#retrain-token input").fill(ADMIN_TOKEN)
    page.locator("#retrain-start").click()
    status = page.locator("#retrain-status")
    expect(status).to_contain_text("Finished: step 4 of 4, loss")
    expect(status).to_contain_text("Challenger ")
    verdict = client.predict(ADMIN_TOKEN, api_name="/retrain_status")
    reason = verdict["reason"]
    assert reason.startswith(f"{verdict['verdict']}: ")
    expect(status).to_contain_text(f"{verdict['verdict']}: {reason.split(': ', 1)[1]}")
    expect(status).not_to_contain_text(f"{verdict['verdict']}. {verdict['verdict']}")
    # each model's accuracy on the traffic, or why the review sample cannot give it (after the "...traffic: ")
    expect(status).to_contain_text(verdict["window"].split(": ", 1)[1])
    page.locator("#retrain-force input").check()
    page.locator("#retrain-promote").click()
    run = verdict["challenger"]["run"]
    expect(status).to_contain_text(f"Serving {run} now")  # by its run name, not its path on the server
    expect(page.locator("#model-info")).to_contain_text(run)  # the header, without a reload
    expect(page.locator("#model-info")).not_to_contain_text(str(retrain_app.data_dir))
    page.screenshot(path=str(SCREENSHOTS / "retrain-tab.png"), full_page=True)
    assert _health_model(retrain_app) == client.predict(api_name="/serving_model")["serving"]["name"]
    assert client.predict(api_name="/serving_model")["spec"] == run
