"""assignments, outbox, work_events: acting on decisions (issue 9: routing, reliable delivery, work-event chain)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("assignment_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=160), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("sla_due_at", TS, nullable=True),
        sa.Column("first_touch_at", TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
    )
    op.create_index("ix_assignments_lead", "assignments", ["lead_id"])
    op.create_index("ix_assignments_rep_time", "assignments", ["rep_id", "assigned_at"])
    op.create_index("ix_assignments_status_due", "assignments", ["status", "sla_due_at"])
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.UniqueConstraint("destination", "idempotency_key", name="uq_outbox_destination_key"),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_lead", "outbox", ["lead_id"])
    op.create_table(
        "work_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_work_events_lead", "work_events", ["lead_id"])
    op.create_table(
        "work_events_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO work_events_head (id, last_hash, count) VALUES (1, '" + "0" * 64 + "', 0)")


def downgrade() -> None:
    op.drop_table("work_events_head")
    op.drop_index("ix_work_events_lead", table_name="work_events")
    op.drop_table("work_events")
    op.drop_index("ix_outbox_lead", table_name="outbox")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_assignments_status_due", table_name="assignments")
    op.drop_index("ix_assignments_rep_time", table_name="assignments")
    op.drop_index("ix_assignments_lead", table_name="assignments")
    op.drop_table("assignments")
