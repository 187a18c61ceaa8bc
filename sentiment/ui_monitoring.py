"""The Monitoring tab: traffic, label mix, confidence now vs the reference, drift results and scheduled jobs.

``/run_drift_check`` and ``/run_evaluation`` run the scheduled jobs on demand (through the scheduler when the app
runs one, so the job metrics count them too); ``/monitoring`` returns the figures.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import pandas as pd

from sentiment.service import SentimentService


def _stamp(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else "-"


def _jobs_frame(service: SentimentService) -> pd.DataFrame:
    if service.jobs is None:
        return pd.DataFrame([{"job": "-", "outcome": "the scheduler is not running in this process"}])
    rows = []
    for status in service.jobs.runner.statuses.values():
        rows.append(
            {
                "job": status.name,
                "every (s)": status.interval_s,
                "last run (UTC)": _stamp(status.last_run),
                "outcome": status.last_outcome,
                "last success (UTC)": _stamp(status.last_success),
                "runs": status.runs,
                "failures": status.failures,
                "error": status.last_error or "",
            }
        )
    return pd.DataFrame(rows)


def _drift_frame(report: dict[str, Any] | None) -> pd.DataFrame:
    if not report or not report["results"]:
        return pd.DataFrame(columns=["feature", "test", "statistic", "p_value", "adjusted_p_value", "level"])
    frame = pd.DataFrame(report["results"])[
        ["feature", "test", "statistic", "p_value", "adjusted_p_value", "level", "n_reference", "n_current"]
    ]
    return frame.round({"statistic": 4, "p_value": 6, "adjusted_p_value": 6})


def _status_markdown(service: SentimentService, overview: dict[str, Any]) -> str:
    report = overview["report"]
    if report is None:
        drift = "no drift check yet"
    elif report["status"] == "insufficient_data":
        drift = f"**not enough data**: {report['window_size']} predictions, {report['min_window']} needed"
    else:
        drift = f"**{report['status']}** on the last {report['window_size']} predictions"
    return f"Logged predictions: **{overview['logged']:,}** - drift: {drift}"


def monitoring_tab(service: SentimentService, wrap: Any) -> None:
    admin = service.admin_enabled

    def refresh() -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        overview = service.monitoring.overview()
        return (
            _status_markdown(service, overview),
            overview["traffic"],
            overview["labels"],
            overview["confidence"],
            _drift_frame(overview["report"]),
            _jobs_frame(service),
        )

    def run_job(name: str) -> Any:
        if service.jobs is not None:
            outcome = service.jobs.run_now(name)
            status = service.jobs.runner.statuses[name]
            if outcome != "success":
                raise gr.Error(f"{name} {outcome}: {status.last_error}")
        elif name == "drift_check":
            service.monitoring.check_drift()
        else:
            from scheduler.jobs import evaluation_job

            evaluation_job(service)

    @wrap
    def run_drift_check(admin_token: str) -> dict[str, Any]:
        service.check_admin(admin_token)
        run_job("drift_check")
        report = service.monitoring.last_report
        return report.as_dict() if report else {}

    @wrap
    def run_evaluation(admin_token: str) -> list[dict[str, Any]]:
        service.check_admin(admin_token)
        run_job("evaluation")
        return service.evaluation.history(len(service.settings.evaluation_datasets))

    @wrap
    def pin_reference(admin_token: str, rows: int = 0) -> dict[str, Any]:
        """Freeze the newest ``rows`` production predictions (0: one drift window) as the reference."""
        service.check_admin(admin_token)
        return service.monitoring.pin_reference(rows or None).summary()

    def monitoring() -> dict[str, Any]:
        overview = service.monitoring.overview()
        return {
            "logged": overview["logged"],
            "drift": overview["report"],
            "label_mix": overview["labels"].to_dict(orient="records"),
            "jobs": _jobs_frame(service).to_dict(orient="records"),
        }

    with gr.Tab("Monitoring"):
        status = gr.Markdown(elem_id="monitoring-status")
        with gr.Row():
            refresh_btn = gr.Button("Refresh")
            drift_btn = gr.Button("Run drift check now", elem_id="drift-button")
            eval_btn = gr.Button("Run evaluation now")
            token = gr.Textbox(label="Admin token (to run jobs)", type="password")
        with gr.Row():
            traffic = gr.BarPlot(x="time", y="n", color="label", label="Predictions per minute (24 h)", height=260)
            labels = gr.BarPlot(
                x="label", y="count", label="Label mix (last drift window)", height=260, y_lim=[0, None]
            )
            confidence = gr.BarPlot(
                x="confidence",
                y="share",
                color="sample",
                label="Confidence: current vs reference",
                height=260,
                y_lim=[0, None],
            )
        drift = gr.Dataframe(label="Latest drift check (Holm-adjusted p-values)", elem_id="drift-results")
        jobs = gr.Dataframe(label="Scheduled jobs")
        report = gr.JSON(label="Last job result", visible=True)

        outputs = [status, traffic, labels, confidence, drift, jobs]
        refresh_btn.click(
            refresh, None, outputs, api_name="monitoring_view", api_description="The Monitoring tab's figures."
        )
        visibility = "public" if admin else "private"
        drift_btn.click(
            run_drift_check,
            token,
            report,
            api_name="run_drift_check",
            api_visibility=visibility,
            api_description="Run a drift check now; returns its report.",
        ).then(refresh, None, outputs)
        eval_btn.click(
            run_evaluation,
            token,
            report,
            api_name="run_evaluation",
            api_visibility=visibility,
            api_description="Run the scheduled evaluation now; returns its reports.",
        ).then(refresh, None, outputs)
        gr.api(
            pin_reference,
            api_name="pin_reference",
            api_visibility=visibility,
            api_description="Freeze the newest N production predictions as the drift reference of this model.",
        )
        gr.api(monitoring, api_name="monitoring", api_description="Logged count, last drift report, label mix, jobs.")
