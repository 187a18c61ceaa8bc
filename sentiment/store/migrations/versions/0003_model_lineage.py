"""The model lineage: one row per promotion or rollback of the serving model, with where a promoted model came from
(issue 29: a retrained challenger is promoted inside the app, and any earlier model can be rolled back to).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_lineage",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("previous", sa.String(256), nullable=False),
        sa.Column("base", sa.String(256)),
        sa.Column("adapter_digest", sa.String(64)),
        sa.Column("data_digest", sa.String(64)),
        sa.Column("rows", sa.Text),
        sa.Column("metrics", sa.Text),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_lineage"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_model_lineage_created_at", "model_lineage", ["created_at"])


def downgrade() -> None:
    op.drop_table("model_lineage")
