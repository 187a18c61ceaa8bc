"""One store for the monitoring memory: the prediction log, feedback, evaluations, drift checks, references and the
monitoring state, in one database (they were four SQLite files and a folder of JSON files before).

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("n_chars", sa.Integer, nullable=False),
        sa.Column("n_tokens", sa.Integer, nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("p_negative", sa.Double, nullable=False),
        sa.Column("p_neutral", sa.Double, nullable=False),
        sa.Column("p_positive", sa.Double, nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Double, nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("prediction_id", sa.String(32)),
        sa.Column("embedding", sa.LargeBinary),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_predictions_ts", "predictions", ["ts"])
    op.create_index("ix_predictions_prediction_id", "predictions", ["prediction_id"])
    op.create_index("ix_predictions_model_ts", "predictions", ["model", "ts"])
    op.create_table(
        "feedback",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("prediction_id", sa.String(32), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("reviewed", sa.String(16), nullable=False, server_default="unreviewed"),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("reviewed_at", sa.Double),
        sa.Column("text", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("prediction_id", "label", name="uq_feedback_prediction_label"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "evaluations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("model_revision", sa.String(256), nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("split", sa.String(32), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("accuracy", sa.Double, nullable=False),
        sa.Column("macro_f1", sa.Double, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evaluations"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_evaluations_created_at", "evaluations", ["created_at"])
    op.create_table(
        "drift_checks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("checked_at", sa.Double, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("raw_status", sa.String(32), nullable=False),
        sa.Column("consecutive", sa.Integer, nullable=False),
        sa.Column("reference_source", sa.String(32), nullable=False),
        sa.Column("window_size", sa.Integer, nullable=False),
        sa.Column("tests", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_checks"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "reference_profiles",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model", sa.String(256), nullable=False, server_default=""),
        sa.Column("model_revision", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_reference_profiles"),
    )
    op.create_table(
        "monitor_state",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_monitor_state"),
    )


def downgrade() -> None:
    for table in ("monitor_state", "reference_profiles", "drift_checks", "evaluations", "feedback", "predictions"):
        op.drop_table(table)
