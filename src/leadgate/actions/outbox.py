"""The transactional outbox: actions written with their decision, claimed by workers under a lease.

Row life (``outbox.status``)::

    pending --deliver ok--> delivered
    pending --retryable error--> pending (attempts + 1, next_attempt_at = now + backoff)
    pending --permanent error, or max attempts--> dead        (work event ``delivery_dead``)
    pending --consent / do-not-contact refuses it--> skipped  (``last_error`` says why)
    dead | skipped | delivered --replay--> pending             (attempts 0; work event ``delivery_replayed``)

``enqueue`` runs inside the caller's transaction (the one storing the decision), so a decision and its
actions commit together or not at all; it skips an action already stored with the same
``(destination, idempotency_key)``.

Claiming: ``claim`` is one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` that sets
``claimed_by``, ``claimed_until`` (the lease) and ``attempts + 1``. On PostgreSQL the inner SELECT takes
``FOR UPDATE SKIP LOCKED``, so several worker processes claim disjoint rows without waiting on each other.
On SQLite the statement runs under ``write_lock`` (one writer per process) and SQLite's own database write
lock (one writer per file, waited for up to the 30 s busy timeout): the statement is atomic, and a row with
an unexpired lease is not claimable, so two SQLite workers (threads or processes) never hold the same row.
A worker killed mid-delivery leaves its rows leased until ``claimed_until``; then any worker claims them
again and re-sends with the same idempotency key (the destination keeps one effect).

Retries: the wait after failed attempt ``n`` is full-jitter exponential backoff, ``uniform(0, min(cap,
base * 2**(n - 1)))`` (tenacity's ``wait_random_exponential``; AWS Architecture Blog, "Exponential Backoff and
Jitter", 2015), but at least the destination's ``Retry-After`` (itself capped, ``RetryPolicy``).

Times are stored in UTC; SQLite returns them naive and ``OutboxItem`` makes them aware again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Table, and_, func, or_, select, update
from tenacity import RetryCallState, wait_random_exponential

from leadgate.audit.events import append_event
from leadgate.contracts.action import Action
from leadgate.db.acting_models import OutboxRow
from leadgate.db.store import insert_ignore
from leadgate.errors import LeadgateError

OUTBOX: Final[Table] = OutboxRow.__table__  # type: ignore[assignment]

STATUSES: Final[tuple[str, ...]] = ("pending", "delivered", "dead", "skipped")
"""Every outbox status (``skipped``: refused at send time by consent or do-not-contact)."""


class OutboxError(LeadgateError, LookupError):
    """An outbox row that does not exist, or cannot be replayed."""


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _stored(ts: datetime) -> datetime:
    """``ts`` in UTC (SQLite stores its wall time as text in one format, PostgreSQL a timestamptz)."""
    return ts.astimezone(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failed delivery is tried again.

    Attributes:
        max_attempts: attempts before a row goes dead (the first try counts; >= 1).
        base_seconds: the backoff window after the first failed attempt (seconds); it doubles each attempt.
        max_backoff_seconds: cap of the backoff window (seconds).
        max_retry_after_seconds: cap of a destination's ``Retry-After`` (seconds), so a broken header does
            not park a row for days.
    """

    max_attempts: int = 8
    base_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    max_retry_after_seconds: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): full jitter, at least ``retry_after``.

        Returns:
            ``max(uniform(0, min(max_backoff, base * 2**(attempt - 1))), min(retry_after, max_retry_after))``.
        """
        wait = wait_random_exponential(multiplier=self.base_seconds, max=self.max_backoff_seconds)
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(attempt, 1)
        jittered = float(wait(state))
        floor = min(retry_after or 0.0, self.max_retry_after_seconds)
        return max(jittered, floor)


@dataclass(frozen=True)
class OutboxItem:
    """A claimed (or listed) outbox row.

    Attributes:
        id: the row id.
        action: the ``Action`` contract it holds.
        status: ``STATUSES``.
        attempts: attempts so far, this one included once claimed.
        next_attempt_at, claimed_until, delivered_at: UTC times or None.
        claimed_by: the worker holding the lease, or None.
        last_error: the last failure or skip reason, or None.
        external_id: the destination's id of the effect, once delivered.
    """

    id: int
    action: Action
    status: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    claimed_until: datetime | None
    last_error: str | None
    external_id: str | None
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> OutboxItem:
        """An item from an ``outbox`` row mapping."""
        action = Action(
            action_id=row["action_id"],
            kind=row["kind"],
            destination=row["destination"],
            lead_id=row["lead_id"],
            decision_id=row["decision_id"],
            idempotency_key=row["idempotency_key"],
            payload=orjson.loads(row["payload"]),
            created_at=_utc(row["created_at"]),
        )
        return cls(
            id=int(row["id"]),
            action=action,
            status=row["status"],
            attempts=int(row["attempts"]),
            next_attempt_at=_utc(row["next_attempt_at"]),
            claimed_by=row["claimed_by"],
            claimed_until=_utc(row["claimed_until"]),
            last_error=row["last_error"],
            external_id=row["external_id"],
            delivered_at=_utc(row["delivered_at"]),
        )


def enqueue(conn: Connection, actions: Sequence[Action]) -> None:
    """Store actions as pending outbox rows, inside the caller's transaction.

    An action whose ``(destination, idempotency_key)`` is already stored is skipped (ON CONFLICT DO
    NOTHING), so planning the same effect twice stores it once.

    Args:
        conn: a connection in the write transaction that stores the decision (SQLite: under ``write_lock``).
        actions: the planned actions; due at once (``next_attempt_at = created_at``).
    """
    if not actions:
        return
    rows = [
        {
            "action_id": a.action_id,
            "kind": a.kind,
            "destination": a.destination,
            "lead_id": a.lead_id,
            "decision_id": a.decision_id,
            "idempotency_key": a.idempotency_key,
            "payload": orjson.dumps(a.payload, option=orjson.OPT_SORT_KEYS).decode(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": _stored(a.created_at),
            "created_at": _stored(a.created_at),
        }
        for a in actions
    ]
    conn.execute(insert_ignore(conn, OUTBOX, ["destination", "idempotency_key"]), rows)


def claim(
    conn: Connection,
    worker_id: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    *,
    exclude_destinations: Iterable[str] = (),
    only_destinations: Iterable[str] | None = None,
) -> list[OutboxItem]:
    """Lease up to ``limit`` due pending rows to ``worker_id``, oldest due first (see the module doc).

    Args:
        conn: a connection in a write transaction (SQLite: under ``write_lock``); commit soon after.
        worker_id: the claiming worker (``host:pid`` or ``--worker-id``).
        limit: most rows to claim (>= 1).
        now: the current time; rows due by then with no unexpired lease are claimable.
        lease: how long the claim holds; past ``now + lease`` another worker may take the row.
        exclude_destinations: destinations not to claim for (their circuit breaker is open).
        only_destinations: claim only for these destinations (the ones this worker has built), or all.

    Returns:
        The claimed items (``attempts`` already counts this attempt), ordered by due time and id.
    """
    cond = and_(
        OUTBOX.c.status == "pending",
        OUTBOX.c.next_attempt_at <= _stored(now),
        or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until <= _stored(now)),
    )
    excluded = list(exclude_destinations)
    if excluded:
        cond = and_(cond, OUTBOX.c.destination.not_in(excluded))
    if only_destinations is not None:
        cond = and_(cond, OUTBOX.c.destination.in_(list(only_destinations)))
    pick = select(OUTBOX.c.id).where(cond).order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(pick.scalar_subquery()))
        .values(
            claimed_by=worker_id,
            claimed_until=_stored(now + lease),
            attempts=OUTBOX.c.attempts + 1,
        )
        .returning(*OUTBOX.c)
    )
    items = [OutboxItem.from_row(r) for r in conn.execute(stmt).mappings()]
    items.sort(key=lambda i: (i.next_attempt_at or now, i.id))
    return items


def _mine(item: OutboxItem, worker_id: str) -> Any:
    return and_(OUTBOX.c.id == item.id, OUTBOX.c.status == "pending", OUTBOX.c.claimed_by == worker_id)


def mark_delivered(
    conn: Connection, item: OutboxItem, worker_id: str, now: datetime, external_id: str | None
) -> bool:
    """Record a successful delivery.

    Returns:
        True when the row was still pending (False: it was already delivered, e.g. by another worker
        after this one's lease expired; the destination's idempotency kept one effect).
    """
    result = conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == item.id, OUTBOX.c.status == "pending")
        .values(
            status="delivered",
            delivered_at=_stored(now),
            external_id=None if external_id is None else external_id[:256],
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
    )
    del worker_id  # delivered is a fact whoever holds the lease now
    return bool(result.rowcount)


def mark_dead(conn: Connection, item: OutboxItem, worker_id: str | None, reason: str, now: datetime) -> bool:
    """Move a row to the dead-letter state and append the ``delivery_dead`` work event.

    Args:
        conn: a write transaction (SQLite: under ``write_lock``).
        item: the row.
        worker_id: the worker holding the lease, or None to dead-letter regardless of lease.
        reason: why (the error, with the HTTP status when there was one); no personal data.
        now: the time of the work event.

    Returns:
        True when this call moved it (False: the row was no longer this worker's).
    """
    cond = _mine(item, worker_id) if worker_id is not None else OUTBOX.c.id == item.id
    result = conn.execute(
        update(OUTBOX)
        .where(cond)
        .values(status="dead", last_error=reason[:2000], claimed_by=None, claimed_until=None)
    )
    if not result.rowcount:
        return False
    append_event(
        conn,
        kind="delivery_dead",
        lead_id=item.action.lead_id,
        decision_id=item.action.decision_id,
        at=now,
        actor="leadgate",
        reason=reason[:500],
        data={
            "action_id": item.action.action_id,
            "kind": item.action.kind,
            "destination": item.action.destination,
            "attempts": item.attempts,
        },
    )
    return True


def mark_failed(
    conn: Connection,
    item: OutboxItem,
    worker_id: str,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    permanent: bool = False,
) -> str:
    """Record a failed attempt: retry later, or dead when permanent or out of attempts.

    Args:
        conn: a write transaction (SQLite: under ``write_lock``).
        item: the claimed item (``attempts`` counts this attempt).
        worker_id: the worker holding its lease.
        error: what went wrong (no personal data).
        now: the current time.
        policy: backoff and attempt limits.
        retry_after: the destination's ``Retry-After`` in seconds, or None.
        permanent: True for a ``PermanentDeliveryError`` (dead at once).

    Returns:
        ``pending`` (rescheduled), ``dead``, or ``lost`` (the lease had passed to another worker).
    """
    if permanent or item.attempts >= policy.max_attempts:
        why = error if permanent else f"gave up after {item.attempts} attempts: {error}"
        return "dead" if mark_dead(conn, item, worker_id, why, now) else "lost"
    due = now + timedelta(seconds=policy.delay(item.attempts, retry_after))
    result = conn.execute(
        update(OUTBOX)
        .where(_mine(item, worker_id))
        .values(next_attempt_at=_stored(due), last_error=error[:2000], claimed_by=None, claimed_until=None)
    )
    return "pending" if result.rowcount else "lost"


def mark_skipped(conn: Connection, item: OutboxItem, worker_id: str, reason: str, now: datetime) -> bool:
    """Record that consent or do-not-contact refused the action at send time (``reason`` says why).

    Returns:
        True when this call moved the row.
    """
    result = conn.execute(
        update(OUTBOX)
        .where(_mine(item, worker_id))
        .values(
            status="skipped",
            last_error=f"skipped: {reason}"[:2000],
            delivered_at=_stored(now),
            claimed_by=None,
            claimed_until=None,
        )
    )
    return bool(result.rowcount)


def reschedule(conn: Connection, item: OutboxItem, worker_id: str, due: datetime, note: str) -> bool:
    """Give a claimed row back without counting the attempt (the circuit breaker was open), due at ``due``."""
    result = conn.execute(
        update(OUTBOX)
        .where(_mine(item, worker_id))
        .values(
            next_attempt_at=_stored(due),
            attempts=OUTBOX.c.attempts - 1,
            last_error=note[:2000],
            claimed_by=None,
            claimed_until=None,
        )
    )
    return bool(result.rowcount)


def release(conn: Connection, worker_id: str, ids: Iterable[int]) -> int:
    """Give back claimed rows not yet attempted (a stopping worker), without counting an attempt.

    Returns:
        How many rows were released.
    """
    wanted = list(ids)
    if not wanted:
        return 0
    result = conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(wanted), OUTBOX.c.status == "pending", OUTBOX.c.claimed_by == worker_id)
        .values(claimed_by=None, claimed_until=None, attempts=OUTBOX.c.attempts - 1)
    )
    return int(result.rowcount)


def replay(
    conn: Connection, *, ids: Sequence[int] = (), all_dead: bool = False, now: datetime, actor: str
) -> list[int]:
    """Send rows again: back to pending, attempts reset, due now, same idempotency key.

    Args:
        conn: a write transaction (SQLite: under ``write_lock``).
        ids: rows to replay (dead, skipped or delivered; a pending row is refused).
        all_dead: also every dead row.
        now: the replay time.
        actor: who asked (``cli:<user>``), for the ``delivery_replayed`` event.

    Returns:
        The replayed row ids.

    Raises:
        OutboxError: an id that does not exist or is still pending.
    """
    rows: dict[int, Any] = {}
    if ids:
        found = {
            r["id"]: r for r in conn.execute(select(OUTBOX).where(OUTBOX.c.id.in_(list(ids)))).mappings()
        }
        for i in ids:
            if i not in found:
                raise OutboxError(f"outbox row {i} does not exist")
            if found[i]["status"] == "pending":
                raise OutboxError(f"outbox row {i} is still pending: nothing to replay")
            rows[i] = found[i]
    if all_dead:
        for r in conn.execute(
            select(OUTBOX).where(OUTBOX.c.status == "dead").order_by(OUTBOX.c.id)
        ).mappings():
            rows[r["id"]] = r
    for row_id, r in sorted(rows.items()):
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row_id)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=_stored(now),
                claimed_by=None,
                claimed_until=None,
                delivered_at=None,
            )
        )
        append_event(
            conn,
            kind="delivery_replayed",
            lead_id=r["lead_id"],
            decision_id=r["decision_id"],
            at=now,
            actor=actor,
            reason=f"replayed from {r['status']}",
            data={"action_id": r["action_id"], "destination": r["destination"], "kind": r["kind"]},
        )
    return sorted(rows)


def list_items(
    conn: Connection,
    *,
    status: str | None = None,
    lead_id: str | None = None,
    destination: str | None = None,
    limit: int = 100,
) -> list[OutboxItem]:
    """Outbox rows, newest first, optionally filtered by status, lead and destination."""
    query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OUTBOX.c.status == status)
    if lead_id is not None:
        query = query.where(OUTBOX.c.lead_id == lead_id)
    if destination is not None:
        query = query.where(OUTBOX.c.destination == destination)
    return [OutboxItem.from_row(r) for r in conn.execute(query).mappings()]


def get_item(conn: Connection, ref: str | int) -> OutboxItem:
    """One outbox row by id or ``action_id``.

    Raises:
        OutboxError: no such row.
    """
    text = str(ref)
    cond = OUTBOX.c.id == int(text) if text.isdigit() else OUTBOX.c.action_id == text
    row = conn.execute(select(OUTBOX).where(cond)).mappings().first()
    if row is None:
        raise OutboxError(f"outbox row {ref} does not exist")
    return OutboxItem.from_row(row)


def status_counts(conn: Connection) -> dict[str, int]:
    """Rows per status (every status present, zero when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in conn.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)):
        counts[status] = int(n)
    return counts
