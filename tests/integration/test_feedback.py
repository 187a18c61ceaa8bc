"""Feedback: one record per (prediction, label) whoever sends it, conflicts kept and surfaced, rate-limited per client
(repeats free, the admin token unlimited), reviewed by the owner, counted, in bulk from a labelled scored file, and
turned into the production evaluation (from the log, no re-scoring). The store's own tests run on SQLite and on
PostgreSQL (fixture ``store``). The limiter and the upgrade of old feedback files are tested in
tests/integration/test_feedback_limits.py; concurrent senders in tests/integration/test_feedback_concurrency.py."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import delete

from appserver import metric_value
from scheduler import evaluation_job
from sentiment.datasets.feedback import FeedbackStore
from sentiment.errors import FeedbackError, RateLimitedError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.monitoring.production import INSUFFICIENT
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import feedback

IDS = [uuid.UUID(int=i).hex for i in range(1, 5)]


def emptied(store: Store) -> FeedbackStore:
    """The feedback table of ``store`` with no rows (each generated example starts from nothing; ids go on)."""
    with store.write() as conn:
        conn.execute(delete(feedback))
    return FeedbackStore(store)


def test_the_same_feedback_twice_is_one_row_and_a_second_label_is_a_conflict(store: Store) -> None:
    """The same label for one prediction is one row whoever sends it (clients a and c); another label is a second
    row, reported as a conflict until the owner drops one side."""
    store = FeedbackStore(store)
    first = store.add(IDS[0], "positive", client="a")
    again = store.add(IDS[0], " Positive ", client="a")
    elsewhere = store.add(IDS[0], "positive", client="c")  # another client, same label: the same record
    assert (first.duplicate, again.duplicate, again.feedback_id) == (False, True, first.feedback_id)
    assert (elsewhere.duplicate, elsewhere.feedback_id) == (True, first.feedback_id)
    other = store.add(IDS[0], "negative", client="b")
    assert other.conflict and other.labels == ["negative", "positive"]
    assert store.counts() == {"unreviewed": 2, "accepted": 0, "dropped": 0, "conflicts": 1}
    conflicts = store.conflicts()
    assert conflicts["prediction_id"].tolist() == [IDS[0]]
    assert conflicts.values.tolist() == [[IDS[0], "negative:1, positive:1", 2]]
    # dropping one side settles the conflict; accepted rows are what the evaluation uses
    assert store.review([other.feedback_id], "dropped") == ["negative"]
    assert store.review([other.feedback_id], "dropped") == []  # already dropped: nothing changes
    store.review([first.feedback_id], "accepted")
    assert store.counts() == {"unreviewed": 0, "accepted": 1, "dropped": 1, "conflicts": 0}
    labels, conflicting = store.labels(("accepted",))
    assert labels[["prediction_id", "label"]].values.tolist() == [[IDS[0], "positive"]] and conflicting == 0


def test_a_feedback_id_is_never_handed_out_twice(store: Store) -> None:
    """An id names one row for good: after rows are deleted (the newest one included), new feedback gets a higher
    id, on SQLite (AUTOINCREMENT) and PostgreSQL (identity) alike: an old ``feedback_id`` never reviews another row."""
    feedback = emptied(store)
    given = [feedback.add(IDS[i], "neutral", client="a").feedback_id for i in range(3)]
    emptied(store)
    again = feedback.add(IDS[0], "neutral", client="a")
    assert not again.duplicate and again.feedback_id > max(given)
    assert feedback.review(given, "dropped") == []  # the old ids name nothing now


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(LABELS), st.sampled_from("abc")), max_size=30))
def test_rows_are_the_distinct_pairs_and_conflicts_the_ids_with_several_labels(
    store: Store, given_feedback: list[tuple[str, str, str]]
) -> None:
    """For any submissions (prediction, label, client): one row per distinct (prediction, label), clients aside;
    a conflict per prediction with several labels; the agreed labels are the predictions with one."""
    store = emptied(store)
    for pid, label, client in given_feedback:
        store.add(pid, label, client=client)
    assert len(store.rows()) == len({(pid, label) for pid, label, _ in given_feedback})
    by_id: dict[str, set[str]] = {}
    for pid, label, _ in given_feedback:
        by_id.setdefault(pid, set()).add(label)
    assert store.counts()["conflicts"] == sum(len(v) > 1 for v in by_id.values())
    labels, conflicting = store.labels(("unreviewed",))
    assert dict(labels[["prediction_id", "label"]].values.tolist()) == {
        pid: next(iter(v)) for pid, v in by_id.items() if len(v) == 1
    }
    assert conflicting == sum(len(v) > 1 for v in by_id.values())


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(IDS), st.sampled_from(LABELS), st.sampled_from(["visitor", "bulk"])),
        st.tuples(
            st.just("review"), st.lists(st.integers(0, 11), max_size=4), st.sampled_from(["accepted", "dropped"])
        ),
    ),
    max_size=25,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_operations=operations)
def test_any_sequence_of_adds_and_reviews_keeps_counts_and_conflicts_consistent_with_the_rows(
    store: Store, given_operations: list[tuple[object, ...]]
) -> None:
    """For any interleaving of visitor feedback, the owner's bulk feedback (accepted as it comes, accepting a
    visitor's label) and reviews of rows by id: the rows are what a plain model of the rules predicts, ``counts()``
    agrees with ``rows()`` state by state, and ``conflicts()`` lists exactly the predictions whose kept (not
    dropped) rows disagree, each with its per-label counts."""
    feedback = emptied(store)
    model: dict[tuple[str, str], str] = {}  # (prediction, label) -> review state
    order: list[tuple[str, str]] = []  # pairs by arrival: a review names rows by their position here
    for operation in given_operations:
        if operation[0] == "add":
            _, pid, label, source = operation
            pair = (str(pid), str(label))
            reviewed = "accepted" if source == "bulk" else "unreviewed"
            feedback.add(*pair, client="x", source=str(source), reviewed=reviewed)
            if pair not in model:
                order.append(pair)
                model[pair] = reviewed
            elif reviewed == "accepted":
                model[pair] = "accepted"
        else:
            _, positions, decision = operation
            chosen = {order[i] for i in positions if i < len(order)}  # type: ignore[attr-defined]
            ids = feedback.rows().set_index(["prediction_id", "label"])["id"]
            changed = feedback.review([int(ids[pair]) for pair in chosen], decision)  # type: ignore[arg-type]
            assert sorted(changed) == sorted(pair[1] for pair in chosen if model[pair] != decision)  # one per change
            model.update(dict.fromkeys(chosen, str(decision)))
    rows = feedback.rows()
    assert dict(zip(zip(rows["prediction_id"], rows["label"], strict=True), rows["reviewed"], strict=True)) == model
    counts = feedback.counts()
    assert {state: counts[state] for state in ("unreviewed", "accepted", "dropped")} == {
        state: int((rows["reviewed"] == state).sum()) for state in ("unreviewed", "accepted", "dropped")
    }
    kept: dict[str, list[str]] = {}
    for (pid, label), state in sorted(model.items()):
        if state != "dropped":
            kept.setdefault(pid, []).append(label)
    disagreeing = {pid: labels for pid, labels in kept.items() if len(labels) > 1}
    assert counts["conflicts"] == len(disagreeing)
    assert feedback.conflicts().values.tolist() == [
        [pid, ", ".join(f"{label}:1" for label in labels), len(labels)] for pid, labels in sorted(disagreeing.items())
    ]


@pytest.mark.parametrize(
    ("prediction_id", "label", "message"),
    [("12", "positive", "not a prediction id"), (IDS[0], "great", "unknown label"), ("", "neutral", "not a pred")],
)
def test_bad_ids_and_labels_are_refused_with_what_to_use(
    store: Store, prediction_id: str, label: str, message: str
) -> None:
    with pytest.raises(FeedbackError, match=message):
        FeedbackStore(store).add(prediction_id, label, client="a")
    assert FeedbackStore(store).rows().empty


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> SentimentService:
    configured = settings.model_copy(
        update={"evaluation_datasets": [], "production_min_labels": 4, "feedback_per_client_hour": 100}
    )
    service = SentimentService(
        configured, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), configured)
    )
    service.start()
    yield service
    service.stop()


def _count(service: SentimentService, label: str, outcome: str) -> float:
    text = service.metrics.render().decode()
    return metric_value(text, "sentiment_feedback_total", {"label": label, "outcome": outcome})


def test_feedback_names_a_logged_prediction_and_is_counted(service: SentimentService) -> None:
    prediction = service.predict("the food was cold")
    assert prediction.prediction_id and len(prediction.prediction_id) == 32
    outcome = service.feedback.give(prediction.prediction_id, "negative", "s1")
    assert outcome["outcome"] == "recorded" and outcome["reviewed"] == "unreviewed"
    assert service.feedback.give(prediction.prediction_id, "negative", "s1")["outcome"] == "duplicate"
    assert _count(service, "negative", "recorded") == 1 and _count(service, "negative", "duplicate") == 1
    with pytest.raises(FeedbackError, match="no logged prediction"):
        service.feedback.give(uuid.uuid4().hex, "neutral", "s1")
    assert _count(service, "neutral", "unknown_prediction") == 1
    stored = service.feedback.store.rows()
    assert stored["text"].isna().all()  # no text unless given


def test_the_production_evaluation_needs_enough_accepted_labels_and_uses_the_logged_predictions(
    service: SentimentService,
) -> None:
    texts = ["great", "awful", "fine", "ok then", "love it", "hate it"]
    predictions = service.predict_many(texts)
    for p in predictions[:3]:
        service.feedback.give(p.prediction_id or "", p.label or "", "s1")  # agrees with the model
    (outcome,) = evaluation_job(service)
    report = outcome.as_dict()
    assert report["status"] == INSUFFICIENT and report["n"] == 0  # unreviewed feedback does not count

    rows = service.feedback.store.rows()
    service.feedback.review(rows["id"].tolist(), "accepted")
    assert evaluation_job(service)[0].as_dict()["status"] == INSUFFICIENT  # 3 accepted, 4 needed
    wrong = next(label for label in LABELS if label != predictions[3].label)
    service.feedback.give(predictions[3].prediction_id or "", wrong, "s1")
    service.feedback.review(service.feedback.store.rows(states=("unreviewed",))["id"].tolist(), "accepted")
    (outcome,) = evaluation_job(service)
    report = outcome.as_dict()
    assert report["dataset"] == "production" and report["n"] == 4
    assert report["metrics"]["accuracy"] == pytest.approx(0.75)
    assert set(report["intervals"]) >= {"accuracy", "macro_f1"}
    model = service.predictor.info.name
    labels = {"model": model, "dataset": "production", "split": "window", "source": "scheduled"}
    text = service.metrics.render().decode()
    assert metric_value(text, "model_accuracy", labels) == pytest.approx(0.75)
    assert metric_value(text, "model_evaluation_samples", labels) == 4

    # a conflicting label leaves that prediction out: below the minimum again, and the gauges go away
    other = next(label for label in LABELS if label != predictions[0].label)
    service.feedback.give(predictions[0].prediction_id or "", other, "s2")
    service.feedback.review(service.feedback.store.rows(states=("unreviewed",))["id"].tolist(), "accepted")
    (outcome,) = evaluation_job(service)
    report = outcome.as_dict()
    assert report["status"] == INSUFFICIENT and "conflicting" in report["rows"]["why"]
    assert 'dataset="production"' not in service.metrics.render().decode()


def test_a_labelled_scored_file_attaches_its_labels_and_reports_every_row_not_used(
    service: SentimentService, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,great stuff\n2,\n3,terrible\n4,meh\n")
    scored = service.score_file(source).path
    with scored.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labelled = tmp_path / "labelled.csv"
    with labelled.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [*rows[0], "true_label"])
        writer.writeheader()
        for row, truth in zip(rows, ["positive", "neutral", "negative", "maybe"], strict=True):
            writer.writerow({**row, "true_label": truth})
        writer.writerow({"id": "5", "prediction_id": uuid.uuid4().hex, "true_label": "positive"})
    summary = service.feedback.import_file(labelled)
    assert (summary.rows, summary.recorded, summary.duplicates) == (5, 2, 0)
    assert summary.problems == {"no prediction id": [2], "not a label": [4], "unknown prediction id": [5]}
    assert service.feedback.import_file(labelled).duplicates == 2  # the same file again adds nothing
    assert service.feedback.store.counts()["accepted"] == 2
    with pytest.raises(FeedbackError, match="needs a prediction_id column and a label column"):
        service.feedback.import_file(source)


def test_the_command_line_attaches_a_labelled_file_to_the_apps_log(
    service: SentimentService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentiment.__main__ import main

    prediction = service.predict("the seats were comfortable")
    service.monitoring.log.flush(5)  # type: ignore[union-attr]
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(f"prediction_id,correct_label\n{prediction.prediction_id},positive\n{'f' * 32},negative\n")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(service.settings.data_dir))
    assert main(["feedback", str(labelled), "--label-column", "correct_label"]) == 0
    printed = capsys.readouterr().out
    assert '"recorded": 1' in printed and '"unknown prediction id": 1' in printed
    assert service.feedback.store.counts()["accepted"] == 1


def _feedback_with_text(store: FeedbackStore, per_class: int, reviewed: str) -> None:
    for i in range(per_class):
        for label in LABELS:
            pid = uuid.uuid4().hex
            store.add(pid, label, client=f"s{i}", text=f"{label} example number {i}", reviewed=reviewed, source="bulk")


def test_production_feedback_trains_on_accepted_feedback_with_text_only(
    settings: Settings, store: Store, database_url: str
) -> None:
    """``production-feedback`` reads the store the settings name (SQLite or PostgreSQL): accepted feedback with
    text only, unless unreviewed is asked for; with none, the error names the store by its address."""
    from sentiment.datasets import FEEDBACK_DATASET, load_split
    from sentiment.datasets.feedback import training_frame

    settings = settings.model_copy(update={"database_url": SecretStr(database_url)})
    store = FeedbackStore(store)
    with pytest.raises(FeedbackError, match="no accepted feedback with text in the store ") as empty:
        training_frame(store)
    assert store.url in str(empty.value)
    _feedback_with_text(store, 10, "accepted")
    _feedback_with_text(store, 4, "unreviewed")
    store.add(uuid.uuid4().hex, "positive", client="x", reviewed="accepted", source="bulk")  # no text: unusable
    assert len(training_frame(store)) == 30 and len(training_frame(store, unreviewed=True)) == 42
    parts = {split: load_split(FEEDBACK_DATASET, split, settings) for split in ("train", "validation", "test")}
    assert sum(len(p) for p in parts.values()) == 30 and set(parts["train"]["label"]) == set(LABELS)
    unreviewed = settings.model_copy(update={"feedback_train_unreviewed": True})
    assert len(load_split(FEEDBACK_DATASET, "all", unreviewed)) == 42


@pytest.mark.slow
def test_finetune_runs_on_production_feedback(
    tiny_model_dir: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finetune.__main__ import main as finetune_main

    # 360 rows: the calibration fitted after training needs 50 validation rows (15% of each class)
    store = Store.open(settings.store_url)
    _feedback_with_text(FeedbackStore(store), 120, "accepted")
    store.dispose()
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(settings.cache_dir))
    out = tmp_path / "run"
    argv = ["--datasets", "production-feedback", "--base", str(tiny_model_dir), "--max_steps", "2"]
    argv += ["--eval_datasets", "vader_tweets", "--max_length", "32", "--output_dir", str(out)]
    assert finetune_main(argv) == 0
    card = (out / "README.md").read_text()
    assert "production-feedback" in card and (out / "adapter_model.safetensors").exists()


def test_a_client_over_its_limit_is_refused_counted_and_told_when_to_retry(service: SentimentService) -> None:
    """Limit 1: a client's second new piece is refused (counted as rate_limited, with the wait in seconds); its
    repeat of the first is free; another client, and the same client with the admin token, are recorded."""
    limited = service.settings.model_copy(update={"feedback_per_client_hour": 1})
    from sentiment.service.feedback import ADMIN_CLIENT, FeedbackService

    feedback = FeedbackService(limited, service.metrics.feedback, lambda: service.monitoring.log, store=service.store)
    first, second, third = service.predict_many(["one good day", "one bad day", "one more day"])
    feedback.give(first.prediction_id or "", "positive", "192.0.2.1")
    assert feedback.give(first.prediction_id or "", "positive", "192.0.2.1")["outcome"] == "duplicate"
    with pytest.raises(RateLimitedError, match=r"retry in (\d+) s") as refused:
        feedback.give(second.prediction_id or "", "negative", "192.0.2.1")
    assert 3590 < refused.value.retry_after_s <= 3600  # the first admission leaves the hour's window then
    assert _count(service, "negative", "rate_limited") == 1
    assert feedback.store.rows()["prediction_id"].tolist() == [first.prediction_id]  # the refusal stored nothing
    feedback.give(second.prediction_id or "", "negative", "192.0.2.2")  # another client is not limited
    owner = feedback.give(third.prediction_id or "", "neutral", "192.0.2.1", unlimited=True)
    assert owner["outcome"] == "recorded"
    clients = feedback.store.rows().set_index("prediction_id")["client"]
    assert clients[third.prediction_id] == ADMIN_CLIENT
    assert clients[first.prediction_id].startswith("visitor:") and "192.0.2" not in clients[first.prediction_id]


def test_feedback_text_that_is_not_unicode_is_refused_before_it_takes_a_slot(service: SentimentService) -> None:
    """A lone surrogate in the text sent with a label (JSON "\\ud83d") is the visitor's error, said as such: it is
    refused by the rule every scored text passes, stores nothing, and leaves the visitor's slot free; a blank text is
    no text."""
    limited = service.settings.model_copy(update={"feedback_per_client_hour": 1})
    from sentiment.service.feedback import FeedbackService

    feedback = FeedbackService(limited, service.metrics.feedback, lambda: service.monitoring.log, store=service.store)
    (first,) = service.predict_many(["a fine phone"])
    with pytest.raises(FeedbackError, match=r"not valid Unicode: a lone surrogate U\+D83D at character 6"):
        feedback.give(first.prediction_id or "", "positive", "192.0.2.9", "great \ud83d phone")
    assert feedback.store.rows().empty
    assert feedback.give(first.prediction_id or "", "positive", "192.0.2.9", "   ")["outcome"] == "recorded"
    assert feedback.store.rows()["text"].isna().all()  # the slot was still free, and blank text is no text


def test_the_monitoring_status_line_names_unreviewed_feedback_and_conflicts() -> None:
    from sentiment.web.ui.monitoring import feedback_line

    quiet = feedback_line({"unreviewed": 3, "accepted": 2, "dropped": 0, "conflicts": 0})
    assert "**3** unreviewed" in quiet and "conflicting" not in quiet
    assert "**1 prediction with conflicting labels**" in feedback_line(
        {"unreviewed": 0, "accepted": 2, "dropped": 0, "conflicts": 1}
    )
