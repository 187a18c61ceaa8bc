"""Headless Chromium for the browser tests: where it is, how it starts, how long an event may take."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from appserver import REPO

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
LONG = 120_000  # ms: an evaluation or a drift check on 2 shared cores
EVENT_TIMEOUT = 60_000  # ms: any other awaited event (a tab filled, a header drawn) on a busy machine


@contextmanager
def chromium_page(profile: Path, **context_options: Any) -> Iterator[Any]:
    """One page of a fresh headless Chromium profile in ``profile``, with every wait bounded by ``EVENT_TIMEOUT``.

    Playwright's 5 s defaults are a guess about the machine; on 2 busy cores a tab's first refresh can take longer.
    Every wait in the tests is for an event (text shown, a button enabled), so a generous bound costs nothing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run 'make test' (it installs it) or set CHROMIUM_PATH")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EVENT_TIMEOUT)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},  # a laptop screen: what a visitor sees first
            **context_options,
        )
        page = context.new_page()
        page.set_default_timeout(EVENT_TIMEOUT)
        yield page
        context.close()
