"""Every drift check's verdict, kept in a small SQLite file under the data folder so the status history survives a
restart.

One row per check: when, the reported status and this window's own level (the persistence rule may hold one back:
``sentiment.monitoring.persistence``), how many checks in a row reached it, which reference it was measured
against, the window size, and per test its level and effect size. Not the distributions: those belong to the last
report only. The table is bounded by count (``SENTIMENT_DRIFT_HISTORY_ROWS``): the oldest rows go first.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sentiment.monitoring.drift import DriftReport

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drift_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checked_at REAL NOT NULL,
    status TEXT NOT NULL,
    raw_status TEXT NOT NULL,
    consecutive INTEGER NOT NULL,
    reference_source TEXT NOT NULL,
    window_size INTEGER NOT NULL,
    tests TEXT NOT NULL
);
"""
_COLUMNS = "checked_at, status, raw_status, consecutive, reference_source, window_size, tests"


@dataclass(frozen=True)
class DriftCheckRecord:
    """One past check: its verdicts and, per test, ``{"feature", "test", "level", "effect_size"}``."""

    checked_at: float
    status: str
    raw_status: str
    consecutive: int
    reference_source: str
    window_size: int
    tests: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, report: DriftReport) -> DriftCheckRecord:
        tests = [
            {"feature": row.feature, "test": row.test, "level": row.level, "effect_size": row.effect_size}
            for row in report.results
        ]
        raw = report.raw_status or report.status
        return cls(
            report.checked_at,
            report.status,
            raw,
            report.consecutive,
            report.reference_source,
            report.window_size,
            tests,
        )


class DriftHistory:
    """The stored checks, newest ``max_rows`` kept."""

    def __init__(self, path: Path, max_rows: int, busy_timeout_s: float = 10.0) -> None:
        if max_rows < 1:
            raise ValueError(f"the drift history must keep at least one check, got max_rows={max_rows}")
        self.path = path
        self.max_rows = max_rows
        self.busy_timeout_s = busy_timeout_s  # how long a write waits for another connection's lock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connection() as conn:
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One connection per call, committed and closed (checks are minutes apart: nothing to pool)."""
        with self._lock, closing(self._connect()) as conn, conn:
            yield conn

    def add(self, report: DriftReport) -> DriftCheckRecord:
        """Store ``report``'s verdicts and drop the rows beyond ``max_rows``; returns what was stored."""
        record = DriftCheckRecord.of(report)
        values = (*list(asdict(record).values())[:-1], json.dumps(record.tests))
        with self._connection() as conn:
            cursor = conn.execute(f"INSERT INTO drift_checks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            conn.execute("DELETE FROM drift_checks WHERE id <= ?", (int(cursor.lastrowid or 0) - self.max_rows,))
        return record

    def recent(self, limit: int = 100) -> list[DriftCheckRecord]:
        """The newest ``limit`` checks, oldest first (the order a timeline draws them)."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM drift_checks ORDER BY id DESC LIMIT ?", (max(limit, 0),)
            ).fetchall()
        return [_record(row) for row in reversed(rows)]

    def count(self) -> int:
        with self._connection() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM drift_checks").fetchone()[0])


def _record(row: tuple[Any, ...]) -> DriftCheckRecord:
    checked_at, status, raw_status, consecutive, reference_source, window_size, tests = row
    return DriftCheckRecord(
        float(checked_at), status, raw_status, int(consecutive), reference_source, int(window_size), json.loads(tests)
    )
