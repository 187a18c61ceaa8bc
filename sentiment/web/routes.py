"""The plain HTTP routes beside the Gradio app: ``/metrics`` (Prometheus, optionally behind a bearer token) and
``/health`` (503 until a model serves)."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Header, Response

from sentiment.service.metrics import CONTENT_TYPE
from sentiment.service.serving import SentimentService


def add_routes(app: FastAPI, service: SentimentService) -> None:
    """Register the routes on ``app``; call before Gradio is mounted at "/", which would otherwise answer them."""
    settings = service.settings

    @app.get("/metrics", include_in_schema=False)
    def metrics(authorization: str | None = Header(default=None)) -> Response:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
        expected = f"Bearer {token}".encode()
        if token and not hmac.compare_digest((authorization or "").encode(), expected):
            return Response("metrics need a bearer token\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/health")
    def health(response: Response) -> dict[str, object]:
        body = service.health()
        if not body["ready"]:
            response.status_code = 503
        return body
