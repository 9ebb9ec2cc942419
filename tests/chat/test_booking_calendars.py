"""The calendars file: the shipped example loads, reps come from the reps file, and bad files get
line-precise errors (working hours and time zones are checked in the reps file, see tests/reps)."""

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
from leadgate.reps import RepDirectory, load_reps, load_reps_text

REPS = """\
name: test-reps
version: 1
reps:
  - id: bea
    name: Bea Berlin
    email: bea@example.com
    timezone: Europe/Berlin
    territories: [DE]
    working_hours:
      mon: ["09:00-12:00", "13:00-17:00"]
      fri: ["09:00-13:00"]
    out_of_office:
      - {start: 2027-02-01, end: 2027-02-05, reason: ski week}
  - id: carl
    name: Carl Chicago
    email: carl@example.com
    timezone: America/Chicago
    working_hours:
      mon: ["09:00-17:00"]
"""

GOOD = """\
name: test-calendars
version: 2
company: Acme
reps:
  - id: bea
    languages: [de, en]
    busy:
      - start: 2026-11-24T12:00:00+01:00
        end: 2026-11-24T13:00:00+01:00
      - start: 2026-12-04T00:00:00
        end: 2026-12-05T00:00:00
        timezone: Europe/Berlin
      - start: 2026-12-24T00:00:00Z
        end: 2026-12-25T00:00:00Z
"""


def reps(text: str = REPS) -> RepDirectory:
    return load_reps_text(text)


def _issue_at(
    text: str, source: str = "bad.yaml", directory: RepDirectory | None = None
) -> list[tuple[int, str, str]]:
    with pytest.raises(CalendarError) as info:
        load_calendars_text(text, source, reps=directory or reps())
    assert str(info.value).startswith(f"{source}:")
    return [(i.line, i.path, i.message) for i in info.value.issues]


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_good_file_loads_with_defaults_and_utc_busy_blocks() -> None:
    cal = load_calendars_text(GOOD, reps=reps())
    assert cal.ref == "test-calendars@2"
    bea = cal.rep("bea")
    assert (bea.meeting_minutes, bea.buffer_before_minutes, bea.slot_step_minutes) == (30, 0, 30)
    # identity, zone, hours and territories come from the reps file; languages from the calendars file
    assert (bea.name, bea.email, bea.timezone, bea.territories, bea.languages) == (
        "Bea Berlin",
        "bea@example.com",
        "Europe/Berlin",
        ["DE"],
        ["de", "en"],
    )
    assert [str(r) for r in bea.working_hours.day("mon")] == ["09:00-12:00", "13:00-17:00"]
    assert bea.working_hours.day("tue") == []
    # offset, IANA zone and Z forms all become the same kind of UTC instant; the reps file's days off
    # (1-5 February, Berlin) are one more busy block, midnight to midnight in the rep's zone
    assert [(b.start_utc, b.end_utc) for b in bea.busy] == [
        (datetime(2026, 11, 24, 11, tzinfo=UTC), datetime(2026, 11, 24, 12, tzinfo=UTC)),
        (datetime(2026, 12, 3, 23, tzinfo=UTC), datetime(2026, 12, 4, 23, tzinfo=UTC)),
        (datetime(2026, 12, 24, 0, tzinfo=UTC), datetime(2026, 12, 25, 0, tzinfo=UTC)),
        (datetime(2027, 1, 31, 23, tzinfo=UTC), datetime(2027, 2, 5, 23, tzinfo=UTC)),
    ]
    assert bea.busy[-1].title == "ski week"
    with pytest.raises(KeyError):
        cal.rep("nobody")


def test_shipped_example_loads_and_is_the_settings_default(tmp_path: Path) -> None:
    assert Settings().calendars_file is None
    cal = load_calendars(None)
    assert cal == load_calendars(default_calendars_path(), reps=load_reps())
    zones = {rep.timezone for rep in cal.reps}
    assert {"Europe/Berlin", "America/New_York"} <= zones
    assert all(rep.meeting_minutes == 30 and rep.buffer_before_minutes == 10 for rep in cal.reps)
    assert all(rep.busy for rep in cal.reps)
    own = tmp_path / "mine.yaml"
    own.write_text(GOOD, encoding="utf-8")
    assert load_calendars(Settings(calendars_file=own).calendars_file, reps()).name == "test-calendars"


def test_an_unknown_rep_id_is_reported_on_its_line() -> None:
    text = _replace("  - id: bea", "  - id: bee")
    assert _issue_at(text) == [
        (
            _line_of(text, "id: bee"),
            "reps.0.id",
            "unknown rep id 'bee': not in the reps file (reps: bea, carl)",
        )
    ]


def test_keys_of_the_reps_file_are_refused_where_they_are_written() -> None:
    text = _replace(
        "    languages: [de, en]\n",
        "    languages: [de, en]\n    timezone: Europe/Paris\n    email: b@example.com\n",
    )
    assert _issue_at(text) == [
        (
            _line_of(text, "Europe/Paris"),
            "reps.0.timezone",
            "'timezone' comes from the reps file (test-reps@1): remove it here",
        ),
        (
            _line_of(text, "email: b@"),
            "reps.0.email",
            "'email' comes from the reps file (test-reps@1): remove it here",
        ),
    ]


def test_working_hours_shorter_than_a_meeting_point_at_meeting_minutes() -> None:
    text = _replace("    languages: [de, en]\n", "    languages: [de, en]\n    meeting_minutes: 200\n")
    [(line, path, message)] = _issue_at(text)
    assert (line, path) == (_line_of(text, "meeting_minutes"), "reps.0.meeting_minutes")
    assert message == "range 09:00-12:00 (mon in the reps file) is shorter than one 200-minute meeting"
    # the same calendars file is fine for a rep with longer ranges
    longer = reps(
        REPS.replace('mon: ["09:00-12:00", "13:00-17:00"]', 'mon: ["08:00-12:00", "13:00-17:00"]').replace(
            'fri: ["09:00-13:00"]', 'fri: ["08:00-13:00"]'
        )
    )
    assert load_calendars_text(text, reps=longer).rep("bea").meeting_minutes == 200


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
    assert _issue_at(GOOD + rep.replace("  - id: bea\n    languages", "  - languages")) == [
        (second_line, "reps.1.id", "missing required key 'id'")
    ]
    text = GOOD.replace("company: Acme\n", "company: Acme\ncompany: Other\n")
    assert _issue_at(text) == [(4, "company", "duplicate key 'company' (first given on line 3)")]


def test_syntax_errors_empty_files_and_non_mappings() -> None:
    [(_line, path, message)] = _issue_at(GOOD.replace("reps:\n", "reps: [\n"))
    assert path == "<root>" and message.startswith("YAML syntax error")
    assert _issue_at("# nothing\n") == [(1, "<root>", "the calendars file is empty")]
    assert _issue_at("- a\n- b\n") == [(1, "<root>", "a calendars file must be a YAML mapping")]
    calendars, issues = check_calendars_text(GOOD, reps())
    assert calendars is not None and issues == []


def test_load_calendars_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(GOOD.replace("version: 2", "version: [2]"), encoding="utf-8")
    with pytest.raises(CalendarError, match=rf"^{path}:2:10: version: version must be a whole number"):
        load_calendars(path, reps())
    with pytest.raises(FileNotFoundError):
        load_calendars(tmp_path / "missing.yaml")
