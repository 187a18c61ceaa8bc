"""Alembic's environment for the one store: always run from code (``sentiment.store.engine.upgrade``), which
hands over an open connection in ``config.attributes["connection"]``; there is no alembic.ini to point elsewhere."""

from __future__ import annotations

from alembic import context

from sentiment.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - a developer ran the alembic CLI without the app's wiring
    raise RuntimeError("run migrations with `python -m sentiment migrate` (sentiment.store.engine.upgrade)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
