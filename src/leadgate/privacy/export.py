"""Access (GDPR Art. 15): everything held about one person, as one JSON document.

The person is found as for erasure (``erase.find_person``, through the email's blind index), and every
row is decrypted:

    {"schema": "privacy_export/v1", "generated_at": "...", "email": "...",
     "leads": [{"lead": {lead/v1}, "received_at", "decisions": [{decision row, "explanation"}]}],
     "conversations": [{conversation fields, "state": {...}, "events": [{seq, kind, payload, at}]}],
     "bookings": [{booking}], "dead_letters": [{source, row_number, record, reason, created_at}],
     "consents": [{purpose, granted, source, wording_version, given_at, recorded_at}],
     "tombstones": [{tombstone_id, kind, requested_by, reason, counts, created_at}]}
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, select

from leadgate.chat.booking.store import booking_from_row
from leadgate.chat.store import ConversationStore
from leadgate.db import store
from leadgate.db.models import Base
from leadgate.privacy.crypto import keyring, normalize_email
from leadgate.privacy.erase import ErasureRequestError, PersonRows, find_person

SCHEMA = "privacy_export/v1"


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


def _when(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _leads(conn: Connection, found: PersonRows) -> list[dict[str, Any]]:
    leads, decisions, explanations = _t("leads"), _t("decisions"), _t("decision_explanations")
    out = []
    rows = conn.execute(
        select(leads.c.lead_id, leads.c.data, leads.c.pii, leads.c.received_at)
        .where(leads.c.lead_id.in_(found.lead_ids))
        .order_by(leads.c.id)
    ).all()
    for lead_id, data, pii, received in rows:
        decided = []
        query = (
            select(decisions, explanations.c.explanation)
            .outerjoin(explanations, explanations.c.decision_id == decisions.c.decision_id)
            .where(decisions.c.lead_id == lead_id)
            .order_by(decisions.c.id)
        )
        for d in conn.execute(query).mappings():
            row = dict(d)
            for key in ("features", "reasons", "explanation"):
                if row.get(key) is not None:
                    row[key] = orjson.loads(row[key])
            row.pop("prev_hash", None)
            row.pop("id", None)
            decided.append(row)
        out.append(
            {
                "lead": store.decrypt_lead(conn, lead_id, data, pii),
                "received_at": _when(received),
                "decisions": decided,
            }
        )
    return out


def _conversations(conn: Connection, found: PersonRows) -> list[dict[str, Any]]:
    chat = ConversationStore()
    out = []
    for conversation_id in found.conversation_ids:
        conv = chat.get(conn, conversation_id)
        if conv is None:
            continue
        out.append(
            {
                "conversation_id": conv.conversation_id,
                "status": conv.status,
                "timezone": conv.timezone,
                "lead_id": conv.lead_id,
                "decision_id": conv.decision_id,
                "created_at": _when(conv.created_at),
                "updated_at": _when(conv.updated_at),
                "state": orjson.loads(conv.state),
                "events": [
                    {"seq": e.seq, "kind": e.kind, "payload": e.payload, "at": _when(e.created_at)}
                    for e in chat.events(conn, conversation_id)
                ],
            }
        )
    return out


def _bookings(conn: Connection, found: PersonRows) -> list[dict[str, Any]]:
    books = _t("bookings")
    rows = conn.execute(select(books).where(books.c.booking_id.in_(found.booking_ids)).order_by(books.c.id))
    return [booking_from_row(conn, r).model_dump(mode="json") for r in rows]


def _dead_letters(conn: Connection, found: PersonRows) -> list[dict[str, Any]]:
    dead = _t("dead_letters")
    rows = conn.execute(
        select(dead).where(dead.c.id.in_(found.dead_letter_ids)).order_by(dead.c.id)
    ).mappings()
    out = []
    for r in rows:
        row = store.decrypt_dead_letter(conn, dict(r))
        out.append(
            {
                "source": row["source"],
                "row_number": row["row_number"],
                "record": row["record"],
                "reason": row["reason"],
                "created_at": _when(row["created_at"]),
            }
        )
    return out


def _consents(conn: Connection, found: PersonRows) -> list[dict[str, Any]]:
    table = Base.metadata.tables.get("consents")
    if table is None or not found.lead_ids:
        return []
    rows = conn.execute(
        select(table).where(table.c.lead_id.in_(found.lead_ids)).order_by(table.c.id)
    ).mappings()
    keep = ("lead_id", "purpose", "granted", "source", "wording_version", "given_at", "recorded_at")
    return [{k: _when(r[k]) for k in keep} for r in rows]


def _tombstones(conn: Connection, found: PersonRows) -> list[dict[str, Any]]:
    table = _t("privacy_tombstones")
    rows = conn.execute(
        select(table).where(table.c.email_index == found.email_index).order_by(table.c.id)
    ).mappings()
    return [
        {
            "tombstone_id": r["tombstone_id"],
            "kind": r["kind"],
            "requested_by": r["requested_by"],
            "reason": r["reason"],
            "counts": orjson.loads(r["counts"]),
            "created_at": _when(r["created_at"]),
        }
        for r in rows
    ]


def export_person(engine: Engine, email: str) -> tuple[dict[str, Any], PersonRows]:
    """Everything held about the person with ``email`` (the document of the module docstring).

    Returns:
        ``(document, the rows found)``; the document is JSON-ready (``orjson.dumps``).

    Raises:
        ErasureRequestError: an empty email.
        leadgate.privacy.crypto.DecryptionError: a stored value was tampered with.
    """
    if not email.strip():
        raise ErasureRequestError("an export needs the person's email address")
    from leadgate.db.store import iso, utcnow

    index = keyring(engine).blind_index(email)
    with engine.connect() as conn:
        found = find_person(conn, index)
        doc = {
            "schema": SCHEMA,
            "generated_at": iso(utcnow()),
            "email": normalize_email(email),
            "leads": _leads(conn, found),
            "conversations": _conversations(conn, found),
            "bookings": _bookings(conn, found),
            "dead_letters": _dead_letters(conn, found),
            "consents": _consents(conn, found),
            "tombstones": _tombstones(conn, found),
        }
    return doc, found
