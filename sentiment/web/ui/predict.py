"""The ``/predict`` event: one text in, its label with all three probabilities and the details out.

Through Gradio's queue each call costs the server a queue slot, a handler call on a worker thread, pre- and
postprocessing and an event stream. Profiled with 16 clients (benchmarks/README.md, "Gradio /predict: event
batching"), the per-call work in the handler and around it (a worker thread, a micro-batcher submission, ids,
metrics and a log row per call, all taking turns on the GIL), not the model, held Gradio's ``/predict`` to a third
of what the same model serves in passes of 16. So the event is batched by Gradio itself
(``batch=True``): up to ``SENTIMENT_PREDICT_MAX_BATCH`` calls waiting in the queue are handed to one handler call and
scored in one forward pass (``SentimentService.predict_each``), while the page and ``gradio_client`` still send one
text and receive one answer. The predictions per call stay under ``SENTIMENT_PREDICT_CONCURRENCY``: batches of N run
``concurrency // N`` at a time, and the queue's ``SENTIMENT_QUEUE_SIZE`` bounds the calls waiting.

Gradio answers a batch as a whole, with one error for all when the handler raises: so a text that cannot be scored
must never join one. The event's validator (``errors.text_validator``) refuses it when its call is submitted, and
only that caller is answered, with the message that says what to fix (HTTP 422; ``gradio_client`` raises
``ValidationError``; the page marks the text box). ``SENTIMENT_PREDICT_MAX_BATCH=1``, or a Gradio release whose
batched validators are not known to work (``sentiment.web.gradio_batching``), gives one handler call per text and
the error as an error event, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentiment.errors import text_error
from sentiment.results import Prediction
from sentiment.service.serving import SentimentService
from sentiment.web import gradio_batching
from sentiment.web.ui.errors import text_validator

Edge = Callable[[Callable[..., Any]], Callable[..., Any]]


SHOWN_DIGITS = 4  # decimals of the probabilities in the Details box: 0.9731, not 0.9730817079544067


def details(prediction: Prediction) -> dict[str, Any]:
    """The *Details* output: what the label alone does not say (truncation, model, the id feedback needs).

    Its probabilities are rounded for reading; the label output beside it (``confidences``) and the plain HTTP API
    carry them at full precision."""
    return {
        "label": prediction.label,
        "scores": {label: round(score, SHOWN_DIGITS) for label, score in prediction.scores.items()},
        "truncated": prediction.truncated,
        "model": prediction.model,
        "prediction_id": prediction.prediction_id,
    }


def batch_size(service: SentimentService) -> int:
    """Calls one handler call answers: the setting, within the concurrency, and 1 where Gradio's batched validators
    are not known to work."""
    settings = service.settings
    size = min(settings.predict_max_batch, settings.predict_concurrency)
    return size if size > 1 and gradio_batching.install() else 1


def predict_event(service: SentimentService, user_errors: Edge) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The handler of ``/predict`` and the options of its events (batching, validator, concurrency)."""
    size = batch_size(service)
    if size == 1:

        @user_errors
        def predict(text: str) -> tuple[dict[str, float], dict[str, Any]]:
            prediction = service.predict(text)
            return prediction.scores, details(prediction)

        return predict, {"concurrency_limit": service.settings.predict_concurrency}

    @user_errors
    def predict_each(text: list[str]) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
        # named "text" like the single-text handler: the API lists the parameter by this name
        predictions = service.predict_each(text)
        for p in predictions:
            if p.error is not None:  # the validator keeps these out; were one here, the batch fails with its message
                raise text_error(p.error, None)
        return [p.scores for p in predictions], [details(p) for p in predictions]

    options = {
        "batch": True,
        "max_batch_size": size,
        "concurrency_limit": max(1, service.settings.predict_concurrency // size),
        "validator": text_validator(service.metrics),
    }
    return predict_each, options
