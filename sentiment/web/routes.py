"""The plain HTTP routes beside the Gradio app: ``/metrics`` (Prometheus, optionally behind a bearer token) and
``/health`` (503 until a model serves)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, FastAPI, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sentiment.service.metrics import CONTENT_TYPE
from sentiment.service.serving import SentimentService
from sentiment.web.monitoring_figures import figures_json, monitoring_figures

# auto_error=False: with no token configured /metrics stays open, so the route itself decides and answers the 401.
_BEARER = HTTPBearer(auto_error=False)


def add_routes(app: FastAPI, service: SentimentService) -> None:
    """Register the routes on ``app``; call before Gradio is mounted at "/", which would otherwise answer them."""
    settings = service.settings

    @app.get("/metrics", include_in_schema=False)
    def metrics(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Response:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
        given = credentials.credentials if credentials is not None else ""
        if token and not hmac.compare_digest(given.encode(), token.encode()):  # constant time: no timing oracle
            return Response("metrics need a bearer token\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/health")
    def health(response: Response) -> dict[str, object]:
        body = service.health()
        if not body["ready"]:
            response.status_code = 503
        return body

    # The figures the /monitoring Gradio endpoint returns, for curl: without this route Gradio's own monitoring
    # dashboard answers the path ({"detail": "Monitoring is not enabled."}).
    @app.get("/monitoring")
    def monitoring() -> Response:
        return Response(figures_json(monitoring_figures(service)), media_type="application/json")
