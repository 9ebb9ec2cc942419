"""The rep's first touch on an assignment: stops its SLA clock and records whether the SLA was met.

rep marks first touch (rep inbox) --mark_first_touch--> status touched, first_touch_at, first_touch event
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from leadgate.audit.events import append_event
from leadgate.sla.scheduler import ASSIGNMENTS, SlaError, _stored, _utc


def mark_first_touch(conn: Connection, assignment_id: str, *, actor: str, at: datetime) -> dict[str, Any]:
    """Record the rep's first touch on an assignment (status ``touched``, ``first_touch`` work event).

    Idempotent per assignment: a second call on a touched assignment raises, nothing is changed.

    Args:
        conn: a connection in a write transaction (SQLite: under ``write_lock``).
        assignment_id: the assignment touched.
        actor: who touched it (``user:<id>``).
        at: when (timezone-aware).

    Returns:
        ``{"assignment_id", "lead_id", "rep_id", "first_touch_at", "sla_due_at", "sla_met",
        "minutes_early"}``: ``sla_met`` None when the assignment had no SLA; ``minutes_early`` whole minutes
        before the due time (negative: that many minutes late), None without SLA.

    Raises:
        SlaError: no such assignment, or its status is not ``open`` / ``escalated`` (already touched,
            re-assigned or closed).
        ValueError: ``at`` is naive.
    """
    at = _utc(at)
    row = (
        conn.execute(select(ASSIGNMENTS).where(ASSIGNMENTS.c.assignment_id == assignment_id))
        .mappings()
        .first()
    )
    if row is None:
        raise SlaError(f"no assignment {assignment_id!r}")
    changed = conn.execute(
        update(ASSIGNMENTS)
        .where(
            ASSIGNMENTS.c.assignment_id == assignment_id,
            ASSIGNMENTS.c.status.in_(("open", "escalated")),
            ASSIGNMENTS.c.first_touch_at.is_(None),
        )
        .values(status="touched", first_touch_at=at)
    ).rowcount
    if changed != 1:
        raise SlaError(
            f"assignment {assignment_id} is {row['status']}: only an open or escalated one is touched"
        )
    due = _stored(row["sla_due_at"])
    early = None if due is None else int((due - at).total_seconds() // 60)
    met = None if due is None else at <= due
    result = {
        "assignment_id": assignment_id,
        "lead_id": row["lead_id"],
        "rep_id": row["rep_id"],
        "first_touch_at": at,
        "sla_due_at": due,
        "sla_met": met,
        "minutes_early": early,
    }
    append_event(
        conn,
        kind="first_touch",
        lead_id=row["lead_id"],
        decision_id=row["decision_id"],
        at=at,
        actor=actor,
        reason="first touch" if met is None else ("SLA met" if met else "SLA missed"),
        data={
            "assignment_id": assignment_id,
            "rep_id": row["rep_id"],
            "sla_due_at": due.isoformat() if due else None,
            "sla_met": met,
            "minutes_early": early,
            "escalated": row["status"] == "escalated",
        },
    )
    return result
