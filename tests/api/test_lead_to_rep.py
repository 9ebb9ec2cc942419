"""A lead from the API to the rep: decided, routed with its SLA, actions in the outbox, delivered by the
worker to the embedded CRM, and in the rep's inbox, with every step in the work-event chain (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from tests.api.conftest import Api, TestClient
from tests.web.staff_support import create_user, csrf_of, sign_in

from leadgate.actions.worker import build_worker
from leadgate.adapters.embedded import open_tasks
from leadgate.audit.events import iter_events, verify_events
from leadgate.db.acting_models import OutboxRow
from leadgate.policy import load_policy
from leadgate.project import served_policy_path
from leadgate.reps import load_reps
from leadgate.routing import current_assignment
from leadgate.sla import compute_reassign_at
from leadgate.sla.job import sla_job

# An enquiry as a landing-page backend posts it, every pre-decision field of the X Education mapping filled: a
# working professional from India who read the course pages for half an hour (such leads convert far above
# the hot threshold in the X Education data).
LEAD: dict[str, Any] = {
    "lead_id": "web-0002",
    "source": "web_form",
    "email": "kavya.menon@infosys-mail.example",
    "first_name": "Kavya",
    "last_name": "Menon",
    "country": "India",
    "city": "Bangalore",
    "attributes": {
        "lead_number": 660412,
        "lead_origin": "Landing Page Submission",
        "lead_source": "google",
        "do_not_email": False,
        "do_not_call": False,
        "total_visits": 5,
        "total_time_on_site": 1800,
        "page_views_per_visit": 3,
        "specialization": "Finance Management",
        "heard_from": "Online Search",
        "occupation": "Working Professional",
        "what_matters_most": "Better Career Prospects",
        "ad_search": False,
        "ad_magazine": False,
        "ad_newspaper_article": False,
        "ad_forums": False,
        "ad_newspaper": False,
        "ad_digital": False,
        "ad_recommendation": False,
        "wants_course_updates": False,
        "wants_supply_chain_content": False,
        "wants_dm_content": False,
        "agrees_to_pay_by_cheque": False,
        "wants_free_interview_book": False,
    },
}


def _outbox(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxRow.kind, OutboxRow.destination, OutboxRow.status).order_by(OutboxRow.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_lead_flows_from_the_api_to_the_crm_and_the_reps_inbox(
    make_api: Callable[..., Api], engine: Engine
) -> None:
    api = make_api()
    answer = api.client.post("/v1/leads", json=LEAD)
    assert answer.status_code in (200, 201), answer.text
    decision = answer.json()
    assert (decision["tier"], decision["action"]) == ("hot", "route_to_sales"), (
        decision["reasons"],
        decision["score"]["confidence"],
        decision["score"]["scorer"],
    )

    # routed in the decision's transaction: the shipped policy sends India to priya (Asia/Kolkata), 5 min SLA
    with engine.connect() as conn:
        assignment = current_assignment(conn, "web-0002")
    assert assignment is not None
    assert (assignment["rep_id"], assignment["rule"], assignment["rule_id"]) == (
        "priya",
        "territory",
        "by_country",
    )
    assert assignment["decision_id"] == decision["decision_id"] and assignment["sla_due_at"] is not None
    # the CRM contact and the rep's task wait in the outbox for the worker (the default: the embedded CRM)
    assert _outbox(engine) == [("crm_upsert", "embedded", "pending"), ("crm_task", "embedded", "pending")]

    totals = build_worker(engine, api.settings, poll_interval=0.01).run(once=True)
    assert totals["delivered"] == 2
    assert _outbox(engine) == [("crm_upsert", "embedded", "delivered"), ("crm_task", "embedded", "delivered")]
    with engine.connect() as conn:
        tasks = open_tasks(conn, "priya")
    assert [t["lead_id"] for t in tasks] == ["web-0002"]

    # the rep signs in and finds the lead in her inbox, then marks the first touch
    create_user(engine, email="priya.nair@example.com", role="sales_rep", rep_id="priya")
    staff = TestClient(api.client.app)
    assert sign_in(staff, "priya.nair@example.com").status_code == 303
    inbox = staff.get("/staff/inbox")
    assert inbox.status_code == 200 and "Kavya" in inbox.text and "Asia/Kolkata" in inbox.text
    touched = staff.post(
        f"/staff/inbox/{assignment['assignment_id']}/first-touch",
        data={"csrf_token": csrf_of(inbox.text)},
        follow_redirects=False,
    )
    assert touched.status_code == 303
    with engine.connect() as conn:
        kinds = [e["kind"] for e in iter_events(conn, lead_id="web-0002")]
    assert kinds == ["assigned", "first_touch"]
    count, problem = verify_events(engine)
    assert problem is None and count == 2


def test_a_reviewers_tier_change_sends_a_held_lead_to_a_rep_and_the_crm(
    make_api: Callable[..., Api], engine: Engine
) -> None:
    api = make_api()
    # few fields filled: the model is not confident (below the policy's 0.60), so a person confirms it
    sparse = {
        "lead_id": "web-0003",
        "source": "web_form",
        "first_name": "Arjun",
        "country": "India",
        "attributes": {"lead_origin": "Landing Page Submission", "total_time_on_site": 1800},
    }
    decision = api.client.post("/v1/leads", json=sparse).json()
    assert decision["action"] == "human_review" and decision["tier"] != "hot", decision["reasons"]
    with engine.connect() as conn:
        assert current_assignment(conn, "web-0003") is None
    assert _outbox(engine) == []  # held: nothing reaches a rep or a CRM before a person looks

    create_user(engine, email="sofia.lindqvist@example.com", role="sales_manager")
    staff = TestClient(api.client.app)
    assert sign_in(staff, "sofia.lindqvist@example.com").status_code == 303
    page = staff.get("/staff/review/web-0003")
    assert page.status_code == 200
    approved = staff.post(
        "/staff/review/web-0003/tier",
        data={
            "tier": "hot",
            "reason": "Called back: works in finance, wants the MBA this term",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert approved.status_code == 303, approved.text
    with engine.connect() as conn:
        assignment = current_assignment(conn, "web-0003")
        kinds = [e["kind"] for e in iter_events(conn, lead_id="web-0003")]
    assert assignment is not None and assignment["rep_id"] == "priya" and assignment["sla_due_at"] is not None
    assert kinds == ["override", "assigned"]
    assert _outbox(engine) == [("crm_upsert", "embedded", "pending"), ("crm_task", "embedded", "pending")]
    # the same form sent twice changes nothing (one override per decision shown): no second task
    again = staff.post(
        "/staff/review/web-0003/tier",
        data={"tier": "hot", "reason": "double click", "csrf_token": csrf_of(page.text), "seen": "0"},
    )
    assert again.status_code == 409
    assert len(_outbox(engine)) == 2


def test_the_workers_sla_job_escalates_to_the_manager_then_reassigns(
    make_api: Callable[..., Api], engine: Engine, tmp_path: Path
) -> None:
    destinations = tmp_path / "destinations.yaml"
    destinations.write_text(
        "destinations_version: 1\n"
        "destinations:\n"
        "  embedded: {}\n"
        "  slack:\n"
        "    config: {base_url: 'https://leadgate.example.com'}\n"
        "routes:\n"
        "  crm_upsert: [embedded]\n"
        "  crm_task: [embedded]\n"
        "  notify_manager: [slack]\n",
        encoding="utf-8",
    )
    api = make_api(destinations_file=destinations)
    assert api.client.post("/v1/leads", json=LEAD).json()["action"] == "route_to_sales"
    with engine.connect() as conn:
        first = current_assignment(conn, "web-0002")
    assert first is not None and first["rep_id"] == "priya"
    due = first["sla_due_at"].replace(tzinfo=first["sla_due_at"].tzinfo or UTC)

    job = sla_job(api.settings)  # what `leadgate worker` runs every 30 s, on the served policy and reps
    assert job.run(engine, due - timedelta(minutes=1)).escalations == []  # not late yet
    report = job.run(engine, due + timedelta(minutes=2))
    assert [(e.rep_id, e.manager_id) for e in report.escalations] == [("priya", "sofia")]
    assert ("notify_manager", "slack", "pending") in _outbox(engine)
    assert job.run(engine, due + timedelta(minutes=3)).escalations == []  # once only

    policy, reps = load_policy(served_policy_path(api.settings)), load_reps(None)
    priya = reps.get("priya")
    assert policy.sla is not None and priya is not None
    reassign_at = compute_reassign_at(policy.sla, "hot", priya, due, action="route_to_sales")
    assert reassign_at is not None
    moved = job.run(engine, reassign_at + timedelta(minutes=1))
    [change] = moved.reassignments
    assert change.previous_id == first["assignment_id"]
    assert change.assignment.rep_id not in (None, "priya"), change.assignment.reason
    with engine.connect() as conn:
        kinds = [e["kind"] for e in iter_events(conn, lead_id="web-0002")]
    assert kinds == ["assigned", "sla_escalated", "reassigned"]
    assert verify_events(engine)[1] is None
