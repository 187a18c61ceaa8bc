"""Reliability of the real app (``python app.py`` in a subprocess) over plain HTTP, as any client sees it: a full
queue answers "busy" at once, a model that cannot load leaves the app up and saying why, a process killed in the
middle of a CSV job leaves nothing that looks finished, restarts keep the history, and files are not kept.

An app start costs about ten seconds of CPU, so the module starts few: one app (its first life) serves the queue and
retention tests and then the restart test, which stops it and starts it twice more on the same data folder; one
subprocess whose model folder is missing; the corrupt-adapter case runs the same app in-process.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, CACHE

from appserver import RunningApp, call_api, metric_value, read_events, start_app, upload
from sentiment.models.registry import EMBEDDED_DIR
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUEUE_SIZE = 2
RETENTION_S = 8  # long enough that an upload outlives the call that scores it on a busy machine
BASE_ENV = {"SENTIMENT_CACHE_DIR": str(CACHE), "SENTIMENT_SCHEDULER_ENABLED": "false"}
# The app of this module: a queue of two, one event of a kind at a time, files kept eight seconds.
MAIN_ENV = {
    **BASE_ENV,
    "SENTIMENT_MODEL": "embedded",
    "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN,
    "SENTIMENT_QUEUE_SIZE": str(QUEUE_SIZE),
    "SENTIMENT_CONCURRENCY_LIMIT": "1",
    "SENTIMENT_BATCH_RETENTION_S": str(RETENTION_S),
}


def _wait(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningApp]]:
    """Started side by side: ``main`` (``MAIN_ENV``) and ``missing-folder`` (told to serve a model folder that does
    not exist), each once its model has loaded or failed to."""
    configs = {
        "main": (MAIN_ENV, True),
        "missing-folder": (
            {**BASE_ENV, "SENTIMENT_MODEL": str(tmp_path_factory.getbasetemp() / "no-such-model")},
            False,
        ),
    }

    def start(name: str) -> RunningApp:
        env, ready = configs[name]
        app = start_app(tmp_path_factory.mktemp(name), env, ready=ready, log_name="app-1.log")
        # the port opens while the model loads in the background: wait until loading has ended, one way or another
        settled = _wait(lambda: httpx.get(f"{app.url}/health", timeout=5).json()["status"] != "loading", 60)
        assert settled, f"{name}: the app still says 'loading' a minute later"
        return app

    with ThreadPoolExecutor(len(configs)) as pool:
        started = dict(zip(configs, pool.map(start, configs), strict=True))
    yield started
    for app in started.values():
        app.stop()


@pytest.fixture(scope="module")
def main_app(apps: dict[str, RunningApp]) -> RunningApp:
    return apps["main"]


def test_a_flood_beyond_the_queue_is_refused_at_once_as_busy_and_every_accepted_call_succeeds(
    main_app: RunningApp,
) -> None:
    """Twelve simultaneous calls that each take about a second against a queue of two: the calls that do not fit
    are answered at once (well under the time one call takes) with HTTP 503, ``Retry-After`` and a detail that says
    the app is busy and to retry (``sentiment/web/busy.py`` around Gradio's "Queue is full"), never left hanging; every
    accepted call completes with its full result, and exactly the accepted calls were scored
    (``sentiment_predictions_total``). This is how Gradio 6 reports a full queue: the ``POST /gradio_api/call/<api>``
    itself is refused (``queueing.Queue.push`` -> ``routes.queue_join_helper``); no event is created. Fails if the
    queue loses its ``max_size`` (``SENTIMENT_QUEUE_SIZE``): nothing is refused."""
    lines = [f"the flight was delayed again and the staff were rude, number {i} " * 3 for i in range(128)]
    before = metric_value(main_app.metrics(), "sentiment_predictions_total")

    async def flood() -> list[tuple[httpx.Response, float]]:
        async with httpx.AsyncClient(base_url=main_app.url, timeout=60) as client:

            async def post() -> tuple[httpx.Response, float]:
                started = time.perf_counter()
                response = await client.post("/gradio_api/call/predict_batch", json={"data": ["\n".join(lines)]})
                return response, time.perf_counter() - started

            return await asyncio.gather(*(post() for _ in range(12)))

    started = time.perf_counter()
    answers = asyncio.run(flood())
    accepted = [r.json()["event_id"] for r, _ in answers if r.status_code == 200]
    refused = [(r, seconds) for r, seconds in answers if r.status_code != 200]
    results = [read_events(main_app.url, "predict_batch", event_id) for event_id in accepted]
    all_done_s = time.perf_counter() - started

    assert len(accepted) >= QUEUE_SIZE and len(refused) >= 12 - 2 * QUEUE_SIZE - 1, [r.status_code for r, _ in answers]
    for response, seconds in refused:
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert detail.startswith("The app is busy") and f"Queue is full. Max size is {QUEUE_SIZE}" in detail
        assert "Retry" in detail and int(response.headers["retry-after"]) > 0
        assert seconds < min(5.0, all_done_s / 2)  # answered at once, not after the queue drained
    for event, data in results:
        assert event == "complete", data
        assert len(data[0]["data"]) == len(lines)
    after = metric_value(main_app.metrics(), "sentiment_predictions_total")
    assert after - before == len(accepted) * len(lines)


def test_uploads_and_results_are_deleted_after_the_retention_with_no_further_traffic(
    main_app: RunningApp, tmp_path: Path
) -> None:
    """A CSV uploaded and scored through the API: the upload (Gradio's cache), the result offered for download
    (Gradio's cache) and the scored file in the job folder all disappear once older than
    ``SENTIMENT_BATCH_RETENTION_S`` (8 s here), with no further request to trigger it. Fails if the Blocks lose
    ``delete_cache`` (uploads stay) or the service stops sweeping job folders on a timer (the scored file stays
    until the next job)."""
    path = tmp_path / "private-reviews.csv"
    path.write_text("id,text\n1,my private words about my doctor\n2,another private sentence\n")
    event, data = call_api(main_app.url, "score_csv", upload(main_app.url, path), "text")
    assert event == "complete" and data[1]["scored"] == 2
    gradio_cache, jobs = main_app.data_dir / "gradio", main_app.data_dir / "batch"

    def kept() -> list[Path]:
        return [p for p in [*gradio_cache.rglob("private-reviews*"), *jobs.rglob("private-reviews*")] if p.is_file()]

    names = sorted(p.name for p in kept())
    assert names == ["private-reviews.csv", "private-reviews_scored.csv", "private-reviews_scored.csv"], names
    assert _wait(lambda: not kept(), timeout=max(60, 6 * RETENTION_S)), kept()


# --- a model that cannot load --------------------------------------------------------------------------------------
def _says_why(get: Callable[[str], httpx.Response], call: Callable[..., tuple[str, Any]], reason: str) -> None:
    health = get("/health")
    body = health.json()
    assert health.status_code == 503 and body["status"] == "failed" and body["ready"] is False
    assert re.search(reason, body["error"]), body["error"]

    event, data = call("predict", "is anybody there?")
    assert event == "error" and data["error"].startswith("no model is serving: "), data
    assert re.search(reason, data["error"]), data

    event, markdown = call("model_info")
    assert event == "complete" and markdown[0].startswith("**Model**: failed - "), markdown
    assert re.search(reason, markdown[0]), markdown

    metrics = get("/metrics").text
    assert metric_value(metrics, "sentiment_model_ready") == 0
    assert metric_value(metrics, "sentiment_errors_total", {"reason": "model_unavailable"}) >= 1


def test_a_missing_model_folder_leaves_the_app_up_and_every_surface_saying_why(apps: dict[str, RunningApp]) -> None:
    """``SENTIMENT_MODEL`` names a folder that does not exist: ``python app.py`` still starts and answers;
    ``/health`` is 503 with status "failed" and the reason; a prediction over the API gets an error event with
    that reason (not a hang, not an opaque "internal error"); the UI's model line says "failed" and why;
    ``/metrics`` shows the model not ready and counts the refused request. Fails if a load error escapes the loader
    thread (the app would say "loading" forever) or the reason is dropped on the way."""
    app = apps["missing-folder"]
    _says_why(
        lambda path: httpx.get(f"{app.url}{path}", timeout=10),
        lambda api, *data: call_api(app.url, api, *data, timeout=30),
        r"model folder \S+no-such-model does not exist",
    )


@pytest.mark.parametrize("damage", ["weights-cut-in-half", "config-not-json"])
def test_a_corrupt_adapter_leaves_the_app_up_and_every_surface_naming_the_model_and_why(
    tmp_path: Path, damage: str
) -> None:
    """``SENTIMENT_MODEL`` names a copy of the embedded adapter with its weights file cut in half (an interrupted
    download) or its config not JSON: the same app (``create_app``, in-process, over HTTP through the ASGI test
    client) stays up, and ``/health``, the API and the UI's model line say "failed", naming the model folder and
    the error. Fails if a load error escapes the loader thread, or (weights) if the reason stops naming the model:
    the safetensors error alone does not say which model it concerns (``models.load_local`` wraps it)."""
    from fastapi.testclient import TestClient
    from prometheus_client import CollectorRegistry

    from app import create_app
    from sentiment.service.metrics import ServiceMetrics
    from sentiment.service.serving import SentimentService
    from sentiment.settings import Settings

    corrupt = tmp_path / "adapter"
    shutil.copytree(EMBEDDED_DIR, corrupt)
    if damage == "weights-cut-in-half":
        weights = corrupt / "adapter_model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        reason = rf"cannot load the model in {re.escape(str(corrupt))}: SafetensorError: .*header"
    else:
        (corrupt / "adapter_config.json").write_text("{not json")
        reason = rf"cannot load the model in {re.escape(str(corrupt))}: JSONDecodeError"
    settings = Settings(
        data_dir=tmp_path / "data", cache_override=CACHE, model=str(corrupt), scheduler_enabled=False
    ).model_copy(update={"ready_timeout_s": 5})
    service = SentimentService(settings, ServiceMetrics(CollectorRegistry()))
    with TestClient(create_app(settings, service)) as client:
        assert _wait(lambda: client.get("/health").json()["status"] != "loading", 60)

        def call(api: str, *data: object) -> tuple[str, Any]:
            event_id = client.post(f"/gradio_api/call/{api}", json={"data": list(data)}).json()["event_id"]
            event = ""
            for line in client.get(f"/gradio_api/call/{api}/{event_id}").text.splitlines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in {"complete", "error"}:
                    return event, json.loads(line.split(":", 1)[1])
            raise AssertionError(f"no complete or error event from /{api}")

        _says_why(client.get, call, reason)


# --- kill and restart on the same data folder ------------------------------------------------------------------
def _history(app: RunningApp) -> list[dict[str, object]]:
    event, data = call_api(app.url, "evaluations", 50)
    assert event == "complete", data
    return list(data[0])


def _logged(app: RunningApp) -> int:
    event, data = call_api(app.url, "monitoring")
    assert event == "complete", data
    return int(data[0]["logged"])


def test_a_restart_keeps_history_and_a_kill_mid_csv_leaves_nothing_that_looks_finished(
    main_app: RunningApp, tmp_path: Path
) -> None:
    """Three lives of the module's app on one data folder (its first life is the one the tests above used).

    1. Score 20 texts, run an evaluation, note what the prediction log holds, score one more text and stop
       (SIGTERM) at once.
    2. Restart: the evaluation (same id, same figures) and every logged prediction, the last one included, are
       there, through the API. Start scoring a 20,000-row CSV through the API and SIGKILL the process while it
       runs: no ``*_scored.csv`` exists anywhere (job folder or Gradio's cache), only the unfinished ``.partial``.
    3. Restart: the ``.partial`` was removed before the app said it was ready; the app serves; history is intact.

    Fails if results are written in place instead of ``.partial`` + rename, if the start-up clean-up is removed,
    if stopping loses queued log rows, or if either store lives anywhere but the data folder."""
    first = main_app
    data_dir = first.data_dir
    try:
        assert _history(first) == []
        event, table = call_api(first.url, "predict_batch", "\n".join(f"review {i}: lovely stay" for i in range(20)))
        assert event == "complete" and len(table[0]["data"]) == 20
        event, report = call_api(first.url, "evaluate", "embedded", "vader_tweets", "test", 60, 7)
        assert event == "complete", report
        evaluation = report[0]
        logged = _logged(first)  # flushes the log: everything so far is written
        assert logged >= 20
        event, _ = call_api(first.url, "predict", "the very last text before the stop")
        assert event == "complete"
    finally:
        first.stop()
    assert first.process.returncode is not None

    second = start_app(data_dir, MAIN_ENV, log_name="app-2.log")
    try:
        history = _history(second)
        assert [(h["id"], h["model"], h["dataset"], h["n"], h["seed"]) for h in history] == [
            (evaluation["id"], "embedded", "vader_tweets", 60, 7)
        ]
        assert history[0]["macro_f1"] == pytest.approx(evaluation["metrics"]["macro_f1"])
        assert _logged(second) == logged + 1

        big = tmp_path / "big.csv"
        with big.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "text"])
            writer.writerows([i, f"row {i}: the room was clean but the staff were slow"] for i in range(20_000))
        response = httpx.post(
            f"{second.url}/gradio_api/call/score_csv", json={"data": [upload(second.url, big), "text"]}, timeout=60
        )
        response.raise_for_status()
        jobs = data_dir / "batch"
        partial = wait_until(lambda: next(jobs.glob("*/big_scored.csv.partial"), None), "the job to start")
        # Kill once the first chunk is written: mid-job, with rows on disk but most of the file still to score.
        wait_until(lambda: partial.stat().st_size > len("id,text\n"), "the first scored chunk", timeout=120)
        second.process.kill()
        second.process.wait(10)
    finally:
        second.stop()
    leftovers = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("big_scored*"))
    assert len(leftovers) == 1 and leftovers[0].endswith("/big_scored.csv.partial"), leftovers

    third = start_app(data_dir, MAIN_ENV, log_name="app-3.log")
    try:
        assert not list(data_dir.rglob("big_scored*"))  # removed before /health said ready
        assert httpx.get(f"{third.url}/health", timeout=10).json()["status"] == "ready"
        event, _ = call_api(third.url, "predict", "alive again")
        assert event == "complete"
        assert [h["id"] for h in _history(third)] == [evaluation["id"]]
        assert _logged(third) >= logged + 2  # and whatever the killed job logged before it died
    finally:
        third.stop()
    assert "removed 1 unfinished scoring result" in (data_dir / "app-3.log").read_text()
