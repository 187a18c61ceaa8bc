"""Who a request comes from, for limits per client: its network address, never something the client chooses.

- A Gradio session is not a client: every new ``gradio_client.Client`` and every ``POST /gradio_api/call/...`` gets a
  fresh one, so a limit per session is a limit nobody meets.
- ``X-Forwarded-For`` is written by whoever sends the request: it names the client only where the owner said which
  proxies write it, in one of two ways. ``SENTIMENT_TRUSTED_PROXIES`` lists their addresses: uvicorn's
  proxy-headers middleware with exactly that list (uvicorn's own default trusts 127.0.0.1, so ``app.py`` turns
  that off). ``SENTIMENT_PROXY_HOPS`` counts them, for proxies whose address is unknown or changes (a Hugging Face
  Space, where it is 1 by default): ``sentiment.web.forwarded``. Either way ``trust_forwarded_headers`` rewrites
  the request's client address, so it is right for every route, and no route reads the header.
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
from sentiment.web.forwarded import ForwardedHopsMiddleware, parse_address

logger = logging.getLogger(__name__)
UNKNOWN = "unknown"  # no peer address (an in-process call): one shared key, so such calls are limited together
_HINTED: set[str] = set()  # peers already named in the log as sending X-Forwarded-For untrusted (a few, bounded)


def trust_forwarded_headers(app: FastAPI, settings: Settings) -> None:
    """Name each request's client by ``X-Forwarded-For`` the way the settings say, or not at all (the default off a
    Space). With ``Settings.forwarded_hops`` N > 0: the N-th address from the right. Else with
    ``SENTIMENT_TRUSTED_PROXIES``: from a listed proxy, the nearest address that is not itself a listed proxy. Either
    way, entries a visitor wrote further left are ignored. Run uvicorn with ``proxy_headers=False``."""
    hops = settings.forwarded_hops
    if hops > 0:
        app.add_middleware(ForwardedHopsMiddleware, hops=hops)
        why = "SENTIMENT_PROXY_HOPS" if settings.proxy_hops is not None else "the default on a Hugging Face Space"
        logger.info("a request's client is the address %d from the right of X-Forwarded-For (%s)", hops, why)
        return
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
    parts = [part.strip() for part in forwarded.split(",")]
    if host in parts or host in {parsed[0] for parsed in map(parse_address, parts) if parsed}:
        return  # a middleware took the client from the header (as written, or its address without a port): used
    _HINTED.add(host)
    logger.warning(
        "a request from %s carries X-Forwarded-For, which is ignored: if %s is your reverse proxy, list it in "
        "SENTIMENT_TRUSTED_PROXIES (or, if its address changes, set SENTIMENT_PROXY_HOPS to the number of proxies), "
        "otherwise every visitor behind it shares one feedback limit",
        host,
        host,
    )
