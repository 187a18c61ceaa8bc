"""The drift status history: what a check stores comes back, in time order, bounded, and after the store is
opened again (an app restart), on SQLite and PostgreSQL (fixture ``store``)."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.monitoring.drift import DriftReport, FeatureDrift
from sentiment.monitoring.drift_history import DriftHistory
from sentiment.store import Store


def _report(checked_at: float, status: str = "ok", raw: str = "", effect: float | None = 0.05) -> DriftReport:
    row = FeatureDrift(
        "text_length", "ks", 0.05, 0.2, False, 0.01, "ks", 400, 200, 0.6, "ok", effect, 0.1, {"kind": "cdf"}
    )
    return DriftReport(
        status, 200, 100, checked_at, None, (row,), raw_status=raw, consecutive=2, reference_source="pinned"
    )


def test_a_check_comes_back_as_stored(store: Store) -> None:
    history = DriftHistory(store, max_rows=10)
    stored = history.add(_report(1000.0, "warning", "drift"))
    (found,) = history.recent()
    assert found == stored
    assert found.as_dict() == {
        "checked_at": 1000.0,
        "status": "warning",
        "raw_status": "drift",
        "consecutive": 2,
        "reference_source": "pinned",
        "window_size": 200,
        "tests": [{"feature": "text_length", "test": "ks", "level": "ok", "effect_size": 0.05}],
    }


def test_a_single_check_without_a_rule_stores_its_status_as_its_raw_level(store: Store) -> None:
    history = DriftHistory(store, max_rows=10)
    history.add(DriftReport("insufficient_data", 3, 100, 5.0, None, ()))
    (found,) = history.recent()
    assert (found.status, found.raw_status, found.tests) == ("insufficient_data", "insufficient_data", [])


def test_recent_checks_come_oldest_first_and_the_store_keeps_only_the_newest(store: Store) -> None:
    history = DriftHistory(store, max_rows=5)
    for i in range(12):
        history.add(_report(1000.0 + i, effect=None if i % 2 else 0.01 * i))
    assert history.count() == 5
    assert [r.checked_at for r in history.recent()] == [1007.0, 1008.0, 1009.0, 1010.0, 1011.0]
    assert [r.checked_at for r in history.recent(2)] == [1010.0, 1011.0]
    assert history.recent(0) == []
    assert [r.tests[0]["effect_size"] for r in history.recent(2)] == [pytest.approx(0.1), None]


def test_the_history_survives_reopening_the_store(database_url: str) -> None:
    """A second ``Store`` on the same address (a restarted app, another replica) reads what the first stored, and
    its rows go on from there."""
    first = Store.open(database_url)
    DriftHistory(first, max_rows=3).add(_report(1.0, "drift", "drift"))
    first.dispose()
    reopened = Store.open(database_url)
    again = DriftHistory(reopened, max_rows=3)
    assert [(r.checked_at, r.status) for r in again.recent()] == [(1.0, "drift")]
    again.add(_report(2.0))
    assert [r.checked_at for r in DriftHistory(reopened, max_rows=3).recent()] == [1.0, 2.0]
    reopened.dispose()


def test_a_history_that_keeps_nothing_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one check"):
        DriftHistory(store, max_rows=0)


def test_numpy_numbers_in_a_report_are_stored_as_plain_numbers(store: Store) -> None:
    """A check's counts may come out of numpy (``np.int64``): stored as they are, SQLite would keep them as bytes."""
    history = DriftHistory(store, max_rows=3)
    report = DriftReport("ok", np.int64(200), np.int64(100), np.float64(7.5), None, (), consecutive=np.int64(1))  # type: ignore[arg-type]
    history.add(report)
    (found,) = history.recent()
    assert (found.checked_at, found.window_size, found.consecutive) == (7.5, 200, 1)
    assert type(found.window_size) is int and type(found.consecutive) is int
