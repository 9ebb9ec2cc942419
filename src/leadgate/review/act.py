"""What a reviewer's override sets in motion: routing and the outbox, in the override's transaction.

    override (approve | tier | reassign) --effective tier and action--> route if sales and unassigned
        --> enqueue_decided(decision as overridden, assignment in force) --> outbox (CRM, rep notification, nurture)

A ``human_review`` decision plans no action when it is stored; the reviewer's approval (or tier change) is
what lets it reach a rep and a CRM. Keys are those of the planner (``actions.planning``): an action already
planned for the decision (an approved ``route_to_sales`` lead) is not stored twice, and a re-assignment plans
the task and notification of the new rep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Table, select

from leadgate.actions.act import enqueue_decided
from leadgate.actions.planning import Routes
from leadgate.contracts.action import Action, Assignment
from leadgate.db.models import DecisionRow
from leadgate.db.rows import decision_from_row
from leadgate.review.rules import OverridePlan
from leadgate.routing import Router, current_assignment, reassign
from leadgate.routing.records import OPEN_STATUSES

DECISIONS: Final[Table] = DecisionRow.__table__  # type: ignore[assignment]


def act_on_override(
    conn: Connection,
    *,
    lead_id: str,
    decision_id: str,
    plan: OverridePlan,
    router: Router | None,
    routes: Routes | None,
    actor: str,
    now: datetime,
) -> list[Action]:
    """Route the lead when the override sends it to sales unassigned, then plan and enqueue its actions.

    Args:
        conn: the override's transaction (SQLite: under ``write_lock``).
        lead_id: the lead.
        decision_id: the decision overridden.
        plan: the override (its ``after`` tier and action are in force from now on).
        router: the served router (None: nobody is assigned here).
        routes: action kind -> destinations (None: nothing is enqueued).
        actor: the reviewer (``user:<id>``), recorded on an assignment made here.
        now: the override time (aware).

    Returns:
        The actions planned (those already in the outbox are not stored twice).
    """
    row = conn.execute(select(DECISIONS).where(DECISIONS.c.decision_id == decision_id)).mappings().first()
    if row is None or routes is None:
        return []
    tier, action = str(plan.after["tier"]), str(plan.after["action"])
    # a person has now reviewed it: the decision as overridden, no longer waiting for review
    decision = decision_from_row(dict(row), None).model_copy(
        update={"tier": tier, "action": action, "review_required": False}
    )
    current: dict[str, Any] | None = current_assignment(conn, lead_id)
    assignment: Assignment | None = None
    if current is not None and current["status"] in (*OPEN_STATUSES, "touched"):
        assignment = Assignment(
            assignment_id=current["assignment_id"],
            lead_id=lead_id,
            decision_id=current["decision_id"],
            rep_id=current["rep_id"],
            rule=current["rule"],
            rule_id=current["rule_id"],
            reason=current["reason"],
            policy_version=current["policy_version"],
            assigned_at=current["assigned_at"],
            sla_due_at=current["sla_due_at"],
            actor=current["actor"],
        )
    elif action == "route_to_sales" and router is not None:
        assignment = reassign(
            conn,
            lead_id,
            to_rep=None,
            actor=actor,
            reason=f"sent to sales by a reviewer ({plan.kind})",
            now=now,
            directory=router.directory,
            section=router.section,
            policy_ref=router.policy_ref,
            sla=router.sla,
            tier=tier,
            action=action,
        )
    reps = router.directory if router is not None else None
    return enqueue_decided(conn, [decision], [assignment], routes, now=now, reps=reps)
