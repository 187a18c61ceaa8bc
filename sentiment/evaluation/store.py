"""Past evaluations, kept in the one store (``sentiment.store``) so they survive restarts and replicas share them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import RowMapping, func, insert, select

from sentiment.evaluation.report import EvaluationReport
from sentiment.store import Store
from sentiment.store.schema import evaluations


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


@dataclass(frozen=True)
class StoredEvaluation:
    """One evaluation as stored: its history row and the report it kept (``EvaluationReport.stored()``, JSON, with
    today's ``source`` word), what a restarting replica needs to set a gauge again."""

    record: EvaluationRecord
    report: dict[str, Any]


class EvaluationStore:
    """Past evaluations in the ``evaluations`` table of the one store, so they survive restarts and every replica
    sees them. Ids grow with arrival and are never reused: "newest" means the highest id."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, report: EvaluationReport) -> int:
        """Store one evaluation report (its ``stored()`` JSON, and the columns listings read); returns its id."""
        result = report.result
        row = {  # plain numbers: sqlite3 stores a numpy int as bytes
            "created_at": float(result.created_at),
            "model": result.model,
            "model_revision": result.model_revision,
            "dataset": result.dataset,
            "split": result.split,
            "n": int(result.n),
            "seed": int(result.seed),
            "accuracy": float(result.metrics.accuracy),
            "macro_f1": float(result.metrics.macro_f1),
            "source": report.source,
            "report": json.dumps(report.stored()),
        }
        with self.store.write() as conn:
            return int(conn.execute(insert(evaluations).values(**row).returning(evaluations.c.id)).scalar_one())

    def recent(self, limit: int = 50) -> list[EvaluationRecord]:
        """The newest ``limit`` evaluations, newest first."""
        query = select(*_COLUMNS).order_by(evaluations.c.id.desc()).limit(max(limit, 0))
        with self.store.read() as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def report(self, evaluation_id: int) -> dict[str, Any] | None:
        """The report as stored (``EvaluationReport.stored()``, JSON), or None for an unknown id."""
        with self.store.read() as conn:
            stored = conn.scalar(select(evaluations.c.report).where(evaluations.c.id == int(evaluation_id)))
        return None if stored is None else _report(stored)

    def latest_per_key(self) -> list[StoredEvaluation]:
        """The newest evaluation per (model, dataset, split, source), oldest first, each with its stored report:
        what a restarting replica sets its ``model_*`` gauges from, so they do not vanish until the next run.

        ``model`` is the name as evaluated (a visitor's gauges carry "other" for a model the app does not offer:
        the caller maps it as ``EvaluationService`` does); ``source`` is today's word, so a row stored as "user"
        and a newer one stored as "visitor" are one key, the newer winning."""
        key = (evaluations.c.model, evaluations.c.dataset, evaluations.c.split, evaluations.c.source)
        newest = select(func.max(evaluations.c.id)).group_by(*key)
        query = select(*_COLUMNS, evaluations.c.report).where(evaluations.c.id.in_(newest))
        with self.store.read() as conn:
            found = conn.execute(query.order_by(evaluations.c.id)).mappings().all()
        latest: dict[tuple[str, str, str, str], StoredEvaluation] = {}
        for row in found:  # by id: a later row with the same key (after renaming the source) replaces an earlier
            record = _record(row)
            latest[(record.model, record.dataset, record.split, record.source)] = StoredEvaluation(
                record, _report(row["report"])
            )
        return sorted(latest.values(), key=lambda stored: stored.record.id)


_COLUMNS = tuple(evaluations.c[name] for name in COLUMNS)


def _record(row: RowMapping) -> EvaluationRecord:
    record = EvaluationRecord(*(row[name] for name in COLUMNS))
    return replace(record, id=int(record.id), source=source_word(record.source))


def _report(stored: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(stored)
    if "source" in report:
        report["source"] = source_word(report["source"])
    return report
