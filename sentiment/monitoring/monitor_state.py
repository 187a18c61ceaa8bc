"""Small named state the monitoring keeps between checks and restarts, in the one store's ``monitor_state`` table:
one JSON value per key, replaced whole in one transaction (a reader sees the old value or the new, never half)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from sentiment.store import Store
from sentiment.store.rows import upsert
from sentiment.store.schema import monitor_state


def save_state(store: Store, key: str, value: Any) -> None:
    """Keep ``value`` (anything ``json.dumps`` takes; NaN included, as Python writes it) under ``key``."""
    text = json.dumps(value)
    with store.write() as conn:
        upsert(conn, monitor_state, {"key": key, "value": text, "updated_at": time.time()})


def load_state(store: Store, key: str) -> Any | None:
    """The value kept under ``key``, or None; ``ValueError`` when the stored text is not JSON."""
    with store.read() as conn:
        text = conn.execute(select(monitor_state.c.value).where(monitor_state.c.key == key)).scalar_one_or_none()
    return None if text is None else json.loads(text)
