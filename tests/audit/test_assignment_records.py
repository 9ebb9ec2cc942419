from datetime import UTC, datetime, timedelta

from leadgate.audit.events import iter_events, verify_events
from leadgate.contracts.action import Assignment
from leadgate.routing import current_assignment, store_assignment


def _assignment(aid: str, rep: str, at: datetime, rule: str = "territory") -> Assignment:
    return Assignment(
        assignment_id=aid,
        lead_id="lead-7",
        decision_id="d-1",
        rep_id=rep,
        rule=rule,  # type: ignore[arg-type]
        rule_id="dach" if rule == "territory" else None,
        reason="country DE is in territory rule dach",
        policy_version="acme@3",
        assigned_at=at,
        sla_due_at=at + timedelta(minutes=5),
    )


def test_reassignment_supersedes_and_both_are_chained(engine):
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        store_assignment(conn, _assignment("a1", "anna", at))
    with engine.begin() as conn:
        manual = _assignment("a2", "marcus", at + timedelta(hours=1), rule="manual")
        store_assignment(conn, manual.model_copy(update={"actor": "user:3"}), supersedes="a1")
    with engine.connect() as conn:
        latest = current_assignment(conn, "lead-7")
        events = list(iter_events(conn, lead_id="lead-7"))
        assert current_assignment(conn, "nobody") is None
    assert latest is not None and latest["rep_id"] == "marcus" and latest["status"] == "open"
    assert [e["kind"] for e in events] == ["assigned", "reassigned"]
    assert events[1]["actor"] == "user:3" and events[1]["data"]["supersedes"] == "a1"
    with engine.connect() as conn:
        from sqlalchemy import text

        assert (
            conn.execute(text("SELECT status FROM assignments WHERE assignment_id='a1'")).scalar()
            == "reassigned"
        )
    assert verify_events(engine) == (2, None)
