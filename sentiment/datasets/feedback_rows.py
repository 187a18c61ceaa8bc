"""One feedback row found or inserted inside a caller's write transaction (``FeedbackStore.add``), safe against a
concurrent sender of the same (prediction, label) on PostgreSQL, where two transactions can both miss the lookup."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from sentiment.store.schema import feedback

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    id: int
    reviewed: str
    existed: bool  # already stored before this call (a duplicate)


def find_row(conn: Connection, prediction_id: str, label: str) -> Row | None:
    found = conn.execute(
        select(feedback.c.id, feedback.c.reviewed).where(
            feedback.c.prediction_id == prediction_id, feedback.c.label == label
        )
    ).first()
    return None if found is None else Row(int(found.id), str(found.reviewed), existed=True)


def insert_row(conn: Connection, values: dict[str, object]) -> Row:
    """Insert a new row, or (PostgreSQL: a concurrent transaction committed the same (prediction, label) after our
    lookup) find the one that won. The savepoint keeps this transaction usable after the unique-key violation."""
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(feedback).values(**values).returning(feedback.c.id)).scalar_one()
    except IntegrityError:
        winner = find_row(conn, str(values["prediction_id"]), str(values["label"]))
        if winner is None:  # not the unique key after all (a NOT NULL or length rule): a real error
            raise
        logger.info(
            "feedback %s/%s was stored by a concurrent sender: a duplicate", values["prediction_id"], values["label"]
        )
        return winner
    return Row(int(new_id), str(values["reviewed"]), existed=False)
