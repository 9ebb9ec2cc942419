"""routing_reps, routing_rr: the per-rep lock rows and the shared round-robin state of routing (issue 9)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_reps",
        sa.Column("rep_id", sa.String(length=64), primary_key=True),
        sa.Column("assigned", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "routing_rr",
        sa.Column("pool", sa.String(length=160), primary_key=True),
        sa.Column("rep_id", sa.String(length=64), primary_key=True),
        sa.Column("current_weight", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routing_rr")
    op.drop_table("routing_reps")
