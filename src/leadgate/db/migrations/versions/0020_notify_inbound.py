"""sent_messages, inbound_events, outcomes.decision_id: actions out and outcomes in (issue 9, items 8 and 6)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sent_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.UniqueConstraint("destination", "idempotency_key", name="uq_sent_messages_key"),
    )
    op.create_table(
        "inbound_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("occurred_at", TS, nullable=True),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("source", "event_id", name="uq_inbound_events_source_event"),
    )
    op.create_index("ix_inbound_events_lead", "inbound_events", ["lead_id"])
    op.add_column("outcomes", sa.Column("decision_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("decision_id")
    op.drop_index("ix_inbound_events_lead", table_name="inbound_events")
    op.drop_table("inbound_events")
    op.drop_table("sent_messages")
