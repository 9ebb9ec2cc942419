"""``CalendarScheduler``: the chat assistant's ``Scheduler`` over the calendars file and the database.

Booking is atomic. In one transaction, per rep:

1. lock: PostgreSQL takes ``pg_advisory_xact_lock`` on a 64-bit key derived from the rep id (released at
   commit or rollback, https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS);
   SQLite takes the process writer lock (``db.write_lock``) and then ``BEGIN IMMEDIATE``, which holds the
   database's write lock across processes before anything is read (https://www.sqlite.org/lang_transaction.html);
2. re-check: the slot is still one of the rep's working-hour slots, respects the notice and horizon, and
   neither a busy block nor another booking collides with it (buffers counted);
3. insert; the partial unique index ``(rep_id, start_at) WHERE status = 'booked'`` is the last guard.

A slot that is no longer free is answered with ``BookingResult(booked=False, reason=...)``, never an
exception; a database that cannot be reached still raises (fail loudly).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from leadgate.chat.booking import ics as invites
from leadgate.chat.booking import slots as slotting
from leadgate.chat.booking import store
from leadgate.chat.booking.model import CalendarSet, Organizer, Rep, zone
from leadgate.chat.booking.store import Booking
from leadgate.chat.ports import BookingResult, SlotOffer
from leadgate.db.engine import write_lock
from leadgate.db.store import utcnow

ICS_PATH = "/v1/bookings/{booking_id}.ics"
"""API path of a booking's invite (``leadgate.api.bookings``)."""

TAKEN = "the slot was just taken"
"""Reason given when another booking got the slot first."""


def advisory_key(rep_id: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key of a rep (first 8 bytes of a SHA-256)."""
    digest = hashlib.sha256(f"leadgate.booking:{rep_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class CalendarScheduler:
    """Offers and books demo slots (implements ``leadgate.chat.ports.Scheduler``).

    Args:
        engine: a migrated leadgate database (SQLite or PostgreSQL).
        calendars: the rep calendars (``load_calendars``).
        clock: returns the aware current time; used by ``book`` (notice, ``DTSTAMP``) and ``cancel``.
        on_booked: called with the booking's connection and the new ``Booking`` inside the booking's
            transaction (routing assigns the lead to the calendar's rep: ``ChatLeadQualifier.booked``);
            an exception there rolls the booking back.
        company: the company named in invites (the branding's); None: ``calendars.company`` (deprecated).
        organizer: the invites' ``ORGANIZER`` (the branding's ``invite_organizer``); None: the rep.

    Raises:
        ValueError: for a database other than SQLite or PostgreSQL.
    """

    def __init__(
        self,
        engine: Engine,
        calendars: CalendarSet,
        *,
        clock: Callable[[], datetime] = utcnow,
        on_booked: Callable[[Connection, Booking], None] | None = None,
        company: str | None = None,
        organizer: Organizer | None = None,
    ) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"booking needs SQLite or PostgreSQL, not {engine.dialect.name}")
        self.engine = engine
        self.calendars = calendars
        self._clock = clock
        self.on_booked = on_booked
        self.company = company if company is not None else calendars.company
        self.organizer = organizer

    # ---- offers -------------------------------------------------------------------------------------

    def _rep_ids(self, language: str | None, territory: str | None) -> list[str]:
        def fits(rep: Rep) -> bool:
            lang_ok = (
                language is None
                or not rep.languages
                or language.lower() in {x.lower() for x in rep.languages}
            )
            terr_ok = (
                territory is None
                or not rep.territories
                or territory.upper() in {x.upper() for x in rep.territories}
            )
            return lang_ok and terr_ok

        return [rep.id for rep in self.calendars.reps if fits(rep)]

    def offer_slots(
        self,
        *,
        now: datetime,
        visitor_tz: str,
        n: int = 3,
        language: str | None = None,
        territory: str | None = None,
    ) -> list[SlotOffer]:
        """The next ``n`` free slots after ``now``, spread and labelled in ``visitor_tz``.

        The rules are those of ``leadgate.chat.booking.slots``; active bookings are read from the database.

        Args:
            now: aware current time.
            visitor_tz: the visitor's IANA zone.
            n: how many offers.
            language: only reps whose ``languages`` contain it (reps without the list serve everyone);
                None: no filter.
            territory: only reps whose ``territories`` contain it (likewise); None: no filter.

        Returns:
            Up to ``n`` offers sorted by start; empty when no rep has a free slot.

        Raises:
            ValueError: naive ``now``, unknown ``visitor_tz`` or ``n < 1``.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now must be an aware datetime, got {now.isoformat()}")
        zone(visitor_tz)
        rep_ids = self._rep_ids(language, territory)
        if not rep_ids:
            return []
        day = timedelta(days=1)
        with self.engine.connect() as conn:
            booked = store.booked_intervals(conn, rep_ids, now - day, now + self.calendars.horizon + day)
        return slotting.offer_slots(
            self.calendars, now=now, visitor_tz=visitor_tz, n=n, booked=booked, rep_ids=rep_ids
        )

    def offer(self, offer_id: str, *, visitor_tz: str) -> SlotOffer:
        """Rebuild an offer from its id (e.g. a quick reply the visitor picked), labelled in ``visitor_tz``.

        Raises:
            ValueError: ``offer_id`` is malformed or names an unknown rep, or ``visitor_tz`` is unknown.
        """
        rep_id, start = slotting.parse_offer_id(offer_id)
        try:
            rep = self.calendars.rep(rep_id)
        except KeyError:
            raise ValueError(f"offer {offer_id!r} names an unknown rep") from None
        return slotting.make_offer(slotting.Slot(start, start + rep.meeting, rep.id), visitor_tz)

    # ---- booking ------------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, rep_id: str) -> Iterator[Connection]:
        """A transaction holding the rep's booking lock (see the module docstring)."""
        if self.engine.dialect.name == "sqlite":
            with write_lock(self.engine), self.engine.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        else:
            with self.engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(rep_id)})
                yield conn

    def _booked_around(self, conn: Connection, rep: Rep, start: datetime) -> list[slotting.Interval]:
        """The rep's active bookings near ``start`` (a day either side covers meeting and buffers)."""
        day = timedelta(days=1)
        return store.booked_intervals(conn, [rep.id], start - day, start + day)[rep.id]

    def book(
        self,
        offer: SlotOffer,
        *,
        conversation_id: str,
        attendee_name: str,
        attendee_email: str,
        visitor_tz: str,
    ) -> BookingResult:
        """Book ``offer`` atomically.

        Of concurrent requests for one slot (or for overlapping slots of one rep), exactly one is booked.

        Args:
            offer: an offer made by ``offer_slots`` (or ``offer``); its id, rep and times must agree.
            conversation_id: the chat conversation (at most 36 characters).
            attendee_name: the visitor's name.
            attendee_email: the visitor's email, invited to the meeting (syntax checked, RFC 5322 via
                ``email-validator``; no DNS lookup).
            visitor_tz: the visitor's IANA zone (their time is written in the invite).

        Returns:
            ``booked=True`` with ``booking_id`` and ``ics_path``; or ``booked=False`` with a reason (slot
            taken meanwhile, no longer bookable, malformed offer or attendee).

        Raises:
            sqlalchemy.exc.OperationalError: the database cannot be reached or stays locked.
        """

        def refuse(reason: str) -> BookingResult:
            return BookingResult(booked=False, offer=offer, reason=reason)

        try:
            rep_id, start = slotting.parse_offer_id(offer.offer_id)
            rep = self.calendars.rep(rep_id)
        except (ValueError, KeyError):
            return refuse("unknown offer")
        end = start + rep.meeting
        if offer.rep_id != rep.id or offer.start != start or offer.end != end:
            return refuse("the offer does not match its id")
        try:
            zone(visitor_tz)
            email = validate_email(attendee_email, check_deliverability=False).normalized
        except (ValueError, EmailNotValidError) as exc:
            return refuse(f"invalid attendee: {exc}")
        name = attendee_name.strip()
        if not name or len(name) > 200 or len(conversation_id) > 36:
            return refuse("invalid attendee name or conversation id")
        now = self._clock()
        reason = slotting.slot_refusal(self.calendars, rep, start, now=now)
        if reason is not None:
            return refuse(reason)
        booking_id = str(uuid.uuid4())
        booking = Booking(
            booking_id=booking_id,
            rep_id=rep.id,
            start=start,
            end=end,
            conversation_id=conversation_id,
            attendee_name=name,
            attendee_email=email,
            attendee_tz=visitor_tz,
            status="booked",
            ics=invites.build_invite(
                booking_id=booking_id,
                rep=rep,
                company=self.company,
                organizer=self.organizer,
                start=start,
                end=end,
                attendee_name=name,
                attendee_email=email,
                attendee_tz=visitor_tz,
                stamp=now,
            ),
            created_at=now,
        )
        try:
            with self._locked(rep.id) as conn:
                reason = self._recheck(conn, rep, start, now)
                if reason is not None:
                    return refuse(reason)
                store.insert_booking(conn, booking)
                if self.on_booked is not None:
                    self.on_booked(conn, booking)
        except IntegrityError:
            return refuse(TAKEN)
        return BookingResult(
            booked=True, offer=offer, booking_id=booking_id, ics_path=ICS_PATH.format(booking_id=booking_id)
        )

    def _recheck(self, conn: Connection, rep: Rep, start: datetime, now: datetime) -> str | None:
        """Why the slot cannot be booked, read under the rep's lock; None when it is free."""
        booked = self._booked_around(conn, rep, start)
        return slotting.slot_refusal(self.calendars, rep, start, now=now, booked=booked)

    # ---- reading and cancelling ---------------------------------------------------------------------

    def get_booking(self, booking_id: str) -> Booking | None:
        """The booking with id ``booking_id`` (booked or cancelled), or None."""
        return store.get_booking(self.engine, booking_id)

    def cancel(self, booking_id: str) -> Booking | None:
        """Cancel a booking: its slot becomes free and its invite becomes a ``METHOD:CANCEL``.

        Cancelling a cancelled booking changes nothing.

        Returns:
            The booking as stored afterwards, or None when there is no such booking.
        """
        found = store.get_booking(self.engine, booking_id)
        if found is None:
            return None
        with self._locked(found.rep_id) as conn:
            current = store.read_booking(conn, booking_id)
            if current is None or current.status == "cancelled":
                return current
            now = self._clock()
            store.mark_cancelled(conn, booking_id, ics=invites.cancel_invite(current.ics, stamp=now), at=now)
            return store.read_booking(conn, booking_id)
