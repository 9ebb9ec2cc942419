"""ICS invites for booked demos, written with ``icalendar`` (RFC 5545, iTIP RFC 5546).

A request (``METHOD:REQUEST``) holds one ``VEVENT`` whose ``DTSTART`` / ``DTEND`` carry the rep's
``TZID``, and the matching ``VTIMEZONE`` (built by ``Calendar.add_missing_timezones`` from the tz
database) so that every calendar shows the right local time to rep and visitor alike. A cancellation
(``METHOD:CANCEL``) is the same event with ``STATUS:CANCELLED`` and a higher ``SEQUENCE`` (RFC 5546
section 3.2.5).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from icalendar import STATUS, Calendar, Event, vCalAddress

from leadgate.chat.booking.model import Rep
from leadgate.chat.booking.slots import format_label

PRODID = "-//leadgate//demo booking//EN"
"""``PRODID`` of the invites (RFC 5545 section 3.7.3)."""


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = name
    for key, value in params.items():
        address.params[key] = value
    return address


def event_uid(booking_id: str) -> str:
    """The ``UID`` of a booking's event (RFC 5545 section 3.8.4.7): ``{booking_id}@leadgate``."""
    return f"{booking_id}@leadgate"


def build_invite(
    *,
    booking_id: str,
    rep: Rep,
    company: str,
    start: datetime,
    end: datetime,
    attendee_name: str,
    attendee_email: str,
    attendee_tz: str,
    stamp: datetime,
) -> str:
    """The ICS text of a demo invite (``METHOD:REQUEST``).

    Args:
        booking_id: the booking's id (the event ``UID`` is ``event_uid(booking_id)``).
        rep: the rep, organizer of the meeting; times are written in ``rep.timezone``.
        company: the organizing company, named in the summary.
        start: aware start of the meeting.
        end: aware end of the meeting.
        attendee_name: the visitor's name (``CN`` of the attendee).
        attendee_email: the visitor's email, invited as a required participant.
        attendee_tz: the visitor's IANA zone (their local time is written in the description).
        stamp: aware creation time (``DTSTAMP``, written in UTC).

    Returns:
        The calendar as text with CRLF line endings, ``VTIMEZONE`` for the rep's ``TZID`` first.

    Raises:
        ValueError: naive datetimes or an unknown ``attendee_tz``.
    """
    tz = rep.zone
    for name, value in (("start", start), ("end", end), ("stamp", stamp)):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be an aware datetime")
    description = "\n".join(
        (
            f"Product demo of {company} with {rep.name}.",
            f"Your time: {format_label(start, end, attendee_tz)}",
            f"{rep.name}'s time: {format_label(start, end, rep.timezone)}",
            f"Booking: {booking_id}",
        )
    )
    event = Event.new(
        uid=event_uid(booking_id),
        stamp=stamp.astimezone(UTC),
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        summary=f"{company} demo: {attendee_name} and {rep.name}",
        description=description,
        organizer=_address(rep.email, rep.name),
        attendees=[
            _address(
                attendee_email, attendee_name, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"
            ),
            _address(rep.email, rep.name, ROLE="CHAIR", PARTSTAT="ACCEPTED"),
        ],
        sequence=0,
        status=STATUS.CONFIRMED,
    )
    calendar = Calendar.new(method="REQUEST", prodid=PRODID, subcomponents=[event])
    # the VTIMEZONE covers the year of the meeting and the next: observances are computed from the tz
    # database over that span only (the default span, 1970-2038, writes hundreds of lines).
    local = start.astimezone(tz)
    calendar.add_missing_timezones(first_date=date(local.year, 1, 1), last_date=date(local.year + 2, 1, 1))
    missing = calendar.get_missing_tzids()
    if missing:
        raise ValueError(f"no VTIMEZONE could be built for {sorted(missing)}")
    return calendar.to_ical().decode("utf-8")


def cancel_invite(ics: str, *, stamp: datetime) -> str:
    """The cancellation of an invite made by ``build_invite`` (``METHOD:CANCEL``, RFC 5546 3.2.5).

    Args:
        ics: the invite's ICS text.
        stamp: aware time of the cancellation (new ``DTSTAMP``).

    Returns:
        The same event with ``STATUS:CANCELLED`` and ``SEQUENCE`` increased by one.

    Raises:
        ValueError: ``ics`` is not a calendar with one event, or ``stamp`` is naive.
    """
    if stamp.tzinfo is None:
        raise ValueError("stamp must be an aware datetime")
    calendar = Calendar.from_ical(ics)
    events = calendar.events
    if len(events) != 1:
        raise ValueError(f"expected one VEVENT in the invite, found {len(events)}")
    event = events[0]
    calendar.method = "CANCEL"
    event.sequence = event.sequence + 1
    event.status = STATUS.CANCELLED
    event.stamp = stamp.astimezone(UTC)
    return calendar.to_ical().decode("utf-8")
