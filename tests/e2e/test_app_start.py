"""What the owner sees of a fresh start: a log with only the app's own lines, no drift verdict before a check, and
an expected refusal that is counted and logged in one line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from appserver import RunningApp, metric_value, start_app
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# "2026-11-29 18:13:25,430 INFO app: ..." from the app's own loggers (app, sentiment.*, scheduler.*) and nothing else.
OWN_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING) (app|sentiment|scheduler)(\.\w+)*: ")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + bytes(64)


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    # Jobs scheduled as in production (first drift check after SENTIMENT_DRIFT_INTERVAL_S): none runs during the test.
    # An empty cache, as on a new Space: the adapter is merged at start, the path where peft used to warn. A fresh
    # interpreter: what libraries print while imported is part of what this file checks.
    folder = tmp_path_factory.mktemp("fresh")
    app = start_app(folder, {"SENTIMENT_MODEL": "auto", "SENTIMENT_CACHE_DIR": str(folder / "cache")}, fresh=True)
    yield app
    app.stop()


def test_before_the_first_drift_check_the_status_is_no_verdict_never_ok(fresh_app: RunningApp) -> None:
    """``sentiment_drift_status`` is -1 (no verdict) until a check has run: 0 would tell the dashboards and the
    alert rules "ok" about traffic nobody looked at. Fails if the gauge starts at its default 0."""
    text = fresh_app.metrics()
    assert "sentiment_drift_status -1.0" in text.splitlines()
    assert metric_value(text, "sentiment_drift_window_size") == 0


def test_a_refused_upload_is_counted_as_bad_file_and_logged_in_one_line(fresh_app: RunningApp, tmp_path: Path) -> None:
    """A PNG sent to ``/score_csv`` (under a .png name and under a .csv name) is refused with a message that says
    what to upload, counted in ``sentiment_errors_total{reason="bad_file"}``, and logged as one line without a
    traceback: the caller's mistake is not the app's error. Fails if Gradio's extension check refuses the file before
    the service sees it (no count, a traceback in the log)."""
    before = metric_value(fresh_app.metrics(), "sentiment_errors_total", {"reason": "bad_file"})
    client = Client(fresh_app.url, verbose=False)
    for name in ("photo.png", "photo.csv"):
        (tmp_path / name).write_bytes(PNG)
        with pytest.raises(Exception, match="not a text file"):
            client.predict(handle_file(str(tmp_path / name)), None, api_name="/score_csv")
    assert metric_value(fresh_app.metrics(), "sentiment_errors_total", {"reason": "bad_file"}) == before + 2
    log = wait_until(
        fresh_app.log.read_text, "both refusals in the log", accept=lambda t: t.count("refused a file (bad_file)") == 2
    )
    assert "Traceback" not in log


def test_a_clean_start_prints_only_the_apps_own_lines(fresh_app: RunningApp) -> None:
    """No third-party warnings (transformers' deprecations through peft), no scheduler chatter, no tracebacks:
    every line up to "serving" is one of the app's own log lines."""
    log = wait_until(
        fresh_app.log.read_text, "the serving line", accept=lambda t: "sentiment.service.serving: serving" in t
    )
    start = log[: log.index("\n", log.index("sentiment.service.serving: serving"))].splitlines()
    foreign = [line for line in start if not OWN_LINE.match(line)]
    assert not foreign, foreign
