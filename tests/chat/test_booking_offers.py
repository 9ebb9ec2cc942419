"""The fast offer path (lazy, ordered, bisecting) gives exactly what the straightforward computation gives.

The reference below is the first implementation of ``slots.py``: every candidate start of the horizon,
each checked against every busy block and booking by a linear scan, all sorted, then the four offer
passes over the full list. The fast path (``iter_free_slots`` + lazy ``choose_offers`` + ``RepBusyTime``)
must return the same free slots, the same conflicts and the same offers, on random calendars, ``now``s,
visitor zones and booking sets (hypothesis), including zones with half-hour DST (Lord Howe), +14 h
(Kiritimati), 45-minute offsets (Chatham) and ranges over DST nights.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadgate.chat.booking import CalendarSet, Interval, Slot, load_calendars, offer_slots
from leadgate.chat.booking import slots as slotting
from leadgate.chat.booking.model import WEEKDAYS, Rep, TimeRange
from leadgate.chat.ports import SlotOffer

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/St_Johns",
    "America/Santiago",
    "Europe/London",
    "UTC",
)

# --------------------------------------------------------------------------- the reference


def ref_conflict(rep: Rep, start: datetime, booked: Sequence[Interval] = ()) -> str | None:
    """Linear scan over every busy block and booking (the rules of ``docs/booking.md``)."""
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


def ref_rep_free_slots(
    cal: CalendarSet, rep: Rep, now: datetime, booked: Sequence[Interval]
) -> Iterator[Slot]:
    """Every candidate of the horizon, day by day, in generation order."""
    now = now.astimezone(UTC)
    earliest, latest = now + cal.min_notice, now + cal.horizon
    tz = ZoneInfo(rep.timezone)
    first_day = earliest.astimezone(tz).date() - timedelta(days=1)
    last_day = latest.astimezone(tz).date() + timedelta(days=1)
    for window, _range in slotting.working_windows(rep, first_day, last_day):
        start = window.start
        while start + rep.meeting <= window.end:
            if earliest <= start < latest and ref_conflict(rep, start, booked) is None:
                yield Slot(start, start + rep.meeting, rep.id)
            start += timedelta(minutes=rep.slot_step_minutes)


def ref_free_slots(
    cal: CalendarSet,
    now: datetime,
    booked: dict[str, list[Interval]],
    rep_ids: Collection[str] | None = None,
) -> list[Slot]:
    order = {rep.id: index for index, rep in enumerate(cal.reps)}
    slots = [
        slot
        for rep in cal.reps
        if rep_ids is None or rep.id in rep_ids
        for slot in ref_rep_free_slots(cal, rep, now, booked.get(rep.id, []))
    ]
    slots.sort(key=lambda s: (s.start, order[s.rep_id]))
    return slots


def ref_choose_offers(slots: Sequence[Slot], visitor_tz: str, hours: TimeRange, n: int) -> list[Slot]:
    tz = ZoneInfo(visitor_tz)

    def reasonable(slot: Slot) -> bool:
        start, end = slot.start.astimezone(tz), slot.end.astimezone(tz)
        end_minutes = end.hour * 60 + end.minute + 1440 * (end.date() - start.date()).days
        return (
            start.weekday() < 5 and hours.start <= start.hour * 60 + start.minute and end_minutes <= hours.end
        )

    def half_day(slot: Slot) -> tuple[date, bool]:
        local = slot.start.astimezone(tz)
        return local.date(), local.hour >= 12

    chosen: list[Slot] = []
    half_days: set[tuple[date, bool]] = set()
    starts: set[datetime] = set()
    for reasonable_only, spread in ((True, True), (True, False), (False, True), (False, False)):
        for slot in slots:
            if len(chosen) >= n:
                break
            if slot.start in starts:
                continue
            if reasonable_only and not reasonable(slot):
                continue
            if spread and half_day(slot) in half_days:
                continue
            chosen.append(slot)
            starts.add(slot.start)
            half_days.add(half_day(slot))
    return sorted(chosen)


def ref_offer_slots(
    cal: CalendarSet,
    now: datetime,
    visitor_tz: str,
    n: int,
    booked: dict[str, list[Interval]],
    rep_ids: Collection[str] | None = None,
) -> list[SlotOffer]:
    chosen = ref_choose_offers(ref_free_slots(cal, now, booked, rep_ids), visitor_tz, cal.visitor_hours, n)
    return [slotting.make_offer(slot, visitor_tz) for slot in chosen]


# --------------------------------------------------------------------------- random calendars


def _transitions(tz_name: str, years: range) -> list[datetime]:
    """UTC midnights of the days after which ``tz_name`` changed its offset (DST, zone rule changes)."""
    tz = ZoneInfo(tz_name)
    day = datetime(years.start, 1, 1, tzinfo=UTC)
    found = []
    while day.year < years.stop:
        following = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            found.append(day)
        day = following
    return found


TRANSITIONS = {name: _transitions(name, range(2024, 2031)) for name in ZONES}
"""DST changes per zone, to draw ``now`` just before them (the slots that cross a change are the tricky ones)."""

NIGHT_HOURS = (
    ["00:00-02:45", "03:00-05:00"],  # a range ending in the spring gap, the next starting right after it
    ["00:00-02:30", "02:30-05:00"],
    ["01:00-04:00"],
    ["22:00-24:00"],
    ["00:00-01:00", "01:15-03:30"],
)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def week(draw: st.DrawFn, meeting: int) -> dict[str, list[str]]:
    """Working hours: per day, some of the segments between sorted breakpoints (touching ones allowed)."""
    hours: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        if draw(st.integers(0, 5)) == 0:
            hours[day] = [r for r in draw(st.sampled_from(NIGHT_HOURS)) if _length(r) >= meeting]
            continue
        points = sorted(draw(st.sets(st.integers(0, 96).map(lambda q: q * 15), max_size=6)))
        segments = [(a, b) for a, b in itertools.pairwise(points) if b - a >= meeting]
        picked = [seg for seg in segments if draw(st.booleans())]
        if picked:
            hours[day] = [f"{_hhmm(a)}-{_hhmm(b)}" for a, b in picked]
    hours = {day: ranges for day, ranges in hours.items() if ranges}
    if not hours:
        hours["mon"] = ["09:00-17:00"]
    return hours


def _length(time_range: str) -> int:
    parsed = TimeRange.model_validate(time_range)
    return parsed.end - parsed.start


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    focus = draw(
        st.sampled_from(ZONES)
    )  # half of the cases: every rep in one zone, ``now`` near its DST change
    near_change = bool(TRANSITIONS[focus]) and draw(st.booleans())
    if near_change:
        now = draw(st.sampled_from(TRANSITIONS[focus])) - timedelta(minutes=draw(st.integers(0, 3 * 1440)))
    else:
        now = draw(
            st.datetimes(
                min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
            )
        ).replace(second=0, microsecond=0)
    if draw(st.booleans()):  # half of the ``now``s on a quarter hour, like a real clock rounded by nobody
        now = now.replace(minute=now.minute // 15 * 15)
    horizon = draw(st.integers(1, 8))
    reps = []
    booked: dict[str, list[Interval]] = {}
    for index in range(draw(st.integers(1, 3))):
        meeting = draw(st.sampled_from((15, 30, 45, 60, 90)))
        rep_id = f"r{index}"
        busy = [
            {
                "start": (
                    start := now + timedelta(minutes=draw(st.integers(-2 * 1440, (horizon + 2) * 1440)))
                ),
                "end": start + timedelta(minutes=draw(st.integers(5, 3 * 1440))),
            }
            for _ in range(draw(st.integers(0, 4)))
        ]
        reps.append(
            {
                "id": rep_id,
                "name": f"Rep {index}",
                "email": f"{rep_id}@example.com",
                "timezone": focus if near_change else draw(st.sampled_from(ZONES)),
                "working_hours": draw(week(meeting)),
                "meeting_minutes": meeting,
                "slot_step_minutes": draw(st.sampled_from((5, 15, 30, 60))),
                "buffer_before_minutes": draw(st.sampled_from((0, 0, 5, 10, 30))),
                "buffer_after_minutes": draw(st.sampled_from((0, 0, 5, 10, 30))),
                "busy": busy,
            }
        )
        booked[rep_id] = [
            Interval(start, start + timedelta(minutes=draw(st.sampled_from((meeting, 15, 120)))))
            for start in (
                (now + timedelta(minutes=draw(st.integers(-1440, (horizon + 1) * 1440)))).replace(
                    minute=draw(st.sampled_from((0, 15, 30, 45)))
                )
                for _ in range(draw(st.integers(0, 8)))
            )
        ]
    visitor_hours = draw(st.sampled_from(("08:00-18:00", "00:00-24:00", "11:00-13:00", "21:00-23:30")))
    cal = CalendarSet.model_validate(
        {
            "name": "prop",
            "version": 1,
            "company": "Acme",
            "min_notice_minutes": draw(st.sampled_from((0, 60, 240, 1440))),
            "horizon_days": horizon,
            "visitor_hours": visitor_hours,
            "reps": reps,
        }
    )
    rep_ids = draw(st.none() | st.sets(st.sampled_from([r["id"] for r in reps])))
    return {
        "cal": cal,
        "now": now.astimezone(ZoneInfo(draw(st.sampled_from(ZONES)))),
        "booked": booked,
        "visitor_tz": draw(st.sampled_from(ZONES)),
        "n": draw(st.integers(1, 6)),
        "rep_ids": rep_ids,
    }


def _check(case: dict[str, Any]) -> tuple[list[Slot], list[SlotOffer]]:
    cal, now, booked, rep_ids = case["cal"], case["now"], case["booked"], case["rep_ids"]
    expected = ref_free_slots(cal, now, booked, rep_ids)
    assert slotting.free_slots(cal, now=now, booked=booked, rep_ids=rep_ids) == expected
    for rep in cal.reps:
        assert list(slotting.rep_free_slots(cal, rep, now=now, booked=booked[rep.id])) == sorted(
            ref_rep_free_slots(cal, rep, now, booked[rep.id])
        )
    offers = offer_slots(
        cal, now=now, visitor_tz=case["visitor_tz"], n=case["n"], booked=booked, rep_ids=rep_ids
    )
    assert offers == ref_offer_slots(cal, now, case["visitor_tz"], case["n"], booked, rep_ids)
    return expected, offers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenario())
def test_fast_offers_equal_the_full_computation(case: dict[str, Any]) -> None:
    _check(case)


@settings(max_examples=150, deadline=None)
@given(case=scenario(), minutes=st.lists(st.integers(-1440, 10 * 1440), min_size=1, max_size=20))
def test_indexed_conflict_equals_the_linear_scan(case: dict[str, Any], minutes: list[int]) -> None:
    for rep in case["cal"].reps:
        for offset in minutes:  # any instant, not only slot starts
            start = case["now"] + timedelta(minutes=offset)
            booked = case["booked"][rep.id]
            assert slotting.conflict(rep, start, booked) == ref_conflict(rep, start, booked)


def test_random_calendars_reach_conflicts_fallback_passes_and_full_calendars() -> None:
    """The same comparison on derandomized draws, counting that the interesting cases really occur."""
    seen = {"busy": 0, "booked": 0, "fallback": 0, "full": 0, "offers": 0, "cases": 0, "unordered": 0}

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(case=scenario())
    def compare(case: dict[str, Any]) -> None:
        expected, offers = _check(case)
        tz, hours = ZoneInfo(case["visitor_tz"]), case["cal"].visitor_hours
        seen["cases"] += 1
        seen["offers"] += bool(offers)
        seen["full"] += not expected
        seen["fallback"] += any(
            not slotting._reasonable(Slot(o.start, o.end, o.rep_id), tz, hours) for o in offers
        )
        for rep in case["cal"].reps:
            generated = list(ref_rep_free_slots(case["cal"], rep, case["now"], case["booked"][rep.id]))
            seen["unordered"] += generated != sorted(generated)
            for slot_start in _all_candidates(case, rep):
                found = ref_conflict(rep, slot_start, case["booked"][rep.id])
                if found:
                    seen[found] += 1

    compare()
    assert seen["cases"] >= 80, seen
    assert seen["offers"] > seen["cases"] // 2 and seen["full"] > 0 and seen["fallback"] > 0, seen
    assert seen["busy"] > 100 and seen["booked"] > 50 and seen["unordered"] > 0, seen


def test_slots_of_a_dst_night_come_out_in_time_order() -> None:
    """Berlin, 29 March 2026: 00:00-02:45 ends in the gap (01:45 UTC), 03:00-05:00 starts at 01:00 UTC."""
    cal = CalendarSet.model_validate(
        {
            "name": "t",
            "version": 1,
            "company": "Acme",
            "min_notice_minutes": 0,
            "horizon_days": 2,
            "reps": [
                {
                    "id": "bea",
                    "name": "Bea",
                    "email": "bea@example.com",
                    "timezone": "Europe/Berlin",
                    "meeting_minutes": 15,
                    "slot_step_minutes": 15,
                    "working_hours": {"sun": ["00:00-02:45", "03:00-05:00"]},
                }
            ],
        }
    )
    now = datetime(2026, 3, 28, 12, tzinfo=UTC)
    generated = list(ref_rep_free_slots(cal, cal.reps[0], now, []))
    assert generated != sorted(generated)  # the straightforward generation order is not time order
    fast = slotting.free_slots(cal, now=now)
    assert fast == sorted(generated) == ref_free_slots(cal, now, {})
    assert [f"{s.start:%H:%M}" for s in fast][7:12] == ["00:45", "01:00", "01:00", "01:15", "01:15"]
    offers = offer_slots(cal, now=now, visitor_tz="Europe/Berlin", n=6)
    assert offers == ref_offer_slots(cal, now, "Europe/Berlin", 6, {})
    assert len({o.start for o in offers}) == 6


def _all_candidates(case: dict[str, Any], rep: Rep) -> Iterator[datetime]:
    cal, now = case["cal"], case["now"].astimezone(UTC)
    first = now.date() - timedelta(days=1)
    for window, _ in slotting.working_windows(rep, first, first + timedelta(days=cal.horizon_days + 2)):
        start = window.start
        while start + rep.meeting <= window.end:
            yield start
            start += timedelta(minutes=rep.slot_step_minutes)


def test_offers_read_only_the_start_of_the_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three offers on the shipped calendars check a few dozen candidates, not every slot of 14 days."""
    cal = load_calendars()
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    checked: list[datetime] = []
    original = slotting.RepBusyTime.conflict

    def counting(self: slotting.RepBusyTime, start: datetime) -> str | None:
        checked.append(start)
        return original(self, start)

    monkeypatch.setattr(slotting.RepBusyTime, "conflict", counting)
    offers = offer_slots(cal, now=now, visitor_tz="Europe/Berlin")
    lazy = len(checked)
    checked.clear()
    every = slotting.free_slots(cal, now=now)
    assert len(checked) > 350 and len(every) > 300
    assert 0 < lazy < 60, lazy
    assert offers == ref_offer_slots(cal, now, "Europe/Berlin", 3, {})
