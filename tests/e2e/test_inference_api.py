"""The lean inference API (``sentiment/web/inference_api.py``) over real HTTP: the real ``huggingface_hub``
``InferenceClient`` and a plain httpx client against the running app, its 422s, its per-request limit, and its
503 + ``Retry-After`` when the in-flight bound is full."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import httpx2
import pytest
import uvicorn
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import _http as hub_http

from app import create_app
from appserver import RunningApp, free_port, metric_value
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.results import BatchResult
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from waiting import wait_until

LONG = "the service was slow and the food was cold " * 200  # far over any model's token limit


@pytest.fixture
def loopback_only() -> Iterator[list[str]]:
    """Let ``huggingface_hub`` reach loopback and nothing else, and record every URL it requests.

    ``HF_HUB_OFFLINE=1`` (set for every test) makes the library refuse all requests, even to a URL it was given; a
    client process must unset it. Here the session factory is swapped instead: the Hub stays unreachable, and the
    record proves the client, given the app's URL, asks nothing of the Hub (no model lookup, no provider mapping)."""
    seen: list[str] = []

    def loopback(request: httpx2.Request) -> None:
        seen.append(str(request.url))
        if request.url.host not in {"127.0.0.1", "localhost"}:
            raise AssertionError(f"huggingface_hub tried to reach {request.url}")

    hub_http.set_client_factory(lambda: httpx2.Client(event_hooks={"request": [loopback]}, timeout=None))
    yield seen
    hub_http.set_client_factory(hub_http.default_client_factory)


def _ranked(scores: list[dict[str, Any]]) -> None:
    assert {s["label"] for s in scores} == set(LABELS)
    values = [s["score"] for s in scores]
    assert values == sorted(values, reverse=True)


def test_the_real_inference_client_classifies_through_the_apps_url(
    running_app: RunningApp, loopback_only: list[str]
) -> None:
    """``InferenceClient(<app URL>).text_classification`` unchanged: it posts to ``/`` (the URL it was given) and
    parses every class, highest first; ``top_k`` cuts the list; the answer agrees with ``/predict`` and is counted
    under ``endpoint="api"`` in the metrics. Fails if ``POST /`` is answered by Gradio or the list-of-lists shape
    the client reads (``[0]``) changes."""
    client = InferenceClient(running_app.url, timeout=60)
    before = metric_value(
        running_app.metrics(), "sentiment_prediction_latency_seconds_count", {"endpoint": "api", "unit": "request"}
    )
    answer = client.text_classification("I love this phone, the battery lasts for days")
    assert [e.label for e in answer] and {e.label for e in answer} == set(LABELS)
    assert [e.score for e in answer] == sorted((e.score for e in answer), reverse=True)
    assert math.isclose(sum(e.score for e in answer), 1.0, abs_tol=1e-4)
    top = client.text_classification("I love this phone, the battery lasts for days", top_k=1)
    assert [(e.label, e.score) for e in top] == [(answer[0].label, answer[0].score)]
    tei = httpx.post(f"{running_app.url}/predict", json={"inputs": "I love this phone, the battery lasts for days"})
    assert tei.json()[0]["label"] == answer[0].label
    after = metric_value(
        running_app.metrics(), "sentiment_prediction_latency_seconds_count", {"endpoint": "api", "unit": "request"}
    )
    assert after - before == 3
    with pytest.raises(HfHubHTTPError) as refused:
        client.text_classification("   ")
    assert refused.value.response is not None and refused.value.response.status_code == 422
    assert loopback_only == [running_app.url] * 3  # the app's URL, three times, and nothing else


def test_predict_speaks_text_embeddings_inference(running_app: RunningApp) -> None:
    """TEI's ``/predict``: one text gives a list of ``{label, score}``, a list gives one such list per text, in
    order; raw scores are log-probabilities; the headers name the model, one prediction id per text and the
    truncation flags; ``truncate`` true cuts a long text, false refuses it naming ``inputs[i]``."""
    url = running_app.url
    one = httpx.post(f"{url}/predict", json={"inputs": "great movie"})
    assert one.status_code == 200 and one.headers["x-model"]
    _ranked(one.json())
    many = httpx.post(f"{url}/predict", json={"inputs": ["great movie", "awful movie", LONG], "truncate": True})
    assert many.status_code == 200, many.text
    assert len(many.json()) == 3 and all(_ranked(scores) is None for scores in many.json())
    ids = many.headers["x-prediction-ids"].split(",")
    assert len(ids) == 3 and len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
    assert many.headers["x-truncated"] == "0,0,1"
    raw = httpx.post(f"{url}/predict", json={"inputs": "great movie", "raw_scores": True}).json()
    assert all(s["score"] <= 0 for s in raw) and math.isclose(sum(math.exp(s["score"]) for s in raw), 1, abs_tol=1e-4)
    refused = httpx.post(f"{url}/predict", json={"inputs": ["fine", LONG]})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "inputs", 1]
    assert "truncate=true" in refused.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/predict", {}, "inputs"),
        ("/predict", {"inputs": []}, "inputs"),
        ("/predict", {"inputs": 3}, "inputs"),
        ("/predict", {"inputs": ["fine", "", "ok"]}, "inputs.1"),
        ("/predict", {"inputs": "fine", "truncation_direction": "left"}, "truncation_direction"),
        ("/predict", {"inputs": "fine", "colour": "red"}, "colour"),
        ("/predict", {"inputs": ["fine"] * 257}, "inputs"),
        ("/", {"inputs": "fine", "parameters": {"function_to_apply": "sigmoid"}}, "function_to_apply"),
        ("/", {"inputs": "fine", "parameters": {"top_k": 0}}, "top_k"),
        ("/", {"inputs": [" \n "]}, "inputs.0"),
    ],
)
def test_bad_input_is_a_422_that_names_the_field(running_app: RunningApp, path: str, body: Any, field: str) -> None:
    """Every refusal is HTTP 422 in FastAPI's validation format, and its location and message name the field (the
    texts over ``SENTIMENT_MAX_TEXTS_PER_REQUEST``, 256 here, included): never a 500, never a silent partial answer;
    and each is counted once in ``sentiment_api_refusals_total{status="422"}``, whichever check refused it."""
    refusals = {"status": "422"}
    before = metric_value(running_app.metrics(), "sentiment_api_refusals_total", refusals)
    response = httpx.post(f"{running_app.url}{path}", json=body, timeout=60)
    assert response.status_code == 422, response.text
    assert metric_value(running_app.metrics(), "sentiment_api_refusals_total", refusals) == before + 1
    error = response.json()["detail"][0]
    assert field in ".".join(str(p) for p in error["loc"]), error  # a union adds its member: body.inputs.str
    if path == "/predict" and body.get("inputs") == ["fine"] * 257:
        assert "the limit is 256" in error["msg"] and error["msg"].startswith("inputs:")


def test_the_routes_are_in_the_openapi_schema_and_get_slash_is_still_the_ui(running_app: RunningApp) -> None:
    schema = httpx.get(f"{running_app.url}/openapi.json").json()
    assert {"post"} <= set(schema["paths"]["/predict"]) and {"post"} <= set(schema["paths"]["/"])
    assert {"422", "503"} <= set(schema["paths"]["/predict"]["post"]["responses"])
    page = httpx.get(running_app.url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


class GatedPredictor:
    """The embedded predictor, except that once ``gate`` is set a forward pass waits for ``release``: a request
    held in flight for exactly as long as the test needs, with no timing guess."""

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.gate = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def predict_batch(
        self, texts: Sequence[object], embed: bool = False, refuse_long: bool | Sequence[bool] = False
    ) -> BatchResult:
        if self.gate:
            self.entered.set()
            assert self.release.wait(60), "the test never released the forward pass"
        return self.inner.predict_batch(texts, embed=embed, refuse_long=refuse_long)


@pytest.fixture
def gated_app(embedded_predictor: Predictor, tmp_path: Path) -> Iterator[tuple[str, GatedPredictor]]:
    """The app in this process (uvicorn on a loopback port), one inference request allowed in flight."""
    settings = Settings(data_dir=tmp_path, model="embedded", api_max_in_flight=1, scheduler_enabled=False)
    gated = GatedPredictor(embedded_predictor)
    service = SentimentService(settings, predictor=cast(Predictor, gated))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, service), port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the in-process app to listen", timeout=60)
    yield f"http://127.0.0.1:{server.config.port}", gated
    gated.release.set()
    server.should_exit = True
    thread.join(30)


def test_a_full_in_flight_bound_answers_503_with_retry_after_at_once(
    gated_app: tuple[str, GatedPredictor], loopback_only: list[str]
) -> None:
    """With ``SENTIMENT_API_MAX_IN_FLIGHT=1`` and one request held inside the forward pass, the next request on
    either route is refused at once with 503, ``Retry-After`` and a detail that says busy and names the setting; the
    held request then completes, and the slot is free again. Fails if the bound is lost (the second request would
    wait for the gate and time out) or the refusal lacks ``Retry-After``."""
    url, gated = gated_app
    gated.gate = True
    held: dict[str, httpx.Response] = {}
    first = threading.Thread(target=lambda: held.update(r=httpx.post(f"{url}/predict", json={"inputs": "slow"})))
    first.start()
    assert gated.entered.wait(60), "the first request never reached the model"
    refused_before = metric_value(httpx.get(f"{url}/metrics").text, "sentiment_api_refusals_total", {"status": "503"})
    for path in ("/predict", "/"):
        busy = httpx.post(f"{url}{path}", json={"inputs": "one more"}, timeout=10)
        assert busy.status_code == 503, busy.text
        assert int(busy.headers["retry-after"]) > 0
        assert "busy" in busy.json()["detail"] and "SENTIMENT_API_MAX_IN_FLIGHT" in busy.json()["detail"]
    refused = metric_value(httpx.get(f"{url}/metrics").text, "sentiment_api_refusals_total", {"status": "503"})
    assert refused == refused_before + 2  # one per refusal, on both routes
    gated.gate = False
    gated.release.set()
    first.join(60)
    assert held["r"].status_code == 200 and len(held["r"].json()) == len(LABELS)
    again = InferenceClient(url, timeout=30).text_classification("the slot is free again")
    assert len(again) == len(LABELS)
