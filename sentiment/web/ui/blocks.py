"""The Gradio Blocks: a thin layer over ``SentimentService``.

Every public event has an explicit ``api_name`` so programs call the same actions a person clicks (``/predict``,
``/predict_batch``, ``/model_info`` here; the tabs' modules add theirs); page-only events are private. The public API
is pinned by ``tests/e2e/test_api_contract.py`` and documented in the README. Every handler runs inside the error
edge (``sentiment.web.ui.errors``), the only place where exceptions become ``gr.Error``, so the browser and
``gradio_client`` both receive a domain error's message, and a bug's incident id.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from sentiment.errors import InvalidTextError
from sentiment.inference.predictor import displayable
from sentiment.labels import LABELS
from sentiment.service.retrain import RetrainService
from sentiment.service.serving import SentimentService
from sentiment.web.ui.batch import batch_tab
from sentiment.web.ui.errors import error_edge
from sentiment.web.ui.evaluation import evaluation_tab
from sentiment.web.ui.feedback import feedback_api, feedback_row
from sentiment.web.ui.label import label_tab, review_api
from sentiment.web.ui.models import models_tab
from sentiment.web.ui.monitoring import monitoring_tab
from sentiment.web.ui.predict import predict_event
from sentiment.web.ui.retrain import retrain_api, retrain_tab

EXAMPLES = [
    "I love how friendly the staff were, best flight I've had in years!",
    "The package arrived on Tuesday and contains two cables.",
    "@support my order is three weeks late and nobody answers. Worst service ever.",
]
TITLE = "Sentiment analysis: negative / neutral / positive"
PREDICTION_COLUMNS = ["text", "label", *(f"score_{x}" for x in LABELS), "truncated", "error", "prediction_id"]


def model_headline(health: dict[str, Any], spec: str, hub_model: str) -> str:
    """The header line every visitor reads, in plain words. Why ``auto`` did not use the Hub is a technical
    reason for the operator: it stays in ``/health`` (``model.note``) and in the log, not here."""
    info = health["model"]
    if info is None:
        return f"**Model**: {health['status']}" + (f" - {health['error']}" if health["error"] else "")
    line = f"**Model**: `{info['name']}` ({info['source']}, `{info['revision']}`)"
    if spec == "auto" and info["source"] != "hub":
        what = "the VADER lexicon" if info["source"] == "lexicon" else f"the {info['name']} model"
        line += f"  \nOffline: serving {what} (the Hub model `{hub_model}` is not available)."
    return line


def _model_markdown(service: SentimentService) -> str:
    return model_headline(service.health(), service.serving_spec, service.settings.hub_model)


def build_blocks(service: SentimentService, retrain: RetrainService | None = None) -> gr.Blocks:
    """The app's page and API; ``retrain`` (wired by the app: it needs ``finetune``) adds the Retrain tab."""
    user_errors = error_edge(service.metrics)

    predict, predict_options = predict_event(service, user_errors)

    @user_errors
    def predict_batch(texts: str) -> pd.DataFrame:
        lines = [line for line in (texts or "").splitlines() if line.strip()]
        if not lines:
            raise InvalidTextError("no text: enter one text per line")
        rows = []
        for line, p in zip(lines, service.predict_many(lines), strict=True):
            scores = [round(p.scores.get(label, float("nan")), 4) for label in LABELS]
            rows.append([displayable(line), p.label or "", *scores, p.truncated, p.error or "", p.prediction_id or ""])
        return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)

    def keep_text(classified: str) -> str:
        """The text just classified, for feedback given with its text (the box may be edited afterwards)."""
        return classified

    @user_errors
    def model_info() -> str:
        return _model_markdown(service)

    # Uploads and results in Gradio's cache are deleted once older than the retention (checked every 10 min):
    # deleting an upload right after use would break clients that reuse it (gradio_client uploads a file once).
    retention = max(1, int(service.settings.batch_retention_s))  # Gradio reads 0 as "never delete"
    with gr.Blocks(title=TITLE, delete_cache=(min(600, retention), retention)) as demo:
        gr.Markdown(f"# {TITLE}")
        model_md = gr.Markdown(_model_markdown(service), label="Model", elem_id="model-info")
        # One explicit tab bar. Only tabs go directly in it: a block between two tabs (a ``gr.api`` call is one) ends
        # Gradio's implicit tab group and starts a second tab bar, leaving the first tab on screen above the others.
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Predict"):
                with gr.Row():
                    with gr.Column():
                        text = gr.Textbox(
                            label="Text",
                            lines=3,
                            placeholder="Type or paste a post, review or comment",
                            elem_id="text-input",
                        )
                        predict_btn = gr.Button("Classify", variant="primary", elem_id="predict-button")
                        gr.Examples(EXAMPLES, inputs=text, label="Examples (negative, neutral, positive)")
                    with gr.Column():
                        label = gr.Label(label="Sentiment", num_top_classes=3, elem_id="label-output")
                        details = gr.JSON(label="Details", elem_id="prediction-details")
                        judged = feedback_row(service, user_errors, details)
                with gr.Accordion("Several texts (one per line)", open=False):
                    many = gr.Textbox(label="Texts", lines=6, placeholder="one text per line")
                    many_btn = gr.Button("Classify all")
                    table = gr.Dataframe(
                        pd.DataFrame(columns=PREDICTION_COLUMNS), label="Predictions", wrap=True, elem_id="predictions"
                    )
            predict_btn.click(
                predict,
                text,
                [label, details],
                api_name="predict",
                api_description="Classify one text: the label with all three probabilities.",
                show_progress_on=label,
                concurrency_id="predict",
                **predict_options,
            ).success(keep_text, text, judged, api_visibility="private", show_progress="hidden")
            text.submit(
                predict,
                text,
                [label, details],
                api_visibility="undocumented",
                show_progress_on=label,
                concurrency_id="predict",
                **predict_options,
            ).success(keep_text, text, judged, api_visibility="private", show_progress="hidden")
            many_btn.click(
                predict_batch,
                many,
                table,
                api_name="predict_batch",
                api_description="Classify several texts, one per line: a table of labels and probabilities.",
            )
            batch_tab(service, user_errors)
            evaluation_tab(service, user_errors, demo)
            monitoring_tab(service, user_errors)
            models_tab(service, user_errors)
            label_tab(service, user_errors)
            if retrain is not None:
                retrain_tab(service, retrain, user_errors, header=(model_md, model_info))
        feedback_api(service, user_errors)  # API only: registered outside the tab bar
        review_api(service, user_errors)
        if retrain is not None:
            retrain_api(service, retrain, user_errors)
        demo.load(
            model_info,
            None,
            model_md,
            api_name="model_info",
            api_description="Which model serves (name, source, revision), as the page header says it.",
        )
    return demo
