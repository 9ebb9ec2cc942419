"""owners: ``leads.owner``, ``conversations.owner`` and ``api_keys.rep_id`` (issue 8, item 4)

* ``leads.owner`` and ``conversations.owner``: the sales rep (rep id, text) the lead or conversation is
  assigned to, nullable and indexed (a ``sales_rep`` reads only its own; lists filter on it). Routing
  (issue 9) fills them; an import or API post may set a lead's owner.
* ``api_keys.rep_id``: the rep an API key acts as (a rep's personal key), so a ``sales_rep`` key sees the
  rep's own leads and conversations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("leads", "conversations"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=True))
        op.create_index(f"ix_{table}_owner", table, ["owner"])
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rep_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("rep_id")
    for table in ("conversations", "leads"):
        op.drop_index(f"ix_{table}_owner", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("owner")
