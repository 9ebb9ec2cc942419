"""The reps file: the shipped example, line-precise errors (time zones, working hours, teams), and the
working-hours types shared with booking living in ``leadgate.reps`` (no import of ``leadgate.chat``)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from leadgate.reps import RepsError, check_reps_text, load_reps, load_reps_text
from leadgate.reps.hours import WEEKDAYS, TimeRange, WeeklyHours, zone

GOOD = """\
name: test-reps
version: 2
teams:
  - {id: dach, name: DACH, manager: lena}
reps:
  - id: bea
    name: Bea Berlin
    email: bea@example.com
    timezone: Europe/Berlin
    team: dach
    weight: 2
    daily_cap: 20
    working_hours:
      mon: ["09:00-12:00", "13:00-17:00"]
      fri: ["09:00-13:00"]
    out_of_office:
      - {start: 2026-12-24, end: 2026-12-31, reason: holidays}
  - id: lena
    name: Lena Lange
    email: lena@example.com
    timezone: Europe/Vienna
    active: false
    working_hours:
      mon: ["08:00-16:00"]
"""


def issues(text: str) -> list[tuple[int, int, str, str]]:
    directory, found = check_reps_text(text)
    assert directory is None
    return [(i.line, i.column, i.path, i.message) for i in found]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_good_file() -> None:
    reps = load_reps_text(GOOD)
    assert reps.ref == "test-reps@2"
    bea = reps.get("bea")
    assert bea is not None and reps.manager_of("bea") == reps.get("lena")
    assert [str(r) for r in bea.working_hours.day("mon")] == ["09:00-12:00", "13:00-17:00"]
    # Monday 7 December 2026, 10:00 Berlin is 09:00Z: working; 12:30 Berlin is lunch.
    assert bea.working_at(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    assert not bea.working_at(datetime(2026, 12, 7, 11, 30, tzinfo=UTC))
    assert bea.absent_on(datetime(2026, 12, 28, 10, tzinfo=UTC))
    assert [r.id for r in reps.available(datetime(2026, 12, 28, 10, tzinfo=UTC))] == []  # lena inactive


def test_shipped_example_has_the_demo_reps_and_a_manager() -> None:
    reps = load_reps()
    assert [r.id for r in reps.reps] == ["anna", "marcus", "priya", "mei", "sofia"]
    assert {r.timezone for r in reps.reps} >= {
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Asia/Singapore",
    }
    manager = reps.manager_of("mei")
    assert manager is not None and manager.id == "sofia" and not manager.active


def test_unknown_time_zone_is_reported_on_its_line() -> None:
    text = GOOD.replace("timezone: Europe/Berlin", "timezone: Europe/Berln")
    assert issues(text) == [
        (
            line_of(text, "Europe/Berln"),
            15,
            "reps.0.timezone",
            "unknown time zone 'Europe/Berln': give an IANA name such as 'Europe/Berlin'",
        )
    ]


def test_range_errors_point_at_the_range() -> None:
    text = GOOD.replace('fri: ["09:00-13:00"]', 'fri: ["13:00-09:00"]')
    [(line, _, path, message)] = issues(text)
    assert (line, path) == (line_of(text, "fri:"), "reps.0.working_hours.fri.0")
    assert message.startswith("end 09:00 is not after start 13:00")
    text = GOOD.replace('mon: ["09:00-12:00", "13:00-17:00"]', 'mon: ["09:00-12:00", "11:30-17:00"]')
    [(line, _, path, message)] = issues(text)
    assert (line, path) == (line_of(text, "11:30"), "reps.0.working_hours.mon.1")
    assert message == "range 11:30-17:00 overlaps range 09:00-12:00 (item 0 of mon)"
    text = GOOD.replace('fri: ["09:00-13:00"]', 'fri: ["9 to 5"]\n      funday: ["09:00-10:00"]')
    found = issues(text)
    assert [(line, path) for line, _, path, _ in found] == [
        (line_of(text, "fri:"), "reps.0.working_hours.fri.0"),
        (line_of(text, "funday"), "reps.0.working_hours.funday"),
    ]
    assert "expected a time range 'HH:MM-HH:MM'" in found[0][3] and found[1][3] == "unknown key 'funday'"


def test_references_and_values() -> None:
    text = GOOD.replace("manager: lena}", "manager: lina}")
    assert issues(text) == [(4, 37, "teams.0.manager", "team dach: manager lina is not a rep of this file")]
    text = GOOD.replace("    team: dach\n", "    team: dch\n")
    assert issues(text) == [(10, 11, "reps.0.team", "rep bea: team dch is not declared under teams")]
    text = GOOD.replace("  - id: lena", "  - id: bea")
    assert issues(text) == [
        (4, 37, "teams.0.manager", "team dach: manager lena is not a rep of this file"),
        (18, 9, "reps.1.id", "duplicate rep id 'bea'"),
    ]
    text = GOOD.replace("    daily_cap: 20\n", "    daily_cap: 20\n    notify: [email, slack]\n")
    assert issues(text) == [
        (line_of(text, "notify:"), 13, "reps.0.notify", "rep bea: notify slack needs slack_webhook")
    ]
    text = GOOD.replace("    weight: 2\n", "    weight: 0\n")
    assert issues(text) == [
        (line_of(text, "weight: 0"), 13, "reps.0.weight", "Input should be greater than 0")
    ]
    text = GOOD.replace("{start: 2026-12-24, end: 2026-12-31", "{start: 2026-12-24, end: 2026-12-20")
    [(line, _, _, message)] = issues(text)
    assert (line, message) == (line_of(text, "2026-12-20"), "end 2026-12-20 is before start 2026-12-24")


def test_load_names_the_file(tmp_path: object) -> None:
    with pytest.raises(RepsError, match=r"^mine.yaml:\d+:\d+: reps.0.timezone: unknown time zone"):
        load_reps_text(GOOD.replace("Europe/Berlin", "Mars/Olympus"), "mine.yaml")


def test_hours_types_live_in_reps_and_booking_reuses_them() -> None:
    from leadgate.chat.booking import model as booking

    assert booking.TimeRange is TimeRange and booking.WeeklyHours is WeeklyHours
    assert booking.WEEKDAYS is WEEKDAYS and booking.zone is zone
    # importing leadgate.reps does not import the chat package
    code = "import sys, leadgate.reps, leadgate.sla; print(any(m.startswith('leadgate.chat') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
