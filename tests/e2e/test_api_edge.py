"""Issue #25 over real HTTP: bad text fails only itself, refused requests leave no trace, every answer is counted.

Two real apps: the session's ``python app.py`` (the embedded model) and, where a model must fail for real, the app
built by ``create_app`` in this process (uvicorn on a loopback port) serving the embedded model behind a wrapper
whose forward pass raises on one marker text, as a model bug only some input triggers would."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app import create_app
from appserver import RunningApp, free_port, metric_value, read_events
from sentiment.inference.predictor import Predictor
from sentiment.results import ForwardOutput
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from waiting import wait_until

pytestmark = [pytest.mark.e2e]

BAD = '{"inputs": "great \\ud83d phone"}'  # valid JSON; json.loads makes it a lone surrogate
POISON = "POISON: the model raises on this text"
JSON = {"content-type": "application/json"}
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=40)


def _post(url: str, body: str | bytes, **kwargs: Any) -> httpx.Response:
    """A body as the client wrote it (``json.dumps`` escapes surrogates as JSON does; httpx's ``json=`` cannot)."""
    return httpx.post(url, content=body, headers=JSON, timeout=120, **kwargs)


def _gradio(url: str, api: str, *data: object) -> tuple[str, Any]:
    response = _post(f"{url}/gradio_api/call/{api}", json.dumps({"data": list(data)}))
    response.raise_for_status()
    return read_events(url, api, response.json()["event_id"])


def _http(text: str, route: str, status: int) -> float:
    return metric_value(text, "sentiment_http_responses_total", {"route": route, "status": str(status)})


# --- item 1: not valid Unicode ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/predict", "/"])
def test_the_issues_lone_surrogate_is_a_422_naming_inputs_0_on_both_routes(running_app: RunningApp, path: str) -> None:
    """``{"inputs": "great \\ud83d phone"}`` was a text/plain 500; now 422 in the API's shape, naming ``inputs.0``,
    the rule and the code point, counted under ``invalid_input`` and as one 422 answer of that route."""
    before = running_app.metrics()
    response = _post(f"{running_app.url}{path}", BAD)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "inputs", 0]
    assert error["msg"].startswith("inputs.0: text is not valid Unicode: a lone surrogate U+D83D at character 6")
    after = running_app.metrics()
    assert _http(after, path, 422) == _http(before, path, 422) + 1
    reason = {"reason": "invalid_input"}
    assert (
        metric_value(after, "sentiment_errors_total", reason)
        == metric_value(before, "sentiment_errors_total", reason) + 1
    )


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.text(max_size=20), surrogate=SURROGATES, tail=st.text(max_size=20), index=st.integers(0, 2))
def test_a_surrogate_anywhere_in_any_text_of_a_request_is_a_422_naming_that_text(
    running_app: RunningApp, head: str, surrogate: str, tail: str, index: int
) -> None:
    """The class over HTTP: a surrogate at any place of any text of a list is refused as ``inputs.<index>`` with the
    rule, never a 500; the request's other texts are not what is named."""
    texts = ["fine", "ok then", "awful"]
    texts[index] = head + surrogate + tail
    response = _post(f"{running_app.url}/predict", json.dumps({"inputs": texts}))
    assert response.status_code == 422, response.text
    named = [(e["loc"], e["msg"]) for e in response.json()["detail"]]
    assert len(named) == 1 and named[0][0] == ["body", "inputs", index] and "not valid Unicode" in named[0][1]


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_any_valid_unicode_text_is_scored(running_app: RunningApp, text: str) -> None:
    """Valid Unicode of any script, sent as UTF-8 JSON (escaped or not), is scored on both routes: 200 with the three
    classes."""
    for body in (json.dumps({"inputs": text}), json.dumps({"inputs": text}, ensure_ascii=False).encode()):
        response = _post(f"{running_app.url}/predict", body)
        assert response.status_code == 200, (text, response.text)
        assert len(response.json()) == 3


def test_gradio_predict_batch_gives_only_the_bad_line_its_error(running_app: RunningApp) -> None:
    """The issue's ``fine\\ngreat \\ud83d phone\\nawful`` through Gradio's ``/predict_batch`` failed as a whole; now
    three rows: the bad line (shown with U+FFFD) carries the rule's error and no label, the others are scored. And
    Gradio's ``/predict`` refuses the text at submission (422 from its validator) with the same message."""
    event, table = _gradio(running_app.url, "predict_batch", "fine\ngreat \ud83d phone\nawful")
    assert event == "complete", table
    rows = {row[0]: row for row in table[0]["data"]}
    headers = table[0]["headers"]
    assert list(rows) == ["fine", "great \ufffd phone", "awful"]
    bad = dict(zip(headers, rows["great \ufffd phone"], strict=True))
    assert bad["label"] == "" and bad["error"].startswith("text is not valid Unicode: a lone surrogate U+D83D")
    assert all(dict(zip(headers, rows[t], strict=True))["label"] for t in ("fine", "awful"))
    refused = _post(f"{running_app.url}/gradio_api/call/predict", json.dumps({"data": ["great \ud83d phone"]}))
    assert refused.status_code == 422 and "not valid Unicode" in refused.text


# --- item 2: a refused request leaves no trace -------------------------------------------------------------------
def _log_rows(app: RunningApp) -> int:
    with sqlite3.connect(app.data_dir / "sentiment.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])


def _waiting_rows(app: RunningApp) -> int:
    """Log rows the app has accepted but not yet written (``/health``'s ``store.waiting_rows``)."""
    return int(httpx.get(f"{app.url}/health", timeout=10).json()["store"]["waiting_rows"])


def _logged(app: RunningApp, prediction_id: str) -> bool:
    with sqlite3.connect(app.data_dir / "sentiment.sqlite") as conn:
        return (
            conn.execute("SELECT 1 FROM predictions WHERE prediction_id = ?", (prediction_id,)).fetchone() is not None
        )


def test_the_issues_refused_requests_are_not_logged_or_counted(running_app: RunningApp) -> None:
    """``{"inputs": ["Great product", ""]}`` and a 67,337-character text without ``truncate`` are both 422 (naming
    ``inputs.1`` and ``inputs.0``); then a good request is logged. When its row is written, the log holds exactly
    one row more than before the three (the refused ones left none), and ``sentiment_predictions_total`` and
    ``sentiment_truncated_texts_total`` moved by that one text only."""
    url = running_app.url
    wait_until(lambda: _log_rows(running_app) is not None, "the prediction log to exist")
    # earlier tests' rows may still wait in the log writer (it lingers 50 ms for more): count once they are written
    wait_until(lambda: _waiting_rows(running_app) == 0, "earlier predictions' log rows written")
    before_rows, before = _log_rows(running_app), running_app.metrics()
    empty = httpx.post(f"{url}/predict", json={"inputs": ["Great product", ""]}, timeout=60)
    assert empty.status_code == 422 and empty.json()["detail"][0]["msg"] == "inputs.1: empty text"
    long = httpx.post(f"{url}/predict", json={"inputs": "x " * 33_668 + "y"}, timeout=60)
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["body", "inputs", 0]
    assert "truncate=true" in long.json()["detail"][0]["msg"]
    good = httpx.post(f"{url}/predict", json={"inputs": "Great product"}, timeout=60)
    assert good.status_code == 200
    wait_until(lambda: _logged(running_app, good.headers["x-prediction-ids"]), "the good request's log row")
    after = running_app.metrics()
    assert _log_rows(running_app) == before_rows + 1
    moved = metric_value(after, "sentiment_predictions_total") - metric_value(before, "sentiment_predictions_total")
    assert moved == 1
    assert metric_value(after, "sentiment_truncated_texts_total") == metric_value(
        before, "sentiment_truncated_texts_total"
    )
    too_long = {"reason": "text_too_long"}
    assert (
        metric_value(after, "sentiment_errors_total", too_long)
        == metric_value(before, "sentiment_errors_total", too_long) + 1
    )


# --- a model that fails for real, in this process ------------------------------------------------------------------
class PoisonedModel:
    """The embedded model, except that a forward pass holding ``POISON`` raises."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def forward(self, texts: list[str], batch_size: int, embed: bool = False) -> ForwardOutput:
        if any("POISON" in t for t in texts):
            raise RuntimeError("the model failed on one input")
        return self.inner.forward(texts, batch_size, embed=embed)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def poisoned_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("poisoned")
    settings = Settings(data_dir=data, model="embedded", scheduler_enabled=False, max_request_bytes=64 * 1024)
    predictor = Predictor.load("embedded", settings)
    predictor.model = PoisonedModel(predictor.model)  # type: ignore[assignment]
    service = SentimentService(settings, predictor=cast(Predictor, predictor))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, service), port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the in-process app to listen", timeout=60)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(30)


def test_a_bad_text_among_twelve_concurrent_good_requests_fails_only_itself(
    poisoned_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's concurrency case, five rounds: twelve good one-text requests sent at the same moment as a
    surrogate one and one that makes the forward pass raise (the two share coalesced calls with the good ones).
    Every round all twelve good ones get 200 with three classes; the surrogate one 422 (refused before the model);
    the poisoned one a JSON 500 with an incident id (not text/plain). Before, 0, 2 and then 9 of the 12 got 500."""
    good = [f"good request number {i}, a lovely phone" for i in range(12)]
    bodies = [json.dumps({"inputs": t}) for t in good] + [BAD, json.dumps({"inputs": POISON})]
    barrier = threading.Barrier(len(bodies))

    def send(body: str) -> httpx.Response:
        barrier.wait(30)
        return _post(f"{poisoned_app}/predict", body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        for round_ in range(5):
            answers = list(pool.map(send, bodies))
            statuses = [a.status_code for a in answers]
            assert statuses == [200] * 12 + [422, 500], (round_, [a.text[:200] for a in answers])
            assert all(len(a.json()) == 3 for a in answers[:12])
            assert answers[-1].headers["content-type"] == "application/json"
            assert answers[-1].json()["detail"][0]["msg"].startswith("internal error (id ")
            barrier.reset()
    # the poisoned request did share calls with good ones (else the isolation was never tested): the coalescer said
    # so when it scored such a call's requests again one by one
    shared = [r.getMessage() for r in caplog.records if "coalesced requests failed" in r.getMessage()]
    assert any(int(m.split()[3]) >= 2 for m in shared), shared


def test_every_kind_of_answer_is_counted_by_route_and_status(poisoned_app: str) -> None:
    """One request of each kind, then ``/metrics``: 200; 422 for a bad text and for JSON that does not parse
    (FastAPI's ``json_invalid``); 400 for a body that is not UTF-8 (saying so, in the API's shape, where FastAPI said
    "There was an error parsing the body"); 413 from a ``Content-Length`` over ``SENTIMENT_MAX_REQUEST_BYTES`` and
    from a streamed body without one (and on Gradio's API calls); 500 from a forward pass that raises, also counted
    as an ``internal`` error; and on Gradio's API a failed event counted by its reason. Each counter moves by
    exactly its requests."""
    url = f"{poisoned_app}/predict"
    before = httpx.get(f"{poisoned_app}/metrics").text
    assert _post(url, json.dumps({"inputs": "fine"})).status_code == 200
    assert _post(f"{poisoned_app}/", json.dumps({"inputs": "fine"})).status_code == 200
    assert _post(url, json.dumps({"inputs": ["fine", " "]})).status_code == 422
    assert _post(url, b'{"inputs": ').json()["detail"][0]["type"] == "json_invalid"
    latin1 = _post(url, '{"inputs": "café"}'.encode("latin-1"))
    assert latin1.status_code == 400, latin1.text
    assert latin1.json()["detail"][0]["msg"].startswith("the request body is not UTF-8: byte 0xe9 at position 15")
    big = json.dumps({"inputs": "a" * 70_000})
    declared = _post(url, big)
    assert declared.status_code == 413 and "SENTIMENT_MAX_REQUEST_BYTES" in declared.json()["detail"][0]["msg"]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192].encode()

    streamed = httpx.post(url, content=chunks(), headers=JSON, timeout=60)  # chunked: no Content-Length
    assert streamed.status_code == 413
    assert _post(url, json.dumps({"inputs": [POISON, "fine"]})).status_code == 500
    gradio_big = _post(f"{poisoned_app}/gradio_api/call/predict", json.dumps({"data": ["a" * 70_000]}))
    assert gradio_big.status_code == 413  # Gradio's API calls share the limit (its uploads keep their own)
    event, _ = _gradio(poisoned_app, "predict_batch", "")  # no text: refused by the UI edge
    assert event == "error"
    after = httpx.get(f"{poisoned_app}/metrics").text
    expected = {("/predict", 200): 1, ("/", 200): 1, ("/predict", 422): 2, ("/predict", 400): 1}
    expected |= {("/predict", 413): 2, ("/predict", 500): 1, ("/gradio_api", 200): 2, ("/gradio_api", 413): 1}
    for (route, status), count in expected.items():
        assert _http(after, route, status) - _http(before, route, status) == count, (route, status)
    internal = {"reason": "internal"}
    assert (
        metric_value(after, "sentiment_errors_total", internal)
        - metric_value(before, "sentiment_errors_total", internal)
        == 1
    )
    failed = {"reason": "invalid_input"}
    moved = metric_value(after, "sentiment_gradio_event_failures_total", failed)
    assert moved - metric_value(before, "sentiment_gradio_event_failures_total", failed) == 1


def test_the_body_limit_is_documented_in_the_settings_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`SENTIMENT_MAX_REQUEST_BYTES` | `1048576`" in readme
