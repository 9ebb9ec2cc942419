"""The stored half of human review: the queue, a lead's review file, overrides, the rep inbox, first touch.

Reads take a ``Connection``; writes run in ONE transaction (``with write_lock(engine), engine.begin()``):

* ``override``: a reviewer's approve / tier change / re-assignment of a lead's latest decision. In one
  transaction: the ``override`` work event (``leadgate.audit.events``, ``data={kind, before, after}``,
  actor and reason), for a re-assignment the new ``manual`` assignment through the one writer
  ``leadgate.routing.store_assignment`` (its ``reassigned`` event; ``leads.owner`` follows), and the
  ``override`` access-log event (``leadgate.audit.access.record_access``: actor, role, route, the lead; its
  ``detail`` links the work event by chain position and never holds the free-text reason, which may name
  people). The decision itself is immutable: the override event says what is in force after it
  (``effective``). The lead then leaves the queue (``review_queue`` skips decisions with an override).

The rep inbox and first touch are in ``leadgate.review.inbox``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, and_, exists, func, or_, select, update

from leadgate.actions.planning import Routes
from leadgate.audit.access import AccessAppend, record_access
from leadgate.audit.events import EVENTS, append_event, iter_events
from leadgate.contracts.action import Assignment
from leadgate.contracts.decision import ActionName
from leadgate.db.store import DECISIONS, EXPLANATIONS, LEADS
from leadgate.review.act import act_on_override
from leadgate.review.rules import OverridePlan, ReviewCriteria, ReviewError, plan_override, queue_reasons
from leadgate.routing import Router, current_assignment, store_assignment
from leadgate.routing.records import ASSIGNMENTS

ORDERS: Final[tuple[str, ...]] = ("newest", "urgent")
"""Queue orders: newest decision first, or the earliest SLA deadline first (no deadline last)."""


class NotFound(ReviewError, LookupError):
    """No such lead with a decision, or no such assignment (the page answers 404)."""


_CONFLICT = (
    "Someone reviewed this lead after you opened it (or the form was sent twice): nothing was changed. "
    "Reload the page to see what was done."
)


class ReviewConflict(ReviewError):
    """Someone else reviewed the lead since the reviewer's page was loaded (the page answers 409).

    Also what a resent form (a double click, a browser retry) gets: its override is stored once.
    """


@dataclass(frozen=True)
class QueueItem:
    """One lead in the review queue (or its review page): its latest decision and what is in force.

    Attributes:
        lead_id, decision_id, decided_at: the lead and its latest decision (``decided_at`` ISO text, UTC).
        probability, confidence, fit_score: the score (probability and confidence in [0, 1]).
        tier, action: what is in force (the decision's, or the latest override's ``after``).
        decided_tier, decided_action: the decision's own.
        reasons: the policy's reasons (``Decision.reasons``).
        why: why it is in the queue (``rules.queue_reasons``).
        factors: the stored explanation (``{"method", "positive": [...], "negative": [...]}``) or None.
        scorer, policy_version: how it was decided.
        assignment: the current assignment row (``rep_id``, ``rule``, ``reason``, ``sla_due_at``...) or None.
        overrides: how many times reviewers acted on this decision (the forms send it back as ``seen``).
    """

    lead_id: str
    decision_id: str
    decided_at: str
    probability: float
    confidence: float
    fit_score: float
    tier: str
    action: str
    decided_tier: str
    decided_action: str
    reasons: list[str]
    why: list[str]
    factors: dict[str, Any] | None
    scorer: str
    policy_version: str
    assignment: dict[str, Any] | None
    overrides: int = 0

    @property
    def overridden(self) -> bool:
        """True when a reviewer acted on this decision."""
        return self.overrides > 0

    @property
    def sla_due_at(self) -> datetime | None:
        """The current assignment's first-touch deadline (aware UTC), or None."""
        return _aware(self.assignment.get("sla_due_at")) if self.assignment else None


@dataclass(frozen=True)
class QueuePage:
    """One page of the review queue: ``items``, how many leads wait in all, the page (from 1) and its size."""

    items: list[QueueItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the queue has (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def _aware(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite gives naive UTC ones back)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _latest_assignments() -> Any:
    """Subquery ``(lead_id, id)`` of each lead's latest assignment row."""
    return (
        select(ASSIGNMENTS.c.lead_id, func.max(ASSIGNMENTS.c.id).label("aid"))
        .group_by(ASSIGNMENTS.c.lead_id)
        .subquery("latest_assignment")
    )


def _reviewed() -> Any:
    """True when a reviewer acted on the row's decision (an ``override`` work event names it)."""
    return exists().where(and_(EVENTS.c.kind == "override", EVENTS.c.decision_id == DECISIONS.c.decision_id))


def _in_queue(criteria: ReviewCriteria) -> Any:
    cond = [DECISIONS.c.review_required.is_(True), DECISIONS.c.confidence < criteria.min_confidence]
    if criteria.high_value_probability is not None:
        cond.append(
            and_(DECISIONS.c.tier == "hot", DECISIONS.c.probability >= criteria.high_value_probability)
        )
    return or_(*cond)


def review_queue(
    conn: Connection,
    criteria: ReviewCriteria,
    *,
    page: int = 1,
    per_page: int = 25,
    order: str = "newest",
) -> QueuePage:
    """The leads whose latest decision needs a person and has no override yet, one page.

    Args:
        conn: open connection.
        criteria: what needs review (``rules.ReviewCriteria``).
        page: 1-based page number (past the end: an empty page).
        per_page: leads per page (1 to 200).
        order: ``newest`` (latest decision first) or ``urgent`` (earliest SLA deadline first).

    Raises:
        ReviewError: an unknown ``order``.
    """
    if order not in ORDERS:
        raise ReviewError(f"unknown order {order!r}: use {' or '.join(ORDERS)}")
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    latest = _latest_assignments()
    joined = (
        LEADS.join(DECISIONS, DECISIONS.c.decision_id == LEADS.c.latest_decision_id)
        .outerjoin(latest, latest.c.lead_id == LEADS.c.lead_id)
        .outerjoin(ASSIGNMENTS, ASSIGNMENTS.c.id == latest.c.aid)
    )
    where = and_(_in_queue(criteria), ~_reviewed())
    total = int(conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one())
    ordering: list[Any] = [DECISIONS.c.id.desc()]
    if order == "urgent":
        ordering = [ASSIGNMENTS.c.sla_due_at.is_(None), ASSIGNMENTS.c.sla_due_at, *ordering]
    query = (
        select(DECISIONS, ASSIGNMENTS.c.assignment_id.label("a_assignment_id"))
        .select_from(joined)
        .where(where)
        .order_by(*ordering)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    assignments = _assignments(conn, [r["a_assignment_id"] for r in rows if r["a_assignment_id"]])
    factors = _explanations(conn, [r["decision_id"] for r in rows])
    items = [
        _item(r, criteria, factors.get(r["decision_id"]), assignments.get(r["a_assignment_id"]), None)
        for r in rows
    ]
    return QueuePage(items, total, page, per_page)


def _assignments(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = conn.execute(select(ASSIGNMENTS).where(ASSIGNMENTS.c.assignment_id.in_(list(ids)))).mappings()
    return {r["assignment_id"]: dict(r) for r in rows}


def _explanations(conn: Connection, decision_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not decision_ids:
        return {}
    rows = conn.execute(
        select(EXPLANATIONS.c.decision_id, EXPLANATIONS.c.explanation).where(
            EXPLANATIONS.c.decision_id.in_(list(decision_ids))
        )
    )
    return {d: orjson.loads(text) for d, text in rows}


def latest_overrides(conn: Connection, decision_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The latest ``override`` work event of each decision that has one (``iter_events`` form)."""
    if not decision_ids:
        return {}
    out: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        select(EVENTS)
        .where(EVENTS.c.kind == "override", EVENTS.c.decision_id.in_(list(decision_ids)))
        .order_by(EVENTS.c.id)
    ).mappings()
    for row in rows:
        out[row["decision_id"]] = {**dict(row), "data": orjson.loads(row["data"])}
    return out


def _item(
    row: Mapping[str, Any],
    criteria: ReviewCriteria,
    factors: dict[str, Any] | None,
    assignment: dict[str, Any] | None,
    override: dict[str, Any] | None,
    overrides: int = 0,
) -> QueueItem:
    after = override["data"].get("after", {}) if override else {}
    return QueueItem(
        lead_id=row["lead_id"],
        decision_id=row["decision_id"],
        decided_at=row["decided_at"],
        probability=row["probability"],
        confidence=row["confidence"],
        fit_score=row["fit_score"],
        tier=after.get("tier", row["tier"]),
        action=after.get("action", row["action"]),
        decided_tier=row["tier"],
        decided_action=row["action"],
        reasons=list(orjson.loads(row["reasons"])),
        why=queue_reasons(
            review_required=bool(row["review_required"]),
            confidence=row["confidence"],
            tier=row["tier"],
            probability=row["probability"],
            criteria=criteria,
        ),
        factors=factors,
        scorer=row["scorer"],
        policy_version=row["policy_version"],
        assignment=assignment,
        overrides=overrides,
    )


def review_item(conn: Connection, lead_id: str, criteria: ReviewCriteria) -> QueueItem:
    """A lead's latest decision as a ``QueueItem`` (in the queue or not), with what is in force now.

    Raises:
        NotFound: no such lead, or it has no decision.
    """
    row = (
        conn.execute(
            select(DECISIONS)
            .select_from(LEADS.join(DECISIONS, DECISIONS.c.decision_id == LEADS.c.latest_decision_id))
            .where(LEADS.c.lead_id == lead_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no decided lead {lead_id}")
    decision_id = row["decision_id"]
    return _item(
        dict(row),
        criteria,
        _explanations(conn, [decision_id]).get(decision_id),
        current_assignment(conn, lead_id),
        latest_overrides(conn, [decision_id]).get(decision_id),
        override_count(conn, decision_id),
    )


def override_count(conn: Connection, decision_id: str) -> int:
    """How many ``override`` work events name this decision."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(EVENTS)
            .where(EVENTS.c.kind == "override", EVENTS.c.decision_id == decision_id)
        ).scalar_one()
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a lead's history: a decision or a work event, in time order.

    Attributes:
        at: ISO-8601 UTC text.
        kind: ``decision`` or the work-event kind (``assigned``, ``override``, ``first_touch``...).
        actor: who (``leadgate``, ``user:<id>``...).
        summary: what, in a few words (tier and action of a decision; the event's facts).
        reason: the reason given (work events), or "".
    """

    at: str
    kind: str
    actor: str
    summary: str
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def lead_history(conn: Connection, lead_id: str) -> list[HistoryEntry]:
    """Every decision and work event of the lead, oldest first."""
    entries = [
        HistoryEntry(
            at=r["decided_at"],
            kind="decision",
            actor=r["actor"],
            summary=f"{r['tier']} -> {r['action']} (p={r['probability']:.2f}, {r['policy_version']})",
        )
        for r in conn.execute(
            select(DECISIONS).where(DECISIONS.c.lead_id == lead_id).order_by(DECISIONS.c.id)
        ).mappings()
    ]
    for e in iter_events(conn, lead_id=lead_id):
        entries.append(HistoryEntry(e["at"], e["kind"], e["actor"], _summary(e), e["reason"], e["data"]))
    return sorted(entries, key=lambda h: h.at)


def _summary(event: Mapping[str, Any]) -> str:
    data = event["data"]
    if event["kind"] == "override":
        before, after = data.get("before", {}), data.get("after", {})
        changed = [
            f"{k} {before.get(k)} -> {after.get(k)}"
            for k in ("tier", "action", "rep_id")
            if before.get(k) != after.get(k)
        ]
        return f"{data.get('kind', 'override')}: " + ("; ".join(changed) or "approved as is")
    if event["kind"] in ("assigned", "reassigned"):
        return f"rep {data.get('rep_id') or 'none'} by {data.get('rule')}"
    if event["kind"] == "first_touch":
        return f"first touch by {data.get('rep_id')}"
    return ", ".join(f"{k}={v}" for k, v in sorted(data.items()) if not isinstance(v, dict | list))


def override(
    engine: Engine,
    lead_id: str,
    kind: str,
    *,
    actions: Mapping[str, ActionName] | None,
    actor: str,
    role: str | None,
    route: str | None,
    reason: str | None,
    now: datetime,
    new_tier: str | None = None,
    new_rep: str | None = None,
    known_reps: frozenset[str] = frozenset(),
    criteria: ReviewCriteria | None = None,
    seen: int | None = None,
    router: Router | None = None,
    routes: Routes | None = None,
) -> tuple[OverridePlan, AccessAppend]:
    """Apply one reviewer action to the lead's latest decision, in one transaction (module docstring).

    Args:
        engine: the store.
        lead_id: the lead.
        kind: ``approve``, ``tier`` or ``reassign`` (``rules.plan_override``).
        actions: the ``actions`` mapping of the decision's policy (tier -> action); None when that policy
            is not loaded here (then only a re-assignment is possible).
        actor: ``Principal.subject`` (``user:<id>``).
        role: the actor's role (access log).
        route: the route template (access log).
        reason: the reviewer's reason (required).
        now: the time of the override (aware).
        new_tier: for ``tier``, the new tier (``rules.plan_override``).
        new_rep: for ``reassign``, the new rep id.
        known_reps: the rep ids a lead may be re-assigned to (active reps of the reps file).
        criteria: the queue's rules (only to build the item; default ``ReviewCriteria()``).
        seen: how many overrides of the decision the reviewer's page showed (``QueueItem.overrides``);
            when given and another override was stored since, nothing is stored. Checked after the
            work-event chain head is locked (``append_event``), so two concurrent reviewers, or one form
            sent twice, store one override.
        router: the served router: a lead the override sends to sales unassigned is routed
            (``review.act.act_on_override``).
        routes: action kind -> destinations: the overridden decision's actions (CRM, rep notification,
            nurture) are planned into the outbox in the same transaction; None plans none.

    Returns:
        ``(plan, access event)``; pass the access event to ``checkpoint.record_access_head`` after commit.

    Raises:
        NotFound: no decided lead ``lead_id``.
        ReviewConflict: ``seen`` is stale (nothing stored).
        ReviewError: invalid input (nothing stored).
    """
    from leadgate.db.engine import write_lock

    with write_lock(engine), engine.begin() as conn:
        item = review_item(conn, lead_id, criteria or ReviewCriteria())
        if seen is not None and item.overrides != seen:
            raise ReviewConflict(_CONFLICT)
        rep_id = item.assignment["rep_id"] if item.assignment else None
        if actions is None and kind != "reassign":
            raise ReviewError(
                f"policy {item.policy_version} of this decision is not loaded: cannot map tiers"
            )
        plan = plan_override(
            kind,
            tier=item.tier,
            action=item.action,
            rep_id=rep_id,
            actions=dict(actions or {}),
            reason=reason,
            new_tier=new_tier,
            new_rep=new_rep,
            known_reps=known_reps,
        )
        appended = append_event(
            conn,
            kind="override",
            lead_id=lead_id,
            decision_id=item.decision_id,
            at=now,
            actor=actor,
            reason=plan.reason,
            data={"kind": plan.kind, "before": plan.before, "after": plan.after},
        )
        if seen is not None and override_count(conn, item.decision_id) != seen + 1:
            raise ReviewConflict(_CONFLICT)
        if plan.kind == "reassign":
            _reassign(conn, item, plan, actor=actor, now=now)
        act_on_override(
            conn,
            lead_id=lead_id,
            decision_id=item.decision_id,
            plan=plan,
            router=router,
            routes=routes,
            actor=actor,
            now=now,
        )
        access = record_access(
            conn,
            actor=actor,
            role=role,
            action="override",
            route=route,
            object_type="lead",
            object_ids=[lead_id],
            detail={
                "kind": plan.kind,
                "decision_id": item.decision_id,
                "before": plan.before,
                "after": plan.after,
                "work_event": appended.count,
            },
        )
    return plan, access


def _reassign(conn: Connection, item: QueueItem, plan: OverridePlan, *, actor: str, now: datetime) -> None:
    """The new ``manual`` assignment (``store_assignment``), keeping the SLA deadline; ``leads.owner`` follows.

    The deadline is the lead's (the buyer waits the same), so it is kept; the SLA scheduler owns any
    other rule.
    """
    current = item.assignment
    store_assignment(
        conn,
        Assignment(
            assignment_id=str(uuid.uuid4()),
            lead_id=item.lead_id,
            decision_id=item.decision_id,
            rep_id=plan.after["rep_id"],
            rule="manual",
            reason=plan.reason,
            policy_version=item.policy_version,
            assigned_at=now,
            sla_due_at=_aware(current["sla_due_at"]) if current else None,
            actor=actor,
        ),
        supersedes=current["assignment_id"] if current else None,
        data={"by": "review"},
    )
    conn.execute(update(LEADS).where(LEADS.c.lead_id == item.lead_id).values(owner=plan.after["rep_id"]))
