"""Feedback in the UI and the API: "Was this right?" under a prediction, ``/feedback`` for programs, and
``/review_feedback`` for the owner (listed, and callable, only when an admin token is set).

The buttons record the label for the prediction shown (its id is in the details the page already holds). The text
is stored with the feedback only when the visitor ticks the box that says so; otherwise only the id and the label.
Both routes limit per client (its address, ``sentiment.web.clients``), not per Gradio session, which any program gets
afresh with each new client or call. A request carrying the admin token in the ``X-Admin-Token`` header is not
limited (the owner's labelling runs): a header, not a parameter, so that ``/feedback`` keeps its signature for plain
HTTP callers, which must send every parameter.
"""

# No ``from __future__ import annotations`` here: Gradio finds the ``gr.Request`` parameter by its annotation object.
from typing import Any

import gradio as gr

from sentiment.errors import FeedbackError
from sentiment.labels import LABELS
from sentiment.service.serving import SentimentService
from sentiment.web.clients import client_key
from sentiment.web.ui.api import PRIVATE, api_endpoint

ADMIN_HEADER = "x-admin-token"
NOTE = (
    "Your answer is stored with the prediction's id only: **not your text**, unless you tick the box. "
    "The owner reviews feedback before it counts."
)


def _giver(service: SentimentService, request: gr.Request | None) -> tuple[str, bool]:
    """The client's limit key, and whether it showed the admin token (``X-Admin-Token``; a wrong one is refused with
    ``AccessDeniedError``, never silently treated as a visitor's)."""
    headers = (getattr(request, "headers", None) or {}) if request is not None else {}
    token = headers.get(ADMIN_HEADER, "")
    if token:
        service.check_admin(token)
    return client_key(request), bool(token)


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in (text or "").replace(",", " ").split()]
    except ValueError as exc:
        raise FeedbackError(f"feedback ids are whole numbers separated by commas or spaces, got {text!r}") from exc


def feedback_row(service: SentimentService, wrap: Any, details: gr.JSON) -> gr.Textbox:
    """The "Was this right?" buttons under a prediction, shown once there is one. Returns the state that must hold
    the text of the prediction shown (the box may be edited after classifying): the predict events set it."""

    def record(label: str, shown: dict[str, Any] | None, keep_text: bool, typed: str, request: gr.Request) -> str:
        prediction_id = (shown or {}).get("prediction_id")
        if not prediction_id:
            raise FeedbackError("classify a text first: feedback is about the prediction shown")
        client, unlimited = _giver(service, request)
        text = typed if keep_text else None
        outcome = service.feedback.give(prediction_id, label, client, text, unlimited=unlimited)
        said = "already recorded" if outcome["outcome"] == "duplicate" else "recorded"
        return f"Thank you: **{label}** {said} for this prediction" + (" (with your text)." if keep_text else ".")

    with gr.Column(visible=False, elem_id="feedback-row") as column:
        gr.Markdown("**Was this right?** Click the right label.")
        with gr.Row():
            buttons = {label: gr.Button(label, size="sm", elem_id=f"feedback-{label}") for label in LABELS}
        keep = gr.Checkbox(False, label="Store my text with this feedback (to improve the model)", elem_id="keep-text")
        gr.Markdown(NOTE, elem_id="feedback-note")
        status = gr.Markdown(elem_id="feedback-status")
        # Not a gr.State: a page with state holds a heartbeat stream open for as long as it is shown.
        judged = gr.Textbox(visible=False, elem_id="feedback-judged-text")

    def handler(label: str) -> Any:
        def on_click(shown: dict[str, Any] | None, keep_text: bool, typed: str, request: gr.Request) -> str:
            return record(label, shown, keep_text, typed, request)

        return wrap(on_click)

    for label, button in buttons.items():
        button.click(
            handler(label),
            [details, keep, judged],
            status,
            api_visibility=PRIVATE,
            show_progress_on=status,
        )

    def shown(new: dict[str, Any] | None) -> tuple[Any, str]:
        """Each new prediction shows the buttons (for its own id) and clears the last answer."""
        return gr.Column(visible=bool((new or {}).get("prediction_id"))), ""

    details.change(shown, details, [column, status], api_visibility=PRIVATE, show_progress="hidden")
    return judged


def feedback_api(service: SentimentService, wrap: Any) -> None:
    """``/feedback`` (public) and ``/review_feedback`` (admin)."""

    @wrap
    def feedback(prediction_id: str, label: str, text: str = "", request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
        client, unlimited = _giver(service, request)
        return service.feedback.give(prediction_id, label, client, text or None, unlimited=unlimited)

    @wrap
    def review_feedback(admin_token: str, decision: str = "", feedback_ids: str = "") -> dict[str, Any]:
        """List unreviewed feedback and conflicts; with a decision ("accepted" or "dropped") and ids, apply it."""
        service.check_admin(admin_token)
        if not decision:
            return service.feedback.overview()
        if decision not in ("accepted", "dropped"):
            raise FeedbackError(f"decision {decision!r}: use 'accepted' or 'dropped' (or nothing to list)")
        return service.feedback.review(_ids(feedback_ids), decision)  # type: ignore[arg-type]

    api_endpoint(
        feedback,
        "feedback",
        "Say whether a prediction was right: its prediction_id and the right label (negative, neutral, positive); "
        "text only if you want it stored. The same label for the same prediction is one record, whoever sends it. "
        f"Each client may give {service.settings.feedback_per_client_hour} new pieces per hour (the refusal says when "
        "to retry); the admin token in an X-Admin-Token header lifts the limit.",
        returns=["feedback"],
    )
    api_endpoint(
        review_feedback,
        "review_feedback",
        "List unreviewed feedback and conflicting labels; decision 'accepted' or 'dropped' with feedback ids "
        "(comma-separated) applies it. Admin token required.",
        returns=["feedback"],
        api_visibility="public" if service.admin_enabled else PRIVATE,
    )
