"""crm_contacts, crm_tasks: the embedded CRM (issue 9 item 5, destination ``embedded``)

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-02 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_contacts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("lead_id", sa.String(length=128), nullable=False, unique=True),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("rep_id", sa.String(length=64), nullable=True),
        sa.Column("last_action_key", sa.String(length=128), nullable=False),
        sa.Column("last_action_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_crm_contacts_rep", "crm_contacts", ["rep_id"])
    op.create_table(
        "crm_tasks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False, unique=True),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("rep_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
    )
    op.create_index("ix_crm_tasks_rep_status_due", "crm_tasks", ["rep_id", "status", "due_at"])
    op.create_index("ix_crm_tasks_lead", "crm_tasks", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_crm_tasks_lead", table_name="crm_tasks")
    op.drop_index("ix_crm_tasks_rep_status_due", table_name="crm_tasks")
    op.drop_table("crm_tasks")
    op.drop_index("ix_crm_contacts_rep", table_name="crm_contacts")
    op.drop_table("crm_contacts")
