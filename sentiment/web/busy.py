"""A full queue answers "busy, retry" plainly and at once.

Gradio refuses a new event with HTTP 503 and ``{"detail": "Queue is full. Max size is N and size is N."}`` when
``SENTIMENT_QUEUE_SIZE`` events already wait. That is the right status, but it tells a script neither that trying
again is the cure nor when: this ASGI middleware adds a ``Retry-After`` header and says so in the detail, for
exactly those responses, and passes everything else through untouched (streams included).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

QUEUE_FULL = "Queue is full"


class BusyRetryMiddleware:
    def __init__(self, app: ASGIApp, retry_after_s: int = 2) -> None:
        self.app = app
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of a 503, kept until its body shows whether it is "queue full"
        body = b""

        async def sending(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start" and message["status"] == 503:
                held = message
                return
            if held is None:
                await send(message)
                return
            body += message.get("body", b"")
            if message.get("more_body", False):
                return
            start, held = held, None
            content = self._rewrite(body)
            if content is None:  # another 503: as it was
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers += [(b"content-length", b"%d" % len(content)), (b"retry-after", b"%d" % self.retry_after_s)]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": content})

        await self.app(scope, receive, sending)

    def _rewrite(self, body: bytes) -> bytes | None:
        try:
            payload: Any = json.loads(body)
        except ValueError:
            return None
        detail = payload.get("detail") if isinstance(payload, dict) else None
        if not isinstance(detail, str) or not detail.startswith(QUEUE_FULL):
            return None
        payload["detail"] = f"The app is busy: {detail} Retry in {self.retry_after_s} s or more."
        return json.dumps(payload).encode()
