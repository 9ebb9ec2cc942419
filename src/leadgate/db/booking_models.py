"""ORM tables of demo booking.

Tables:
    bookings: one row per booked meeting with a rep; ``(rep_id, start_at)`` is unique among rows, so two
        concurrent requests for the same slot cannot both commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class BookingRow(Base):
    """A demo meeting booked with a rep (times stored in UTC)."""

    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("rep_id", "start_at", name="uq_bookings_rep_start"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    booking_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    rep_id: Mapped[str] = mapped_column(String(64), nullable=False)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attendee_name: Mapped[str] = mapped_column(String(200), nullable=False)
    attendee_email: Mapped[str] = mapped_column(String(320), nullable=False)
    attendee_tz: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    ics: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
