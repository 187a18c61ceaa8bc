"""Every Gradio event that fails is counted, by reason, whichever handler it ran and whatever raised.

Gradio answers a failed event with an error message on its event stream (HTTP 200 for the stream itself), so an
HTTP status counter cannot see it. Every event, queued or not, batched or not, runs through the Blocks'
``process_api``; wrapped on the one Blocks instance the app serves, it sees each failure once:

- a refusal the UI edge (``web.ui.errors``) turned into ``gr.Error``: the reason of the ``SentimentError`` behind it
  (``empty_text``, ``bad_file``...), or ``refused`` for one without a reason (feedback, admin actions);
- a bug the UI edge turned into an incident: ``internal`` (the edge already counted it in ``sentiment_errors_total``);
- anything raised outside the UI edge (Gradio's own checks of a payload, a handler without the edge): ``internal``
  here, and counted in ``sentiment_errors_total{reason="internal"}`` too, which nothing else would count.

Texts that an event's validator refuses before the event runs do not reach ``process_api``: the validator counts
them under their reason, and ``sentiment_http_responses_total{route="/gradio_api"}`` counts their 422.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from sentiment.errors import SentimentError
from sentiment.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)


def failure_reason(exc: BaseException) -> str:
    """The ``sentiment_gradio_event_failures_total`` reason of an exception that failed an event."""
    cause = exc.__cause__ if isinstance(exc, gr.Error) else exc
    if isinstance(cause, SentimentError):
        return cause.reason or "refused"
    if isinstance(exc, gr.Error) and cause is None:
        return "refused"  # raised as a message for the visitor, by a handler or by Gradio
    return "internal"


def count_failed_events(demo: gr.Blocks, metrics: ServiceMetrics) -> None:
    """Wrap ``demo.process_api`` so that each failed event is counted once (idempotent per Blocks)."""
    original = demo.process_api
    if getattr(original, "counts_failures", False):
        return

    async def process_api(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        except Exception as exc:
            reason = failure_reason(exc)
            metrics.gradio_event_failed(reason)
            if not isinstance(exc, gr.Error):  # not through the UI edge, which counts its own incidents
                metrics.error("internal")
            raise

    process_api.counts_failures = True  # type: ignore[attr-defined]
    demo.process_api = process_api  # type: ignore[method-assign]
