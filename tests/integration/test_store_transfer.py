"""``export DIR`` / ``import DIR`` move the whole store as Parquet files, exactly: on each backend, from SQLite to
PostgreSQL and back, through the real CLI, and with errors that say what is wrong."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from sentiment.errors import StoreTransferError
from sentiment.store import Store
from sentiment.store.engine import head_revision
from sentiment.store.legacy import import_legacy_data
from sentiment.store.schema import TABLES, feedback, model_lineage, monitor_state, predictions, review_sample
from sentiment.store.transfer import MANIFEST, export_store, import_store

DATA = Path(__file__).resolve().parents[1] / "data"
REPO = DATA.parents[1]
COUNTS = {
    "predictions": 62,
    "feedback": 10,
    "evaluations": 1,
    "drift_checks": 2,
    "reference_profiles": 6,
    "review_sample": 1,
    "model_lineage": 1,
    "monitor_state": 2,
}


def _fill(store: Store, tmp_path: Path) -> None:
    """The fixture's real old data folder, imported, plus rows at the edges: text beyond ASCII, bytes with NULs
    and 0xff, extreme doubles, and a deleted newest prediction (the id high mark is above the largest id)."""
    shutil.copytree(DATA / "legacy_data_dir", tmp_path / "legacy")
    import_legacy_data(store, tmp_path / "legacy")
    edge = {"ts": 1e300, "source": "api", "model": "m", "n_chars": 2**31 - 1, "n_tokens": 0, "surface": "api"}
    probabilities = {"p_negative": 5e-324, "p_neutral": -0.0, "p_positive": 1.0, "label": "neutral"}
    with store.write() as conn:
        for text, blob in [("naïve 😀 日本", b"\x00\xff\x00"), (None, b""), ("gone", None)]:
            row = {**edge, **probabilities, "confidence": 0.1, "text": text, "embedding": blob, "prediction_id": "e"}
            conn.execute(insert(predictions).values(**row))
        conn.execute(delete(predictions).where(predictions.c.text == "gone"))
        conn.execute(insert(monitor_state).values(key="drift", value='{"consecutive": 2}', updated_at=3.5))
        sampled = {"prediction_id": "e", "prediction_ts": 1e300, "model": "m", "served_label": "neutral"}
        sampled |= {"p_negative": 5e-324, "p_neutral": -0.0, "p_positive": 1.0, "text": "naïve 😀", "skipped": 1}
        conn.execute(insert(review_sample).values(**sampled, inclusion_probability=0.02, sampled_at=2.0))
        promoted = {"created_at": 4.0, "action": "promote", "model": "run-1", "previous": "embedded", "actor": "admin"}
        conn.execute(insert(model_lineage).values(**promoted, rows='{"held_out": 40}', adapter_digest="ab" * 32))


def _tables(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.read() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))] for t in TABLES}


def _next_id(store: Store) -> int:
    with store.write() as conn:
        row = {"prediction_id": "n", "label": "neutral", "source": "v", "client": "c", "created_at": 1.0}
        new = conn.execute(insert(feedback).values(**row)).inserted_primary_key[0]
        conn.execute(delete(feedback).where(feedback.c.id == new))
        first = conn.execute(
            insert(predictions).values(
                ts=1.0,
                source="s",
                model="m",
                n_chars=1,
                n_tokens=1,
                surface="s",
                p_negative=0.0,
                p_neutral=0.0,
                p_positive=1.0,
                label="positive",
                confidence=1.0,
            )
        ).inserted_primary_key[0]
        conn.execute(delete(predictions).where(predictions.c.id == first))
    return int(new) * 1000 + int(first)


@pytest.fixture
def other_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second empty database on the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.sqlite'}"
    return str(request.getfixturevalue("postgres").create_database())


def test_a_round_trip_keeps_every_table_exactly_and_the_ids_go_on(
    database_url: str, other_url: str, tmp_path: Path
) -> None:
    """Export then import into an empty store of the same backend: all six tables equal value for value (bytes,
    None, -0.0, 5e-324 included); the manifest counts the rows; the next feedback id is 11 and the next prediction
    id 64 in both (63, deleted before the export, is never handed out again)."""
    source, target = Store.open(database_url), Store.open(other_url)
    try:
        _fill(source, tmp_path)
        manifest = export_store(source, tmp_path / "export")
        assert {name: t["rows"] for name, t in manifest["tables"].items()} == COUNTS
        assert (manifest["schema_revision"], manifest["backend"]) == (head_revision(), source.backend)
        assert manifest["tables"]["predictions"]["id_high"] == 63
        assert import_store(target, tmp_path / "export") == COUNTS
        assert _tables(target) == _tables(source)
        assert _next_id(target) == _next_id(source) == 11 * 1000 + 64
    finally:
        source.dispose()
        target.dispose()


def test_sqlite_to_postgresql_and_back_is_exact(postgres: Any, tmp_path: Path) -> None:
    """The way to move a store between backends: SQLite -> export -> PostgreSQL -> export -> SQLite gives back every
    table exactly, and each step continues the ids where the first store left them."""
    first = Store.open(f"sqlite:///{tmp_path / 'first.sqlite'}")
    shared = Store.open(str(postgres.create_database()))
    back = Store.open(f"sqlite:///{tmp_path / 'back.sqlite'}")
    try:
        _fill(first, tmp_path)
        export_store(first, tmp_path / "from_sqlite")
        import_store(shared, tmp_path / "from_sqlite")
        export_store(shared, tmp_path / "from_postgresql")
        import_store(back, tmp_path / "from_postgresql")
        assert _tables(shared) == _tables(first)
        assert _tables(back) == _tables(first)
        assert _next_id(first) == _next_id(shared) == _next_id(back) == 11 * 1000 + 64
    finally:
        for store in (first, shared, back):
            store.dispose()


def test_import_refuses_a_store_with_rows_unless_told_to_replace_them(
    database_url: str, other_url: str, tmp_path: Path
) -> None:
    """A non-empty store is left exactly as it was, with a message naming its rows and --replace; with ``replace``
    its rows are gone and the export's are there."""
    source, target = Store.open(database_url), Store.open(other_url)
    try:
        _fill(source, tmp_path)
        export_store(source, tmp_path / "export")
        with target.write() as conn:
            conn.execute(insert(monitor_state).values(key="mine", value="1", updated_at=1.0))
        before = _tables(target)
        with pytest.raises(StoreTransferError, match=r"is not empty \(1 monitor_state\).*--replace"):
            import_store(target, tmp_path / "export")
        assert _tables(target) == before
        assert import_store(target, tmp_path / "export", replace=True) == COUNTS
        assert _tables(target) == _tables(source)
    finally:
        source.dispose()
        target.dispose()


def test_each_bad_export_folder_is_refused_with_what_is_wrong(store: Store, tmp_path: Path) -> None:
    """Unknown folder, no manifest, a manifest that is not JSON, another schema revision, a damaged table file,
    exporting over files: each a ``StoreTransferError`` saying which, and the store stays empty."""
    export = tmp_path / "export"
    with pytest.raises(StoreTransferError, match="no export folder"):
        import_store(store, tmp_path / "missing")
    export_store(store, export)
    with pytest.raises(StoreTransferError, match="not an empty folder"):
        export_store(store, export)
    good = (export / MANIFEST).read_text()
    cases = [
        ("{not json", "not a readable export manifest"),
        (json.dumps({**json.loads(good), "schema_revision": "9999"}), "exported at schema revision '9999'"),
        (json.dumps({**json.loads(good), "format": "other"}), "is not a manifest of a sentiment-store-export"),
    ]
    for text, message in cases:
        (export / MANIFEST).write_text(text)
        with pytest.raises(StoreTransferError, match=message):
            import_store(store, export)
    damaged = json.loads(good)
    damaged["tables"]["feedback"]["rows"] = 3
    (export / MANIFEST).write_text(json.dumps(damaged))
    with pytest.raises(StoreTransferError, match="holds 0 rows, the manifest says 3"):
        import_store(store, export)
    (export / MANIFEST).unlink()
    with pytest.raises(StoreTransferError, match=r"no manifest\.json"):
        import_store(store, export)
    assert all(rows == [] for rows in _tables(store).values())


_text = st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))
_double = st.floats(allow_nan=False)  # SQLite reads NaN back as NULL: the store never holds one


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_text, st.one_of(st.none(), st.binary()), _double), min_size=1, max_size=5))
def test_any_text_bytes_and_doubles_survive_the_round_trip(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str | None, bytes | None, float]]
) -> None:
    """Property (SQLite): whatever the log holds (any Unicode text, any bytes, any finite double, None) comes back
    from Parquet equal."""
    folder = tmp_path_factory.mktemp("rt")
    source, target = Store.open(f"sqlite:///{folder / 'a.sqlite'}"), Store.open(f"sqlite:///{folder / 'b.sqlite'}")
    try:
        with source.write() as conn:
            for text, blob, value in rows:
                conn.execute(
                    insert(predictions).values(
                        ts=value,
                        source="s",
                        model="m",
                        n_chars=1,
                        n_tokens=1,
                        surface="s",
                        p_negative=value,
                        p_neutral=0.0,
                        p_positive=1.0,
                        label="positive",
                        confidence=1.0,
                        text=text,
                        embedding=blob,
                    )
                )
        export_store(source, folder / "export")
        import_store(target, folder / "export")
        assert _tables(target) == _tables(source)
    finally:
        source.dispose()
        target.dispose()


def _cli(*args: str, url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENTIMENT_DATABASE_URL": url, "SENTIMENT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sentiment", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_cli_moves_a_store_from_sqlite_to_postgresql(postgres: Any, tmp_path: Path) -> None:
    """``python -m sentiment export DIR`` against SQLite, ``import DIR`` against PostgreSQL (both chosen by
    SENTIMENT_DATABASE_URL): exit 0, the manifest and the counts printed, the tables equal; a second import is
    refused with exit 2 and the reason on stderr; ``--replace`` then succeeds (the other errors: tested in-process
    above)."""
    sqlite_url, pg_url = f"sqlite:///{tmp_path / 'app.sqlite'}", str(postgres.create_database())
    first = Store.open(sqlite_url)
    _fill(first, tmp_path)
    exported = _cli("export", str(tmp_path / "export"), url=sqlite_url, data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["tables"]["predictions"]["rows"] == 62
    imported = _cli("import", str(tmp_path / "export"), url=pg_url, data_dir=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == COUNTS
    shared = Store.open(pg_url)
    try:
        assert _tables(shared) == _tables(first)
    finally:
        shared.dispose()
        first.dispose()
    again = _cli("import", str(tmp_path / "export"), url=pg_url, data_dir=tmp_path)
    assert again.returncode == 2 and "is not empty" in again.stderr and "--replace" in again.stderr
    replaced = _cli("import", "--replace", str(tmp_path / "export"), url=pg_url, data_dir=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
