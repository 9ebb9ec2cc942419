"""ORM tables of demo booking.

Tables:
    bookings: one row per booked (or cancelled) meeting with a rep, times in UTC, with its ICS invite.
        A partial unique index on ``(rep_id, start_at)`` over rows with ``status = 'booked'`` is the last
        guard against double booking: two concurrent requests for the same slot cannot both commit, and a
        cancelled meeting frees its slot for a new booking.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId

BOOKING_STATUSES = ("booked", "cancelled")
"""Values of ``bookings.status``."""


class BookingRow(Base):
    """A demo meeting booked with a rep (times stored in UTC)."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_rep_start",
            "rep_id",
            "start_at",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_bookings_conversation_id", "conversation_id"),
        CheckConstraint("status IN ('booked', 'cancelled')", name="ck_bookings_status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    booking_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    rep_id: Mapped[str] = mapped_column(String(64), nullable=False)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # attendee_name, attendee_email and ics are encrypted tokens (leadgate.privacy): TEXT on PostgreSQL
    # since 0009; SQLite keeps the declared VARCHARs, whose lengths it does not enforce.
    attendee_name: Mapped[str] = mapped_column(Text().with_variant(String(200), "sqlite"), nullable=False)
    attendee_email: Mapped[str] = mapped_column(Text().with_variant(String(320), "sqlite"), nullable=False)
    attendee_tz: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    ics: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    email_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
