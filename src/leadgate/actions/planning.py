"""Action planning (pure): which downstream effects a stored decision and its assignment cause.

``plan_actions`` turns each decision (with its ``Assignment`` or None, aligned) into ``Action`` contracts,
one per (kind, destination) of the routing table (``Routes``: action kind -> destination names, read from
``destinations.yaml`` by ``leadgate.actions.destinations``):

    decision action   kinds planned
    route_to_sales    crm_upsert; crm_task (when assigned); notify_rep (when a rep with notify channels)
    nurture           nurture
    human_review      nothing (a reviewer's approval plans again, with the approved decision)
    discard           nothing

A decision with ``review_required`` plans nothing either. Payloads carry ids and decision facts (tier,
probability, reasons, rep id, SLA due time), never personal data: the dispatcher reads the lead when it
delivers. The idempotency key is ``sha256(kind | destination | lead_id | reference)``, where the reference
is the assignment id for rep-bound kinds (``crm_task``, ``notify_rep``, ``notify_manager``: a re-assignment
is a new task for the new rep) and the decision id otherwise, so planning the same thing twice, a retry or a
replay gives the same key and the outbox stores it once.

Clock and ids are passed in (``now``, ``new_id``): nothing here reads the database, the clock or the network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, get_args

from leadgate.contracts.action import Action, ActionKind, Assignment
from leadgate.contracts.decision import Decision
from leadgate.db.store import iso
from leadgate.reps.model import RepDirectory

Routes = Mapping[str, Sequence[str]]
"""The routing table of actions: action kind -> names of the configured destinations that receive it."""

ACTION_KINDS: Final[tuple[str, ...]] = get_args(ActionKind)
"""Every ``ActionKind``, in declaration order."""

REP_BOUND_KINDS: Final[frozenset[str]] = frozenset({"crm_task", "notify_rep", "notify_manager"})
"""Kinds keyed on the assignment (one effect per assignment), not on the decision."""

NOTIFY_CHANNELS: Final[frozenset[str]] = frozenset({"email", "slack"})
"""Destination names that are also a rep's ``notify`` channel: such a destination gets ``notify_rep`` only
for reps who list it."""


def idempotency_key(kind: str, destination: str, lead_id: str, reference: str) -> str:
    """The stable key of one effect: ``sha256("kind|destination|lead_id|reference")`` as 64 hex digits.

    Args:
        kind: the action kind.
        destination: the configured destination name.
        lead_id: the lead.
        reference: the decision id, or the assignment id for rep-bound kinds (``REP_BOUND_KINDS``).

    Returns:
        The hex digest; the same inputs always give the same key.
    """
    text = "|".join((kind, destination, lead_id, reference))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decision_payload(decision: Decision, assignment: Assignment | None) -> dict[str, Any]:
    """The facts an action carries: ids, tier, action, probability, reasons, policy, rep and SLA (no PII).

    Returns:
        A JSON-able dict: ``lead_id``, ``decision_id``, ``tier``, ``action``, ``probability`` (0..1),
        ``reasons`` (list of str), ``policy_version``, and when assigned ``assignment_id``, ``rep_id``,
        ``rule``, ``sla_due_at`` (ISO-8601 UTC text or None).
    """
    payload: dict[str, Any] = {
        "lead_id": decision.lead_id,
        "decision_id": decision.decision_id,
        "tier": decision.tier,
        "action": decision.action,
        "probability": round(decision.score.probability, 6),
        "reasons": list(decision.reasons),
        "policy_version": decision.policy_version,
    }
    if assignment is not None:
        payload.update(
            assignment_id=assignment.assignment_id,
            rep_id=assignment.rep_id,
            rule=assignment.rule,
            sla_due_at=None if assignment.sla_due_at is None else iso(assignment.sla_due_at),
        )
    return payload


def _kinds_for(decision: Decision, assignment: Assignment | None, reps: RepDirectory | None) -> list[str]:
    if decision.review_required:
        return []
    if decision.action == "nurture":
        return ["nurture"]
    if decision.action != "route_to_sales":
        return []
    kinds = ["crm_upsert"]
    if assignment is not None:
        kinds.append("crm_task")
        if assignment.rep_id is not None:
            rep = reps.get(assignment.rep_id) if reps is not None else None
            if reps is None or (rep is not None and rep.notify):
                kinds.append("notify_rep")
    return kinds


def _wants(kind: str, destination: str, assignment: Assignment | None, reps: RepDirectory | None) -> bool:
    """False when ``destination`` is a notify channel the assigned rep did not ask for."""
    if kind != "notify_rep" or destination not in NOTIFY_CHANNELS or reps is None or assignment is None:
        return True
    rep = reps.get(assignment.rep_id or "")
    return rep is not None and destination in rep.notify


def plan_actions(
    decisions: Sequence[Decision],
    assignments: Sequence[Assignment | None],
    routes: Routes,
    *,
    now: datetime,
    new_id: Callable[[], str],
    reps: RepDirectory | None = None,
) -> list[Action]:
    """The actions the decisions cause, in decision order then kind order then destination order.

    Args:
        decisions: stored decisions.
        assignments: one per decision (same order): its assignment, or None (not routed).
        routes: action kind -> destination names (``Routes``); a kind with no destination plans nothing.
        now: the planning time (``Action.created_at``), timezone-aware.
        new_id: makes a new ``action_id`` (e.g. ``leadgate.db.store.new_id``).
        reps: the rep directory; when given, ``notify_rep`` is planned only for a rep with ``notify``
            channels, and an ``email``/``slack`` destination only for reps listing that channel.

    Returns:
        The planned ``Action`` list (possibly empty).

    Raises:
        ValueError: ``decisions`` and ``assignments`` differ in length, or an assignment belongs to
            another lead than its decision.
    """
    if len(decisions) != len(assignments):
        raise ValueError(f"{len(decisions)} decisions but {len(assignments)} assignments: they must align")
    actions: list[Action] = []
    for decision, assignment in zip(decisions, assignments, strict=True):
        if assignment is not None and assignment.lead_id != decision.lead_id:
            raise ValueError(
                f"assignment {assignment.assignment_id} is for lead {assignment.lead_id}, "
                f"not {decision.lead_id}"
            )
        payload = decision_payload(decision, assignment)
        for kind in _kinds_for(decision, assignment, reps):
            for destination in routes.get(kind, ()):
                if not _wants(kind, destination, assignment, reps):
                    continue
                reference = (
                    assignment.assignment_id
                    if kind in REP_BOUND_KINDS and assignment is not None
                    else decision.decision_id
                )
                actions.append(
                    Action(
                        action_id=new_id(),
                        kind=kind,
                        destination=destination,
                        lead_id=decision.lead_id,
                        decision_id=decision.decision_id,
                        idempotency_key=idempotency_key(kind, destination, decision.lead_id, reference),
                        payload=dict(payload),
                        created_at=now,
                    )
                )
    return actions


def plan_action(
    kind: ActionKind,
    *,
    lead_id: str,
    reference: str,
    routes: Routes,
    now: datetime,
    new_id: Callable[[], str],
    decision_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> list[Action]:
    """Actions of one kind not caused by a new decision (an SLA escalation, an invite), one per destination.

    Args:
        kind: the action kind (``notify_manager`` for an escalation, ``invite`` for a booked demo).
        lead_id: the lead.
        reference: what makes the effect unique (the assignment id of an escalation, the booking id of an
            invite); part of the idempotency key.
        routes: action kind -> destination names.
        now: planning time.
        new_id: makes action ids.
        decision_id: the decision it follows from, if any.
        payload: ids and facts for the destination (never personal data).

    Returns:
        One ``Action`` per destination routed for ``kind`` (empty when none is).
    """
    return [
        Action(
            action_id=new_id(),
            kind=kind,
            destination=destination,
            lead_id=lead_id,
            decision_id=decision_id,
            idempotency_key=idempotency_key(kind, destination, lead_id, reference),
            payload=dict(payload or {}),
            created_at=now,
        )
        for destination in routes.get(kind, ())
    ]
