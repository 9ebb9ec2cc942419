"""What the chat service returns: transcript messages, the results of open and post, handoff views.

These are the chat API's response bodies (``chat/v1``): add optional fields only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from leadgate.chat.ports import BotMessage, Citation
from leadgate.chat.store import ASSISTANT, MESSAGE_KINDS, STAFF, VISITOR, StoredEvent

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


def messages(events: Sequence[StoredEvent]) -> list[ChatMessage]:
    """The messages among ``events`` (flow events and status changes left out), as ``ChatMessage``."""
    return [ChatMessage.from_event(e) for e in events if e.kind in MESSAGE_KINDS]


def handoff_fields(conv: Any) -> dict[str, Any]:
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
