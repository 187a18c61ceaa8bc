"""The client behind a known number of reverse proxies: the hop-count rule (``SENTIMENT_PROXY_HOPS``).

Each reverse proxy appends the address it received the request from to ``X-Forwarded-For``. With N proxies in front
of the app, the last N entries are theirs and the N-th from the right is the address the outermost proxy saw: the
client. Everything further left was in the request when it reached that proxy, so the client wrote it and it is
ignored, whatever it says. This is werkzeug's ``ProxyFix(x_for=N)``, Express's ``trust proxy = N`` and nginx's
real-ip module with a hop count; it is the rule for a proxy whose address cannot be listed (uvicorn's middleware, used
for ``SENTIMENT_TRUSTED_PROXIES``, only trusts listed addresses).

Where the app runs on a Hugging Face Space, every request comes through the Space's proxy, from a private address
that changes (embeddings-benchmark/mteb#4754: on a Space ``request.client.host`` is an internal address such as
10.16.3.80 and the visitor's own is in ``X-Forwarded-For``), so ``Settings.forwarded_hops`` is 1 there by default. A
Space is recognised by ``SPACE_ID``, which the Hub documents as set in every Space ("Helper environment variables",
https://huggingface.co/docs/hub/spaces-overview). The Hub does not document how many entries its proxies append:
if the one-time fallback line below appears for visitors' requests the count is too high, if visitors still share one
limit it is too low, and ``SENTIMENT_PROXY_HOPS`` corrects it either way.

Hop counting trusts the position, not the peer: a request that reaches the app *around* the proxies could name any
client. Use it only where the app's port is reachable through the proxies alone (as on a Space).
"""

from __future__ import annotations

import ipaddress
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)
HEADER = b"x-forwarded-for"


def hop_entry(forwarded: str, hops: int) -> str | None:
    """The entry of ``forwarded`` (an ``X-Forwarded-For`` value, several header lines joined by commas) that the
    outermost of ``hops`` proxies appended: the ``hops``-th from the right. None when ``hops`` is 0 or the header
    has fewer entries (a request that did not pass every proxy), or that entry is empty."""
    if hops < 1:
        return None
    entries = [entry.strip() for entry in forwarded.split(",")]
    if len(entries) < hops:
        return None
    return entries[-hops] or None


def parse_address(entry: str) -> tuple[str, int] | None:
    """``entry`` as ``(address, port)``: a bare IPv4/IPv6 address (port 0), ``a.b.c.d:port`` or ``[v6]:port`` (some
    proxies append the port). None for anything else (a name, ``unknown``, an RFC 7239 obfuscated ``_id``)."""
    host, port = entry, "0"
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not port.isdigit() or int(port) > 65535:
        return None
    return str(address), int(port)


class ForwardedHopsMiddleware:
    """Sets ``scope["client"]`` of every HTTP and WebSocket request to the client the hop-count rule names, as
    uvicorn's proxy-headers middleware does for listed proxies: every route (Gradio events, ``gr.api`` endpoints,
    plain FastAPI routes) then sees the same client, and none reads the header itself.

    A request with fewer entries than ``hops`` (or an entry that is not an address) keeps its peer as the client,
    and the first such request is logged: either the proxies are fewer than the setting says, or something reaches
    the app around them."""

    def __init__(self, app: ASGIApp, hops: int) -> None:
        if hops < 1:
            raise ValueError(f"ForwardedHopsMiddleware needs hops >= 1, got {hops}; with 0, do not install it")
        self.app = app
        self.hops = hops
        self._logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            values = [value for name, value in scope.get("headers", ()) if name == HEADER]
            forwarded = b", ".join(values).decode("latin-1")
            entry = hop_entry(forwarded, self.hops)
            client = parse_address(entry) if entry is not None else None
            if client is not None:
                scope["client"] = client
            else:
                self._log_fallback(scope, forwarded)
        await self.app(scope, receive, send)

    def _log_fallback(self, scope: Scope, forwarded: str) -> None:
        if self._logged:
            return
        self._logged = True
        peer = (scope.get("client") or ("unknown",))[0]
        entries = len([entry for entry in forwarded.split(",") if entry.strip()])
        logger.warning(
            "SENTIMENT_PROXY_HOPS is %d (1 by default on a Hugging Face Space), but a request from %s carried %d "
            "X-Forwarded-For entries and no address %d from the right: its client is taken to be %s itself. If "
            "fewer proxies sit in front of the app, lower SENTIMENT_PROXY_HOPS (0: none); if something reaches the "
            "app around them, close that path. Logged once.",
            self.hops,
            peer,
            entries,
            self.hops,
            peer,
        )
