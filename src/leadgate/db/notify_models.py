"""ORM table of the sent-markers of e-mail destinations (``leadgate.adapters.email``).

Tables:
    sent_messages: one row per action an SMTP destination handed to its server: ``destination``,
        ``idempotency_key`` (unique together), ``message_id`` (the ``Message-ID`` sent), ``sent_at``. A retry
        of the same action finds the row and does not send again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class SentMessageRow(Base):
    """An action whose message an SMTP server accepted."""

    __tablename__ = "sent_messages"
    __table_args__ = (UniqueConstraint("destination", "idempotency_key", name="uq_sent_messages_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    destination: Mapped[str] = mapped_column(String(64), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False)
    message_id: Mapped[str] = mapped_column(String(255), nullable=False)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
