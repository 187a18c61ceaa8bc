"""With the store unreachable from the start, the app serves predictions and its monitoring figures say so: the
store-held figures are null, the store object says unavailable and why (no password), and the rows waiting in memory
are counted, in the figures and in the Monitoring tab's note. Fails if any store read in the figures
escapes as an error (the /monitoring endpoint and route would answer 500)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres import free_port
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.monitoring_figures import monitoring_figures
from sentiment.web.ui.store_note import store_note
from waiting import wait_until


@pytest.fixture
def service(settings: Settings) -> Iterator[SentimentService]:
    down = settings.model_copy(
        update={
            "model": "vader",
            "database_url": SecretStr(f"postgresql+psycopg://owner:s3cret@127.0.0.1:{free_port()}/sentiment"),
            "database_timeout_s": 1.0,
        }
    )
    service = SentimentService(down, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load("vader", down))
    service.start()
    yield service
    service.stop()


def test_the_figures_say_the_store_is_unavailable_and_count_the_waiting_rows(service: SentimentService) -> None:
    assert [p.label for p in service.predict_many(["a lovely day", "an awful day", "a day"])] == [
        "positive",
        "negative",
        "neutral",
    ]
    log = service.monitoring.log
    assert log is not None
    wait_until(lambda: log.counters.buffered, "the rows to be held for the store", accept=lambda n: n == 3)
    figures = monitoring_figures(service)
    store = figures["store"]
    assert store["available"] is False and "refused" in store["error"]
    assert store["waiting_rows"] == 3
    assert "s3cret" not in str(figures) and "***" in store["url"]
    assert figures["logged"] is None and figures["feedback"] is None and figures["drift_history"] is None
    note = store_note(store)  # the Monitoring tab's note, from the same status
    assert "unavailable" in note and "3 log rows waiting" in note and "s3cret" not in note
