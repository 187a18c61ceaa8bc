"""The lean HTTP inference API beside Gradio, in the two shapes the Hugging Face ecosystem already speaks.

- ``POST /predict``: Text Embeddings Inference's sequence-classification route. ``{"inputs": "text" | [...],
  "raw_scores": false, "truncate": false}`` -> ``[{"label", "score"}, ...]`` for one text, a list of those for several.
- ``POST /``: the Hugging Face Inference API's text-classification shape, so ``InferenceClient("<app URL>")
  .text_classification("...")`` works unchanged: the client posts ``{"inputs": ..., "parameters": {"top_k": ...,
  "function_to_apply": ...}}`` to the URL it was given and reads the first item of a list of lists. (``GET /`` is
  still the Gradio UI: a POST route does not shadow it.)

One request is one plain HTTP round trip, with no queue protocol or event stream: both routes score through
``SentimentService.classify`` (the metrics, the prediction log and its ids), so they cost the server little per
request; one-text requests that arrive together share one call and one forward pass (``web.coalescing``). Every
class is returned, highest score first; the response headers carry what the shapes have no field for: ``X-Model``,
``X-Prediction-Ids`` (comma-separated, one per input, for feedback) and ``X-Truncated`` (``1`` for each input that
lost tokens at the model's limit).

Bad input is HTTP 422 whose ``detail[].loc`` and message name the field (one entry per bad text). The whole request
is checked before any text of it is scored (``SentimentService.classify``; a one-text request before it joins a
shared call), so a refused request is never scored, logged or counted as predictions. A request beyond
``SENTIMENT_API_MAX_IN_FLIGHT`` concurrent ones, or one that arrives while no model serves, is 503 with
``Retry-After``: refused at once, never queued without bound. Both are counted in
``sentiment_api_refusals_total{status}``; the texts scored count under ``endpoint="api"`` like any other. Below the
routes, ``web.api_edge`` bounds and decodes the body (413, 400), turns a bug into a JSON 500 with an incident id,
and counts every answer by status.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sentiment.errors import InvalidTextError, ModelUnavailableError, RequestRefusedError
from sentiment.results import Prediction
from sentiment.service.metrics import API_REFUSALS
from sentiment.service.serving import SentimentService
from sentiment.web.coalescing import RequestCoalescer

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 2
INFERENCE_PATHS = ("/predict", "/")
Inputs = str | Annotated[list[str], Field(min_length=1)]
_INPUTS = "One text, or a non-empty list of texts (at most SENTIMENT_MAX_TEXTS_PER_REQUEST)."


class LabelScore(BaseModel):
    label: str = Field(description="One of the model's classes: negative, neutral, positive.")
    score: float = Field(description="Its probability (its log-probability with raw scores).")


class TEIPredictRequest(BaseModel):
    """Text Embeddings Inference's ``/predict`` body for sequence classification (text pairs are not supported)."""

    model_config = ConfigDict(extra="forbid")
    inputs: Inputs = Field(description=_INPUTS)
    raw_scores: bool = Field(False, description="Log-probabilities (the logits less a per-text constant).")
    truncate: bool = Field(False, description="Cut texts over the model's token limit; false: refuse them (422).")
    truncation_direction: Literal["right", "Right"] = Field("right", description="Only right truncation exists.")


class ClassificationParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top_k: int | None = Field(None, ge=1, description="Return only the k most likely classes (default: all).")
    function_to_apply: Literal["softmax", "none"] | None = Field(
        None,
        description="softmax (default): probabilities; none: log-probabilities. This single-label model has no "
        "sigmoid scores.",
    )


class HFClassificationRequest(BaseModel):
    """The Hugging Face Inference API's text-classification body, as ``huggingface_hub.InferenceClient`` sends it."""

    model_config = ConfigDict(extra="forbid")
    inputs: Inputs = Field(description=_INPUTS)
    parameters: ClassificationParameters = Field(default_factory=ClassificationParameters)


class InFlightLimit:
    """At most ``limit`` requests at once; the next is refused at once rather than queued. Entered only on the event
    loop (the routes are ``async``), so a plain counter needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.active >= self.limit:
            raise HTTPException(
                503,
                f"The app is busy: {self.active} inference requests in flight, the limit is {self.limit} "
                f"(SENTIMENT_API_MAX_IN_FLIGHT). Retry in {RETRY_AFTER_S} s or more.",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


def _field_errors(problems: list[tuple[list[str | int], str]]) -> HTTPException:
    """A 422 in FastAPI's own validation format, one entry per (location, message), so clients read one shape
    whichever check refused the input; each message starts with the field it names (``inputs.1: empty text``)."""
    detail = []
    for loc, msg in problems:
        where = ".".join(str(part) for part in loc[1:])
        detail.append({"loc": loc, "msg": f"{where}: {msg}", "type": "value_error"})
    return HTTPException(422, detail)


def _scores(prediction: Prediction, log: bool, top_k: int | None) -> list[dict[str, Any]]:
    ranked = sorted(prediction.scores.items(), key=lambda item: item[1], reverse=True)[:top_k]
    return [{"label": label, "score": math.log(max(p, 1e-45)) if log else p} for label, p in ranked]


def count_refusals(app: FastAPI, service: SentimentService) -> None:
    """Count every 422 and 503 of the inference routes in ``sentiment_api_refusals_total{status}``, whichever check
    raised it (the body's schema, a text, the in-flight limit, a model not serving), then answer as FastAPI does."""

    def count(request: Request, status: int) -> None:
        if request.method == "POST" and request.url.path in INFERENCE_PATHS and str(status) in API_REFUSALS:
            service.metrics.api_refusals.labels(status=str(status)).inc()

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # registered for that class only
        count(request, 422)
        return await request_validation_exception_handler(request, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)  # registered for that class only
        count(request, exc.status_code)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def add_inference_api(app: FastAPI, service: SentimentService) -> None:
    """Register ``POST /predict`` and ``POST /``; call before Gradio is mounted at "/", which would answer them."""
    limit = InFlightLimit(service.settings.api_max_in_flight)
    count_refusals(app, service)
    settings = service.settings
    one_text = RequestCoalescer(service.classify_each, settings.predict_max_batch, settings.batch_wait_ms / 1000)

    async def classify(texts: list[str], truncate: bool) -> list[Prediction]:
        """The request's predictions, or a 422 naming each text that cannot be scored. The whole request is checked
        before any text is scored (valid text; with ``truncate`` false, within the token limit), so a refused
        request leaves no trace in the prediction log and moves no prediction or truncation counter."""
        with limit.slot():
            try:
                if len(texts) == 1:  # many one-text clients: their requests share one call (``web.coalescing``)
                    service.check_text(texts[0])  # on the loop: a bad text never joins a shared call
                    predictions = [await one_text(texts[0], truncate)]  # too long: refused in the call, unscored
                else:
                    predictions = await run_in_threadpool(service.classify, texts, truncate)
            except ModelUnavailableError as exc:
                raise HTTPException(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}) from None
            except RequestRefusedError as exc:
                raise _field_errors([(["body", "inputs", i], str(error)) for i, error in exc.problems]) from None
            except InvalidTextError as exc:
                where: list[str | int] = ["body", "inputs", 0] if len(texts) == 1 else ["body", "inputs"]
                raise _field_errors([(where, str(exc))]) from None
        for i, prediction in enumerate(predictions):
            if prediction.error is not None:
                raise _field_errors([(["body", "inputs", i], prediction.error)])
        return predictions

    def answer(body: object, predictions: list[Prediction]) -> Response:
        headers = {
            "X-Model": predictions[0].model or "",
            "X-Prediction-Ids": ",".join(p.prediction_id or "" for p in predictions),
            "X-Truncated": ",".join("1" if p.truncated else "0" for p in predictions),
        }
        return Response(json.dumps(body), media_type="application/json", headers=headers)

    refusals: dict[int | str, dict[str, Any]] = {
        422: {"description": "Bad input; `detail[].loc` and the message name the field."},
        503: {"description": "Busy or no model serving yet; retry after `Retry-After` seconds."},
    }

    @app.post(
        "/predict",
        tags=["inference"],
        summary="Classify texts (Text Embeddings Inference's /predict)",
        response_class=JSONResponse,
        responses={200: {"model": list[LabelScore] | list[list[LabelScore]]}, **refusals},
    )
    async def predict(request: TEIPredictRequest) -> Response:
        """Every class with its score, highest first: a list for one text, a list of lists for a list of texts."""
        texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        predictions = await classify(texts, request.truncate)
        per_text = [_scores(p, request.raw_scores, None) for p in predictions]
        return answer(per_text[0] if isinstance(request.inputs, str) else per_text, predictions)

    @app.post(
        "/",
        tags=["inference"],
        summary="Classify texts (Hugging Face Inference API text-classification)",
        response_class=JSONResponse,
        responses={200: {"model": list[list[LabelScore]]}, **refusals},
    )
    async def text_classification(request: HFClassificationRequest) -> Response:
        """One list per input text (also for a single text, as the Inference API answers), highest score first, cut
        to ``parameters.top_k``. Texts are truncated at the model's token limit (``X-Truncated`` says which)."""
        texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        predictions = await classify(texts, truncate=True)
        log = request.parameters.function_to_apply == "none"
        return answer([_scores(p, log, request.parameters.top_k) for p in predictions], predictions)
