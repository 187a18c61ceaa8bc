"""Past evaluations, kept in a small SQLite file under the data folder so they survive restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from sentiment.evaluation.report import EvaluationReport

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    model_revision TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    n INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    accuracy REAL NOT NULL,
    macro_f1 REAL NOT NULL,
    source TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_created ON evaluations (created_at);
"""


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation in the history listing; the full report it stored is ``EvaluationStore.report(id)``."""

    id: int
    created_at: float
    model: str
    model_revision: str
    dataset: str
    split: str
    n: int
    seed: int
    accuracy: float
    macro_f1: float
    source: str  # visitor, scheduled or cli (``SOURCES``)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(EvaluationRecord))
# Who ran an evaluation, one word everywhere: the history, the API and the gauges' ``source`` label.
VISITOR, SCHEDULED, CLI = "visitor", "scheduled", "cli"
SOURCES = (VISITOR, SCHEDULED, CLI)
# What rows stored before the names were unified say: read as today's word, so old and new rows list alike.
_OLD_SOURCES = {"user": VISITOR, "scheduler": SCHEDULED}


def source_word(stored: str) -> str:
    """Today's word for a stored ``source`` (rows written before the rename say "user" / "scheduler")."""
    return _OLD_SOURCES.get(stored, stored)


class EvaluationStore:
    def __init__(self, path: Path, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s  # how long a write waits for another connection's lock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def add(self, report: EvaluationReport) -> int:
        """Store one evaluation report (its ``stored()`` JSON, and the columns listings read); returns its id."""
        result = report.result
        row = (
            result.created_at,
            result.model,
            result.model_revision,
            result.dataset,
            result.split,
            result.n,
            result.seed,
            result.metrics.accuracy,
            result.metrics.macro_f1,
            report.source,
            json.dumps(report.stored()),
        )
        with self._lock, self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO evaluations (created_at, model, model_revision, dataset, split, n, seed, accuracy, "
                "macro_f1, source, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def recent(self, limit: int = 50) -> list[EvaluationRecord]:
        """The newest ``limit`` evaluations, newest first."""
        with self._lock, self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM evaluations ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        records = (EvaluationRecord(*row) for row in rows)
        return [replace(record, source=source_word(record.source)) for record in records]

    def report(self, evaluation_id: int) -> dict[str, Any] | None:
        """The report as stored (``EvaluationReport.stored()``, JSON), or None for an unknown id."""
        with self._lock, self._connect() as conn:
            row = conn.execute("SELECT report FROM evaluations WHERE id = ?", (evaluation_id,)).fetchone()
        if not row:
            return None
        report: dict[str, Any] = json.loads(row[0])
        if "source" in report:
            report["source"] = source_word(report["source"])
        return report
