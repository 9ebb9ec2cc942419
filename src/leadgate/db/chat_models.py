"""ORM tables of the chat front door: conversations and their append-only event log.

Tables:
    conversations: one row per conversation: status (active, handoff, closed), the flow state as JSON
        (encrypted: it holds the visitor's slots),
        the visitor's time zone, the resume-token hash, the lead and decision it produced, ``last_seq``
        (the seq of its latest event), ``owner`` (the rep it is assigned to) and ``pending_seq`` (a
        visitor message stored but not yet answered, after the assistant failed on it; processed on the
        next post).
    conversation_events: every event of a conversation in order (``seq`` from 1, gap-free), stored before
        the reply is sent (payload encrypted); ``client_message_id`` makes a resent visitor message idempotent and
        ``reply_to`` is the seq of the visitor message an event answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class ConversationRow(Base):
    """A conversation with the website assistant."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    visitor_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    flow_version: Mapped[str] = mapped_column(String(80), nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    pending_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lead_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    handoff_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # the sales rep (rep id) the conversation is assigned to, or None (routing fills it); migration 0008
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # blind index of the visitor's email once a slot holds one (leadgate.privacy); see migration 0009.
    email_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class ConversationEventRow(Base):
    """One event of a conversation (visitor message, assistant reply, slot change, handoff, ...)."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_conversation_events_seq"),
        UniqueConstraint("conversation_id", "client_message_id", name="uq_conversation_events_client_msg"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.conversation_id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    client_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reply_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
