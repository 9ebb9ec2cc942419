"""Reads and writes of the ``bookings`` table (SQLAlchemy Core, SQLite and PostgreSQL).

Times go in as aware datetimes and are written in UTC; they come back as aware UTC datetimes on both
backends (SQLite keeps them as UTC text without offset).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, Table, insert, select, update

from leadgate.chat.booking.slots import Interval
from leadgate.db.booking_models import BookingRow
from leadgate.privacy.crypto import aad, keyring

bookings: Table = BookingRow.__table__  # type: ignore[assignment]


class Booking(BaseModel):
    """A stored booking.

    Attributes:
        booking_id: UUID (36 characters).
        rep_id: the rep's id in the calendars file.
        start, end: aware UTC datetimes of the meeting.
        conversation_id: the chat conversation that booked it, if any.
        attendee_name, attendee_email, attendee_tz: the visitor (``attendee_tz`` an IANA name).
        status: ``booked`` or ``cancelled``.
        ics: the latest invite (``METHOD:REQUEST``, or ``METHOD:CANCEL`` once cancelled).
        created_at: aware UTC time of booking.
        cancelled_at: aware UTC time of cancellation, if cancelled.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    booking_id: str
    rep_id: str
    start: datetime
    end: datetime
    conversation_id: str | None
    attendee_name: str
    attendee_email: str
    attendee_tz: str
    status: Literal["booked", "cancelled"]
    ics: str
    created_at: datetime
    cancelled_at: datetime | None = None


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime from a stored value (naive values are UTC, as written)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PERSONAL_COLUMNS = ("attendee_name", "attendee_email", "ics")
"""Columns stored encrypted (``leadgate.privacy``), each bound to ``bookings.<column>|<booking_id>``."""


def _seal(conn: Connection, booking_id: str, column: str, value: str) -> str:
    return keyring(conn).encrypt_text(value, aad("bookings", column, booking_id))


def _open(conn: Connection, booking_id: str, column: str, token: str) -> str:
    return keyring(conn).decrypt_text(token, aad("bookings", column, booking_id))


def booking_from_row(conn: Connection, row: Any) -> Booking:
    """The ``Booking`` of a ``bookings`` row, its personal columns decrypted.

    Raises:
        leadgate.privacy.crypto.DecryptionError: a token was tampered with or moved.
    """
    bid = row.booking_id
    return Booking(
        booking_id=bid,
        rep_id=row.rep_id,
        start=as_utc(row.start_at),
        end=as_utc(row.end_at),
        conversation_id=row.conversation_id,
        attendee_name=_open(conn, bid, "attendee_name", row.attendee_name),
        attendee_email=_open(conn, bid, "attendee_email", row.attendee_email),
        attendee_tz=row.attendee_tz,
        status=row.status,
        ics=_open(conn, bid, "ics", row.ics),
        created_at=as_utc(row.created_at),
        cancelled_at=None if row.cancelled_at is None else as_utc(row.cancelled_at),
    )


def booked_intervals(
    conn: Connection, rep_ids: Collection[str], start: datetime, end: datetime
) -> dict[str, list[Interval]]:
    """Active bookings (``status = 'booked'``) of ``rep_ids`` overlapping ``[start, end)``.

    Returns:
        rep id -> meeting intervals (aware UTC) in start order; every requested rep is a key.
    """
    result: dict[str, list[Interval]] = {rep_id: [] for rep_id in rep_ids}
    if not result:
        return result
    rows = conn.execute(
        select(bookings.c.rep_id, bookings.c.start_at, bookings.c.end_at)
        .where(
            bookings.c.status == "booked",
            bookings.c.rep_id.in_(list(result)),
            bookings.c.start_at < end.astimezone(UTC),
            bookings.c.end_at > start.astimezone(UTC),
        )
        .order_by(bookings.c.start_at)
    )
    for rep_id, start_at, end_at in rows:
        result[rep_id].append(Interval(as_utc(start_at), as_utc(end_at)))
    return result


def insert_booking(conn: Connection, booking: Booking) -> None:
    """Insert ``booking`` (attendee name, email and invite encrypted; the email's blind index kept).

    Raises:
        sqlalchemy.exc.IntegrityError: an active booking of the rep already starts at ``booking.start``
            (index ``uq_bookings_rep_start``), or the booking id exists.
    """
    conn.execute(
        insert(bookings).values(
            booking_id=booking.booking_id,
            rep_id=booking.rep_id,
            start_at=booking.start.astimezone(UTC),
            end_at=booking.end.astimezone(UTC),
            conversation_id=booking.conversation_id,
            attendee_name=_seal(conn, booking.booking_id, "attendee_name", booking.attendee_name),
            attendee_email=_seal(conn, booking.booking_id, "attendee_email", booking.attendee_email),
            email_index=keyring(conn).blind_index(booking.attendee_email),
            attendee_tz=booking.attendee_tz,
            status=booking.status,
            ics=_seal(conn, booking.booking_id, "ics", booking.ics),
            created_at=booking.created_at.astimezone(UTC),
            cancelled_at=None if booking.cancelled_at is None else booking.cancelled_at.astimezone(UTC),
        )
    )


def read_booking(conn: Connection, booking_id: str) -> Booking | None:
    """The booking with id ``booking_id``, or None."""
    row = conn.execute(select(bookings).where(bookings.c.booking_id == booking_id)).first()
    return None if row is None else booking_from_row(conn, row)


def mark_cancelled(conn: Connection, booking_id: str, *, ics: str, at: datetime) -> None:
    """Set a booking's status to ``cancelled`` with its cancellation invite and time."""
    conn.execute(
        update(bookings)
        .where(bookings.c.booking_id == booking_id)
        .values(
            status="cancelled",
            ics=_seal(conn, booking_id, "ics", ics),
            cancelled_at=at.astimezone(UTC),
        )
    )


def get_booking(engine: Engine, booking_id: str) -> Booking | None:
    """The booking with id ``booking_id`` read in its own connection, or None."""
    with engine.connect() as conn:
        return read_booking(conn, booking_id)
