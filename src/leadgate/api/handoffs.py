"""``/v1/handoffs``: the staff side of the chat (contract: ``docs/chat-api.md``).

The handoff queue (conversations the assistant handed to a person) with transcript and slots, staff
replies and closing. Every call needs ``Authorization: Bearer`` with ``LEADGATE_STAFF_TOKEN`` or an API key
whose role has ``handoffs:handle`` (``leadgate.api.deps``): 401 without or with wrong credentials, 403 for a
key whose role may not handle handoffs, 503 for a non-key bearer when no staff token is configured.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from leadgate.api.conversations import Chat, call_service, too_long
from leadgate.api.deps import require
from leadgate.api.errors import error_responses
from leadgate.chat.service import ChatMessage, HandoffDetail, HandoffSummary
from leadgate.contracts.lead import Storable
from leadgate.governance.roles import HANDOFFS

router = APIRouter(
    prefix="/v1/handoffs",
    tags=["handoffs"],
    dependencies=[require(HANDOFFS)],
    # 503: no chat assistant on this server, or a non-key bearer with no staff token configured
    responses=error_responses(503),
)


class HandoffQueue(BaseModel):
    """``GET /v1/handoffs``: open handoffs, oldest first."""

    handoffs: list[HandoffSummary]


class StaffMessageIn(BaseModel):
    """A staff reply: the text and who writes it."""

    text: Annotated[str, Storable] = Field(min_length=1)
    staff_id: Annotated[str, Storable] = Field(min_length=1, max_length=128)


class StaffMessageOut(BaseModel):
    """The stored staff message."""

    message: ChatMessage


class CloseIn(BaseModel):
    """Who closes the conversation (optional)."""

    staff_id: Annotated[str, Storable] | None = Field(default=None, max_length=128)


class Closed(BaseModel):
    """The closed conversation."""

    conversation_id: str
    status: str


@router.get("", response_model=HandoffQueue, summary="The handoff queue")
async def handoff_queue(chat: Chat, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> HandoffQueue:
    """Conversations waiting for a person (status ``handoff``), oldest handoff first, with slots and last message."""
    return HandoffQueue(handoffs=await call_service(chat.handoffs, limit))


@router.get("/{conversation_id}", response_model=HandoffDetail, summary="One handoff with its transcript")
async def handoff(conversation_id: str, chat: Chat) -> HandoffDetail:
    """The full transcript, events, slots and lead and decision ids; 404 unless handed off."""
    return await call_service(chat.handoff, conversation_id)


@router.post(
    "/{conversation_id}/messages",
    status_code=201,
    response_model=StaffMessageOut,
    summary="Reply as staff",
    responses=error_responses(409, 413),
)
async def staff_message(conversation_id: str, body: StaffMessageIn, request: Request, chat: Chat) -> Any:
    """Store a staff reply; the visitor gets it through ``/events``.

    404 unless handed off, 409 when closed, 413 for text over ``LEADGATE_MAX_MESSAGE_CHARS``.
    """
    limit = request.app.state.lg.settings.max_message_chars
    if len(body.text) > limit:
        return too_long(len(body.text), limit)
    return StaffMessageOut(
        message=await call_service(chat.staff_post, conversation_id, body.text, body.staff_id)
    )


@router.post("/{conversation_id}/close", response_model=Closed, summary="Close a handed-off conversation")
async def close(conversation_id: str, chat: Chat, body: CloseIn | None = None) -> Closed:
    """Close the conversation (no more visitor messages); closing it again does nothing. 404 unless handed off."""
    status = await call_service(chat.close, conversation_id, body.staff_id if body else None)
    return Closed(conversation_id=conversation_id, status=status)
