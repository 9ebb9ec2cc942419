"""The work-event log: what happened to a lead after its decision, hash-chained like the decision log.

Each event's ``record_hash = sha256(prev_hash || canonical_json(record))`` where ``record`` holds
``at, kind, lead_id, decision_id, actor, reason, data`` in stored (text) form and canonical JSON is orjson
with sorted keys (the construction of ``leadgate.audit.chain``: Haber & Stornetta, 1991). Changing,
removing or reordering an event breaks every later hash, which ``verify_events`` reports.

Writers append inside their own transaction (an assignment is chained in the transaction that stores it);
the head row is locked first, so concurrent writers are ordered on PostgreSQL and serialised on SQLite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, Table, insert, select, update

from leadgate.audit.chain import GENESIS_HASH
from leadgate.db.acting_models import WorkEventHeadRow, WorkEventRow
from leadgate.errors import LeadgateError

EVENTS: Final[Table] = WorkEventRow.__table__  # type: ignore[assignment]
HEAD: Final[Table] = WorkEventHeadRow.__table__  # type: ignore[assignment]

KINDS = frozenset(
    {
        "assigned",  # routing chose a rep (data: rep_id, rule, rule_id, assignment_id, sla_due_at)
        "reassigned",  # a reviewer or the SLA scheduler moved the lead to another rep
        "override",  # a reviewer approved, changed the tier or the action (data: before, after)
        "sla_escalated",  # the first-touch deadline passed; the manager was notified
        "first_touch",  # the rep marked the first touch
        "outcome",  # a CRM told us what happened (meeting held, opportunity, won, lost)
        "delivery_dead",  # an action gave up after its retries (data: action_id, destination, error)
        "delivery_replayed",  # an operator sent a dead action again
    }
)
"""The event kinds; ``append_event`` refuses any other."""

_FIELDS = ("actor", "at", "data", "decision_id", "kind", "lead_id", "reason")


class WorkEventError(LeadgateError, ValueError):
    """An event of an unknown kind, or data that is not a JSON object."""


@dataclass(frozen=True)
class Appended:
    """Where one event landed: its 1-based position in the chain and its hash."""

    count: int
    record_hash: str


def _hash(prev: str, row: Mapping[str, Any]) -> str:
    record = {name: row[name] for name in _FIELDS}
    return hashlib.sha256(
        prev.encode("ascii") + orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


def append_event(
    conn: Connection,
    *,
    kind: str,
    lead_id: str,
    at: datetime,
    actor: str,
    reason: str,
    decision_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> Appended:
    """Append one event inside the caller's transaction (locks the chain head first).

    Args:
        conn: a connection inside a write transaction (on SQLite, under ``write_lock(engine)``).
        kind: one of ``KINDS``.
        lead_id: the lead the event is about.
        at: when it happened (timezone-aware; stored as ISO-8601 UTC text, as hashed).
        actor: ``leadgate`` for automatic steps, ``user:<id>`` / ``key:<prefix>`` for people and services.
        reason: the plain-words why (required for overrides and re-assignments by people).
        decision_id: the decision the event follows from, if any.
        data: small JSON-able facts; never personal data (names, emails, phones).

    Returns:
        The position and hash of the event.

    Raises:
        WorkEventError: ``kind`` is not one of ``KINDS``.
    """
    from leadgate.db.store import iso

    if kind not in KINDS:
        raise WorkEventError(f"unknown work-event kind {kind!r}: use one of {', '.join(sorted(KINDS))}")
    row = {
        "at": iso(at),
        "kind": kind,
        "lead_id": lead_id,
        "decision_id": decision_id,
        "actor": actor,
        "reason": reason,
        "data": orjson.dumps(dict(data or {}), option=orjson.OPT_SORT_KEYS).decode(),
    }
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(count=HEAD.c.count))
    prev, count = conn.execute(select(HEAD.c.last_hash, HEAD.c.count).where(HEAD.c.id == 1)).one()
    record_hash = _hash(prev, row)
    conn.execute(insert(EVENTS), {**row, "prev_hash": prev, "record_hash": record_hash})
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=record_hash, count=count + 1))
    return Appended(count + 1, record_hash)


def iter_events(
    conn: Connection, *, lead_id: str | None = None, kind: str | None = None
) -> Iterator[dict[str, Any]]:
    """Stored events in chain order, optionally of one lead or one kind (``data`` parsed to a dict)."""
    query = select(EVENTS).order_by(EVENTS.c.id)
    if lead_id is not None:
        query = query.where(EVENTS.c.lead_id == lead_id)
    if kind is not None:
        query = query.where(EVENTS.c.kind == kind)
    for row in conn.execute(query).mappings():
        event = dict(row)
        event["data"] = orjson.loads(event["data"])
        yield event


def verify_events(engine: Engine) -> tuple[int, str | None]:
    """Recompute the work-event chain.

    Returns:
        ``(events checked, None)`` when intact, else ``(position of the first bad event, what is wrong)``.
    """
    prev = GENESIS_HASH
    count = 0
    with engine.connect() as conn:
        for row in conn.execute(select(EVENTS).order_by(EVENTS.c.id)).mappings():
            count += 1
            if row["prev_hash"] != prev:
                return count, f"event {count} (id {row['id']}) does not follow the one before it"
            if _hash(prev, dict(row)) != row["record_hash"]:
                return (
                    count,
                    f"event {count} (id {row['id']}, {row['kind']}) was changed after it was written",
                )
            prev = row["record_hash"]
        head_hash, head_count = conn.execute(
            select(HEAD.c.last_hash, HEAD.c.count).where(HEAD.c.id == 1)
        ).one()
    if head_count != count or head_hash != prev:
        return count, f"the chain head says {head_count} events, {count} are stored: events were removed"
    return count, None
