"""``leadgate reps check`` (line-precise, also a calendars file against the reps) and ``leadgate reps list``
(caps, today's and 30-day load from real assignment rows, out of office)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)
from tests.reps.test_reps_file import GOOD

from leadgate.contracts.action import Assignment
from leadgate.db import make_engine, upgrade
from leadgate.db.engine import write_lock
from leadgate.reps import default_reps_path
from leadgate.routing import store_assignment


@pytest.mark.usefixtures("wide_console")
def test_check_ok_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "reps.yaml"
    good.write_text(GOOD, encoding="utf-8")
    assert "reps.yaml: ok (test-reps@2, 2 reps, 1 teams)" in run("reps", "check", str(good))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.replace("Europe/Vienna", "Europe/Wien").replace("weight: 2", "weight: heavy"), encoding="utf-8"
    )
    out = run("reps", "check", str(bad), code=1)
    assert f"{bad}:11:13: reps.0.weight: Input should be a valid number" in out
    assert f"{bad}:21:15: reps.1.timezone: unknown time zone 'Europe/Wien'" in out


@pytest.mark.usefixtures("wide_console")
def test_check_a_calendars_file_against_the_reps(tmp_path: Path) -> None:
    reps = tmp_path / "reps.yaml"
    reps.write_text(GOOD, encoding="utf-8")
    cal = tmp_path / "calendars.yaml"
    cal.write_text(
        "name: demo\nversion: 1\ncompany: Acme\nreps:\n  - id: bea\n  - id: anna\n", encoding="utf-8"
    )
    out = run("reps", "check", str(reps), "--calendars", str(cal), code=1)
    assert f"{cal}:6:9: reps.1.id: unknown rep id 'anna': not in the reps file (reps: bea, lena)" in out
    shipped = Path(default_reps_path())
    calendars = shipped.parent.parent / "chat" / "data" / "calendars.yaml"
    out = run("reps", "check", str(shipped), "--calendars", str(calendars))
    assert "ok (example-demo-calendars@2, 3 reps give demos)" in out


@pytest.mark.usefixtures("wide_console")
def test_list_shows_caps_load_and_absence(tmp_path: Path) -> None:
    reps = tmp_path / "reps.yaml"
    reps.write_text(GOOD, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'lg.db'}"
    upgrade(url)
    engine = make_engine(url)
    # Monday 7 December 2026, 10:00 Berlin (09:00Z). bea: 2 today (one at 00:30 Berlin = 23:30Z the day
    # before, still today in Berlin), 1 yesterday, 1 twenty days ago, 1 forty days ago (outside 30 days).
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    times = [
        now - timedelta(hours=1),
        datetime(2026, 12, 6, 23, 30, tzinfo=UTC),
        now - timedelta(days=1),
        now - timedelta(days=20),
        now - timedelta(days=40),
        now + timedelta(hours=1),
    ]
    try:
        with write_lock(engine), engine.begin() as conn:
            for n, at in enumerate(times):
                store_assignment(
                    conn,
                    Assignment(
                        assignment_id=str(uuid.uuid4()),
                        lead_id=f"web-{n}",
                        decision_id=str(uuid.uuid4()),
                        rep_id="bea",
                        rule="round_robin",
                        reason="round robin",
                        policy_version="p@1",
                        assigned_at=at,
                    ),
                )
    finally:
        engine.dispose()
    out = run("reps", "list", "--file", str(reps), "--database-url", url, "--at", "2026-12-07T10:00:00+01:00")
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
        for line in out.splitlines()
        if line.startswith("│")
    }
    assert rows["bea"] == ["bea", "dach", "yes", "2", "20", "2", "-", "4", "no"]
    assert rows["lena"] == ["lena", "-", "no", "1", "-", "0", "-", "0", "no"]
    out = run("reps", "list", "--file", str(reps), "--database-url", url, "--at", "2026-12-28T10:00:00+01:00")
    assert "yes (holidays)" in out
    out = run(
        "reps", "list", "--file", str(reps), "--database-url", url, "--at", "2026-12-28T10:00:00", code=1
    )
    assert "needs a UTC offset" in out
