"""Entry point: ``python app.py`` serves the UI, the Gradio API, the inference API, ``/metrics`` and ``/health`` on one
port.

Thin by design: build the service from settings, build the Blocks from the service, mount both in FastAPI, start.
Importing this module does nothing heavy, so tests can import ``create_app`` and build apps of their own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import gradio as gr
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from scheduler import build_scheduler
from scheduler.retrain import build_retrain
from sentiment.logs import configure_logging
from sentiment.runtime import configure_process
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.api_edge import ApiEdgeMiddleware
from sentiment.web.busy import BusyRetryMiddleware
from sentiment.web.clients import trust_forwarded_headers
from sentiment.web.gradio_failures import count_failed_events
from sentiment.web.inference_api import add_inference_api
from sentiment.web.queue_polling import set_queue_polling
from sentiment.web.review_routes import add_review_routes
from sentiment.web.routes import add_routes
from sentiment.web.ui.blocks import TITLE, build_blocks
from sentiment.web.ui.label import LABEL_KEYS

logger = logging.getLogger("app")


def create_app(settings: Settings | None = None, service: SentimentService | None = None) -> FastAPI:
    """The FastAPI app: routes, then the Gradio UI mounted at ``/``. Changes nothing process-wide (``main`` calls
    ``configure_process`` for that), so a test can build as many as it likes."""
    settings = settings or Settings()
    service = service or SentimentService(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()  # loads the model on a background thread: the port is open while it loads
        scheduler = build_scheduler(service) if settings.scheduler_enabled else None
        if scheduler is not None and scheduler.start():
            service.jobs = scheduler
        yield
        if scheduler is not None:
            scheduler.shutdown()
        service.stop()

    app = FastAPI(title=TITLE, lifespan=lifespan)
    app.state.service = service

    add_routes(app, service)  # before Gradio is mounted at "/", which would otherwise answer them
    add_inference_api(app, service)  # POST /predict (TEI) and POST / (Inference API); GET / stays the UI
    add_review_routes(app, service)  # /review_sample: the owner labels the random review sample (admin token)

    app.state.retrain = retrain = build_retrain(service)  # finetune's LoRA loop, injected: sentiment cannot import it
    demo = build_blocks(service, retrain)
    count_failed_events(demo, service.metrics)  # every failed event, by reason
    demo.state_session_capacity = settings.session_capacity  # read when mounted; Gradio keeps 10,000 by default
    demo.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.queue_size)
    set_queue_polling(demo, settings.queue_poll_s)  # an idle queue wakes every 5 ms, not every 1 ms
    app = gr.mount_gradio_app(
        app, demo, path="/", max_file_size=settings.max_upload_bytes, footer_links=["api"], head=LABEL_KEYS
    )  # LABEL_KEYS: the Label view's keyboard shortcuts (Gradio 6 takes a page's head only here)
    app.add_middleware(BusyRetryMiddleware)  # a full queue says "busy, retry" with Retry-After
    trust_forwarded_headers(app, settings)  # X-Forwarded-For names the client only from SENTIMENT_TRUSTED_PROXIES
    # outermost: every API answer counted by status, bodies bounded (413) and decodable (400), bugs explained (500)
    app.add_middleware(ApiEdgeMiddleware, metrics=service.metrics, max_bytes=settings.max_request_bytes)
    return app


def main() -> None:
    try:
        settings = Settings()
    except ValidationError as exc:  # a bad combination stops the app at once, naming the variables
        raise SystemExit(f"invalid settings: {exc}") from None
    configure_logging(settings.log_level)
    configure_process(settings, web=True)  # the GIL interval, threads, Gradio patches: here, never in create_app
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logger.info("starting on http://%s:%d (model %r)", settings.host, settings.port, settings.model)
    # proxy_headers=False: uvicorn would trust X-Forwarded-For from 127.0.0.1; create_app decides whom to trust
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
