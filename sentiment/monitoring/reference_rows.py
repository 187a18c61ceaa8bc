"""The references' rows in the one store (table ``reference_profiles``): one row per thing the monitoring keeps about a
model revision's reference, found by ``key``, its JSON in ``payload``.

Four kinds share the table, as they once shared the ``<data_dir>/reference/`` folder (the key is the file's former
stem, so a migrated data folder and this code find the same rows):
- ``profile``: a reference profile (``<key>``; ``ReferenceProfile.payload``);
- ``pinned``: which profile a revision's pin points at (``pinned-<key>``; ``{"profile": "<key>.json"}``);
- ``serving_since``: when the automatic reference's count last restarted (``serving-<key>``; ``{"since": t}``);
- ``estimation``: the performance estimator's labelled reference (``estimation-<key>``).

A row is replaced whole; every replica reads the same rows, so a pin or reset made through one replica holds in all.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, select

from sentiment.store import Store
from sentiment.store.rows import upsert
from sentiment.store.schema import references

KINDS = ("profile", "pinned", "serving_since", "estimation")


def put_reference(
    store: Store, key: str, kind: str, payload: str, *, model: str = "", model_revision: str = ""
) -> None:
    """Store ``payload`` under ``key``, replacing any row there (one transaction: readers see the old or the new)."""
    if kind not in KINDS:
        raise ValueError(f"unknown reference kind {kind!r}; expected one of {', '.join(KINDS)}")
    row = {
        "key": key,
        "kind": kind,
        "model": model[:256],
        "model_revision": model_revision[:256],
        "created_at": time.time(),
        "payload": payload,
    }
    with store.write() as conn:
        upsert(conn, references, row)


def get_reference(store: Store, key: str) -> str | None:
    """The payload stored under ``key``, or None."""
    with store.read() as conn:
        return conn.execute(select(references.c.payload).where(references.c.key == key)).scalar_one_or_none()


def drop_reference(store: Store, key: str) -> None:
    """Remove the row under ``key`` (nothing happens when there is none)."""
    with store.write() as conn:
        conn.execute(delete(references).where(references.c.key == key))
