"""The chat service: conversations that persist, resume, and process each visitor message exactly once.

``ChatService`` sits between the HTTP API and the pure dialogue engine (``chat.flows``). For each
visitor message it locks the conversation, checks the resume token, returns the stored answer when the
``client_message_id`` was already processed, stores the visitor message, runs the assistant, and stores
the replies, flow events and the new state, all committed **before** the replies are returned.

Locking (one conversation's messages are processed one at a time, in order):

* PostgreSQL: one transaction per post holding ``SELECT ... FOR NO KEY UPDATE`` on the conversation's row
  while the assistant runs; other servers and threads posting to that conversation wait on the row.
* SQLite: a process-wide lock per conversation held for the whole post, and the database write lock
  (``db.write_lock`` + ``BEGIN IMMEDIATE``) only around the two short writes (visitor message; replies
  and state). The write lock is not held while the assistant runs, because the assistant's qualifier
  and scheduler write to the same database through ``db.write_lock`` themselves (a ``threading.Lock``,
  not reentrant). One server process per SQLite database (as DESIGN rule 6 has it).

If the assistant raises, the visitor message stays stored and marked pending (``pending_seq``); a
resend with the same ``client_message_id``, or the next message, processes it first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from leadgate.chat.ports import BotMessage, ChatDecision, Citation
from leadgate.chat.store import (
    ASSISTANT,
    FLOW,
    MESSAGE_KINDS,
    STAFF,
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
from leadgate.db.engine import write_lock
from leadgate.db.store import new_id, utcnow
from leadgate.governance.access import ALL, Scope
from leadgate.logs import bind_lead

# ----------------------------------------------------------------------------------------------------
# The dialogue engine as the service sees it (chat.flows.Assistant has exactly this shape).


class ChatEventLike(Protocol):
    """An event of the dialogue engine (e.g. a slot was set, a handoff was requested)."""

    @property
    def type(self) -> str:
        """Event type, e.g. ``slot_set``."""
        ...

    @property
    def data(self) -> Mapping[str, Any]:
        """JSON-able details."""
        ...


class ConversationStateLike(Protocol):
    """The flow state of one conversation (a pydantic model in ``chat.flows``)."""

    @property
    def status(self) -> str:
        """``active``, ``handoff`` or ``closed``."""
        ...

    @property
    def slots(self) -> Mapping[str, Any]:
        """Slot name -> normalized value."""
        ...

    @property
    def handoff_reason(self) -> str | None:
        """Why a person should take over (when ``status`` is ``handoff``)."""
        ...

    @property
    def decision(self) -> ChatDecision | None:
        """The qualification decision once made."""
        ...

    def model_dump_json(self) -> str:
        """The state as JSON text (read back with the service's ``load_state``)."""
        ...


log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConversationStateLike)
S_co = TypeVar("S_co", bound=ConversationStateLike, covariant=True)


class TurnResultLike(Protocol[S_co]):
    """What the assistant returns for one turn: the next state, the replies and the events."""

    @property
    def state(self) -> S_co:
        """The state after the turn."""
        ...

    @property
    def replies(self) -> Sequence[BotMessage]:
        """The assistant's replies, in order."""
        ...

    @property
    def events(self) -> Sequence[ChatEventLike]:
        """The flow events of the turn, in order."""
        ...


class ChatAssistant(Protocol[S]):
    """The dialogue engine: pure, given the state, the visitor's text and the time."""

    def start(self, *, conversation_id: str, now: datetime, visitor_tz: str) -> TurnResultLike[S]:
        """The first turn of a new conversation (greeting)."""
        ...

    def handle(
        self, state: S, text: str, *, now: datetime, option_id: str | None = None
    ) -> TurnResultLike[S]:
        """Answer one visitor message (``option_id``: a quick reply the visitor picked)."""
        ...


# ----------------------------------------------------------------------------------------------------
# Errors


class ConversationNotFound(LookupError):
    """Unknown conversation or a wrong resume token (never told apart); for staff: never handed off."""


class ConversationClosed(Exception):
    """The conversation is closed: no more messages."""


class AssistantFailed(RuntimeError):
    """The assistant raised while answering; the visitor message (if any) is stored and pending.

    Resend the same ``client_message_id`` to process it. The original exception is ``__cause__``.
    """


# ----------------------------------------------------------------------------------------------------
# Results


Role = Literal["visitor", "assistant", "staff"]
_ROLE: dict[str, Role] = {VISITOR: "visitor", ASSISTANT: "assistant", STAFF: "staff"}


class ChatMessage(BaseModel):
    """One message of the transcript, as the chat API returns it.

    Attributes:
        seq: position among all events of the conversation (from 1, gap-free over events).
        role: ``visitor``, ``assistant`` or ``staff``.
        text: plain text.
        kind: the ``BotMessage`` kind for assistant messages; ``text`` for visitor and staff messages.
        citations, options, data: as in ``BotMessage`` (visitor: ``data.option_id`` when an option was
            picked; staff, in the staff view only: ``data.staff_id``, the writer's audit subject such
            as ``user:3``, and ``data.staff_name``, their email or key name, when stored).
        client_message_id: the widget's id of a visitor message, else None.
        created_at: when it was stored (aware UTC).
    """

    seq: int
    role: Role
    text: str
    kind: str = "text"
    citations: list[Citation] = Field(default_factory=list)
    options: list[dict[str, str]] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    client_message_id: str | None = None
    created_at: datetime

    @classmethod
    def from_event(cls, event: StoredEvent, *, staff_view: bool = False) -> ChatMessage:
        """The message stored as ``event`` (a visitor, assistant or staff message).

        Raises:
            ValueError: for an event that is not a message.
        """
        role = _ROLE.get(event.kind)
        if role is None:
            raise ValueError(f"event {event.seq} of kind {event.kind!r} is not a message")
        p = event.payload
        if role == "assistant":
            bot = BotMessage.model_validate(p)
            return cls(
                seq=event.seq,
                role=role,
                text=bot.text,
                kind=bot.kind,
                citations=list(bot.citations),
                options=list(bot.options),
                data=dict(bot.data),
                created_at=event.created_at,
            )
        if role == "visitor":
            data = {"option_id": p["option_id"]} if p.get("option_id") else {}
        else:
            data = {"staff_id": p.get("staff_id")} if staff_view else {}
            if staff_view and p.get("staff_name"):
                data["staff_name"] = p["staff_name"]
        return cls(
            seq=event.seq,
            role=role,
            text=p["text"],
            data=data,
            client_message_id=event.client_message_id,
            created_at=event.created_at,
        )


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class OpenResult(_Result):
    """A new conversation: its id, the resume token (shown once, stored hashed) and the greeting."""

    conversation_id: str
    token: str
    status: str
    messages: list[ChatMessage]


class PostResult(_Result):
    """The outcome of one visitor message.

    Attributes:
        message: the stored visitor message.
        replies: the assistant's replies to it, stored, in order.
        status: the conversation's status after it.
        duplicate: True when this ``client_message_id`` had been processed before (nothing new stored).
    """

    message: ChatMessage
    replies: list[ChatMessage]
    status: str
    duplicate: bool


class Transcript(_Result):
    """A conversation's messages after some seq, with its status."""

    conversation_id: str
    status: str
    timezone: str
    last_seq: int
    handoff_reason: str | None
    messages: list[ChatMessage]


class HandoffSummary(_Result):
    """One entry of the handoff queue."""

    conversation_id: str
    handoff_reason: str | None
    handoff_at: datetime | None
    created_at: datetime
    timezone: str
    visitor_id: str | None
    slots: dict[str, Any]
    lead_id: str | None
    decision_id: str | None
    owner: str | None = None
    """The sales rep the conversation is assigned to (``conversations.owner``), or None."""
    last_message: ChatMessage | None


class HandoffDetail(_Result):
    """A handed-off conversation for staff: everything in the summary plus the full transcript."""

    conversation_id: str
    status: str
    handoff_reason: str | None
    handoff_at: datetime | None
    created_at: datetime
    timezone: str
    visitor_id: str | None
    slots: dict[str, Any]
    lead_id: str | None
    decision_id: str | None
    owner: str | None = None
    """The sales rep the conversation is assigned to (``conversations.owner``), or None."""
    messages: list[ChatMessage]
    events: list[dict[str, Any]]


# ----------------------------------------------------------------------------------------------------
# Locking


_CONVERSATION_LOCKS: dict[tuple[str, str], list[Any]] = {}
_CONVERSATION_LOCKS_GUARD = threading.Lock()


@contextmanager
def _conversation_lock(engine: Engine, conversation_id: str) -> Iterator[None]:
    """A process-wide lock per (database, conversation), removed when nobody holds or waits for it."""
    key = (str(engine.url), conversation_id)
    with _CONVERSATION_LOCKS_GUARD:
        entry = _CONVERSATION_LOCKS.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _CONVERSATION_LOCKS_GUARD:
            entry[1] -= 1
            if entry[1] == 0:
                del _CONVERSATION_LOCKS[key]


class _Session:
    """Write access to one conversation for one service call.

    PostgreSQL: one transaction for the whole call (``step`` yields the same connection; the row lock
    taken in the first step lasts until the end). SQLite: each ``step`` is its own ``BEGIN IMMEDIATE``
    transaction under the database write lock, committed at its end.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._conn: Connection | None = None
        self._keep = False

    def __enter__(self) -> _Session:
        if not self._sqlite:
            self._conn = self._engine.connect()
            self._conn.begin()
        return self

    def keep(self) -> None:
        """Commit what was written so far even though the call fails (the stored visitor message)."""
        self._keep = True

    @contextmanager
    def step(self) -> Iterator[Connection]:
        """A connection in a write transaction."""
        if self._conn is not None:
            yield self._conn
            return
        with write_lock(self._engine), self._engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if exc_type is None or self._keep:
                conn.commit()
            else:
                conn.rollback()
        finally:
            conn.close()


# ----------------------------------------------------------------------------------------------------
# The service


@dataclass(frozen=True)
class _Work:
    """A stored visitor message to answer."""

    event: StoredEvent
    state: str


class ChatService(Generic[S]):
    """Conversations with the assistant, persisted in the database.

    Args:
        engine: the database (SQLite or PostgreSQL), migrated to at least revision 0002.
        assistant: the dialogue engine (``chat.flows.Assistant``).
        load_state: turns stored state JSON back into the assistant's state
            (``ConversationState.model_validate_json``).
        flow_version: stored with each new conversation (e.g. the flow file's ``name@version``).
        clock: the current time (aware UTC) when a call passes no ``now``.
    """

    def __init__(
        self,
        engine: Engine,
        assistant: ChatAssistant[S],
        load_state: Callable[[str], S],
        *,
        flow_version: str = "chat/v1",
        clock: Callable[[], datetime] = utcnow,
    ):
        self.engine = engine
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
        with _Session(self.engine) as session, session.step() as conn:
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
            conversation_id=conversation_id, token=token, status=conv.status, messages=_messages(stored)
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
            messages=_messages(events),
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
        with self._local_lock(conversation_id), _Session(self.engine) as session:
            while True:
                with session.step() as conn:
                    conv = self._checked(self.store.lock(conn, conversation_id), token)
                    bind_lead(conv.lead_id)
                    done = self.store.client_message(conn, conversation_id, client_message_id)
                    if done is not None and done.seq != conv.pending_seq:
                        return self._stored_result(conn, conv, done)
                    if conv.status == "closed":
                        raise ConversationClosed(f"conversation {conversation_id} is closed")
                    work = self._next_work(conn, conv, client_message_id, text, option_id, now)
                try:
                    payload = work.event.payload
                    turn = self.assistant.handle(
                        self.load_state(work.state),
                        payload["text"],
                        now=now,
                        option_id=payload.get("option_id"),
                    )
                except Exception as exc:
                    session.keep()
                    raise AssistantFailed(
                        f"the assistant failed on message {work.event.seq} of conversation "
                        f"{conversation_id}: {exc}"
                    ) from exc
                with session.step() as conn:
                    conv = self._checked(self.store.lock(conn, conversation_id), token)
                    conv, stored = self._store_turn(conn, conv, turn, reply_to=work.event.seq, now=now)
                if work.event.client_message_id == client_message_id:
                    return PostResult(
                        message=ChatMessage.from_event(work.event),
                        replies=_messages(stored),
                        status=conv.status,
                        duplicate=False,
                    )

    # -- staff calls ----------------------------------------------------------------------------------

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
                        **_handoff_fields(conv),
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
            **_handoff_fields(conv),
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
            _Session(self.engine) as session,
            session.step() as conn,
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
            _Session(self.engine) as session,
            session.step() as conn,
        ):
            conv = _handed_off(self.store.lock(conn, conversation_id), conversation_id, scope)
            if conv.status != "closed":
                conv, _ = self.store.append(
                    conn, conv, [NewEvent(STATUS, {"status": "closed", "reason": None, "by": staff_id})], now
                )
                self.store.update(conn, conversation_id, now, status="closed")
        return "closed"

    # -- internals ------------------------------------------------------------------------------------

    def _local_lock(self, conversation_id: str) -> AbstractContextManager[None]:
        if self.engine.dialect.name == "sqlite":
            return _conversation_lock(self.engine, conversation_id)
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
        turn: TurnResultLike[S],
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
            replies=_messages(replies),
            status=conv.status,
            duplicate=True,
        )


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from exc


def _messages(events: Sequence[StoredEvent]) -> list[ChatMessage]:
    return [ChatMessage.from_event(e) for e in events if e.kind in MESSAGE_KINDS]


def _handoff_fields(conv: Any) -> dict[str, Any]:
    """The fields a handoff summary and a handoff detail share, from a stored conversation row."""
    return {
        "conversation_id": conv.conversation_id,
        "handoff_reason": conv.handoff_reason,
        "handoff_at": conv.handoff_at,
        "created_at": conv.created_at,
        "timezone": conv.timezone,
        "visitor_id": conv.visitor_id,
        "slots": _slots(conv.state),
        "lead_id": conv.lead_id,
        "decision_id": conv.decision_id,
        "owner": conv.owner,
    }


def _slots(state_json: str) -> dict[str, Any]:
    """The ``slots`` of stored state JSON (as JSON values), or {}."""
    state = orjson.loads(state_json)
    slots = state.get("slots") if isinstance(state, dict) else None
    return dict(slots) if isinstance(slots, dict) else {}


def _handed_off(conv: Conversation | None, conversation_id: str, scope: Scope = ALL) -> Conversation:
    """The conversation when it was handed off and ``scope`` sees it; else the same "not found" for all."""
    if conv is None or conv.handoff_at is None or not scope.sees(conv.owner):
        raise ConversationNotFound(f"no handed-off conversation {conversation_id}")
    return conv
