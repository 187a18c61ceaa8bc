"""The Monitoring tab's store note (sentiment/web/ui/store_note.py) in words, from ``SentimentService.store_status()``:
nothing for a healthy, persistent store; the reason and "predictions are served" (with the log rows waiting, when the
status carries them) for an unavailable one; the persistence warning as it is."""

from __future__ import annotations

from sentiment.web.ui.store_note import store_note

HEALTHY = {
    "backend": "postgresql",
    "url": "postgresql+psycopg://sentiment:***@db:5432/sentiment",
    "available": True,
    "error": None,
    "persistent": True,
    "warning": None,
}


def test_a_healthy_persistent_store_says_nothing() -> None:
    assert store_note(HEALTHY) == ""


def test_an_unavailable_store_says_why_and_that_predictions_are_served() -> None:
    down = HEALTHY | {"available": False, "error": "connection refused"}
    assert store_note(down) == (
        "**The store is unavailable: connection refused; predictions are served.** "
        "(store: postgresql at `postgresql+psycopg://sentiment:***@db:5432/sentiment`)"
    )
    assert "1,204 log rows waiting" in store_note(down | {"waiting_rows": 1204})
    assert "1 log row waiting" in store_note(down | {"waiting_rows": 1})


def test_a_store_that_will_not_survive_a_restart_shows_its_warning() -> None:
    note = store_note(HEALTHY | {"persistent": False, "warning": "Monitoring memory ... is lost on every restart."})
    assert note == "**Warning:** Monitoring memory ... is lost on every restart."
