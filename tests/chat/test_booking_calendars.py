"""The calendars file: the shipped example loads, and bad files get line-precise errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadgate.chat.booking import (
    CalendarError,
    check_calendars_text,
    default_calendars_path,
    load_calendars,
    load_calendars_text,
)
from leadgate.config import Settings

GOOD = """\
name: test-calendars
version: 2
company: Acme
reps:
  - id: bea
    name: Bea Berlin
    email: bea@example.com
    timezone: Europe/Berlin
    working_hours:
      mon: ["09:00-12:00", "13:00-17:00"]
      fri: ["09:00-13:00"]
    busy:
      - start: 2026-11-24T12:00:00+01:00
        end: 2026-11-24T13:00:00+01:00
      - start: 2026-12-04T00:00:00
        end: 2026-12-05T00:00:00
        timezone: Europe/Berlin
      - start: 2026-12-24T00:00:00Z
        end: 2026-12-25T00:00:00Z
"""


def _issue_at(text: str, source: str = "bad.yaml") -> list[tuple[int, str, str]]:
    with pytest.raises(CalendarError) as info:
        load_calendars_text(text, source)
    assert str(info.value).startswith(f"{source}:")
    return [(i.line, i.path, i.message) for i in info.value.issues]


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_good_file_loads_with_defaults_and_utc_busy_blocks() -> None:
    cal = load_calendars_text(GOOD)
    assert cal.ref == "test-calendars@2"
    bea = cal.rep("bea")
    assert (bea.meeting_minutes, bea.buffer_before_minutes, bea.slot_step_minutes) == (30, 0, 30)
    assert [str(r) for r in bea.working_hours.day("mon")] == ["09:00-12:00", "13:00-17:00"]
    assert bea.working_hours.day("tue") == []
    # offset, IANA zone and Z forms all become the same kind of UTC instant
    assert [b.start_utc for b in bea.busy] == [
        datetime(2026, 11, 24, 11, tzinfo=UTC),
        datetime(2026, 12, 3, 23, tzinfo=UTC),
        datetime(2026, 12, 24, 0, tzinfo=UTC),
    ]
    with pytest.raises(KeyError):
        cal.rep("nobody")


def test_shipped_example_loads_and_is_the_settings_default(tmp_path: Path) -> None:
    assert Settings().calendars_file is None
    cal = load_calendars(None)
    assert cal == load_calendars(default_calendars_path())
    zones = {rep.timezone for rep in cal.reps}
    assert {"Europe/Berlin", "America/New_York"} <= zones
    assert all(rep.meeting_minutes == 30 and rep.buffer_before_minutes == 10 for rep in cal.reps)
    assert all(rep.busy for rep in cal.reps)
    own = tmp_path / "mine.yaml"
    own.write_text(GOOD, encoding="utf-8")
    assert load_calendars(Settings(calendars_file=own).calendars_file).name == "test-calendars"


def test_unknown_time_zone_is_reported_on_its_line() -> None:
    text = _replace("timezone: Europe/Berlin\n    working", "timezone: Europe/Berln\n    working")
    assert _issue_at(text) == [
        (
            _line_of(text, "Europe/Berln"),
            "reps.0.timezone",
            "unknown time zone 'Europe/Berln': give an IANA name such as 'Europe/Berlin'",
        )
    ]


def test_range_ending_before_it_starts_is_reported_on_the_range() -> None:
    text = _replace('fri: ["09:00-13:00"]', 'fri: ["13:00-09:00"]')
    [(line, path, message)] = _issue_at(text)
    assert (line, path) == (_line_of(text, "fri:"), "reps.0.working_hours.fri.0")
    assert message.startswith("end 09:00 is not after start 13:00")


def test_overlapping_ranges_point_at_the_later_range() -> None:
    text = _replace('mon: ["09:00-12:00", "13:00-17:00"]', 'mon: ["09:00-12:00", "11:30-17:00"]')
    [(line, path, message)] = _issue_at(text)
    assert (line, path) == (_line_of(text, "mon:"), "reps.0.working_hours.mon.1")
    assert message == "range 11:30-17:00 overlaps range 09:00-12:00 (item 0 of mon)"


def test_bad_range_text_unknown_day_and_short_range() -> None:
    text = _replace(
        'fri: ["09:00-13:00"]', 'fri: ["9 to 5"]\n      funday: ["09:00-10:00"]\n      sat: ["10:00-10:20"]'
    )
    issues = _issue_at(text)
    assert [(line, path) for line, path, _ in issues] == [
        (_line_of(text, "fri:"), "reps.0.working_hours.fri.0"),
        (_line_of(text, "funday"), "reps.0.working_hours.funday"),
    ]
    assert "expected a time range 'HH:MM-HH:MM'" in issues[0][2]
    assert issues[1][2] == "unknown key 'funday'"
    # once the shape is right, the range too short for one 30-minute meeting is reported
    text = _replace('fri: ["09:00-13:00"]', 'fri: ["09:00-13:00"]\n      sat: ["10:00-10:20"]')
    assert _issue_at(text) == [
        (
            _line_of(text, "sat:"),
            "reps.0.working_hours.sat.0",
            "range 10:00-10:20 is shorter than one 30-minute meeting",
        )
    ]


def test_busy_block_without_offset_and_reversed_busy_block() -> None:
    text = _replace("end: 2026-11-24T13:00:00+01:00", "end: 2026-11-24T11:00:00+01:00")
    text = text.replace("        timezone: Europe/Berlin\n", "")
    issues = _issue_at(text)
    assert [(line, path) for line, path, _ in issues] == [
        (_line_of(text, "end: 2026-11-24T11"), "reps.0.busy.0.end"),
        (_line_of(text, "start: 2026-12-04"), "reps.0.busy.1.start"),
        (_line_of(text, "end: 2026-12-05"), "reps.0.busy.1.end"),
    ]
    assert issues[0][2].startswith("end 2026-11-24T11:00:00+01:00 is not after start")
    assert "has no UTC offset" in issues[1][2]


def test_duplicate_rep_ids_and_duplicate_keys_and_missing_keys() -> None:
    rep = GOOD[GOOD.index("  - id: bea") :]
    second_line = GOOD.count("\n") + 1
    assert _issue_at(GOOD + rep) == [(second_line, "reps.1.id", "duplicate rep id 'bea'")]
    assert _issue_at(GOOD + rep.replace("    email: bea@example.com\n", "")) == [
        (second_line, "reps.1.email", "missing required key 'email'")
    ]
    text = GOOD.replace("company: Acme\n", "company: Acme\ncompany: Other\n")
    assert _issue_at(text) == [(4, "company", "duplicate key 'company' (first given on line 3)")]


def test_syntax_errors_empty_files_and_non_mappings() -> None:
    [(_line, path, message)] = _issue_at(GOOD.replace("reps:\n", "reps: [\n"))
    assert path == "<root>" and message.startswith("YAML syntax error")
    assert _issue_at("# nothing\n") == [(1, "<root>", "the calendars file is empty")]
    assert _issue_at("- a\n- b\n") == [(1, "<root>", "a calendars file must be a YAML mapping")]
    calendars, issues = check_calendars_text(GOOD)
    assert calendars is not None and issues == []


def test_load_calendars_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(GOOD.replace("version: 2", "version: [2]"), encoding="utf-8")
    with pytest.raises(CalendarError, match=rf"^{path}:2:10: version: version must be a whole number"):
        load_calendars(path)
    with pytest.raises(FileNotFoundError):
        load_calendars(tmp_path / "missing.yaml")
