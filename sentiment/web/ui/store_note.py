"""The Monitoring tab's note on the store, above everything else: said only when the monitoring memory is at risk.

Two cases, from ``SentimentService.store_status()``: the store does not answer (predictions are still served; the
prediction log holds its rows until it is back), or it answers but will not outlive the next restart (a Space
without a volume or a database). A healthy, persistent store says nothing: the tab stays about the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def store_note(status: Mapping[str, Any]) -> str:
    """Markdown for the note (empty when there is nothing to say). ``waiting_rows``, when the status carries it,
    is how many prediction-log rows wait in memory for the store to come back."""
    lines = []
    if not status.get("available", True):
        line = f"**The store is unavailable: {status.get('error') or 'no answer'}; predictions are served"
        waiting = status.get("waiting_rows")
        if waiting is not None:
            line += f", {int(waiting):,} log row{'s' if int(waiting) != 1 else ''} waiting"
        lines.append(line + f".** (store: {status.get('backend')} at `{status.get('url')}`)")
    if status.get("warning"):
        lines.append(f"**Warning:** {status['warning']}")
    return "\n\n".join(lines)
