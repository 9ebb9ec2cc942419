"""Pure SLA due times in the rep's working hours: hand-checked across lunch breaks, weekends, absences,
daylight-saving changes (Europe/Berlin, America/New_York) and a half-hour zone (Asia/Kolkata, +05:30).

Every expected instant below was worked out by hand from the wall-clock hours and the zone's UTC offset
on that date (CET +01:00 / CEST +02:00, EST -05:00 / EDT -04:00, IST +05:30)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from leadgate.contracts.action import Assignment
from leadgate.policy.loader import check_policy_text, load_default_policy
from leadgate.policy.sla_model import SlaSection, parse_working_minutes
from leadgate.reps import Rep, load_reps_text
from leadgate.sla import add_working_minutes, compute_reassign_at, compute_sla_due, with_sla_due

REPS = """\
name: test-reps
version: 3
teams:
  - {id: emea, name: EMEA sales, manager: sofia}
reps:
  - id: anna
    name: Anna Becker
    email: anna.becker@example.com
    timezone: Europe/Berlin
    team: emea
    working_hours:
      mon: ["09:00-12:00", "13:00-17:00"]
      tue: ["09:00-12:00", "13:00-17:00"]
      wed: ["09:00-12:00", "13:00-17:00"]
      thu: ["09:00-12:00", "13:00-17:00"]
      fri: ["09:00-13:00"]
    out_of_office:
      - {start: 2026-12-24, end: 2027-01-03, reason: holidays}
  - id: marcus
    name: Marcus Reed
    email: marcus.reed@example.com
    timezone: America/New_York
    working_hours:
      mon: ["08:30-12:00", "13:00-17:30"]
      fri: ["08:30-12:00", "13:00-15:00"]
  - id: priya
    name: Priya Nair
    email: priya.nair@example.com
    timezone: Asia/Kolkata
    working_hours:
      mon: ["09:30-13:00", "14:00-18:30"]
      tue: ["09:30-13:00", "14:00-18:30"]
  - id: nightowl
    name: Night Desk
    email: night.desk@example.com
    timezone: Europe/Berlin
    working_hours:
      sun: ["01:00-04:00"]
  - id: gone
    name: Long Leave
    email: long.leave@example.com
    timezone: Europe/Berlin
    working_hours:
      mon: ["09:00-17:00"]
    out_of_office:
      - {start: 2026-01-01, end: 2028-12-31, reason: sabbatical}
  - id: sofia
    name: Sofia Lindqvist
    email: sofia.lindqvist@example.com
    timezone: Europe/Stockholm
    active: false
    working_hours:
      mon: ["08:00-17:00"]
"""

SLA = SlaSection.model_validate(
    {
        "tiers": {
            "hot": {"first_touch": "5m", "reassign_after": "30m"},
            "warm": {"first_touch": "4h"},
        },
        "rules": [
            {"id": "enterprise_hot", "tiers": ["hot"], "segments": ["enterprise"], "first_touch": "15m"},
            {"id": "night_desk", "tiers": ["warm"], "actions": ["human_review"], "first_touch": "2h30m"},
        ],
    }
)


def rep(rep_id: str) -> Rep:
    found = load_reps_text(REPS).get(rep_id)
    assert found is not None
    return found


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("rep_id", "tier", "assigned", "due"),
    [
        # The brief's case: 22:00 Berlin on Tuesday, hot -> 09:05 Berlin on Wednesday (CET, +01:00).
        ("anna", "hot", "2026-12-01T22:00:00+01:00", "2026-12-02T09:05:00+01:00"),
        # Inside working hours: five minutes later.
        ("anna", "hot", "2026-12-01T10:00:00+01:00", "2026-12-01T10:05:00+01:00"),
        # Two minutes before lunch: 2 before, 3 after it.
        ("anna", "hot", "2026-12-01T11:58:00+01:00", "2026-12-01T13:03:00+01:00"),
        # Friday ends 13:00: 2 minutes on Friday, 3 on Monday (weekend skipped).
        ("anna", "hot", "2026-12-04T12:58:00+01:00", "2026-12-07T09:03:00+01:00"),
        # Warm, 4 h on Friday 11:00: 2 h Friday, 2 h Monday morning.
        ("anna", "warm", "2026-12-04T11:00:00+01:00", "2026-12-07T11:00:00+01:00"),
        # Saturday: counted from Monday 09:00.
        ("anna", "warm", "2026-12-05T15:00:00+01:00", "2026-12-07T14:00:00+01:00"),
        # Out of office 24 Dec - 3 Jan: 2 minutes on the 23rd, 3 on Monday 4 January.
        ("anna", "hot", "2026-12-23T16:58:00+01:00", "2027-01-04T09:03:00+01:00"),
        # Spring forward (Sunday 29 March 2026): Friday after hours -> Monday 09:05 CEST (+02:00) = 07:05Z.
        ("anna", "hot", "2026-03-27T16:00:00+01:00", "2026-03-30T09:05:00+02:00"),
        # Fall back (Sunday 25 October 2026): Friday 12:58 CEST -> Monday 09:03 CET (+01:00) = 08:03Z.
        ("anna", "hot", "2026-10-23T12:58:00+02:00", "2026-10-26T09:03:00+01:00"),
        # New York springs forward on 8 March 2026: Friday 17:00 EST -> Monday 08:35 EDT (-04:00).
        ("marcus", "hot", "2026-03-06T17:00:00-05:00", "2026-03-09T08:35:00-04:00"),
        # Kolkata, +05:30: 2 minutes before lunch, 3 after.
        ("priya", "hot", "2026-12-07T12:58:00+05:30", "2026-12-07T14:03:00+05:30"),
        # 03:00 UTC is 08:30 IST, before her day starts at 09:30.
        ("priya", "hot", "2026-12-07T03:00:00+00:00", "2026-12-07T09:35:00+05:30"),
        # Tuesday 18:28 IST: 2 minutes, then nothing until next Monday 09:30.
        ("priya", "hot", "2026-12-08T18:28:00+05:30", "2026-12-14T09:33:00+05:30"),
    ],
)
def test_due_times(rep_id: str, tier: str, assigned: str, due: str) -> None:
    got = compute_sla_due(SLA, tier, rep(rep_id), datetime.fromisoformat(assigned))
    assert got == utc(due)
    assert got is not None and got.tzinfo == UTC


def test_the_brief_example_in_utc() -> None:
    # 22:00 Berlin is 21:00Z; 09:05 Berlin next morning is 08:05Z (CET).
    got = compute_sla_due(SLA, "hot", rep("anna"), datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    assert got == datetime(2026, 12, 2, 8, 5, tzinfo=UTC)


def test_a_range_across_the_dst_change_counts_real_minutes() -> None:
    # Sunday 29 March 2026, 01:00-04:00 Berlin wall clock is 00:00Z-02:00Z: only 2 real hours.
    # 2h30m needed from 00:30 Berlin: 2 h that night, the last 30 min on Sunday 5 April 01:00-01:30 CEST.
    got = compute_sla_due(
        SLA,
        "warm",
        rep("nightowl"),
        datetime.fromisoformat("2026-03-29T00:30:00+01:00"),
        action="human_review",
    )
    assert got == utc("2026-04-05T01:30:00+02:00") == datetime(2026, 4, 4, 23, 30, tzinfo=UTC)
    # The fall-back night (25 October 2026) is 4 real hours long: 01:00 CEST (23:00Z) to 04:00 CET (03:00Z).
    got = compute_sla_due(
        SLA,
        "warm",
        rep("nightowl"),
        datetime.fromisoformat("2026-10-25T00:00:00+02:00"),
        action="human_review",
    )
    assert got == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 150 min after 23:00Z


def test_rules_come_before_the_tier_target() -> None:
    at = datetime.fromisoformat("2026-12-01T10:00:00+01:00")
    assert compute_sla_due(SLA, "hot", rep("anna"), at, segment="enterprise") == utc(
        "2026-12-01T10:15:00+01:00"
    )
    assert compute_sla_due(SLA, "hot", rep("anna"), at, segment="smb") == utc("2026-12-01T10:05:00+01:00")
    # The action rule needs the action: without it the warm tier target (4 h) applies.
    assert compute_sla_due(SLA, "warm", rep("anna"), at) == utc("2026-12-01T15:00:00+01:00")
    assert compute_sla_due(SLA, "warm", rep("anna"), at, action="human_review") == utc(
        "2026-12-01T13:30:00+01:00"
    )


def test_no_sla_gives_no_due_time() -> None:
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert compute_sla_due(SLA, "nurture", rep("anna"), at) is None
    assert compute_sla_due(None, "hot", rep("anna"), at) is None
    # Absent for longer than the search window: no working time, no due time.
    assert compute_sla_due(SLA, "hot", rep("gone"), at) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_sla_due(SLA, "hot", rep("anna"), datetime(2026, 12, 1, 9))
    with pytest.raises(ValueError, match=">= 0"):
        add_working_minutes(rep("anna"), datetime(2026, 12, 1, 9, tzinfo=UTC), -1)


def test_any_offset_gives_the_same_instant() -> None:
    at = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    other = at.astimezone(timezone(timedelta(hours=-8)))
    assert compute_sla_due(SLA, "hot", rep("anna"), other) == compute_sla_due(SLA, "hot", rep("anna"), at)


def test_reassignment_time_counts_working_minutes_after_the_due_time() -> None:
    due = utc("2026-12-02T09:05:00+01:00")
    assert compute_reassign_at(SLA, "hot", rep("anna"), due) == utc("2026-12-02T09:35:00+01:00")
    # Due 11:50: 10 minutes before lunch, 20 after it.
    assert compute_reassign_at(SLA, "hot", rep("anna"), utc("2026-12-02T11:50:00+01:00")) == utc(
        "2026-12-02T13:20:00+01:00"
    )
    assert compute_reassign_at(SLA, "warm", rep("anna"), due) is None  # warm: no reassign_after


def test_working_minutes_zero_is_the_next_working_instant() -> None:
    at = datetime.fromisoformat("2026-12-05T12:00:00+01:00")  # Saturday
    assert add_working_minutes(rep("anna"), at, 0) == utc("2026-12-07T09:00:00+01:00")


def test_the_shipped_policy_has_the_cited_targets() -> None:
    section = load_default_policy().sla
    assert section is not None
    assert section.target("hot") is not None and section.tiers["hot"].first_touch == 5
    assert section.tiers["warm"].first_touch == 240
    assert section.target("nurture") is None


POLICY_HEAD = """\
policy_version: 1
name: test
version: 1
tiers: {hot: 0.7, warm: 0.4, nurture: 0.1}
actions: {hot: route_to_sales, warm: route_to_sales, nurture: nurture, disqualified: discard}
"""


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("5m", 5),
        ("15 minutes", 15),
        ("1 minute", 1),
        ("90 min", 90),
        ("4h", 240),
        ("2 hours", 120),
        ("1h30m", 90),
        ("1 hour 30 minutes", 90),
        ("3 hrs", 180),
        (45, 45),
    ],
)
def test_duration_forms(text: str | int, minutes: int) -> None:
    assert parse_working_minutes(text) == minutes


@pytest.mark.parametrize("text", ["soon", "5", "5 mins later", "m5", "1.5h", "5 parsecs", ""])
def test_durations_that_are_not(text: str) -> None:
    with pytest.raises(PydanticCustomError):
        parse_working_minutes(text)


def test_durations_in_the_policy() -> None:
    text = POLICY_HEAD + "sla:\n  tiers:\n    hot: {first_touch: 1h30m}\n    warm: {first_touch: 45}\n"
    assert check_policy_text(text) == []


@pytest.mark.parametrize(
    ("sla", "line", "column", "path", "message"),
    [
        (
            "sla:\n  tiers:\n    hot: {first_touch: 5 parsecs}\n",
            8,
            24,
            "sla.tiers.hot.first_touch",
            "expected a duration such as '5m', '90 minutes', '4h' or '1h30m', got '5 parsecs'",
        ),
        (
            "sla:\n  tiers:\n    hot: {first_touch: 0m}\n",
            8,
            24,
            "sla.tiers.hot.first_touch",
            "greater than 0",
        ),
        (
            "sla:\n  tiers:\n    hot: {first_touch: 5m, escalte: true}\n",
            8,
            28,
            "sla.tiers.hot.escalte",
            "unknown key",
        ),
        ("sla:\n  max_reassignments: -1\n", 7, 22, "sla.max_reassignments", "greater than or equal to 0"),
        (
            "sla:\n  rules:\n    - {id: a, tiers: [hot], first_touch: 5m}\n    - {id: a, tiers: [warm], first_touch: 1h}\n",
            9,
            12,
            "sla.rules.1.id",
            "duplicate SLA rule id 'a'",
        ),
        ("sla:\n  tiers:\n    scorching: {first_touch: 5m}\n", 8, 16, "sla.tiers.scorching", "'hot', 'warm'"),
    ],
)
def test_sla_errors_point_at_their_line(sla: str, line: int, column: int, path: str, message: str) -> None:
    issues = check_policy_text(POLICY_HEAD + sla)
    assert len(issues) == 1, issues
    assert (issues[0].line, issues[0].column) == (line, column)
    assert issues[0].path.startswith(path)
    assert message in issues[0].message


def brute_force_due(r: Rep, start: datetime, working_minutes: int) -> datetime:
    """Walk real minutes from ``start`` and count those in which ``Rep.working_at`` says the rep works."""
    at, counted = start, 0
    while counted < working_minutes:
        if r.working_at(at):
            counted += 1
        at += timedelta(minutes=1)
    return at


@settings(max_examples=60, deadline=None)
@given(
    rep_id=st.sampled_from(["anna", "marcus", "priya", "nightowl"]),
    minute_of_2026=st.integers(min_value=0, max_value=365 * 24 * 60 - 1),
    working_minutes=st.integers(min_value=1, max_value=400),
)
def test_due_time_matches_a_minute_by_minute_walk(
    rep_id: str, minute_of_2026: int, working_minutes: int
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute_of_2026)
    r = rep(rep_id)
    assert add_working_minutes(r, start, working_minutes) == brute_force_due(r, start, working_minutes)


def test_with_sla_due_fills_the_assignment_of_routing() -> None:
    reps = load_reps_text(REPS)
    made = Assignment(
        assignment_id="a-1",
        lead_id="web-1",
        decision_id="d-1",
        rep_id="priya",
        rule="territory",
        reason="territory IN",
        policy_version="p@1",
        assigned_at=datetime.fromisoformat("2026-12-07T12:58:00+05:30"),
    )
    assert with_sla_due(made, SLA, "hot", reps).sla_due_at == utc("2026-12-07T14:03:00+05:30")
    assert with_sla_due(made, SLA, "nurture", reps).sla_due_at is None
    nobody = made.model_copy(update={"rep_id": None, "rule": "unassigned"})
    assert with_sla_due(nobody, SLA, "hot", reps).sla_due_at is None
