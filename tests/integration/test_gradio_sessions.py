"""The lazy per-session config (sentiment/web/gradio_sessions.py): the eager configs, built only on demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio.state_holder import SessionState, StateHolder
from prometheus_client import CollectorRegistry

from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web import gradio_sessions
from sentiment.web.ui.blocks import build_blocks


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> gr.Blocks:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), model="vader", scheduler_enabled=False)
    assert gradio_sessions.install()
    return build_blocks(SentimentService(settings, ServiceMetrics(CollectorRegistry())))


def eager(demo: gr.Blocks) -> SessionState:
    """A session as Gradio builds it without the patch."""
    state = SessionState.__new__(SessionState)
    gradio_sessions.EAGER_INIT(state, demo)
    return state


def by_id(configs: Iterator[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {config["id"]: config for config in configs}


def test_a_new_session_builds_no_component_config(demo: gr.Blocks, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each API call without a session hash is a new session: it must not pay for the whole UI's config."""
    calls = []
    original = gr.blocks.BlocksConfig.config_for_block
    counting = staticmethod(lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(gr.blocks.BlocksConfig, "config_for_block", counting)
    holder = StateHolder()
    holder.set_blocks(demo)
    for i in range(200):
        holder[f"api-call-{i}"]
    assert calls == []
    assert len(eager(demo).config_values) > 50  # what Gradio alone builds per session (ids of ~90 blocks)
    assert len(calls) > 50


def test_the_lazy_session_yields_exactly_the_eager_configs(demo: gr.Blocks) -> None:
    """Deep links read ``components``: the lazy session must give the same configs, before and after updates."""
    lazy = SessionState(demo)
    reference = eager(demo)
    assert by_id(lazy.components) == by_id(reference.components)

    column = next(b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Text column")
    updated = gr.Dropdown(choices=["text", "tweet"], value="tweet", label="Text column", allow_custom_value=True)
    for state in (lazy, reference):
        state[column._id] = updated
        state._update_value_in_config(column._id, "tweet")
    lazy_configs, eager_configs = by_id(lazy.components), by_id(reference.components)
    assert lazy_configs == eager_configs
    assert lazy_configs[column._id]["props"]["value"] == "tweet"


def test_an_untested_gradio_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gradio_sessions, "_INSTALLED", False)
    monkeypatch.setattr(gr, "__version__", "99.0.0")
    assert gradio_sessions.install() is False


def test_the_app_bounds_the_sessions_it_keeps(tmp_path: Path) -> None:
    """Gradio keeps 10,000 sessions by default; under API traffic each call is one, so the app sets the bound."""
    from starlette.routing import Mount

    from app import create_app

    settings = Settings(data_dir=tmp_path, model="vader", scheduler_enabled=False, session_capacity=50)
    app = create_app(settings, SentimentService(settings, ServiceMetrics(CollectorRegistry())))
    gradio_app = next(route.app for route in app.routes if isinstance(route, Mount))
    assert gradio_app.state_holder.capacity == 50  # type: ignore[attr-defined]
