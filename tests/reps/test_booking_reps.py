"""Booking reads the reps of reps.yaml: the shipped two-file example (reps.yaml + calendars.yaml) is the
same as the old one-file calendars (tests/reps/data/calendars_full_v1.yaml): same reps, same slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from leadgate.chat.booking import CalendarSet, free_slots, load_calendars
from leadgate.reps import load_reps

OLD = Path(__file__).parent / "data" / "calendars_full_v1.yaml"


def old_calendars() -> CalendarSet:
    # the old file wrote every rep out in full: the model still accepts that form when built in code
    return CalendarSet.model_validate(yaml.safe_load(OLD.read_text(encoding="utf-8")))


def test_same_reps() -> None:
    old, new = old_calendars(), load_calendars(None, load_reps())
    assert [r.id for r in new.reps] == [r.id for r in old.reps] == ["anna", "marcus", "mei"]
    for before, after in zip(old.reps, new.reps, strict=True):
        for key in (
            "name",
            "email",
            "timezone",
            "working_hours",
            "languages",
            "meeting_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "slot_step_minutes",
        ):
            assert getattr(after, key) == getattr(before, key), (after.id, key)
    # territories are the reps file's, which routing reads too: India is Priya's territory there (she gives
    # no demos), so Mei, who covers APAC, no longer lists IN; everything else is as before
    assert [r.territories for r in new.reps] == [
        r.territories if r.id != "mei" else [t for t in r.territories if t != "IN"] for r in old.reps
    ]
    assert "IN" in old.rep("mei").territories
    # Anna's holidays moved from a busy block to out_of_office in reps.yaml (24 Dec - 3 Jan, Berlin days)
    holidays = [b for b in new.rep("anna").busy if b.title == "holidays"]
    assert [(b.start_utc, b.end_utc) for b in holidays] == [
        (datetime(2026, 12, 23, 23, tzinfo=UTC), datetime(2027, 1, 3, 23, tzinfo=UTC))
    ]


def test_same_slots_over_two_months() -> None:
    old, new = old_calendars(), load_calendars()
    now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    checked = 0
    while now < datetime(2027, 1, 20, tzinfo=UTC):
        assert free_slots(new, now=now) == free_slots(old, now=now), now
        checked += 1
        now += timedelta(hours=7, minutes=13)
    assert checked > 190
    # and the holidays really block: nothing for anna between 24 December and 3 January
    slots = free_slots(new, now=datetime(2026, 12, 22, 6, tzinfo=UTC), rep_ids=["anna"])
    assert slots and not any(
        datetime(2026, 12, 23, 23, tzinfo=UTC) <= s.start < datetime(2027, 1, 3, 23, tzinfo=UTC)
        for s in slots
    )
