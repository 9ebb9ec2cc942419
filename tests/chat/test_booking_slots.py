"""Free-slot rules (pure): working hours, buffers, busy blocks, bookings, notice, horizon, DST, offers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadgate.chat.booking import (
    CalendarSet,
    Interval,
    format_label,
    free_slots,
    offer_id,
    offer_slots,
    parse_offer_id,
    slot_refusal,
)

BERLIN, NEW_YORK, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
WEEKDAY_HOURS = {day: ["09:00-12:00", "13:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def rep(rep_id: str = "bea", tz: str = "Europe/Berlin", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rep_id,
        "name": f"Rep {rep_id}",
        "email": f"{rep_id}@example.com",
        "timezone": tz,
        "working_hours": WEEKDAY_HOURS,
        "meeting_minutes": 30,
        "slot_step_minutes": 30,
    }
    data.update(overrides)
    return data


def calendars(*reps: dict[str, Any], **overrides: Any) -> CalendarSet:
    data: dict[str, Any] = {
        "name": "t",
        "version": 1,
        "company": "Acme",
        "min_notice_minutes": 0,
        "horizon_days": 7,
        "reps": list(reps) or [rep()],
    }
    data.update(overrides)
    return CalendarSet.model_validate(data)


def local_day(slots: list[Any], tz: ZoneInfo, day: date) -> list[str]:
    return [f"{s.start.astimezone(tz):%H:%M}" for s in slots if s.start.astimezone(tz).date() == day]


# Monday 23 November 2026, 07:00 in Berlin (CET, UTC+1)
MONDAY = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_slots_follow_working_hours_in_the_reps_zone() -> None:
    slots = free_slots(calendars(), now=MONDAY)
    assert local_day(slots, BERLIN, date(2026, 11, 23)) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
    ]  # fmt: skip
    for slot in slots:
        local_start, local_end = slot.start.astimezone(BERLIN), slot.end.astimezone(BERLIN)
        assert local_start.weekday() < 5
        assert slot.end - slot.start == timedelta(minutes=30)
        span = (f"{local_start:%H:%M}", f"{local_end:%H:%M}")
        assert ("09:00", "09:00") <= span <= ("11:30", "12:00") or ("13:00", "13:00") <= span <= (
            "16:30",
            "17:00",
        )
        assert slot.start.tzinfo == UTC
    # the weekend has no slots; five working days in the 7-day horizon
    assert {s.start.astimezone(BERLIN).date() for s in slots} == {
        date(2026, 11, d) for d in (23, 24, 25, 26, 27)
    }


def test_busy_block_with_buffers_removes_neighbouring_slots() -> None:
    busy = [
        {
            "start": datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN),
            "end": datetime(2026, 11, 23, 10, 30, tzinfo=BERLIN),
        }
    ]
    plain = free_slots(calendars(rep(busy=busy)), now=MONDAY)
    assert local_day(plain, BERLIN, date(2026, 11, 23))[:5] == ["09:00", "09:30", "10:30", "11:00", "11:30"]
    padded = free_slots(
        calendars(rep(busy=busy, buffer_before_minutes=10, buffer_after_minutes=10)), now=MONDAY
    )
    # 09:30 would end at the block's start and 10:30 start at its end: the 10-minute buffers forbid both
    assert local_day(padded, BERLIN, date(2026, 11, 23))[:3] == ["09:00", "11:00", "11:30"]


def test_bookings_are_excluded_with_the_buffers_of_both_sides() -> None:
    cal = calendars(rep(buffer_before_minutes=10, buffer_after_minutes=10, slot_step_minutes=15))
    booked = Interval(
        datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN), datetime(2026, 11, 23, 10, 30, tzinfo=BERLIN)
    )
    morning = local_day(free_slots(cal, now=MONDAY, booked={"bea": [booked]}), BERLIN, date(2026, 11, 23))
    # 09:15-09:45 leaves 15 minutes before the booking; 09:30 and 09:45 leave fewer than 10
    assert morning[:4] == ["09:00", "09:15", "10:45", "11:00"]
    other_rep = local_day(free_slots(cal, now=MONDAY, booked={"zed": [booked]}), BERLIN, date(2026, 11, 23))
    assert "10:00" in other_rep


def test_minimum_notice_and_horizon() -> None:
    now = datetime(2026, 11, 23, 9, 10, tzinfo=BERLIN)
    cal = calendars(min_notice_minutes=60, horizon_days=3)
    slots = free_slots(cal, now=now)
    assert slots[0].start == datetime(2026, 11, 23, 10, 30, tzinfo=BERLIN)
    assert all(now + timedelta(minutes=60) <= s.start < now + timedelta(days=3) for s in slots)
    # the horizon ends on Thursday 09:10: the 09:00 slot is in, the 09:30 slot is out
    assert local_day(slots, BERLIN, date(2026, 11, 26)) == ["09:00"]


@pytest.mark.parametrize(
    ("tz", "before", "after", "offsets"),
    [
        # Berlin switches to summer time on Sunday 29 March 2026
        ("Europe/Berlin", datetime(2026, 3, 27, 5, tzinfo=UTC), date(2026, 3, 30), (1, 2)),
        # New York switches on Sunday 8 March 2026
        ("America/New_York", datetime(2026, 3, 6, 12, tzinfo=UTC), date(2026, 3, 9), (-5, -4)),
    ],
)
def test_working_hours_keep_local_time_across_dst(
    tz: str, before: datetime, after: date, offsets: tuple[int, int]
) -> None:
    zone = ZoneInfo(tz)
    slots = free_slots(calendars(rep(tz=tz)), now=before)
    friday = before.astimezone(zone).date()
    firsts = [next(s for s in slots if s.start.astimezone(zone).date() == day) for day in (friday, after)]
    assert [f"{s.start.astimezone(zone):%H:%M}" for s in firsts] == ["09:00", "09:00"]
    assert [s.start.hour for s in firsts] == [9 - offsets[0], 9 - offsets[1]]
    assert firsts[1].start - firsts[0].start == timedelta(days=3, hours=-1)


@pytest.mark.parametrize(
    ("tz", "night", "real_hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 2),  # 02:00 -> 03:00: the range 01:00-04:00 lasts 2 hours
        ("Europe/Berlin", date(2026, 10, 25), 4),  # 03:00 -> 02:00: it lasts 4 hours
        ("America/New_York", date(2026, 3, 8), 2),
        ("America/New_York", date(2026, 11, 1), 4),
    ],
)
def test_slots_across_the_dst_change_itself(tz: str, night: date, real_hours: int) -> None:
    zone = ZoneInfo(tz)
    cal = calendars(rep(tz=tz, working_hours={"sun": ["01:00-04:00"]}))
    slots = free_slots(cal, now=datetime(night.year, night.month, night.day, tzinfo=UTC) - timedelta(days=1))
    tonight = [s for s in slots if s.start.astimezone(zone).date() == night]
    assert len(tonight) == real_hours * 2  # 30-minute slots over the real length of the range
    assert tonight[0].start.astimezone(zone).replace(tzinfo=None) == datetime(
        night.year, night.month, night.day, 1
    )
    assert tonight[-1].end.astimezone(zone).replace(tzinfo=None) == datetime(
        night.year, night.month, night.day, 4
    )
    for slot in tonight:
        assert slot.end - slot.start == timedelta(minutes=30)
    if real_hours == 2:  # a slot runs across the change: 01:30 winter time to 03:00 summer time
        crossing = tonight[1]
        assert (f"{crossing.start.astimezone(zone):%H:%M}", f"{crossing.end.astimezone(zone):%H:%M}") == (
            "01:30",
            "03:00",
        )
        assert crossing.end.astimezone(zone).utcoffset() - crossing.start.astimezone(
            zone
        ).utcoffset() == timedelta(hours=1)


def test_offers_for_a_visitor_in_tokyo_fall_in_their_hours_and_are_spread() -> None:
    cal = calendars(horizon_days=14)
    offers = offer_slots(cal, now=MONDAY, visitor_tz="Asia/Tokyo")
    assert len(offers) == 3
    for offer in offers:
        local = offer.start.astimezone(TOKYO)
        assert local.weekday() < 5
        assert f"{local:%H:%M}" >= "08:00" and f"{offer.end.astimezone(TOKYO):%H:%M}" <= "18:00"
        assert offer.label == format_label(offer.start, offer.end, "Asia/Tokyo")
        assert offer.label.endswith(f"{local:%H:%M}–{offer.end.astimezone(TOKYO):%H:%M} (Asia/Tokyo)")
        assert parse_offer_id(offer.offer_id) == ("bea", offer.start)
    # Berlin 09:00 is 17:00 in Tokyo (winter): one offer per Tokyo day, the earliest days first
    assert [f"{o.start.astimezone(TOKYO):%a %H:%M}" for o in offers] == [
        "Mon 17:00",
        "Tue 17:00",
        "Wed 17:00",
    ]
    assert offers == offer_slots(cal, now=MONDAY, visitor_tz="Asia/Tokyo")


def test_offers_in_the_reps_own_zone_are_spread_over_half_days() -> None:
    offers = offer_slots(calendars(), now=MONDAY, visitor_tz="Europe/Berlin")
    assert [o.label for o in offers] == [
        "Mon 23 Nov, 09:00–09:30 (Europe/Berlin)",
        "Mon 23 Nov, 13:00–13:30 (Europe/Berlin)",
        "Tue 24 Nov, 09:00–09:30 (Europe/Berlin)",
    ]
    half_days = {(o.start.astimezone(BERLIN).date(), o.start.astimezone(BERLIN).hour >= 12) for o in offers}
    assert len(half_days) == 3


def test_offers_fall_back_to_any_hour_when_the_visitor_has_no_reasonable_overlap() -> None:
    # Berlin 09:00-17:00 is 22:00-06:00 in Honolulu: no slot is inside 08:00-18:00 there
    cal = calendars()
    offers = offer_slots(cal, now=MONDAY, visitor_tz="Pacific/Honolulu", n=4)
    assert len(offers) == 4
    assert len({o.start for o in offers}) == 4
    assert offers[0].start == free_slots(cal, now=MONDAY)[0].start
    assert all("(Pacific/Honolulu)" in o.label for o in offers)


def test_earlier_rep_wins_ties_and_two_offers_never_share_a_start() -> None:
    cal = calendars(rep("anna"), rep("zoe"))
    slots = free_slots(cal, now=MONDAY)
    assert [s.rep_id for s in slots[:2]] == ["anna", "zoe"] and slots[0].start == slots[1].start
    offers = offer_slots(cal, now=MONDAY, visitor_tz="Europe/Berlin", n=20)
    assert len({o.start for o in offers}) == len(offers) == 20


def test_labels_offer_ids_and_bad_input() -> None:
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert format_label(start, start + timedelta(minutes=30), "Europe/Berlin") == (
        "Tue 24 Nov, 10:00–10:30 (Europe/Berlin)"
    )
    late = datetime(2026, 11, 24, 14, 45, tzinfo=UTC)
    assert format_label(late, late + timedelta(minutes=30), "Asia/Tokyo") == (
        "Tue 24 Nov, 23:45–Wed 25 Nov, 00:15 (Asia/Tokyo)"
    )
    assert offer_id("bea", start.astimezone(BERLIN)) == "bea@20261124T090000Z"
    for bad in ("bea", "@20261124T090000Z", "bea@2026-11-24"):
        with pytest.raises(ValueError, match="not an offer id"):
            parse_offer_id(bad)
    with pytest.raises(ValueError, match="unknown time zone"):
        offer_slots(calendars(), now=MONDAY, visitor_tz="Mars/Olympus")
    with pytest.raises(ValueError, match="aware"):
        offer_slots(calendars(), now=datetime(2026, 11, 23, 6), visitor_tz="UTC")


def test_slot_refusal_rechecks_every_rule() -> None:
    cal = calendars(
        rep(
            busy=[
                {
                    "start": datetime(2026, 11, 24, 13, tzinfo=BERLIN),
                    "end": datetime(2026, 11, 24, 14, tzinfo=BERLIN),
                }
            ]
        ),
        min_notice_minutes=120,
    )
    bea = cal.rep("bea")
    at = datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
    assert slot_refusal(cal, bea, at, now=MONDAY) is None
    assert slot_refusal(cal, bea, at + timedelta(minutes=15), now=MONDAY) == (
        "the slot is not one of the rep's working-hour slots"
    )
    assert (
        slot_refusal(cal, bea, at.replace(hour=12), now=MONDAY)
        == "the slot is not one of the rep's working-hour slots"
    )
    assert slot_refusal(cal, bea, at.replace(hour=13), now=MONDAY) == "the rep is busy at that time"
    assert (
        slot_refusal(cal, bea, at, now=at - timedelta(minutes=90))
        == "the slot starts too soon (minimum notice)"
    )
    assert slot_refusal(cal, bea, at, now=at - timedelta(days=8)) == "the slot is beyond the booking horizon"
    booked = [Interval(at, at + timedelta(minutes=30))]
    assert slot_refusal(cal, bea, at, now=MONDAY, booked=booked) == "the slot was just taken"
