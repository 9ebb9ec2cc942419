"""Free slots on the reps' calendars, and the few offered to a visitor (pure: no database, no clock).

Rules (``docs/booking.md``):

* **Working hours** are wall-clock ranges in the rep's own zone, expanded per local date with ``zoneinfo``,
  so a 09:00 start stays 09:00 local across a DST change (its UTC instant moves). A wall time skipped by a
  DST change is read as PEP 495 does (``fold=0``: moved forward by the gap). Candidate starts are
  ``range start + k * slot_step`` while the meeting ends inside the range.
* **Buffers**: the meeting padded by ``[start - before, end + after)`` must not overlap a busy block or
  another booked meeting, and the new meeting must not overlap another booking's padded interval; two
  demos of one rep are thus at least ``max(before, after)`` apart.
* **Notice and horizon**: ``now + min_notice <= start < now + horizon``.
* **Offers**: among the free slots of all reps, earliest first, offers are chosen in four passes until
  ``n`` are found: (1) slots inside the visitor's reasonable hours (``visitor_hours``, default
  08:00-18:00, on the visitor's Monday to Friday) and in a half-day (visitor's date, before / after noon)
  no chosen offer is in; (2) the remaining reasonable-hours slots; (3) any slot in a new half-day;
  (4) any slot. Two offers never share a start. Offers are returned by start time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from leadgate.chat.booking.model import CalendarSet, Rep, TimeRange, zone
from leadgate.chat.ports import SlotOffer

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_OFFER_TIME = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open interval of absolute time ``[start, end)`` (aware datetimes)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        """True when the two intervals share a moment (touching ends do not overlap)."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, order=True)
class Slot:
    """A free meeting slot: ``start`` and ``end`` are aware UTC datetimes; ordered by start, then rep."""

    start: datetime
    end: datetime
    rep_id: str


Booked = Mapping[str, Sequence[Interval]]
"""Booked meetings per rep id (meeting times only, without buffers)."""


def _utc(value: datetime, name: str = "now") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def _wall(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The instant of wall time ``minutes`` after midnight of ``day`` in ``tz`` (24:00 = next midnight)."""
    local = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    return local.replace(tzinfo=tz).astimezone(UTC)


def working_windows(rep: Rep, first_day: date, last_day: date) -> Iterator[tuple[Interval, TimeRange]]:
    """The rep's working ranges as absolute intervals, for local dates ``first_day`` to ``last_day``.

    Args:
        rep: the rep (ranges are read in ``rep.timezone``).
        first_day: first local date in the rep's zone.
        last_day: last local date in the rep's zone (inclusive).

    Yields:
        ``(interval in UTC, the range it comes from)``, in time order.
    """
    tz = rep.zone
    day = first_day
    while day <= last_day:
        for time_range in rep.working_hours.day(day.weekday()):
            yield Interval(_wall(day, time_range.start, tz), _wall(day, time_range.end, tz)), time_range
        day += timedelta(days=1)


def _starts(rep: Rep, window: Interval) -> Iterator[datetime]:
    step, meeting = timedelta(minutes=rep.slot_step_minutes), rep.meeting
    start = window.start
    while start + meeting <= window.end:
        yield start
        start += step


def conflict(rep: Rep, start: datetime, booked: Sequence[Interval] = ()) -> str | None:
    """Why a meeting of ``rep`` starting at ``start`` collides with busy time, or None.

    Args:
        rep: the rep (meeting length, buffers, busy blocks).
        start: aware start of the meeting.
        booked: the rep's booked meetings (without buffers).

    Returns:
        ``"busy"`` when the padded meeting overlaps a busy block, ``"booked"`` when it collides with a
        booked meeting (buffers of both sides counted, see the module rules), else None.
    """
    meeting = Interval(start, start + rep.meeting)
    padded = Interval(start - rep.before, meeting.end + rep.after)
    for block in rep.busy:
        if padded.overlaps(Interval(block.start_utc, block.end_utc)):
            return "busy"
    for other in booked:
        if padded.overlaps(other) or meeting.overlaps(
            Interval(other.start - rep.before, other.end + rep.after)
        ):
            return "booked"
    return None


def _day_span(rep: Rep, earliest: datetime, latest: datetime) -> tuple[date, date]:
    tz = rep.zone
    return (
        earliest.astimezone(tz).date() - timedelta(days=1),
        latest.astimezone(tz).date() + timedelta(days=1),
    )


def rep_free_slots(
    calendars: CalendarSet, rep: Rep, *, now: datetime, booked: Sequence[Interval] = ()
) -> Iterator[Slot]:
    """The rep's free slots from ``now + min_notice`` to ``now + horizon``, in time order.

    Args:
        calendars: the calendars (notice and horizon).
        rep: one of its reps.
        now: aware current time.
        booked: the rep's booked meetings.

    Raises:
        ValueError: ``now`` is naive.
    """
    now = _utc(now)
    earliest, latest = now + calendars.min_notice, now + calendars.horizon
    first_day, last_day = _day_span(rep, earliest, latest)
    for window, _range in working_windows(rep, first_day, last_day):
        if window.end <= earliest or window.start >= latest:
            continue
        for start in _starts(rep, window):
            if earliest <= start < latest and conflict(rep, start, booked) is None:
                yield Slot(start, start + rep.meeting, rep.id)


def free_slots(
    calendars: CalendarSet,
    *,
    now: datetime,
    booked: Booked | None = None,
    rep_ids: Collection[str] | None = None,
) -> list[Slot]:
    """Every free slot of the reps, sorted by start (ties: the rep listed first in the file).

    Args:
        calendars: the calendars.
        now: aware current time.
        booked: booked meetings per rep id.
        rep_ids: only these reps (None: all).

    Raises:
        ValueError: ``now`` is naive.
    """
    booked = booked or {}
    order = {rep.id: index for index, rep in enumerate(calendars.reps)}
    slots = [
        slot
        for rep in calendars.reps
        if rep_ids is None or rep.id in rep_ids
        for slot in rep_free_slots(calendars, rep, now=now, booked=booked.get(rep.id, ()))
    ]
    slots.sort(key=lambda s: (s.start, order[s.rep_id]))
    return slots


def slot_refusal(
    calendars: CalendarSet, rep: Rep, start: datetime, *, now: datetime, booked: Sequence[Interval] = ()
) -> str | None:
    """Why ``rep`` cannot take a meeting at ``start`` now, or None when it can (the booking re-check).

    Args:
        calendars: the calendars (notice and horizon).
        rep: the rep.
        start: aware start of the meeting.
        now: aware current time.
        booked: the rep's booked meetings around ``start``.

    Returns:
        A reason in plain words, or None.

    Raises:
        ValueError: ``now`` or ``start`` is naive.
    """
    now, start = _utc(now), _utc(start, "start")
    if start < now + calendars.min_notice:
        return "the slot starts too soon (minimum notice)"
    if start >= now + calendars.horizon:
        return "the slot is beyond the booking horizon"
    first_day, last_day = _day_span(rep, start, start)
    if not any(start in set(_starts(rep, window)) for window, _ in working_windows(rep, first_day, last_day)):
        return "the slot is not one of the rep's working-hour slots"
    found = conflict(rep, start, booked)
    if found == "busy":
        return "the rep is busy at that time"
    if found == "booked":
        return "the slot was just taken"
    return None


def offer_id(rep_id: str, start: datetime) -> str:
    """The stable id of a slot: ``{rep_id}@{UTC start as YYYYMMDDTHHMMSSZ}`` (RFC 5545 basic format).

    Raises:
        ValueError: ``start`` is naive.
    """
    return f"{rep_id}@{_utc(start, 'start').strftime(_OFFER_TIME)}"


def parse_offer_id(value: str) -> tuple[str, datetime]:
    """``(rep_id, aware UTC start)`` of an offer id made by ``offer_id``.

    Raises:
        ValueError: ``value`` is not an offer id.
    """
    rep_id, sep, when = value.rpartition("@")
    if not sep or not rep_id:
        raise ValueError(f"not an offer id: {value!r}")
    try:
        start = datetime.strptime(when, _OFFER_TIME).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not an offer id: {value!r}") from exc
    return rep_id, start


def format_label(start: datetime, end: datetime, tz_name: str) -> str:
    """A slot in words in ``tz_name``: ``Tue 24 Nov, 10:00–10:30 (Europe/Berlin)``.

    English day and month names whatever the locale; an end on another local date is written in full
    (``Tue 24 Nov, 23:45–Wed 25 Nov, 00:15 (Asia/Tokyo)``).

    Raises:
        ValueError: unknown time zone, or naive datetimes.
    """
    tz = zone(tz_name)
    local_start, local_end = _utc(start, "start").astimezone(tz), _utc(end, "end").astimezone(tz)

    def day(value: datetime) -> str:
        return f"{_DAY_NAMES[value.weekday()]} {value.day} {_MONTH_NAMES[value.month - 1]}"

    end_text = f"{local_end:%H:%M}"
    if local_end.date() != local_start.date():
        end_text = f"{day(local_end)}, {end_text}"
    return f"{day(local_start)}, {local_start:%H:%M}–{end_text} ({tz_name})"


def make_offer(slot: Slot, visitor_tz: str) -> SlotOffer:
    """The ``SlotOffer`` of ``slot`` labelled in ``visitor_tz``.

    Raises:
        ValueError: unknown ``visitor_tz``.
    """
    return SlotOffer(
        offer_id=offer_id(slot.rep_id, slot.start),
        rep_id=slot.rep_id,
        start=slot.start,
        end=slot.end,
        label=format_label(slot.start, slot.end, visitor_tz),
    )


def _reasonable(slot: Slot, tz: ZoneInfo, hours: TimeRange) -> bool:
    start, end = slot.start.astimezone(tz), slot.end.astimezone(tz)
    start_minutes = start.hour * 60 + start.minute
    end_minutes = end.hour * 60 + end.minute
    if end.date() != start.date():
        end_minutes += 1440 * (end.date() - start.date()).days
    return start.weekday() < 5 and hours.start <= start_minutes and end_minutes <= hours.end


def _half_day(slot: Slot, tz: ZoneInfo) -> tuple[date, bool]:
    local = slot.start.astimezone(tz)
    return local.date(), local.hour >= 12


def choose_offers(
    slots: Sequence[Slot], *, visitor_tz: str, visitor_hours: TimeRange, n: int = 3
) -> list[Slot]:
    """Pick ``n`` spread slots for a visitor (the four passes of the module rules).

    Args:
        slots: free slots sorted by start.
        visitor_tz: the visitor's IANA zone.
        visitor_hours: the visitor's reasonable hours (wall-clock in ``visitor_tz``).
        n: how many (fewer when fewer distinct starts exist).

    Returns:
        At most ``n`` slots, sorted by start.

    Raises:
        ValueError: unknown ``visitor_tz``.
    """
    tz = zone(visitor_tz)
    chosen: list[Slot] = []
    half_days: set[tuple[date, bool]] = set()
    starts: set[datetime] = set()
    for reasonable_only, spread in ((True, True), (True, False), (False, True), (False, False)):
        for slot in slots:
            if len(chosen) >= n:
                break
            if slot.start in starts:
                continue
            if reasonable_only and not _reasonable(slot, tz, visitor_hours):
                continue
            if spread and _half_day(slot, tz) in half_days:
                continue
            chosen.append(slot)
            starts.add(slot.start)
            half_days.add(_half_day(slot, tz))
    return sorted(chosen)


def offer_slots(
    calendars: CalendarSet,
    *,
    now: datetime,
    visitor_tz: str,
    n: int = 3,
    booked: Booked | None = None,
    rep_ids: Collection[str] | None = None,
) -> list[SlotOffer]:
    """The ``n`` slots to offer a visitor, labelled in their zone; deterministic given ``now``.

    Args:
        calendars: the calendars.
        now: aware current time.
        visitor_tz: the visitor's IANA zone.
        n: how many offers (at least 1).
        booked: booked meetings per rep id.
        rep_ids: only these reps (None: all).

    Returns:
        Up to ``n`` offers sorted by start (fewer, or none, when the calendars are full).

    Raises:
        ValueError: naive ``now``, unknown ``visitor_tz`` or ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    zone(visitor_tz)
    slots = free_slots(calendars, now=now, booked=booked, rep_ids=rep_ids)
    chosen = choose_offers(slots, visitor_tz=visitor_tz, visitor_hours=calendars.visitor_hours, n=n)
    return [make_offer(slot, visitor_tz) for slot in chosen]
