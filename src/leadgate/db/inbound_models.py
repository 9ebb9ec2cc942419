"""ORM table of inbound CRM webhook events (``leadgate.ingest.crm_events``, ``POST /v1/webhooks/crm/{source}``).

Tables:
    inbound_events: one row per event a CRM sent, unique on ``(source, event_id)`` so a replayed or
        re-delivered event is recognised and stored once: ``source`` (the CRM's name in the URL),
        ``event_id`` (the sender's id: ``webhook-id`` or HubSpot's ``eventId``), ``event_type``,
        ``lead_id`` (None when the event named no known lead), ``outcome``, ``occurred_at``,
        ``decision_id`` (the decision the outcome is linked to), ``status`` (``recorded``, ``ignored``
        or ``dead``), ``reason`` (why it was ignored or dead-lettered), ``received_at``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class InboundEventRow(Base):
    """One event received from a CRM webhook."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_inbound_events_source_event"),
        Index("ix_inbound_events_lead", "lead_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    event_id: Mapped[str] = mapped_column(String(128), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    lead_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
