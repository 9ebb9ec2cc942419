"""ORM tables of the embedded CRM (destination ``embedded``, ``leadgate.adapters.embedded``).

No personal data is stored here: a contact is the lead's id plus decision facts; the lead's name, email
and company stay encrypted in ``leads.pii`` and are read (decrypted) by whoever shows them.

Tables:
    crm_contacts: one row per lead (upserted by ``crm_upsert`` actions): ``contact_id``, ``lead_id``
        (unique), ``decision_id``, ``tier``, ``rep_id`` (the owner), ``last_action_key`` and
        ``last_action_at`` (the ``created_at`` of the action that last changed it: an older action
        delivered late, a retry or a replay, never overwrites a newer one), ``created_at``, ``updated_at``.
    crm_tasks: one row per ``crm_task`` action (unique ``idempotency_key``: a retry inserts nothing):
        ``task_id``, ``lead_id``, ``decision_id``, ``rep_id``, ``title`` (no personal data), ``tier``,
        ``due_at`` (the assignment's SLA due time), ``status`` (``open`` | ``done``), ``created_at``,
        ``done_at``. The rep inbox reads ``(rep_id, status, due_at)``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class CrmContactRow(Base):
    """The embedded CRM's contact of one lead (ids and decision facts only)."""

    __tablename__ = "crm_contacts"
    __table_args__ = (Index("ix_crm_contacts_rep", "rep_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rep_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_action_key: Mapped[str] = mapped_column(String(128), nullable=False)
    last_action_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CrmTaskRow(Base):
    """One follow-up task for a rep (one per ``crm_task`` action key)."""

    __tablename__ = "crm_tasks"
    __table_args__ = (
        Index("ix_crm_tasks_rep_status_due", "rep_id", "status", "due_at"),
        Index("ix_crm_tasks_lead", "lead_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rep_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
