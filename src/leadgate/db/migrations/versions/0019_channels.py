"""channels in: seen email messages per mailbox, IMAP mailbox state, web-form submissions (issue 9, item 7)

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("mailbox", sa.String(length=255), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lead_id", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("processed_at", TS, nullable=False),
        sa.UniqueConstraint("mailbox", "message_key", name="uq_email_messages_mailbox_key"),
    )
    op.create_table(
        "email_mailboxes",
        sa.Column("mailbox", sa.String(length=255), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", TS, nullable=False),
    )
    op.create_table(
        "form_submissions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("submission_key", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("form_id", "submission_key", name="uq_form_submissions_form_key"),
    )


def downgrade() -> None:
    op.drop_table("form_submissions")
    op.drop_table("email_mailboxes")
    op.drop_table("email_messages")
