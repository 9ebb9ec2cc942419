"""The SLA scheduler with a controllable clock, on SQLite and PostgreSQL: a missed hot lead is escalated
once, re-assigned after the further delay (at most ``max_reassignments`` times), a first touch in time
stops it, and two workers at once escalate each lead exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select
from tests.sla.conftest import ASSIGNMENTS, OUTBOX, REPS_YAML, assign, directory, next_rep, policy, to_outbox

from leadgate.audit.events import iter_events, verify_events
from leadgate.contracts.action import Action, Assignment
from leadgate.db import make_engine
from leadgate.db.engine import write_lock
from leadgate.errors import LeadgateError
from leadgate.reps import load_reps_text
from leadgate.sla import SlaError, SlaReport, escalation_key, mark_first_touch, sla_pass

# Tuesday 1 December 2026, 10:00 in Berlin (CET, +01:00) = 09:00 UTC; anna works 09:00-12:00 there.
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def run(engine: Engine, at: datetime) -> SlaReport:
    return sla_pass(
        engine, now=at, directory=directory(), policy=policy(), reassign=next_rep, enqueue=to_outbox
    )


def status(engine: Engine, assignment_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(ASSIGNMENTS.c.status).where(ASSIGNMENTS.c.assignment_id == assignment_id)
            ).scalar_one()
        )


def events(engine: Engine, lead_id: str) -> list[tuple[str, dict[str, object]]]:
    with engine.connect() as conn:
        return [(e["kind"], e["data"]) for e in iter_events(conn, lead_id=lead_id)]


def test_a_missed_hot_lead_is_escalated_once(engine: Engine) -> None:
    a = assign(engine, "web-4711", "anna", "hot", T0)
    assert a.sla_due_at == minutes(5)

    before = run(engine, minutes(4))  # not due yet
    assert (before.checked, before.escalations, before.actions) == (0, [], [])
    assert status(engine, a.assignment_id) == "open"

    first = run(engine, minutes(7))
    assert [e.assignment_id for e in first.escalations] == [a.assignment_id]
    esc = first.escalations[0]
    assert (esc.rep_id, esc.manager_id, esc.due_at, esc.minutes_late) == ("anna", "sofia", minutes(5), 2)
    assert status(engine, a.assignment_id) == "escalated"
    [action] = first.actions
    assert action.kind == "notify_manager" and action.lead_id == "web-4711"
    assert action.idempotency_key == escalation_key(a.assignment_id)
    assert action.payload == {
        "reason": "sla_missed",
        "assignment_id": a.assignment_id,
        "rep_id": "anna",
        "manager_id": "sofia",
        "tier": "hot",
        "due": "2026-12-01T09:05:00+00:00",
        "minutes_late": 2,
    }

    second = run(engine, minutes(20))  # still escalated, re-assignment only after 30 more working minutes
    assert (second.escalations, second.actions, second.reassignments) == ([], [], [])
    kinds = [kind for kind, _ in events(engine, "web-4711")]
    assert kinds == ["assigned", "sla_escalated"]
    escalated = events(engine, "web-4711")[1][1]
    assert escalated["rep_id"] == "anna" and escalated["manager_id"] == "sofia"
    assert escalated["minutes_late"] == 2 and escalated["due"] == "2026-12-01T09:05:00+00:00"
    assert escalated["reps_file"] == "acme-reps@7" and escalated["tier"] == "hot"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OUTBOX)).scalar_one() == 1
    assert verify_events(engine) == (2, None)


def test_reassignment_after_the_further_delay(engine: Engine) -> None:
    a = assign(engine, "web-4712", "anna", "hot", T0)
    run(engine, minutes(6))
    assert run(engine, minutes(34)).reassignments == []  # due 09:05 + 30 working min = 09:35
    report = run(engine, minutes(36))
    [moved] = report.reassignments
    assert moved.previous_id == a.assignment_id
    new = moved.assignment
    assert (new.rep_id, new.rule, new.rule_id, new.assigned_at) == (
        "jonas",
        "round_robin",
        "sla_reassign",
        minutes(36),
    )
    assert "SLA missed: first touch by anna was due 2026-12-01T09:05:00+00:00" in new.reason
    assert new.sla_due_at == minutes(41)  # jonas works 08:00-16:00 Berlin: 5 minutes later
    assert status(engine, a.assignment_id) == "reassigned"
    assert status(engine, new.assignment_id) == "open"
    log = events(engine, "web-4712")
    assert [k for k, _ in log] == ["assigned", "sla_escalated", "reassigned"]
    assert log[2][1]["supersedes"] == a.assignment_id and log[2][1]["rep_id"] == "jonas"
    assert verify_events(engine) == (3, None)

    # jonas misses too: escalated, but max_reassignments (1) keeps the lead with him.
    late = run(engine, minutes(45))
    assert [e.rep_id for e in late.escalations] == ["jonas"]
    assert run(engine, minutes(300)).reassignments == []
    assert status(engine, new.assignment_id) == "escalated"
    with engine.connect() as conn:
        rows = conn.execute(
            select(ASSIGNMENTS.c.rep_id, ASSIGNMENTS.c.status).where(ASSIGNMENTS.c.lead_id == "web-4712")
        )
        assert sorted(rows) == [("anna", "reassigned"), ("jonas", "escalated")]


def test_a_reassignment_without_due_time_gets_one_from_the_policy(engine: Engine) -> None:
    # like the routing helper, which leaves SLAs to this module: the new assignment is stored without due
    def no_sla(conn: Connection, lead_id: str, **kw: Any) -> Assignment:
        return next_rep(conn, lead_id, **{**kw, "section": None})

    assign(engine, "web-4713", "anna", "hot", T0)
    [moved] = sla_pass(
        engine, now=minutes(36), directory=directory(), policy=policy(), reassign=no_sla
    ).reassignments
    assert moved.assignment.rep_id == "jonas" and moved.assignment.sla_due_at == minutes(41)
    with engine.connect() as conn:
        stored = conn.execute(
            select(ASSIGNMENTS.c.sla_due_at).where(
                ASSIGNMENTS.c.assignment_id == moved.assignment.assignment_id
            )
        ).scalar_one()
    assert stored.replace(tzinfo=UTC) == minutes(41)


def test_without_escalation_the_lead_is_only_reassigned(engine: Engine) -> None:
    # warm: first touch 4 h, escalate false, reassign 1 h later. Marcus (New York) gets it at 09:00 EST.
    start = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    a = assign(engine, "form-88", "marcus", "warm", start)
    assert a.sla_due_at == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    missed = sla_pass(
        engine,
        now=start + timedelta(hours=4, minutes=30),
        directory=directory(),
        policy=policy(),
        reassign=next_rep,
    )
    assert (missed.checked, missed.escalations, missed.reassignments) == (1, [], [])
    assert status(engine, a.assignment_id) == "open"
    later = sla_pass(
        engine,
        now=start + timedelta(hours=5, minutes=1),
        directory=directory(),
        policy=policy(),
        reassign=next_rep,
    )
    assert [r.assignment.rep_id for r in later.reassignments] == ["anna"]
    assert [k for k, _ in events(engine, "form-88")] == ["assigned", "reassigned"]


def test_assignments_due_before_the_horizon_are_left_alone(engine: Engine) -> None:
    old = assign(engine, "web-old", "anna", "hot", T0 - timedelta(days=40))  # due 22 October, 40 days before
    fresh = assign(engine, "web-new", "anna", "hot", T0)
    report = run(engine, minutes(10))
    assert [e.assignment_id for e in report.escalations] == [fresh.assignment_id]
    assert status(engine, old.assignment_id) == "open"
    wide = sla_pass(
        engine,
        now=minutes(10),
        directory=directory(),
        policy=policy(),
        reassign=next_rep,
        horizon=timedelta(days=60),
    )
    assert [e.assignment_id for e in wide.escalations] == [old.assignment_id]


def test_no_manager_means_an_escalation_without_notification(engine: Engine) -> None:
    # Marcus's team has no manager: the miss is recorded, nobody is notified.
    start = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 New York
    assign(engine, "form-89", "marcus", "hot", start)
    report = run(engine, start + timedelta(minutes=10))
    assert [(e.rep_id, e.manager_id, e.minutes_late) for e in report.escalations] == [("marcus", None, 5)]
    assert report.actions == []


def test_a_first_touch_in_time_stops_the_clock(engine: Engine) -> None:
    a = assign(engine, "web-5000", "anna", "hot", T0)
    with write_lock(engine), engine.begin() as conn:
        touched = mark_first_touch(conn, a.assignment_id, actor="user:anna", at=minutes(3))
    assert touched["sla_met"] is True and touched["minutes_early"] == 2
    assert status(engine, a.assignment_id) == "touched"
    report = run(engine, minutes(120))
    assert (report.checked, report.escalations, report.reassignments) == (0, [], [])
    log = events(engine, "web-5000")
    assert [k for k, _ in log] == ["assigned", "first_touch"]
    assert log[1][1]["sla_met"] is True and log[1][1]["escalated"] is False
    with pytest.raises(SlaError, match="is touched"), write_lock(engine), engine.begin() as conn:
        mark_first_touch(conn, a.assignment_id, actor="user:anna", at=minutes(4))
    with pytest.raises(SlaError, match="no assignment"), write_lock(engine), engine.begin() as conn:
        mark_first_touch(conn, "no-such-id", actor="user:anna", at=minutes(4))


def test_a_late_first_touch_records_by_how_much(engine: Engine) -> None:
    a = assign(engine, "web-5001", "anna", "hot", T0)
    run(engine, minutes(8))
    with write_lock(engine), engine.begin() as conn:
        touched = mark_first_touch(conn, a.assignment_id, actor="user:anna", at=minutes(17))
    assert touched["sla_met"] is False and touched["minutes_early"] == -12
    assert run(engine, minutes(60)).reassignments == []  # touched: never re-assigned
    data = events(engine, "web-5001")[-1][1]
    assert data["escalated"] is True and data["minutes_early"] == -12
    assert verify_events(engine) == (3, None)


def test_an_unknown_rep_is_reported_and_the_others_still_run(engine: Engine) -> None:
    gone = assign(engine, "web-6000", "anna", "hot", T0)
    kept = assign(engine, "web-6001", "jonas", "hot", T0)
    without_anna = load_reps_text(
        REPS_YAML.replace("  - id: anna\n    name: Anna Becker", "  - id: anne\n    name: Anne Becker")
    )
    report = sla_pass(engine, now=minutes(10), directory=without_anna, policy=policy(), reassign=next_rep)
    assert [e.assignment_id for e in report.escalations] == [kept.assignment_id]
    assert len(report.errors) == 1 and report.errors[0][0] == gone.assignment_id
    assert "rep 'anna'" in report.errors[0][1]
    assert status(engine, gone.assignment_id) == "open"


def test_a_failed_step_rolls_back_alone_and_is_retried(engine: Engine) -> None:
    flaky = assign(engine, "web-7000", "anna", "hot", T0)
    fine = assign(engine, "web-7001", "anna", "hot", T0)

    def refuse_one(conn: Connection, action: Action) -> None:
        if action.lead_id == "web-7000":
            raise LeadgateError("destination 'email' is not configured")
        to_outbox(conn, action)

    report = sla_pass(
        engine, now=minutes(9), directory=directory(), policy=policy(), reassign=next_rep, enqueue=refuse_one
    )
    assert [e.assignment_id for e in report.escalations] == [fine.assignment_id]
    assert report.errors == [(flaky.assignment_id, "destination 'email' is not configured")]
    assert status(engine, flaky.assignment_id) == "open"
    assert [kind for kind, _ in events(engine, "web-7000")] == ["assigned"]
    assert verify_events(engine) == (3, None)  # two assigned, one escalated: the chain is whole
    retry = run(engine, minutes(10))
    assert [e.assignment_id for e in retry.escalations] == [flaky.assignment_id]
    assert retry.escalations[0].minutes_late == 5
    assert verify_events(engine) == (4, None)


def test_two_workers_at_once_escalate_each_lead_exactly_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(2)]
    try:
        ids = {
            assign(engines[0], f"web-{n}", "anna" if n % 2 else "jonas", "hot", T0).assignment_id
            for n in range(24)
        }
        barrier = threading.Barrier(2)
        reports: list[SlaReport] = []
        errors: list[BaseException] = []

        def worker(eng: Engine) -> None:
            try:
                barrier.wait()
                reports.append(run(eng, minutes(8)))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(eng,)) for eng in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        escalated = [e.assignment_id for r in reports for e in r.escalations]
        assert sorted(escalated) == sorted(ids)
        with engines[0].connect() as conn:
            assert conn.execute(select(func.count()).select_from(OUTBOX)).scalar_one() == 24
            kinds = [e["kind"] for e in iter_events(conn, kind="sla_escalated")]
        assert len(kinds) == 24
        assert verify_events(engines[0]) == (48, None)
    finally:
        for eng in engines:
            eng.dispose()
