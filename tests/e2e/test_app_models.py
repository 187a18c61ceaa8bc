"""Switching the serving model while 8 clients send requests: none fails and every answer names its model."""

from __future__ import annotations

import threading

import pytest
from conftest import ADMIN_TOKEN
from gradio_client import Client

from appserver import RunningApp, metric_value

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_switching_under_load_fails_no_request(running_app: RunningApp) -> None:
    admin = Client(running_app.url, verbose=False)
    results: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client_loop(i: int) -> None:
        client = Client(running_app.url, verbose=False)
        n = 0
        while not stop.is_set() or n < 3:
            try:
                label, details = client.predict(
                    f"client {i} says the service was great, request {n}", api_name="/predict"
                )
                assert label["label"] in {"negative", "neutral", "positive"}
                results.append(details["model"])
            except BaseException as exc:  # collect, the main thread asserts
                errors.append(exc)
            n += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        assert admin.predict("vader", ADMIN_TOKEN, api_name="/switch_model")["serving"]["name"] == "vader"
        assert admin.predict("embedded", ADMIN_TOKEN, api_name="/switch_model")["serving"]["name"] == "embedded"
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert not errors, errors[:3]
    assert len(results) >= 24 and set(results) <= {"embedded", "vader"}
    assert "vader" in results
    text = running_app.metrics()
    assert metric_value(text, "sentiment_model_info", {"model": "embedded"}) == 1
    assert metric_value(text, "sentiment_model_info", {"model": "vader"}) == 0
    served = admin.predict(api_name="/serving_model")
    assert served["serving"]["name"] == "embedded" and served["previously_served"][:2] == ["vader", "embedded"]


def test_a_wrong_token_or_a_path_is_refused_and_the_model_keeps_serving(running_app: RunningApp) -> None:
    admin = Client(running_app.url, verbose=False)
    with pytest.raises(Exception, match="wrong or missing admin token"):
        admin.predict("vader", "guess", api_name="/switch_model")
    with pytest.raises(Exception, match="is a local path"):
        admin.predict("/etc", ADMIN_TOKEN, api_name="/switch_model")
    with pytest.raises(Exception, match="cannot load"):
        admin.predict("someone/missing-model", ADMIN_TOKEN, api_name="/switch_model")
    assert admin.predict(api_name="/serving_model")["serving"]["name"] == "embedded"
