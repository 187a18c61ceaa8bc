"""The Evaluate tab: pick models, a dataset (or a labelled upload), split, sample size and seed; see metrics (ECE
included), per-class tables, confusion-matrix heatmaps, reliability diagrams, the paired comparison and past
evaluations.

API endpoints: ``/evaluate_models`` returns what the tab shows (rounded tables); ``/evaluate`` and ``/compare``
return the reports as JSON at full precision; ``/evaluations`` lists past runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from sentiment.datasets import DATASETS, SPLITS
from sentiment.datasets.label_map import LabelMapping
from sentiment.errors import StoreError
from sentiment.evaluation.report import EvaluationResult
from sentiment.evaluation.store import COLUMNS as HISTORY_COLUMNS
from sentiment.evaluation.uncertainty import PairedComparison
from sentiment.models.spec import offered_models
from sentiment.service.serving import SentimentService
from sentiment.web.ui.api import PRIVATE, api_endpoint
from sentiment.web.ui.figures import model_figures

NONE = "(none)"
DEFAULT_SAMPLE = 500  # rows of a registry dataset the tab starts with (and the API's when none is given); a file: all
logger = logging.getLogger(__name__)


# The figures first and the long texts (which rows, which labels) last, where they wrap: the table fits the page.
METRIC_COLUMNS = [
    "model",
    "dataset",
    "split",
    "n",
    "accuracy",
    "accuracy 95% CI",
    "macro-F1",
    "macro-F1 95% CI",
    "weighted-F1",
    "ECE",
    "seed",
    "rows used",
    "labels",
]
METRIC_WIDTHS: list[str | int] = ["8%", "10%", "5%", "4%", "7%", "8%", "7%", "8%", "7%", "5%", "5%", "16%", "10%"]
CLASS_COLUMNS = ["model", "class", "precision", "recall", "F1", "support"]
COMPARISON_COLUMNS = ["metric", "B minus A", "95% interval", "test", "p-value", "verdict"]
SIGNIFICANCE = 0.05


def _mapping_text(mapping: LabelMapping | None) -> str:
    if mapping is None:
        return "dataset's own"
    return f"{mapping.rule}: " + ", ".join(f"{k} -> {v}" for k, v in sorted(mapping.mapping.items()))


def metrics_table(results: list[EvaluationResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        m, acc, f1 = r.metrics, r.intervals.accuracy, r.intervals.macro_f1
        rows.append(
            {
                "model": r.model,
                "dataset": r.dataset,
                "split": r.split,
                "n": r.n,
                "rows used": f"{r.rows.used} of {r.rows.total}: {r.rows.why}",
                "labels": _mapping_text(r.label_mapping),
                "seed": r.seed,
                "accuracy": round(m.accuracy, 3),
                "accuracy 95% CI": f"{acc.low:.3f}-{acc.high:.3f}",
                "macro-F1": round(m.macro_f1, 3),
                "macro-F1 95% CI": f"{f1.low:.3f}-{f1.high:.3f}",
                "weighted-F1": round(m.weighted_f1, 3),
                "ECE": round(r.calibration.ece, 3) if r.calibration else None,
            }
        )
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def per_class_table(results: list[EvaluationResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        for label, c in r.metrics.per_class.items():
            rows.append(
                {
                    "model": r.model,
                    "class": label,
                    "precision": round(c.precision, 4),
                    "recall": round(c.recall, 4),
                    "F1": round(c.f1, 4),
                    "support": c.support,
                }
            )
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)


def _p_value(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _verdict(difference: float, significant: bool, model_a: str, model_b: str) -> str:
    if not significant:
        return "no significant difference"
    return f"{model_b if difference > 0 else model_a} is better"


def comparison_table(comparison: PairedComparison | None, model_a: str, model_b: str) -> pd.DataFrame:
    """The paired comparison for reading: one row per metric with the test that decided it, rounded. Programs get
    the full-precision figures from ``/compare``.

    macro-F1 is significant when its paired-bootstrap interval excludes 0 (the rule of ``paired_comparison``);
    accuracy when the exact McNemar test on the rows only one model got right gives p < 0.05."""
    if not comparison:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    interval = comparison.macro_f1_interval
    f1_diff, acc_diff = comparison.macro_f1_difference, comparison.accuracy_difference
    mcnemar = comparison.mcnemar_p_value
    rows = [
        [
            "macro-F1",
            f"{f1_diff:+.3f}",
            f"{interval.low:+.3f} to {interval.high:+.3f}",
            "paired bootstrap",
            _p_value(comparison.bootstrap_p_value),
            _verdict(f1_diff, comparison.significant, model_a, model_b),
        ],
        [
            "accuracy",
            f"{acc_diff:+.3f}",
            "-",
            f"exact McNemar ({comparison.only_a_correct} rows only A right, {comparison.only_b_correct} only B)",
            _p_value(mcnemar),
            _verdict(acc_diff, mcnemar < SIGNIFICANCE, model_a, model_b),
        ],
    ]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def evaluation_tab(service: SentimentService, wrap: Any, demo: gr.Blocks) -> None:
    """Build the tab inside ``demo``; ``wrap`` turns domain errors into ``gr.Error``."""
    evaluation = service.evaluation
    models = offered_models(service.settings.hub_model)
    serving = service.settings.model if service.settings.model != "auto" else "embedded"

    def _size(value: float | None) -> int | None:
        return int(value) if value else None

    # API-only endpoints: gr.api builds their inputs from the type hints (it takes no gr.Progress).
    @wrap
    def evaluate(model: str, dataset: str, split: str = "test", sample_size: int = 0, seed: int = 0) -> dict[str, Any]:
        return evaluation.evaluate(model, dataset, split, _size(sample_size), int(seed or 0)).as_dict()

    @wrap
    def compare(
        model_a: str, model_b: str, dataset: str, split: str = "test", sample_size: int = 0, seed: int = 0
    ) -> dict[str, Any]:
        return evaluation.compare(model_a, model_b, dataset, split, _size(sample_size), int(seed or 0)).as_dict()

    @wrap
    def past_evaluations(limit: int = 50) -> list[dict[str, Any]]:
        return [record.as_dict() for record in evaluation.history(limit)]

    @wrap
    def history() -> pd.DataFrame:
        try:
            records = [record.as_dict() for record in evaluation.history(50)]
            frame = pd.DataFrame(records, columns=list(HISTORY_COLUMNS))
        except (StoreError, SQLAlchemyError) as exc:  # an unreadable store must not hide the evaluation just run
            reason = str(exc).strip().splitlines()[0]  # the driver's line, not the SQL SQLAlchemy appends
            logger.error("evaluation history unreadable (%s)", reason)
            return pd.DataFrame({"history unavailable": [f"{type(exc).__name__}: {reason}"]})
        if not frame.empty:
            frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
            frame[["accuracy", "macro_f1"]] = frame[["accuracy", "macro_f1"]].round(4)
        return frame

    @wrap
    def run(
        model_a: str,
        model_b: str,
        dataset: str,
        split: str | None = None,
        sample_size: float | None = None,
        seed: float | None = 0,
        upload: str | None = None,
        label_map: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame, pd.DataFrame]:
        uploaded = Path(upload) if upload else None
        size = DEFAULT_SAMPLE if sample_size is None and uploaded is None else _size(sample_size)
        report_progress = lambda f, d: progress(f, desc=d)  # noqa: E731
        rows: dict[str, Any] = {  # which rows and how they are read: the same for one model or two
            "split": split or None,
            "sample_size": size,
            "seed": int(seed or 0),
            "uploaded": uploaded,
            "progress": report_progress,
            "label_map": label_map,
        }
        if model_b and model_b != NONE:
            pair = evaluation.compare(model_a, model_b, dataset, **rows)
            reports = [pair.a, pair.b]
            comparison = comparison_table(pair.comparison.paired, pair.a.result.model, pair.b.result.model)
        else:
            reports = [evaluation.evaluate(model_a, dataset, **rows)]
            comparison = comparison_table(None, model_a, model_b)
        for report in reports:
            if report.warning:
                gr.Warning(report.warning)  # the figures are shown; the history could not keep them
        results = [report.result for report in reports]
        return metrics_table(results), per_class_table(results), model_figures(results), comparison, history()

    with gr.Tab("Evaluate"):
        with gr.Row():
            model_a = gr.Dropdown(models, value=serving, label="Model A", allow_custom_value=True)
            model_b = gr.Dropdown([NONE, *models], value="vader", label="Model B (comparison)", allow_custom_value=True)
            dataset = gr.Dropdown(list(DATASETS), value="vader_tweets", label="Dataset")
            split = gr.Radio(list(SPLITS), value=None, label="Split (none chosen: test; an upload: the whole file)")
        with gr.Row():
            # The box shows the rows that will run: 500 of a registry dataset, 0 (all) once a file is uploaded.
            sample_size = gr.Number(
                value=DEFAULT_SAMPLE,
                precision=0,
                minimum=0,
                label="Sample size (rows drawn at random; 0 = all rows)",
                elem_id="sample-size",
            )
            seed = gr.Number(value=0, precision=0, label="Seed")
            upload = gr.File(label="Or a labelled CSV (text + label columns)")  # content decides, not the name
            label_map = gr.Textbox(
                label="Label map (when the file's labels are not class names or -1/0/1)",
                placeholder="e.g. 0:negative,1:neutral,2:positive",
            )
        button = gr.Button("Evaluate", variant="primary", elem_id="evaluate-button")
        table = gr.Dataframe(
            metrics_table([]),
            label="Metrics",
            elem_id="evaluation-metrics",
            wrap=True,
            column_widths=METRIC_WIDTHS,  # every column on the page; the long texts wrap
        )
        classes = gr.Dataframe(per_class_table([]), label="Per class", elem_id="evaluation-classes")
        heatmap = gr.HTML(label="Confusion matrix and reliability diagram", elem_id="evaluation-confusion")
        comparison = gr.Dataframe(
            comparison_table(None, "", ""),
            label="Comparison: B minus A on the same rows (significance level 5%)",
            elem_id="evaluation-comparison",
            wrap=True,
        )
        past = gr.Dataframe(
            pd.DataFrame(columns=list(HISTORY_COLUMNS)), label="Past evaluations", elem_id="evaluation-history"
        )

        button.click(
            run,
            [model_a, model_b, dataset, split, sample_size, seed, upload, label_map],
            [table, classes, heatmap, comparison, past],
            api_name="evaluate_models",
            api_description="Evaluate model A (and compare with B) as the Evaluate tab shows it: rounded tables.",
            show_progress_on=table,
        )
        demo.load(history, None, past, api_visibility=PRIVATE, show_progress="hidden")
        # an uploaded file is the visitor's own test set: evaluated whole unless they ask for fewer rows
        upload.upload(lambda: 0, None, sample_size, api_visibility=PRIVATE, show_progress="hidden")
        upload.clear(lambda: DEFAULT_SAMPLE, None, sample_size, api_visibility=PRIVATE, show_progress="hidden")
        api_endpoint(
            evaluate,
            "evaluate",
            "Evaluate one model on a dataset split; returns the report as JSON.",
            returns=["report"],
        )
        api_endpoint(
            compare,
            "compare",
            "Evaluate two models on the same rows; returns both reports and the paired tests at full precision.",
            returns=["reports and comparison"],
        )
        api_endpoint(past_evaluations, "evaluations", "Past evaluations, newest first.", returns=["evaluations"])
