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

How it is computed: each rep's candidate starts are generated lazily in time order (a day at a time,
held back in a small heap until no later day can produce an earlier start) and checked for collisions
by bisection over the rep's sorted busy blocks and bookings (``RepBusyTime``); the reps' streams are
merged in (start, rep order). ``offer_slots`` pulls slots from that stream only until the passes above
are satisfied, so a typical offer checks a few dozen candidates instead of the whole horizon. The result
is the same as filtering every candidate of the horizon and sorting (``tests/chat/test_booking_offers.py``
compares both on random calendars).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
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


class _Intervals:
    """Half-open intervals ``[start, end)`` sorted by start, with the running maximum of their ends.

    ``overlaps(start, end)`` is True when some interval shares a moment with ``[start, end)``: the
    intervals starting before ``end`` are a prefix of the sorted list (found by bisection), and one of
    them reaches past ``start`` exactly when the largest end of that prefix does. O(log n) per query.
    """

    __slots__ = ("_max_ends", "_starts")

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        ordered = sorted(intervals)
        self._starts = [start for start, _ in ordered]
        self._max_ends: list[datetime] = []
        for _, end in ordered:
            self._max_ends.append(
                end if not self._max_ends or end > self._max_ends[-1] else self._max_ends[-1]
            )

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when an interval ``[s, e)`` has ``s < end`` and ``start < e``."""
        before_end = bisect_left(self._starts, end)
        return before_end > 0 and self._max_ends[before_end - 1] > start


class RepBusyTime:
    """A rep's busy blocks and booked meetings, indexed for collision checks (see ``conflict``).

    Args:
        rep: the rep (meeting length, buffers, busy blocks).
        booked: the rep's booked meetings (without buffers), in any order.
    """

    __slots__ = ("_after", "_before", "_booked", "_booked_padded", "_busy", "_meeting")

    def __init__(self, rep: Rep, booked: Iterable[Interval] = ()) -> None:
        self._meeting, self._before, self._after = rep.meeting, rep.before, rep.after
        booked = list(booked)
        self._busy = _Intervals((block.start_utc, block.end_utc) for block in rep.busy)
        self._booked = _Intervals((other.start, other.end) for other in booked)
        self._booked_padded = _Intervals(
            (other.start - self._before, other.end + self._after) for other in booked
        )

    def conflict(self, start: datetime) -> str | None:
        """``"busy"``, ``"booked"`` or None for a meeting starting at ``start`` (as ``conflict``)."""
        end = start + self._meeting
        padded_start, padded_end = start - self._before, end + self._after
        if self._busy.overlaps(padded_start, padded_end):
            return "busy"
        if self._booked.overlaps(padded_start, padded_end) or self._booked_padded.overlaps(start, end):
            return "booked"
        return None


def conflict(rep: Rep, start: datetime, booked: Sequence[Interval] = ()) -> str | None:
    """Why a meeting of ``rep`` starting at ``start`` collides with busy time, or None.

    Args:
        rep: the rep (meeting length, buffers, busy blocks).
        start: aware start of the meeting.
        booked: the rep's booked meetings (without buffers).

    Returns:
        ``"busy"`` when the padded meeting ``[start - before, end + after)`` overlaps a busy block,
        ``"booked"`` when it overlaps a booked meeting or the meeting overlaps a booked meeting's padded
        interval (buffers of both sides counted, see the module rules), else None.
    """
    return RepBusyTime(rep, booked).conflict(start)


def _day_span(rep: Rep, earliest: datetime, latest: datetime) -> tuple[date, date]:
    tz = rep.zone
    return (
        earliest.astimezone(tz).date() - timedelta(days=1),
        latest.astimezone(tz).date() + timedelta(days=1),
    )


def _candidate_starts(rep: Rep, earliest: datetime, latest: datetime) -> Iterator[datetime]:
    """The rep's working-hour slot starts in ``[earliest, latest)``, sorted (repeats kept), lazily.

    Days are expanded one at a time. A start on local date ``d`` or later is later than ``d`` 00:00 UTC
    minus one day (a UTC offset is less than 24 hours, ``datetime.utcoffset``), so the starts held back
    in the heap that are earlier than that bound can be given out before ``d`` is expanded. This keeps
    the order right even where a DST change makes the ranges of one day out of order in UTC.
    """
    first_day, last_day = _day_span(rep, earliest, latest)
    one_day = timedelta(days=1)
    pending: list[datetime] = []
    day = first_day
    while day <= last_day:
        bound = datetime(day.year, day.month, day.day, tzinfo=UTC) - one_day
        while pending and pending[0] < bound:
            yield heapq.heappop(pending)
        for window, _range in working_windows(rep, day, day):
            if window.end <= earliest or window.start >= latest:
                continue
            for start in _starts(rep, window):
                if earliest <= start < latest:
                    heapq.heappush(pending, start)
        day += one_day
    while pending:
        yield heapq.heappop(pending)


def rep_free_slots(
    calendars: CalendarSet, rep: Rep, *, now: datetime, booked: Sequence[Interval] = ()
) -> Iterator[Slot]:
    """The rep's free slots from ``now + min_notice`` to ``now + horizon``, in time order, lazily.

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
    busy = RepBusyTime(rep, booked)
    meeting = rep.meeting
    for start in _candidate_starts(rep, earliest, latest):
        if busy.conflict(start) is None:
            yield Slot(start, start + meeting, rep.id)


def iter_free_slots(
    calendars: CalendarSet,
    *,
    now: datetime,
    booked: Booked | None = None,
    rep_ids: Collection[str] | None = None,
) -> Iterator[Slot]:
    """The free slots of the reps by start (ties: the rep listed first), computed as they are pulled.

    The same slots, in the same order, as ``free_slots``; the horizon is only expanded as far as the
    caller reads.

    Args:
        calendars: the calendars.
        now: aware current time.
        booked: booked meetings per rep id.
        rep_ids: only these reps (None: all).

    Raises:
        ValueError: ``now`` is naive (when the first slot is pulled).
    """
    booked = booked or {}

    def keyed(index: int, rep: Rep) -> Iterator[tuple[datetime, int, Slot]]:
        for slot in rep_free_slots(calendars, rep, now=now, booked=booked.get(rep.id, ())):
            yield slot.start, index, slot

    streams = [
        keyed(index, rep) for index, rep in enumerate(calendars.reps) if rep_ids is None or rep.id in rep_ids
    ]
    for _start, _index, slot in heapq.merge(*streams):
        yield slot


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
    _utc(now)
    return list(iter_free_slots(calendars, now=now, booked=booked, rep_ids=rep_ids))


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
    slots: Iterable[Slot], *, visitor_tz: str, visitor_hours: TimeRange, n: int = 3
) -> list[Slot]:
    """Pick ``n`` spread slots for a visitor (the four passes of the module rules).

    ``slots`` is read lazily and only as far as the passes need: when the first pass finds ``n`` slots,
    the rest is never pulled (pass the ``iter_free_slots`` generator to save expanding the horizon).

    Args:
        slots: free slots sorted by start (any iterable; read once).
        visitor_tz: the visitor's IANA zone.
        visitor_hours: the visitor's reasonable hours (wall-clock in ``visitor_tz``).
        n: how many (fewer when fewer distinct starts exist).

    Returns:
        At most ``n`` slots, sorted by start.

    Raises:
        ValueError: unknown ``visitor_tz``.
    """
    tz = zone(visitor_tz)
    source = iter(slots)
    seen: list[tuple[Slot, bool, tuple[date, bool]]] = []

    def replay() -> Iterator[tuple[Slot, bool, tuple[date, bool]]]:
        """The slots read so far, then more from ``source`` (each with its visitor facts, computed once)."""
        index = 0
        while True:
            if index == len(seen):
                slot = next(source, None)
                if slot is None:
                    return
                seen.append((slot, _reasonable(slot, tz, visitor_hours), _half_day(slot, tz)))
            yield seen[index]
            index += 1

    chosen: list[Slot] = []
    half_days: set[tuple[date, bool]] = set()
    starts: set[datetime] = set()
    for reasonable_only, spread in ((True, True), (True, False), (False, True), (False, False)):
        if len(chosen) >= n:
            break
        for slot, reasonable, half_day in replay():
            if slot.start in starts:
                continue
            if reasonable_only and not reasonable:
                continue
            if spread and half_day in half_days:
                continue
            chosen.append(slot)
            starts.add(slot.start)
            half_days.add(half_day)
            if len(chosen) >= n:
                break
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
    _utc(now)
    slots = iter_free_slots(calendars, now=now, booked=booked, rep_ids=rep_ids)
    chosen = choose_offers(slots, visitor_tz=visitor_tz, visitor_hours=calendars.visitor_hours, n=n)
    return [make_offer(slot, visitor_tz) for slot in chosen]
