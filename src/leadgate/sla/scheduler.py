"""The SLA scheduler pass: a service over the ``assignments`` table (the first touch is ``sla.touch``).

    assignments (open / escalated, due < now, untouched) --sla_pass--> escalate once (sla_escalated event,
        notify_manager Action) and/or re-assign after the further delay (injected ``reassign``)

Every step takes ``now`` (a controllable clock). Safe with several workers: on PostgreSQL the candidate rows
are locked with ``FOR UPDATE SKIP LOCKED`` (a second worker skips them) and every change is a conditional
``UPDATE ... WHERE status = ...`` (a row that changed since it was read is left alone); on SQLite the pass
runs under the process's single writer lock (``write_lock``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import Connection, Engine, Table, case, func, select, update
from sqlalchemy.exc import IntegrityError

from leadgate.audit.events import append_event
from leadgate.contracts.action import Action, Assignment
from leadgate.db.acting_models import AssignmentRow
from leadgate.db.engine import write_lock
from leadgate.db.store import DECISIONS
from leadgate.errors import LeadgateError
from leadgate.policy.model import Policy
from leadgate.policy.sla_model import SlaSection
from leadgate.reps.model import RepDirectory
from leadgate.sla.due import compute_reassign_at, with_sla_due

log = logging.getLogger(__name__)

ASSIGNMENTS: Final[Table] = AssignmentRow.__table__  # type: ignore[assignment]
DEFAULT_BATCH = 1000
"""Most assignments looked at in one pass (open ones first, then by due time)."""
DEFAULT_HORIZON = timedelta(days=30)
"""Assignments due longer ago than this are left alone (a lead untouched for a month is a reporting
matter, not a timer; it also keeps each pass from re-reading every escalated lead that can no longer move)."""
_KEY_NAMESPACE = uuid.UUID("5b7f3c8e-6a53-4c2e-9d0f-5a1e2b3c4d5e")


class SlaError(LeadgateError):
    """An SLA operation refused: an unknown assignment, or one that can no longer be touched."""


class Reassign(Protocol):
    """Re-assign a lead to another rep inside the caller's transaction (``leadgate.routing.reassign``).

    Stores the new assignment with ``leadgate.routing.store_assignment(..., supersedes=<old id>)`` (old row
    ``reassigned``, ``reassigned`` work event) and returns it; ``to_rep`` None lets routing pick.
    """

    def __call__(
        self,
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
        """Store and return the new assignment of ``lead_id`` (``section``: to compute its SLA due time)."""
        ...


@dataclass(frozen=True)
class Escalation:
    """One missed SLA escalated to the rep's manager.

    Attributes:
        assignment_id, lead_id, rep_id: the assignment that missed its SLA.
        manager_id: the manager of the rep's team, or None (no team or no manager: nobody is notified).
        due_at: the first-touch due time (UTC).
        minutes_late: whole minutes between ``due_at`` and the pass's ``now`` (real time).
    """

    assignment_id: str
    lead_id: str
    rep_id: str
    manager_id: str | None
    due_at: datetime
    minutes_late: int


@dataclass(frozen=True)
class Reassignment:
    """One lead re-assigned because its SLA was missed: the old assignment id and the new assignment."""

    previous_id: str
    assignment: Assignment


@dataclass
class SlaReport:
    """What one ``sla_pass`` did.

    Attributes:
        checked: overdue assignments looked at.
        escalations: the escalations made (each at most once per assignment, ever).
        reassignments: the re-assignments made.
        actions: ``notify_manager`` actions to deliver (already given to ``enqueue`` when one was passed).
        errors: ``(assignment_id, message)`` for assignments whose step failed (rolled back alone; retried
            on the next pass).
    """

    checked: int = 0
    escalations: list[Escalation] = field(default_factory=list)
    reassignments: list[Reassignment] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got {at.isoformat()}")
    return at.astimezone(UTC)


def _stored(at: datetime | None) -> datetime | None:
    """A stored timestamp as aware UTC (SQLite hands back naive UTC)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _writer(engine: Engine) -> AbstractContextManager[Any]:
    return write_lock(engine) if engine.dialect.name == "sqlite" else nullcontext()


def escalation_key(assignment_id: str) -> str:
    """The idempotency key of an assignment's escalation: sha256 hex of ``sla:<id>:notify_manager``."""
    return hashlib.sha256(f"sla:{assignment_id}:notify_manager".encode()).hexdigest()


def escalation_action(escalation: Escalation, *, destination: str, tier: str | None, now: datetime) -> Action:
    """The ``notify_manager`` action of an escalation (payload: ids, due time, minutes late; no personal data).

    The action id and idempotency key derive from the assignment id only, so a second pass or a second
    worker can never plan a second, different notification for the same missed SLA.
    """
    key = escalation_key(escalation.assignment_id)
    return Action(
        action_id=str(uuid.uuid5(_KEY_NAMESPACE, f"{destination}:{key}")),
        kind="notify_manager",
        destination=destination,
        lead_id=escalation.lead_id,
        decision_id=None,
        idempotency_key=key,
        payload={
            "reason": "sla_missed",
            "assignment_id": escalation.assignment_id,
            "rep_id": escalation.rep_id,
            "manager_id": escalation.manager_id,
            "tier": tier,
            "due": escalation.due_at.isoformat(),
            "minutes_late": escalation.minutes_late,
        },
        created_at=now,
    )


def _candidates(conn: Connection, now: datetime, limit: int, horizon: timedelta) -> list[dict[str, Any]]:
    query = (
        select(ASSIGNMENTS)
        .where(
            ASSIGNMENTS.c.status.in_(("open", "escalated")),
            ASSIGNMENTS.c.first_touch_at.is_(None),
            ASSIGNMENTS.c.rep_id.is_not(None),
            ASSIGNMENTS.c.sla_due_at.is_not(None),
            ASSIGNMENTS.c.sla_due_at < now,
            ASSIGNMENTS.c.sla_due_at >= now - horizon,
        )
        .order_by(case((ASSIGNMENTS.c.status == "open", 0), else_=1), ASSIGNMENTS.c.sla_due_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [dict(row) for row in conn.execute(query).mappings()]


def _decision_facts(conn: Connection, decision_ids: list[str]) -> dict[str, tuple[str, str]]:
    if not decision_ids:
        return {}
    rows = conn.execute(
        select(DECISIONS.c.decision_id, DECISIONS.c.tier, DECISIONS.c.action).where(
            DECISIONS.c.decision_id.in_(sorted(set(decision_ids)))
        )
    )
    return {r.decision_id: (r.tier, r.action) for r in rows}


def _reassignment_count(conn: Connection, lead_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(ASSIGNMENTS)
            .where(ASSIGNMENTS.c.lead_id == lead_id, ASSIGNMENTS.c.status == "reassigned")
        ).scalar_one()
    )


def sla_pass(
    engine: Engine,
    *,
    now: datetime,
    directory: RepDirectory,
    policy: Policy,
    reassign: Reassign,
    destination: str = "email",
    enqueue: Callable[[Connection, Action], None] | None = None,
    limit: int = DEFAULT_BATCH,
    horizon: timedelta = DEFAULT_HORIZON,
) -> SlaReport:
    """Escalate and re-assign the assignments whose first-touch SLA was missed by ``now``.

    For each assignment with status ``open`` or ``escalated``, no ``first_touch_at`` and ``sla_due_at`` <
    ``now`` (the SLA target is found again from the current policy's ``sla`` section, the decision's tier
    and action):

    * status ``open`` and the target says ``escalate``: status becomes ``escalated`` (once: a conditional
      update on ``status = 'open'``), an ``sla_escalated`` work event records the rep, the due time, how
      late and the manager, and a ``notify_manager`` action is planned (when the rep's team has a manager).
    * the target has ``reassign_after`` and ``now`` is past that many of the rep's working minutes after
      the due time, and the lead was re-assigned fewer than ``max_reassignments`` times: ``reassign`` is
      called (it stores the new assignment, which closes this one as ``reassigned``). When it returns an
      assignment without ``sla_due_at``, the new rep's due time is computed here and stored on the row.

    Each assignment is handled in a savepoint: a failure (an unknown rep, a ``LeadgateError`` from
    ``reassign`` or ``enqueue``, a unique-key clash in the outbox) rolls back that assignment's step alone
    (its row, events and actions), is reported in ``SlaReport.errors`` and is retried next pass.

    Args:
        engine: the store.
        now: the pass's clock (timezone-aware).
        directory: the reps (rep of each assignment, manager of its team).
        policy: the current policy; without an ``sla`` section nothing is done.
        reassign: the routing helper that re-assigns a lead (see ``Reassign``).
        destination: the destination name of the ``notify_manager`` actions.
        enqueue: called as ``enqueue(conn, action)`` inside the transaction of the escalation (write it to
            the outbox there, so the escalation and its notification commit together); None: only returned.
        limit: most assignments looked at in this pass.
        horizon: assignments due before ``now - horizon`` are not looked at (``DEFAULT_HORIZON``).

    Returns:
        The ``SlaReport``.

    Raises:
        ValueError: ``now`` is naive.
    """
    now = _utc(now)
    report = SlaReport()
    section = policy.sla
    if section is None:
        return report
    with _writer(engine), engine.begin() as conn:
        rows = _candidates(conn, now, limit, horizon)
        report.checked = len(rows)
        facts = _decision_facts(conn, [r["decision_id"] for r in rows])
        for row in rows:
            savepoint = conn.begin_nested()
            step = SlaReport()  # merged into the report only when the savepoint holds
            try:
                _handle(
                    conn,
                    row,
                    facts.get(row["decision_id"]),
                    now,
                    directory,
                    section,
                    reassign,
                    step,
                    destination,
                    enqueue,
                )
                savepoint.commit()
                report.escalations += step.escalations
                report.reassignments += step.reassignments
                report.actions += step.actions
            except (LeadgateError, IntegrityError) as exc:
                savepoint.rollback()
                log.warning("SLA step failed for assignment %s: %s", row["assignment_id"], exc)
                report.errors.append((row["assignment_id"], str(exc)))
    return report


def _handle(
    conn: Connection,
    row: dict[str, Any],
    decision: tuple[str, str] | None,
    now: datetime,
    directory: RepDirectory,
    section: SlaSection,
    reassign: Reassign,
    report: SlaReport,
    destination: str,
    enqueue: Callable[[Connection, Action], None] | None,
) -> None:
    tier, action = decision if decision is not None else (None, None)
    rep = directory.get(row["rep_id"])
    if rep is None:
        raise SlaError(
            f"rep {row['rep_id']!r} of assignment {row['assignment_id']} is not in {directory.ref}"
        )
    found = section.target(tier, action=action) if tier is not None else None
    if found is None:
        return  # the policy no longer sets an SLA for this tier: nothing to escalate
    target, rule_id = found
    due = _stored(row["sla_due_at"])
    assert due is not None  # selected on sla_due_at < now
    late = int((now - due).total_seconds() // 60)
    status = row["status"]
    if status == "open" and target.escalate:
        changed = conn.execute(
            update(ASSIGNMENTS)
            .where(
                ASSIGNMENTS.c.assignment_id == row["assignment_id"],
                ASSIGNMENTS.c.status == "open",
                ASSIGNMENTS.c.first_touch_at.is_(None),
            )
            .values(status="escalated")
        ).rowcount
        if changed != 1:
            return  # touched, re-assigned or escalated by someone else since it was read
        status = "escalated"
        manager = directory.manager_of(rep.id)
        escalation = Escalation(
            row["assignment_id"], row["lead_id"], rep.id, manager.id if manager else None, due, late
        )
        append_event(
            conn,
            kind="sla_escalated",
            lead_id=row["lead_id"],
            decision_id=row["decision_id"],
            at=now,
            actor="leadgate",
            reason=f"first touch was due {due.isoformat()}, {late} min ago",
            data={
                "assignment_id": row["assignment_id"],
                "rep_id": rep.id,
                "manager_id": escalation.manager_id,
                "due": due.isoformat(),
                "minutes_late": late,
                "tier": tier,
                "sla_rule": rule_id,
                "reps_file": directory.ref,
            },
        )
        report.escalations.append(escalation)
        if escalation.manager_id is not None:
            planned = escalation_action(escalation, destination=destination, tier=tier, now=now)
            if enqueue is not None:
                enqueue(conn, planned)
            report.actions.append(planned)
    reassign_at = compute_reassign_at(section, tier or "", rep, due, action=action)
    if reassign_at is None or now < reassign_at:
        return
    if _reassignment_count(conn, row["lead_id"]) >= section.max_reassignments:
        return
    claimed = conn.execute(
        update(ASSIGNMENTS)
        .where(
            ASSIGNMENTS.c.assignment_id == row["assignment_id"],
            ASSIGNMENTS.c.status == status,
            ASSIGNMENTS.c.first_touch_at.is_(None),
        )
        .values(status=status)
    ).rowcount
    if claimed != 1:
        return
    new = reassign(
        conn,
        row["lead_id"],
        to_rep=None,
        actor="leadgate",
        reason=(
            f"SLA missed: first touch by {rep.id} was due {due.isoformat()}; not touched "
            f"{target.reassign_after} working minutes later"
        ),
        now=now,
        directory=directory,
        section=section,
    )
    if new.sla_due_at is None and new.rep_id is not None and tier is not None:
        # a routing helper that does not compute SLAs: give the new assignment its due time here
        new = with_sla_due(new, section, tier, directory, action=action)
        if new.sla_due_at is not None:
            conn.execute(
                update(ASSIGNMENTS)
                .where(ASSIGNMENTS.c.assignment_id == new.assignment_id, ASSIGNMENTS.c.sla_due_at.is_(None))
                .values(sla_due_at=new.sla_due_at)
            )
    report.reassignments.append(Reassignment(row["assignment_id"], new))
