"""Erasure (GDPR Art. 17): remove one person's personal data everywhere, and leave a tombstone.

The person is found by the blind index of their email (``crypto.KeyRing.blind_index``), never by a
plaintext search:

    ``leads``              email_index       personal fields (``pii``) removed; the rest of the lead and its
                                             decisions stay (the hash-chained log is not rewritten);
                                             ``tombstone_id`` set, which ``audit verify`` accepts
    ``conversations``      email_index, the person's leads (``lead_id``), their bookings: deleted with
                           all their events (messages and slots are only personal)
    ``bookings``           email_index, the deleted conversations: attendee name, email and invite
                           overwritten (the rep's slot stays taken)
    ``dead_letters``       email_index       deleted (a raw rejected record is only personal)

Everything happens in one transaction under the writer lock, with a ``privacy_tombstones`` row (blind
index, who asked, why, when, rows per table). Files written before (a decisions CSV holds no personal
field, see docs/security.md) are outside the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, delete, or_, select, update

from leadgate.db.engine import write_lock
from leadgate.db.models import Base
from leadgate.errors import LeadgateError
from leadgate.privacy.crypto import aad, keyring


class ErasureRequestError(LeadgateError, ValueError):
    """An erasure or export request that cannot be carried out (no email given)."""


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


@dataclass
class PersonRows:
    """The rows holding one person's data, found through the blind index (ids per table)."""

    email_index: str
    lead_ids: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)
    booking_ids: list[str] = field(default_factory=list)
    dead_letter_ids: list[int] = field(default_factory=list)


def find_person(conn: Connection, email_index: str) -> PersonRows:
    """Every lead, conversation, booking and dead letter of the person with this email blind index.

    Conversations are found by their own index, their lead (``chat-<id>`` or any lead of the person)
    and their bookings; bookings by their index and their conversation.
    """
    leads, convs, books, dead = _t("leads"), _t("conversations"), _t("bookings"), _t("dead_letters")
    found = PersonRows(email_index)
    found.lead_ids = list(
        conn.execute(select(leads.c.lead_id).where(leads.c.email_index == email_index)).scalars()
    )
    booked = conn.execute(
        select(books.c.booking_id, books.c.conversation_id).where(books.c.email_index == email_index)
    ).all()
    conv_ids = set(
        conn.execute(
            select(convs.c.conversation_id).where(
                or_(
                    convs.c.email_index == email_index,
                    convs.c.lead_id.in_(found.lead_ids),
                    convs.c.conversation_id.in_([c for _, c in booked if c is not None]),
                )
            )
        ).scalars()
    )
    found.conversation_ids = sorted(conv_ids)
    chat_leads = {f"chat-{c}" for c in conv_ids} - set(found.lead_ids)
    if chat_leads:
        found.lead_ids += list(
            conn.execute(select(leads.c.lead_id).where(leads.c.lead_id.in_(sorted(chat_leads)))).scalars()
        )
    found.booking_ids = sorted(
        {b for b, _ in booked}
        | set(
            conn.execute(
                select(books.c.booking_id).where(books.c.conversation_id.in_(found.conversation_ids))
            ).scalars()
        )
    )
    found.dead_letter_ids = list(
        conn.execute(select(dead.c.id).where(dead.c.email_index == email_index)).scalars()
    )
    return found


@dataclass(frozen=True)
class ErasureSummary:
    """What an erasure did: its tombstone, and rows erased or deleted per table."""

    tombstone_id: str
    counts: dict[str, int]


def write_tombstone(
    conn: Connection,
    tombstone_id: str,
    *,
    kind: str,
    email_index: str | None,
    requested_by: str,
    reason: str | None,
    counts: dict[str, int],
) -> None:
    """Insert a ``privacy_tombstones`` row (caller's transaction); ``kind`` is erasure or retention."""
    from leadgate.db.store import utcnow

    conn.execute(
        _t("privacy_tombstones")
        .insert()
        .values(
            tombstone_id=tombstone_id,
            kind=kind,
            email_index=email_index,
            requested_by=requested_by,
            reason=reason,
            counts=orjson.dumps(counts).decode(),
            created_at=utcnow(),
        )
    )


def erase_rows(conn: Connection, found: PersonRows, tombstone_id: str) -> dict[str, int]:
    """Remove the personal data of ``found`` (see the module docstring); rows touched per table."""
    leads, convs, events = _t("leads"), _t("conversations"), _t("conversation_events")
    books, dead = _t("bookings"), _t("dead_letters")
    ring = keyring(conn)
    counts: dict[str, int] = {}
    counts["leads"] = conn.execute(
        update(leads)
        .where(leads.c.lead_id.in_(found.lead_ids))
        .values(pii=None, email_index=None, tombstone_id=tombstone_id)
    ).rowcount
    counts["conversation_events"] = conn.execute(
        delete(events).where(events.c.conversation_id.in_(found.conversation_ids))
    ).rowcount
    counts["conversations"] = conn.execute(
        delete(convs).where(convs.c.conversation_id.in_(found.conversation_ids))
    ).rowcount
    erased = 0
    for booking_id in found.booking_ids:
        erased += conn.execute(
            update(books)
            .where(books.c.booking_id == booking_id)
            .values(
                attendee_name=ring.encrypt_text("", aad("bookings", "attendee_name", booking_id)),
                attendee_email=ring.encrypt_text("", aad("bookings", "attendee_email", booking_id)),
                ics=ring.encrypt_text("", aad("bookings", "ics", booking_id)),
                email_index=None,
                conversation_id=None,
            )
        ).rowcount
    counts["bookings"] = erased
    counts["dead_letters"] = conn.execute(delete(dead).where(dead.c.id.in_(found.dead_letter_ids))).rowcount
    return counts


AccessRecorder = Callable[[Connection, str, dict[str, Any]], None]
"""Writes the access-log entry of an erasure inside its transaction: ``(conn, tombstone_id, counts)``."""


def erase_person(
    engine: Engine,
    email: str,
    *,
    requested_by: str,
    reason: str | None = None,
    record: AccessRecorder | None = None,
) -> ErasureSummary:
    """Erase everything held about the person with ``email`` and write a tombstone (one transaction).

    Idempotent: erasing the same person again finds nothing and writes a tombstone with zero counts
    (the request itself is worth recording).

    Args:
        engine: the database.
        email: the person's email address (normalized: trimmed, lowercased).
        requested_by: who asked: ``Principal.subject`` or ``cli:<os user>``.
        reason: why (free text, e.g. a ticket number); stored on the tombstone.
        record: writes the access-log entry in the same transaction.

    Raises:
        ErasureRequestError: an empty email.
    """
    if not email.strip():
        raise ErasureRequestError("erasure needs the person's email address")
    ring = keyring(engine)
    index = ring.blind_index(email)
    with write_lock(engine), engine.begin() as conn:
        found = find_person(conn, index)
        tombstone_id = str(uuid.uuid4())
        counts = erase_rows(conn, found, tombstone_id)
        write_tombstone(
            conn,
            tombstone_id,
            kind="erasure",
            email_index=index,
            requested_by=requested_by,
            reason=reason,
            counts=counts,
        )
        if record is not None:
            record(conn, tombstone_id, counts)
    return ErasureSummary(tombstone_id, counts)
