"""Gradio's idle queue polling (sentiment/web/queue_polling.py): the pinned Gradio has the two intervals the app
sets, the app sets them from SENTIMENT_QUEUE_POLL_S, and an app built that way still answers its queued events."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.queue_polling import PROGRESS_POLL_S, set_queue_polling


def test_the_pinned_gradios_queue_takes_both_intervals() -> None:
    """Fails first when a Gradio upgrade renames the queue's polling attributes (the app would then keep Gradio's
    1 ms polling, with a warning)."""
    with gr.Blocks() as demo:
        gr.Textbox()
    demo.queue()
    assert demo._queue.sleep_when_free == 0.001  # Gradio's own on Linux: what the setting replaces
    assert set_queue_polling(demo, 0.02)
    assert (demo._queue.sleep_when_free, demo._queue.progress_update_sleep_when_free) == (0.02, PROGRESS_POLL_S)
    assert set_queue_polling(demo, 0.5) and demo._queue.progress_update_sleep_when_free == 0.5


def test_a_later_queue_call_builds_a_new_queue_with_gradios_intervals() -> None:
    """``Blocks.queue()`` builds a new queue: the intervals must be set after it, as ``create_app`` does."""
    with gr.Blocks() as demo:
        gr.Textbox()
    demo.queue()
    assert set_queue_polling(demo, 0.005)
    demo.queue(max_size=8)
    assert demo._queue.sleep_when_free == 0.001 and demo._queue.max_size == 8


def test_the_setting_is_a_positive_interval_of_at_most_a_second(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).queue_poll_s == 0.005
    for bad in (0, -1, 2):
        with pytest.raises(ValidationError, match="queue_poll_s"):
            Settings(data_dir=tmp_path, queue_poll_s=bad)


def test_an_app_polling_every_50_ms_still_answers_its_queued_events(tmp_path: Path) -> None:
    """The app built by ``create_app`` with SENTIMENT_QUEUE_POLL_S=0.05 serves a Gradio event through its queue (the
    two-step /gradio_api/call API) with the full result."""
    from app import create_app

    settings = Settings(data_dir=tmp_path, model="vader", scheduler_enabled=False, queue_poll_s=0.05)
    service = SentimentService(settings, ServiceMetrics(CollectorRegistry()))
    app = create_app(settings, service)
    (blocks,) = [route.app.get_blocks() for route in app.routes if hasattr(getattr(route, "app", None), "get_blocks")]
    assert blocks._queue.sleep_when_free == 0.05  # the mounted UI's queue, not a copy
    with TestClient(app) as client:
        assert service.wait_ready(60)
        started = client.post("/gradio_api/call/predict", json={"data": ["what a lovely day"]})
        assert started.status_code == 200, started.text
        stream = client.get(f"/gradio_api/call/predict/{started.json()['event_id']}").text
    assert "event: complete" in stream and "positive" in stream
