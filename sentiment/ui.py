"""The Gradio Blocks: a thin layer over ``SentimentService``.

Every event has an explicit ``api_name`` so programs call the same actions a person clicks (``/predict``,
``/predict_batch``, ``/inspect_csv``, ``/score_csv``, ``/model_info``). Domain errors become ``gr.Error`` here and
only here, so the browser and ``gradio_client`` both receive the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import pandas as pd

from sentiment.batch import BatchInputError, label_counts_frame
from sentiment.datasets import DatasetUnavailableError
from sentiment.labels import LABELS
from sentiment.models import ModelLoadError
from sentiment.predictor import InvalidTextError
from sentiment.service import AccessDeniedError, ModelUnavailableError, SentimentService
from sentiment.ui_evaluation import evaluation_tab
from sentiment.ui_models import models_tab
from sentiment.ui_monitoring import monitoring_tab

logger = logging.getLogger(__name__)

EXAMPLES = [
    "I love how friendly the staff were, best flight I've had in years!",
    "The package arrived on Tuesday and contains two cables.",
    "@support my order is three weeks late and nobody answers. Worst service ever.",
]
TITLE = "Sentiment analysis: negative / neutral / positive"
F = TypeVar("F", bound=Callable[..., Any])
_USER_ERRORS = (
    InvalidTextError,
    BatchInputError,
    ModelUnavailableError,
    ModelLoadError,
    DatasetUnavailableError,
    AccessDeniedError,
    ValueError,
)


def user_errors(fn: F) -> F:
    """Turn domain errors into ``gr.Error`` (shown in the UI, raised by ``gradio_client``); log real bugs."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except _USER_ERRORS as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        except Exception as exc:
            logger.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"internal error ({type(exc).__name__}); it has been logged") from exc

    return wrapper  # type: ignore[return-value]


def _model_markdown(service: SentimentService) -> str:
    health = service.health()
    if health["model"] is None:
        return f"**Model**: {health['status']}" + (f" - {health['error']}" if health["error"] else "")
    info = health["model"]
    note = f"  \n_{info['note']}_" if info["note"] else ""
    return f"**Model**: `{info['name']}` ({info['source']}, `{info['revision']}`){note}"


def build_blocks(service: SentimentService) -> gr.Blocks:
    @user_errors
    def predict(text: str) -> tuple[dict[str, float], dict[str, Any]]:
        prediction = service.predict(text)
        details = {
            "label": prediction.label,
            "scores": prediction.scores,
            "truncated": prediction.truncated,
            "model": prediction.model,
        }
        return prediction.scores, details

    @user_errors
    def predict_batch(texts: str) -> pd.DataFrame:
        lines = [line for line in (texts or "").splitlines() if line.strip()]
        if not lines:
            raise InvalidTextError("no text: enter one text per line")
        rows = []
        for line, p in zip(lines, service.predict_many(lines), strict=True):
            scores = [round(p.scores.get(label, float("nan")), 4) for label in LABELS]
            rows.append([line, p.label or "", *scores, p.truncated, p.error or ""])
        return pd.DataFrame(rows, columns=["text", "label", *(f"score_{x}" for x in LABELS), "truncated", "error"])

    @user_errors
    def inspect_csv(file: str | None) -> tuple[dict[str, Any], str]:
        if not file:
            return gr.update(choices=[], value=None), ""
        fmt, guess = service.inspect_file(Path(file))
        sep = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(fmt.delimiter, repr(fmt.delimiter))
        note = f"{len(fmt.columns)} columns, {sep}-separated, {fmt.encoding}"
        note += "" if guess else "; choose the text column"
        return gr.update(choices=fmt.columns, value=guess), note

    @user_errors
    def score_csv(
        file: str | None,
        text_column: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it)
    ) -> tuple[str, dict[str, Any], pd.DataFrame]:
        if not file:
            raise BatchInputError("no file: upload a CSV, TSV or text file first")
        if not Path(file).exists():
            raise BatchInputError(
                "the uploaded file has expired (uploads are kept for a limited time): upload it again"
            )
        progress(0, desc="reading")
        scored = service.score_file(Path(file), text_column or None, progress=lambda f, d: progress(f, desc=d))
        return str(scored.path), scored.summary.as_dict(), label_counts_frame(scored.summary)

    def model_info() -> str:
        return _model_markdown(service)

    # Uploads and results in Gradio's cache are deleted once older than the retention (checked every 10 min):
    # deleting an upload right after use would break clients that reuse it (gradio_client uploads a file once).
    retention = max(1, int(service.settings.batch_retention_s))  # Gradio reads 0 as "never delete"
    with gr.Blocks(title=TITLE, delete_cache=(min(600, retention), retention)) as demo:
        gr.Markdown(f"# {TITLE}")
        model_md = gr.Markdown(_model_markdown(service), elem_id="model-info")
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
                    details = gr.JSON(label="Details")
            with gr.Accordion("Several texts (one per line)", open=False):
                many = gr.Textbox(label="Texts", lines=6, placeholder="one text per line")
                many_btn = gr.Button("Classify all")
                table = gr.Dataframe(label="Predictions", wrap=True)
        with gr.Tab("Batch (CSV)"):
            gr.Markdown(
                "Upload a CSV, TSV or text file (one text per line). The result is the same file with `label` and "
                f"`score_negative/neutral/positive` columns added. Limit: {service.settings.max_upload_mb:g} MB."
            )
            with gr.Row():
                with gr.Column():
                    # No ``file_types``: Gradio would refuse by extension before the service reads the content (a
                    # table saved as .dat or without a name, uncounted, with a traceback); the reader decides.
                    upload = gr.File(label="File", elem_id="csv-upload")
                    column = gr.Dropdown(label="Text column", choices=[], allow_custom_value=True)
                    file_note = gr.Markdown()
                    score_btn = gr.Button("Score file", variant="primary", elem_id="score-button")
                with gr.Column():
                    result_file = gr.File(label="Scored file", elem_id="csv-result")
                    summary = gr.JSON(label="Summary")
                    chart = gr.BarPlot(
                        x="label", y="count", label="Predicted classes", sort=list(LABELS), y_lim=[0, None]
                    )

        predict_btn.click(
            predict,
            text,
            [label, details],
            api_name="predict",
            api_description="Classify one text: the label with all three probabilities.",
            concurrency_limit=service.settings.predict_concurrency,
            concurrency_id="predict",
        )
        text.submit(
            predict,
            text,
            [label, details],
            api_visibility="undocumented",
            concurrency_limit=service.settings.predict_concurrency,
            concurrency_id="predict",
        )
        many_btn.click(
            predict_batch,
            many,
            table,
            api_name="predict_batch",
            api_description="Classify several texts, one per line: a table of labels and probabilities.",
        )
        upload.change(
            inspect_csv,
            upload,
            [column, file_note],
            api_name="inspect_csv",
            api_description="Columns of an uploaded file and the guessed text column.",
        )
        score_btn.click(
            score_csv,
            [upload, column],
            [result_file, summary, chart],
            api_name="score_csv",
            api_description="Score a CSV/TSV/text file; returns the scored file and a summary.",
        )
        evaluation_tab(service, user_errors)
        monitoring_tab(service, user_errors)
        models_tab(service, user_errors)
        demo.load(
            model_info,
            None,
            model_md,
            api_name="model_info",
            api_description="Which model serves (name, source, revision).",
        )
    return demo
