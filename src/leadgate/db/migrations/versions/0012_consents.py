"""consents: each lead's consent and withdrawals per purpose, with source, wording version and time (issue 8, item 6)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("wording_version", sa.String(length=128), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=160), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
    )
    op.create_index("ix_consents_lead_purpose", "consents", ["lead_id", "purpose"])


def downgrade() -> None:
    op.drop_index("ix_consents_lead_purpose", table_name="consents")
    op.drop_table("consents")
