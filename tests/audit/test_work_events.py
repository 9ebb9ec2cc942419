from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from tests.cli_support import wide_console  # noqa: F401 (fixture)

from leadgate.audit.events import WorkEventError, append_event, iter_events, verify_events


def test_chain_appends_and_detects_tampering(engine):
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        append_event(
            conn,
            kind="assigned",
            lead_id="L1",
            at=at,
            actor="leadgate",
            reason="territory DE",
            data={"rep_id": "anna"},
        )
        append_event(
            conn,
            kind="override",
            lead_id="L1",
            at=at,
            actor="user:1",
            reason="knows the buyer",
            data={"tier": ["warm", "hot"]},
        )
    assert verify_events(engine) == (2, None)
    with engine.begin() as conn:
        assert [e["kind"] for e in iter_events(conn, lead_id="L1")] == ["assigned", "override"]
        conn.execute(text("UPDATE work_events SET reason='x' WHERE kind='override'"))
    n, problem = verify_events(engine)
    assert n == 2 and "changed" in problem
    with engine.begin() as conn, pytest.raises(WorkEventError):
        append_event(conn, kind="nope", lead_id="L1", at=at, actor="leadgate", reason="")


@pytest.mark.usefixtures("wide_console")
def test_audit_verify_covers_the_work_event_log(db_url, engine):
    from tests.cli_support import run

    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        append_event(conn, kind="assigned", lead_id="L9", at=at, actor="leadgate", reason="round robin")
        append_event(conn, kind="sla_escalated", lead_id="L9", at=at, actor="leadgate", reason="5 min late")
    assert "work-event log intact: 2 events" in run("audit", "verify", "--database-url", db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM work_events WHERE kind = 'sla_escalated'"))
    out = run("audit", "verify", "--database-url", db_url, code=1)
    assert "work-event log" in out and "removed" in out
