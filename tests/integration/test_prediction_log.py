"""The prediction log: a burst loses nothing (or counts what it drops), no text unless allowed, bounded retention."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np

from sentiment.monitoring.log_schema import SCHEMA
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.results import BatchResult


def _result(n: int) -> BatchResult:
    probs = np.tile(np.array([[0.1, 0.2, 0.7]], dtype=np.float32), (n, 1))
    return BatchResult(probabilities=probs, truncated=np.zeros(n, bool), errors=[None] * n, tokens=np.full(n, 5))


def test_a_burst_of_10000_rows_in_one_second_loses_none(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite", capacity=50_000)
    log.start()
    started = time.perf_counter()
    for _ in range(10_000):
        log.record("predict", "m", ["hello @you"], _result(1))
    enqueue_s = time.perf_counter() - started
    assert log.flush(30)
    log.stop()
    print(f"10,000 single-row records enqueued in {enqueue_s:.3f} s")
    assert log.count() == 10_000
    assert (log.counters.written, log.counters.dropped, log.counters.failures) == (10_000, 0, 0)


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite", capacity=100)  # writer not started: nothing drains
    for _ in range(30):
        log.record("predict", "m", ["a", "b", "c", "d", "e"], _result(5))
    assert log.counters.dropped == 30 * 5 - 100
    log.start()
    assert log.flush(10)
    assert log.count() == 100


def test_text_is_stored_only_when_allowed(tmp_path: Path) -> None:
    for allowed in (False, True):
        log = PredictionLog(tmp_path / f"{allowed}.sqlite", store_text=allowed)
        log.start()
        log.record("predict", "m", ["private words"], _result(1))
        log.flush(5)
        with sqlite3.connect(log.path) as conn:
            (text,) = conn.execute("SELECT text FROM predictions").fetchone()
        assert text == ("private words" if allowed else None)
        row = log.window(last=1).iloc[0]
        assert (row["n_chars"], row["n_tokens"], row["surface"], row["label"]) == (13, 5, "plain", "positive")
        log.stop()


def test_invalid_texts_are_not_logged_and_retention_keeps_the_newest(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite", max_rows=1000)
    log.start()
    result = _result(3)
    result.errors[1] = "empty text"
    log.record("predict", "m", ["a", "", "c"], result)
    log.flush(5)
    assert log.count() == 2
    for _ in range(12):
        log.record("score_csv", "m", ["x"] * 100, _result(100))
    log.flush(5)
    with sqlite3.connect(log.path) as conn:
        log._prune(conn)
    assert log.count() == 1000
    log.stop()


def test_prediction_ids_are_stored_and_found(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    log.start()
    result = _result(3).with_new_ids()
    log.record("predict", "m", ["a", "b", "c"], result)
    assert log.flush(5)
    found = log.by_ids([result.prediction_ids[2], "0" * 32, result.prediction_ids[0]])
    assert sorted(found["prediction_id"]) == sorted([result.prediction_ids[0], result.prediction_ids[2]])
    assert log.has(result.prediction_ids[1]) and not log.has("0" * 32)
    log.stop()


def test_a_store_made_before_prediction_ids_keeps_its_rows_and_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)  # the table as the first release created it (the id came later, by migration)
        conn.execute(
            "INSERT INTO predictions (ts, source, model, n_chars, n_tokens, surface, p_negative, p_neutral, "
            "p_positive, label, confidence) VALUES (?, 'predict', 'm', 3, 1, 'plain', 0.1, 0.2, 0.7, 'positive', 0.7)",
            (time.time(),),
        )
    log = PredictionLog(path)
    log.start()
    result = _result(1).with_new_ids()
    log.record("predict", "m", ["new"], result)
    assert log.flush(5)
    assert log.count() == 2 and log.has(result.prediction_ids[0])
    log.stop()


def test_embeddings_are_stored_as_float16_per_row_and_read_back_as_a_matrix(tmp_path: Path) -> None:
    from dataclasses import replace

    from sentiment.monitoring.domain_classifier import as_matrix

    vectors = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    log = PredictionLog(tmp_path / "p.sqlite")
    log.start()
    log.record("predict", "m", ["a", "b", "c"], replace(_result(3), embeddings=vectors))
    log.record("predict", "m", ["d"], _result(1))  # a model without embeddings: NULL
    assert log.flush(5)
    window = log.window()
    log.stop()
    assert "text" not in window.columns
    got = as_matrix(window["embedding"][:3])
    assert got.shape == (3, 16)
    np.testing.assert_allclose(got, vectors, rtol=1e-3, atol=1e-3)
    assert window["embedding"].isna().tolist() == [False, False, False, True]  # that window skips the check


def test_a_store_made_before_embeddings_gains_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.execute("ALTER TABLE predictions ADD COLUMN prediction_id TEXT")  # the previous release's table
        conn.execute(
            "INSERT INTO predictions (ts, source, model, n_chars, n_tokens, surface, p_negative, p_neutral, "
            "p_positive, label, confidence) VALUES (?, 'predict', 'm', 3, 1, 'plain', 0.1, 0.2, 0.7, 'positive', 0.7)",
            (time.time(),),
        )
    PredictionLog(path)
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
        assert "embedding" in columns
        assert conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 1
