"""leads.latest_decision_id instead of the (lead_id, id) index on decisions

Each lead row holds the ``decision_id`` of its latest decision, written in the same transaction as the
decision (for a new lead, in the lead's own INSERT). ``latest_decision`` follows it, so the decisions
table no longer needs an index keyed by the random lead id: inserting a chunk of decisions then touches
only the right edge of its time-ordered indexes (see docs/benchmarks.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latest_decision_id", sa.String(length=36), nullable=True))
    # Existing decisions: each lead points at its decision with the highest id (the newest in the chain).
    op.execute(
        "UPDATE leads SET latest_decision_id = ("
        "SELECT d.decision_id FROM decisions d WHERE d.lead_id = leads.lead_id ORDER BY d.id DESC LIMIT 1)"
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_lead_id_id")


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_lead_id_id", ["lead_id", "id"], unique=False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("latest_decision_id")
