"""outcomes, mapping versions, run kinds and decision run ids

* ``outcomes``: what happened to a lead after the decision (converted, opportunity created, won, lost),
  and when; stored apart from the lead, idempotently (unique on lead, outcome and time). Training joins
  leads to the outcomes known at its cut-off; CRM webhooks will write here too.
* ``mapping_versions``: the column stages of every mapping version seen by train, evaluate, import or
  qualify, so a change of stage between versions is recorded and shown.
* ``import_runs.kind`` (``import`` or ``qualify``) and ``import_runs.run_key`` (what else must match to
  resume: model, policy, explain mode): a qualify run never resumes an import run, and the reverse.
* ``decisions.run_id``: the run that made a decision (not part of the hash chain), so a run's decisions
  can be exported from the store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dedupe_key", name="uq_outcomes_dedupe_key"),
    )
    op.create_index("ix_outcomes_lead_id", "outcomes", ["lead_id"])
    op.create_table(
        "mapping_versions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("stages", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "content_hash", name="uq_mapping_versions_name_hash"),
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="import"))
        batch_op.add_column(sa.Column("run_key", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_decisions_run_id", "decisions", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_run_id", table_name="decisions")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("run_id")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_column("run_key")
        batch_op.drop_column("kind")
    op.drop_table("mapping_versions")
    op.drop_index("ix_outcomes_lead_id", table_name="outcomes")
    op.drop_table("outcomes")
