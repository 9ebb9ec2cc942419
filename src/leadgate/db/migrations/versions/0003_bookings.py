"""demo bookings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:17:13.690753
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("booking_id", sa.String(length=36), nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("attendee_name", sa.String(length=200), nullable=False),
        sa.Column("attendee_email", sa.String(length=320), nullable=False),
        sa.Column("attendee_tz", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ics", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('booked', 'cancelled')", name="ck_bookings_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id"),
    )
    # the last guard against double booking: one active booking per rep and start; cancelled rows do not
    # count, so a cancelled slot can be booked again (partial index: SQLite 3.8+, PostgreSQL).
    op.create_index(
        "uq_bookings_rep_start",
        "bookings",
        ["rep_id", "start_at"],
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_index("ix_bookings_conversation_id", "bookings", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_bookings_conversation_id", table_name="bookings")
    op.drop_index("uq_bookings_rep_start", table_name="bookings")
    op.drop_table("bookings")
