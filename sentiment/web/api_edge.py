"""The HTTP edge of the inference API and of Gradio's API, below every route: what must hold for every answer,
whichever code path made it.

- **Counted**: every answer of ``POST /predict``, ``POST /`` and ``/gradio_api/...`` is counted in
  ``sentiment_http_responses_total{route, status}``, by route template (never the raw path, which a visitor
  chooses), 5xx and the 400s of unparseable bodies included: before, only the refusals that reached a handler were
  counted, and an API that failed was invisible to the error-rate alert.
- **Bounded**: a request body over ``SENTIMENT_MAX_REQUEST_BYTES`` is answered 413 at once, from its
  ``Content-Length`` or, for a streamed body, as soon as the bytes read pass the limit: it never reaches the model
  (one 24 MB request once held it for 80 s). Gradio's uploads (``/gradio_api/upload``) keep their own, larger limit
  (``SENTIMENT_MAX_UPLOAD_MB``).
- **Decodable**: JSON is UTF-8 (RFC 8259); an inference API body that does not decode is answered 400 saying so,
  where FastAPI answered "There was an error parsing the body".
- **Explained**: an exception in an inference API route (a bug) is answered 500 in the API's error shape with an
  incident id, logged once with its traceback under that id and counted in ``sentiment_errors_total{reason=
  "internal"}``, as the UI edge (``web.ui.errors``) does for Gradio events.

The refusals here use the API's error shape, FastAPI's ``{"detail": [{"loc", "msg", "type"}]}``.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

INFERENCE_ROUTES = ("/predict", "/")
GRADIO_API = "/gradio_api"
GRADIO_UPLOAD = "/gradio_api/upload"  # limited by Gradio itself (max_file_size)


def route_of(scope: Scope) -> str | None:
    """The route template an answer is counted under, or ``None`` for what is not counted (the page, its assets,
    ``/metrics``, ``/health``). ``GET /`` is the UI; only ``POST /`` is the inference API."""
    path, method = scope.get("path", ""), scope.get("method", "")
    if path == "/predict" or (path == "/" and method == "POST"):
        return str(path)
    if path == GRADIO_API or path.startswith(GRADIO_API + "/"):
        return GRADIO_API
    return None


def error_body(msg: str, kind: str, loc: tuple[str, ...] = ("body",)) -> bytes:
    """One error in FastAPI's validation shape, the shape every inference API refusal has."""
    return json.dumps({"detail": [{"loc": list(loc), "msg": msg, "type": kind}]}).encode()


def undecodable(body: bytes) -> str | None:
    """Why a JSON body cannot be decoded as text (``None``: it can). JSON's own detection is used, so the UTF-16
    and UTF-32 bodies ``json.loads`` accepts still pass; anything else must be UTF-8."""
    encoding = json.detect_encoding(body)
    try:
        body.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        bad = body[exc.start : exc.start + 1].hex()
        return (
            f"the request body is not {name}: byte 0x{bad} at position {exc.start} cannot be decoded; "
            "send the JSON encoded as UTF-8"
        )
    return None


class ApiEdgeMiddleware:
    """ASGI middleware: count, bound, decode and explain (see the module docstring)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, max_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            if scope.get("method") == "POST" and scope.get("path") != GRADIO_UPLOAD:
                refusal, receive = await self._read(scope, receive, api=route != GRADIO_API)
                if refusal is not None:
                    await self._answer(sending, *refusal)
                    return
            await self.app(scope, receive, sending)
        except Exception:
            if status is not None or route == GRADIO_API:
                status = status or 500
                raise  # Gradio's, or a response already under way: Starlette answers and logs it as before
            incident = secrets.token_hex(4)
            logger.exception("internal error (id %s) in %s %s", incident, scope.get("method"), route)
            self.metrics.error("internal")
            msg = f"internal error (id {incident}); it has been logged"
            await self._answer(sending, 500, error_body(msg, "internal_error", ()))
        finally:
            if status is not None:
                self.metrics.http_response(route, status)

    async def _read(self, scope: Scope, receive: Receive, api: bool) -> tuple[tuple[int, bytes] | None, Receive]:
        """Read the body within the limit: (a refusal as (status, body), or None; a ``receive`` that replays what
        was read, then goes on with the client's)."""
        too_large = (
            413,
            error_body(
                f"the request body is over {self.max_bytes:,} bytes (SENTIMENT_MAX_REQUEST_BYTES); send fewer or "
                "shorter texts per request, or score a file with the batch scorer",
                "body_too_large",
            ),
        )
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return too_large, receive
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the route finds out from the replayed message
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return too_large, receive
            if not message.get("more_body", False):
                break
        if api and (why := undecodable(b"".join(m.get("body", b"") for m in messages))) is not None:
            return (400, error_body(why, "body_not_utf8")), receive

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return None, replay

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes) -> None:
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
        ]
        if status == 413:
            headers.append((b"connection", b"close"))  # the rest of the body is not read
        start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})
