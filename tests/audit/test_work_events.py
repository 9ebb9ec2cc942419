from datetime import UTC, datetime

import pytest
from sqlalchemy import text

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
