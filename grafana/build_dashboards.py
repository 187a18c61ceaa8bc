"""Generate the three provisioned Grafana dashboards (grafana/dashboards/*.json) from the panel lists below.

Dashboards are data: this script keeps every query in one readable place, and a test checks that the committed
JSON equals what it generates and that every query returns data from a real Prometheus.

    python grafana/build_dashboards.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "dashboards"
DS = {"type": "prometheus", "uid": "prometheus"}
# Model quality panels read only the scheduled evaluation: a visitor's evaluation (an uploaded file, a 3-row sample)
# is exported with source="visitor" and must not move the owner's dashboards or alerts.
SCHEDULED = 'source="scheduled"'
SEL = f'{SCHEDULED}, model=~"$model", dataset=~"$dataset", split=~"$split"'
REQUEST_RATE = 'sum by (le) (rate(sentiment_prediction_latency_seconds_bucket{unit="request"}[$__rate_interval]))'

# Several replicas: Prometheus scrapes each one (label ``instance``). Counters and histograms are summed over them;
# a gauge that describes the model or the drift check (not the process) is one value however many replicas export it.
_EVALUATION_KEY = "model, dataset, split, source"
_EVALUATED_AT = f"model_evaluation_timestamp_seconds{{{SEL}}}"


def newest(gauge: str) -> str:
    """An evaluation gauge as the newest evaluation set it: only the replicas whose timestamp for the same (model,
    dataset, split, source) is the newest, then one value over them (replicas that restored the same stored
    evaluation tie). A replica that stopped leading keeps its older figures; a plain max would mix them in."""
    latest = f"max by ({_EVALUATION_KEY}) ({_EVALUATED_AT})"
    chosen = f"{_EVALUATED_AT} == on ({_EVALUATION_KEY}) group_left {latest}"
    return f"max without (instance) ({gauge} and on ({_EVALUATION_KEY}, instance) ({chosen}))"


def one(gauge: str) -> str:
    """A drift or model gauge once, not once per replica: the standby says -1 ("no verdict") for the drift status
    where the leader has checked, and replicas that restored the same report export the same values."""
    return f"max without (instance) ({gauge})"


def panel(
    kind: str,
    title: str,
    targets: list[tuple[str, str]],
    *,
    w: int = 12,
    h: int = 8,
    unit: str | None = None,
    description: str = "",
    options: dict[str, Any] | None = None,
    fmt: str | None = None,
    instant: bool = False,
    mappings: list[dict[str, Any]] | None = None,
    empty_until: str | None = None,
) -> dict[str, Any]:
    """One panel; ``empty_until`` documents a panel that has no data until something happens."""
    defaults: dict[str, Any] = {}
    if unit:
        defaults["unit"] = unit
    if mappings:
        defaults["mappings"] = mappings
    out: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description + (f" Empty until {empty_until}." if empty_until else ""),
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
        "targets": [
            {
                "refId": chr(65 + i),
                "datasource": DS,
                "expr": expr,
                "legendFormat": legend,
                **({"format": fmt} if fmt else {}),
                **({"instant": True, "range": False} if instant else {}),
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }
    return out


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["gridPos"].update({"x": x, "y": y})
        p["id"] = i
        x, row_h = x + w, max(row_h, h)
    return panels


def variable(name: str, metric: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DS,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "allValue": ".*",
        "query": {"query": f"label_values({metric}, {name})", "refId": f"var-{name}"},
        "definition": f"label_values({metric}, {name})",
    }


def dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["sentiment"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": variables or []},
        "panels": layout(panels),
    }


SENTIMENT = dashboard(
    "sentiment-analysis",
    "Sentiment Analysis",
    [
        panel(
            "timeseries",
            "Prediction rate by sentiment",
            [("sum by (sentiment) (rate(sentiment_predictions_total[$__rate_interval]))", "{{sentiment}}")],
            unit="reqps",
            description="Texts scored per second, by predicted class.",
        ),
        panel(
            "bargauge",
            "Label mix (selected range)",
            [("sum by (sentiment) (increase(sentiment_predictions_total[$__range]))", "{{sentiment}}")],
            instant=True,
            options={"displayMode": "gradient", "orientation": "horizontal"},
        ),
        panel(
            "timeseries",
            "Class shares of the drift window (estimate, 90% band)",
            [
                (one('sentiment_class_share{bound="estimate"}'), "{{label}} ({{source}})"),
                (one('sentiment_class_share{bound="lower"}'), "{{label}} lower"),
                (one('sentiment_class_share{bound="upper"}'), "{{label}} upper"),
                (one("sentiment_class_share_reference"), "{{label}} at reference"),
            ],
            unit="percentunit",
            description="Beside the raw predicted counts (Label mix): each class's share of the newest drift window "
            "with its 90% band, from the review sample's prediction-powered interval (source ppi) when it exists, "
            "else label-free (a label-shift correction the fit test lets through) or counted (the predicted classes "
            "counted, SENTIMENT_CLASS_SHARE_METHOD=cc); and the reference share it is compared with.",
            empty_until="a drift check with at least SENTIMENT_DRIFT_MIN_WINDOW predictions and the labelled reference",
        ),
        panel(
            "timeseries",
            "Production truth: accuracy (PPI++, 90%)",
            [
                (one(f'sentiment_production_truth{{quantity="accuracy", level="0.90", bound="{b}"}}'), b)
                for b in ("estimate", "lower", "upper")
            ],
            unit="percentunit",
            description="The serving model's accuracy on production traffic: the owner's labels of the random review "
            "sample combined with the model's probabilities on every prediction of the window (prediction-powered "
            "inference), with its 90% interval.",
            empty_until="the owner labels SENTIMENT_PPI_MIN_LABELS sampled predictions (Label tab or /review_sample)",
        ),
        panel(
            "stat",
            "Production truth: what it rests on",
            [
                (one("sentiment_production_truth_labels"), "sampled labels"),
                (one("sentiment_production_truth_predictions"), "predictions"),
                ("time() - " + one("sentiment_production_truth_timestamp_seconds > 0"), "computed (s ago)"),
            ],
            w=12,
            instant=True,
            description="The labels and predictions behind the interval, and how long ago it was computed.",
            empty_until="the first drift check or Monitoring view with the review sample on",
        ),
        panel(
            "timeseries",
            "Request latency percentiles",
            [
                (
                    f"histogram_quantile(0.50, {REQUEST_RATE})",
                    "p50",
                ),
                (
                    f"histogram_quantile(0.95, {REQUEST_RATE})",
                    "p95",
                ),
                (
                    f"histogram_quantile(0.99, {REQUEST_RATE})",
                    "p99",
                ),
            ],
            unit="s",
        ),
        panel(
            "timeseries",
            "Latency per text (p50 by endpoint)",
            [
                (
                    "histogram_quantile(0.50, sum by (le, endpoint) (rate(sentiment_prediction_latency_seconds_bucket"
                    '{unit="text"}[$__rate_interval])))',
                    "{{endpoint}}",
                )
            ],
            unit="s",
        ),
        panel(
            "heatmap",
            "Text length (characters)",
            [("sum by (le) (increase(sentiment_text_length_bucket[$__rate_interval]))", "{{le}}")],
            fmt="heatmap",
            options={"calculate": False, "yAxis": {"unit": "short"}},
        ),
        panel(
            "heatmap",
            "Confidence of the predicted class",
            [("sum by (le) (increase(sentiment_confidence_bucket[$__rate_interval]))", "{{le}}")],
            fmt="heatmap",
            options={"calculate": False},
        ),
        panel(
            "bargauge",
            "Texts per request (selected range)",
            [("sum by (le) (increase(sentiment_batch_size_bucket[$__range]))", "{{le}}")],
            fmt="heatmap",
            instant=True,
            options={"displayMode": "basic", "orientation": "vertical"},
        ),
        panel(
            "stat",
            "Truncated texts (selected range)",
            [("sum(increase(sentiment_truncated_texts_total[$__range]))", "truncated")],
            w=6,
            instant=True,
        ),
        panel(
            "stat",
            "Serving model",
            [(one("sentiment_model_info"), "{{model}} ({{source}}, {{revision}})")],
            w=6,
            instant=True,
            options={"textMode": "name", "reduceOptions": {"calcs": ["lastNotNull"]}},
        ),
    ],
)

PERFORMANCE = dashboard(
    "model-performance",
    "Model Performance",
    [
        panel(
            "timeseries",
            "Request rate by endpoint",
            [("sum by (endpoint) (rate(sentiment_batch_size_count[$__rate_interval]))", "{{endpoint}}")],
            unit="reqps",
        ),
        panel(
            "timeseries",
            "Inference API: requests and texts per second",
            [
                ('sum(rate(sentiment_batch_size_count{endpoint="api"}[$__rate_interval]))', "requests"),
                ('sum(rate(sentiment_batch_size_sum{endpoint="api"}[$__rate_interval]))', "texts"),
            ],
            unit="reqps",
            description="POST /predict and POST / (the lean API, no Gradio queue): accepted requests, and the texts "
            "in them (a request may carry a list).",
        ),
        panel(
            "timeseries",
            "Inference API: latency per request",
            [
                (
                    f"histogram_quantile({q}, sum by (le) (rate(sentiment_prediction_latency_seconds_bucket"
                    '{endpoint="api", unit="request"}[$__rate_interval])))',
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
            unit="s",
            description="Scoring time of an accepted inference API request, from taking it to its answer (a single "
            "text includes its wait to share a forward pass).",
        ),
        panel(
            "timeseries",
            "Inference API: refusals by status",
            [("sum by (status) (rate(sentiment_api_refusals_total[$__rate_interval]))", "{{status}}")],
            unit="reqps",
            description="422: bad input (the body, an empty text, a text over the token limit with truncate=false). "
            "503: SENTIMENT_API_MAX_IN_FLIGHT requests already in flight, or no model serving; sustained 503s "
            "mean the app needs the bound raised or more capacity (alert SentimentApiBusy).",
        ),
        panel(
            "timeseries",
            "Errors by reason",
            [("sum by (reason) (rate(sentiment_errors_total[$__rate_interval]))", "{{reason}}")],
            unit="reqps",
        ),
        panel(
            "timeseries",
            "HTTP answers by route and status",
            [
                (
                    "sum by (route, status) (rate(sentiment_http_responses_total[$__rate_interval]))",
                    "{{route}} {{status}}",
                )
            ],
            unit="reqps",
            description="Every answer of the inference API (/predict, POST /) and of Gradio's API (/gradio_api): 400 a "
            "body that is not UTF-8, 413 a body over SENTIMENT_MAX_REQUEST_BYTES, 422 bad input, 503 busy, 500 a bug "
            "(its incident id is in the log). 5xx other than 503 feed the alert SentimentHighErrorRate.",
        ),
        panel(
            "timeseries",
            "Failed Gradio events by reason",
            [("sum by (reason) (rate(sentiment_gradio_event_failures_total[$__rate_interval]))", "{{reason}}")],
            unit="reqps",
            description="UI and gradio_client calls that ended in an error: a refusal's reason, refused (feedback, "
            "admin) or internal (a bug).",
        ),
        panel(
            "timeseries",
            "Single requests per forward pass (micro-batcher)",
            [
                (
                    "sum(rate(sentiment_coalesced_batch_size_sum[$__rate_interval]))"
                    " / clamp_min(sum(rate(sentiment_coalesced_batch_size_count[$__rate_interval])), 1e-9)",
                    "mean texts per pass",
                )
            ],
        ),
        panel("stat", "Requests in flight", [("sum(sentiment_requests_in_progress)", "in flight")], w=6),
        panel(
            "stat",
            "Model ready (per replica)",
            [("sentiment_model_ready", "{{instance}}")],
            w=6,
            mappings=[{"type": "value", "options": {"0": {"text": "loading"}, "1": {"text": "ready"}}}],
        ),
        panel(
            "stat", "Error ratio (5 min)", [("sentiment:error_ratio:rate5m", "errors / texts")], w=6, unit="percentunit"
        ),
        panel(
            "stat",
            "Prediction-log rows dropped (selected range)",
            [('sum(increase(sentiment_prediction_log_rows_total{outcome="dropped"}[$__range]))', "dropped")],
            w=6,
            instant=True,
        ),
        panel(
            "bargauge",
            "Feedback by outcome (selected range)",
            [("sum by (outcome) (increase(sentiment_feedback_total[$__range]))", "{{outcome}}")],
            description="What became of people's 'Was this right?' answers: recorded (awaiting review), duplicates, "
            "refused (rate-limited, unknown prediction id), and the owner's accepted / dropped.",
            instant=True,
        ),
        panel(
            "bargauge",
            "Feedback the store holds, by review state",
            [("max by (state) (sum by (instance, state) (sentiment_feedback_stored))", "{{state}}")],
            description="Every label in the store, whoever wrote it (this app, another replica, a bulk import from "
            "the command line), read at scrape time; max across replicas, which all read the same store.",
            instant=True,
        ),
        panel(
            "stat",
            "Prediction-log rows stored",
            [("max(sentiment_prediction_log_stored_rows)", "rows")],
            w=6,
            description="Rows the store's prediction log holds now, after retention (max across replicas).",
            instant=True,
        ),
        panel(
            "heatmap",
            "Request latency",
            [
                (
                    'sum by (le) (increase(sentiment_prediction_latency_seconds_bucket{unit="request"}'
                    "[$__rate_interval]))",
                    "{{le}}",
                )
            ],
            fmt="heatmap",
            options={"calculate": False},
        ),
        panel(
            "timeseries",
            "p50 / p95 / p99 (recording rules)",
            [
                ("sentiment:request_latency_seconds:p50", "p50"),
                ("sentiment:request_latency_seconds:p95", "p95"),
                ("sentiment:request_latency_seconds:p99", "p99"),
            ],
            unit="s",
        ),
        panel(
            "timeseries",
            "Process CPU",
            [('rate(process_cpu_seconds_total{job="sentiment"}[$__rate_interval])', "{{instance}}")],
            unit="short",
        ),
        panel(
            "timeseries",
            "Process memory",
            [('process_resident_memory_bytes{job="sentiment"}', "{{instance}}")],
            unit="bytes",
        ),
    ],
)

EVALUATION = dashboard(
    "model-evaluation-drift",
    "Model Evaluation & Drift",
    [
        panel(
            "stat",
            "Accuracy",
            [(newest(f"model_accuracy{{{SEL}}}"), "{{model}} {{dataset}}/{{split}}")],
            w=8,
            unit="percentunit",
            empty_until="the scheduled evaluation has run (hourly, or /run_evaluation with the admin token)",
        ),
        panel(
            "stat",
            "Macro-F1",
            [(newest(f'model_f1{{{SEL}, average="macro"}}'), "{{model}} {{dataset}}/{{split}}")],
            w=8,
            unit="percentunit",
            empty_until="the scheduled evaluation has run",
        ),
        panel(
            "stat",
            "Rows in the last evaluation",
            [(newest(f"model_evaluation_samples{{{SEL}}}"), "{{model}} {{dataset}}/{{split}}")],
            w=4,
            empty_until="the scheduled evaluation has run",
        ),
        panel(
            "stat",
            "Since the last evaluation",
            [(f"time() - max(model_evaluation_timestamp_seconds{{{SEL}}})", "age")],
            w=4,
            unit="s",
            empty_until="the scheduled evaluation has run",
        ),
        panel(
            "timeseries",
            "Accuracy and macro-F1 over time",
            [
                (newest(f"model_accuracy{{{SEL}}}"), "accuracy {{model}} {{dataset}}/{{split}}"),
                (newest(f'model_f1{{{SEL}, average="macro"}}'), "macro-F1 {{model}} {{dataset}}/{{split}}"),
            ],
            unit="percentunit",
            empty_until="the scheduled evaluation has run",
        ),
        panel(
            "table",
            "Per-class precision / recall / F1",
            [
                (newest(f'model_precision{{{SEL}, average="none"}}'), "precision"),
                (newest(f'model_recall{{{SEL}, average="none"}}'), "recall"),
                (newest(f'model_f1{{{SEL}, average="none"}}'), "F1"),
            ],
            fmt="table",
            instant=True,
            empty_until="the scheduled evaluation has run",
        ),
        panel(
            "table",
            "Confusion matrix (rows: true, columns: predicted)",
            [(f"sum by (true_label, predicted_label) ({newest(f'model_confusion_matrix{{{SEL}}}')})", "")],
            fmt="table",
            instant=True,
            empty_until="the scheduled evaluation has run",
            options={"showHeader": True},
        ),
        panel(
            "state-timeline",
            "Which model served when",
            [("max by (model, revision) (sentiment_model_info) > 0", "{{model}} ({{revision}})")],
            w=24,
            h=5,
            description="One row per model revision, filled while it served (sentiment_model_info): a promotion, a "
            "switch or a rollback shows as one row ending and another starting, beside the accuracy panels it "
            "explains.",
            options={"showValue": "never", "mergeValues": True},
        ),
        panel(
            "timeseries",
            "Estimated accuracy on production traffic vs measured",
            [
                (one('model_estimated_accuracy{bound="estimate"}'), "estimated on the drift window ({{method}})"),
                (one('model_estimated_accuracy{bound="low"}'), "band low (5%)"),
                (one('model_estimated_accuracy{bound="high"}'), "band high (95%)"),
                (one('model_estimated_reference{metric="accuracy"}'), "same estimator on the labelled reference"),
                (newest(f"model_accuracy{{{SEL}}}"), "measured {{model}} {{dataset}}/{{split}}"),
            ],
            unit="percentunit",
            description=(
                "Accuracy estimated without labels from the logged probabilities of each drift window (see "
                "benchmarks/README.md for how close it comes under shift), its 90% band, the same estimator on the "
                "labelled reference, and the accuracy the scheduled evaluation measures on labelled sets."
            ),
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "timeseries",
            "Estimated macro-F1 and per-class F1 on production traffic",
            [
                (one('model_estimated_macro_f1{bound="estimate"}'), "macro-F1 ({{method}})"),
                (one('model_estimated_macro_f1{bound="low"}'), "macro-F1 band low"),
                (one('model_estimated_macro_f1{bound="high"}'), "macro-F1 band high"),
                (one('model_estimated_reference{metric="macro_f1"}'), "macro-F1 on the labelled reference"),
                (one('model_estimated_f1{bound="estimate"}'), "F1 {{class_label}}"),
            ],
            unit="percentunit",
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "stat",
            "Label-free estimate: trusted?",
            [
                (one("sentiment_estimate_trusted"), "verdict"),
                (one("sentiment_estimate_labels_needed"), "random labels that would answer"),
            ],
            instant=True,
            mappings=[{"type": "value", "options": {"0": {"text": "refused"}, "1": {"text": "trusted"}}}],
            description="The trust verdict on the last drift window's estimate (sentiment/monitoring/trust.py): "
            "refused when the window's texts are unlike anything labelled (domain-classifier AUC above "
            "SENTIMENT_TRUST_MAX_DOMAIN_AUC); the estimate panels are then empty, and the second number says how many "
            "random predictions to label (Label tab) for a +-0.05 interval. See benchmarks/README.md for how well "
            "the verdict separates right from wrong estimates.",
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "stat",
            "Drift status",
            [(one("sentiment_drift_status"), "status")],
            w=6,
            mappings=[
                {
                    "type": "value",
                    "options": {
                        "-1": {"text": "no verdict (not checked yet, or too few predictions)"},
                        "0": {"text": "ok", "color": "green"},
                        "0.5": {"text": "ok; a change seen, not yet confirmed", "color": "yellow"},
                        "1": {"text": "warning", "color": "orange"},
                        "1.5": {"text": "warning; drift seen, not yet confirmed", "color": "orange"},
                        "2": {"text": "drift", "color": "red"},
                    },
                }
            ],
        ),
        panel(
            "stat",
            "Drift window",
            [(one("sentiment_drift_window_size"), "predictions")],
            w=6,
            empty_until="the first drift check",
        ),
        panel(
            "bargauge",
            "Tests graded drift",
            [(one("sentiment_drift_detected"), "{{feature}} / {{test}}")],
            w=12,
            instant=True,
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "timeseries",
            "Drift statistics",
            [(one("sentiment_drift_statistic"), "{{feature}} / {{test}}")],
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "timeseries",
            "Drift effect sizes (KS D, Cramér's V, PSI; graded only from 0.1)",
            [(one("sentiment_drift_effect_size"), "{{feature}} / {{test}}")],
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "timeseries",
            "Drift reference in use (1 = this source)",
            [(one("sentiment_drift_reference_info"), "{{source}}")],
            empty_until="the first drift check",
        ),
        panel(
            "timeseries",
            "Drift p-values (Holm-adjusted)",
            [(one("sentiment_drift_p_value"), "{{feature}} / {{test}}")],
            options={"legend": {"showLegend": True}},
            empty_until="the first drift check with enough predictions",
        ),
        panel(
            "table",
            "Scheduled jobs",
            [
                ("time() - max by (job) (scheduler_job_last_success_timestamp_seconds)", "since last success"),
                ("max by (job) (scheduler_job_duration_seconds)", "last duration"),
                ("sum by (job) (scheduler_job_failures_total)", "failures"),
            ],
            fmt="table",
            instant=True,
            description="One row per job whichever replica ran it: the newest success, the longest last run.",
            empty_until="a scheduled job has run",
        ),
        panel(
            "timeseries",
            "Job runs by outcome",
            [("sum by (job, outcome) (increase(scheduler_job_runs_total[$__rate_interval]))", "{{job}} {{outcome}}")],
            empty_until="a scheduled job has run",
        ),
        panel(
            "timeseries",
            "Replica running the scheduled jobs",
            [
                ("sentiment_scheduler_leader", "{{instance}}"),
                ('sum(sentiment_scheduler_leader{job="sentiment"})', "replicas leading (1 expected)"),
            ],
            description="1 for the replica that holds the scheduler's lock (PostgreSQL advisory lock shared by all "
            "replicas of one store; a file lock with SQLite). When it dies another takes over within a job interval "
            "(alerts SentimentSchedulerLeaderless, SentimentSchedulerLeaders).",
        ),
    ],
    variables=[
        variable("model", f"model_accuracy{{{SCHEDULED}}}"),
        variable("dataset", f"model_accuracy{{{SCHEDULED}}}"),
        variable("split", f"model_accuracy{{{SCHEDULED}}}"),
    ],
)

DASHBOARDS = {
    "sentiment-analysis.json": SENTIMENT,
    "model-performance.json": PERFORMANCE,
    "model-evaluation-drift.json": EVALUATION,
}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=False) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, board in DASHBOARDS.items():
        (OUT / name).write_text(render(board))
        print(f"wrote {OUT / name} ({len(board['panels'])} panels)")


if __name__ == "__main__":
    main()
