"""``/v1/handoffs``: the staff side of the chat (contract: ``docs/chat-api.md``).

The handoff queue (conversations the assistant handed to a person) with transcript and slots, staff
replies and closing. Every call needs a signed-in staff member (the ``lg_session`` cookie, plus the
``X-CSRF-Token`` header on POST) or ``Authorization: Bearer`` with an API key, whose role has
``handoffs:handle`` (the transcript: ``conversations:read``; ``leadgate.api.deps``): 401 without or with
wrong credentials, 403 for a role that may not or a missing CSRF token. Object rules
(``leadgate.api.access``): a ``sales_rep`` gets only the conversations assigned to it
(``conversations.owner``): the queue is filtered, any other id answers 404. Reading the queue (when it
lists any) and a transcript is recorded in the access log (``read_pii``). A reply and a close record who
did it: the caller's ``Principal.subject`` (``user:<id>`` or ``key:<prefix>``) and name, never a name the
body declares (a body with ``staff_id`` is refused with 422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.access import log_conversations_read, scope
from leadgate.api.conversations import Chat, call_service, too_long
from leadgate.api.deps import Caller, require
from leadgate.api.errors import error_responses
from leadgate.chat.schemas import ChatMessage, HandoffDetail, HandoffSummary
from leadgate.contracts.lead import Storable
from leadgate.governance.access import Scope
from leadgate.governance.roles import CONVERSATIONS_READ, HANDOFFS

router = APIRouter(
    prefix="/v1/handoffs",
    tags=["handoffs"],
    # 503: no chat assistant on this server
    responses=error_responses(503),
)

Seen = Annotated[Scope, Depends(scope)]


class HandoffQueue(BaseModel):
    """``GET /v1/handoffs``: open handoffs, oldest first."""

    handoffs: list[HandoffSummary]


class StaffMessageIn(BaseModel):
    """A staff reply: its text (the writer is the caller; other fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Storable] = Field(min_length=1)


class StaffMessageOut(BaseModel):
    """The stored staff message."""

    message: ChatMessage


class Closed(BaseModel):
    """The closed conversation."""

    conversation_id: str
    status: str


@router.get("", response_model=HandoffQueue, summary="The handoff queue", dependencies=[require(HANDOFFS)])
async def handoff_queue(
    request: Request, chat: Chat, seen: Seen, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> HandoffQueue:
    """Conversations waiting for a person (status ``handoff``), oldest handoff first.

    Each with its slots and last message; a ``sales_rep`` gets only those assigned to it.
    """
    queue = await call_service(chat.handoffs, limit, seen)
    # slots and last messages are personal data
    await log_conversations_read(request, [h.conversation_id for h in queue], "handoff_queue")
    return HandoffQueue(handoffs=queue)


@router.get(
    "/{conversation_id}",
    response_model=HandoffDetail,
    summary="One handoff with its transcript",
    dependencies=[require(CONVERSATIONS_READ)],
)
async def handoff(conversation_id: str, request: Request, chat: Chat, seen: Seen) -> HandoffDetail:
    """The full transcript, events, slots and lead and decision ids; 404 unless handed off and visible.

    The read is recorded in the access log (``read_pii``).
    """
    detail = await call_service(chat.handoff, conversation_id, seen)
    await log_conversations_read(request, [conversation_id], "transcript")
    return detail


@router.post(
    "/{conversation_id}/messages",
    status_code=201,
    response_model=StaffMessageOut,
    summary="Reply as staff",
    dependencies=[require(HANDOFFS)],
    responses=error_responses(409, 413),
)
async def staff_message(
    conversation_id: str, body: StaffMessageIn, request: Request, chat: Chat, caller: Caller, seen: Seen
) -> Any:
    """Store a staff reply, as the caller; the visitor gets it through ``/events``.

    404 unless handed off and visible, 409 when closed, 413 for text over ``LEADGATE_MAX_MESSAGE_CHARS``.
    """
    assert caller is not None  # require(HANDOFFS) answered 401 otherwise
    limit = request.app.state.lg.settings.max_message_chars
    if len(body.text) > limit:
        return too_long(len(body.text), limit)
    message = await call_service(
        chat.staff_post, conversation_id, body.text, caller.subject, staff_name=caller.name, scope=seen
    )
    return StaffMessageOut(message=message)


@router.post(
    "/{conversation_id}/close",
    response_model=Closed,
    summary="Close a handed-off conversation",
    dependencies=[require(HANDOFFS)],
)
async def close(conversation_id: str, chat: Chat, caller: Caller, seen: Seen) -> Closed:
    """Close the conversation as the caller (no more visitor messages); closing it again does nothing.

    404 unless handed off and visible.
    """
    assert caller is not None
    status = await call_service(chat.close, conversation_id, caller.subject, scope=seen)
    return Closed(conversation_id=conversation_id, status=status)
