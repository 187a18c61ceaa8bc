"""The model lineage in the one store (``model_lineage``): every promotion and rollback, with where a promoted model
came from, so the owner can always say which model served from when and what it was trained on."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from sentiment.store import Store
from sentiment.store.schema import model_lineage

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors", "pytorch_model.bin")


def adapter_digest(folder: Path) -> str | None:
    """SHA-256 of the run folder's weights file (the adapter, or the whole model's weights); None without one."""
    for name in ADAPTER_FILES:
        path = folder / name
        if path.is_file():
            hasher = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    hasher.update(block)
            return hasher.hexdigest()
    return None


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float as None (JSON has no NaN; PostgreSQL's JSON parsers refuse it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class LineageRecord:
    """One promotion or rollback. A rollback carries no lineage of its own (the model it returns to has its row)."""

    action: str  # promote | rollback
    model: str
    previous: str
    actor: str = "admin"
    base: str | None = None
    adapter_digest: str | None = None
    data_digest: str | None = None
    rows: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None


class Lineage:
    """Reads and appends ``model_lineage`` rows (oldest first by id: ids grow with arrival)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, record: LineageRecord, now: float | None = None) -> int:
        values = {
            "created_at": time.time() if now is None else now,
            "action": record.action,
            "model": record.model,
            "previous": record.previous,
            "base": record.base,
            "adapter_digest": record.adapter_digest,
            "data_digest": record.data_digest,
            "rows": None if record.rows is None else json.dumps(record.rows),
            "metrics": None if record.metrics is None else json.dumps(_finite(record.metrics), allow_nan=False),
            "actor": record.actor,
        }
        with self.store.write() as conn:
            return int(conn.execute(insert(model_lineage).values(**values).returning(model_lineage.c.id)).scalar_one())

    def rows(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` rows, oldest first, with their JSON columns parsed."""
        query = select(model_lineage).order_by(model_lineage.c.id.desc()).limit(limit)
        with self.store.read() as conn:
            found = [{str(k): v for k, v in row._mapping.items()} for row in conn.execute(query)]
        for row in found:
            for key in ("rows", "metrics"):
                row[key] = None if row[key] is None else json.loads(row[key])
        return found[::-1]
