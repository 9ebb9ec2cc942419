"""dead_letters: caller, truncation (flag, original size and sha256), indexes for quotas and retention

Rejected API requests are kept up to ``LEADGATE_DEAD_LETTER_MAX_BYTES``; ``caller`` is who sent them
(principal subject or ``ip:<address>``). ``created_at`` is indexed for the retention purge, ``(caller,
created_at)`` for counting a caller's dead letters.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("caller", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("truncated", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("original_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_dead_letters_created_at", "dead_letters", ["created_at"])
    op.create_index("ix_dead_letters_caller_created_at", "dead_letters", ["caller", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_caller_created_at", table_name="dead_letters")
    op.drop_index("ix_dead_letters_created_at", table_name="dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("original_sha256")
        batch.drop_column("original_bytes")
        batch.drop_column("truncated")
        batch.drop_column("caller")
