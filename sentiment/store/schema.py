"""The one store's tables (SQLAlchemy Core): what the app remembers between restarts and shares between replicas.

The schema is changed only by Alembic revisions (``sentiment/store/migrations/versions``): this module is the
current shape that code reads and writes, and ``tests/integration/test_store_schema.py`` checks that the migrations
build exactly it, on SQLite and on PostgreSQL.

Times are Unix seconds (double precision); probabilities and scores are doubles; ids grow with arrival and are never
reused (SQLite ``AUTOINCREMENT``, PostgreSQL identity), which the drift confirmation rule and feedback ids rely on.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Constraint names fixed by convention: the same on both backends, so a later migration can name what it drops.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# A 64-bit id on PostgreSQL; SQLite's AUTOINCREMENT needs the column to be exactly INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")

predictions = Table(
    "predictions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", Double, nullable=False),
    Column("source", String(32), nullable=False),
    Column("model", String(256), nullable=False),
    Column("n_chars", Integer, nullable=False),
    Column("n_tokens", Integer, nullable=False),
    Column("surface", String(32), nullable=False),
    Column("p_negative", Double, nullable=False),
    Column("p_neutral", Double, nullable=False),
    Column("p_positive", Double, nullable=False),
    Column("label", String(16), nullable=False),
    Column("confidence", Double, nullable=False),
    Column("text", Text),
    Column("prediction_id", String(32)),
    Column("embedding", LargeBinary),
    Index("ix_predictions_ts", "ts"),
    Index("ix_predictions_prediction_id", "prediction_id"),
    Index("ix_predictions_model_ts", "model", "ts"),
    sqlite_autoincrement=True,
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("prediction_id", String(32), nullable=False),
    Column("label", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("client", String(128), nullable=False),
    Column("reviewed", String(16), nullable=False, server_default="unreviewed"),
    Column("created_at", Double, nullable=False),
    Column("reviewed_at", Double),
    Column("text", Text),
    UniqueConstraint("prediction_id", "label", name="uq_feedback_prediction_label"),
    sqlite_autoincrement=True,
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", Double, nullable=False),
    Column("model", String(256), nullable=False),
    Column("model_revision", String(256), nullable=False),
    Column("dataset", String(128), nullable=False),
    Column("split", String(32), nullable=False),
    Column("n", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("accuracy", Double, nullable=False),
    Column("macro_f1", Double, nullable=False),
    Column("source", String(16), nullable=False),
    Column("report", Text, nullable=False),  # EvaluationReport.stored(), JSON
    Index("ix_evaluations_created_at", "created_at"),
    sqlite_autoincrement=True,
)

drift_checks = Table(
    "drift_checks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("checked_at", Double, nullable=False),
    Column("status", String(32), nullable=False),
    Column("raw_status", String(32), nullable=False),
    Column("consecutive", Integer, nullable=False),
    Column("reference_source", String(32), nullable=False),
    Column("window_size", Integer, nullable=False),
    Column("tests", Text, nullable=False),  # JSON list of {feature, test, level, effect_size}
    sqlite_autoincrement=True,
)

# Reference profiles (dataset and production), pinned-reference pointers, the automatic reference's start time and
# the performance estimators' fitted references: one row each, found by ``key``; ``payload`` is JSON.
references = Table(
    "reference_profiles",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),  # profile | pinned | serving_since | estimation
    Column("model", String(256), nullable=False, server_default=""),
    Column("model_revision", String(256), nullable=False, server_default=""),
    Column("created_at", Double, nullable=False),
    Column("payload", Text, nullable=False),
)

# Small named state the monitoring keeps between checks and restarts (the drift confirmation run, the last drift
# report, the legacy import's mark): one JSON value per key, replaced whole.
monitor_state = Table(
    "monitor_state",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# The review sample: logged predictions drawn uniformly at random (``sentiment.monitoring.review_sampler``) for the
# owner to label. Kept apart from ``feedback`` (visitors choose what they label; this sample is chosen by chance, so
# its labels estimate production accuracy without bias). Each row carries what an interval needs without the
# prediction log (which is pruned sooner): the prediction's time, served label and probabilities, the chance it was
# drawn with; ``text`` is kept even when text logging is off, for SENTIMENT_REVIEW_TEXT_DAYS.
review_sample = Table(
    "review_sample",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("prediction_id", String(32), nullable=False),
    Column("prediction_ts", Double, nullable=False),
    Column("model", String(256), nullable=False),
    Column("served_label", String(16), nullable=False),
    Column("p_negative", Double, nullable=False),
    Column("p_neutral", Double, nullable=False),
    Column("p_positive", Double, nullable=False),
    Column("text", Text),
    Column("inclusion_probability", Double, nullable=False),
    Column("sampled_at", Double, nullable=False),
    Column("label", String(16)),
    Column("labelled_at", Double),
    Column("labeller", String(16)),  # admin | api | bulk
    Column("skipped", Integer, nullable=False, server_default="0"),  # 0/1: an integer exports exactly everywhere
    UniqueConstraint("prediction_id", name="uq_review_sample_prediction_id"),
    Index("ix_review_sample_prediction_ts", "prediction_ts"),
    sqlite_autoincrement=True,
)

# Which model served from when, and where it came from: one row per promotion or rollback (issue 29). A promoted
# challenger's row holds its lineage (base, adapter and data digests, row counts, metrics at promotion: JSON); a
# rollback's row names the model it went back to. ``actor``: who acted (the admin token holds no name: "admin").
model_lineage = Table(
    "model_lineage",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", Double, nullable=False),
    Column("action", String(16), nullable=False),  # promote | rollback
    Column("model", String(256), nullable=False),  # the spec serving after the action (a run name when promoted)
    Column("previous", String(256), nullable=False),  # the spec serving before it
    Column("base", String(256)),
    Column("adapter_digest", String(64)),
    Column("data_digest", String(64)),
    Column("rows", Text),  # JSON: production_train, held_out, mixed_in, conflicts_left_out
    Column("metrics", Text),  # JSON: the challenger report at promotion
    Column("actor", String(64), nullable=False),
    Index("ix_model_lineage_created_at", "created_at"),
    sqlite_autoincrement=True,
)

TABLES = (predictions, feedback, evaluations, drift_checks, references, review_sample, model_lineage, monitor_state)
