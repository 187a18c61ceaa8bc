"""The Label tab (admin): the random review sample, one text at a time, three buttons and a skip, keyboard shortcuts
1 / 2 / 3 / s, and labels in bulk from a file; and its API (``/review_sample``, ``/review_next``, ``/review_label``,
``/review_skip``) for ``gradio_client``, listed and callable only when an admin token is set (a file of labels goes
to ``POST /review_sample/bulk`` over plain HTTP: ``sentiment.web.review_routes``).

The view shows the text, never the model's answer (a labeller shown the prediction tends to agree with it), with the
progress towards the labels this week's interval needs and the question they answer. Only the owner labels: each
handler checks the admin token, so a visitor cannot change what the owner's estimates read.

Keyboard: Gradio 6 has no keyboard-shortcut parameter (``gr.Button(key=...)`` is a re-render identity, not a key), so
``LABEL_KEYS`` is a small script the app puts in the page head (``mount_gradio_app(head=...)``): a key press clicks
the matching button while the Label tab is on screen, and never while the focus is in a text box (typing the token).
"""

import json
from typing import Any

import gradio as gr

from sentiment.labels import LABELS
from sentiment.service.serving import SentimentService
from sentiment.web.ui.api import PRIVATE, api_endpoint

ADMIN_OFF = "Labelling is off: no admin token is set (`SENTIMENT_ADMIN_TOKEN`)."
KEYS = {"1": "label-negative", "2": "label-neutral", "3": "label-positive", "s": "label-skip"}
LABEL_KEYS = """<script>
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
  const ids = __KEYS__;
  const button = document.getElementById(ids[event.key.toLowerCase()]);
  if (!button || button.getClientRects().length === 0 || button.disabled) return;  // the Label tab is not shown
  event.preventDefault();
  button.click();
});
</script>""".replace("__KEYS__", json.dumps(KEYS))
NONE_WAITING = "Nothing waits for a label: new predictions are drawn into the sample as they arrive."


def _note(service: SentimentService) -> str:
    s = service.settings
    return (
        f"A **random sample** of logged predictions ({s.review_rate:.0%} of them, at most {s.review_daily_cap} a day): "
        "its labels measure the model on real traffic without the bias of volunteered feedback. Sampled texts are "
        f"**stored for labelling even when text logging is off**, and deleted after {s.review_text_days:g} days. "
        "Keys: **1** negative, **2** neutral, **3** positive, **s** skip."
    )


def _shown(service: SentimentService) -> tuple[str, str, str, str]:
    """The next text (Markdown-escaped by the component's own rendering), its review id, progress and question."""
    item = service.review.next_item()
    progress = service.review.progress()
    if item is None:
        return NONE_WAITING, "", progress.text, progress.question
    return str(item["text"]), str(item["id"]), progress.text, progress.question


def label_tab(service: SentimentService, wrap: Any) -> None:
    """The tab itself (inside the tab bar)."""
    admin = service.admin_enabled

    @wrap
    def start(admin_token: str) -> tuple[str, str, str, str]:
        service.check_admin(admin_token)
        return _shown(service)

    def action(label: str | None) -> Any:
        @wrap
        def act(admin_token: str, review_id: str) -> tuple[str, str, str, str]:
            service.check_admin(admin_token)
            if review_id:
                if label is None:
                    service.review.skip(int(review_id))
                else:
                    service.review.label(int(review_id), label, "admin")
            return _shown(service)

        return act

    with gr.Tab("Label", elem_id="label-tab"):
        gr.Markdown(_note(service), elem_id="label-note")
        if not admin:
            gr.Markdown(f"**{ADMIN_OFF}**", elem_id="label-off")
        with gr.Row():
            token = gr.Textbox(
                label="Admin token (to label)", type="password", interactive=admin, elem_id="label-admin-token"
            )
            start_btn = gr.Button("Start labelling", interactive=admin, elem_id="label-start")
        progress = gr.Markdown(elem_id="label-progress")
        question = gr.Markdown(elem_id="label-question")
        text = gr.Textbox(label="Sampled text", lines=4, interactive=False, elem_id="label-text")
        # Not a gr.State: a page with state holds a heartbeat stream open for as long as it is shown.
        current = gr.Textbox(visible=False, elem_id="label-current-id")
        with gr.Row():
            buttons = {
                label: gr.Button(f"{key} {label}", interactive=admin, elem_id=f"label-{label}")
                for key, label in zip("123", LABELS, strict=True)
            }
            skip = gr.Button("s skip", interactive=admin, elem_id="label-skip")
        outputs = [text, current, progress, question]
        start_btn.click(start, token, outputs, api_visibility=PRIVATE, show_progress_on=text)
        for label, button in buttons.items():
            button.click(action(label), [token, current], outputs, api_visibility=PRIVATE, trigger_mode="once")
        skip.click(action(None), [token, current], outputs, api_visibility=PRIVATE, trigger_mode="once")
        with gr.Accordion("Labels in bulk (a CSV of review_id or prediction_id, and label)", open=False):
            upload = gr.File(label="Labelled file", file_types=[".csv", ".tsv", ".xlsx", ".parquet"])
            import_btn = gr.Button("Import labels", interactive=admin, elem_id="label-import")
            summary = gr.JSON(label="What the file did", elem_id="label-import-summary")

    @wrap
    def import_labels(admin_token: str, file: str | None) -> dict[str, Any]:
        service.check_admin(admin_token)
        return _import(service, file)

    import_btn.click(import_labels, [token, upload], summary, api_visibility=PRIVATE)


def _import(service: SentimentService, file: Any) -> dict[str, Any]:
    from pathlib import Path

    from sentiment.errors import ReviewError

    if not file:
        raise ReviewError("choose a file of review ids (or prediction ids) and labels first")
    return service.review.import_file(Path(str(getattr(file, "name", file)))).as_dict()


def review_api(service: SentimentService, wrap: Any) -> None:
    """The named endpoints (outside the tab bar: a ``gr.api`` between tabs would split it)."""
    visibility = "public" if service.admin_enabled else PRIVATE

    @wrap
    def review_sample(admin_token: str, state: str = "waiting", limit: int = 50) -> dict[str, Any]:
        service.check_admin(admin_token)
        return service.review.listing(state, int(limit))

    @wrap
    def review_next(admin_token: str) -> dict[str, Any]:
        service.check_admin(admin_token)
        return {"item": service.review.next_item(), "progress": service.review.progress().as_dict()}

    @wrap
    def review_label(admin_token: str, review_id: int, label: str) -> dict[str, Any]:
        service.check_admin(admin_token)
        return service.review.label(review_id, label, "api")

    @wrap
    def review_skip(admin_token: str, review_id: int) -> dict[str, Any]:
        service.check_admin(admin_token)
        return service.review.skip(review_id)

    described = (
        (review_sample, "List the random review sample: state waiting, labelled, skipped or all; counts and progress."),
        (review_next, "The oldest sampled prediction waiting for a label, and the progress."),
        (review_label, "Label one sampled prediction by its review id: negative, neutral or positive."),
        (review_skip, "Set one sampled prediction aside (it is not offered again)."),
    )
    for fn, description in described:
        api_endpoint(
            fn,
            fn.__name__,
            f"{description} Admin token required.",
            returns=["review"],
            api_visibility=visibility,
        )
