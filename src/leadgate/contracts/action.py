"""Acting contracts: ``Assignment`` (v1), who works a decided lead, and ``Action`` (v1), one effect to deliver.

A ``Decision`` (``contracts.decision``) says what should happen to a lead; an ``Assignment`` says which rep
owns it, chosen by which routing rule and why, and by when the first touch is due (the SLA); an ``Action``
is one downstream effect (a CRM record or task, a notification, a nurture trigger, an invite) written to the
outbox in the same transaction as the decision and delivered by ``leadgate worker``.

Both are pure values: the routing engine and the action planner return them, the services store them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

ActionKind = Literal[
    "crm_upsert",  # create or update the lead / contact (and company) in a CRM
    "crm_task",  # a follow-up task for the assigned rep in a CRM
    "notify_rep",  # tell the assigned rep (email, Slack-compatible webhook)
    "notify_manager",  # an escalation (SLA missed) to the rep's manager
    "nurture",  # hand the lead to marketing automation (signed webhook with tier and reasons)
    "invite",  # a meeting invite (the ICS of a booked demo)
]
"""What an action does; a destination declares which kinds it accepts."""

AssignmentRule = Literal["existing_owner", "territory", "round_robin", "booking", "manual", "unassigned"]
"""Which step of the routing section chose the rep (``manual`` for a reviewer's re-assignment)."""


class Assignment(BaseModel):
    """Contract ``assignment/v1``: the rep who owns a decided lead, and why.

    Attributes:
        assignment_id: unique id of this assignment.
        lead_id, decision_id: the lead and the decision that routed it.
        rep_id: the rep (``reps.yaml`` id), or None when no rep was available (rule ``unassigned``).
        rule: the routing step that chose the rep (``AssignmentRule``).
        rule_id: the id of the policy rule that matched (a territory rule's id), or None.
        reason: the plain-words why ("owner of the lead's account", "territory DE: rule dach",
            "round robin among 3 available reps, weights 2:1:1").
        policy_version: ``name@version`` of the policy whose routing section was applied.
        assigned_at: when (UTC).
        sla_due_at: the first-touch deadline (UTC), or None when the policy sets no SLA for this tier.
        actor: ``leadgate`` for automatic routing, else the principal's subject (``user:<id>``).
    """

    model_config = _FROZEN
    schema_version: Literal["assignment/v1"] = "assignment/v1"
    assignment_id: str
    lead_id: str
    decision_id: str
    rep_id: str | None
    rule: AssignmentRule
    rule_id: str | None = None
    reason: str
    policy_version: str
    assigned_at: datetime
    sla_due_at: datetime | None = None
    actor: str = "leadgate"


class Action(BaseModel):
    """Contract ``action/v1``: one downstream effect, as written to the outbox.

    The payload holds references and decision facts (ids, tier, reasons, rep id), never personal data:
    the dispatcher reads the lead's current (decrypted) fields when it delivers, so an erased lead is never
    sent on from a stale copy.

    Attributes:
        action_id: unique id of this action.
        kind: ``ActionKind``.
        destination: name of the configured destination (``embedded``, ``hubspot``, ``slack`` ...).
        lead_id: the lead acted on.
        decision_id: the decision that caused it, or None (an SLA escalation, a re-assignment).
        idempotency_key: stable for the same effect: a retry, a replay or a second worker sends the same
            key, and destinations use it so the effect happens once (``sha256`` of kind, destination,
            lead and decision by default).
        payload: JSON-able facts for the destination (tier, probability, reasons, rep_id, due time).
        created_at: when it was planned (UTC).
    """

    model_config = _FROZEN
    schema_version: Literal["action/v1"] = "action/v1"
    action_id: str
    kind: ActionKind
    destination: str
    lead_id: str
    decision_id: str | None = None
    idempotency_key: str
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
