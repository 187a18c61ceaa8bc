"""The Evaluate tab: pick models, a dataset (or a labelled upload), split, sample size and seed; see metrics,
per-class tables, confusion-matrix heatmaps, the paired comparison and past evaluations.

API endpoints: ``/evaluate`` and ``/compare`` return the reports as JSON; ``/evaluations`` lists past runs.
"""

from __future__ import annotations

import html
import logging
import sqlite3
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from sentiment.datasets import DATASETS, SPLITS
from sentiment.labels import LABELS
from sentiment.service import SentimentService

NONE = "(none)"
DEFAULT_SAMPLE = 500  # rows of a registry dataset when no sample size is given; an upload is evaluated whole
logger = logging.getLogger(__name__)


def confusion_html(report: dict[str, Any], title: str) -> str:
    """A confusion matrix as an HTML heatmap: rows are true classes, columns predictions, shade is the row share."""
    matrix = report["metrics"]["confusion"]
    head = "".join(f"<th>{label}</th>" for label in LABELS)
    rows = []
    for i, label in enumerate(LABELS):
        total = max(sum(matrix[i]), 1)
        cells = []
        for count in matrix[i]:
            share = count / total
            color = f"rgba(37, 99, 235, {0.08 + 0.85 * share:.2f})"
            text = "#fff" if share > 0.5 else "inherit"
            cells.append(f'<td style="background:{color};color:{text};text-align:center;padding:6px">{count}</td>')
        rows.append(f"<tr><th style='text-align:right;padding:6px'>{label}</th>{''.join(cells)}</tr>")
    return (
        f"<div><b>{html.escape(title)}</b> (rows: true, columns: predicted)"
        f"<table class='confusion'><tr><th></th>{head}</tr>{''.join(rows)}</table></div>"
    )


def _mapping_text(mapping: dict[str, Any] | None) -> str:
    if not mapping:
        return "dataset's own"
    return f"{mapping['rule']}: " + ", ".join(f"{k} -> {v}" for k, v in mapping["map"].items())


def metrics_table(reports: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in reports:
        m, ci = r["metrics"], r["intervals"]
        rows.append(
            {
                "model": r["model"],
                "dataset": r["dataset"],
                "split": r["split"],
                "n": r["n"],
                "rows used": f"{r['rows']['used']} of {r['rows']['total']}: {r['rows']['why']}",
                "labels": _mapping_text(r.get("label_mapping")),
                "seed": r["seed"],
                "accuracy": round(m["accuracy"], 4),
                "accuracy 95% CI": f"{ci['accuracy']['low']:.3f}-{ci['accuracy']['high']:.3f}",
                "macro-F1": round(m["macro_f1"], 4),
                "macro-F1 95% CI": f"{ci['macro_f1']['low']:.3f}-{ci['macro_f1']['high']:.3f}",
                "weighted-F1": round(m["weighted_f1"], 4),
            }
        )
    return pd.DataFrame(rows)


def per_class_table(reports: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in reports:
        for label, c in r["metrics"]["per_class"].items():
            rows.append(
                {
                    "model": r["model"],
                    "class": label,
                    "precision": round(c["precision"], 4),
                    "recall": round(c["recall"], 4),
                    "F1": round(c["f1"], 4),
                    "support": c["support"],
                }
            )
    return pd.DataFrame(rows)


def evaluation_tab(service: SentimentService, wrap: Any) -> None:
    """Build the tab inside the current Blocks; ``wrap`` turns domain errors into ``gr.Error``."""
    evaluation = service.evaluation
    models = ["embedded", "vader", service.settings.hub_model]
    serving = service.settings.model if service.settings.model != "auto" else "embedded"

    def _size(value: float | None) -> int | None:
        return int(value) if value else None

    # API-only endpoints: gr.api builds their inputs from the type hints (it takes no gr.Progress).
    @wrap
    def evaluate(model: str, dataset: str, split: str = "test", sample_size: int = 0, seed: int = 0) -> dict[str, Any]:
        return evaluation.evaluate(model, dataset, split, _size(sample_size), int(seed or 0))

    @wrap
    def compare(
        model_a: str, model_b: str, dataset: str, split: str = "test", sample_size: int = 0, seed: int = 0
    ) -> dict[str, Any]:
        return evaluation.compare(model_a, model_b, dataset, split, _size(sample_size), int(seed or 0))

    def past_evaluations(limit: int = 50) -> list[dict[str, Any]]:
        return evaluation.history(limit)

    def history() -> pd.DataFrame:
        try:
            frame = pd.DataFrame(evaluation.history(50))
        except sqlite3.Error as exc:  # an unreadable store must not hide the evaluation just run
            logger.error("evaluation history unreadable (%s)", exc)
            return pd.DataFrame({"history unavailable": [f"{type(exc).__name__}: {exc}"]})
        if not frame.empty:
            frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
            frame[["accuracy", "macro_f1"]] = frame[["accuracy", "macro_f1"]].round(4)
        return frame

    @wrap
    def run(
        model_a: str,
        model_b: str,
        dataset: str,
        split: str,
        sample_size: float | None,
        seed: float | None,
        upload: str | None,
        label_map: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[pd.DataFrame, pd.DataFrame, str, dict[str, Any] | None, pd.DataFrame]:
        uploaded = Path(upload) if upload else None
        size = DEFAULT_SAMPLE if sample_size is None and uploaded is None else _size(sample_size)
        report_progress = lambda f, d: progress(f, desc=d)  # noqa: E731
        if model_b and model_b != NONE:
            result = evaluation.compare(
                model_a,
                model_b,
                dataset,
                split or None,
                size,
                int(seed or 0),
                uploaded,
                report_progress,
                label_map=label_map,
            )
            reports, comparison = [result["a"], result["b"]], result["comparison"]
        else:
            reports = [
                evaluation.evaluate(
                    model_a,
                    dataset,
                    split or None,
                    size,
                    int(seed or 0),
                    uploaded,
                    report_progress,
                    label_map=label_map,
                )
            ]
            comparison = None
        for report in reports:
            if report.get("warning"):
                gr.Warning(report["warning"])  # the figures are shown; the history could not keep them
        heatmaps = "".join(confusion_html(r, r["model"]) for r in reports)
        return metrics_table(reports), per_class_table(reports), heatmaps, comparison, history()

    with gr.Tab("Evaluate"):
        with gr.Row():
            model_a = gr.Dropdown(models, value=serving, label="Model A", allow_custom_value=True)
            model_b = gr.Dropdown([NONE, *models], value="vader", label="Model B (comparison)", allow_custom_value=True)
            dataset = gr.Dropdown(list(DATASETS), value="vader_tweets", label="Dataset")
            split = gr.Radio(list(SPLITS), value=None, label="Split (none chosen: test; an upload: the whole file)")
        with gr.Row():
            sample_size = gr.Number(
                value=None, precision=0, minimum=0, label="Sample size (empty: 500, an upload whole; 0 = all)"
            )
            seed = gr.Number(value=0, precision=0, label="Seed")
            upload = gr.File(label="Or a labelled CSV (text + label columns)")  # content decides, not the name
            label_map = gr.Textbox(
                label="Label map (when the file's labels are not class names or -1/0/1)",
                placeholder="e.g. 0:negative,1:neutral,2:positive",
            )
        button = gr.Button("Evaluate", variant="primary", elem_id="evaluate-button")
        table = gr.Dataframe(label="Metrics", elem_id="evaluation-metrics")
        classes = gr.Dataframe(label="Per class")
        heatmap = gr.HTML(label="Confusion matrix")
        comparison = gr.JSON(label="Comparison (B minus A, paired on the same rows)")
        past = gr.Dataframe(label="Past evaluations", value=history)

        button.click(
            run,
            [model_a, model_b, dataset, split, sample_size, seed, upload, label_map],
            [table, classes, heatmap, comparison, past],
            api_name="evaluate_models",
            api_description="Evaluate model A (and compare with B) as the Evaluate tab shows it.",
        )
        gr.api(
            evaluate,
            api_name="evaluate",
            api_description="Evaluate one model on a dataset split; returns the report as JSON.",
        )
        gr.api(
            compare,
            api_name="compare",
            api_description="Evaluate two models on the same rows; returns both reports and the paired test.",
        )
        gr.api(past_evaluations, api_name="evaluations", api_description="Past evaluations, newest first.")
