"""The review sample on the one store, on SQLite and PostgreSQL (the ``store`` fixture runs each test on both):
drawn where the prediction log writes (every logged row with the same chance, its text kept with text logging off,
its inclusion probability stored), the daily cap ends a day's sample and records when, texts expire, and the
owner's service labels one row at a time, skips, imports a file row by row, counts progress, and never touches
visitor feedback."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from sentiment.errors import ReviewError
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.monitoring.review_sampler import DAY_S, ReviewSampler
from sentiment.results import BatchResult
from sentiment.service.review import ReviewService
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import feedback, predictions, review_sample


def _result(n: int) -> BatchResult:
    probs = np.tile(np.array([[0.1, 0.2, 0.7]], dtype=np.float32), (n, 1))
    result = BatchResult(probabilities=probs, truncated=np.zeros(n, bool), errors=[None] * n, tokens=np.full(n, 5))
    return result.with_new_ids()


def _log(store: Store, rate: float, cap: int, seed: int = 0) -> PredictionLog:
    log = PredictionLog(store, sampler=ReviewSampler(rate, cap, rng=np.random.default_rng(seed)))
    log.start()
    return log


def _sampled(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(review_sample).order_by(review_sample.c.id))]


def test_every_logged_prediction_is_drawn_at_the_rate_with_its_probability_recorded(store: Store) -> None:
    """3,000 logged predictions at rate 0.1 give Binomial(3000, 0.1) sampled rows (within 5 sigma); each row stores
    inclusion probability 0.1, the served label and probabilities, and its text although text logging is off (the
    prediction log's own rows have no text)."""
    log = _log(store, 0.1, cap=10_000)
    for i in range(300):
        texts = [f"text {i}-{j}" for j in range(10)]
        log.record("predict", "m", texts, _result(10))
    assert log.flush(60)
    log.stop()
    rows = _sampled(store)
    assert abs(len(rows) - 300) <= 5 * math.sqrt(3000 * 0.1 * 0.9)
    assert {r["inclusion_probability"] for r in rows} == {0.1}
    assert {(r["served_label"], r["model"], r["skipped"], r["label"]) for r in rows} == {("positive", "m", 0, None)}
    assert rows[0]["p_positive"] == pytest.approx(0.7)
    assert all(str(r["text"]).startswith("text ") for r in rows)
    with store.read() as conn:
        logged = dict(conn.execute(select(predictions.c.prediction_id, predictions.c.text)).tuples().all())
    assert {r["prediction_id"] for r in rows} <= set(logged)  # each sampled row names a logged prediction
    assert set(logged.values()) == {None}


def test_the_daily_cap_ends_the_days_sample_and_records_when(store: Store) -> None:
    """At rate 1 with a cap of 5, a request of 8 texts samples the first 5; a later request that day samples none;
    the day's end is recorded at the first refused draw, so ``sampling_open`` is True before it and False after."""
    log = _log(store, 1.0, cap=5)
    log.record("predict", "m", [f"t{i}" for i in range(8)], _result(8))
    assert log.flush(10)
    first = _sampled(store)
    log.record("predict", "m", ["later"], _result(1))
    assert log.flush(10)
    log.stop()
    assert [r["text"] for r in _sampled(store)] == ["t0", "t1", "t2", "t3", "t4"] == [r["text"] for r in first]
    service = ReviewService(Settings(), store)
    closed = service.queue.closed_days()
    assert list(closed) == [time.strftime("%Y-%m-%d", time.gmtime(float(first[0]["prediction_ts"])))]
    at = next(iter(closed.values()))
    day_start = at // DAY_S * DAY_S
    assert service.queue.sampling_open([day_start, at - 1e-3, at, at + 60, day_start + DAY_S + 1]).tolist() == [
        True,
        True,
        False,
        False,
        True,  # the next day is open again
    ]


def test_the_owner_labels_one_at_a_time_skips_and_sees_progress(store: Store, settings: Settings) -> None:
    """``next_item`` is the oldest waiting row; labelling or skipping moves it on; the progress counts labelled rows
    of this window against SENTIMENT_PRODUCTION_MIN_LABELS and those waiting; a bad id or label is refused by name;
    no feedback row is written (the tables stay apart)."""
    log = _log(store, 1.0, cap=100)
    log.record("predict", "m", ["first", "second", "third", "fourth"], _result(4))
    assert log.flush(10)
    log.stop()
    service = ReviewService(settings, store)
    item = service.next_item()
    assert item is not None and item["text"] == "first"
    answer = service.label(item["id"], " Negative ")
    assert (answer["item"]["label"], answer["item"]["labeller"]) == ("negative", "admin")
    assert service.next_item()["text"] == "second"  # type: ignore[index]
    service.skip(service.next_item()["id"])  # type: ignore[index]
    third = service.next_item()
    assert third is not None and third["text"] == "third"
    service.label(third["id"], "positive", "api")
    progress = service.progress()
    assert (progress.labelled, progress.target, progress.waiting, progress.skipped) == (2, 50, 1, 1)
    assert progress.text == "2 of 50 for this week's interval; 1 wait for review (1 skipped)."
    assert "next 48 label(s)" in progress.question
    assert [r["text"] for r in service.listing("labelled")["rows"]] == ["first", "third"]
    assert service.listing("all")["counts"] == {"sampled": 4, "labelled": 2, "waiting": 1, "skipped": 1}
    with pytest.raises(ReviewError, match="no sampled prediction has review id 999"):
        service.label(999, "positive")
    with pytest.raises(ReviewError, match="unknown label 'great'"):
        service.label(third["id"], "great")
    with pytest.raises(ReviewError, match="whole number"):
        service.label("x1", "positive")  # type: ignore[arg-type]
    labelled = service.queue.labelled()
    assert labelled["label"].tolist() == ["negative", "positive"]
    assert labelled["inclusion_probability"].tolist() == [1.0, 1.0]
    with store.read() as conn:
        assert conn.execute(select(feedback)).first() is None


def test_a_bulk_file_labels_its_good_rows_and_names_each_bad_one(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A CSV of review ids and labels: good rows are labelled (a repeat is counted as a duplicate), and each bad row
    is reported by reason and row number without sinking the others; prediction ids work as well."""
    log = _log(store, 1.0, cap=100)
    log.record("predict", "m", ["a", "b", "c"], _result(3))
    assert log.flush(10)
    log.stop()
    service = ReviewService(settings, store)
    ids = [int(r["id"]) for r in _sampled(store)]
    path = tmp_path / "labels.csv"
    lines = [f"{ids[0]},positive", f"{ids[1]},maybe", ",neutral", "abc,neutral", "99999,neutral", f"{ids[1]},neutral"]
    path.write_text("review_id,label\n" + "\n".join(lines) + f"\n{ids[0]},positive\n")
    summary = service.import_file(path).as_dict()
    assert summary["recorded"] == 2 and summary["duplicates"] == 1
    assert summary["not_used_rows"] == {
        "not a label": [2],
        "no id": [3],
        "not a review id": [4],
        "not in the review sample": [5],
    }
    assert [(r["label"], r["labeller"]) for r in _sampled(store)] == [
        ("positive", "bulk"),
        ("neutral", "bulk"),
        (None, None),
    ]
    by_prediction = tmp_path / "by_prediction.csv"
    by_prediction.write_text(f"prediction_id,label\n{_sampled(store)[2]['prediction_id']},negative\n")
    assert service.import_file(by_prediction).recorded == 1
    with pytest.raises(ReviewError, match="needs a review_id"):
        (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
        service.import_file(tmp_path / "bad.csv")


def test_sampled_texts_expire_and_labels_outlive_them(store: Store) -> None:
    """After SENTIMENT_REVIEW_TEXT_DAYS, an unlabelled sampled row is deleted and a labelled one keeps its label
    without its text; newer rows keep theirs."""
    log = PredictionLog(store, sampler=ReviewSampler(1.0, 100, rng=np.random.default_rng(0)), review_text_days=1)
    log.start()
    log.record("predict", "m", ["old labelled", "old waiting", "new"], _result(3))
    assert log.flush(10)
    rows = _sampled(store)
    with store.write() as conn:
        old = review_sample.c.id.in_([rows[0]["id"], rows[1]["id"]])
        conn.execute(update(review_sample).where(old).values(sampled_at=time.time() - 2 * DAY_S))
        conn.execute(update(review_sample).where(review_sample.c.id == rows[0]["id"]).values(label="neutral"))
    log.prune()
    log.stop()
    assert [(r["label"], r["text"]) for r in _sampled(store)] == [("neutral", None), (None, "new")]


ROW_KINDS = ("good", "no id", "not a review id", "not a label", "not in the review sample")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(ROW_KINDS), min_size=1, max_size=12), labels=st.data())
def test_any_mix_of_good_and_bad_rows_labels_every_good_one_and_names_every_bad_one(
    store: Store, settings: Settings, tmp_path: Path, kinds: list[str], labels: st.DataObject
) -> None:
    """Whatever mix of rows a file holds, each bad row is listed under its own reason at its own row number, and
    every good row's label is in the store afterwards (a bad row never sinks another)."""
    service = ReviewService(settings, store)
    if len(_sampled(store)) < 12:
        log = _log(store, 1.0, cap=100)
        log.record("predict", "m", [f"row {i}" for i in range(12)], _result(12))
        assert log.flush(10)
        log.stop()
    ids = [int(r["id"]) for r in _sampled(store)]
    cells = {"no id": ",neutral", "not a review id": "x7,neutral", "not in the review sample": "999999,neutral"}
    lines, wanted = [], {}
    for number, kind in enumerate(kinds, start=1):
        review_id = ids[number - 1]
        if kind == "good":
            label = labels.draw(st.sampled_from(["negative", "Neutral", " positive "]))
            lines.append(f"{review_id},{label}")
            wanted[review_id] = label.strip().lower()
        elif kind == "not a label":
            lines.append(f"{review_id},sarcastic")
        else:
            lines.append(cells[kind])
    path = tmp_path / "mixed.csv"
    path.write_text("review_id,label\n" + "\n".join(lines) + "\n")
    summary = service.import_file(path)
    expected = {kind: [n for n, k in enumerate(kinds, start=1) if k == kind] for kind in ROW_KINDS[1:] if kind in kinds}
    assert summary.problems == expected
    assert summary.recorded + summary.duplicates == len(wanted)
    stored = {int(r["id"]): r["label"] for r in _sampled(store)}
    assert {review_id: stored[review_id] for review_id in wanted} == wanted


def test_the_counts_of_one_model_leave_out_the_rows_another_model_served(store: Store) -> None:
    """After a switch the sample holds rows of two models: a model's counts (what its production truth says is
    labelled, waiting and skipped) are its rows alone; without a model they are every row."""
    log = _log(store, 1.0, cap=1000)
    log.record("predict", "old", ["a", "b", "c"], _result(3))
    log.record("predict", "new", ["d", "e"], _result(2))
    assert log.flush(10)
    log.stop()
    queue = ReviewService(Settings(), store).queue
    rows = {r["text"]: r["id"] for r in _sampled(store)}
    queue.label(rows["a"], "positive", "admin")
    queue.skip(rows["b"])
    queue.label(rows["d"], "negative", "admin")
    assert queue.counts(model="old").as_dict() == {"sampled": 3, "labelled": 1, "waiting": 1, "skipped": 1}
    assert queue.counts(model="new").as_dict() == {"sampled": 2, "labelled": 1, "waiting": 1, "skipped": 0}
    assert queue.counts().as_dict() == {"sampled": 5, "labelled": 2, "waiting": 2, "skipped": 1}


def test_the_window_is_cut_in_the_logs_order_when_replicas_commit_review_rows_out_of_it(store: Store) -> None:
    """Two replicas writing at once can commit their drawn rows in the other order than their predictions were
    logged. Review rows are re-inserted here in shuffled orders and some are labelled: whatever the order, the first
    waiting draw is the one logged first, every labelled row the window uses was logged before it, and every draw
    logged before it is labelled (the labels stay a uniform sample of the window). Fails with the review ids'
    order, which let a label from past the window's end in."""
    import random

    from sqlalchemy import delete, insert

    log = _log(store, 1.0, cap=1000)
    for i in range(8):
        log.record("predict", "m", [f"text {i}"], _result(1))
    assert log.flush(10)
    log.stop()
    with store.read() as conn:
        log_ids = dict(conn.execute(select(predictions.c.prediction_id, predictions.c.id)).tuples().all())
    queue = ReviewService(Settings(), store).queue
    for seed in range(5):
        rng = random.Random(seed)
        rows = _sampled(store)
        rng.shuffle(rows)
        with store.write() as conn:
            conn.execute(delete(review_sample))
            for row in rows:  # a new id, in the shuffled order, and no label yet
                values = {k: v for k, v in row.items() if k != "id"} | {"label": None}
                conn.execute(insert(review_sample).values(values))
        labelled = {r["prediction_id"] for r in rows if rng.random() < 0.6}
        for row in _sampled(store):
            if row["prediction_id"] in labelled:
                queue.label(int(row["id"]), "neutral", "admin")
        waiting = queue.first_waiting(since=0.0, model="m")
        unlabelled = sorted(log_ids[r["prediction_id"]] for r in rows if r["prediction_id"] not in labelled)
        if waiting is None:
            assert not unlabelled
            continue
        assert waiting[3] == unlabelled[0] == log_ids[waiting[1]]
        used = queue.labelled(since=0.0, before_log_id=waiting[3])
        assert sorted(log_ids[p] for p in used["prediction_id"]) == [
            i for i in sorted(log_ids.values()) if i < waiting[3]
        ]
