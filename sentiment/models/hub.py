"""Decide quickly whether the Hugging Face Hub can be used.

The Hub client retries for most of a minute before giving up on an unreachable host (measured in
benchmarks/README.md#decide-hub-reachability-first); an app that starts cannot wait that long to choose its model.
One short HTTP request with a hard timeout answers the question in seconds.
"""

from __future__ import annotations

import logging
import os

import httpx

from sentiment.settings import setting_default

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


def hub_offline_flag() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` (a mirror) or the public Hub, without a trailing slash."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_status(timeout_s: float = setting_default("hub_timeout_s")) -> tuple[bool, str]:
    """Return ``(reachable, reason)``; the reason explains a ``False`` in words a user can act on. One HEAD request
    that gives up after ``timeout_s`` seconds; an HTTP 5xx counts as unreachable. Never raises."""
    if hub_offline_flag():
        return False, "HF_HUB_OFFLINE is set"
    url = f"{hub_endpoint()}/api/models/gpt2"
    try:
        response = httpx.head(url, timeout=timeout_s, follow_redirects=True)
    except httpx.TimeoutException:
        return False, f"{hub_endpoint()} did not answer within {timeout_s:g} s"
    except httpx.HTTPError as exc:
        return False, f"{hub_endpoint()} is unreachable ({type(exc).__name__}: {exc})"
    if response.status_code >= 500:
        return False, f"{hub_endpoint()} answered HTTP {response.status_code}"
    return True, "reachable"
