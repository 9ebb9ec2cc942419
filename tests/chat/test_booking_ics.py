"""ICS invites: parsed back with icalendar, the instants are the booked ones and the VTIMEZONE is right."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from leadgate.chat.booking import Rep, build_invite, cancel_invite

STAMP = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def make_rep(tz: str) -> Rep:
    return Rep.model_validate(
        {
            "id": "bea",
            "name": "Bea Berlin",
            "email": "bea@example.com",
            "timezone": tz,
            "working_hours": {"mon": ["09:00-17:00"]},
        }
    )


def invite(tz: str, start: datetime) -> str:
    return build_invite(
        booking_id="0b7f3c52-3d5e-4d8f-9a51-2a3b4c5d6e7f",
        rep=make_rep(tz),
        company="Acme",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Yuki Sato",
        attendee_email="yuki@example.jp",
        attendee_tz="Asia/Tokyo",
        stamp=STAMP,
    )


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("Europe/Berlin", datetime(2026, 3, 27, 8, 0, tzinfo=UTC)),  # winter time (UTC+1)
        ("Europe/Berlin", datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),  # summer time (UTC+2)
        ("America/New_York", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),  # just after the US change
        ("America/New_York", datetime(2026, 11, 30, 14, 0, tzinfo=UTC)),
    ],
)
def test_invite_round_trips_to_the_booked_instants(tz: str, start: datetime) -> None:
    text = invite(tz, start)
    assert "\r\n" in text
    cal = Calendar.from_ical(text)
    assert cal["METHOD"] == "REQUEST"
    [event] = cal.events
    assert event.start == start and event.end == start + timedelta(minutes=30)
    assert event["DTSTART"].params["TZID"] == tz and event["DTEND"].params["TZID"] == tz
    # DTSTART is written as the rep's wall-clock time
    assert event["DTSTART"].dt.replace(tzinfo=None) == start.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    # the VTIMEZONE itself (not the tz database of the reader) maps the local DTSTART to the same instant
    [vtimezone] = cal.timezones
    assert vtimezone.tz_name == tz
    assert cal.get_missing_tzids() == set()
    own_tz = vtimezone.to_tz(lookup_tzid=False)
    local = event["DTSTART"].dt.replace(tzinfo=None)
    assert local.replace(tzinfo=own_tz).astimezone(UTC) == start
    assert str(event["UID"]) == "0b7f3c52-3d5e-4d8f-9a51-2a3b4c5d6e7f@leadgate"
    assert event.stamp == STAMP
    assert str(event["ORGANIZER"]) == "mailto:bea@example.com"
    assert event["ORGANIZER"].params["CN"] == "Bea Berlin"
    attendees = {str(a): a.params for a in event["ATTENDEE"]}
    assert attendees["mailto:yuki@example.jp"]["CN"] == "Yuki Sato"
    assert attendees["mailto:yuki@example.jp"]["ROLE"] == "REQ-PARTICIPANT"
    assert "Acme" in str(event["SUMMARY"]) and "Yuki Sato" in str(event["SUMMARY"])
    assert "(Asia/Tokyo)" in str(event["DESCRIPTION"]) and f"({tz})" in str(event["DESCRIPTION"])


def test_berlin_local_times_in_the_invite_follow_dst() -> None:
    winter = Calendar.from_ical(invite("Europe/Berlin", datetime(2026, 3, 27, 8, 0, tzinfo=UTC))).events[0]
    summer = Calendar.from_ical(invite("Europe/Berlin", datetime(2026, 3, 30, 7, 0, tzinfo=UTC))).events[0]
    assert winter["DTSTART"].to_ical() == b"20260327T090000"
    assert summer["DTSTART"].to_ical() == b"20260330T090000"


def test_cancel_invite_keeps_the_uid_and_raises_the_sequence() -> None:
    original = Calendar.from_ical(invite("Europe/Berlin", datetime(2026, 3, 30, 7, 0, tzinfo=UTC)))
    later = STAMP + timedelta(hours=2)
    cancelled = Calendar.from_ical(cancel_invite(original.to_ical().decode(), stamp=later))
    assert cancelled["METHOD"] == "CANCEL"
    [event] = cancelled.events
    assert str(event["UID"]) == str(original.events[0]["UID"])
    assert event.sequence == original.events[0].sequence + 1
    assert event.status == "CANCELLED"
    assert event.stamp == later
    assert event.start == original.events[0].start
    assert [t.tz_name for t in cancelled.timezones] == ["Europe/Berlin"]
    with pytest.raises(ValueError, match="aware"):
        cancel_invite(original.to_ical().decode(), stamp=datetime(2026, 3, 20))


@pytest.mark.parametrize(
    "tz", ["Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Tokyo", "UTC"]
)
@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 27, 8, 0, tzinfo=UTC),
        datetime(2027, 12, 31, 23, 30, tzinfo=UTC),  # already 2028 east of UTC: the zone's year counts
        datetime(2026, 10, 4, 1, 0, tzinfo=UTC),
    ],
)
def test_cached_vtimezone_writes_what_add_missing_timezones_writes(tz: str, start: datetime) -> None:
    """The invite is byte for byte what icalendar writes for its event with ``add_missing_timezones``."""
    from leadgate.chat.booking.ics import PRODID, vtimezone_ical

    hits = vtimezone_ical.cache_info().hits
    first, second = invite(tz, start), invite(tz, start)  # the second uses the cached VTIMEZONE
    for text in (first, second):
        parsed = Calendar.from_ical(text)
        [event] = parsed.events
        local_year = start.astimezone(ZoneInfo(tz)).year
        assert event.start.year == local_year
        reference = Calendar.new(
            method="REQUEST", prodid=PRODID, uid=str(parsed["UID"]), subcomponents=[event]
        )
        reference.add_missing_timezones(
            first_date=date(local_year, 1, 1), last_date=date(local_year + 2, 1, 1)
        )
        assert text == reference.to_ical().decode("utf-8")
        assert [t.tz_name for t in parsed.timezones] == ([] if tz == "UTC" else [tz])
    if tz != "UTC":
        assert vtimezone_ical.cache_info().hits > hits
        assert f"only works from {local_year}-01-01 to {local_year + 2}-01-01" in first.replace("\r\n ", "")
