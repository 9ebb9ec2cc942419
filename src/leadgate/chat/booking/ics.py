"""ICS invites for booked demos, written with ``icalendar`` (RFC 5545, iTIP RFC 5546).

A request (``METHOD:REQUEST``) holds one ``VEVENT`` whose ``DTSTART`` / ``DTEND`` carry the rep's
``TZID``, and the matching ``VTIMEZONE`` (built by ``Calendar.add_missing_timezones`` from the tz
database) so that every calendar shows the right local time to rep and visitor alike. A cancellation
(``METHOD:CANCEL``) is the same event with ``STATUS:CANCELLED`` and a higher ``SEQUENCE`` (RFC 5546
section 3.2.5).

Building a ``VTIMEZONE`` from the tz database walks the zone's offsets over the whole span and is the
slow part of an invite (icalendar's ``Timezone.from_tzid`` says: "This can take some time. Please cache
the results."), and writing its observances is a third of the invite's text. ``vtimezone_ical`` caches the
written component per ``(tzid, year)``; the invite text is the same as ``Calendar.add_missing_timezones``
would write (``tests/chat/test_booking_ics.py`` compares both).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from icalendar import STATUS, Calendar, Event, Timezone, vCalAddress

from leadgate.chat.booking.model import Organizer, Rep
from leadgate.chat.booking.slots import format_label

PRODID = "-//leadgate//demo booking//EN"
"""``PRODID`` of the invites (RFC 5545 section 3.7.3)."""


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = name
    for key, value in params.items():
        address.params[key] = value
    return address


@lru_cache(maxsize=128)
def vtimezone_ical(tzid: str, year: int) -> str | None:
    """The ``VTIMEZONE`` of ``tzid`` over ``year`` and the next, as ICS text (cached; None when unknown).

    Observances are computed from the tz database from 1 January of ``year`` to 1 January of ``year + 2``
    (``Timezone.from_tzid``; the default span, 1970-2038, writes hundreds of lines). Both building and
    writing the component are done once per zone and year.

    Args:
        tzid: an IANA zone name, the ``TZID`` of the event's times.
        year: the year of the meeting, in that zone.

    Returns:
        ``BEGIN:VTIMEZONE`` ... ``END:VTIMEZONE`` with CRLF line endings (the last line ends too), or None
        when icalendar cannot build the zone.
    """
    try:
        component = Timezone.from_tzid(tzid, first_date=date(year, 1, 1), last_date=date(year + 2, 1, 1))
    except ValueError:
        return None
    return component.to_ical().decode("utf-8")


def event_uid(booking_id: str) -> str:
    """The ``UID`` of a booking's event (RFC 5545 section 3.8.4.7): ``{booking_id}@leadgate``."""
    return f"{booking_id}@leadgate"


def build_invite(
    *,
    booking_id: str,
    rep: Rep,
    company: str | None,
    start: datetime,
    end: datetime,
    attendee_name: str,
    attendee_email: str,
    attendee_tz: str,
    stamp: datetime,
    organizer: Organizer | None = None,
) -> str:
    """The ICS text of a demo invite (``METHOD:REQUEST``).

    Args:
        booking_id: the booking's id (the event ``UID`` is ``event_uid(booking_id)``).
        rep: the rep who runs the meeting (``CHAIR``; the ``ORGANIZER`` too unless ``organizer`` is
            given); times are written in ``rep.timezone``.
        company: the organizing company, named in the summary and description (the branding's
            ``company``); None: the invite names no company.
        start: aware start of the meeting.
        end: aware end of the meeting.
        attendee_name: the visitor's name (``CN`` of the attendee).
        attendee_email: the visitor's email, invited as a required participant.
        attendee_tz: the visitor's IANA zone (their local time is written in the description).
        stamp: aware creation time (``DTSTAMP``, written in UTC).
        organizer: the branding's ``invite_organizer``: written as the event's ``ORGANIZER`` (the rep
            stays a ``CHAIR`` attendee); None: the rep organizes.

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
            f"Product demo of {company} with {rep.name}." if company else f"Product demo with {rep.name}.",
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
        summary=f"{company + ' demo' if company else 'Demo'}: {attendee_name} and {rep.name}",
        description=description,
        organizer=_address(organizer.email, organizer.name)
        if organizer is not None
        else _address(rep.email, rep.name),
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
    # The VTIMEZONE covers the year of the meeting and the next. It is written where
    # ``Calendar.add_missing_timezones(first_date, last_date)`` puts it (the first component, right after
    # the calendar's properties), from text built once per zone and year.
    year = start.astimezone(tz).year
    zones = []
    for tzid in sorted(calendar.get_missing_tzids()):
        text = vtimezone_ical(tzid, year)
        if text is None:
            raise ValueError(f"no VTIMEZONE could be built for {tzid!r}")
        zones.append(text)
    text = calendar.to_ical().decode("utf-8")
    at = text.index("\r\nBEGIN:VEVENT\r\n") + 2  # the calendar's only component so far
    return text[:at] + "".join(zones) + text[at:]


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
