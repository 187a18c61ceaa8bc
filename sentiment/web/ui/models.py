"""The Models tab: which model serves, the fine-tuning runs, and switching (admin only) with rollback.

``/switch_model`` needs the admin token and is hidden from the public API listing when no token is set; the Switch
button is then disabled and says why. The tab's figures are loaded each time it is opened.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import pandas as pd

from sentiment.models.runs import list_runs
from sentiment.models.spec import offered_models
from sentiment.service.serving import SentimentService
from sentiment.web.ui.api import PRIVATE, api_endpoint, on_open
from sentiment.web.ui.model_card import model_card, note_sentence

RUN_COLUMNS = ["run", "base", "datasets", "best epoch", "minutes", "test macro-F1"]
ADMIN_OFF = "Switching is off: no admin token is set (`SENTIMENT_ADMIN_TOKEN`)."
NO_RUNS = (
    "No fine-tuning runs in this app's data folder yet. Train one with `python -m finetune` (it writes a run under "
    "`data/runs/`); it then appears here and in the model menu above, ready to switch to."
)


def models_tab(service: SentimentService, wrap: Any) -> None:
    admin_enabled = service.admin_enabled

    def runs_frame() -> pd.DataFrame:
        rows = [
            {
                "run": r["run"],
                "base": r.get("base"),
                "datasets": ", ".join(r.get("datasets", [])),
                "best epoch": r.get("best_epoch"),
                "minutes": round(r.get("seconds", 0) / 60, 1),
                "test macro-F1": ", ".join(f"{k} {v:.3f}" for k, v in r.get("test", {}).items()),
            }
            for r in list_runs(service.settings.data_dir)
        ]
        return pd.DataFrame(rows, columns=RUN_COLUMNS)

    @wrap
    def serving() -> dict[str, Any]:
        info = service.model_info
        return {
            "serving": info.as_dict() if info else None,
            "spec": service.serving_spec,
            "previously_served": list(reversed(service.served)),
        }

    def shown() -> tuple[str, dict[str, Any]]:
        """The card and, for its details, the same figures as JSON with the load note in words: the technical
        note (exception names, hosts) is for ``/health`` and the log."""
        figures = serving()
        hub_model = service.settings.hub_model
        if figures["serving"] is not None:
            figures["serving"] = {**figures["serving"], "note": note_sentence(figures["serving"]["note"], hub_model)}
        health = service.health()
        return model_card(figures, service.serving_since, time.time(), health, hub_model), figures

    @wrap
    def switch_model(spec: str, admin_token: str) -> dict[str, Any]:
        service.switch_model(spec, admin_token)
        return serving()

    def choices() -> list[str]:
        return [*offered_models(service.settings.hub_model), *(r["run"] for r in list_runs(service.settings.data_dir))]

    @wrap
    def tab_view() -> tuple[str, dict[str, Any], pd.DataFrame, Any]:
        card, figures = shown()
        runs = runs_frame()
        return card, figures, runs, gr.Markdown(NO_RUNS, visible=runs.empty)

    @wrap
    def card_view() -> tuple[str, dict[str, Any]]:
        return shown()

    with gr.Tab("Models") as tab:
        card = gr.Markdown(elem_id="serving-now")
        with gr.Accordion("Details (JSON)", open=False, elem_id="serving-details"):
            current = gr.JSON(label="Serving now", elem_id="serving-json")
        with gr.Row():
            spec = gr.Dropdown(
                choices(), value="embedded", label="Model (registry name, Hub id or run)", allow_custom_value=True
            )
            token = gr.Textbox(label="Admin token", type="password")
            button = gr.Button("Switch", variant="primary", interactive=admin_enabled, elem_id="switch-button")
        gr.Markdown(
            "Switching loads and warms up the new model beside the serving one, then swaps; if it fails, "
            "the current model keeps serving. Roll back by switching to a previously served model."
            + ("" if admin_enabled else f" **{ADMIN_OFF}**"),
            elem_id="switch-note",
        )
        runs = gr.Dataframe(
            pd.DataFrame(columns=RUN_COLUMNS), label="Fine-tuning runs (python -m finetune)", elem_id="runs"
        )
        no_runs = gr.Markdown(NO_RUNS, elem_id="no-runs")
        on_open(tab, tab_view, [card, current, runs, no_runs])
        button.click(
            switch_model,
            [spec, token],
            current,
            api_name="switch_model",
            api_visibility="public" if admin_enabled else PRIVATE,
            api_description="Switch the serving model (admin token required).",
        ).success(card_view, None, [card, current], api_visibility=PRIVATE, show_progress="hidden")
        api_endpoint(serving, "serving_model", "The serving model and the ones served before.", returns=["serving"])
