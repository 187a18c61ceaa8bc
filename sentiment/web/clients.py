"""Who a request comes from, for limits per client: its network address, never something the client chooses.

- A Gradio session is not a client: every new ``gradio_client.Client`` and every ``POST /gradio_api/call/...`` gets a
  fresh one, so a limit per session is a limit nobody meets.
- ``X-Forwarded-For`` is written by whoever sends the request: it names the client only when the peer that sent it
  is a reverse proxy the owner listed in ``SENTIMENT_TRUSTED_PROXIES``. ``trust_forwarded_headers`` installs
  uvicorn's proxy-headers middleware with exactly that list (uvicorn's own default trusts 127.0.0.1, so ``app.py``
  turns that off): the request's client address is then right for every route, and no route reads the header.
- IPv6 clients are keyed by their /64: one household or server gets a whole /64, so a per-address limit would be one
  per random address.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from sentiment.settings import Settings

logger = logging.getLogger(__name__)
UNKNOWN = "unknown"  # no peer address (an in-process call): one shared key, so such calls are limited together
_HINTED: set[str] = set()  # peers already named in the log as sending X-Forwarded-For untrusted (a few, bounded)


def trust_forwarded_headers(app: FastAPI, settings: Settings) -> None:
    """Put ``app`` behind uvicorn's proxy-headers middleware trusting only ``SENTIMENT_TRUSTED_PROXIES`` (none by
    default): from a listed proxy, the client is the nearest address in ``X-Forwarded-For`` that is not itself a
    listed proxy, so entries a visitor wrote further left are ignored. Run uvicorn with ``proxy_headers=False``."""
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)


def client_key(request: Any) -> str:
    """The limit key of a Gradio ``gr.Request`` (or a Starlette request): the client's address, an IPv6 one as its
    /64 network. ``UNKNOWN`` when there is no request or no peer."""
    client = getattr(request, "client", None) if request is not None else None
    host = getattr(client, "host", None)
    if not host:
        return UNKNOWN
    _hint_untrusted_proxy(request, str(host))
    return address_key(str(host))


def address_key(host: str) -> str:
    """``host`` as a limit key: an IPv4 address as it is (also when written IPv4-mapped), IPv6 as its /64, and
    anything else (a name) as it is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def _hint_untrusted_proxy(request: Any, host: str) -> None:
    """Log once per peer (a few peers at most) when a request carries ``X-Forwarded-For`` that was not used: behind
    an unlisted proxy every visitor shares the proxy's limit, and this line tells the owner which address to list."""
    headers = getattr(request, "headers", None) or {}
    forwarded = headers.get("x-forwarded-for", "")
    if not forwarded or len(_HINTED) >= 16 or host in _HINTED:
        return
    if host in {part.strip() for part in forwarded.split(",")}:
        return  # the middleware took the client from the header: it was used
    _HINTED.add(host)
    logger.warning(
        "a request from %s carries X-Forwarded-For, which is ignored: if %s is your reverse proxy, list it in "
        "SENTIMENT_TRUSTED_PROXIES, otherwise every visitor behind it shares one feedback limit",
        host,
        host,
    )
