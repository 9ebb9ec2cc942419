"""The dispatcher: claim due outbox rows, deliver each through its destination, record what happened.

One pass (``Dispatcher.run_once``):

1. claim a batch in one short write transaction (``outbox.claim``), leaving out destinations whose circuit
   breaker is open;
2. read the batch's leads (personal fields decrypted, ``store.decrypt_lead``) and decisions (public fields)
   in one short read transaction; then, for each row just before its send, the consent gate
   (``leadgate.actions.gate.check``, for kinds that contact the lead; refused, or the lead's personal data
   erased: the row is ``skipped`` with the reason; a lead not stored at all: dead) and the assigned rep
   (``leadgate.reps``);
3. call ``destination.deliver`` through that destination's pybreaker ``CircuitBreaker`` with **no
   transaction open**;
4. record the outcome in its own short write transaction: delivered, retried later (full-jitter backoff,
   at least ``Retry-After``), dead (a ``PermanentDeliveryError`` or out of attempts: work event
   ``delivery_dead``), or given back unattempted while the breaker is open.

Breakers: one per destination, opened after ``breaker_fail_max`` consecutive retryable failures and
half-open after ``breaker_reset_seconds`` (one trial call; success closes it). A ``PermanentDeliveryError``
(a refused payload) does not count against the destination, nor does a rate limit (HTTP 429): the destination
is up and said when to come back, which ``Retry-After`` already honours (a breaker is for a destination that
fails, Nygard, "Release It!", 2nd ed., ch. 5; throttling is backoff's job). While a breaker is open its rows are not
claimed; a row claimed in the same batch as the tripping failure is given back without counting the attempt.

A row whose lease would run out before its delivery could finish (``lease - timeout``) is released rather
than sent, so a slow batch never has two workers sending the same row at once.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import pybreaker
from sqlalchemy import Connection, Engine, select

from leadgate.actions import outbox
from leadgate.actions.gate import ACTION_PURPOSES, check
from leadgate.actions.outbox import OutboxItem, RetryPolicy
from leadgate.actions.ports import (
    Delivered,
    Delivery,
    Destination,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.db.engine import write_lock
from leadgate.db.store import DECISIONS, LEADS, decrypt_lead, utcnow
from leadgate.errors import LeadgateError
from leadgate.governance.consent import UnknownLeadError
from leadgate.reps.model import RepDirectory

log = logging.getLogger(__name__)

GATE_KINDS: Final[dict[str, str]] = {
    "crm_upsert": "crm_sync",
    "crm_task": "crm_sync",
    "notify_rep": "rep_notification",
    "notify_manager": "rep_notification",
    "nurture": "nurture",
    "invite": "meeting_invite",
}
"""Action kind -> the consent gate's kind (``leadgate.actions.gate.ACTION_PURPOSES``): CRM records and rep
notifications do not contact the lead; a nurture trigger needs marketing opt-in; an invite is sales e-mail."""

DECISION_FIELDS: Final[tuple[str, ...]] = (
    "decision_id",
    "tier",
    "action",
    "probability",
    "confidence",
    "fit_score",
    "reasons",
    "policy_version",
    "review_required",
    "decided_at",
)
"""The decision's public fields a destination receives (``Delivery.decision``)."""


def _permanent(exc: BaseException) -> bool:
    """True for a refused payload (``PermanentDeliveryError``): not a failure of the destination."""
    return isinstance(exc, PermanentDeliveryError)


def _rate_limited(exc: BaseException) -> bool:
    """True for a destination's rate limit (HTTP 429): not a failure for the circuit breaker."""
    return isinstance(exc, RetryableDeliveryError) and exc.status == 429


@dataclass
class DispatchResult:
    """What one pass did: ``counts`` per outcome (delivered, retry, dead, skipped, deferred, released, lost)."""

    claimed: int = 0
    counts: Counter[str] = field(default_factory=Counter)


class Dispatcher:
    """Delivers outbox rows through the configured destinations (see the module doc).

    Args:
        engine: the leadgate database.
        destinations: configured name -> built destination (``Destinations.build``).
        worker_id: this worker's id (the lease holder), e.g. ``host:pid``.
        reps: the rep directory, for ``Delivery.rep``; None sends no rep.
        policy: retry limits and backoff.
        lease_seconds: how long a claim holds (seconds).
        timeout_seconds: the destinations' network timeout (seconds); a row is sent only with at least
            this much lease left.
        breaker_fail_max: consecutive failures that open a destination's breaker.
        breaker_reset_seconds: how long a breaker stays open before one trial call (seconds).
        clock: the current UTC time (tests pass a controllable clock).
    """

    def __init__(
        self,
        engine: Engine,
        destinations: Mapping[str, Destination],
        *,
        worker_id: str,
        reps: RepDirectory | None = None,
        policy: RetryPolicy | None = None,
        lease_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        breaker_fail_max: int = 5,
        breaker_reset_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.destinations = dict(destinations)
        self.worker_id = worker_id
        self.reps = reps
        self.policy = policy or RetryPolicy()
        self.lease = timedelta(seconds=lease_seconds)
        self.timeout = timedelta(seconds=min(timeout_seconds, lease_seconds / 2))
        self.clock = clock
        self.breakers = {
            name: pybreaker.CircuitBreaker(
                fail_max=breaker_fail_max,
                reset_timeout=breaker_reset_seconds,
                exclude=[_permanent, _rate_limited],
                name=name,
                throw_new_error_on_trip=False,
            )
            for name in self.destinations
        }
        self.totals: Counter[str] = Counter()
        self._conn: Connection | None = None
        self._leads: dict[str, tuple[str | None, dict[str, Any] | LeadgateError]] = {}
        self._decisions: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ breakers

    def reopens_at(self, name: str) -> datetime | None:
        """When the open breaker of ``name`` lets a trial call through, or None when it is not open."""
        breaker = self.breakers[name]
        opened = breaker._state_storage.opened_at  # pybreaker keeps it there (CircuitOpenState.before_call)
        if breaker.current_state != pybreaker.STATE_OPEN or opened is None:
            return None
        at: datetime = opened + timedelta(seconds=breaker.reset_timeout)
        return at if at > datetime.now(UTC) else None

    def open_destinations(self) -> list[str]:
        """Destinations whose breaker is open now (their rows are not claimed)."""
        return [name for name in self.destinations if self.reopens_at(name) is not None]

    # ------------------------------------------------------------------ one pass

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A short write transaction (under ``write_lock``), on the batch's connection when there is one."""
        with write_lock(self.engine):
            if self._conn is None:
                with self.engine.begin() as conn:
                    yield conn
            else:
                with self._conn.begin():
                    yield self._conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A short read transaction, on the batch's connection when there is one."""
        if self._conn is None:
            with self.engine.connect() as conn:
                yield conn
        else:
            with self._conn.begin():
                yield self._conn

    def claim_batch(self, limit: int) -> list[OutboxItem]:
        """Claim up to ``limit`` due rows of the built destinations whose breaker is not open."""
        with self._write() as conn:
            return outbox.claim(
                conn,
                self.worker_id,
                limit,
                self.clock(),
                self.lease,
                exclude_destinations=self.open_destinations(),
                only_destinations=list(self.destinations),
            )

    def run_once(self, limit: int = 20, stop: threading.Event | None = None) -> DispatchResult:
        """Claim one batch and deliver it; rows left when ``stop`` is set are released unattempted.

        Returns:
            The pass's ``DispatchResult`` (also added to ``totals``).
        """
        # One connection for the batch (no pool checkout per step); every step is its own short
        # transaction, and none is open while a destination is called.
        with self.engine.connect() as conn:
            self._conn = conn
            try:
                items = self.claim_batch(limit)
                result = DispatchResult(claimed=len(items))
                if items:
                    self._prefetch(items)
                for index, item in enumerate(items):
                    if stop is not None and stop.is_set():
                        result.counts["released"] += self.release(items[index:])
                        break
                    result.counts[self.deliver_item(item)] += 1
            finally:
                self._conn = None
                self._leads.clear()
                self._decisions.clear()
        self.totals.update(result.counts)
        return result

    def release(self, items: list[OutboxItem]) -> int:
        """Give claimed rows back without counting an attempt (returns how many)."""
        with self._write() as conn:
            return outbox.release(conn, self.worker_id, [i.id for i in items])

    def deliver_item(self, item: OutboxItem) -> str:
        """Deliver one claimed row and record the outcome.

        Returns:
            ``delivered``, ``retry``, ``dead``, ``skipped``, ``deferred`` (breaker open, no attempt
            counted), ``released`` (too little lease left) or ``lost`` (another worker holds it now).
        """
        action = item.action
        now = self.clock()
        if item.claimed_until is not None and now + self.timeout > item.claimed_until:
            return "released" if self.release([item]) else "lost"
        destination = self.destinations[action.destination]
        try:
            delivery = self._prepare(item, now)
        except LeadgateError as exc:  # the lead is not stored, or cannot be decrypted: dead, with the reason
            return self._record_dead(item, f"cannot deliver: {exc}")
        if isinstance(delivery, str):
            refusal = delivery
            outcome = self._record(
                lambda c: outbox.mark_skipped(c, item, self.worker_id, refusal, now), "skipped"
            )
            self._log(item, outcome, reason=refusal)
            return outcome
        breaker = self.breakers[action.destination]
        try:
            delivered: Delivered = breaker.call(destination.deliver, delivery)
        except pybreaker.CircuitBreakerError:
            reopens = self.reopens_at(action.destination)
            wait = (reopens - datetime.now(UTC)) if reopens is not None else timedelta(0)
            due = self.clock() + max(wait, timedelta(0))  # the breaker runs on the wall clock
            note = f"circuit open for {action.destination}; not attempted"
            outcome = self._record(
                lambda c: outbox.reschedule(c, item, self.worker_id, due, note), "deferred"
            )
            self._log(item, outcome)
            return outcome
        except PermanentDeliveryError as exc:
            return self._failed(item, exc, permanent=True)
        except RetryableDeliveryError as exc:
            return self._failed(item, exc, retry_after=exc.retry_after)
        except Exception as exc:  # any other failure of a plugin is retried, never lost
            return self._failed(item, exc)
        done = self.clock()
        external_id = getattr(delivered, "external_id", None)  # a plugin returning None still delivered
        detail = dict(getattr(delivered, "detail", None) or {})
        outcome = self._record(
            lambda c: outbox.mark_delivered(c, item, self.worker_id, done, external_id), "delivered"
        )
        self._log(item, outcome, external_id=external_id, detail=detail)
        return outcome

    # ------------------------------------------------------------------ reads

    def _prefetch(self, items: list[OutboxItem]) -> None:
        """Read the batch's leads (decrypted) and decisions in one short read transaction (two queries)."""
        lead_ids = sorted({i.action.lead_id for i in items})
        decision_ids = sorted({i.action.decision_id for i in items if i.action.decision_id is not None})
        with self._read() as conn:
            rows = conn.execute(
                select(LEADS.c.lead_id, LEADS.c.data, LEADS.c.pii, LEADS.c.owner, LEADS.c.tombstone_id).where(
                    LEADS.c.lead_id.in_(lead_ids)
                )
            )
            for lead_id, data, pii, owner, tombstone in rows:
                try:
                    doc: dict[str, Any] | LeadgateError = decrypt_lead(conn, lead_id, data, pii)
                except LeadgateError as exc:  # tampered or moved token: that row goes dead, the others go on
                    doc = exc
                if isinstance(doc, dict) and owner is not None:
                    doc["owner"] = owner
                self._leads[lead_id] = (tombstone, doc)
            if decision_ids:
                found = conn.execute(select(DECISIONS).where(DECISIONS.c.decision_id.in_(decision_ids)))
                for row in found.mappings():
                    decision = {name: row[name] for name in DECISION_FIELDS}
                    decision["reasons"] = orjson.loads(decision["reasons"])
                    self._decisions[row["decision_id"]] = decision

    def _prepare(self, item: OutboxItem, now: datetime) -> Delivery | str:
        """The ``Delivery`` of a row, or why it may not be sent now (erased lead, consent refused).

        Consent is asked here, just before the send, for kinds that contact the lead.

        Raises:
            LeadgateError: the lead is not stored, or its personal fields cannot be decrypted.
        """
        action = item.action
        if action.lead_id not in self._leads:
            self._prefetch([item])
        if action.lead_id not in self._leads:
            raise UnknownLeadError(f"lead {action.lead_id} is not stored")
        tombstone, lead = self._leads[action.lead_id]
        if isinstance(lead, LeadgateError):
            raise lead
        if tombstone is not None:
            return "the lead's personal data was erased"
        gate_kind = GATE_KINDS.get(action.kind, action.kind)
        if ACTION_PURPOSES.get(gate_kind) is not None:  # only kinds that contact the lead read consent
            with self._read() as conn:
                permit = check(conn, action.lead_id, gate_kind, now)
            if not permit.allowed:
                return permit.reason
        decision = self._decisions.get(action.decision_id) if action.decision_id else None
        return Delivery(
            action=action, lead=lead, decision=decision, rep=self._rep(action.payload), attempt=item.attempts
        )

    def _rep(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        rep_id = payload.get("rep_id")
        if self.reps is None or not rep_id:
            return None
        rep = self.reps.get(str(rep_id))
        if rep is None:
            return {"id": rep_id}
        manager = self.reps.manager_of(rep.id)
        return {
            "id": rep.id,
            "name": rep.name,
            "email": str(rep.email),
            "timezone": rep.timezone,
            "team": rep.team,
            "notify": list(rep.notify),
            "slack_webhook": rep.slack_webhook,
            "manager": None
            if manager is None
            else {"id": manager.id, "name": manager.name, "email": str(manager.email)},
        }

    # ------------------------------------------------------------------ writes

    def _record(self, write: Callable[[Connection], bool], outcome: str) -> str:
        with self._write() as conn:
            return outcome if write(conn) else "lost"

    def _record_dead(self, item: OutboxItem, reason: str) -> str:
        outcome = self._record(
            lambda c: outbox.mark_dead(c, item, self.worker_id, reason, self.clock()), "dead"
        )
        self._log(item, outcome, error=reason)
        return outcome

    def _failed(
        self, item: OutboxItem, exc: Exception, *, permanent: bool = False, retry_after: float | None = None
    ) -> str:
        status = getattr(exc, "status", None)
        error = f"{type(exc).__name__}{f' (HTTP {status})' if status else ''}: {exc}"
        now = self.clock()
        with self._write() as conn:
            state = outbox.mark_failed(
                conn,
                item,
                self.worker_id,
                error,
                now,
                self.policy,
                retry_after=retry_after,
                permanent=permanent,
            )
        outcome = {"pending": "retry"}.get(state, state)
        self._log(item, outcome, error=error)
        return outcome

    def _log(self, item: OutboxItem, outcome: str, **extra: Any) -> None:
        level = logging.WARNING if outcome in ("dead", "retry") else logging.INFO
        log.log(
            level,
            f"delivery {outcome}",
            extra={
                "action_id": item.action.action_id,
                "lead_id": item.action.lead_id,
                "kind": item.action.kind,
                "destination": item.action.destination,
                "attempt": item.attempts,
                "outcome": outcome,
                **extra,
            },
        )

    def close(self) -> None:
        """Close every destination (their HTTP clients)."""
        for destination in self.destinations.values():
            try:
                destination.close()
            except Exception:  # a failing close must not keep the others open
                log.exception("closing a destination failed")
