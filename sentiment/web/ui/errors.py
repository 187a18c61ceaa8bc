"""The UI edge for errors: the one place where exceptions become ``gr.Error`` (or, for a text refused before a batched
event runs, a validation message).

A ``SentimentError`` means the visitor's input or request was wrong: its message says how to fix it and is shown as
it is (in the page and to ``gradio_client`` callers). Anything else, a bare ``ValueError`` from a library included,
is a bug in this code: it is logged with its traceback under a short random incident id, counted as
``sentiment_errors_total{reason="internal"}``, and the visitor sees only that id, which the owner finds in the log.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import gradio as gr

from sentiment.errors import InvalidTextError, SentimentError
from sentiment.inference.predictor import validate_text
from sentiment.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
INTERNAL = "internal"  # the sentiment_errors_total reason of a bug


def internal_error_message(incident: str) -> str:
    """What the visitor reads about a bug: no details (they may hold other visitors' data), only the id."""
    return f"internal error (id {incident}); it has been logged"


def error_edge(metrics: ServiceMetrics) -> Callable[[F], F]:
    """A decorator for event handlers that turns their exceptions into ``gr.Error`` (see the module docstring);
    bugs are counted on ``metrics``."""

    def wrap(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except SentimentError as exc:
                raise gr.Error(str(exc), print_exception=False) from exc
            except Exception as exc:
                incident = secrets.token_hex(4)
                logger.exception("internal error (id %s) in %s", incident, fn.__name__)
                metrics.error(INTERNAL)
                raise gr.Error(internal_error_message(incident), print_exception=False) from exc

        return wrapper  # type: ignore[return-value]

    return wrap


Validation = list[list[dict[str, Any]]]


def text_validator(metrics: ServiceMetrics) -> Callable[[list[object]], Awaitable[Validation]]:
    """Gradio's ``validator=`` for a batched one-text event (``/predict``): a text that cannot be scored is refused
    when its call is submitted, with the message ``validate_text`` gives (what to fix) and counted under its reason
    once, as a refused text always is; that caller alone is answered, and the text never joins a batch, which Gradio
    fails as a whole. A coroutine, so that it runs on the event loop and costs no thread hop."""

    async def validate(text: list[object]) -> Validation:  # named like the event's parameter: the client says "text"
        verdicts = []
        for one in text:  # one call is validated at a time: a batch of one
            try:
                validate_text(one)
                verdicts.append(gr.validate(True, ""))
            except SentimentError as exc:
                metrics.error(exc.reason or InvalidTextError.reason)
                verdicts.append(gr.validate(False, str(exc)))
        return [verdicts]

    return validate
