"""Reads and writes of chat conversations and their event log (SQLAlchemy Core, SQLite and PostgreSQL).

Every method takes an open ``Connection`` inside a transaction owned by the caller (``chat.service``),
so a visitor message, the assistant's replies and the new flow state commit together. Payloads are JSON
text written with orjson, the same on both backends.

Event kinds (``conversation_events.kind``):
    ``visitor_message``: ``{"text", "option_id"}``, with the widget's ``client_message_id``.
    ``assistant_message``: a ``BotMessage`` as JSON, ``reply_to`` = seq of the visitor message.
    ``staff_message``: ``{"text", "staff_id", "staff_name"}`` (``staff_name`` since staff accounts; may be absent).
    ``flow_event``: ``{"type", "data"}``, an event of the dialogue engine (slot set, handoff, ...).
    ``status_change``: ``{"status", "reason", "by"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, Table, false, insert, select, update

from leadgate.db.chat_models import ConversationEventRow, ConversationRow
from leadgate.governance.access import ALL, Scope
from leadgate.privacy.crypto import aad, keyring
from leadgate.privacy.fields import first_email

CONVERSATIONS: Table = ConversationRow.__table__  # type: ignore[assignment]
EVENTS: Table = ConversationEventRow.__table__  # type: ignore[assignment]

VISITOR = "visitor_message"
ASSISTANT = "assistant_message"
STAFF = "staff_message"
FLOW = "flow_event"
STATUS = "status_change"
MESSAGE_KINDS = (VISITOR, ASSISTANT, STAFF)


def new_token() -> str:
    """A random resume token (256 bits, URL-safe base64, 43 characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a resume token: sha256 hex digest (64 characters)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str | None, token_hash: str) -> bool:
    """True when ``token`` hashes to ``token_hash`` (constant-time comparison); False for None."""
    if not token:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)


def _aware(ts: datetime) -> datetime:
    """``ts`` as aware UTC (SQLite returns stored UTC times without a zone)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


@dataclass(frozen=True)
class Conversation:
    """One ``conversations`` row.

    Attributes:
        conversation_id: UUIDv7 string.
        token_hash: sha256 hex of the resume token.
        status: ``active``, ``handoff`` or ``closed``.
        state: the flow state as JSON text.
        last_seq: seq of the latest event (0 before any).
        pending_seq: seq of a visitor message stored but not yet answered (the assistant failed), or None.
        created_at, updated_at, handoff_at: aware UTC datetimes.
        owner: the sales rep (rep id) the conversation is assigned to, or None (routing assigns it).
    """

    conversation_id: str
    token_hash: str
    visitor_id: str | None
    status: str
    flow_version: str
    state: str
    timezone: str
    last_seq: int
    pending_seq: int | None
    lead_id: str | None
    decision_id: str | None
    handoff_reason: str | None
    handoff_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping, state: str | None = None) -> Conversation:
        """Build from a result mapping of ``CONVERSATIONS`` (``state``: the decrypted state JSON)."""
        return cls(
            conversation_id=row["conversation_id"],
            token_hash=row["token_hash"],
            visitor_id=row["visitor_id"],
            status=row["status"],
            flow_version=row["flow_version"],
            state=row["state"] if state is None else state,
            timezone=row["timezone"],
            last_seq=row["last_seq"],
            pending_seq=row["pending_seq"],
            lead_id=row["lead_id"],
            decision_id=row["decision_id"],
            handoff_reason=row["handoff_reason"],
            handoff_at=_aware(row["handoff_at"]) if row["handoff_at"] is not None else None,
            created_at=_aware(row["created_at"]),
            updated_at=_aware(row["updated_at"]),
            owner=row["owner"],
        )


@dataclass(frozen=True)
class NewEvent:
    """An event to append: its kind, JSON-able payload, and optionally the client id and answered seq."""

    kind: str
    payload: dict[str, Any]
    client_message_id: str | None = None
    reply_to: int | None = None


@dataclass(frozen=True)
class StoredEvent:
    """One stored ``conversation_events`` row, payload parsed; ``created_at`` aware UTC."""

    conversation_id: str
    seq: int
    kind: str
    payload: dict[str, Any]
    client_message_id: str | None
    reply_to: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping, payload: bytes | str | None = None) -> StoredEvent:
        """Build from a result mapping of ``EVENTS`` (``payload``: the decrypted payload JSON)."""
        return cls(
            conversation_id=row["conversation_id"],
            seq=row["seq"],
            kind=row["kind"],
            payload=orjson.loads(row["payload"] if payload is None else payload),
            client_message_id=row["client_message_id"],
            reply_to=row["reply_to"],
            created_at=_aware(row["created_at"]),
        )


def _state_aad(conversation_id: str) -> bytes:
    return aad("conversations", "state", conversation_id)


def _payload_aad(conversation_id: str, seq: int) -> bytes:
    return aad("conversation_events", "payload", f"{conversation_id}:{seq}")


def visitor_email(state: str) -> str | None:
    """The first email address in a flow state's slots (or its held free-mail address), or None."""
    parsed = orjson.loads(state)
    return first_email([parsed.get("slots") or {}, parsed.get("held_email")])


def _conversation(conn: Connection, row: RowMapping) -> Conversation:
    state = keyring(conn).decrypt_text(row["state"], _state_aad(row["conversation_id"]))
    return Conversation.from_row(row, state)


def _event(conn: Connection, row: RowMapping) -> StoredEvent:
    payload = keyring(conn).decrypt(row["payload"], _payload_aad(row["conversation_id"], row["seq"]))
    return StoredEvent.from_row(row, payload)


class ConversationStore:
    """Core reads and writes of ``conversations`` and ``conversation_events``.

    The flow state and every event payload are stored encrypted (``leadgate.privacy``: they hold the
    visitor's messages and slots) and decrypted here; the conversation's ``email_index`` (blind index)
    follows the email slot.

    Stateless: every method takes the caller's connection. Writers must hold the conversation's lock
    (``lock``) so that ``append`` numbers events without gaps; the unique index on
    ``(conversation_id, seq)`` turns any violation into an ``IntegrityError`` instead of a silent gap or
    duplicate.
    """

    def create(
        self,
        conn: Connection,
        *,
        conversation_id: str,
        token_hash: str,
        visitor_id: str | None,
        status: str,
        flow_version: str,
        state: str,
        timezone: str,
        now: datetime,
    ) -> None:
        """Insert a new conversation with no events (``last_seq`` 0).

        Raises:
            sqlalchemy.exc.IntegrityError: when ``conversation_id`` exists.
        """
        now = _aware(now)
        ring = keyring(conn)
        email = visitor_email(state)
        conn.execute(
            insert(CONVERSATIONS).values(
                conversation_id=conversation_id,
                token_hash=token_hash,
                visitor_id=visitor_id,
                status=status,
                flow_version=flow_version,
                state=ring.encrypt_text(state, _state_aad(conversation_id)),
                email_index=None if email is None else ring.blind_index(email),
                timezone=timezone,
                last_seq=0,
                pending_seq=None,
                created_at=now,
                updated_at=now,
            )
        )

    def get(self, conn: Connection, conversation_id: str) -> Conversation | None:
        """The conversation, or None when unknown (no lock)."""
        row = (
            conn.execute(select(CONVERSATIONS).where(CONVERSATIONS.c.conversation_id == conversation_id))
            .mappings()
            .first()
        )
        return _conversation(conn, row) if row is not None else None

    def lock(self, conn: Connection, conversation_id: str) -> Conversation | None:
        """Read the conversation and lock it until the transaction ends.

        PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` on the row: other writers of this conversation wait,
        while inserts elsewhere that reference the row by foreign key (which take ``FOR KEY SHARE``, e.g.
        a booking made by the assistant on another connection during the turn) do not block on it.
        SQLite has no row locks: the caller holds the database write lock (``BEGIN IMMEDIATE``), and the
        ``FOR UPDATE`` clause is left out by SQLAlchemy's SQLite dialect.

        Returns:
            The conversation, or None when unknown.
        """
        query = select(CONVERSATIONS).where(CONVERSATIONS.c.conversation_id == conversation_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(key_share=True)
        row = conn.execute(query).mappings().first()
        return _conversation(conn, row) if row is not None else None

    def update(self, conn: Connection, conversation_id: str, now: datetime, **values: Any) -> None:
        """Set columns of the conversation (``state``, ``status``, ``pending_seq``, ...) and ``updated_at``."""
        if values.get("handoff_at") is not None:
            values["handoff_at"] = _aware(values["handoff_at"])
        if values.get("state") is not None:
            ring = keyring(conn)
            email = visitor_email(values["state"])
            values["state"] = ring.encrypt_text(values["state"], _state_aad(conversation_id))
            values["email_index"] = None if email is None else ring.blind_index(email)
        conn.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.conversation_id == conversation_id)
            .values(updated_at=_aware(now), **values)
        )

    def append(
        self, conn: Connection, conversation: Conversation, events: Sequence[NewEvent], now: datetime
    ) -> tuple[Conversation, list[StoredEvent]]:
        """Append ``events`` after ``conversation.last_seq`` (seq ``last_seq + 1 ...``) and move ``last_seq``.

        Args:
            conn: a connection in the caller's transaction.
            conversation: the conversation as locked in this transaction (its ``last_seq`` is current).
            events: in order.
            now: creation time of the events (aware).

        Returns:
            The conversation with its new ``last_seq`` and the stored events.

        Raises:
            sqlalchemy.exc.IntegrityError: when a seq or a ``client_message_id`` is taken (a writer
                without the lock, or a duplicate client message).
            RuntimeError: when ``last_seq`` moved meanwhile (a writer without the lock).
        """
        if not events:
            return conversation, []
        now = _aware(now)
        stored = [
            StoredEvent(
                conversation_id=conversation.conversation_id,
                seq=conversation.last_seq + i,
                kind=e.kind,
                payload=e.payload,
                client_message_id=e.client_message_id,
                reply_to=e.reply_to,
                created_at=now,
            )
            for i, e in enumerate(events, start=1)
        ]
        ring = keyring(conn)
        kid = ring.active_id()
        conn.execute(
            insert(EVENTS),
            [
                {
                    "conversation_id": s.conversation_id,
                    "seq": s.seq,
                    "kind": s.kind,
                    "client_message_id": s.client_message_id,
                    "reply_to": s.reply_to,
                    "payload": ring.encrypt(
                        orjson.dumps(s.payload), _payload_aad(s.conversation_id, s.seq), kid
                    ),
                    "created_at": now,
                }
                for s in stored
            ],
        )
        last = stored[-1].seq
        moved = conn.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.conversation_id == conversation.conversation_id)
            .where(CONVERSATIONS.c.last_seq == conversation.last_seq)
            .values(last_seq=last, updated_at=now)
        )
        if moved.rowcount != 1:
            raise RuntimeError(
                f"conversation {conversation.conversation_id} moved past seq {conversation.last_seq}: "
                "appended without holding its lock"
            )
        return replace(conversation, last_seq=last, updated_at=now), stored

    def events(
        self,
        conn: Connection,
        conversation_id: str,
        *,
        after_seq: int = 0,
        kinds: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Events with ``seq > after_seq`` in seq order, optionally only ``kinds``, at most ``limit``."""
        query = select(EVENTS).where(EVENTS.c.conversation_id == conversation_id, EVENTS.c.seq > after_seq)
        if kinds is not None:
            query = query.where(EVENTS.c.kind.in_(list(kinds)))
        query = query.order_by(EVENTS.c.seq)
        if limit is not None:
            query = query.limit(limit)
        return [_event(conn, r) for r in conn.execute(query).mappings()]

    def last_message(self, conn: Connection, conversation_id: str) -> StoredEvent | None:
        """The latest visitor, assistant or staff message, or None."""
        row = (
            conn.execute(
                select(EVENTS)
                .where(EVENTS.c.conversation_id == conversation_id, EVENTS.c.kind.in_(MESSAGE_KINDS))
                .order_by(EVENTS.c.seq.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        return _event(conn, row) if row is not None else None

    def event_at(self, conn: Connection, conversation_id: str, seq: int) -> StoredEvent | None:
        """The event with this seq, or None."""
        row = (
            conn.execute(
                select(EVENTS).where(EVENTS.c.conversation_id == conversation_id, EVENTS.c.seq == seq)
            )
            .mappings()
            .first()
        )
        return _event(conn, row) if row is not None else None

    def client_message(
        self, conn: Connection, conversation_id: str, client_message_id: str
    ) -> StoredEvent | None:
        """The visitor message stored with this ``client_message_id``, or None."""
        row = (
            conn.execute(
                select(EVENTS).where(
                    EVENTS.c.conversation_id == conversation_id,
                    EVENTS.c.client_message_id == client_message_id,
                )
            )
            .mappings()
            .first()
        )
        return _event(conn, row) if row is not None else None

    def replies_to(self, conn: Connection, conversation_id: str, seq: int) -> list[StoredEvent]:
        """The assistant messages answering the visitor message at ``seq``, in order."""
        query = (
            select(EVENTS)
            .where(
                EVENTS.c.conversation_id == conversation_id,
                EVENTS.c.seq > seq,
                EVENTS.c.reply_to == seq,
                EVENTS.c.kind == ASSISTANT,
            )
            .order_by(EVENTS.c.seq)
        )
        return [_event(conn, r) for r in conn.execute(query).mappings()]

    def handoff_queue(self, conn: Connection, limit: int = 100, scope: Scope = ALL) -> list[Conversation]:
        """Conversations with status ``handoff`` that ``scope`` sees, oldest handoff first (then oldest conversation)."""
        query = (
            select(CONVERSATIONS)
            .where(CONVERSATIONS.c.status == "handoff")
            .order_by(CONVERSATIONS.c.handoff_at, CONVERSATIONS.c.id)
            .limit(limit)
        )
        if scope.restricted:  # a rep without a rep id sees nothing (``== None`` would mean unassigned)
            rep = scope.owner_filter
            query = query.where(false() if rep is None else CONVERSATIONS.c.owner == rep)
        return [_conversation(conn, r) for r in conn.execute(query).mappings()]
