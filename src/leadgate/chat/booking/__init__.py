"""Demo booking: rep calendars in YAML, free slots, atomic booking and ICS invites.

Public interface:

* ``load_calendars(path) -> CalendarSet`` (None: the shipped example), ``load_calendars_text``,
  ``check_calendars_text``: read and validate a calendars file (``CalendarError`` lists every issue as
  ``file:line:col: path: message``).
* ``free_slots``, ``offer_slots``, ``slot_refusal``, ``offer_id``, ``parse_offer_id``, ``format_label``:
  the pure slot rules (``leadgate.chat.booking.slots``).
* ``CalendarScheduler(engine, calendars)``: ``leadgate.chat.ports.Scheduler`` over the database, with
  ``book`` (atomic), ``cancel`` and ``get_booking``.
* ``build_invite``, ``cancel_invite``: ICS text (RFC 5545) with the rep's ``VTIMEZONE``.

The file format and the rules are described in ``docs/booking.md``.
"""

from leadgate.chat.booking.ics import build_invite, cancel_invite
from leadgate.chat.booking.loader import (
    CalendarError,
    CalendarIssue,
    check_calendars_text,
    default_calendars_path,
    load_calendars,
    load_calendars_text,
)
from leadgate.chat.booking.model import BusyBlock, CalendarSet, Rep, TimeRange, WeeklyHours
from leadgate.chat.booking.scheduler import CalendarScheduler
from leadgate.chat.booking.slots import (
    Interval,
    Slot,
    format_label,
    free_slots,
    offer_id,
    offer_slots,
    parse_offer_id,
    slot_refusal,
)
from leadgate.chat.booking.store import Booking

__all__ = [
    "Booking",
    "BusyBlock",
    "CalendarError",
    "CalendarIssue",
    "CalendarScheduler",
    "CalendarSet",
    "Interval",
    "Rep",
    "Slot",
    "TimeRange",
    "WeeklyHours",
    "build_invite",
    "cancel_invite",
    "check_calendars_text",
    "default_calendars_path",
    "format_label",
    "free_slots",
    "load_calendars",
    "load_calendars_text",
    "offer_id",
    "offer_slots",
    "parse_offer_id",
    "slot_refusal",
]
