"""The review sample: logged predictions drawn uniformly at random for the owner to label, apart from visitor
feedback (issue 28: labels of a random sample give unbiased production estimates; self-selected feedback does not).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_sample",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("prediction_id", sa.String(32), nullable=False),
        sa.Column("prediction_ts", sa.Double, nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("served_label", sa.String(16), nullable=False),
        sa.Column("p_negative", sa.Double, nullable=False),
        sa.Column("p_neutral", sa.Double, nullable=False),
        sa.Column("p_positive", sa.Double, nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("inclusion_probability", sa.Double, nullable=False),
        sa.Column("sampled_at", sa.Double, nullable=False),
        sa.Column("label", sa.String(16)),
        sa.Column("labelled_at", sa.Double),
        sa.Column("labeller", sa.String(16)),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_review_sample"),
        sa.UniqueConstraint("prediction_id", name="uq_review_sample_prediction_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_review_sample_prediction_ts", "review_sample", ["prediction_ts"])


def downgrade() -> None:
    op.drop_table("review_sample")
