"""Every drift check's verdict, kept in the one store (``sentiment.store``) so the status history survives a restart
and every replica shows the same one.

One row per check: when, the reported status and this window's own level (the persistence rule may hold one back:
``sentiment.monitoring.persistence``), how many checks in a row reached it, which reference it was measured
against, the window size, and per test its level and effect size. Not the distributions: those belong to the last
report only. The table is bounded by count (``SENTIMENT_DRIFT_HISTORY_ROWS``): the oldest rows go first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import delete, func, insert, select

from sentiment.monitoring.drift import DriftReport
from sentiment.store import Store
from sentiment.store.schema import drift_checks


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
    """The stored checks in the ``drift_checks`` table of the one store, newest ``max_rows`` kept."""

    def __init__(self, store: Store, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError(f"the drift history must keep at least one check, got max_rows={max_rows}")
        self.store = store
        self.max_rows = max_rows

    def add(self, report: DriftReport) -> DriftCheckRecord:
        """Store ``report``'s verdicts and drop the rows beyond ``max_rows`` (one transaction); returns what was
        stored. Ids grow and are never reused, so the newest ``max_rows`` are the ids above the new one's minus it."""
        record = DriftCheckRecord.of(report)
        values = {
            **asdict(record),
            "checked_at": float(record.checked_at),  # plain numbers: sqlite3 stores a numpy int as bytes
            "consecutive": int(record.consecutive),
            "window_size": int(record.window_size),
            "tests": json.dumps(record.tests),
        }
        with self.store.write() as conn:
            new_id = conn.execute(insert(drift_checks).values(**values).returning(drift_checks.c.id)).scalar_one()
            conn.execute(delete(drift_checks).where(drift_checks.c.id <= int(new_id) - self.max_rows))
        return record

    def recent(self, limit: int = 100) -> list[DriftCheckRecord]:
        """The newest ``limit`` checks, oldest first (the order a timeline draws them)."""
        query = select(*_COLUMNS).order_by(drift_checks.c.id.desc()).limit(max(limit, 0))
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return [_record(tuple(row)) for row in reversed(rows)]

    def count(self) -> int:
        with self.store.read() as conn:
            return int(conn.scalar(select(func.count()).select_from(drift_checks)) or 0)


_COLUMNS = tuple(drift_checks.c[f.name] for f in fields(DriftCheckRecord))


def _record(row: tuple[Any, ...]) -> DriftCheckRecord:
    checked_at, status, raw_status, consecutive, reference_source, window_size, tests = row
    return DriftCheckRecord(
        float(checked_at), status, raw_status, int(consecutive), reference_source, int(window_size), json.loads(tests)
    )
