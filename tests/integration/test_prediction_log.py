"""The prediction log on the one store, on SQLite and on PostgreSQL (the ``store`` fixture runs each test on both): a
burst loses nothing (or counts what it drops), no text unless allowed, bounded retention, any text a visitor sends is
stored without blocking the rows behind it, and the readers answer the same on both backends."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.results import BatchResult
from sentiment.store import Store
from sentiment.store.schema import predictions


def _result(n: int) -> BatchResult:
    probs = np.tile(np.array([[0.1, 0.2, 0.7]], dtype=np.float32), (n, 1))
    return BatchResult(probabilities=probs, truncated=np.zeros(n, bool), errors=[None] * n, tokens=np.full(n, 5))


def _stored(store: Store, column: str) -> list[object]:
    with store.read() as conn:
        return list(conn.execute(select(predictions.c[column]).order_by(predictions.c.id)).scalars())


def test_a_burst_of_10000_rows_in_one_second_loses_none(store: Store) -> None:
    """10,000 single-row records are queued without waiting and all 10,000 reach the table: written 10,000, none
    dropped, none failed, none still held."""
    log = PredictionLog(store, capacity=50_000)
    log.start()
    started = time.perf_counter()
    for _ in range(10_000):
        log.record("predict", "m", ["hello @you"], _result(1))
    enqueue_s = time.perf_counter() - started
    assert log.flush(60)
    log.stop()
    print(f"10,000 single-row records enqueued in {enqueue_s:.3f} s on {store.backend}")
    assert log.count() == 10_000
    c = log.counters
    assert (c.written, c.dropped, c.failures, c.buffered, c.retries) == (10_000, 0, 0, 0, 0)


def test_a_full_queue_drops_and_counts_instead_of_blocking(store: Store) -> None:
    """With nothing draining, ``capacity`` rows are held and every row beyond is dropped and counted exactly."""
    log = PredictionLog(store, capacity=100)  # writer not started: nothing drains
    for _ in range(30):
        log.record("predict", "m", ["a", "b", "c", "d", "e"], _result(5))
    assert (log.counters.dropped, log.counters.buffered) == (30 * 5 - 100, 100)
    log.start()
    assert log.flush(10)
    assert log.count() == 100 and log.counters.buffered == 0
    log.stop()


def test_text_is_stored_only_when_allowed(store: Store) -> None:
    """The text column holds the text with SENTIMENT_LOG_TEXT on and NULL with it off; the features are stored
    either way."""
    for allowed in (False, True):
        log = PredictionLog(store, store_text=allowed)
        log.start()
        log.record("predict", "m", ["private words"], _result(1))
        assert log.flush(5)
        assert _stored(store, "text")[-1] == ("private words" if allowed else None)
        row = log.window(last=1, text=True).iloc[0]
        assert (row["n_chars"], row["n_tokens"], row["surface"], row["label"]) == (13, 5, "plain", "positive")
        assert row["text"] == ("private words" if allowed else None)
        log.stop()


def test_invalid_texts_are_not_logged_and_retention_keeps_the_newest(store: Store) -> None:
    """Rows with a scoring error are not logged; pruning keeps exactly the newest ``max_rows`` rows (by id) and
    removes rows older than ``max_age_days``."""
    log = PredictionLog(store, max_rows=1000, max_age_days=1)
    log.start()
    result = _result(3)
    result.errors[1] = "empty text"
    log.record("predict", "m", ["a", "", "c"], result)
    assert log.flush(5)
    assert log.count() == 2
    for _ in range(12):
        log.record("score_csv", "m", ["x"] * 100, _result(100))
    assert log.flush(5)
    log.prune()
    assert log.count() == 1000
    ids = _stored(store, "id")
    assert ids == sorted(ids) and max(ids) - min(ids) == 999  # the newest 1000, none missing
    with store.write() as conn:
        conn.execute(predictions.update().where(predictions.c.id <= min(ids) + 9).values(ts=time.time() - 2 * 86400))
    log.prune()
    assert log.count() == 990
    log.stop()


def test_prediction_ids_are_stored_and_found(store: Store) -> None:
    """``by_ids`` returns exactly the known ids (unknown ones absent), also past one query's chunk of ids; ``has``
    tells a logged id from an unknown one."""
    log = PredictionLog(store)
    log.start()
    result = _result(3).with_new_ids()
    log.record("predict", "m", ["a", "b", "c"], result)
    many = _result(1200).with_new_ids()
    log.record("predict", "m", ["x"] * 1200, many)
    assert log.flush(10)
    found = log.by_ids([result.prediction_ids[2], "0" * 32, result.prediction_ids[0]])
    assert sorted(found["prediction_id"]) == sorted([result.prediction_ids[0], result.prediction_ids[2]])
    assert log.has(result.prediction_ids[1]) and not log.has("0" * 32)
    assert len(log.by_ids([*many.prediction_ids, *many.prediction_ids[:10]])) == 1200
    assert log.by_ids([]).empty and list(log.by_ids([]).columns)[-1] == "prediction_id"
    log.stop()


def test_embeddings_are_stored_as_float16_per_row_and_read_back_as_a_matrix(store: Store) -> None:
    """Embeddings round-trip as float16 bytes (to 1e-3) and a model without embeddings stores NULL."""
    from sentiment.monitoring.domain_classifier import as_matrix

    vectors = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    log = PredictionLog(store)
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


def test_window_filters_by_model_time_and_count_oldest_first(store: Store) -> None:
    """``window`` returns the newest ``last`` rows of one model since a time, oldest first (ids ascending)."""
    log = PredictionLog(store)
    log.start()
    for i in range(6):
        log.record("predict", "a" if i % 2 else "b", [f"t{i}"], _result(1))
        assert log.flush(5)
    assert log.window().shape[0] == 6
    window = log.window(last=2, model="a")
    ids = list(window["id"])
    assert ids == sorted(ids) and list(window["model"]) == ["a", "a"] and ids[-1] == max(log.window()["id"])
    assert log.window(since=time.time() + 60).empty
    assert list(log.window(since=time.time() + 60).columns) == list(log.window().columns)
    log.stop()


def test_traffic_counts_per_bucket_and_label_the_same_on_both_backends(store: Store) -> None:
    """``traffic`` floors each time to its bucket (a PostgreSQL CAST would round 59.9 s up) and counts per label."""
    log = PredictionLog(store)
    base = 1_800_000_000.0  # a multiple of 60
    rows = [(base + 0.5, "positive"), (base + 59.9, "positive"), (base + 59.9, "negative"), (base + 60.0, "positive")]
    with store.write() as conn:
        for ts, label in rows:
            conn.execute(
                predictions.insert().values(
                    ts=ts,
                    source="predict",
                    model="m",
                    n_chars=1,
                    n_tokens=1,
                    surface="plain",
                    p_negative=0.1,
                    p_neutral=0.2,
                    p_positive=0.7,
                    label=label,
                    confidence=0.7,
                )
            )
    frame = log.traffic(base - 1)
    got = sorted(zip(frame["bucket"], frame["label"], frame["n"], strict=True))
    assert got == [(int(base), "negative", 1), (int(base), "positive", 2), (int(base) + 60, "positive", 1)]
    assert frame["time"].iloc[0] == pd.Timestamp(int(base), unit="s")
    empty = log.traffic(base + 3600)
    assert empty.empty and {"bucket", "label", "n", "time"} <= set(empty.columns)


# Any text, source and model name a request can carry: NUL, lone surrogates, emoji, names past the column widths.
_ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(_ANY_TEXT, min_size=1, max_size=5), model=_ANY_TEXT, source=st.sampled_from(["predict", "x" * 40])
)
def test_any_text_and_model_name_is_stored_and_never_blocks_the_rows_behind_it(
    store: Store, texts: list[str], model: str, source: str
) -> None:
    """Whatever the visitor sends (NUL, lone surrogates, 300-char model names), every row is written on both
    backends (PostgreSQL refuses NUL and over-wide values; a refused row would fail or stall its batch), with the
    text kept as far as the database can hold it, and the row queued behind it arrives too."""
    log = PredictionLog(store, store_text=True)
    log.start()
    before = log.count()
    log.record(source, model, texts, _result(len(texts)))
    log.record("predict", "m", ["the row behind"], _result(1))
    assert log.flush(10)
    log.stop()
    assert (log.counters.failures, log.counters.retries, log.count() - before) == (0, 0, len(texts) + 1)
    stored = _stored(store, "text")[-len(texts) - 1 :]
    assert stored[-1] == "the row behind"
    for got, sent in zip(stored, texts, strict=False):
        assert isinstance(got, str) and len(got) == len(sent)
        clean = "\x00" not in sent and all(not 0xD800 <= ord(c) <= 0xDFFF for c in sent)
        assert (got == sent) if clean else (got != sent)
