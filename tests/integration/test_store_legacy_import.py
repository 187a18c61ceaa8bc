"""A data folder written by the app before the one store (tests/data/legacy_data_dir: commit 0a40166's own service
wrote it, see tests/data/make_legacy_data_dir.py) moves into the store on first start, on SQLite and PostgreSQL:
every row with its id, every reference file as one row, once, in one transaction, the old files untouched."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from sentiment.errors import StoreTransferError
from sentiment.store import Store
from sentiment.store.legacy import MARK, import_legacy_data
from sentiment.store.schema import TABLES, drift_checks, evaluations, feedback, monitor_state, predictions, references

DATA = Path(__file__).resolve().parents[1] / "data"
OLD_TABLES = {"predictions.sqlite": predictions, "feedback.sqlite": feedback, "evaluations.sqlite": evaluations}
OLD_TABLES["drift_history.sqlite"] = drift_checks


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA / "legacy_data_dir", target)  # copy2: the files' mtimes come along
    return target


def _old_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def _store_rows(store: Store, table: Any) -> list[tuple[Any, ...]]:
    order = table.c.id if "id" in table.c else table.c.key
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(select(table).order_by(order))]


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_every_row_and_reference_moves_with_its_id_once_and_the_old_files_stay(
    store: Store, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Row counts (60 predictions, 10 feedback, 1 evaluation, 2 drift checks, 6 references) and every value of every
    row equal the old files read directly; the next id follows the old ones; a second run changes nothing; the old
    folder keeps the same files with the same bytes (no -wal or -shm appears either); the log gives rows per
    table."""
    before = _fingerprint(data_dir)
    with caplog.at_level(logging.INFO, logger="sentiment.store.legacy"):
        counts = import_legacy_data(store, data_dir)
    assert "predictions 60, feedback 10, evaluations 1, drift_checks 2, reference_profiles 6" in caplog.text
    assert counts == {"predictions": 60, "feedback": 10, "evaluations": 1, "drift_checks": 2, "reference_profiles": 6}
    for name, table in OLD_TABLES.items():
        old = _old_rows(data_dir / name, "drift_checks" if table is drift_checks else table.name)
        assert _store_rows(store, table) == old, name  # same columns in the same order, ids included
    stored = _store_rows(store, predictions)
    assert isinstance(stored[0][-1], bytes) and len(stored[0][-1]) == 32  # the float16 embedding, byte for byte
    assert [row[0] for row in _store_rows(store, feedback)] == list(range(1, 11))

    refs = {row[0]: row for row in _store_rows(store, references)}
    files = {p.stem: p for p in (data_dir / "reference").glob("*.json")}
    assert set(refs) == set(files)
    for key, (_, kind, model, revision, created_at, payload) in refs.items():
        assert payload == files[key].read_text()  # exactly the file's text
        assert model == "embedded" and revision.startswith("adapter:")  # known for every kind here
        expected_kind = {"pinned": "pinned", "serving": "serving_since", "estimation": "estimation"}
        assert kind == expected_kind.get(key.split("-")[0], "profile")
        data = json.loads(payload)
        if kind == "profile":
            assert created_at == data["created_at"]
        if kind == "serving_since":
            assert created_at == data["since"]
        if kind == "pinned":
            assert created_at == json.loads(files[data["profile"].removesuffix(".json")].read_text())["created_at"]
        if kind == "estimation":
            assert created_at == files[key].stat().st_mtime

    with store.write() as conn:  # the sequences continue after the imported ids on both backends
        new_id = conn.execute(
            insert(feedback).values(prediction_id="x", label="neutral", source="visitor", client="c", created_at=1.0)
        ).inserted_primary_key[0]
    assert new_id == 11
    snapshot = {table.name: _store_rows(store, table) for table in TABLES}
    assert import_legacy_data(store, data_dir) is None
    assert {table.name: _store_rows(store, table) for table in TABLES} == snapshot
    assert json.loads(dict((r[0], r[1]) for r in snapshot["monitor_state"])[MARK])["rows"]["predictions"] == 60
    assert _fingerprint(data_dir) == before


def test_a_version_1_feedback_file_is_merged_and_its_retired_ids_stay_retired(store: Store, data_dir: Path) -> None:
    """Eight v1 rows (one per session) become four, as the feedback store's own upgrade merges them; ids 2, 3, 6 and 8
    were merged away, so the next id is 9, not 8."""
    shutil.copyfile(DATA / "legacy_feedback_v1.sqlite", data_dir / "feedback.sqlite")
    import_legacy_data(store, data_dir)
    rows = _store_rows(store, feedback)
    assert [(r[0], r[2], r[4], r[5], r[6], r[8]) for r in rows] == [
        (1, "positive", "s1", "accepted", 10.0, "great"),
        (4, "negative", "s4", "unreviewed", 13.0, None),
        (5, "neutral", "s1", "accepted", 14.0, None),
        (7, "negative", "s6", "unreviewed", 16.0, None),
    ]
    with store.write() as conn:
        new_id = conn.execute(
            insert(feedback).values(prediction_id="x", label="neutral", source="visitor", client="c", created_at=1.0)
        ).inserted_primary_key[0]
    assert new_id == 9


def test_an_unreadable_old_file_leaves_the_store_empty_and_the_next_start_imports(store: Store, data_dir: Path) -> None:
    """One transaction: the predictions read before the broken evaluations file are rolled back, no mark is set, and
    once the file is repaired the import runs in full."""
    good = (data_dir / "evaluations.sqlite").read_bytes()
    (data_dir / "evaluations.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreTransferError, match=r"evaluations\.sqlite.*move it out of the data folder"):
        import_legacy_data(store, data_dir)
    assert all(_store_rows(store, table) == [] for table in TABLES)
    (data_dir / "evaluations.sqlite").write_bytes(good)
    assert import_legacy_data(store, data_dir) == {
        "predictions": 60,
        "feedback": 10,
        "evaluations": 1,
        "drift_checks": 2,
        "reference_profiles": 6,
    }


def test_a_store_that_already_holds_rows_is_not_imported_into(
    store: Store, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ids of the old files could collide with the store's own: nothing is imported, the log says why and how."""
    with store.write() as conn:
        conn.execute(
            insert(drift_checks).values(
                checked_at=1.0,
                status="ok",
                raw_status="ok",
                consecutive=1,
                reference_source="dataset",
                window_size=1,
                tests="[]",
            )
        )
    assert import_legacy_data(store, data_dir) is None
    assert len(_store_rows(store, predictions)) == 0 and len(_store_rows(store, monitor_state)) == 0
    assert "already holds rows" in caplog.text and "export" in caplog.text


def test_a_log_from_before_the_id_and_embedding_columns_moves_with_them_empty(store: Store, tmp_path: Path) -> None:
    """The first release's log had neither ``prediction_id`` nor ``embedding``: its rows move with both None."""
    data_dir = tmp_path / "old"
    data_dir.mkdir()
    source = DATA / "legacy_data_dir" / "predictions.sqlite"
    with sqlite3.connect(data_dir / "predictions.sqlite") as conn:
        conn.execute(f"ATTACH DATABASE 'file:{source}?mode=ro' AS src")
        conn.execute(
            "CREATE TABLE predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, source TEXT NOT NULL, "
            "model TEXT NOT NULL, n_chars INTEGER NOT NULL, n_tokens INTEGER NOT NULL, surface TEXT NOT NULL, "
            "p_negative REAL NOT NULL, p_neutral REAL NOT NULL, p_positive REAL NOT NULL, label TEXT NOT NULL, "
            "confidence REAL NOT NULL, text TEXT)"
        )
        conn.execute(
            "INSERT INTO predictions SELECT id, ts, source, model, n_chars, n_tokens, surface, p_negative, "
            "p_neutral, p_positive, label, confidence, text FROM src.predictions WHERE id <= 5"
        )
    conn.close()
    assert import_legacy_data(store, data_dir) == {
        "predictions": 5,
        "feedback": 0,
        "evaluations": 0,
        "drift_checks": 0,
        "reference_profiles": 0,
    }
    rows = _store_rows(store, predictions)
    old = _old_rows(source, "predictions")[:5]
    assert [row[:-2] for row in rows] == [row[:-2] for row in old]
    assert {row[-2:] for row in rows} == {(None, None)}


def test_rows_still_in_the_write_ahead_log_of_a_killed_app_are_imported(store: Store, tmp_path: Path) -> None:
    """An app killed with ``kill -9`` leaves committed rows in ``predictions.sqlite-wal``, not yet in the main file:
    they are imported too (the copy is opened with its WAL), and neither file changes."""
    source = DATA / "legacy_data_dir" / "predictions.sqlite"
    live = tmp_path / "live"
    live.mkdir()
    shutil.copyfile(source, live / "predictions.sqlite")
    writer = sqlite3.connect(live / "predictions.sqlite")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as if killed before any checkpoint
    writer.execute(
        "INSERT INTO predictions SELECT id + 1000, ts, source, model, n_chars, n_tokens, surface, "
        "p_negative, p_neutral, p_positive, label, confidence, text, prediction_id, embedding "
        "FROM predictions WHERE id <= 7"
    )
    writer.commit()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for suffix in ("", "-wal"):  # the files as the killed process left them (its connection never closed)
        shutil.copyfile(f"{live / 'predictions.sqlite'}{suffix}", f"{data_dir / 'predictions.sqlite'}{suffix}")
    writer.close()
    assert (data_dir / "predictions.sqlite-wal").stat().st_size > 0
    before = _fingerprint(data_dir)
    assert import_legacy_data(store, data_dir)["predictions"] == 67  # type: ignore[index]
    assert [row[0] for row in _store_rows(store, predictions)][-7:] == list(range(1001, 1008))
    assert _fingerprint(data_dir) == before


def test_a_folder_without_old_files_is_left_alone(store: Store, tmp_path: Path) -> None:
    assert import_legacy_data(store, tmp_path) is None
    assert _store_rows(store, monitor_state) == []


V1_SCHEMA = (DATA / "make_legacy_data_dir.py").read_text().split('V1_SCHEMA = """')[1].split('"""')[0]
_v1_row = st.tuples(
    st.sampled_from(["p1", "p2", "p3"]),
    st.sampled_from(["negative", "neutral", "positive"]),
    st.sampled_from(["s1", "s2", "s3", "s4"]),
    st.sampled_from(["unreviewed", "accepted", "dropped"]),
    st.integers(0, 20).map(float),  # created_at: ties on purpose
    st.integers(0, 20).map(float),  # reviewed_at, when reviewed
    st.one_of(st.none(), st.text(max_size=3)),
    st.sampled_from(["visitor", "bulk"]),
)


def _merged(v1: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The v1 merge rule written out in Python (independently of the SQL): per (prediction, label), the first row's
    id, time, giver (its session) and first non-empty text, and the source and decision of the owner's newest
    decision (an unreviewed row only when none was reviewed; ties: the higher id)."""
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in sorted(
        v1
    ):  # v1 columns: id, prediction, label, source, session, reviewed, created_at, reviewed_at, text
        groups.setdefault((row[1], row[2]), []).append(row)
    merged = []
    for (prediction, label), rows in groups.items():
        decision = min(rows, key=lambda r: (r[5] == "unreviewed", -(r[7] if r[7] is not None else r[6]), -r[0]))
        text = next((r[8] for r in rows if r[8] is not None), None)
        first = rows[0]
        created = min(r[6] for r in rows)
        merged.append((first[0], prediction, label, decision[3], first[4], decision[5], created, decision[7], text))
    return sorted(merged)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_v1_row, max_size=12))
def test_version_1_feedback_imports_merged_by_the_v1_rule(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, ...]]
) -> None:
    """Property: for any v1 feedback file, the imported rows are the v1 merge rule applied to the file's rows
    (``_merged``, the oracle), ids and all, and the next id is past every id v1 handed out (its AUTOINCREMENT mark:
    merged-away and ignored ids included)."""
    folder = tmp_path_factory.mktemp("v1")
    (folder / "data").mkdir()
    path = folder / "data" / "feedback.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        for prediction, label, session, reviewed, at, reviewed_at, note, source in rows:
            conn.execute(
                "INSERT OR IGNORE INTO feedback (prediction_id, label, source, session, reviewed, created_at, "
                "reviewed_at, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    prediction,
                    label,
                    source,
                    session,
                    reviewed,
                    at,
                    None if reviewed == "unreviewed" else reviewed_at,
                    note,
                ),
            )
    conn.close()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        expected = _merged(conn.execute("SELECT * FROM feedback").fetchall())
        high = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'feedback'").fetchone()
    conn.close()
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    try:
        import_legacy_data(store, folder / "data")
        assert _store_rows(store, feedback) == expected
        with store.write() as conn:
            new_id = conn.execute(
                insert(feedback).values(prediction_id="n", label="neutral", source="v", client="c", created_at=1.0)
            ).inserted_primary_key[0]
        assert new_id == (high[0] if high else 0) + 1
    finally:
        store.dispose()


def test_the_service_imports_the_old_folder_when_it_opens_the_store(data_dir: Path) -> None:
    """The app's start (``SentimentService.__init__``) runs the import against its own store, before anything else
    writes to it: the default SQLite store in the data folder holds the old log afterwards."""
    from sentiment.service.serving import SentimentService
    from sentiment.settings import Settings

    service = SentimentService(Settings(data_dir=data_dir, model="embedded"))
    try:
        assert len(_store_rows(service.store, predictions)) == 60
        assert len(_store_rows(service.store, references)) == 6
    finally:
        service.store.dispose()
