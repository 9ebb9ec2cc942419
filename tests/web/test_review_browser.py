"""The review queue and the rep inbox in real headless Chromium against a real leadgate server.

Leads are decided through the real path (``qualify_leads`` with the served qualifier: the shipped X
Education policy with no registered model, so every decision is a rule-fallback decision the policy sends
to review); assignments are stored with ``store_assignment``, as routing does. Screenshots are saved in
the test's tmp dir (and copied to ``artifacts/``).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, update
from tests.web.conftest import ARTIFACTS, LiveServer
from tests.web.staff_support import PASSWORD, access_events, create_user

from leadgate.audit.events import iter_events
from leadgate.contracts.action import Assignment
from leadgate.contracts.lead import Lead
from leadgate.db import make_engine
from leadgate.db.chat_models import ConversationRow
from leadgate.db.engine import write_lock
from leadgate.db.store import utcnow
from leadgate.pipeline import qualify_leads
from leadgate.review.inbox import get_assignment
from leadgate.routing import current_assignment, store_assignment

ENQUIRY = {
    "lead_origin": "Landing Page Submission",
    "lead_source": "google",
    "do_not_email": False,
    "do_not_call": False,
    "total_visits": 4,
    "total_time_on_site": 1532,
    "page_views_per_visit": 4,
    "country": "India",
    "occupation": "Working Professional",
    "specialization": "Marketing Management",
}


@pytest.fixture
def engine(live_server: LiveServer) -> Iterator[Engine]:
    eng = make_engine(live_server.database_url)
    yield eng
    eng.dispose()


def _decide(live_server: LiveServer, engine: Engine, **person: str) -> tuple[str, str]:
    """One web enquiry stored and decided by the server's qualifier; ``(lead_id, decision_id)``."""
    lg = live_server.app.state.lg
    lead = Lead(lead_id=f"web-{uuid.uuid4().hex[:8]}", source="web_form", attributes=ENQUIRY, **person)
    decision = qualify_leads(engine, lg.qualifier, [lead], personal_attributes=lg.personal_attributes)[0]
    assert decision.review_required  # the shipped policy reviews every rule-fallback decision
    return lead.lead_id, decision.decision_id


def _assign(engine: Engine, lead_id: str, decision_id: str, rep_id: str, due_in: timedelta | None) -> str:
    now = utcnow()
    assignment_id = str(uuid.uuid4())
    with write_lock(engine), engine.begin() as conn:
        current = current_assignment(conn, lead_id)
        store_assignment(
            conn,
            Assignment(
                assignment_id=assignment_id,
                lead_id=lead_id,
                decision_id=decision_id,
                rep_id=rep_id,
                rule="territory",
                reason="territory IN: rule india",
                policy_version="xeducation@1",
                assigned_at=now,
                sla_due_at=now + due_in if due_in is not None else None,
            ),
            supersedes=current["assignment_id"] if current else None,
        )
    return assignment_id


def _sign_in(page: Page, base: str, email: str, target: str) -> None:
    page.goto(base + target)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _shot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    return shot


def _chat_about(live_server: LiveServer, engine: Engine, lead_id: str) -> str:
    """A real chat conversation (public chat API) linked to the lead, as chat qualification links it."""
    with httpx.Client(base_url=live_server.url, trust_env=False) as client:
        opened = client.post("/v1/conversations", json={"timezone": "Asia/Kolkata"}).json()
        r = client.post(
            f"/v1/conversations/{opened['conversation_id']}/messages",
            json={"client_message_id": "c-1", "text": "Do you have a weekend MBA batch starting in January?"},
            headers={"X-Conversation-Token": opened["token"]},
        )
    assert r.status_code == 200, r.text
    table = ConversationRow.__table__
    with engine.begin() as conn:
        conn.execute(
            update(table).where(table.c.conversation_id == opened["conversation_id"]).values(lead_id=lead_id)
        )
    return str(opened["conversation_id"])


def test_a_reviewer_changes_a_tier_with_a_reason(
    new_page: Callable[..., Page], live_server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    manager = create_user(engine, email="sofia.lindqvist@example.com", role="sales_manager")
    lead_id, decision_id = _decide(
        live_server, engine, email="neha.iyer@example.in", first_name="Neha", last_name="Iyer"
    )
    cid = _chat_about(live_server, engine, lead_id)
    _assign(engine, lead_id, decision_id, "priya", timedelta(minutes=25))

    page = new_page()
    _sign_in(page, live_server.url, "sofia.lindqvist@example.com", "/staff/review")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    row = page.locator(f'tr[data-lead="{lead_id}"]')
    expect(row).to_contain_text("flagged by the policy")
    expect(row).to_contain_text("human_review")
    expect(row).to_contain_text("priya (territory): territory IN: rule india")
    expect(row).to_contain_text("due in 2")  # 25 minutes less the seconds the test took
    expect(row.get_by_role("list", name="Top factors").locator("li").first).to_be_visible()
    _shot(page, tmp_path, "review-queue.png")

    row.get_by_role("link", name=lead_id).click()
    expect(page.get_by_role("heading", name=f"Lead {lead_id}")).to_be_visible()
    expect(page.get_by_role("list", name="Transcript")).to_contain_text("weekend MBA batch")
    expect(page.get_by_role("table", name="History")).to_contain_text("assigned")
    expect(page.get_by_text("neha.iyer@example.in")).to_be_visible()

    # no reason: refused on the page, nothing recorded
    form = page.get_by_role("form", name="Change tier")
    form.get_by_label("New tier", exact=True).select_option("nurture")
    form.get_by_role("button", name="Change tier").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Give a reason: every override is recorded with the reviewer and why."
    )
    with engine.connect() as conn:
        assert list(iter_events(conn, lead_id=lead_id, kind="override")) == []
    _shot(page, tmp_path, "review-reason-refused.png")

    form = page.get_by_role("form", name="Change tier")
    form.get_by_label("New tier", exact=True).select_option("nurture")
    form.get_by_label("Reason for the new tier").fill("Still at university, wants the brochure only (chat)")
    form.get_by_role("button", name="Change tier").click()
    expect(page.get_by_role("status")).to_contain_text(f"Recorded your review of lead {lead_id}")
    expect(page.locator(f'tr[data-lead="{lead_id}"]')).to_have_count(0)  # it left the queue
    _shot(page, tmp_path, "review-done.png")

    with engine.connect() as conn:
        overrides = list(iter_events(conn, lead_id=lead_id, kind="override"))
    assert len(overrides) == 1
    event = overrides[0]
    assert (event["actor"], event["decision_id"]) == (manager.subject, decision_id)
    assert event["reason"] == "Still at university, wants the brochure only (chat)"
    assert event["data"]["kind"] == "tier"
    assert (event["data"]["before"]["tier"], event["data"]["after"]) == (
        "hot",
        {"tier": "nurture", "action": "nurture", "rep_id": "priya"},
    )
    audit = access_events(engine, actor=manager.subject, action="override")
    assert [a["object_ids"] for a in audit] == [[lead_id]]
    assert audit[0]["role"] == "sales_manager" and audit[0]["detail"]["after"]["tier"] == "nurture"
    reads = access_events(engine, actor=manager.subject, action="read_pii")
    assert [lead_id] in [r["object_ids"] for r in reads] and [cid] in [r["object_ids"] for r in reads]


def test_a_rep_works_only_their_own_inbox_by_deadline(
    new_page: Callable[..., Page], live_server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    anna = create_user(engine, email="anna.becker@example.com", role="sales_rep", rep_id="anna")
    soon_id, soon_decision = _decide(
        live_server,
        engine,
        email="k.weber@example.de",
        first_name="Klaus",
        last_name="Weber",
        company="Weber AG",
    )
    late_id, late_decision = _decide(
        live_server, engine, email="l.roth@example.de", first_name="Lena", last_name="Roth"
    )
    other_id, other_decision = _decide(live_server, engine, email="j.diaz@example.com", first_name="Juan")
    soon = _assign(engine, soon_id, soon_decision, "anna", timedelta(minutes=20))
    late = _assign(engine, late_id, late_decision, "anna", -timedelta(hours=2, minutes=5))
    _assign(engine, other_id, other_decision, "marcus", -timedelta(hours=5))

    page = new_page()
    _sign_in(page, live_server.url, "anna.becker@example.com", "/staff/inbox")
    expect(page.get_by_role("heading", name="My inbox")).to_be_visible()
    rows = page.get_by_role("table", name="Open leads").locator("tbody tr")
    expect(rows).to_have_count(2)  # Marcus's lead is not here
    expect(rows.nth(0)).to_have_attribute("data-lead", late_id)  # overdue first
    expect(rows.nth(0).locator(".due")).to_have_text("overdue by 2 h")
    expect(rows.nth(1).locator(".due")).to_contain_text("due in 1")  # 20 minutes less the test's seconds
    expect(rows.nth(1)).to_contain_text("Klaus Weber, Weber AG")
    expect(rows.nth(1)).to_contain_text("k.weber@example.de")
    expect(page.get_by_text("times in Europe/Berlin")).to_be_visible()
    assert "j.diaz@example.com" not in page.content()
    _shot(page, tmp_path, "inbox.png")

    rows.nth(0).get_by_role("button", name=f"Mark first touch of {late_id}").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-lead", soon_id)
    with engine.connect() as conn:
        touched = get_assignment(conn, late)
        touches = [e for e in iter_events(conn, lead_id=late_id, kind="first_touch")]
        assert get_assignment(conn, soon)["status"] == "open"
    assert touched["status"] == "touched" and touched["first_touch_at"] is not None
    assert [(e["actor"], e["data"]["sla_met"]) for e in touches] == [(anna.subject, False)]
    reads = access_events(engine, actor=anna.subject, action="read_pii")
    assert [late_id, soon_id] in [r["object_ids"] for r in reads]

    # a rep may not review, nor open another rep's inbox, nor touch another rep's lead
    assert page.goto(live_server.url + "/staff/review").status == 403  # type: ignore[union-attr]
    assert page.goto(live_server.url + "/staff/inbox?rep=marcus").status == 404  # type: ignore[union-attr]
    page.goto(live_server.url + "/staff/inbox")
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)


def test_a_reassigned_lead_moves_to_the_other_reps_inbox(
    new_page: Callable[..., Page], live_server: LiveServer, engine: Engine, tmp_path: Path
) -> None:
    reviewer = create_user(engine, email="omar.haddad@example.com", role="reviewer")
    create_user(engine, email="marcus.reed@example.com", role="sales_rep", rep_id="marcus")
    lead_id, decision_id = _decide(
        live_server, engine, email="ana.souza@example.com.br", first_name="Ana", last_name="Souza"
    )
    first = _assign(engine, lead_id, decision_id, "priya", timedelta(minutes=40))

    page = new_page()
    _sign_in(page, live_server.url, "omar.haddad@example.com", f"/staff/review/{lead_id}")
    expect(page.get_by_role("heading", name=f"Lead {lead_id}")).to_be_visible()
    form = page.get_by_role("form", name="Re-assign")
    form.get_by_label("Re-assign to", exact=True).select_option("marcus")
    form.get_by_label("Reason to re-assign").fill("Writes from São Paulo: Marcus covers Brazil")
    form.get_by_role("button", name="Re-assign").click()
    expect(page.get_by_role("status")).to_contain_text(lead_id)

    with engine.connect() as conn:
        now_assigned = current_assignment(conn, lead_id)
        assert get_assignment(conn, first)["status"] == "reassigned"
    assert now_assigned is not None
    assert (now_assigned["rep_id"], now_assigned["rule"], now_assigned["actor"]) == (
        "marcus",
        "manual",
        reviewer.subject,
    )

    rep = new_page()
    _sign_in(rep, live_server.url, "marcus.reed@example.com", "/staff/inbox")
    rows = rep.get_by_role("table", name="Open leads").locator("tbody tr")
    expect(rep.locator(f'tr[data-lead="{lead_id}"]')).to_have_count(1)
    expect(rep.locator(f'tr[data-lead="{lead_id}"]')).to_contain_text("manual: Writes from São Paulo")
    expect(rep.get_by_text("times in America/New_York")).to_be_visible()
    assert rows.count() >= 1
    _shot(rep, tmp_path, "inbox-reassigned.png")
