"""ORM tables of acting on decisions: assignments, the outbox, and the hash-chained work-event log.

Tables:
    assignments: one row per assignment of a lead to a rep (a re-assignment adds a row and closes the
        previous one): ``assignment_id``, ``lead_id``, ``decision_id``, ``rep_id`` (None: unassigned),
        ``rule``, ``rule_id``, ``reason``, ``policy_version``, ``assigned_at``, ``sla_due_at``,
        ``first_touch_at``, ``status`` (``open``, ``touched``, ``escalated``, ``reassigned``, ``closed``),
        ``actor``. Capacity counts read ``(rep_id, assigned_at)``.
    outbox: one row per action to deliver (``contracts.action.Action``), written in the transaction of the
        decision that caused it; ``status`` ``pending`` -> ``delivered`` | ``dead``; ``attempts``,
        ``next_attempt_at`` (retry time), ``claimed_by`` / ``claimed_until`` (the worker holding it, a lease),
        ``last_error``, ``external_id`` (the destination's id of the effect). Unique on
        ``(destination, idempotency_key)``: planning the same effect twice stores it once.
    work_events: append-only, hash-chained log of what happened to leads after their decision (assigned,
        re-assigned, overridden by a reviewer, SLA escalated, first touch, outcome received, delivery
        dead-lettered), with actor and reason; ``leadgate.audit.events``.
    work_events_head: the head of that chain (single row, id 1), locked by each writer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class AssignmentRow(Base):
    """One assignment of a lead to a rep (or to nobody, rule ``unassigned``)."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_lead", "lead_id"),
        Index("ix_assignments_rep_time", "rep_id", "assigned_at"),
        Index("ix_assignments_status_due", "status", "sla_due_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    assignment_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    decision_id: Mapped[str] = mapped_column(String(64), nullable=False)
    rep_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule: Mapped[str] = mapped_column(String(32), nullable=False)
    rule_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    policy_version: Mapped[str] = mapped_column(String(160), nullable=False)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_touch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    actor: Mapped[str] = mapped_column(String(160), nullable=False)


class OutboxRow(Base):
    """One action waiting for, or done with, delivery."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("destination", "idempotency_key", name="uq_outbox_destination_key"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_lead", "lead_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    destination: Mapped[str] = mapped_column(String(64), nullable=False)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WorkEventRow(Base):
    """One event in a lead's life after its decision (immutable; ``record_hash`` chains to ``prev_hash``)."""

    __tablename__ = "work_events"
    __table_args__ = (Index("ix_work_events_lead", "lead_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(160), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class WorkEventHeadRow(Base):
    """The head of the work-event chain (a single row, id 1)."""

    __tablename__ = "work_events_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
