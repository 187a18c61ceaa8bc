"""The monitoring's rows in the one store, on SQLite and on PostgreSQL: references by key (the format a migrated data
folder brings), the drift check's kept state, and the store totals that /metrics reads at scrape time."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, insert, select

from appserver import metric_value
from sentiment.monitoring.drift import check_drift
from sentiment.monitoring.drift_state import DriftState, load_drift_state, save_drift_state
from sentiment.monitoring.monitor_state import load_state, save_state
from sentiment.monitoring.persistence import CheckedWindow
from sentiment.monitoring.reference import ReferenceProfile, pinned_key, reference_profile
from sentiment.monitoring.reference_rows import drop_reference, get_reference, put_reference
from sentiment.results import ModelInfo
from sentiment.service.collectors import StoreTotalsCollector
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import feedback, monitor_state, predictions, references


class NoScoring:
    """A predictor that must not be asked to score: the stored reference is to be read."""

    info = ModelInfo("tiny-model", "local", "rev-1")

    def predict_batch(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the stored reference must be read, not built again")


def _profile(rows: int = 30, split: str = "last 30") -> ReferenceProfile:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "n_chars": rng.integers(5, 200, rows),
            "n_tokens": rng.integers(2, 60, rows),
            "surface": ["plain"] * rows,
            "label": rng.choice(["negative", "neutral", "positive"], rows),
            "confidence": rng.uniform(0.34, 1.0, rows).round(4),
        }
    )
    return ReferenceProfile("tiny-model", "rev-1", "production", split, time.time(), frame)


def test_a_reference_row_is_replaced_whole_and_dropped_by_key(store: Store) -> None:
    put_reference(store, "k1", "serving_since", '{"since": 1.0}', model="m", model_revision="r")
    put_reference(store, "k1", "serving_since", '{"since": 2.0}', model="m", model_revision="r")
    assert get_reference(store, "k1") == '{"since": 2.0}'
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(references)).scalar_one() == 1
    drop_reference(store, "k1")
    drop_reference(store, "k1")  # nothing there: no error
    assert get_reference(store, "k1") is None
    with pytest.raises(ValueError, match="unknown reference kind"):
        put_reference(store, "k2", "profiles", "{}")


def test_a_pin_migrated_from_a_data_folder_is_the_reference(store: Store, settings: Settings) -> None:
    """The rows the legacy import writes (key = the file's stem, payload = the file's JSON, the pointer naming
    ``<key>.json``) are what ``reference_profile`` reads: the pinned profile comes back, nothing is scored."""
    profile = _profile()
    info = NoScoring.info
    with store.write() as conn:
        for key, kind, payload in (
            (profile.key, "profile", profile.payload()),
            (pinned_key(info.name, info.revision), "pinned", json.dumps({"profile": f"{profile.key}.json"})),
        ):
            row = {"key": key, "kind": kind, "model": info.name, "model_revision": info.revision}
            conn.execute(insert(references).values(**row, created_at=time.time(), payload=payload))
    found = reference_profile(NoScoring(), settings, store)  # type: ignore[arg-type]
    assert (found.dataset, found.split, found.created_at) == ("production", "last 30", profile.created_at)
    pd.testing.assert_frame_equal(found.frame, profile.frame, check_dtype=False)


def test_monitor_state_keeps_one_json_value_per_key(store: Store) -> None:
    assert load_state(store, "drift") is None
    save_state(store, "drift", {"a": [1, 2.5, float("nan")]})
    save_state(store, "drift", {"a": [3]})
    save_state(store, "other", "x")
    assert load_state(store, "drift") == {"a": [3]}
    assert load_state(store, "other") == "x"


def _report() -> Any:
    rng = np.random.default_rng(1)
    reference = _profile(200).frame
    current = reference.assign(n_chars=rng.integers(1, 20, 200))  # far shorter texts: drift
    return check_drift(reference, current, min_window=10, reference_info=_profile().summary())


REPORT = _report()
levels = st.sampled_from(["ok", "warning", "drift", "insufficient_data"])
runs = st.lists(st.tuples(levels, st.integers(0, 2**40), st.integers(0, 2**40)), max_size=50)
values = st.floats(allow_nan=True, allow_infinity=True)


@hypothesis_settings(max_examples=60, deadline=None)
@given(run=runs, value=values, last_id=st.integers(-1, 2**40))
def test_the_drift_state_reads_back_as_it_was_written(
    run: list[tuple[str, int, int]], value: float, last_id: int
) -> None:
    """Property: any run, any gauge value (NaN and infinities included: a blanked estimate is NaN) and a real
    report with its distributions survive the JSON the store keeps, exactly."""
    state = DriftState(
        reference=("3f2a9c", 1733550000.123456),
        run=tuple(CheckedWindow(*c) for c in run),
        report=REPORT,
        estimate=None,
        checked=pd.DataFrame({"label": ["negative", "positive"], "confidence": [0.5, 0.875]}),
        checked_last_id=last_id,
        gauges=[{"name": "sentiment_drift_status", "labels": {}, "value": value}],
    )
    again = DriftState.from_dict(json.loads(json.dumps(state.as_dict())))
    assert json.dumps(again.as_dict()) == json.dumps(state.as_dict())
    assert again.run == state.run and again.report is not None
    assert again.report.status_code == REPORT.status_code and again.report.results == REPORT.results


def test_the_drift_state_round_trips_through_the_store(store: Store) -> None:
    state = DriftState(None, (CheckedWindow("drift", 1, 40),), REPORT, None, None, 40, [])
    save_drift_state(store, state)
    loaded = load_drift_state(store)
    assert loaded is not None and loaded.run == state.run and loaded.report is not None
    assert loaded.report.as_dict()["results"] == REPORT.as_dict()["results"]
    save_state(store, "drift", {"version": 0})  # a value of another shape: not read, no error
    assert load_drift_state(store) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def _add_feedback(store: Store, n: int, label: str, state: str) -> None:
    """Rows as another process (the CLI's bulk import, another replica) writes them."""
    rows = [
        {"prediction_id": f"{label}{state}{i}", "label": label, "source": "bulk", "client": "owner", "reviewed": state}
        for i in range(n)
    ]
    with store.write() as conn:
        conn.execute(insert(feedback), [{**row, "created_at": time.time()} for row in rows])


def _add_predictions(store: Store, n: int) -> None:
    row = {"ts": time.time(), "source": "api", "model": "m", "n_chars": 3, "n_tokens": 1, "surface": "plain"}
    probabilities = {"p_negative": 0.1, "p_neutral": 0.1, "p_positive": 0.8, "label": "positive", "confidence": 0.8}
    with store.write() as conn:
        conn.execute(insert(predictions), [{**row, **probabilities}] * n)


def test_store_totals_written_elsewhere_show_at_the_next_scrape_after_the_cache(store: Store) -> None:
    """Feedback and log rows another process writes appear on /metrics: read when scraped, at most once per
    ``max_age_s`` (a scrape within it repeats the last values), every label and state from the first read."""
    clock = Clock()
    registry = CollectorRegistry()
    collector = StoreTotalsCollector(max_age_s=5.0, clock=clock)
    registry.register(collector)
    assert "sentiment_feedback_stored" not in _scrape(registry)  # no store watched: nothing exported
    collector.watch(store)
    text = _scrape(registry)
    assert metric_value(text, "sentiment_feedback_stored", {"label": "neutral", "state": "dropped"}) == 0
    assert "sentiment_prediction_log_stored_rows 0.0" in text
    _add_feedback(store, 7, "positive", "accepted")
    _add_feedback(store, 2, "negative", "unreviewed")
    _add_predictions(store, 12)
    clock.now = 4.9
    assert metric_value(_scrape(registry), "sentiment_feedback_stored", {"state": "accepted"}) == 0  # cached
    clock.now = 5.0
    text = _scrape(registry)
    assert metric_value(text, "sentiment_feedback_stored", {"label": "positive", "state": "accepted"}) == 7
    assert metric_value(text, "sentiment_feedback_stored", {"label": "negative", "state": "unreviewed"}) == 2
    assert metric_value(text, "sentiment_feedback_stored") == 9
    assert metric_value(text, "sentiment_prediction_log_stored_rows") == 12


def test_a_store_lost_after_a_read_keeps_its_last_totals_and_the_scrape_answers(tmp_path: Path) -> None:
    """The database goes away (its folder removed): the scrape still answers, with the last values read."""
    folder = tmp_path / "db"
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}", timeout_s=1.0)
    _add_feedback(store, 3, "neutral", "accepted")
    clock = Clock()
    registry = CollectorRegistry()
    collector = StoreTotalsCollector(max_age_s=5.0, clock=clock)
    registry.register(collector)
    collector.watch(store)
    assert metric_value(_scrape(registry), "sentiment_feedback_stored", {"label": "neutral"}) == 3
    store.dispose()
    shutil.rmtree(folder)
    clock.now = 10.0
    text = _scrape(registry)
    assert store.last_error is not None  # it was tried, and failed
    assert metric_value(text, "sentiment_feedback_stored", {"label": "neutral", "state": "accepted"}) == 3
    assert not math.isnan(metric_value(text, "sentiment_prediction_log_stored_rows"))


def test_a_store_down_from_the_start_exports_nothing_and_the_scrape_answers() -> None:
    store = Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none", timeout_s=1.0, wait=False)
    registry = CollectorRegistry()
    collector = StoreTotalsCollector()
    registry.register(collector)
    collector.watch(store)
    text = _scrape(registry)
    assert "sentiment_feedback_stored" not in text and "sentiment_prediction_log_stored_rows" not in text


def test_replicas_writing_one_key_at_once_never_meet_a_unique_key_error(store: Store) -> None:
    """Two replicas keep the drift state (and references) under one key: 4 threads x 40 writes of one key, on both
    backends, all succeed and one row remains holding one of the written values. A delete-then-insert fails this on
    PostgreSQL (the second DELETE misses the row the first INSERT has not committed yet; its INSERT then collides)."""
    import threading

    from sentiment.monitoring.reference_rows import get_reference, put_reference

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        for i in range(40):
            try:
                save_state(store, "shared", {"writer": n, "i": i})
                put_reference(store, "serving-shared", "serving_since", json.dumps({"since": float(n)}))
            except BaseException as exc:  # collected: the assertion below names them
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert load_state(store, "shared")["i"] == 39
    assert json.loads(get_reference(store, "serving-shared") or "{}")["since"] in {0.0, 1.0, 2.0, 3.0}
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(monitor_state)).scalar_one() == 1
