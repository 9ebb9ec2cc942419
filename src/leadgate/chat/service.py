"""The chat service: conversations that persist, resume, and process each visitor message exactly once.

``ChatService`` sits between the HTTP API and the pure dialogue engine (``chat.flows``). For one visitor
message (``post``):

1. In a short locked transaction: check the resume token, return the stored answer when the
   ``client_message_id`` was already processed, store the visitor message and mark it pending
   (``pending_seq``); commit, which releases the conversation row.
2. With no lock held: run the assistant (its optional language model included), then carry out its
   commands (``chat.commands``: qualify in the qualifier's own transaction, offer slots, book atomically,
   notify a person) and feed the results back (``Assistant.resume``).
3. In a new locked transaction, with an optimistic check (the conversation still has this message pending
   and the state the engine started from): store the replies, flow events and the new state. If another
   process answered the message meanwhile, this turn is discarded and the stored answer is returned.

On SQLite a process-wide lock per conversation (``transactions.conversation_lock``, a thread lock, not a
database lock) serializes one conversation's posts; the database writer lock is held only for the two
short writes. If the assistant or a command raises, the visitor message stays stored and pending; a
resend with the same ``client_message_id``, or the next message, processes it first.

Response types live in ``chat.schemas``, transactions and locks in ``chat.transactions``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine

from leadgate.chat.commands import CarriedTurn, CommandRunner, carry_out
from leadgate.chat.ports import ChatAssistant, ConversationStateLike, TurnResultLike
from leadgate.chat.schemas import (
    ChatMessage,
    OpenResult,
    PostResult,
    Transcript,
    messages,
)
from leadgate.chat.staff import ConversationClosed, ConversationNotFound, StaffCalls

__all__ = [
    "AssistantFailed",
    "ChatMessage",
    "ChatService",
    "ConversationClosed",
    "ConversationNotFound",
    "OpenResult",
    "PostResult",
    "Transcript",
]
from leadgate.chat.store import (
    ASSISTANT,
    FLOW,
    MESSAGE_KINDS,
    STATUS,
    VISITOR,
    Conversation,
    ConversationStore,
    NewEvent,
    StoredEvent,
    hash_token,
    new_token,
    token_matches,
)
from leadgate.chat.transactions import conversation_lock, write_transaction
from leadgate.db.store import new_id, utcnow
from leadgate.logs import bind_lead

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConversationStateLike)

# ----------------------------------------------------------------------------------------------------
# Errors (ConversationNotFound and ConversationClosed live in chat.staff, re-exported here)


class AssistantFailed(RuntimeError):
    """The assistant raised while answering; the visitor message (if any) is stored and pending.

    Resend the same ``client_message_id`` to process it. The original exception is ``__cause__``.
    """


# ----------------------------------------------------------------------------------------------------
# The service


@dataclass(frozen=True)
class _Work:
    """A stored visitor message to answer."""

    event: StoredEvent
    state: str


class ChatService(StaffCalls, Generic[S]):
    """Conversations with the assistant, persisted in the database.

    Args:
        engine: the database (SQLite or PostgreSQL), migrated to at least revision 0002.
        assistant: the dialogue engine (``chat.flows.Assistant``).
        load_state: turns stored state JSON back into the assistant's state
            (``ConversationState.model_validate_json``).
        commands: carries out the assistant's commands (qualifier, scheduler, notifier); default: none
            configured (``Qualify`` gives no decision, ``OfferSlots`` no offers).
        flow_version: stored with each new conversation (e.g. the flow file's ``name@version``).
        clock: the current time (aware UTC) when a call passes no ``now``.
    """

    def __init__(
        self,
        engine: Engine,
        assistant: ChatAssistant[S],
        load_state: Callable[[str], S],
        *,
        commands: CommandRunner | None = None,
        flow_version: str = "chat/v1",
        clock: Callable[[], datetime] = utcnow,
    ):
        self.engine = engine
        self.commands = commands or CommandRunner()
        self.assistant = assistant
        self.load_state = load_state
        self.flow_version = flow_version
        self.clock = clock
        self.store = ConversationStore()

    # -- visitor calls --------------------------------------------------------------------------------

    def open(
        self, visitor_tz: str, visitor_id: str | None = None, *, now: datetime | None = None
    ) -> OpenResult:
        """Start a conversation: run the assistant's first turn and store it.

        Args:
            visitor_tz: the visitor's IANA time zone (``Europe/Berlin``).
            visitor_id: the widget's own visitor id (<= 128 characters), optional.
            now: aware time of the call (default: the clock).

        Returns:
            The new conversation's id (UUIDv7), its resume token (only ever returned here; the
            database keeps its sha256) and the stored greeting messages.

        Raises:
            ValueError: for an unknown time zone.
            AssistantFailed: when the assistant's ``start`` raises (nothing is stored).
        """
        _check_timezone(visitor_tz)
        now = now or self.clock()
        conversation_id = new_id()
        token = new_token()
        try:
            turn = self.assistant.start(conversation_id=conversation_id, now=now, visitor_tz=visitor_tz)
        except Exception as exc:
            raise AssistantFailed(f"the assistant failed to start a conversation: {exc}") from exc
        with write_transaction(self.engine) as conn:
            self.store.create(
                conn,
                conversation_id=conversation_id,
                token_hash=hash_token(token),
                visitor_id=visitor_id,
                status="active",
                flow_version=self.flow_version,
                state=turn.state.model_dump_json(),
                timezone=visitor_tz,
                now=now,
            )
            conv = self.store.lock(conn, conversation_id)
            assert conv is not None
            conv, stored = self._store_turn(conn, conv, turn, reply_to=None, now=now)
        return OpenResult(
            conversation_id=conversation_id, token=token, status=conv.status, messages=messages(stored)
        )

    def authorize(self, conversation_id: str, token: str | None) -> Conversation:
        """The conversation if ``token`` is its resume token (a read, no lock).

        Raises:
            ConversationNotFound: unknown conversation or wrong token.
        """
        with self.engine.connect() as conn:
            return self._checked(self.store.get(conn, conversation_id), token)

    def transcript(
        self, conversation_id: str, token: str | None, after_seq: int = 0, *, authorized: bool = False
    ) -> Transcript:
        """The messages with ``seq > after_seq`` and the current status (resume after a reload).

        ``authorized=True`` skips the token check: the caller has already checked access another way
        (a signed ticket for this conversation, ``leadgate.api.tickets``).

        Raises:
            ConversationNotFound: unknown conversation or wrong token.
        """
        with self.engine.connect() as conn:
            conv = self.store.get(conn, conversation_id)
            if conv is None or not authorized:
                conv = self._checked(conv, token)
            events = self.store.events(conn, conversation_id, after_seq=after_seq, kinds=MESSAGE_KINDS)
        return Transcript(
            conversation_id=conv.conversation_id,
            status=conv.status,
            timezone=conv.timezone,
            last_seq=conv.last_seq,
            handoff_reason=conv.handoff_reason,
            messages=messages(events),
        )

    def post(
        self,
        conversation_id: str,
        token: str | None,
        client_message_id: str,
        text: str,
        option_id: str | None = None,
        *,
        now: datetime | None = None,
    ) -> PostResult:
        """Store a visitor message, answer it, store the answer; return it once everything is committed.

        Idempotent on ``client_message_id``: a message already answered returns the stored answer with
        ``duplicate=True`` and stores nothing. A message stored earlier whose answer failed is answered
        now. A pending message of another ``client_message_id`` is answered first.

        Args:
            conversation_id: the conversation.
            token: its resume token.
            client_message_id: the widget's id of this message (1..128 characters), reused on resend.
            text: what the visitor wrote (the caller enforces the size limit).
            option_id: a quick reply the visitor picked, or None.
            now: aware time of the call (default: the clock).

        Raises:
            ConversationNotFound: unknown conversation or wrong token.
            ConversationClosed: the conversation is closed (and the message was never processed).
            AssistantFailed: the assistant raised; the visitor message is stored and will be answered on
                the next post or resend.
        """
        now = now or self.clock()
        with self._local_lock(conversation_id):
            while True:
                with write_transaction(self.engine) as conn:
                    conv = self._checked(self.store.lock(conn, conversation_id), token)
                    bind_lead(conv.lead_id)
                    done = self.store.client_message(conn, conversation_id, client_message_id)
                    if done is not None and done.seq != conv.pending_seq:
                        return self._stored_result(conn, conv, done)
                    if conv.status == "closed":
                        raise ConversationClosed(f"conversation {conversation_id} is closed")
                    work = self._next_work(conn, conv, client_message_id, text, option_id, now)
                # no lock held from here: the engine (and its language model) and the commands run
                try:
                    turn = self._turn(work, now)
                except Exception as exc:
                    raise AssistantFailed(
                        f"the assistant failed on message {work.event.seq} of conversation "
                        f"{conversation_id}: {exc}"
                    ) from exc
                with write_transaction(self.engine) as conn:
                    conv = self._checked(self.store.lock(conn, conversation_id), token)
                    if conv.pending_seq != work.event.seq or conv.state != work.state:
                        # another process answered this message meanwhile: its answer stands
                        log.info("chat turn discarded: answered concurrently", extra={"seq": work.event.seq})
                        if work.event.client_message_id == client_message_id:
                            return self._stored_result(conn, conv, work.event).model_copy(
                                update={"duplicate": False}
                            )
                        continue
                    conv, stored = self._store_turn(conn, conv, turn, reply_to=work.event.seq, now=now)
                if work.event.client_message_id == client_message_id:
                    return PostResult(
                        message=ChatMessage.from_event(work.event),
                        replies=messages(stored),
                        status=conv.status,
                        duplicate=False,
                    )

    def _turn(self, work: _Work, now: datetime) -> CarriedTurn[S]:
        """Run the assistant on a stored visitor message and carry out its commands (no lock held)."""
        payload = work.event.payload
        first = self.assistant.handle(
            self.load_state(work.state), payload["text"], now=now, option_id=payload.get("option_id")
        )
        return carry_out(self.assistant, first, self.commands, now=now)

    # -- internals ------------------------------------------------------------------------------------

    def _local_lock(self, conversation_id: str) -> AbstractContextManager[None]:
        if self.engine.dialect.name == "sqlite":
            return conversation_lock(self.engine, conversation_id)
        return nullcontext()

    @staticmethod
    def _checked(conv: Conversation | None, token: str | None) -> Conversation:
        if conv is None or not token_matches(token, conv.token_hash):
            raise ConversationNotFound("conversation not found")
        return conv

    def _next_work(
        self,
        conn: Connection,
        conv: Conversation,
        client_message_id: str,
        text: str,
        option_id: str | None,
        now: datetime,
    ) -> _Work:
        """The pending visitor message if there is one, else this message, stored and marked pending."""
        if conv.pending_seq is not None:
            pending = self.store.event_at(conn, conv.conversation_id, conv.pending_seq)
            if pending is None:
                raise RuntimeError(f"pending event {conv.pending_seq} of {conv.conversation_id} is missing")
            return _Work(pending, conv.state)
        message = NewEvent(
            VISITOR, {"text": text, "option_id": option_id}, client_message_id=client_message_id
        )
        conv, stored = self.store.append(conn, conv, [message], now)
        self.store.update(conn, conv.conversation_id, now, pending_seq=stored[0].seq)
        return _Work(stored[0], conv.state)

    def _store_turn(
        self,
        conn: Connection,
        conv: Conversation,
        turn: TurnResultLike[S] | CarriedTurn[S],
        *,
        reply_to: int | None,
        now: datetime,
    ) -> tuple[Conversation, list[StoredEvent]]:
        """Append a turn's flow events, replies and status change; store the new state; clear pending."""
        state = turn.state
        events = [
            NewEvent(FLOW, {"type": e.type, "data": dict(e.data)}, reply_to=reply_to) for e in turn.events
        ]
        events += [NewEvent(ASSISTANT, r.model_dump(mode="json"), reply_to=reply_to) for r in turn.replies]
        values: dict[str, Any] = {
            "state": state.model_dump_json(),
            "status": state.status,
            "pending_seq": None,
        }
        if state.status != conv.status:
            reason = state.handoff_reason if state.status == "handoff" else None
            events.append(
                NewEvent(
                    STATUS, {"status": state.status, "reason": reason, "by": "assistant"}, reply_to=reply_to
                )
            )
            if state.status == "handoff":
                values.update(handoff_reason=state.handoff_reason, handoff_at=now)
        if state.decision is not None:
            values.update(lead_id=state.decision.lead_id, decision_id=state.decision.decision_id)
            bind_lead(state.decision.lead_id)
            if state.decision.decision_id != conv.decision_id:
                log.info(
                    "chat lead qualified",
                    extra={"tier": state.decision.tier, "action": state.decision.action},
                )
        conv, stored = self.store.append(conn, conv, events, now)
        self.store.update(conn, conv.conversation_id, now, **values)
        conv = replace(conv, status=state.status, pending_seq=None)
        return conv, [e for e in stored if e.kind == ASSISTANT]

    def _stored_result(self, conn: Connection, conv: Conversation, message: StoredEvent) -> PostResult:
        replies = self.store.replies_to(conn, conv.conversation_id, message.seq)
        return PostResult(
            message=ChatMessage.from_event(message),
            replies=messages(replies),
            status=conv.status,
            duplicate=True,
        )


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from exc
