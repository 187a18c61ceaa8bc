"""The one store opens and migrates on both backends, and Alembic's migrations build exactly the tables the code
reads (``sentiment/store/schema.py``): no drift between the migration history and the schema module."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from sentiment.errors import StoreError, StoreUnavailableError
from sentiment.store import Store, safe_url
from sentiment.store.engine import head_revision
from sentiment.store.schema import metadata, monitor_state


def test_migrations_build_the_schema_module_exactly(store: Store) -> None:
    assert store.revision() == head_revision()
    with store.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_opening_again_is_a_no_op_and_keeps_rows(database_url: str) -> None:
    first = Store.open(database_url)
    with first.write() as conn:
        conn.execute(insert(monitor_state).values(key="k", value="1", updated_at=1.0))
    first.dispose()
    again = Store.open(database_url)
    with again.read() as conn:
        assert conn.execute(select(monitor_state.c.value)).scalar_one() == "1"
    again.dispose()


def test_replicas_opening_together_migrate_once(database_url: str) -> None:
    """Four processes' worth of openers racing on a fresh database: all succeed, one schema."""
    errors: list[BaseException] = []
    stores: list[Store] = []

    def open_one() -> None:
        try:
            stores.append(Store.open(database_url, timeout_s=30))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {s.revision() for s in stores} == {head_revision()}
    for s in stores:
        s.dispose()


def test_a_bad_address_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="sqlite:///path"):
        Store.open("mysql://u:p@localhost/db")
    with pytest.raises(StoreError, match="not a database address"):
        Store.open("not a url")


def test_an_unreachable_database_fails_fast_without_its_password() -> None:
    from postgres import free_port

    url = f"postgresql+psycopg://owner:s3cret@127.0.0.1:{free_port()}/sentiment"
    with pytest.raises(StoreUnavailableError) as caught:
        Store.open(url, timeout_s=2)
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)
    assert "s3cret" not in safe_url(url)


def test_a_store_opened_while_its_database_is_down_migrates_when_it_comes_back() -> None:
    """The app starts with PostgreSQL down: uses fail at once with a clear error, status says why, and the first
    use after the database is back migrates and works (no restart)."""
    from postgres import PostgresServer

    server = PostgresServer().start()
    try:
        url = server.create_database()
        server.halt()
        store = Store.open(url, timeout_s=2, wait=False)
        store.retry_s = 0
        with pytest.raises(StoreUnavailableError, match="unavailable"), store.read():
            pass
        assert store.status()["available"] is False
        assert store.ping() is False
        server.resume()
        with store.write() as conn:
            conn.execute(insert(monitor_state).values(key="k", value="1", updated_at=1.0))
        assert store.status() == {"backend": "postgresql", "url": store.url, "available": True, "error": None}
        assert store.revision() == head_revision()
        server.halt()  # lost mid-run: the pooled connection is dead; the next use says so instead of hanging
        with pytest.raises(StoreUnavailableError), store.read() as conn:
            conn.execute(select(monitor_state.c.value)).all()
        server.resume()
        with store.read() as conn:
            assert conn.execute(select(monitor_state.c.value)).scalar_one() == "1"
        store.dispose()
    finally:
        server.stop()


def test_a_0001_store_upgrades_to_the_review_sample_and_back_keeping_its_rows(database_url: str) -> None:
    """A store made by the first revision (a deployed app's) gains ``review_sample`` on opening, its predictions
    untouched; ``0002``'s downgrade removes only that table."""
    from alembic import command
    from sqlalchemy import inspect

    from sentiment.store.engine import alembic_config, create_store_engine
    from sentiment.store.schema import predictions

    engine = create_store_engine(database_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            insert(predictions).values(
                ts=1.0, source="api", model="m", n_chars=3, n_tokens=1, surface="api", p_negative=0.2,
                p_neutral=0.3, p_positive=0.5, label="positive", confidence=0.5, prediction_id="a" * 32,
            )
        )  # fmt: skip
    assert "review_sample" not in inspect(engine).get_table_names()
    store = Store.open(database_url)
    assert store.revision() == head_revision()
    assert "review_sample" in inspect(store.engine).get_table_names()
    with store.read() as conn:
        assert conn.execute(select(predictions.c.prediction_id)).scalars().all() == ["a" * 32]
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert "review_sample" not in inspect(engine).get_table_names()
    assert "predictions" in inspect(engine).get_table_names()
    store.dispose()
    engine.dispose()
