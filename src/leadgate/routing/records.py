"""The one writer of assignment rows: store an ``Assignment`` and chain its work event, in the caller's txn.

Routing, the SLA scheduler (re-assignment) and reviewers (manual re-assignment) all store assignments
through ``store_assignment``, so every assignment has its row, closes the one it supersedes and has its
``assigned`` / ``reassigned`` event in the work-event chain (``leadgate.audit.events``).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, Table, insert, select, update

from leadgate.audit.events import append_event
from leadgate.contracts.action import Assignment
from leadgate.db.acting_models import AssignmentRow

ASSIGNMENTS: Final[Table] = AssignmentRow.__table__  # type: ignore[assignment]
OPEN_STATUSES = ("open", "escalated")
"""Statuses of an assignment that is still in force (not touched, superseded or closed)."""


def store_assignment(
    conn: Connection,
    assignment: Assignment,
    *,
    supersedes: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Insert ``assignment`` and append its work event, inside the caller's transaction.

    Args:
        conn: a connection in a write transaction (SQLite: under ``write_lock``).
        assignment: the assignment to store (status ``open``).
        supersedes: the ``assignment_id`` it replaces (a re-assignment): that row gets status
            ``reassigned`` and the event kind is ``reassigned`` instead of ``assigned``.
        data: extra JSON-able facts for the event (never personal data).
    """
    conn.execute(
        insert(ASSIGNMENTS),
        {
            "assignment_id": assignment.assignment_id,
            "lead_id": assignment.lead_id,
            "decision_id": assignment.decision_id,
            "rep_id": assignment.rep_id,
            "rule": assignment.rule,
            "rule_id": assignment.rule_id,
            "reason": assignment.reason,
            "policy_version": assignment.policy_version,
            "assigned_at": assignment.assigned_at,
            "sla_due_at": assignment.sla_due_at,
            "first_touch_at": None,
            "status": "open",
            "actor": assignment.actor,
        },
    )
    if supersedes is not None:
        conn.execute(
            update(ASSIGNMENTS).where(ASSIGNMENTS.c.assignment_id == supersedes).values(status="reassigned")
        )
    facts = {
        "assignment_id": assignment.assignment_id,
        "rep_id": assignment.rep_id,
        "rule": assignment.rule,
        "rule_id": assignment.rule_id,
        "sla_due_at": assignment.sla_due_at.isoformat() if assignment.sla_due_at else None,
        **({"supersedes": supersedes} if supersedes else {}),
        **(data or {}),
    }
    append_event(
        conn,
        kind="reassigned" if supersedes else "assigned",
        lead_id=assignment.lead_id,
        decision_id=assignment.decision_id,
        at=assignment.assigned_at,
        actor=assignment.actor,
        reason=assignment.reason,
        data=facts,
    )


def current_assignment(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """The lead's latest assignment row (any status) as a dict, or None when it was never assigned."""
    row = (
        conn.execute(
            select(ASSIGNMENTS)
            .where(ASSIGNMENTS.c.lead_id == lead_id)
            .order_by(ASSIGNMENTS.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
