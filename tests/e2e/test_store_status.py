"""What the running app says about its store, over HTTP and on screen (issue 27, section 4).

Three real apps (``python app.py`` in a subprocess): one as a Space without a volume or a database (its memory is
lost on every restart: one WARNING at start, ``/health``'s ``store`` object, the Monitoring tab's note), one on a
real PostgreSQL reached with a password (which appears nowhere: /health, /monitoring, /metrics, the log), one whose
PostgreSQL does not answer (predictions are served; /health and the tab say the store is unavailable and why).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium_page
from conftest import CACHE

from appserver import RunningApp, call_api, free_port, start_app
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "pw-7Hq2-not-in-any-answer"
LOST = "lost on every restart and deploy"


def _app(tmp: Path, env: dict[str, str]) -> RunningApp:
    # VADER: fastest to load (half the CPU of the embedded model's start); what is tested is the store, not the model
    return start_app(
        tmp,
        {"SENTIMENT_MODEL": "vader", "SENTIMENT_CACHE_DIR": str(CACHE), "SENTIMENT_SCHEDULER_ENABLED": "false"} | env,
    )


@pytest.fixture(scope="module")
def space_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """As a Space without storage: SPACE_ID set, no volume mounted at SENTIMENT_VOLUME_DIR, no database URL (the
    data folder is set explicitly, as tests/appserver.py does, and sits on the Space's own disk)."""
    tmp = tmp_path_factory.mktemp("space")
    app = _app(tmp, {"SPACE_ID": "someone/sentiment", "SENTIMENT_VOLUME_DIR": str(tmp / "no-volume")})
    yield app
    app.stop()


@pytest.fixture(scope="module")
def unavailable_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """A PostgreSQL address (with a password) on a port where nothing listens: the store never answers."""
    url = f"postgresql+psycopg://sentiment:{PASSWORD}@127.0.0.1:{free_port()}/sentiment"
    app = _app(
        tmp_path_factory.mktemp("unavailable"), {"SENTIMENT_DATABASE_URL": url, "SENTIMENT_DATABASE_TIMEOUT_S": "1"}
    )
    yield app
    app.stop()


def _store(app: RunningApp) -> dict[str, Any]:
    response = httpx.get(f"{app.url}/health", timeout=10)
    assert response.status_code == 200  # a store problem never makes the app unready: predictions are served
    store: dict[str, Any] = response.json()["store"]
    return store


def test_a_space_without_storage_warns_once_at_start_and_in_health(space_app: RunningApp) -> None:
    store = _store(space_app)
    assert store["backend"] == "sqlite" and store["available"] is True
    assert store["url"] == f"sqlite:///{space_app.data_dir / 'sentiment.sqlite'}"
    assert store["persistent"] is False
    assert LOST in store["warning"] and "SENTIMENT_DATABASE_URL" in store["warning"]
    warnings = [line for line in space_app.log.read_text().splitlines() if LOST in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], warnings
    event, (figures,) = call_api(space_app.url, "monitoring")  # the API says what the tab says
    assert event == "complete" and figures["store"]["warning"] == store["warning"]


def test_a_database_password_appears_in_no_answer_and_no_log(postgres: Any, tmp_path: Path) -> None:
    """A real PostgreSQL (trust authentication: the password is sent in the address, never checked) behind an
    address with a password: the store works and persists, and the password is in none of /health, /monitoring,
    /metrics or the app's log, which name the address with *** instead."""
    url = postgres.create_database().replace("postgres@", f"postgres:{PASSWORD}@", 1)
    app = _app(tmp_path, {"SPACE_ID": "someone/sentiment", "SENTIMENT_DATABASE_URL": url})
    try:
        label, _ = call_api(app.url, "predict", "a lovely day")
        assert label == "complete"
        # the log writer waits a moment for more rows before it writes (LINGER_S): the row is written, not waiting
        store = wait_until(lambda: _store(app), "the logged row written", accept=lambda s: s["waiting_rows"] == 0)
        assert store == {
            "backend": "postgresql",
            "url": url.replace(PASSWORD, "***"),
            "available": True,
            "error": None,
            "persistent": True,
            "warning": None,
            "waiting_rows": 0,
        }
        answers = [httpx.get(f"{app.url}{path}", timeout=30).text for path in ("/health", "/monitoring", "/metrics")]
    finally:
        app.stop()
    assert all(PASSWORD not in text for text in answers)
    assert PASSWORD not in app.log.read_text()


def test_an_unreachable_store_is_reported_and_predictions_are_served(unavailable_app: RunningApp) -> None:
    event, _ = call_api(unavailable_app.url, "predict", "still answered")
    assert event == "complete"
    store = _store(unavailable_app)
    assert store["backend"] == "postgresql" and store["available"] is False
    assert store["error"] and "refused" in store["error"].lower()
    assert store["persistent"] is True and store["warning"] is None
    assert PASSWORD not in httpx.get(f"{unavailable_app.url}/health", timeout=10).text
    assert PASSWORD not in unavailable_app.log.read_text()


@pytest.mark.browser
def test_the_monitoring_tab_shows_the_store_note_first(
    space_app: RunningApp, unavailable_app: RunningApp, tmp_path: Path
) -> None:
    """The note sits above the tab's answer: the Space without storage says its memory is lost and how to keep it;
    the app whose store is down says so, with the reason, and that predictions are served."""
    from playwright.sync_api import expect

    with chromium_page(tmp_path / "chromium") as page:
        for app, words in (
            (space_app, [LOST, "SENTIMENT_DATABASE_URL"]),
            (unavailable_app, ["The store is unavailable:", "predictions are served"]),
        ):
            page.goto(app.url, wait_until="load")
            page.get_by_role("tab", name="Monitoring").click()
            note = page.locator("#store-note")
            for text in words:
                expect(note).to_contain_text(text)
            box, status = note.bounding_box(), page.locator("#monitoring-status").bounding_box()
            assert box is not None and status is not None and box["y"] < status["y"]  # above the answer
        expect(note).not_to_contain_text(PASSWORD)
