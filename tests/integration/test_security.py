"""Access control and data safety: /metrics behind a bearer token, admin-only actions, no secret anywhere a visitor
or an operator's log could see it, unfinished results never offered, hostile input never crashing the service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_TOKEN
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from app import create_app
from appserver import RunningApp
from sentiment.errors import AccessDeniedError, BatchInputError
from sentiment.inference.predictor import Predictor
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings


@pytest.fixture(scope="module")
def service(tiny_model_dir: Path, session_settings: Settings) -> SentimentService:
    predictor = Predictor.load(str(tiny_model_dir), session_settings)
    return SentimentService(session_settings, ServiceMetrics(CollectorRegistry()), predictor=predictor)


def test_metrics_can_require_a_bearer_token(settings: Settings, configured_process: Settings) -> None:
    protected = settings.model_copy(
        update={"metrics_token": SecretStr("m-token"), "model": "vader", "scheduler_enabled": False}
    )
    service = SentimentService(
        protected, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load("vader", protected)
    )
    client = TestClient(create_app(protected, service))
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic m-token"},
        {"Authorization": "m-token"},
    ):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer", headers
        assert "sentiment_predictions_total" not in refused.text
    ok = client.get("/metrics", headers={"Authorization": "Bearer m-token"})
    assert ok.status_code == 200 and "sentiment_predictions_total" in ok.text


def test_metrics_are_open_when_no_token_is_configured(settings: Settings) -> None:
    open_settings = settings.model_copy(update={"metrics_token": None, "model": "vader", "scheduler_enabled": False})
    service = SentimentService(
        open_settings, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load("vader", open_settings)
    )
    client = TestClient(create_app(open_settings, service))
    for headers in ({}, {"Authorization": "Bearer anything"}, {"Authorization": "Basic x"}):
        assert client.get("/metrics", headers=headers).status_code == 200, headers


def test_admin_actions_are_off_without_a_token(service: SentimentService) -> None:
    assert not service.admin_enabled
    with pytest.raises(AccessDeniedError, match="admin actions are off"):
        service.switch_model("vader", "anything")


def test_an_interrupted_job_leaves_nothing_that_looks_finished(settings: Settings, tiny_model_dir: Path) -> None:
    job = settings.data_dir / "batch" / "killed-job"
    job.mkdir(parents=True)
    (job / "big_scored.csv.partial").write_text("id,text,label\n1,half")
    service = SentimentService(
        settings, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), settings)
    )
    service.start()
    service.stop()
    assert not list(job.glob("*.partial"))


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), min_size=1, max_size=8))
def test_any_unicode_text_is_scored_or_refused_with_a_reason(service: SentimentService, texts: list[str]) -> None:
    """Random Unicode, control characters, NUL bytes, right-to-left marks: no unhandled exception."""
    for prediction in service.predict_many([*texts, "\u202eevil\u200f", "\x00\x01"]):
        assert prediction.ok or prediction.error in {"empty text", "text is only whitespace"}


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=2000).map(lambda t: ("text,other\n" + t).encode("utf-8", "surrogatepass")),
        st.lists(st.text(max_size=40), max_size=30).map(
            lambda rows: ("text\n" + "\n".join('"' + r.replace('"', '""') * 3 + '"' for r in rows)).encode(
                "utf-8", "surrogatepass"
            )
        ),
    )
)
def test_any_bytes_as_a_csv_are_scored_or_refused_with_a_reason(
    service: SentimentService,
    tmp_path_factory,  # type: ignore[no-untyped-def]
    content: bytes,
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "upload.csv"
    path.write_bytes(content)
    try:
        scored = service.score_file(path)
    except BatchInputError as exc:
        assert str(exc)  # a reason, never an empty message
    else:
        assert scored.path.exists() and scored.summary.rows >= 0


def test_a_10_mb_single_line_is_truncated_not_a_crash(service: SentimentService, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("text\n" + "word " * 2_000_000 + "\n")
    scored = service.score_file(path)
    assert scored.summary.scored == 1 and scored.summary.truncated == 1


@pytest.mark.e2e
@pytest.mark.slow
def test_no_secret_reaches_a_visitor_or_the_log(running_app: RunningApp) -> None:
    for path in ("/health", "/metrics", "/config", "/gradio_api/info"):
        assert ADMIN_TOKEN not in httpx.get(f"{running_app.url}{path}", timeout=10).text, path
    assert ADMIN_TOKEN not in running_app.log.read_text()
