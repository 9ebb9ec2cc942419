"""privacy: data_keys, privacy_tombstones; encrypted personal fields and blind indexes

``leads`` gains ``pii`` (the encrypted personal fields), ``email_index`` (blind index) and
``tombstone_id``; ``dead_letters``, ``conversations`` and ``bookings`` gain ``email_index``; the bookings'
attendee name and email become ``Text`` (their tokens are longer than the old limits). Existing rows stay
plaintext until ``leadgate keys rotate-data-key`` encrypts them; ``leadgate db upgrade`` creates the
first data key (see ``leadgate.privacy.crypto.ensure_keys``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_INDEXED = ("leads", "dead_letters", "conversations", "bookings")


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(length=32), primary_key=True),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "privacy_tombstones",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tombstone_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("email_index", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tombstone_id", name="uq_privacy_tombstones_tombstone_id"),
    )
    op.create_index("ix_privacy_tombstones_email_index", "privacy_tombstones", ["email_index"])
    op.add_column("leads", sa.Column("pii", sa.Text(), nullable=True))
    op.add_column("leads", sa.Column("tombstone_id", sa.String(length=36), nullable=True))
    for table in _INDEXED:
        op.add_column(table, sa.Column("email_index", sa.String(length=64), nullable=True))
        op.create_index(f"ix_{table}_email_index", table, ["email_index"])
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        op.alter_column("bookings", "attendee_name", type_=sa.Text())
        op.alter_column("bookings", "attendee_email", type_=sa.Text())


def downgrade() -> None:
    for table in _INDEXED:
        op.drop_index(f"ix_{table}_email_index", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("email_index")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("tombstone_id")
        batch.drop_column("pii")
    op.drop_index("ix_privacy_tombstones_email_index", table_name="privacy_tombstones")
    op.drop_table("privacy_tombstones")
    op.drop_table("data_keys")
