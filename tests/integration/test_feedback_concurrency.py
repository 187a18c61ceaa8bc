"""Concurrent senders of feedback, on SQLite and PostgreSQL (fixture ``store``): one row per (prediction, label)
whoever sends it and however many at once, ``admit`` (the rate limit) called exactly once per new row, never for a
sender who lost the race, and no "database is locked" from many writer threads.

The race that matters on PostgreSQL is made to happen, not hoped for: sender A has inserted the row and waits inside
its ``admit`` (its transaction open), while sender B's lookup misses the uncommitted row and B's insert waits on the
unique key; the test sees B wait in ``pg_stat_activity`` before it lets A go. (On SQLite B waits for the write lock
instead, then finds A's row.)"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from test_feedback import emptied

from sentiment.datasets.feedback import FeedbackStore, Recorded
from sentiment.errors import RateLimitedError
from sentiment.labels import LABELS
from sentiment.store import Store
from waiting import wait_until

IDS = [uuid.UUID(int=i).hex for i in range(100, 112)]


def _lock_waiters(store: Store) -> int:
    """How many of this database's sessions wait on a lock now (PostgreSQL)."""
    with store.read() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        return int(conn.execute(text(query)).scalar_one())


@contextmanager
def _first_sender_holding(feedback: FeedbackStore, refuse: bool) -> Iterator[Callable[[], Recorded]]:
    """Sender A adds (IDS[0], positive) and stops inside ``admit`` with its row inserted and not committed; the
    block runs sender B; on leaving, A's ``admit`` returns (or refuses, ``refuse``) and A finishes."""
    inside, release = threading.Event(), threading.Event()

    def held_admit() -> None:
        inside.set()
        assert release.wait(60), "the test never released the first sender"
        if refuse:
            raise RateLimitedError("over the limit", retry_after_s=10.0)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(feedback.add, IDS[0], "positive", client="a", admit=held_admit)
        assert inside.wait(60), "the first sender never reached admit"
        try:
            yield lambda: first.result(60)
        finally:
            release.set()


@pytest.mark.parametrize("refuse", [False, True], ids=["first-admitted", "first-refused"])
def test_a_sender_who_loses_the_race_reads_the_winners_row_and_takes_no_slot(store: Store, refuse: bool) -> None:
    """B sends the same feedback while A's insert is uncommitted. A admitted: B's outcome is a duplicate of A's
    row, B's ``admit`` is never called (one slot in all). A refused: A stores nothing, B's insert goes in, B's
    ``admit`` is called once and B's row is the one row."""
    feedback = emptied(store)
    b_admitted: list[str] = []
    # the pool outlives the held sender: A is released (leaving the inner block) before B's thread is joined
    with ThreadPoolExecutor(1) as pool, _first_sender_holding(feedback, refuse) as first:
        second = pool.submit(feedback.add, IDS[0], "positive", client="b", admit=lambda: b_admitted.append("b"))
        if store.backend == "postgresql":  # B's insert waits on the unique key behind A's uncommitted row
            wait_until(lambda: _lock_waiters(store), "the second sender to wait on the first's row", timeout=60)
    b = second.result(60)
    if refuse:
        with pytest.raises(RateLimitedError):
            first()
        assert (b.duplicate, b_admitted) == (False, ["b"])
    else:
        a = first()
        assert (a.duplicate, b.duplicate, b.feedback_id, b_admitted) == (False, True, a.feedback_id, [])
    rows = feedback.rows()
    assert rows[["prediction_id", "label", "client"]].values.tolist() == [[IDS[0], "positive", "b" if refuse else "a"]]


def test_many_threads_sending_the_same_and_different_feedback_make_one_row_and_one_admission_each(
    store: Store,
) -> None:
    """16 threads, started together in each of 6 rounds, send feedback on 12 predictions: every thread sends the
    round's shared (prediction, label), and its own pair (some shared with one other thread). Per distinct pair:
    exactly one row, exactly one non-duplicate outcome, ``admit`` called exactly once; every call succeeds (no
    "database is locked", no unique-key error reaches a caller)."""
    feedback = emptied(store)
    threads, rounds = 16, 6
    admitted: Counter[tuple[str, str]] = Counter()
    counting = threading.Lock()
    barrier = threading.Barrier(threads)

    def admit_for(pair: tuple[str, str]) -> Callable[[], None]:
        def admit() -> None:
            with counting:
                admitted[pair] += 1

        return admit

    def sender(worker: int) -> list[tuple[tuple[str, str], Recorded]]:
        out = []
        for r in range(rounds):
            shared = (IDS[r], LABELS[r % 3])
            own = (IDS[6 + worker % 6], LABELS[(worker // 6 + r) % 3])
            barrier.wait(60)
            for pair in (shared, own) if worker % 2 else (own, shared):
                out.append((pair, feedback.add(*pair, client=f"c{worker}", admit=admit_for(pair))))
        return out

    with ThreadPoolExecutor(threads) as pool:
        results = [item for done in pool.map(sender, range(threads)) for item in done]
    sent = {pair for pair, _ in results}
    new = Counter(pair for pair, outcome in results if not outcome.duplicate)
    assert len(results) == threads * rounds * 2
    assert new == Counter(dict.fromkeys(sent, 1))  # exactly one sender stored each pair
    assert admitted == new  # and only that sender's admit was called
    rows = feedback.rows()
    assert sorted(zip(rows["prediction_id"], rows["label"], strict=True)) == sorted(sent)
    ids = {pair: outcome.feedback_id for pair, outcome in results}
    assert all(ids[pair] == outcome.feedback_id for pair, outcome in results)  # every sender got the one row's id
