"""Shared pieces of the SLA scheduler tests: reps, a policy with an SLA section, real decisions and
assignments in the database, and a small real re-assignment helper (the next available rep, stored with
``leadgate.routing.store_assignment``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from leadgate.contracts.action import Action, Assignment
from leadgate.db import store
from leadgate.db.acting_models import AssignmentRow, OutboxRow
from leadgate.db.engine import write_lock
from leadgate.db.store import DECISIONS
from leadgate.policy.loader import load_policy_text
from leadgate.policy.model import Policy
from leadgate.policy.sla_model import SlaSection
from leadgate.reps import RepDirectory, load_reps_text
from leadgate.routing import current_assignment, store_assignment
from leadgate.sla import compute_sla_due

ASSIGNMENTS = AssignmentRow.__table__
OUTBOX = OutboxRow.__table__

REPS_YAML = """\
name: acme-reps
version: 7
teams:
  - {id: emea, name: EMEA sales, manager: sofia}
  - {id: amer, name: Americas sales}
reps:
  - id: anna
    name: Anna Becker
    email: anna.becker@example.com
    timezone: Europe/Berlin
    team: emea
    working_hours:
      mon: ["09:00-12:00", "13:00-17:00"]
      tue: ["09:00-12:00", "13:00-17:00"]
      wed: ["09:00-12:00", "13:00-17:00"]
      thu: ["09:00-12:00", "13:00-17:00"]
      fri: ["09:00-13:00"]
  - id: jonas
    name: Jonas Weber
    email: jonas.weber@example.com
    timezone: Europe/Berlin
    team: emea
    working_hours:
      mon: ["08:00-16:00"]
      tue: ["08:00-16:00"]
      wed: ["08:00-16:00"]
      thu: ["08:00-16:00"]
      fri: ["08:00-14:00"]
  - id: marcus
    name: Marcus Reed
    email: marcus.reed@example.com
    timezone: America/New_York
    team: amer
    working_hours:
      mon: ["08:30-17:30"]
      tue: ["08:30-17:30"]
      wed: ["08:30-17:30"]
      thu: ["08:30-17:30"]
      fri: ["08:30-15:00"]
  - id: sofia
    name: Sofia Lindqvist
    email: sofia.lindqvist@example.com
    timezone: Europe/Stockholm
    active: false
    working_hours:
      mon: ["08:00-17:00"]
"""

POLICY_YAML = """\
policy_version: 1
name: acme
version: 4
tiers: {hot: 0.7, warm: 0.4, nurture: 0.1}
actions: {hot: route_to_sales, warm: route_to_sales, nurture: nurture, disqualified: discard}
sla:
  tiers:
    hot: {first_touch: 5m, escalate: true, reassign_after: 30m}
    warm: {first_touch: 4h, escalate: false, reassign_after: 1h}
  max_reassignments: 1
"""


def directory() -> RepDirectory:
    return load_reps_text(REPS_YAML)


def policy() -> Policy:
    return load_policy_text(POLICY_YAML)


def decide(engine: Engine, lead_id: str, tier: str, decided_at: datetime) -> str:
    """Append a real decision row to the decision chain; returns its id."""
    decision_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "decision_id": decision_id,
        "lead_id": lead_id,
        "decided_at": store.iso(decided_at),
        "input_hash": "a" * 64,
        "feature_set": "acme_leads@1",
        "features": "{}",
        "model_name": "acme",
        "model_version": "3",
        "model_hash": "b" * 64,
        "scorer": "model",
        "fallback_reason": None,
        "probability": {"hot": 0.83, "warm": 0.52, "nurture": 0.2}[tier],
        "confidence": 0.9,
        "fit_score": 71.0,
        "policy_version": "acme@4",
        "tier": tier,
        "action": "nurture" if tier == "nurture" else "route_to_sales",
        "reasons": "[]",
        "review_required": False,
        "actor": "leadgate",
    }
    with write_lock(engine), engine.begin() as conn:
        store.lock_chain(conn)
        store.append_decisions(conn, [row])
    return decision_id


def assign(engine: Engine, lead_id: str, rep_id: str, tier: str, at: datetime) -> Assignment:
    """Decide and assign a lead to ``rep_id`` at ``at``, with the SLA due time of the policy."""
    decision_id = decide(engine, lead_id, tier, at)
    rep = directory().get(rep_id)
    assert rep is not None
    assignment = Assignment(
        assignment_id=str(uuid.uuid4()),
        lead_id=lead_id,
        decision_id=decision_id,
        rep_id=rep_id,
        rule="territory",
        rule_id="dach",
        reason="territory DE: rule dach",
        policy_version="acme@4",
        assigned_at=at,
        sla_due_at=compute_sla_due(policy().sla, tier, rep, at),
    )
    with write_lock(engine), engine.begin() as conn:
        store_assignment(conn, assignment)
    return assignment


def next_rep(
    conn: Connection,
    lead_id: str,
    *,
    to_rep: str | None = None,
    actor: str = "leadgate",
    reason: str,
    now: datetime,
    directory: RepDirectory,
    section: SlaSection | None,
) -> Assignment:
    """A small real re-assignment: the first available rep (file order) who has not had the lead yet."""
    old = current_assignment(conn, lead_id)
    assert old is not None
    tier = conn.execute(
        select(DECISIONS.c.tier).where(DECISIONS.c.decision_id == old["decision_id"])
    ).scalar_one()
    had = set(conn.execute(select(ASSIGNMENTS.c.rep_id).where(ASSIGNMENTS.c.lead_id == lead_id)).scalars())
    pick = (
        directory.get(to_rep)
        if to_rep
        else next((r for r in directory.available(now) if r.id not in had), None)
    )
    new = Assignment(
        assignment_id=str(uuid.uuid4()),
        lead_id=lead_id,
        decision_id=old["decision_id"],
        rep_id=pick.id if pick else None,
        rule="round_robin" if pick else "unassigned",
        rule_id="sla_reassign",
        reason=reason,
        policy_version="acme@4",
        assigned_at=now,
        sla_due_at=compute_sla_due(section, tier, pick, now) if pick else None,
        actor=actor,
    )
    store_assignment(conn, new, supersedes=old["assignment_id"])
    return new


def to_outbox(conn: Connection, action: Action) -> None:
    """Write an action to the outbox table in the caller's transaction (unique on destination + key)."""
    conn.execute(
        insert(OUTBOX),
        {
            "action_id": action.action_id,
            "kind": action.kind,
            "destination": action.destination,
            "lead_id": action.lead_id,
            "decision_id": action.decision_id,
            "idempotency_key": action.idempotency_key,
            "payload": action.model_dump_json(include={"payload"}),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": action.created_at,
            "created_at": action.created_at,
        },
    )
