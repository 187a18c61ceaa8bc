"""Decide quickly whether the Hugging Face Hub can be used.

The Hub client retries for most of a minute before giving up on an unreachable host (measured in
benchmarks/README.md#decide-hub-reachability-first); an app that starts cannot wait that long to choose its model.
One short HTTP request with a hard timeout answers the question in seconds.

Offline mode and the endpoint are huggingface_hub's own settings (``huggingface_hub.constants``), so this module
and every library that loads from the Hub agree on them. huggingface_hub reads ``HF_HUB_OFFLINE`` /
``TRANSFORMERS_OFFLINE`` and ``HF_ENDPOINT`` once, when it is first imported: an entry point that sets them must do
so before that (``finetune.calibrate`` does). This module imports it only when asked, so importing it freezes
nothing.
"""

from __future__ import annotations

import logging

import httpx

from sentiment.settings import setting_default

logger = logging.getLogger(__name__)


def hub_offline_flag() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``), as
    huggingface_hub itself reads it."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_endpoint() -> str:
    """The Hub's base URL without a trailing slash (``HF_ENDPOINT``, default https://huggingface.co)."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


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
