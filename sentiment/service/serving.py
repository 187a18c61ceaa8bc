"""The service object the UI and the HTTP routes call: it owns the predictor, its readiness and its metrics.

Loading happens on a background thread so the port opens at once (a Space kills an app that does not listen); until
the model is loaded and warmed up, ``/health`` says so and requests wait a bounded time, then fail clearly.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from sentiment.errors import AccessDeniedError, InvalidTextError, ModelUnavailableError, RequestRefusedError, text_error
from sentiment.inference.micro_batcher import MicroBatcher
from sentiment.inference.pool import ModelPool
from sentiment.inference.predictor import Predictor, validate_text
from sentiment.models.runs import admin_spec
from sentiment.results import BatchResult, ModelInfo, Prediction
from sentiment.service.evaluation import EvaluationService
from sentiment.service.feedback import FeedbackService
from sentiment.service.file_scoring import FileScoring
from sentiment.service.files import JobFolders
from sentiment.service.memory_store import MemoryStore
from sentiment.service.metrics import ServiceMetrics, default_metrics
from sentiment.service.monitoring import MonitoringService
from sentiment.service.production_truth import ProductionTruth
from sentiment.service.restore import restore_quality_gauges
from sentiment.service.review import ReviewService
from sentiment.settings import Settings

logger = logging.getLogger(__name__)


class SentimentService(FileScoring):
    """Owns the serving predictor, its readiness, its metrics and the services built on it; scores for the UI and
    the APIs (files: ``FileScoring``)."""

    def __init__(
        self, settings: Settings, metrics: ServiceMetrics | None = None, predictor: Predictor | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or default_metrics()
        self._predictor: Predictor | None = None
        self._ready = threading.Event()
        self._settled = threading.Event()  # set once loading has ended, well or badly
        self._load_error: str | None = None
        self._loader: threading.Thread | None = None
        self.started_at = time.time()
        self.memory = MemoryStore(settings)  # the one store (opened first: the services below keep their records in it)
        self.store = self.memory.store
        self.pool = ModelPool(settings)
        self.evaluation = EvaluationService(settings, self.metrics.evaluation, self.pool, store=self.store)
        self.monitoring = MonitoringService(settings, self.metrics.monitoring, lambda: self.predictor, store=self.store)
        self.feedback = FeedbackService(settings, self.metrics.feedback, lambda: self.monitoring.log, store=self.store)
        self.review = ReviewService(settings, self.store)  # the random review sample: apart from feedback
        self.truth = ProductionTruth(settings, self.review.queue, lambda: self.monitoring.log, self.metrics.truth)
        restore_quality_gauges(self.metrics.evaluation, self.evaluation)  # the drift gauges: MonitoringService
        self._batcher = self._new_batcher()
        self._switch_lock = threading.Lock()
        self.served: list[str] = []  # specs served before the current one, oldest first (for rollback)
        self.serving_spec = settings.model
        self.jobs: Any = None  # the scheduler, when the app runs one (it runs jobs on demand for the UI)
        self.ready_at: float | None = None
        self.serving_since: float | None = None  # when the serving model started serving (load or switch)
        self.files = JobFolders(settings)
        if predictor is not None:
            self._install(predictor)

    # --- lifecycle -------------------------------------------------------------------------------------------
    def _new_batcher(self) -> MicroBatcher:
        return MicroBatcher(
            lambda texts: self.predictor.predict_batch(texts, embed=True),  # embeddings: for semantic drift
            max_batch=self.settings.batch_size,
            max_wait_s=self.settings.batch_wait_ms / 1000,
            on_batch=self.metrics.coalesced_batch_size.observe,
        )

    def start(self) -> None:
        """Load and warm up the configured model in the background (idempotent; restarts a stopped service)."""
        if self._batcher.closed:
            self._batcher = self._new_batcher()
        self.monitoring.start()
        self.files.start()
        self.memory.start()
        if self._ready.is_set() or self._loader is not None:
            return
        self._loader = threading.Thread(target=self._load, name="model-loader", daemon=True)
        self._loader.start()

    def stop(self) -> None:
        """Flush and close what runs in the background: the micro-batcher (queued predictions are answered, later
        ones refused), the prediction log writer, the scored-file sweeper."""
        self._batcher.close()
        self.files.stop()
        self.monitoring.stop()
        self.memory.stop()

    def _load(self) -> None:
        spec = self.settings.model
        try:
            self._install(Predictor.load(spec, self.settings))
        except Exception as exc:  # a failed load must leave the app up and saying why
            reason = f"{type(exc).__name__}: {exc}"
            # Errors raised below the registry (a corrupt weights file) do not say which model they concern.
            self._load_error = reason if spec in reason else f"cannot load model {spec!r}: {reason}"
            logger.exception("loading model %r failed", spec)
        finally:
            self._settled.set()

    def _install(self, predictor: Predictor) -> None:
        predictor.warm_up()
        self._predictor = predictor
        self.pool.pin(predictor, self.settings.model, predictor.info.name)  # evaluating it reuses the loaded model
        self.metrics.set_model(predictor.info)
        self.metrics.model_ready.set(1)
        self.ready_at = self.serving_since = time.time()
        self._ready.set()
        self._settled.set()
        info = predictor.info
        logger.info("serving %s (%s, %s) %s", info.name, info.source, info.revision, info.note)

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def predictor(self) -> Predictor:
        """The serving predictor; waits briefly for a model that is still loading."""
        if self._predictor is None:
            if self._load_error is None:
                self.start()
                self._settled.wait(self.settings.ready_timeout_s)
            if self._predictor is None:
                self.metrics.error("model_unavailable")
                why = self._load_error or "the model is still loading; try again in a few seconds"
                raise ModelUnavailableError(f"no model is serving: {why}")
        return self._predictor

    @property
    def model_info(self) -> ModelInfo | None:
        return self._predictor.info if self._predictor is not None else None

    def health(self) -> dict[str, Any]:
        info = self.model_info
        status = "ready" if info is not None else ("failed" if self._load_error else "loading")
        return {
            "status": status,
            "ready": info is not None,
            "model": info.as_dict() if info is not None else None,
            "error": self._load_error,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "store": self.store_status(),
            "review_sample": self.review.status(),
        }

    def follow_store(self) -> None:
        """A standby replica's gauges from what the leader kept (its newest check, newest evaluation per key)."""
        self.monitoring.follow_store()
        restore_quality_gauges(self.metrics.evaluation, self.evaluation, quiet=True)

    def store_status(self) -> dict[str, Any]:
        """The store as /health and the Monitoring tab report it (``MemoryStore.status``). A ``waiting_rows`` key
        (log rows held in memory for the store) shows in the Monitoring tab's note if present."""
        status = self.memory.status()
        if self.monitoring.log is not None:
            status["waiting_rows"] = self.monitoring.log.counters.buffered
        return status

    # --- model switching ----------------------------------------------------------------------------------------
    @property
    def admin_enabled(self) -> bool:
        return bool(self.settings.admin_token and self.settings.admin_token.get_secret_value())

    def check_admin(self, token: str | None) -> None:
        expected = self.settings.admin_token
        if expected is None or not expected.get_secret_value():
            raise AccessDeniedError("admin actions are off: set SENTIMENT_ADMIN_TOKEN to enable them")
        if not token or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
            raise AccessDeniedError("wrong or missing admin token")

    def switch_model(self, spec: str, token: str | None) -> ModelInfo:
        """Load and warm up ``spec`` beside the serving model, then swap atomically; on failure the old one keeps
        serving and the error is raised. Requests in flight finish on the model they started with."""
        self.check_admin(token)
        resolved = admin_spec(spec, self.settings.data_dir, self.settings.model)  # the configured one: as is
        with self._switch_lock:
            new = Predictor.load(resolved, self.settings)
            new.warm_up()
            old = self._predictor
            self._predictor = new  # one reference assignment: every request sees either the old or the new model
            self.serving_since = time.time()
            self.pool.pin(new, resolved, new.info.name)  # the old one stays only while the pool's size allows
            self.metrics.set_model(new.info)
            if old is not None:
                self.served.append(self.serving_spec)
            self.serving_spec = spec.strip()
        logger.info("switched the serving model from %s to %s", old.info.name if old else None, new.info.name)
        return new.info

    # --- scoring ---------------------------------------------------------------------------------------------
    def _score(
        self,
        endpoint: str,
        texts: Sequence[object],
        coalesce: bool = False,
        requests: int = 1,
        refuse_long: bool | Sequence[bool] = False,
        predictor: Predictor | None = None,
    ) -> BatchResult:
        """Score through the predictor (single texts through the micro-batcher) and record every serving metric;
        ``requests``: how many requests ``texts`` came in (equal shares, each counted as its own request);
        ``refuse_long``: texts over the token limit are refused rows instead of truncated ones; ``predictor``: the
        one the caller already checked the texts with (a model switch in between must not change the answer)."""
        predictor = predictor or self.predictor
        started = time.perf_counter()
        # a failure here is a bug: the UI edge logs it with an incident id and counts it as "internal"
        in_progress = self.metrics.in_progress.labels(endpoint=endpoint)
        in_progress.inc(requests)
        try:
            if coalesce and len(texts) == 1:
                result = self._batcher.submit(texts[0])
            else:
                result = predictor.predict_batch(texts, embed=True, refuse_long=refuse_long)
        finally:
            in_progress.dec(requests)
        elapsed = time.perf_counter() - started  # also per text below: Histogram.time() could not give it
        result = result.with_new_ids()  # every answer names its logged row, so feedback can find it
        self.metrics.observe_scoring(endpoint, texts, result, elapsed, requests)
        self.monitoring.record(endpoint, result.model, texts, result)
        return result

    def check_text(self, text: object) -> None:
        """Raise (and count) the refusal of one text that cannot be scored (``validate_text``), before it reaches
        the model; cheap enough for the event loop (no tokenisation)."""
        try:
            validate_text(text)
        except InvalidTextError as exc:
            self.metrics.error(exc.reason or InvalidTextError.reason)
            raise

    def predict(self, text: object) -> Prediction:
        """One text; raises ``EmptyTextError`` or ``InvalidTextError`` (counted) for empty or non-text input."""
        self.check_text(text)
        result = self._score("predict", [text], coalesce=True)
        error = result.errors[0]
        if error is not None:
            raise text_error(error, result.error_reason(0))
        return result.predictions()[0]

    def predict_each(self, texts: Sequence[object]) -> list[Prediction]:
        """One-text ``predict`` requests that arrived together (Gradio's batched ``/predict``): ``_score_each``."""
        return self._score_each("predict", texts)

    def predict_many(self, texts: Sequence[object]) -> list[Prediction]:
        """Several texts; each invalid one comes back with its error, the others are scored."""
        return self._score("predict_batch", self._within_limit(texts)).predictions()

    def classify(self, texts: Sequence[object], truncate: bool = True) -> list[Prediction]:
        """One inference API request's texts, counted under endpoint ``api`` (one-text requests arrive through
        ``classify_each`` instead, coalesced by ``web.coalescing``). The whole request is checked first (each text
        valid; with ``truncate`` false, within the token limit: a tokenisation, no forward pass): any text that
        would be refused refuses the request with ``RequestRefusedError`` naming each, and nothing is scored,
        logged or counted but the refusals."""
        self._within_limit(texts)
        predictor = self.predictor  # read once: the texts are checked against the model that scores them
        problems = [(i, exc) for i, exc in enumerate(predictor.refusals(texts, not truncate)) if exc is not None]
        if problems:
            for _, exc in problems:
                self.metrics.error(exc.reason or InvalidTextError.reason)
            raise RequestRefusedError(problems)
        return self._score("api", texts, predictor=predictor).predictions()

    def classify_each(self, texts: Sequence[object], truncate: Sequence[bool] | None = None) -> list[Prediction]:
        """One-text inference API requests that arrived together (``web.coalescing``): ``_score_each``; a request
        whose ``truncate`` is false has its text refused (an error row, not scored) when over the token limit."""
        refuse_long = [not t for t in truncate] if truncate is not None else False
        return self._score_each("api", texts, refuse_long)

    def _score_each(
        self, endpoint: str, texts: Sequence[object], refuse_long: bool | Sequence[bool] = False
    ) -> list[Prediction]:
        """One-text requests that arrived together, in one forward pass; each is its own request in the metrics, and
        an invalid text comes back with its error (counted), failing no other."""
        if not texts:
            return []
        predictions = self._score(endpoint, texts, requests=len(texts), refuse_long=refuse_long).predictions()
        self.metrics.coalesced_batch_size.observe(len(texts))  # requests that shared a forward pass, as coalesced
        return predictions

    def _within_limit(self, texts: Sequence[object]) -> Sequence[object]:
        if len(texts) > (limit := self.settings.max_texts_per_request):
            self.metrics.error("invalid_input")
            raise InvalidTextError(
                f"{len(texts)} texts in one request; the limit is {limit} (SENTIMENT_MAX_TEXTS_PER_REQUEST; "
                "use the CSV batch scorer for more)"
            )
        return texts
