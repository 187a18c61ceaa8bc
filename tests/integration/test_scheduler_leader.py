"""Leader election among replicas sharing one PostgreSQL store, on a real PostgreSQL 15 (tests/postgres.py).

The scheduler's advisory lock (``sentiment.store.leader.AdvisoryLeadership``) lets one holder win; the database
releases it when the winner's session ends (released, cut, the process killed, the database restarted), and the
other holder wins on its next try. Schedulers built on it run each scheduled job on one replica only.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from appserver import REPO
from scheduler import JobRunner, Scheduler
from sentiment.service.metrics import ServiceMetrics
from sentiment.store.leader import SCHEDULER_LOCK, AdvisoryLeadership
from waiting import wait_until


@pytest.fixture
def database(postgres) -> str:  # type: ignore[no-untyped-def]
    """A fresh database: advisory locks belong to one database, so tests never contend with each other."""
    return str(postgres.create_database())


@pytest.fixture
def holders(database: str) -> Iterator[list[AdvisoryLeadership]]:
    made = [AdvisoryLeadership(database, timeout_s=2) for _ in range(3)]
    yield made
    for holder in made:
        holder.dispose()


def _admin(database: str) -> psycopg.Connection:
    """A plain connection to the same database, as an operator's psql would be."""
    conninfo = database.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(conninfo, autocommit=True)


def _lock_holder_pid(database: str) -> int | None:
    """The backend pid that holds the scheduler's lock in ``database``, per ``pg_locks`` (None: nobody)."""
    with _admin(database) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND ((classid::bigint << 32) | objid::bigint) = %s",
            (SCHEDULER_LOCK,),
        ).fetchone()
    return None if row is None else int(row[0])


def test_of_two_holders_only_one_wins_until_it_releases(holders: list[AdvisoryLeadership], database: str) -> None:
    """Two contenders: the first wins (and keeps winning when it checks again), the second loses while the first
    holds; after ``release`` the second wins and the database shows exactly one holding session."""
    first, second, _ = holders
    assert first.acquire() is True
    assert second.acquire() is False
    assert first.acquire() is True  # a leader's check before each job: still held
    assert second.acquire() is False and not second.held
    first.release()
    assert _lock_holder_pid(database) is None  # released at once: no session keeps it (no pool holds it on)
    assert second.acquire() is True and first.acquire() is False
    assert _lock_holder_pid(database) is not None


def test_a_leader_whose_session_is_cut_stops_leading_and_the_other_takes_over(
    holders: list[AdvisoryLeadership], database: str
) -> None:
    """An operator (or a network failure) ends the leader's session: the database releases the lock, the standby
    wins on its next try, and the old leader's next check (before a job) says it no longer leads."""
    leader, standby, _ = holders
    assert leader.acquire() and not standby.acquire()
    pid = _lock_holder_pid(database)
    assert pid is not None
    with _admin(database) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    wait_until(standby.acquire, "the standby to win the lock the cut session held", timeout=30)
    assert leader.acquire() is False  # it notices the lost session, tries afresh, and loses to the new leader
    assert not leader.held and leader.last_error is not None
    assert _lock_holder_pid(database) != pid


def test_killing_the_leading_process_lets_the_other_win(holders: list[AdvisoryLeadership], database: str) -> None:
    """``kill -9`` of the process holding the lock: nothing of it runs to release anything, the database ends its
    session, and the waiting holder wins."""
    code = (
        "import sys; from sentiment.store.leader import AdvisoryLeadership;"
        " lead = AdvisoryLeadership(sys.argv[1]); print(lead.acquire(), flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, database], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "True"
        waiting = holders[0]
        assert waiting.acquire() is False
        process.kill()
        process.wait(30)
        wait_until(waiting.acquire, "the lock of the killed process to pass to the waiting holder", timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["acquire", "release", "cut"]), st.integers(0, 2)), max_size=12))
def test_exactly_one_of_three_contenders_leads_after_any_sequence(
    holders: list[AdvisoryLeadership], database: str, steps: list[tuple[str, int]]
) -> None:
    """Whatever the contenders do (take, release, lose their session), once each has tried again exactly one
    leads, and it is the session the database says holds the lock."""
    for action, who in steps:
        holder = holders[who]
        if action == "acquire":
            holder.acquire()
        elif action == "release":
            holder.release()
        elif (pid := _lock_holder_pid(database)) is not None:  # "cut": the leader's session ends, whoever leads
            with _admin(database) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_until(lambda: _lock_holder_pid(database), "the cut session to end", accept=lambda p: p is None)
    leading = [holder.acquire() for holder in holders]
    assert leading.count(True) == 1, (steps, leading)
    assert _lock_holder_pid(database) is not None
    for holder in holders:
        holder.release()


def test_the_leader_stops_leading_while_its_database_is_down_and_leads_again_when_it_is_back() -> None:
    """A restarted database ends every session: while it is down no process leads (acquire says so instead of
    raising or hanging), and once it is back the next try leads again."""
    from postgres import PostgresServer

    server = PostgresServer().start()
    try:
        leader = AdvisoryLeadership(server.create_database(), timeout_s=2)
        assert leader.acquire()
        server.halt()
        assert leader.acquire() is False and not leader.held
        assert leader.last_error
        server.resume()
        wait_until(leader.acquire, "leadership once the database is back", timeout=60)
        leader.dispose()
    finally:
        server.stop()


def test_two_schedulers_on_one_database_run_each_tick_once_and_the_standby_takes_over(database: str) -> None:
    """Two schedulers (as two replicas build them) on one database: only the leader's job runs and its gauge reads
    1, the standby's 0; when the leader stops, the standby's job runs within a poll and the gauges swap."""
    runs: dict[str, int] = {"a": 0, "b": 0}
    schedulers: dict[str, Scheduler] = {}
    for name in runs:
        runner = JobRunner(ServiceMetrics(CollectorRegistry()).monitoring, 5)
        scheduler = Scheduler(runner, AdvisoryLeadership(database, timeout_s=2), poll_s=0.2)
        scheduler.add("job", lambda name=name: runs.__setitem__(name, runs[name] + 1), 0.2, first_run_s=0.05)
        schedulers[name] = scheduler
    a, b = schedulers["a"], schedulers["b"]

    def gauge(scheduler: Scheduler) -> float:
        (family,) = scheduler.runner.metrics.scheduler_leader.collect()
        return float(family.samples[0].value)

    try:
        assert a.start() and b.start()
        assert (a.leading, b.leading, gauge(a), gauge(b)) == (True, False, 1, 0)
        wait_until(lambda: runs["a"], "the leader's job to run three times", accept=lambda n: n >= 3)
        assert runs["b"] == 0 and b.runner.statuses["job"].runs == 0
        a.shutdown()
        wait_until(lambda: runs["b"], "the standby to take over and run the job", timeout=30)
        assert (a.leading, b.leading, gauge(a), gauge(b)) == (False, True, 0, 1)
        stopped_at = runs["a"]
        wait_until(lambda: runs["b"], "two more runs on the new leader", accept=lambda n: n >= 3)
        assert runs["a"] == stopped_at  # the stopped leader ran nothing more
    finally:
        a.shutdown()
        b.shutdown()
