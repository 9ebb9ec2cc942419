"""Staff calls of the chat service: the handoff queue, a handed-off conversation, staff replies, closing.

``ChatService`` inherits them (``StaffCalls``); they read and write the conversation like the visitor
calls, in short transactions (``chat.transactions``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Engine

from leadgate.chat.schemas import ChatMessage, HandoffDetail, HandoffSummary, handoff_fields
from leadgate.chat.store import MESSAGE_KINDS, STAFF, STATUS, Conversation, ConversationStore, NewEvent
from leadgate.chat.transactions import write_transaction
from leadgate.governance.access import ALL, Scope


class ConversationNotFound(LookupError):
    """Unknown conversation or a wrong resume token (never told apart); for staff: never handed off."""


class ConversationClosed(Exception):
    """The conversation is closed: no more messages."""


class StaffCalls:
    """What staff do with handed-off conversations (mixed into ``ChatService``)."""

    engine: Engine
    store: ConversationStore
    clock: Callable[[], datetime]

    def _local_lock(self, conversation_id: str) -> AbstractContextManager[None]:
        raise NotImplementedError  # pragma: no cover - ChatService provides it

    def handoffs(self, limit: int = 100, scope: Scope = ALL) -> list[HandoffSummary]:
        """The handoff queue: conversations with status ``handoff``, oldest handoff first, at most ``limit``.

        Only the conversations ``scope`` sees (a ``sales_rep``: those it owns; ``leadgate.governance.access``).
        """
        with self.engine.connect() as conn:
            out = []
            for conv in self.store.handoff_queue(conn, limit, scope):
                last = self.store.last_message(conn, conv.conversation_id)
                out.append(
                    HandoffSummary(
                        **handoff_fields(conv),
                        last_message=ChatMessage.from_event(last, staff_view=True) if last else None,
                    )
                )
        return out

    def handoff(self, conversation_id: str, scope: Scope = ALL) -> HandoffDetail:
        """A handed-off conversation (status ``handoff``, or ``closed`` after one) with its full transcript.

        Raises:
            ConversationNotFound: unknown, never handed off, or not one ``scope`` sees.
        """
        with self.engine.connect() as conn:
            conv = _handed_off(self.store.get(conn, conversation_id), conversation_id, scope)
            events = self.store.events(conn, conversation_id)
        return HandoffDetail(
            **handoff_fields(conv),
            status=conv.status,
            messages=[ChatMessage.from_event(e, staff_view=True) for e in events if e.kind in MESSAGE_KINDS],
            events=[
                {"seq": e.seq, "kind": e.kind, "data": e.payload, "created_at": e.created_at}
                for e in events
                if e.kind not in MESSAGE_KINDS
            ],
        )

    def staff_post(
        self,
        conversation_id: str,
        text: str,
        staff_id: str,
        *,
        staff_name: str | None = None,
        now: datetime | None = None,
        scope: Scope = ALL,
    ) -> ChatMessage:
        """Store a staff member's reply in a handed-off conversation (the visitor reads it via events).

        ``staff_id`` is the writer's audit subject (``user:<id>``, ``key:<prefix>``), ``staff_name`` their
        email or key name; the visitor sees neither.

        Raises:
            ConversationNotFound: unknown, never handed off, or not one ``scope`` sees.
            ConversationClosed: the conversation is closed.
        """
        now = now or self.clock()
        with (
            self._local_lock(conversation_id),
            write_transaction(self.engine) as conn,
        ):
            conv = _handed_off(self.store.lock(conn, conversation_id), conversation_id, scope)
            if conv.status == "closed":
                raise ConversationClosed(f"conversation {conversation_id} is closed")
            _, stored = self.store.append(
                conn,
                conv,
                [NewEvent(STAFF, {"text": text, "staff_id": staff_id, "staff_name": staff_name})],
                now,
            )
        return ChatMessage.from_event(stored[0], staff_view=True)

    def close(
        self,
        conversation_id: str,
        staff_id: str | None = None,
        *,
        now: datetime | None = None,
        scope: Scope = ALL,
    ) -> str:
        """Close a handed-off conversation (a ``status_change`` event); closing a closed one does nothing.

        Returns:
            The status, ``closed``.

        Raises:
            ConversationNotFound: unknown, never handed off, or not one ``scope`` sees.
        """
        now = now or self.clock()
        with (
            self._local_lock(conversation_id),
            write_transaction(self.engine) as conn,
        ):
            conv = _handed_off(self.store.lock(conn, conversation_id), conversation_id, scope)
            if conv.status != "closed":
                conv, _ = self.store.append(
                    conn, conv, [NewEvent(STATUS, {"status": "closed", "reason": None, "by": staff_id})], now
                )
                self.store.update(conn, conversation_id, now, status="closed")
        return "closed"


def _handed_off(conv: Conversation | None, conversation_id: str, scope: Scope = ALL) -> Conversation:
    """The conversation when it was handed off and ``scope`` sees it; else the same "not found" for all."""
    if conv is None or conv.handoff_at is None or not scope.sees(conv.owner):
        raise ConversationNotFound(f"no handed-off conversation {conversation_id}")
    return conv
