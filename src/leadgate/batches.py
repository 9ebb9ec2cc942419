"""A batch of leads (API, web forms, email, chat) stored, decided, routed and acted on in one transaction.

    leads --Qualifier.decide_batch--> decision rows --one transaction:--> leads + decisions (chain)
        + assignments (routing, SLA deadline, work events) + outbox actions

``qualify_leads_routed`` is the one path every channel takes; ``qualify_leads`` and ``qualify_leads_flagged``
return less of what it stored. Files go chunk by chunk through ``leadgate.runs`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from leadgate.actions.act import enqueue_decided
from leadgate.actions.planning import Routes
from leadgate.audit.checkpoint import record_append
from leadgate.audit.log import store_decisions
from leadgate.contracts.action import Action, Assignment
from leadgate.contracts.decision import Decision
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.db.rows import LeadLike, as_record, decision_from_row, lead_row
from leadgate.qualifier import ExplainMode, Qualifier
from leadgate.routing import Router, route_decisions


def qualify_leads(
    engine: Engine,
    qualifier: Qualifier,
    leads: Sequence[LeadLike],
    explain: ExplainMode = "all",
    personal_attributes: frozenset[str] = frozenset(),
    *,
    router: Router | None = None,
    routes: Routes | None = None,
) -> list[Decision]:
    """Store ``leads``, qualify them and store the decisions, all in one transaction.

    ``personal_attributes`` are attribute names stored encrypted (besides email, names and phone);
    with a ``router`` the routed decisions are assigned to reps, and with ``routes`` their actions are
    written to the outbox, in the same transaction (``qualify_leads_routed`` returns both too).

    Returns:
        One ``Decision`` per lead, in order, with its explanation when computed inline.
    """
    return qualify_leads_routed(
        engine, qualifier, leads, explain, personal_attributes, router=router, routes=routes
    ).decisions


@dataclass(frozen=True)
class Qualified:
    """What ``qualify_leads_routed`` stored, one entry per lead in every list, in order.

    Attributes:
        decisions: the decisions.
        out_of_range: True when the model scored the lead with a feature outside its training range.
        assignments: the new assignment of each lead, or None (not routed by the policy's routing
            section, no router given, or the lead keeps the assignment it has).
        actions: the actions planned and written to the outbox (``leadgate.actions``), in the order
            planned; empty without ``routes``.
    """

    decisions: list[Decision]
    out_of_range: list[bool]
    assignments: list[Assignment | None]
    actions: list[Action] = field(default_factory=list)


def qualify_leads_flagged(
    engine: Engine,
    qualifier: Qualifier,
    leads: Sequence[LeadLike],
    explain: ExplainMode = "all",
    personal_attributes: frozenset[str] = frozenset(),
    *,
    may_replace: Callable[[str, str], bool] | None = None,
    router: Router | None = None,
    routes: Routes | None = None,
) -> tuple[list[Decision], list[bool]]:
    """``qualify_leads`` with each lead's out-of-range flag: ``qualify_leads_routed`` without assignments.

    Returns:
        ``(decisions, out_of_range)``, both one per lead, in order.

    Raises:
        LeadConflictError: ``may_replace`` refused a lead; nothing was stored.
    """
    done = qualify_leads_routed(
        engine,
        qualifier,
        leads,
        explain,
        personal_attributes,
        may_replace=may_replace,
        router=router,
        routes=routes,
    )
    return done.decisions, done.out_of_range


def qualify_leads_routed(
    engine: Engine,
    qualifier: Qualifier,
    leads: Sequence[LeadLike],
    explain: ExplainMode = "all",
    personal_attributes: frozenset[str] = frozenset(),
    *,
    may_replace: Callable[[str, str], bool] | None = None,
    router: Router | None = None,
    routes: Routes | None = None,
    now: datetime | None = None,
) -> Qualified:
    """Store the leads, decide them, store the decisions and route them, in one transaction.

    The transaction takes the chain lock first (``store.lock_chain``), so the stored lead and its latest
    decision always come from the same request, also when several servers post the same ``lead_id`` at
    once on PostgreSQL.

    Args:
        engine: the store.
        qualifier: scores and decides the leads.
        leads: the leads, stored (inserted or replaced) with their decisions.
        explain: which decisions get their explanation inline (``all``, ``routed``, ``none``).
        personal_attributes: attributes stored encrypted with the personal fields (the mapping's ``pii``).
        may_replace: ``(lead_id, stored content hash) -> bool``, asked under the lock for each lead
            stored with different content (see ``store.write_leads``); None replaces every one.
        router: assigns the routed decisions to reps in the same transaction (``leadgate.routing``,
            work event ``assigned`` in the chain); None routes nothing.
        routes: action kind -> destination names (``leadgate.actions.destinations.load_routes``): the
            decisions' actions (CRM record and task, rep notification, nurture) are planned and written to
            the outbox in the same transaction, for ``leadgate worker`` to deliver; None writes none.
        now: decision and assignment time (timezone-aware; default: the current time).

    Returns:
        ``Qualified``: decisions, out-of-range flags and assignments, one each per lead, in order.

    Raises:
        LeadConflictError: ``may_replace`` refused a lead; nothing was stored.
    """
    at = now or store.utcnow()
    lead_rows = [lead_row(lead, None, personal_attributes) for lead in leads]
    decided = qualifier.decide_batch(leads, explain, at, input_hashes=[r["input_hash"] for r in lead_rows])
    rows, explanations = decided.rows, decided.explanations
    for lead, decision in zip(lead_rows, rows, strict=True):
        lead["latest_decision_id"] = decision["decision_id"]
    assignments: list[Assignment | None] = [None] * len(rows)
    decisions = [decision_from_row(row, explanations.get(i)) for i, row in enumerate(rows)]
    actions: list[Action] = []
    with write_lock(engine), engine.begin() as conn:
        store.lock_chain(conn)
        store.write_leads(conn, lead_rows, may_replace=may_replace)
        appended = store_decisions(conn, rows, explanations)
        if router is not None:
            assignments = route_decisions(conn, router, [as_record(lead) for lead in leads], rows, at)
        if routes is not None:
            reps = router.directory if router is not None else None
            actions = enqueue_decided(conn, decisions, assignments, routes, now=at, reps=reps)
    record_append(engine, appended)
    return Qualified(decisions, [bool(x) for x in decided.out_of_range], assignments, actions)
