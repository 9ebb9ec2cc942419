"""Storing verified CRM webhook events: each once, as an outcome linked to its decision, or a dead letter.

The second half of ``leadgate.ingest.crm_events`` (which verifies and parses): ``record_events`` claims
each event in ``inbound_events`` (unique ``(source, event_id)``: a replay is ``duplicate``), finds the
lead (``find_lead``) and the decision (``decision_at``: the lead's latest decision decided at or before
the event), stores the outcome in ``outcomes`` (source ``crm:<source>``) and chains a work event
``outcome``; an event naming no known lead is ``dead`` and its body kept in ``dead_letters``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, select

from leadgate.ingest.crm_events import CrmEvent, CrmEventError


@dataclass(frozen=True)
class EventResult:
    """What became of one event: ``recorded``, ``duplicate``, ``ignored`` or ``dead`` (with the reason)."""

    event_id: str
    status: Literal["recorded", "duplicate", "ignored", "dead"]
    outcome: str | None = None
    lead_id: str | None = None
    decision_id: str | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the API answer)."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def find_lead(conn: Connection, source: str, event: CrmEvent) -> str | None:
    """The stored lead an event is about, or None.

    Its ``lead_id`` when it names one, else the lead of the outbox action whose destination is ``source``
    and whose ``external_id`` (the CRM's id of the record leadgate created) is the event's object id.
    """
    from leadgate.db.acting_models import OutboxRow
    from leadgate.db.store import LEADS

    if event.lead_id is not None:
        found = conn.execute(select(LEADS.c.lead_id).where(LEADS.c.lead_id == event.lead_id)).scalar()
        return None if found is None else str(found)
    if event.external_id is None:
        return None
    lead = conn.execute(
        select(OutboxRow.lead_id)
        .where(OutboxRow.destination == source, OutboxRow.external_id == event.external_id)
        .limit(1)
    ).scalar()
    return None if lead is None else str(lead)


def decision_at(conn: Connection, lead_id: str, at: datetime) -> str | None:
    """The id of the lead's latest decision decided at or before ``at`` (None when there is none)."""
    from leadgate.db.models import DecisionRow
    from leadgate.db.store import iso

    return conn.execute(
        select(DecisionRow.decision_id)
        .where(DecisionRow.lead_id == lead_id, DecisionRow.decided_at <= iso(at))
        .order_by(DecisionRow.decided_at.desc(), DecisionRow.id.desc())
        .limit(1)
    ).scalar()


def _claim(conn: Connection, source: str, event: CrmEvent, now: datetime) -> bool:
    """Insert the event's ``inbound_events`` row; False when it was there already (a replay)."""
    from leadgate.db.inbound_models import InboundEventRow
    from leadgate.db.store import insert_ignore

    table = InboundEventRow.__table__
    row = {
        "source": source,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "status": "pending",
        "reason": "",
        "occurred_at": event.occurred_at,
        "received_at": now,
    }
    # RETURNING, not rowcount: the driver reports -1 for an INSERT ... ON CONFLICT on PostgreSQL
    stmt = insert_ignore(conn, table, ["source", "event_id"]).values(**row).returning(table.c.id)  # type: ignore[arg-type]
    return conn.execute(stmt).first() is not None


def _finish(conn: Connection, source: str, result: EventResult, outcome: str | None) -> None:
    from sqlalchemy import update

    from leadgate.db.inbound_models import InboundEventRow

    conn.execute(
        update(InboundEventRow)
        .where(InboundEventRow.source == source, InboundEventRow.event_id == result.event_id)
        .values(
            status=result.status,
            reason=result.reason,
            lead_id=result.lead_id,
            decision_id=result.decision_id,
            outcome=outcome,
        )
    )


def dead_letter_row(
    source: str, body: bytes, reason: str, errors: Sequence[Mapping[str, str]], now: datetime
) -> dict[str, Any]:
    """The ``dead_letters`` row of a refused webhook body (source ``crm:<source>``, kept once per body)."""
    try:
        record = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONDecodeError:
        record = orjson.dumps({"raw": body.decode("utf-8", "replace")}).decode()
    return {
        "source": f"crm:{source}"[:64],
        "dedupe_key": hashlib.sha256(f"crm|{source}|{reason}|".encode() + body).hexdigest(),
        "import_run_id": None,
        "row_number": None,
        "record": record,
        "reason": reason,
        "errors": orjson.dumps(list(errors)).decode(),
        "created_at": now,
        "caller": f"crm:{source}"[:160],
    }


def record_events(
    engine: Engine, source: str, events: Sequence[CrmEvent], body: bytes, now: datetime
) -> list[EventResult]:
    """Store verified events, each at most once, in one transaction.

    Per event: a replay is ``duplicate`` (nothing changes); an event without an outcome is ``ignored``;
    one whose lead is unknown is ``dead`` and the body is kept in ``dead_letters`` with the reason;
    otherwise the outcome is stored (linked to ``decision_at``) with a work event ``outcome``.

    Args:
        engine: the leadgate database.
        source: the CRM's name (the URL's ``{source}``).
        events: the parsed events of one request.
        body: the raw request body (kept in a dead letter when an event is dead).
        now: the time of receipt (aware UTC).

    Returns:
        One ``EventResult`` per event, in order.
    """
    from leadgate.audit.events import append_event
    from leadgate.audit.outcomes import write_outcomes
    from leadgate.db.engine import write_lock
    from leadgate.db.store import write_dead_letters

    results: list[EventResult] = []
    dead: list[dict[str, Any]] = []
    with write_lock(engine), engine.begin() as conn:
        for event in events:
            if not _claim(conn, source, event, now):
                results.append(EventResult(event.event_id, "duplicate"))
                continue
            if event.outcome is None:
                result = EventResult(
                    event.event_id, "ignored", reason=f"{event.event_type} carries no outcome"
                )
                _finish(conn, source, result, None)
                results.append(result)
                continue
            lead_id = find_lead(conn, source, event)
            if lead_id is None:
                ref = f"lead {event.lead_id}" if event.lead_id else f"{source} object {event.external_id}"
                result = EventResult(event.event_id, "dead", event.outcome, reason=f"unknown lead: {ref}")
                _finish(conn, source, result, event.outcome)
                dead.append(
                    dead_letter_row(
                        source, body, result.reason, [{"path": event.event_id, "reason": result.reason}], now
                    )
                )
                results.append(result)
                continue
            decision_id = decision_at(conn, lead_id, event.occurred_at)
            when = event.occurred_at.isoformat()
            facts = {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "external_id": event.external_id,
                "decision_id": decision_id,
            }
            write_outcomes(
                conn,
                [
                    {
                        "lead_id": lead_id,
                        "outcome": event.outcome,
                        "occurred_at": event.occurred_at,
                        "source": f"crm:{source}"[:64],
                        "dedupe_key": hashlib.sha256(
                            f"crm:{source}|{lead_id}|{event.outcome}|{when}".encode()
                        ).hexdigest(),
                        "record": orjson.dumps(facts, option=orjson.OPT_SORT_KEYS).decode(),
                        "recorded_at": now,
                        "decision_id": decision_id,
                    }
                ],
            )
            append_event(
                conn,
                kind="outcome",
                lead_id=lead_id,
                at=now,
                actor=f"crm:{source}",
                reason=f"{event.event_type}: {event.outcome} at {when}",
                decision_id=decision_id,
                data={
                    "outcome": event.outcome,
                    "occurred_at": when,
                    "event_id": event.event_id,
                    "source": source,
                },
            )
            result = EventResult(event.event_id, "recorded", event.outcome, lead_id, decision_id)
            _finish(conn, source, result, event.outcome)
            results.append(result)
        if dead:
            write_dead_letters(conn, dead)
    return results


def reject(engine: Engine, source: str, body: bytes, error: CrmEventError, now: datetime) -> None:
    """Keep a verified but invalid body as a dead letter with its errors (answered 422)."""
    from leadgate.db.engine import write_lock
    from leadgate.db.store import write_dead_letters

    row = dead_letter_row(source, body, f"invalid event: {error}", error.errors, now)
    with write_lock(engine), engine.begin() as conn:
        write_dead_letters(conn, [row])
