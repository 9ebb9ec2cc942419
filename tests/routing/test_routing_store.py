"""Routing against the store, on SQLite and PostgreSQL: the hook in the decision transaction, stored loads and
rotation, re-assignment, the work-event chain, and caps under 8 concurrent threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from tests.routing.support import REPS_YAML, reps, router, section

from leadgate.audit.events import iter_events, verify_events
from leadgate.batches import Qualified, qualify_leads_routed
from leadgate.chat.qualify import build_chat_lead, load_chat_qualifier
from leadgate.contracts.lead import Lead
from leadgate.db import write_lock
from leadgate.db.acting_models import AssignmentRow
from leadgate.db.models import LeadRow
from leadgate.db.rows import as_record
from leadgate.routing import (
    LeadNotFoundError,
    Router,
    UnknownRepError,
    current_assignment,
    reassign,
    route_decisions,
)

NOW = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin

# A buyer as the chat collects them (tests/chat/test_chat_qualify.py): hot, route_to_sales.
HOT_SLOTS: dict[str, Any] = {
    "person_name": "Dana Reyes",
    "work_email": {"email": "dana@acme.io", "free_mail": False},
    "company": "Acme",
    "role": {
        "title": "CTO",
        "seniority": "c_level",
        "department": "engineering",
        "authority": "decision_maker",
    },
    "company_size": {"min": 400, "max": 400},
    "need": "product analytics for our mobile app",
    "budget": {"amount": 50000, "currency": "USD", "period": "year", "min": 50000, "max": 50000},
    "timeline": {"start": "2026-07-01", "end": "2026-08-31"},
    "consent": True,
}
STUDENT_SLOTS: dict[str, Any] = {
    "person_name": "Sam",
    "work_email": {"email": "sam@gmail.com", "free_provider": True, "valid": True},
    "role": {"title": "student", "seniority": "student", "department": "education", "authority": "none"},
    "need": "data for my thesis",
    "consent": True,
}

QUALIFIER = load_chat_qualifier()


def hot(
    conversation: str, country: str | None, owner: str | None = None, slots: dict[str, Any] = HOT_SLOTS
) -> Lead:
    lead = build_chat_lead(conversation, slots, NOW)
    return lead.model_copy(update={"country": country, "owner": owner})


def qualify(engine: Engine, leads: list[Lead], r: Router | None, now: datetime = NOW) -> Qualified:
    return qualify_leads_routed(engine, QUALIFIER, leads, explain="none", router=r, now=now)


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(select(AssignmentRow.__table__).order_by(AssignmentRow.id)).mappings()
        ]


def owner(engine: Engine, lead_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(LeadRow.owner).where(LeadRow.lead_id == lead_id)).scalar_one()


def test_decisions_are_routed_in_their_transaction_with_chained_events(engine: Engine) -> None:
    leads = [
        hot("c-india", "India"),
        hot("c-germany", "Germany"),
        build_chat_lead("c-student", STUDENT_SLOTS, NOW),
        hot("c-japan", "Japan"),
        hot("c-owned", "India", owner="maria"),
    ]
    done = qualify(engine, leads, router())
    assert [d.action for d in done.decisions] == ["route_to_sales"] * 2 + ["discard"] + ["route_to_sales"] * 2
    got = [(a.rep_id, a.rule, a.rule_id) if a else None for a in done.assignments]
    assert got == [
        ("dev", "territory", "by_country"),
        ("jonas", "territory", "by_country"),
        None,  # the student is not routed
        ("jonas", "round_robin", None),  # nobody lists Japan: every active rep, jonas has weight 2
        ("maria", "existing_owner", None),
    ]
    stored = rows(engine)
    assert [(r["lead_id"], r["rep_id"], r["rule"], r["status"]) for r in stored] == [
        ("chat-c-india", "dev", "territory", "open"),
        ("chat-c-germany", "jonas", "territory", "open"),
        ("chat-c-japan", "jonas", "round_robin", "open"),
        ("chat-c-owned", "maria", "existing_owner", "open"),
    ]
    assert all(
        r["decision_id"] == d.decision_id
        for r, d in zip(stored, [done.decisions[i] for i in (0, 1, 3, 4)], strict=True)
    )
    assert all(r["policy_version"] == "acme@7" and r["sla_due_at"] is None for r in stored)
    assert owner(engine, "chat-c-india") == "dev" and owner(engine, "chat-c-student") is None
    with engine.connect() as conn:
        events = list(iter_events(conn, kind="assigned"))
    assert [(e["lead_id"], e["data"]["rep_id"], e["data"]["rule"], e["data"]["rule_id"]) for e in events] == [
        ("chat-c-india", "dev", "territory", "by_country"),
        ("chat-c-germany", "jonas", "territory", "by_country"),
        ("chat-c-japan", "jonas", "round_robin", None),
        ("chat-c-owned", "maria", "existing_owner", None),
    ]
    assert events[0]["reason"].startswith(
        "territory rule by_country (the rep whose territory lists the lead's country)"
    )
    assert events[0]["data"]["reps_file"] == "acme-sales@3" and events[0]["actor"] == "leadgate"
    assert verify_events(engine) == (4, None)


def test_a_lead_decided_again_keeps_its_rep(engine: Engine) -> None:
    first = qualify(engine, [hot("c-1", "India")], router())
    again = qualify(engine, [hot("c-1", "India")], router(), NOW + timedelta(minutes=5))
    assert first.assignments[0] is not None and again.assignments == [None]
    assert len(rows(engine)) == 1
    # the rep leaves: the next decision routes the lead again and supersedes the old assignment
    gone = reps(REPS_YAML.replace("    team: apac\n", "    team: apac\n    active: false\n"))
    third = qualify(engine, [hot("c-1", "India")], router(directory=gone), NOW + timedelta(minutes=9))
    a = third.assignments[0]
    assert a is not None and a.rep_id is not None and a.rep_id != "dev"
    assert a.reason.startswith("existing owner dev is inactive; ")
    assert [r["status"] for r in rows(engine)] == ["reassigned", "open"]
    assert verify_events(engine) == (2, None)


def test_caps_are_read_from_stored_assignments_across_transactions(engine: Engine) -> None:
    small = reps(REPS_YAML.replace("daily_cap: 60", "daily_cap: 2"))
    r = router(directory=small)
    got = [
        qualify(engine, [hot(f"c-{i}", "India")], r, NOW + timedelta(minutes=i)).assignments[0]
        for i in range(3)
    ]
    assert [a.rep_id if a else "?" for a in got] == ["dev", "dev", None]
    assert got[2] is not None and got[2].rule == "unassigned" and "dev daily cap 2 reached" in got[2].reason
    # the next calendar day in Kolkata (00:00 IST is 18:30 UTC): room again
    next_day = datetime(2026, 6, 16, 18, 45, tzinfo=UTC)
    a = qualify(engine, [hot("c-9", "India")], r, next_day).assignments[0]
    assert a is not None and a.rep_id == "dev"
    # an unassigned lead decided again is routed again (its unassigned row is superseded)
    b = qualify(engine, [hot("c-2", "India")], r, next_day + timedelta(minutes=1)).assignments[0]
    assert b is not None and b.rep_id == "dev"
    assert [x["status"] for x in rows(engine) if x["lead_id"] == "chat-c-2"] == ["reassigned", "open"]


def test_the_round_robin_rotation_is_shared_by_every_process(engine: Engine) -> None:
    # two routers (two server processes) taking turns give the same rotation as one router
    one, two = router(), router()
    picks = [
        qualify(
            engine, [hot(f"c-{i}", "Japan")], one if i % 2 else two, NOW + timedelta(seconds=i)
        ).assignments[0]
        for i in range(10)
    ]
    names = [a.rep_id for a in picks if a]
    assert {n: names.count(n) for n in set(names)} == {"jonas": 4, "claire": 2, "dev": 2, "maria": 2}
    assert names[:2] == ["jonas", "claire"]  # smooth: jonas does not get two in a row at the start


def test_reassign_to_a_rep_and_by_round_robin(engine: Engine) -> None:
    qualify(engine, [hot("c-1", "India")], router())
    directory, sec = reps(), section()
    with write_lock(engine), engine.begin() as conn:
        manual = reassign(
            conn,
            "chat-c-1",
            to_rep="maria",
            actor="user:7",
            reason="customer asked for a US contact",
            now=NOW + timedelta(hours=1),
            directory=directory,
            section=sec,
        )
    assert (manual.rep_id, manual.rule, manual.actor) == ("maria", "manual", "user:7")
    assert manual.reason == "customer asked for a US contact" and manual.policy_version == "acme@7"
    with write_lock(engine), engine.begin() as conn:
        moved = reassign(
            conn,
            "chat-c-1",
            to_rep=None,
            actor="leadgate",
            reason="first touch SLA missed",
            now=NOW + timedelta(hours=2),
            directory=directory,
            section=sec,
        )
        current = current_assignment(conn, "chat-c-1")
    # maria is the owner now and excluded; India's pool is dev
    assert (moved.rep_id, moved.rule) == ("dev", "territory")
    assert moved.reason.startswith("first touch SLA missed; moved away from maria; territory rule by_country")
    assert current is not None and current["assignment_id"] == moved.assignment_id
    assert [r["status"] for r in rows(engine)] == ["reassigned", "reassigned", "open"]
    assert owner(engine, "chat-c-1") == "dev"
    with engine.connect() as conn:
        events = list(iter_events(conn, lead_id="chat-c-1"))
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("assigned", "leadgate"),
        ("reassigned", "user:7"),
        ("reassigned", "leadgate"),
    ]
    assert events[1]["data"]["supersedes"] == events[0]["data"]["assignment_id"]
    assert verify_events(engine) == (3, None)


@pytest.mark.parametrize(
    ("rep", "message"),
    [("mario", "rep 'mario' is not in reps file acme-sales@3"), ("tom", "rep 'tom' is inactive")],
)
def test_reassign_refuses_unknown_and_inactive_reps(engine: Engine, rep: str, message: str) -> None:
    qualify(engine, [hot("c-1", "India")], router())
    with pytest.raises(UnknownRepError, match=message), write_lock(engine), engine.begin() as conn:
        reassign(
            conn,
            "chat-c-1",
            to_rep=rep,
            actor="user:7",
            reason="wrong desk",
            now=NOW,
            directory=reps(),
            section=section(),
        )
    assert [r["rep_id"] for r in rows(engine)] == ["dev"]


def test_reassign_refuses_an_unknown_lead(engine: Engine) -> None:
    with (
        pytest.raises(LeadNotFoundError, match="lead 'chat-nobody' is not stored"),
        write_lock(engine),
        engine.begin() as conn,
    ):
        reassign(
            conn,
            "chat-nobody",
            to_rep="dev",
            actor="user:7",
            reason="x",
            now=NOW,
            directory=reps(),
            section=section(),
        )


def test_eight_threads_assigning_at_once_never_exceed_a_cap(engine: Engine) -> None:
    """8 threads route 10 leads each in their own transactions; on PostgreSQL without the process lock."""
    tight = reps(
        REPS_YAML.replace("daily_cap: 40", "daily_cap: 5")
        .replace("daily_cap: 30", "daily_cap: 3")
        .replace("daily_cap: 60", "daily_cap: 2")
        .replace("daily_cap: 35", "daily_cap: 4")
    )
    r = router(directory=tight)
    leads = [hot(f"t-{i}", "Japan") for i in range(80)]
    decided = qualify(engine, leads, None)  # stored and decided, not routed yet
    records = [dict(as_record(lead)) for lead in leads]
    decisions = [d.model_dump() for d in decided.decisions]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    sqlite = engine.dialect.name == "sqlite"

    def work(part: int) -> None:
        try:
            barrier.wait()
            for k in range(part * 10, part * 10 + 10, 2):
                if sqlite:
                    with write_lock(engine), engine.begin() as conn:
                        route_decisions(conn, r, records[k : k + 2], decisions[k : k + 2], NOW)
                else:
                    with engine.begin() as conn:
                        route_decisions(conn, r, records[k : k + 2], decisions[k : k + 2], NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = rows(engine)
    assert len(stored) == 80
    per_rep = {rep: sum(x["rep_id"] == rep for x in stored) for rep in ("jonas", "claire", "dev", "maria")}
    assert per_rep == {"jonas": 5, "claire": 3, "dev": 2, "maria": 4}  # every cap reached, none exceeded
    assert sum(x["rep_id"] is None for x in stored) == 80 - 14
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(LeadRow).where(LeadRow.owner.is_not(None))
            ).scalar_one()
            == 14
        )
    assert verify_events(engine) == (80, None)


def test_storage_of_now_is_utc(engine: Engine) -> None:
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))  # the same instant, given in Berlin time
    a = qualify(engine, [hot("c-1", "India")], router(), berlin).assignments[0]
    assert a is not None and a.assigned_at == NOW
    with engine.connect() as conn:
        got = conn.execute(select(AssignmentRow.assigned_at)).scalar_one()
    assert got.replace(tzinfo=got.tzinfo or UTC) == NOW


def test_a_routed_lead_gets_its_first_touch_deadline_in_the_reps_working_hours(engine: Engine) -> None:
    from leadgate.policy.sla_model import SlaSection

    sla = SlaSection.model_validate({"tiers": {"hot": {"first_touch": "5m", "escalate": True}}})
    r = Router(section(), reps(), "acme@7", sla)
    # 22:30 in Berlin on a Tuesday: jonas (Europe/Berlin, 09:00-17:00) is due 09:05 the next morning
    late = datetime(2026, 6, 16, 20, 30, tzinfo=UTC)
    done = qualify(engine, [hot("c-late", "Germany")], r, now=late)
    assignment = done.assignments[0]
    assert assignment is not None and assignment.rep_id == "jonas"
    berlin = ZoneInfo("Europe/Berlin")
    assert assignment.sla_due_at is not None
    assert assignment.sla_due_at.astimezone(berlin) == datetime(2026, 6, 17, 9, 5, tzinfo=berlin)
    stored = rows(engine)[0]["sla_due_at"]
    assert stored.replace(tzinfo=stored.tzinfo or UTC) == assignment.sla_due_at
    # a manual re-assignment gets a deadline for the new rep (claire, Europe/Paris, 09:00-18:00)
    with write_lock(engine), engine.begin() as conn:
        moved = reassign(
            conn,
            "chat-c-late",
            to_rep="claire",
            actor="user:1",
            reason="speaks French with the buyer",
            now=late,
            directory=reps(),
            section=section(),
            sla=sla,
        )
    paris = ZoneInfo("Europe/Paris")
    assert moved.sla_due_at is not None
    assert moved.sla_due_at.astimezone(paris) == datetime(2026, 6, 17, 9, 5, tzinfo=paris)
