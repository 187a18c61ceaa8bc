"""Prometheus metrics of the serving path.

Label values come only from fixed sets (class names, endpoint names, error reasons, the serving model's name):
never from user text, so a visitor cannot blow up the number of series or leak what others typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from sentiment.labels import LABELS
from sentiment.results import BatchResult, ModelInfo
from sentiment.service.quality_metrics import EvaluationMetrics, FeedbackMetrics, MonitoringMetrics
from sentiment.service.truth_metrics import TruthMetrics

ENDPOINTS = ("predict", "predict_batch", "score_csv", "api")
ERROR_REASONS = (
    "empty_text",  # empty or whitespace-only text
    "text_too_long",  # over the model's token limit, where the caller asked not to truncate
    "invalid_input",  # not text, too many lines, unknown column
    "bad_file",  # not a table of text, empty, no data rows
    "file_too_large",
    "model_unavailable",  # model still loading or failed to load
    "internal",  # anything unexpected (a bug): logged with its traceback
)
API_REFUSALS = ("422", "503")  # the statuses the inference API refuses with
# Route templates of the HTTP answers counted by status (``web.api_edge``): never a raw path, which a visitor chooses.
HTTP_ROUTES = ("/predict", "/", "/gradio_api")
# Why a Gradio event failed: a refusal's error reason, "refused" for a refusal without one (feedback, admin), or
# "internal" (a bug).
GRADIO_FAILURES = (*ERROR_REASONS, "refused")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the classic text format every Prometheus scrapes

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_LENGTH_BUCKETS = (10, 25, 50, 100, 140, 200, 280, 500, 1000, 2000, 5000, 10000, 100000)
_CONFIDENCE_BUCKETS = (0.34, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ServiceMetrics:
    """The serving metrics, registered on one registry (the process default in the app, a fresh one in tests)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.predictions = Counter(
            "sentiment_predictions_total", "Texts scored, by predicted class.", ["sentiment"], registry=registry
        )
        self.latency = Histogram(
            "sentiment_prediction_latency_seconds",
            "Scoring time: per request (unit=request) and per text within it (unit=text).",
            ["endpoint", "unit"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.text_length = Histogram(
            "sentiment_text_length", "Length of scored texts in characters.", buckets=_LENGTH_BUCKETS, registry=registry
        )
        self.confidence = Histogram(
            "sentiment_confidence",
            "Probability of the predicted class.",
            buckets=_CONFIDENCE_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "sentiment_batch_size", "Texts per request.", ["endpoint"], buckets=_BATCH_BUCKETS, registry=registry
        )
        self.coalesced_batch_size = Histogram(
            "sentiment_coalesced_batch_size",
            "Single-text requests scored together in one forward pass (the micro-batcher; Gradio's batched /predict).",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.truncated = Counter(
            "sentiment_truncated_texts_total", "Texts cut at the model's token limit.", registry=registry
        )
        self.errors = Counter(
            "sentiment_errors_total", "Refused or failed inputs, by reason.", ["reason"], registry=registry
        )
        self.in_progress = Gauge(
            "sentiment_requests_in_progress", "Requests being scored now.", ["endpoint"], registry=registry
        )
        self.api_refusals = Counter(
            "sentiment_api_refusals_total",
            "Inference API requests (POST /predict, POST /) refused, by status: 422 bad input, 503 busy or no model.",
            ["status"],
            registry=registry,
        )
        self.http_responses = Counter(
            "sentiment_http_responses_total",
            "HTTP answers by route template and status: the inference API (/predict, POST /) and Gradio's API "
            "(/gradio_api, every route under it together).",
            ["route", "status"],
            registry=registry,
        )
        self.gradio_event_failures = Counter(
            "sentiment_gradio_event_failures_total",
            "Gradio events (UI and gradio_client calls) that ended in an error, by reason.",
            ["reason"],
            registry=registry,
        )
        self.model_info = Gauge(
            "sentiment_model_info", "The serving model (value 1).", ["model", "source", "revision"], registry=registry
        )
        self.model_ready = Gauge("sentiment_model_ready", "1 when a model is loaded and warmed up.", registry=registry)
        self.evaluation = EvaluationMetrics(registry)
        self.monitoring = MonitoringMetrics(registry)
        self.feedback = FeedbackMetrics(registry)
        self.truth = TruthMetrics(registry)
        for label in LABELS:
            self.predictions.labels(sentiment=label)
        for reason in ERROR_REASONS:
            self.errors.labels(reason=reason)
        for endpoint in ENDPOINTS:
            self.in_progress.labels(endpoint=endpoint)
        for status in API_REFUSALS:
            self.api_refusals.labels(status=status)
        for reason in GRADIO_FAILURES:
            self.gradio_event_failures.labels(reason=reason)
        for route in HTTP_ROUTES:  # a series per route from the start, so rates and ratios read 0, not "no data"
            self.http_responses.labels(route=route, status="200")

    def set_model(self, info: ModelInfo) -> None:
        """Point ``sentiment_model_info`` at the model now serving (one series with value 1)."""
        self.model_info.clear()
        self.model_info.labels(model=info.name[:200], source=info.source, revision=info.revision[:64]).set(1)

    def observe_scoring(
        self, endpoint: str, texts: Sequence[object], result: BatchResult, elapsed: float, requests: int = 1
    ) -> None:
        """Record one scoring of ``texts`` that took ``elapsed`` seconds; they came in ``requests`` requests of equal
        size (Gradio's batched ``/predict``: one text each), and every request waited for the whole pass."""
        valid = result.valid
        n_valid = int(valid.sum())
        for _ in range(requests):
            self.batch_size.labels(endpoint=endpoint).observe(len(texts) // requests)
            self.latency.labels(endpoint=endpoint, unit="request").observe(elapsed)
            if n_valid:
                self.latency.labels(endpoint=endpoint, unit="text").observe(elapsed / n_valid)
        for i in range(len(texts)):
            if (reason := result.error_reason(i)) is not None:
                self.error(reason)
        labels = result.labels
        confidences = result.probabilities.max(axis=1)
        for i in range(len(texts)):
            if not valid[i]:
                continue
            self.predictions.labels(sentiment=labels[i]).inc()
            self.text_length.observe(len(str(texts[i])))
            self.confidence.observe(float(confidences[i]))
        truncated = int(result.truncated.sum())
        if truncated:
            self.truncated.inc(truncated)

    def error(self, reason: str) -> None:
        self.errors.labels(reason=reason if reason in ERROR_REASONS else "internal").inc()

    def http_response(self, route: str, status: int) -> None:
        """Count one HTTP answer; ``route`` is one of ``HTTP_ROUTES`` (a template, never the raw path)."""
        self.http_responses.labels(route=route, status=str(status)).inc()

    def gradio_event_failed(self, reason: str) -> None:
        self.gradio_event_failures.labels(reason=reason if reason in GRADIO_FAILURES else "internal").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


@lru_cache(maxsize=1)
def default_metrics() -> ServiceMetrics:
    """The process-wide instance on prometheus_client's default registry (which also carries process metrics)."""
    return ServiceMetrics(REGISTRY)
