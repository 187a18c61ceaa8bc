"""The prediction log when the store fails: lost and back (both backends), beyond capacity, ``kill -9`` mid-write, and
many writers on one SQLite file.

Real databases, real faults: PostgreSQL is a dedicated server of this module stopped at once (``pg_ctl -m immediate``,
as when a database host fails) and started again; SQLite loses its file the way a detached volume does (its folder
moves away, so opening it fails with "unable to open database file") and gets it back. ``kill -9`` is a real
``SIGKILL`` to a real logging process.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy import select as sql_select
from sqlalchemy import text

from sentiment.errors import StoreUnavailableError
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.results import BatchResult
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import monitor_state, predictions
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def _result(n: int) -> BatchResult:
    probs = np.tile(np.array([[0.1, 0.2, 0.7]], dtype=np.float32), (n, 1))
    return BatchResult(probabilities=probs, truncated=np.zeros(n, bool), errors=[None] * n, tokens=np.full(n, 5))


@dataclass
class Outage:
    """A store that a test can take away (``halt``) and give back (``resume``)."""

    store: Store
    halt: Callable[[], None]
    resume: Callable[[], None]
    url: str


@pytest.fixture(scope="module")
def dedicated_postgres() -> Iterator[object]:
    """A PostgreSQL server of this module alone: halting it must not cut the session server's other tests."""
    from postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "postgresql":
        server = request.getfixturevalue("dedicated_postgres")
        url = server.create_database()  # type: ignore[attr-defined]
        store = Store.open(url, timeout_s=2)
        down = threading.Event()

        def halt_server() -> None:
            server.halt()  # type: ignore[attr-defined]
            down.set()

        def resume_server() -> None:
            server.resume()  # type: ignore[attr-defined]
            down.clear()

        yield Outage(store, halt_server, resume_server, url)
        if down.is_set():  # a failed test must not leave it down for the next one
            resume_server()
    else:
        folder, away = tmp_path / "volume", tmp_path / "detached"
        url = f"sqlite:///{folder / 'store.sqlite'}"
        store = Store.open(url, timeout_s=2)

        def halt() -> None:
            folder.rename(away)
            store.engine.dispose()  # pooled connections hold the file open; new ones find no file

        def resume() -> None:
            away.rename(folder)

        yield Outage(store, halt, resume, url)
        if away.exists():
            resume()
    store.dispose()


def _stored_ids(store: Store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(sql_select(predictions.c.prediction_id).order_by(predictions.c.id)).scalars())


def test_rows_logged_while_the_store_is_down_are_kept_and_arrive_once_in_order(outage: Outage) -> None:
    """The store-unavailable test. While the database is down: ``record`` returns at once (no call waits on the
    store), the writer fails, backs off and tries again, every row is held in memory (``buffered`` = 300, none
    written, none lost), ``flush`` gives up after its timeout instead of hanging, and readers raise
    ``StoreUnavailableError``. When it is back, every row arrives exactly once and in the order it was logged."""
    log = PredictionLog(outage.store, capacity=1000, retry_initial_s=0.05, retry_max_s=0.2)
    log.start()
    before = _result(10).with_new_ids()
    log.record("predict", "m", ["before"] * 10, before)
    assert log.flush(10)

    outage.halt()
    with pytest.raises(StoreUnavailableError):
        log.count()
    during = [_result(1).with_new_ids() for _ in range(300)]
    slowest = 0.0
    for result in during:
        started = time.perf_counter()
        log.record("predict", "m", ["during the outage"], result)
        slowest = max(slowest, time.perf_counter() - started)
    wait_until(lambda: log.counters.retries, "the writer to fail and try again", accept=lambda n: n >= 3, timeout=60)
    assert (log.counters.buffered, log.counters.written, log.counters.failures) == (300, 10, 0)
    assert log.status()["buffered"] == 300 and log.status()["error"]
    started = time.monotonic()
    assert not log.flush(60)  # the next failed try ends the wait: the rows cannot be written now
    assert time.monotonic() - started < 30
    assert slowest < 0.25, f"record() waited {slowest:.3f} s while the store was down"

    outage.resume()
    assert log.flush(60)
    log.stop()
    assert _stored_ids(outage.store) == [*before.prediction_ids, *(r.prediction_ids[0] for r in during)]
    c = log.counters
    assert (c.written, c.buffered, c.dropped, c.failures) == (310, 0, 0, 0)
    assert log.status() == {"buffered": 0, "error": None}


def test_beyond_capacity_while_the_store_is_down_rows_are_dropped_and_counted_exactly(outage: Outage) -> None:
    """With the store down and ``capacity`` 100, 150 single rows: the first 100 are held, the last 50 dropped and
    counted (``dropped`` = 50 feeds ``sentiment_prediction_log_rows_total{outcome="dropped"}``); back, the held 100
    are written, and the log takes new rows again."""
    log = PredictionLog(outage.store, capacity=100, retry_initial_s=0.05, retry_max_s=0.2)
    log.start()
    outage.halt()
    results = [_result(1).with_new_ids() for _ in range(150)]
    for result in results:
        log.record("predict", "m", ["x"], result)
    wait_until(lambda: log.counters.retries, "a failed write", accept=lambda n: n >= 1, timeout=60)
    assert (log.counters.buffered, log.counters.dropped) == (100, 50)
    outage.resume()
    assert log.flush(60)
    assert _stored_ids(outage.store) == [r.prediction_ids[0] for r in results[:100]]
    log.record("predict", "m", ["after"], _result(1))
    assert log.flush(10)
    log.stop()
    assert (log.counters.written, log.counters.dropped, log.count()) == (101, 50, 101)


def test_with_the_store_down_predictions_are_served_and_the_drift_job_fails_with_a_clear_error(
    outage: Outage, tiny_model_dir: Path, settings: Settings
) -> None:
    """The app over a store that goes away: predictions are answered and their rows held (``buffered``); the scheduled
    drift check fails cleanly, as a counted job failure whose error says the store is unavailable (not a hang, not
    a crash of the scheduler); back, the held rows are written and the next check runs."""
    from prometheus_client import CollectorRegistry

    from scheduler import JobRunner, drift_job
    from sentiment.inference.predictor import Predictor
    from sentiment.service.metrics import ServiceMetrics
    from sentiment.service.serving import SentimentService

    configured = settings.model_copy(update={"database_url": SecretStr(outage.url), "drift_window": 20})
    service = SentimentService(
        configured, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), configured)
    )
    service.start()
    try:
        log = service.monitoring.log
        assert log is not None
        runner = JobRunner(service.metrics.monitoring, timeout_s=120)
        outage.halt()
        service.store.engine.dispose()  # SQLite: the service's pool holds the file open too
        assert all(p.ok for p in service.predict_many([f"a fine day {i}" for i in range(30)]))
        started = time.monotonic()
        assert runner.run("drift", lambda: drift_job(service)) == "failure"
        assert time.monotonic() - started < 50  # it does not wait out its 60 s flush for rows the store cannot take
        assert "unavailable" in (runner.statuses["drift"].last_error or "")
        assert service.predict("still answered").ok
        assert (log.counters.buffered, log.counters.written) == (31, 0)
        outage.resume()
        assert log.flush(60) and log.count() == 31
        assert runner.run("drift", lambda: drift_job(service)) == "success"
    finally:
        service.stop()


# The logging process of the kill -9 test: logs rows as fast as it can and prints, after each committed transaction,
# the number of rows committed so far (from the writer thread, right after the commit returns).
_LOGGER_PROCESS = """
import sys
import numpy as np
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.results import BatchResult
from sentiment.settings import Settings
from sentiment.store import Store

acked = 0

class Acknowledging(PredictionLog):
    def _write(self, rows):
        global acked
        super()._write(rows)
        acked += len(rows)
        print(acked, flush=True)

log = Acknowledging(Store.open(sys.argv[1]), capacity=20_000)
log.start()
result = BatchResult(
    probabilities=np.tile(np.array([[0.1, 0.2, 0.7]], dtype=np.float32), (20, 1)),
    truncated=np.zeros(20, bool), errors=[None] * 20, tokens=np.full(20, 5),
)
while True:
    log.record("predict", "m", ["kill me"] * 20, result)
    if log.counters.buffered > 10_000:
        log.flush(1)
"""


def test_kill_9_mid_write_loses_no_acknowledged_row(database_url: str) -> None:
    """``SIGKILL`` to a process whose writer is committing batch after batch: every row it acknowledged (committed)
    is in the table afterwards (count >= the last acknowledgement), the table is consistent (SQLite
    ``integrity_check`` ok; ids unique and ascending) and the store takes new rows."""
    process = subprocess.Popen(
        [sys.executable, "-c", _LOGGER_PROCESS, database_url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    acknowledged, lines, deadline = 0, 0, time.monotonic() + 120
    try:
        while lines < 20 or acknowledged < 5_000:  # several commits in: the writer is busy when the kill lands
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no acknowledgement within 120 s (last {acknowledged})"
            line = process.stdout.readline()
            assert line, f"the logging process ended (rc {process.poll()})"
            acknowledged, lines = int(line), lines + 1
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    for line in process.stdout:  # acknowledgements printed before the kill landed count too
        acknowledged = int(line) if line.strip().isdigit() else acknowledged
    store = Store.open(database_url)
    try:
        with store.read() as conn:
            if store.backend == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            ids = list(conn.execute(sql_select(predictions.c.id).order_by(predictions.c.id)).scalars())
        assert len(ids) >= acknowledged > 0
        assert len(set(ids)) == len(ids)
        log = PredictionLog(store)
        log.start()
        log.record("predict", "m", ["after the kill"], _result(1))
        assert log.flush(10) and log.count() == len(ids) + 1
        log.stop()
    finally:
        store.dispose()


def test_many_writer_threads_and_the_scheduler_never_meet_database_is_locked(tmp_path: Path) -> None:
    """On one SQLite file: 8 request threads logging, the log's writer, 2 threads of a second store (as the
    scheduler or the CLI would open) writing monitoring state in write transactions, and 2 readers, all at once.
    No thread sees an exception, the log's writer never has to retry (a "database is locked" would count one), and
    every row of every writer is there."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store, other = Store.open(url), Store.open(url)
    log = PredictionLog(store, capacity=100_000)
    log.start()
    errors: list[BaseException] = []
    done = threading.Event()

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # the test reports every thread's failure
                errors.append(exc)

        return run

    def recorder() -> None:
        for _ in range(200):
            log.record("predict", "m", ["a", "b", "c", "d", "e"], _result(5))

    def state_writer(name: str) -> Callable[[], None]:
        def write() -> None:
            for i in range(150):
                with other.write() as conn:
                    conn.execute(monitor_state.insert().values(key=f"{name}-{i}", value="{}", updated_at=time.time()))
                    conn.execute(
                        monitor_state.update().where(monitor_state.c.key == f"{name}-{i}").values(value=f'{{"i": {i}}}')
                    )

        return write

    def reader() -> None:
        while not done.is_set():
            log.window(last=100)
            log.count()

    writers = [threading.Thread(target=guarded(recorder)) for _ in range(8)]
    writers += [threading.Thread(target=guarded(state_writer(name))) for name in ("drift", "scheduler")]
    readers = [threading.Thread(target=guarded(reader)) for _ in range(2)]
    for thread in (*writers, *readers):
        thread.start()
    for thread in writers:
        thread.join(120)
    assert log.flush(120)
    done.set()
    for thread in readers:
        thread.join(60)
    log.stop()
    assert errors == []
    assert (log.counters.written, log.counters.retries, log.counters.dropped, log.count()) == (8000, 0, 0, 8000)
    with store.read() as conn:
        assert len(conn.execute(sql_select(monitor_state.c.key)).scalars().all()) == 300
    store.dispose()
    other.dispose()
