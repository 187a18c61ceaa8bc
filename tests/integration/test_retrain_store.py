"""The retrain job's reads and writes of the one store, on SQLite and PostgreSQL: which production labels it can
train on (``production_labels``), what it refuses to mix in, and the lineage rows (``Lineage``)."""

from __future__ import annotations

import re
import uuid

import pytest
from pydantic import SecretStr, ValidationError

from sentiment.datasets.feedback import FeedbackStore
from sentiment.errors import DatasetError
from sentiment.service.retrain import Lineage, LineageRecord, production_labels, retrain_data
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import predictions, review_sample


def _predicted(store: Store, text: str | None, sampled_label: str | None = None) -> str:
    """A logged prediction (with ``text`` or none), drawn into the review sample when ``sampled_label`` is given
    (and labelled with it, the sample keeping the text)."""
    pid = uuid.uuid4().hex
    probabilities = {"p_negative": 0.2, "p_neutral": 0.3, "p_positive": 0.5}
    with store.write() as conn:
        row = {"ts": 1.0, "source": "api", "model": "m", "n_chars": 3, "n_tokens": 1, "surface": "api"}
        conn.execute(
            predictions.insert().values(
                **row, **probabilities, label="positive", confidence=0.5, text=text, prediction_id=pid
            )
        )
        if sampled_label is not None:
            sampled = {"prediction_id": pid, "prediction_ts": 1.0, "model": "m", "served_label": "positive"}
            conn.execute(
                review_sample.insert().values(
                    **sampled, **probabilities, text="sampled " + pid[:6], inclusion_probability=1.0,
                    sampled_at=1.0, label=sampled_label, labelled_at=2.0, labeller="admin",
                )
            )  # fmt: skip
    return pid


def test_production_labels_take_known_texts_from_every_source_and_leave_conflicts_out(store: Store) -> None:
    """Accepted feedback with its text; accepted feedback without text whose text the log kept; a labelled review
    row; a prediction labelled alike by both (one row, source feedback+review); one labelled differently by both
    (left out, counted); unreviewed feedback, and accepted feedback whose text nobody kept, are not used."""
    feedback = FeedbackStore(store)
    given = uuid.uuid4().hex
    feedback.add(given, "negative", client="c", reviewed="accepted", source="bulk", text="given text")
    logged = _predicted(store, "logged text")
    feedback.add(logged, "neutral", client="c", reviewed="accepted", source="bulk")
    reviewed = _predicted(store, None, sampled_label="positive")
    agreed = _predicted(store, None, sampled_label="negative")
    feedback.add(agreed, "negative", client="c", reviewed="accepted", source="bulk")
    disagreed = _predicted(store, None, sampled_label="negative")
    feedback.add(disagreed, "positive", client="c", reviewed="accepted", source="bulk")
    feedback.add(uuid.uuid4().hex, "positive", client="c", source="visitor", text="unreviewed text")
    feedback.add(_predicted(store, None), "positive", client="c", reviewed="accepted", source="bulk")

    rows, conflicts = production_labels(store)
    found = {row.prediction_id: (row.text, row.label, row.source) for row in rows.itertuples()}
    assert found == {
        given: ("given text", "negative", "feedback"),
        logged: ("logged text", "neutral", "feedback"),
        reviewed: ("sampled " + reviewed[:6], "positive", "review"),
        agreed: ("sampled " + agreed[:6], "negative", "feedback+review"),
    }
    assert conflicts == 1


def test_lineage_rows_keep_their_json_and_order(store: Store) -> None:
    """Rows come back oldest first with their JSON parsed; a NaN in the metrics is stored as null (JSON has none)."""
    lineage = Lineage(store)
    metrics = {"held_out": {"challenger": {"ece": float("nan"), "accuracy": 0.8}}}
    lineage.add(
        LineageRecord("promote", "run-1", "embedded", base="embedded", rows={"held_out": 40}, metrics=metrics), now=5.0
    )
    lineage.add(LineageRecord("rollback", "embedded", "run-1"), now=6.0)
    rows = lineage.rows()
    assert [(r["action"], r["model"], r["created_at"]) for r in rows] == [
        ("promote", "run-1", 5.0),
        ("rollback", "embedded", 6.0),
    ]
    assert rows[0]["metrics"] == {"held_out": {"challenger": {"ece": None, "accuracy": 0.8}}}
    assert rows[0]["rows"] == {"held_out": 40} and rows[1]["metrics"] is None


def test_the_mixed_in_dataset_is_never_the_production_labels_nor_an_evaluation_only_set(
    settings: Settings, store: Store, database_url: str
) -> None:
    """``production-feedback`` is refused when the settings are read (it holds the held-out labels); the airline
    tweets (CC BY-NC-SA, evaluation only) when a retrain would start, before any label is read."""
    with pytest.raises(ValidationError, match="would train on the held-out production labels"):
        Settings(retrain_mix_dataset="production-feedback")
    airline = settings.model_copy(
        update={"database_url": SecretStr(database_url), "retrain_mix_dataset": "airline_tweets"}
    )
    with pytest.raises(DatasetError, match=re.escape("airline_tweets is for evaluation only (CC BY-NC-SA 4.0)")):
        retrain_data(store, airline)
