"""The Monitoring tab: traffic, label mix, confidence now vs the reference, drift results and scheduled jobs.

``/run_drift_check`` and ``/run_evaluation`` run the scheduled jobs on demand (through the scheduler when the app
runs one, so the job metrics count them too): without an admin token they are private and their buttons disabled,
with the reason shown. ``/monitoring`` returns the figures; the tab loads them each time it is opened.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import pandas as pd

from sentiment.monitoring.drift import DriftReport
from sentiment.service.answer import Answer, answer
from sentiment.service.monitoring import MonitoringOverview
from sentiment.service.serving import SentimentService
from sentiment.web.monitoring_figures import HISTORY_SHOWN, monitoring_figures
from sentiment.web.ui.answer import answer_details, answer_markdown
from sentiment.web.ui.api import PRIVATE, api_endpoint, on_open
from sentiment.web.ui.charts import confidence_lines, count_top, share_top, traffic_bars
from sentiment.web.ui.drift_plots import figures_of, history_plot
from sentiment.web.ui.monitoring_tables import JOB_COLUMNS, drift_frame, jobs_frame
from sentiment.web.ui.store_note import store_note

LABEL_COLORS = {"negative": "#dc2626", "neutral": "#9ca3af", "positive": "#16a34a"}
JOBS_OFF = "Running jobs is off: no admin token is set (`SENTIMENT_ADMIN_TOKEN`)."


def _status_markdown(overview: MonitoringOverview, feedback: dict[str, int] | None) -> str:
    """The plain line under the answer: how much is logged, feedback waiting, and what has not happened yet."""
    line = f"Logged predictions: **{overview.logged:,}**"
    if not overview.has_reference:
        line += " - no reference sample yet (the first drift check makes it)"
    if feedback:
        line += "  \n" + feedback_line(feedback)
    return line


def _details_markdown(report: DriftReport | None, the_answer: Answer) -> str:
    """The statistics behind the answer, for the details: the drift check's own reading, and its reference."""
    if report is None:
        return "No drift check yet: the statistics of each test appear here after the first one."
    if report.status == "insufficient_data":
        return f"Last drift check: not enough data, {report.window_size:,} predictions, {report.min_window:,} needed."
    return (
        answer_details(the_answer)
        + f"Reference: {report.reference_source}; the table and pictures below show each test."
    )


def feedback_line(counts: dict[str, int]) -> str:
    """Feedback in one line: how much waits for review, and the conflicts the owner must settle."""
    line = (
        f"Feedback: **{counts['unreviewed']:,}** unreviewed, {counts['accepted']:,} accepted, "
        f"{counts['dropped']:,} dropped"
    )
    if n := counts["conflicts"]:
        line += f" - **{n:,} prediction{'s' if n != 1 else ''} with conflicting labels** (see /review_feedback)"
    return line


def monitoring_tab(service: SentimentService, wrap: Any) -> None:
    admin = service.admin_enabled

    @wrap
    def refresh() -> tuple[str, Any, Any, Any, pd.DataFrame, pd.DataFrame]:
        overview = service.monitoring.overview()
        traffic, minutes = traffic_bars(overview.traffic, time.time())
        bars = "one bar per minute" if minutes == 1 else f"one bar per {minutes} minutes"
        confidence = confidence_lines(overview.confidence)
        return (
            answer_markdown(answer(service)) + _status_markdown(overview, service.feedback.store.counts()),
            gr.BarPlot(traffic, label=f"Predictions in the last 24 hours ({bars})", y_lim=[0, count_top(traffic)]),
            gr.BarPlot(
                overview.labels,
                label=f"Label mix: {overview.window}",
                y_lim=[0, count_top(overview.labels, "count", "label")],
            ),
            gr.LinePlot(confidence, y_lim=[0, share_top(confidence)]),
            drift_frame(overview.report),
            jobs_frame(service),
        )

    @wrap
    def drift_views() -> tuple[str, str, str, str]:
        """The statistics behind the answer (the drift check's reading), the last report's explanation of a
        semantic shift (Markdown, or nothing), what each of its tests compared, and the stored status history: all
        drawn from what the checks themselves kept."""
        report = service.monitoring.last_report
        results = report.as_dict()["results"] if report else []
        history = [record.as_dict() for record in service.monitoring.history.recent(HISTORY_SHOWN)]
        return (
            _details_markdown(report, answer(service)),
            (report.explanation or "" if report else ""),
            figures_of(results),
            history_plot(history),
        )

    @wrap
    def store_view() -> Any:
        """The store note, in an event of its own: it shows even when the figures cannot be read from the store."""
        note = store_note(service.store_status())
        return gr.Markdown(note, visible=bool(note))

    def run_job(name: str) -> Any:
        if service.jobs is not None:
            outcome = service.jobs.run_now(name)
            status = service.jobs.runner.statuses[name]
            if outcome != "success":
                raise gr.Error(f"{name} {outcome}: {status.last_error}")
        elif name == "drift_check":
            service.monitoring.check_drift()
        else:
            from sentiment.service.jobs import evaluation_job

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
        started = time.time()
        run_job("evaluation")
        # this run's reports: one per dataset, and the production one unless it had too few labels
        recent = service.evaluation.history(len(service.settings.evaluation_datasets) + 1)
        return [record.as_dict() for record in recent if record.created_at >= started]

    @wrap
    def pin_reference(admin_token: str, rows: int = 0) -> dict[str, Any]:
        """Freeze the newest ``rows`` production predictions (0: one drift window) as the reference."""
        service.check_admin(admin_token)
        pinned = service.monitoring.pin_reference(rows or None).summary().as_dict()
        return {**pinned, "source": service.monitoring.reference_source}

    @wrap
    def reset_reference(admin_token: str) -> dict[str, Any]:
        """Back to the reference dataset; the next production predictions make a new automatic reference."""
        service.check_admin(admin_token)
        summary = service.monitoring.reset_reference().summary().as_dict()
        return {**summary, "source": service.monitoring.reference_source}

    @wrap
    def monitoring() -> dict[str, Any]:
        return monitoring_figures(service)  # GET /monitoring serves the same (sentiment/web/routes.py)

    with gr.Tab("Monitoring") as tab:
        store = gr.Markdown(visible=False, elem_id="store-note")
        status = gr.Markdown(label="Status", elem_id="monitoring-status")
        with gr.Row():
            refresh_btn = gr.Button("Refresh", elem_id="refresh-button")
            drift_btn = gr.Button("Run drift check now", elem_id="drift-button", interactive=admin)
            eval_btn = gr.Button("Run evaluation now", elem_id="evaluation-button", interactive=admin)
            token = gr.Textbox(label="Admin token (to run jobs)", type="password", interactive=admin)
        if not admin:
            gr.Markdown(f"**{JOBS_OFF}**", elem_id="jobs-note")
        # No plot has a fixed height: Gradio then sizes the chart to the container and clips the legend below it.
        traffic = gr.BarPlot(
            x="time (UTC)",
            y="predictions",
            color="label",
            color_map=LABEL_COLORS,
            label="Predictions in the last 24 hours",
            x_label_angle=-45,
            elem_id="traffic-plot",
        )
        with gr.Row():
            labels = gr.BarPlot(
                x="label",
                y="count",
                label="Label mix: the last drift check's predictions",
                elem_id="labels-plot",
            )
            confidence = gr.LinePlot(
                x="confidence",
                y="share",
                color="sample",
                label="Confidence: current vs reference (share of each sample per bin)",
                x_title="confidence (probability of the predicted label)",
                y_title="share of the sample",
                elem_id="confidence-plot",
            )
        # The statistics behind the answer, closed until asked for: the owner reads the words above first.
        with gr.Accordion("Details: each drift test and its statistics", open=False, elem_id="monitoring-details"):
            statistics = gr.Markdown(elem_id="drift-statistics")
            drift = gr.Dataframe(
                drift_frame(None),
                label="Latest drift check (effect: size / the threshold it must reach; p-values Holm-adjusted)",
                elem_id="drift-results",
            )
            # What changed, when the semantic test fired, what each test compared and the status over time: filled
            # by a page event of their own (``/monitoring_view``'s outputs stay as they are).
            explanation = gr.Markdown(elem_id="drift-explanation")
            pictures = gr.HTML(elem_id="drift-plots")
            timeline = gr.HTML(elem_id="drift-history")
        jobs = gr.Dataframe(pd.DataFrame(columns=JOB_COLUMNS), label="Scheduled jobs", elem_id="jobs")
        report = gr.JSON(label="Last job result", elem_id="job-result")

        outputs = [status, traffic, labels, confidence, drift, jobs]
        on_open(tab, refresh, outputs)
        views = [statistics, explanation, pictures, timeline]
        on_open(tab, drift_views, views)
        on_open(tab, store_view, [store])
        refresh_btn.click(
            store_view, None, store, api_visibility=PRIVATE, show_progress="hidden", show_progress_on=status
        )
        # Gradio 6.31 draws a progress indicator on every output of an event even when "hidden": pin each event's to
        # a component that already shows one (the status line for Refresh, the job result after a job)
        refresh_btn.click(
            drift_views, None, views, api_visibility=PRIVATE, show_progress="hidden", show_progress_on=status
        )
        refresh_btn.click(
            refresh,
            None,
            outputs,
            api_name="monitoring_view",
            api_description="The Monitoring tab's figures: status line, traffic, label mix, confidence, drift, jobs.",
            show_progress_on=status,
        )
        visibility = "public" if admin else PRIVATE
        for button, job, name, description in (
            (drift_btn, run_drift_check, "run_drift_check", "Run a drift check now; returns its report."),
            (eval_btn, run_evaluation, "run_evaluation", "Run the scheduled evaluation now; returns its reports."),
        ):
            button.click(
                job,
                token,
                report,
                api_name=name,
                api_visibility=visibility,
                api_description=description + " Admin token required.",
            ).then(  # Gradio 6.31 draws a chained event's progress on every output even when "hidden": pin it
                refresh, None, outputs, api_visibility=PRIVATE, show_progress="hidden", show_progress_on=report
            ).then(drift_views, None, views, api_visibility=PRIVATE, show_progress="hidden", show_progress_on=report)
        api_endpoint(
            pin_reference,
            "pin_reference",
            "Freeze the newest N production predictions as the drift reference of this model. Admin token required.",
            returns=["reference"],
            api_visibility=visibility,
        )
        api_endpoint(
            reset_reference,
            "reset_reference",
            "Drop the pinned drift reference of this model: back to the reference dataset until its next "
            "SENTIMENT_REFERENCE_PRODUCTION_ROWS predictions become the reference. Admin token required.",
            returns=["reference"],
            api_visibility=visibility,
        )
        api_endpoint(
            monitoring,
            "monitoring",
            "Logged count, last drift report (with what each test compared), estimated performance, label mix, jobs, "
            "feedback counts (and conflicts), the drift status history.",
            returns=["monitoring"],
        )
