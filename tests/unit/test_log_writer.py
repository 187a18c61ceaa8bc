"""The prediction log's writer as a state machine: whatever the interleaving of records, outages and rows the
database refuses, every accepted row is written exactly once and in order, or counted as lost; nothing else.

The writer takes its ``write(rows)`` as a function (one transaction that commits or raises); here that function is
a list that refuses writes while "down" and refuses any batch holding a "poison" row, raising the very SQLAlchemy
errors a database gives. The real databases run the same writer in tests/integration/test_prediction_log*.py.
"""

from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DataError, OperationalError

from sentiment.errors import StoreUnavailableError
from sentiment.monitoring.log_writer import LogWriter
from waiting import wait_until


class Table:
    """Committed rows; ``down`` makes every write fail as a lost database does; a batch with a row whose first field
    is ``"poison"`` fails as a refused value does (the whole transaction rolls back)."""

    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []
        self.down = threading.Event()

    def write(self, rows: list[tuple[object, ...]]) -> None:
        if self.down.is_set():
            raise StoreUnavailableError("the store sqlite:///x is unavailable: unable to open database file")
        if any(row[0] == "poison" for row in rows):
            raise DataError("INSERT", {}, Exception("value too long"))
        self.rows.extend(rows)


_STEP = st.one_of(
    st.tuples(st.just("record"), st.integers(1, 30), st.booleans()),  # rows, whether one of them is poison
    st.tuples(st.just("down"), st.just(0), st.just(False)),
    st.tuples(st.just("up"), st.just(0), st.just(False)),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_STEP, max_size=25), capacity=st.integers(1, 120))
def test_every_accepted_row_is_written_once_in_order_or_counted(
    steps: list[tuple[str, int, bool]], capacity: int
) -> None:
    """After any sequence of records (some with a poison row), outages and recoveries, and a final recovery: the
    table holds exactly the accepted non-poison rows, in the order recorded; ``dropped`` counts the rows refused at
    ``put`` (capacity), ``failures`` the poison rows, and nothing is still buffered."""
    table = Table()
    writer = LogWriter(table.write, capacity=capacity, retry_initial_s=0.001, retry_max_s=0.01)
    writer.start()
    accepted: list[tuple[object, ...]] = []
    dropped = poisoned = 0
    serial = 0
    for kind, n, poison in steps:
        if kind == "down":
            table.down.set()
        elif kind == "up":
            table.down.clear()
        else:
            rows: list[tuple[object, ...]] = []
            for i in range(n):
                serial += 1
                rows.append(("poison" if poison and i == n // 2 else "ok", serial))
            if writer.put(rows):  # type: ignore[arg-type]
                accepted += rows
                poisoned += sum(row[0] == "poison" for row in rows)
            else:
                dropped += len(rows)
    table.down.clear()
    assert writer.flush(30)
    writer.stop()
    assert table.rows == [row for row in accepted if row[0] != "poison"]
    c = writer.counters
    assert (c.written, c.dropped, c.failures, c.buffered) == (len(accepted) - poisoned, dropped, poisoned, 0)


def test_flush_returns_once_a_try_fails_and_stop_counts_what_the_store_never_took() -> None:
    """With the store down, ``flush(60)`` returns False at the next failed try (well before 60 s), the failure is
    counted as a retry; ``stop`` tries once more, then counts the held rows as lost (``failures``), not written."""
    table = Table()
    table.down.set()
    writer = LogWriter(table.write, capacity=100, retry_initial_s=0.01, retry_max_s=0.05)
    writer.start()
    writer.put([("ok", 1), ("ok", 2)])  # type: ignore[list-item]
    started = time.monotonic()
    assert not writer.flush(60)
    assert time.monotonic() - started < 30 and writer.counters.retries >= 1
    assert writer.last_error is not None and "unavailable" in writer.last_error
    writer.stop()
    c = writer.counters
    assert (c.written, c.failures, c.buffered, table.rows) == (0, 2, 0, [])


def test_a_database_error_that_is_not_a_refused_value_is_retried_not_lost() -> None:
    """An ``OperationalError`` (a locked or full SQLite file) keeps the rows for a retry, like a lost database: two
    failed tries, then all three rows written once, none lost."""
    table = Table()
    failures = iter([True, True, False])

    def flaky(rows: list[tuple[object, ...]]) -> None:
        if next(failures, False):
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        table.write(rows)

    writer = LogWriter(flaky, capacity=100, retry_initial_s=0.001, retry_max_s=0.01)
    writer.start()
    writer.put([("ok", 1), ("ok", 2), ("ok", 3)])  # type: ignore[list-item]
    wait_until(lambda: writer.counters.written, "the third try to write the rows", accept=lambda n: n == 3)
    writer.stop()
    assert table.rows == [("ok", 1), ("ok", 2), ("ok", 3)]
    assert (writer.counters.retries, writer.counters.failures, writer.last_error) == (2, 0, None)


def test_rows_that_arrive_while_the_writer_lingers_share_one_transaction() -> None:
    """After a quiet spell's first row the writer waits (``linger_s``) for more before it writes: three rows put one
    at a time during the wait go in one transaction, and a stop ends the wait at once and writes them. Fails if each
    row is written alone again (the cost benchmarks/logging_overhead.py measured on the request path)."""
    batches: list[int] = []
    table = Table()

    def write(rows: list[tuple[object, ...]]) -> None:
        batches.append(len(rows))
        table.write(rows)

    writer = LogWriter(write, capacity=100, linger_s=600.0)  # a wait no test outlives: only the stop ends it
    writer.start()
    for i in range(3):
        assert writer.put([(f"row {i}",)])
    assert (writer.counters.buffered, batches) == (3, [])  # held while it lingers
    writer.stop(timeout=30)
    assert batches == [3] and [row[0] for row in table.rows] == ["row 0", "row 1", "row 2"]
