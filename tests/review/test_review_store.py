"""The review queue, overrides, re-assignment, the rep inbox and first touch, on SQLite and PostgreSQL.

Leads are stored and decided through the real path (``qualify_leads``); assignments through
``store_assignment``; the audit records are read back from the work-event chain and the access log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from tests.review.support import assign, lead, qualifier

from leadgate.audit.access import iter_access, verify_access_log
from leadgate.audit.events import iter_events, verify_events
from leadgate.db.engine import write_lock
from leadgate.db.store import LEADS
from leadgate.pipeline import qualify_leads
from leadgate.review.inbox import get_assignment, rep_inbox
from leadgate.review.rules import ReviewCriteria, ReviewError
from leadgate.review.store import (
    NotFound,
    ReviewConflict,
    lead_history,
    override,
    review_item,
    review_queue,
)
from leadgate.routing import current_assignment
from leadgate.sla import SlaError, mark_first_touch

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(
    hours=12
)  # after the decisions, however long the run
FLAGGED_ONLY = ReviewCriteria(min_confidence=0.0, high_value_probability=None)
ACTIONS = {"hot": "route_to_sales", "warm": "route_to_sales", "nurture": "nurture", "disqualified": "discard"}
REPS = frozenset({"anna", "marcus", "priya"})


def _decide(engine: Engine) -> dict[str, str]:
    """Three web-form leads (one typed in by sales, so flagged) and two typed-in ones; lead -> decision id."""
    leads = [
        lead(
            "xe-1001", email="ravi.k@example.in", first_name="Ravi", last_name="Kumar", company="Infra Labs"
        ),
        lead("xe-1002", "Lead Add Form", email="meera.s@example.in", first_name="Meera", last_name="Shah"),
        lead("xe-1003", "API"),
        lead("xe-1004", "Lead Add Form"),
        lead("xe-1005", "Lead Add Form"),
    ]
    decisions = qualify_leads(engine, qualifier(engine), leads)
    return {d.lead_id: d.decision_id for d in decisions}


def _override(engine: Engine, lead_id: str, kind: str, reason: str | None, **kw: object):  # type: ignore[no-untyped-def]
    return override(
        engine,
        lead_id,
        kind,
        actions=ACTIONS,
        actor="user:7",
        role="sales_manager",
        route=f"/staff/review/{{lead_id}}/{kind}",
        reason=reason,
        now=NOW,
        known_reps=REPS,
        criteria=FLAGGED_ONLY,
        **kw,  # type: ignore[arg-type]
    )


def _queue_ids(engine: Engine, criteria: ReviewCriteria = FLAGGED_ONLY, **kw: object) -> list[str]:
    with engine.connect() as conn:
        return [i.lead_id for i in review_queue(conn, criteria, **kw).items]  # type: ignore[arg-type]


def test_the_queue_holds_flagged_leads_until_a_reviewer_acts(engine: Engine) -> None:
    ids = _decide(engine)
    assert _queue_ids(engine) == ["xe-1005", "xe-1004", "xe-1002"]  # newest decision first
    with engine.connect() as conn:
        page = review_queue(conn, FLAGGED_ONLY, per_page=2, page=2)
    assert (page.total, page.pages, [i.lead_id for i in page.items]) == (3, 2, ["xe-1002"])
    item = page.items[0]
    assert (item.tier, item.action, item.why) == ("hot", "human_review", ["flagged by the policy"])
    assert any("typed_in_by_sales" in r for r in item.reasons)
    assert item.factors is not None and item.factors["positive"]  # the stored explanation (inline)

    plan, _ = _override(engine, "xe-1002", "approve", "Called her back, genuine enquiry for the MBA")
    assert plan.after == {"tier": "hot", "action": "route_to_sales", "rep_id": None}
    assert _queue_ids(engine) == ["xe-1005", "xe-1004"]

    with engine.connect() as conn:
        events = list(iter_events(conn, lead_id="xe-1002", kind="override"))
        access = list(iter_access(conn, action="override", object_id="xe-1002"))
        after = review_item(conn, "xe-1002", FLAGGED_ONLY)
        assert verify_access_log(conn)[1] is None
    assert len(events) == 1 and len(access) == 1
    event = events[0]
    assert (event["actor"], event["reason"], event["decision_id"]) == (
        "user:7",
        "Called her back, genuine enquiry for the MBA",
        ids["xe-1002"],
    )
    assert event["data"]["before"]["action"] == "human_review"
    assert event["data"]["after"]["action"] == "route_to_sales"
    assert (access[0]["actor"], access[0]["role"], access[0]["detail"]["kind"]) == (
        "user:7",
        "sales_manager",
        "approve",
    )
    assert access[0]["detail"]["decision_id"] == ids["xe-1002"]
    assert "Called her back" not in str(access[0])  # free text stays in the work event only
    assert (after.action, after.overridden) == ("route_to_sales", True)
    assert verify_events(engine)[1] is None


def test_an_override_without_reason_stores_nothing(engine: Engine) -> None:
    _decide(engine)
    for reason in ("", "   "):
        with pytest.raises(ReviewError, match="Give a reason"):
            _override(engine, "xe-1004", "tier", reason, new_tier="nurture")
    with pytest.raises(NotFound):
        _override(engine, "xe-9999", "approve", "no such lead here")
    with engine.connect() as conn:
        assert list(iter_events(conn, kind="override")) == []
        assert list(iter_access(conn, action="override")) == []
    assert "xe-1004" in _queue_ids(engine)


def test_a_tier_change_sets_the_action_from_the_policy(engine: Engine) -> None:
    _decide(engine)
    plan, _ = _override(engine, "xe-1004", "tier", "Student, asked for a brochure only", new_tier="nurture")
    assert (plan.before["tier"], plan.after["tier"], plan.after["action"]) == ("hot", "nurture", "nurture")
    with engine.connect() as conn:
        item = review_item(conn, "xe-1004", FLAGGED_ONLY)
        history = lead_history(conn, "xe-1004")
    assert (item.tier, item.action, item.decided_tier, item.decided_action) == (
        "nurture",
        "nurture",
        "hot",
        "human_review",
    )
    assert [h.kind for h in history] == ["decision", "override"]
    assert history[1].summary == "tier: tier hot -> nurture; action human_review -> nurture"
    # the same tier again is refused: nothing would change
    with pytest.raises(ReviewError, match="already nurture"):
        _override(engine, "xe-1004", "tier", "once more", new_tier="nurture")


def test_a_reassigned_lead_moves_to_the_other_reps_inbox(engine: Engine) -> None:
    ids = _decide(engine)
    due = NOW + timedelta(minutes=5)
    first = assign(engine, "xe-1002", ids["xe-1002"], "anna", NOW - timedelta(minutes=1), due)
    with engine.connect() as conn:
        assert [i.item.lead_id for i in rep_inbox(conn, "anna")] == ["xe-1002"]
    _override(engine, "xe-1002", "reassign", "Speaks Hindi, Priya takes Indian enquiries", new_rep="priya")
    with engine.connect() as conn:
        anna, priya = rep_inbox(conn, "anna"), rep_inbox(conn, "priya")
        now_assigned = current_assignment(conn, "xe-1002")
        owner = conn.execute(select(LEADS.c.owner).where(LEADS.c.lead_id == "xe-1002")).scalar_one()
        kinds = [e["kind"] for e in iter_events(conn, lead_id="xe-1002")]
    assert anna == [] and [i.item.lead_id for i in priya] == ["xe-1002"]
    assert priya[0].lead is not None and priya[0].lead["email"] == "meera.s@example.in"  # decrypted
    assert now_assigned is not None
    assert (now_assigned["rep_id"], now_assigned["rule"], now_assigned["actor"]) == (
        "priya",
        "manual",
        "user:7",
    )
    assert now_assigned["reason"] == "Speaks Hindi, Priya takes Indian enquiries"
    assert priya[0].due == due  # the buyer's deadline is kept
    assert owner == "priya"
    assert kinds == ["assigned", "override", "reassigned"]
    with engine.connect() as conn:
        assert get_assignment(conn, first)["status"] == "reassigned"
    assert "xe-1002" not in _queue_ids(engine)
    assert verify_events(engine)[1] is None


def test_the_inbox_is_ordered_by_deadline_and_first_touch_is_recorded_once(engine: Engine) -> None:
    ids = _decide(engine)
    at = NOW - timedelta(hours=3)
    a = assign(engine, "xe-1001", ids["xe-1001"], "marcus", at, NOW + timedelta(minutes=30))
    b = assign(engine, "xe-1003", ids["xe-1003"], "marcus", at, NOW - timedelta(hours=2))  # overdue
    c = assign(engine, "xe-1005", ids["xe-1005"], "marcus", at, None)  # no SLA: last
    assign(engine, "xe-1004", ids["xe-1004"], "anna", at, NOW - timedelta(hours=5))  # another rep's
    with engine.connect() as conn:
        inbox = rep_inbox(conn, "marcus")
    assert [i.assignment["assignment_id"] for i in inbox] == [b, a, c]
    assert inbox[1].lead is not None and inbox[1].lead["first_name"] == "Ravi"

    with write_lock(engine), engine.begin() as conn:
        mark_first_touch(conn, b, actor="user:12", at=NOW)
    with engine.connect() as conn:
        assert [i.assignment["assignment_id"] for i in rep_inbox(conn, "marcus")] == [a, c]
        touches = list(iter_events(conn, kind="first_touch"))
        row = get_assignment(conn, b)
    assert row["status"] == "touched" and row["first_touch_at"] is not None
    assert len(touches) == 1
    assert (touches[0]["actor"], touches[0]["lead_id"]) == ("user:12", "xe-1003")
    assert touches[0]["data"]["sla_met"] is False and touches[0]["data"]["rep_id"] == "marcus"
    with pytest.raises(SlaError, match="is touched"), write_lock(engine), engine.begin() as conn:
        mark_first_touch(conn, b, actor="user:12", at=NOW)
    with engine.connect() as conn:
        assert len(list(iter_events(conn, kind="first_touch"))) == 1


def test_low_confidence_and_high_value_leads_join_the_queue(engine: Engine) -> None:
    _decide(engine)
    # every lead here is hot with probability 0.95 and confidence 0.2 (the rule fallback)
    high_value = ReviewCriteria(min_confidence=0.0, high_value_probability=0.9)
    assert _queue_ids(engine, high_value) == ["xe-1005", "xe-1004", "xe-1003", "xe-1002", "xe-1001"]
    assert _queue_ids(engine, ReviewCriteria(min_confidence=0.0, high_value_probability=0.96)) == [
        "xe-1005",
        "xe-1004",
        "xe-1002",
    ]
    low = ReviewCriteria(min_confidence=0.5, high_value_probability=None)
    with engine.connect() as conn:
        items = review_queue(conn, low).items
    assert len(items) == 5
    assert items[2].lead_id == "xe-1003" and items[2].why == ["confidence 0.20 below 0.50"]


def test_urgent_order_puts_the_earliest_deadline_first(engine: Engine) -> None:
    ids = _decide(engine)
    assign(engine, "xe-1002", ids["xe-1002"], "anna", NOW, NOW + timedelta(minutes=50))
    assign(engine, "xe-1004", ids["xe-1004"], "anna", NOW, NOW + timedelta(minutes=5))
    assert _queue_ids(engine, order="urgent") == ["xe-1004", "xe-1002", "xe-1005"]
    with pytest.raises(ReviewError, match="unknown order"):
        _queue_ids(engine, order="oldest")


def test_two_reviewers_at_once_store_one_override(engine: Engine) -> None:
    import threading

    _decide(engine)
    with engine.connect() as conn:
        seen = review_item(conn, "xe-1005", FLAGGED_ONLY).overrides
    assert seen == 0
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def review(reason: str, tier: str) -> None:
        start.wait()
        try:
            _override(engine, "xe-1005", "tier", reason, new_tier=tier, seen=seen)
            outcomes.append("stored")
        except ReviewConflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=review, args=("Enterprise account, keep hot but check", "warm")),
        threading.Thread(target=review, args=("Looks like a student to me", "nurture")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "stored"]
    with engine.connect() as conn:
        assert len(list(iter_events(conn, kind="override"))) == 1
        assert len(list(iter_access(conn, action="override"))) == 1
        assert review_item(conn, "xe-1005", FLAGGED_ONLY).overrides == 1
    # the same form sent again (stale ``seen``) changes nothing either
    with pytest.raises(ReviewConflict):
        _override(engine, "xe-1005", "approve", "approve after all", seen=0)
    assert verify_events(engine)[1] is None
