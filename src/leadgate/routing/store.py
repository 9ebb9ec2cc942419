"""Routing against the store: loads, locks and the shared round robin around the pure engine.

    decisions --to_inputs--> RouteInput --lock reps, read loads + rotation--> engine.route_many
              --store_assignment (row + ``assigned`` work event), leads.owner, rotation written back

Every function here runs inside the caller's write transaction (``with write_lock(engine),
engine.begin() as conn:``): ``route_decisions`` in the decision transaction of ``batches.qualify_leads_flagged``,
``reassign`` in the SLA scheduler's or a reviewer's, ``assign_booking`` in the booking's.

Caps under concurrency: before it reads any load, a routing transaction locks the ``routing_reps`` row of
every rep of the reps file, in ``rep_id`` order (``SELECT ... FOR UPDATE``; PostgreSQL). A second
transaction waits there until the first commits, then reads the loads including the first one's
assignments, so no cap is exceeded whatever the number of processes; on SQLite the single writer already
serialises them. Lock order everywhere: lead rows, then ``routing_reps``, then the work-event head.

Loads: a rep's ``today`` is the count of their assignment rows (any rule, any status) since midnight of
the current day in the rep's zone, ``rolling`` the count since ``now - 30 days``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update

from leadgate.contracts.action import Assignment
from leadgate.contracts.decision import Decision
from leadgate.db import store
from leadgate.db.models import DecisionRow, LeadRow
from leadgate.db.routing_models import RoutingRepRow, RoutingRoundRobinRow
from leadgate.errors import LeadgateError
from leadgate.policy.routing_model import RoutingSection
from leadgate.policy.sla_model import SlaSection
from leadgate.reps import RepDirectory
from leadgate.routing.engine import (
    ROLLING_WINDOW,
    RepLoad,
    RouteInput,
    Router,
    RoutingState,
    UnknownRepError,
    booking_assignment,
    day_start,
    route,
    route_many,
)
from leadgate.routing.records import ASSIGNMENTS, current_assignment, store_assignment
from leadgate.sla.due import with_sla_due

REPS: Final[Table] = RoutingRepRow.__table__  # type: ignore[assignment]
ROTATION: Final[Table] = RoutingRoundRobinRow.__table__  # type: ignore[assignment]
LEADS: Final[Table] = LeadRow.__table__  # type: ignore[assignment]
DECISIONS: Final[Table] = DecisionRow.__table__  # type: ignore[assignment]

IN_FORCE: Final = ("open", "escalated", "touched")
"""Statuses of an assignment that keeps the lead with its rep when the lead is decided again."""


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("routing needs a timezone-aware now")
    return now.astimezone(UTC)


class LeadNotFoundError(LeadgateError, LookupError):
    """A re-assignment names a lead that is not stored (or was never decided)."""


def lock_reps(conn: Connection, rep_ids: Sequence[str]) -> None:
    """Lock the ``routing_reps`` rows of ``rep_ids`` (created when missing) for the caller's transaction.

    Rows are created and locked in ``rep_id`` order, so two transactions never wait on each other in a
    cycle. On SQLite ``FOR UPDATE`` is not rendered: the write lock already serialises writers.
    """
    ids = sorted(set(rep_ids))
    if not ids:
        return
    known = set(conn.execute(select(REPS.c.rep_id).where(REPS.c.rep_id.in_(ids))).scalars())
    missing = [i for i in ids if i not in known]
    if missing:
        conn.execute(
            store.insert_ignore(conn, REPS, ["rep_id"]),
            [{"rep_id": i, "assigned": 0} for i in missing],
        )
    conn.execute(
        select(REPS.c.rep_id).where(REPS.c.rep_id.in_(ids)).order_by(REPS.c.rep_id).with_for_update()
    )


def read_loads(conn: Connection, directory: RepDirectory, now: datetime) -> dict[str, RepLoad]:
    """Each rep's new leads today (their zone's calendar day) and in the rolling 30 days before ``now``.

    Args:
        conn: a connection (lock the reps first when the loads decide a cap: ``lock_reps``).
        directory: the reps.
        now: timezone-aware.

    Returns:
        rep id -> ``RepLoad`` for every rep of ``directory``.
    """
    ids = [r.id for r in directory.reps]
    loads = {i: RepLoad() for i in ids}
    since = _utc(now) - ROLLING_WINDOW
    rows = conn.execute(
        select(ASSIGNMENTS.c.rep_id, func.count())
        .where(and_(ASSIGNMENTS.c.rep_id.in_(ids), ASSIGNMENTS.c.assigned_at >= since))
        .group_by(ASSIGNMENTS.c.rep_id)
    )
    for rep_id, count in rows:
        loads[rep_id].rolling = int(count)
    starts: dict[datetime, list[str]] = {}
    for rep in directory.reps:
        starts.setdefault(day_start(rep, now), []).append(rep.id)
    for start, rep_ids in starts.items():
        rows = conn.execute(
            select(ASSIGNMENTS.c.rep_id, func.count())
            .where(and_(ASSIGNMENTS.c.rep_id.in_(rep_ids), ASSIGNMENTS.c.assigned_at >= start))
            .group_by(ASSIGNMENTS.c.rep_id)
        )
        for rep_id, count in rows:
            loads[rep_id].today = int(count)
    return loads


def read_rotation(conn: Connection) -> dict[str, dict[str, float]]:
    """The stored round-robin values: pool -> rep id -> ``current_weight``."""
    out: dict[str, dict[str, float]] = {}
    for pool, rep_id, value in conn.execute(
        select(ROTATION.c.pool, ROTATION.c.rep_id, ROTATION.c.current_weight)
    ):
        out.setdefault(pool, {})[rep_id] = float(value)
    return out


def write_rotation(conn: Connection, state: RoutingState) -> None:
    """Store the round-robin values of the pools ``state`` changed (``state.touched``)."""
    pools = sorted(state.touched)
    if not pools:
        return
    conn.execute(delete(ROTATION).where(ROTATION.c.pool.in_(pools)))
    rows = [
        {"pool": pool, "rep_id": rep_id, "current_weight": value}
        for pool in pools
        for rep_id, value in sorted(state.rr.get(pool, {}).items())
    ]
    if rows:
        conn.execute(insert(ROTATION), rows)
    state.touched.clear()


def load_state(conn: Connection, router: Router, now: datetime) -> RoutingState:
    """Lock every rep of the router's reps file and read their loads and the rotation (see the module doc)."""
    lock_reps(conn, router.rep_ids())
    return RoutingState(read_loads(conn, router.directory, now), read_rotation(conn))


def _save(conn: Connection, assignment: Assignment, supersedes: str | None, data: dict[str, Any]) -> None:
    store_assignment(conn, assignment, supersedes=supersedes, data=data)
    if assignment.rep_id is not None:
        store.assign_owners(conn, [(assignment.lead_id, assignment.rep_id)])
        conn.execute(
            update(REPS).where(REPS.c.rep_id == assignment.rep_id).values(assigned=REPS.c.assigned + 1)
        )


def _latest(conn: Connection, lead_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The latest assignment row of each lead (leads never assigned are absent)."""
    if not lead_ids:
        return {}
    newest = (
        select(func.max(ASSIGNMENTS.c.id))
        .where(ASSIGNMENTS.c.lead_id.in_(lead_ids))
        .group_by(ASSIGNMENTS.c.lead_id)
    )
    rows = conn.execute(select(ASSIGNMENTS).where(ASSIGNMENTS.c.id.in_(newest))).mappings()
    return {r["lead_id"]: dict(r) for r in rows}


def _owners(conn: Connection, lead_ids: Sequence[str]) -> dict[str, str | None]:
    if not lead_ids:
        return {}
    rows = conn.execute(select(LEADS.c.lead_id, LEADS.c.owner).where(LEADS.c.lead_id.in_(lead_ids)))
    return {lead_id: owner for lead_id, owner in rows}


def route_input(
    record: Mapping[str, Any], decision: Mapping[str, Any] | Decision, owner: str | None
) -> RouteInput:
    """The engine's input from a lead record (``db.rows.as_record``) and its decision (row or ``Decision``).

    Only non-personal lead fields are passed (``country``, ``city``, ``company``, ``title``, ``source``):
    routing rules place leads, they do not read who the person is.
    """
    d = decision.model_dump() if isinstance(decision, Decision) else decision
    fields = {k: record.get(k) for k in ("lead_id", "source", "country", "city", "company", "title")}
    return RouteInput(
        lead_id=str(d["lead_id"]),
        decision_id=str(d["decision_id"]),
        tier=str(d["tier"]),
        action=str(d["action"]),
        attributes=record.get("attributes") or {},
        fields=fields,
        score=(d.get("probability"), d.get("confidence"), d.get("fit_score"), d.get("scorer")),
        owner=owner,
    )


def route_decisions(
    conn: Connection,
    router: Router,
    records: Sequence[Mapping[str, Any]],
    decisions: Sequence[Mapping[str, Any]],
    now: datetime,
    *,
    assignment_ids: Sequence[str] | None = None,
) -> list[Assignment | None]:
    """Route a batch of stored decisions and store each new assignment, in the caller's transaction.

    A lead whose latest assignment is still in force (open, escalated or touched) with an active rep
    keeps it: nothing new is stored for it (its entry is None). Every other routed decision gets an
    assignment (possibly ``unassigned``), stored with ``store_assignment`` (superseding the lead's
    previous open one), with the work event ``assigned`` in the chain, and ``leads.owner`` set to the rep.

    Args:
        conn: the decision transaction (the leads and decisions already written).
        router: the routing section and reps.
        records: the leads' records (``db.rows.as_record``), aligned with ``decisions``.
        decisions: the decision rows (``Qualifier.decide_batch``), aligned with ``records``.
        now: the routing time (timezone-aware).
        assignment_ids: one id per decision (default: new ids).

    Returns:
        One entry per decision, aligned: the new ``Assignment``, or None (not routed, or already assigned).
    """
    wanted = [i for i, d in enumerate(decisions) if router.routes(str(d["tier"]), str(d["action"]))]
    out: list[Assignment | None] = [None] * len(decisions)
    if not wanted:
        return out
    lead_ids = [str(decisions[i]["lead_id"]) for i in wanted]
    latest = _latest(conn, lead_ids)
    owners = _owners(conn, lead_ids)
    items: list[RouteInput | None] = [None] * len(decisions)
    for i in wanted:
        lead_id = str(decisions[i]["lead_id"])
        prev = latest.get(lead_id)
        if prev is not None and prev["status"] in IN_FORCE and prev["rep_id"] is not None:
            rep = router.directory.get(prev["rep_id"])
            if rep is not None and rep.active:
                continue
        items[i] = route_input(records[i], decisions[i], owners.get(lead_id))
    if not any(items):
        return out
    state = load_state(conn, router, now)
    ids = list(assignment_ids) if assignment_ids is not None else store.new_ids(len(decisions))
    routed = route_many(items, router, state, now, ids)
    facts = {"reps_file": router.directory.ref}
    for i, assignment in enumerate(routed):
        if assignment is None:
            continue
        prev = latest.get(assignment.lead_id)
        supersedes = prev["assignment_id"] if prev is not None and prev["status"] in IN_FORCE else None
        if router.sla is not None:
            decision = decisions[i]
            assignment = with_sla_due(
                assignment,
                router.sla,
                str(decision["tier"]),
                router.directory,
                action=str(decision["action"]),
            )
        _save(conn, assignment, supersedes, facts)
        out[i] = assignment
    write_rotation(conn, state)
    return out


def _lock_lead(conn: Connection, lead_id: str) -> dict[str, Any]:
    row = (
        conn.execute(
            select(LEADS.c.lead_id, LEADS.c.owner, LEADS.c.latest_decision_id)
            .where(LEADS.c.lead_id == lead_id)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        raise LeadNotFoundError(f"lead {lead_id!r} is not stored")
    return dict(row)


def reassign(
    conn: Connection,
    lead_id: str,
    *,
    to_rep: str | None,
    actor: str,
    reason: str,
    now: datetime,
    directory: RepDirectory,
    section: RoutingSection,
    policy_ref: str | None = None,
    assignment_id: str | None = None,
    sla: SlaSection | None = None,
    tier: str | None = None,
    action: str | None = None,
) -> Assignment:
    """Re-assign a lead to ``to_rep``, or by the section's round robin away from its current rep.

    Stored with ``store_assignment(supersedes=<current assignment>)``: the current one gets status
    ``reassigned`` and the work event is ``reassigned``, with ``actor`` and the reason.

    Lock order (PostgreSQL): the lead row, then the reps' ``routing_reps`` rows, then the work-event head.
    A caller that appends another work event in the same transaction (an SLA escalation) calls this
    first, so it never holds the work-event head while waiting for the reps' rows.

    Args:
        conn: a write transaction (SQLite: under ``write_lock``).
        lead_id: the lead.
        to_rep: the new rep (rule ``manual``), or None to route again (existing owner, territory rules,
            round robin) excluding the current rep; nobody available stores rule ``unassigned``.
        actor: who re-assigns (``user:<id>``, ``leadgate`` for the SLA scheduler).
        reason: why, in plain words (stored first in the assignment's reason).
        now: timezone-aware time of the re-assignment.
        directory: the reps.
        section: the policy's routing section.
        policy_ref: ``name@version`` to store (default: the current assignment's).
        assignment_id: the new assignment's id (default: a new id).
        sla: the policy's ``sla`` section: the new assignment's first-touch deadline is computed for the new
            rep from the tier of the lead's decision; None leaves it unset.
        tier: the tier in force when a reviewer changed it (default: the decision's), for the deadline.
        action: the action in force (default: the decision's), for the deadline.

    Returns:
        The new assignment.

    Raises:
        UnknownRepError: ``to_rep`` is not in the reps file, or is inactive.
        LeadNotFoundError: the lead is not stored, or has no decision.
        ValueError: ``reason`` is blank, or ``now`` is naive.
    """
    if not reason.strip():
        raise ValueError("a re-assignment needs a reason")
    if to_rep is not None:
        rep = directory.get(to_rep)
        if rep is None:
            raise UnknownRepError(f"rep {to_rep!r} is not in reps file {directory.ref}")
        if not rep.active:
            raise UnknownRepError(f"rep {to_rep!r} is inactive in reps file {directory.ref}")
    lead = _lock_lead(conn, lead_id)
    current = current_assignment(conn, lead_id)
    decision_id = current["decision_id"] if current else lead["latest_decision_id"]
    if decision_id is None:
        raise LeadNotFoundError(f"lead {lead_id!r} has no decision to assign")
    ref = policy_ref or (current["policy_version"] if current else "manual")
    router = Router(section, directory, ref)
    state = load_state(conn, router, now)
    new_id = assignment_id or store.new_ids(1)[0]
    supersedes = current["assignment_id"] if current and current["status"] in IN_FORCE else None
    if to_rep is not None:
        assignment = Assignment(
            assignment_id=new_id,
            lead_id=lead_id,
            decision_id=decision_id,
            rep_id=to_rep,
            rule="manual",
            reason=reason.strip(),
            policy_version=ref,
            assigned_at=_utc(now),
            actor=actor,
        )
    else:
        exclude = frozenset({current["rep_id"]}) if current and current["rep_id"] else frozenset()
        item = RouteInput(
            lead_id=lead_id,
            decision_id=decision_id,
            tier="",
            action="",
            attributes=_attributes(conn, lead_id),
            fields=_fields(conn, lead_id),
            owner=lead["owner"],
        )
        routed = route(item, router, state, now, new_id, exclude=exclude, actor=actor)
        assignment = routed.model_copy(update={"reason": f"{reason.strip()}; {routed.reason}"})
    if sla is not None:
        tier_action = conn.execute(
            select(DECISIONS.c.tier, DECISIONS.c.action).where(DECISIONS.c.decision_id == decision_id)
        ).first()
        if tier_action is not None:
            assignment = with_sla_due(
                assignment, sla, tier or tier_action[0], directory, action=action or tier_action[1]
            )
    _save(conn, assignment, supersedes, {"reps_file": directory.ref})
    write_rotation(conn, state)
    return assignment


def _document(conn: Connection, lead_id: str) -> dict[str, Any]:
    """The lead's non-personal document (``leads.data``: no decryption needed, routing reads no personal field)."""
    text = conn.execute(select(LEADS.c.data).where(LEADS.c.lead_id == lead_id)).scalar()
    return dict(orjson.loads(text)) if text else {}


def _attributes(conn: Connection, lead_id: str) -> dict[str, Any]:
    return dict(_document(conn, lead_id).get("attributes") or {})


def _fields(conn: Connection, lead_id: str) -> dict[str, Any]:
    doc = _document(conn, lead_id)
    return {k: doc.get(k) for k in ("lead_id", "source", "country", "city", "company", "title")}


def assign_booking(
    conn: Connection,
    *,
    lead_id: str,
    rep_id: str,
    booking_id: str,
    start: datetime,
    now: datetime,
    policy_ref: str,
    directory: RepDirectory | None = None,
    assignment_id: str | None = None,
) -> Assignment | None:
    """Assign a lead to the rep whose calendar holds its booked demo (rule ``booking``), in the booking's txn.

    Nothing is stored when the lead is not stored or not decided yet (a booking without qualification),
    or when its assignment in force is already this rep's.

    Args:
        conn: the booking's write transaction.
        lead_id: the lead (a chat lead is ``chat-<conversation_id>``).
        rep_id: the calendar's rep.
        booking_id: the booking.
        start: the meeting's start (timezone-aware).
        now: timezone-aware.
        policy_ref: ``name@version`` of the policy whose routing applies.
        directory: the reps (its rows are locked so the count cannot race a routing transaction);
            None: only this rep's row is locked.
        assignment_id: the new id (default: a new id).

    Returns:
        The stored assignment, or None when nothing was stored.
    """
    try:
        lead = _lock_lead(conn, lead_id)
    except LeadNotFoundError:
        return None
    current = current_assignment(conn, lead_id)
    decision_id = lead["latest_decision_id"] or (current["decision_id"] if current else None)
    if decision_id is None:
        return None
    in_force = current is not None and current["status"] in IN_FORCE
    if in_force and current is not None and current["rep_id"] == rep_id:
        return None
    lock_reps(conn, sorted({r.id for r in directory.reps} | {rep_id}) if directory else [rep_id])
    assignment = booking_assignment(
        lead_id=lead_id,
        decision_id=str(decision_id),
        rep_id=rep_id,
        booking_id=booking_id,
        start=start,
        policy_ref=policy_ref,
        now=now,
        assignment_id=assignment_id or store.new_ids(1)[0],
    )
    supersedes = current["assignment_id"] if in_force and current is not None else None
    _save(conn, assignment, supersedes, {"booking_id": booking_id})
    return assignment
