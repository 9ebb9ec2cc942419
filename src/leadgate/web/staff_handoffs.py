"""The staff handoff pages: the queue, one conversation with its transcript, reply and close forms.

``GET /staff/handoffs`` (queue, oldest handoff first), ``GET /staff/handoffs/{conversation_id}``
(transcript, slots, reply form, close button), ``POST .../reply`` and ``POST .../close`` (forms, CSRF
checked by ``leadgate.api.deps.check_csrf``; 303 back to the page). They need a signed-in staff member
whose role has ``handoffs:handle`` (``/v1/handoffs`` is the same service as JSON), and apply the same
object rules (``leadgate.api.access``): a ``sales_rep`` sees only the conversations assigned to it (the queue
is filtered, another rep's conversation is 404) and every page that shows personal data is recorded in the
access log (``read_pii``). A reply and a close record the signed-in person (``Principal.subject``,
``user:<id>``, and their email), as the API does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from leadgate.api.access import log_conversations_read, principal_scope
from leadgate.api.conversations import Chat, call_service
from leadgate.api.deps import Caller, require
from leadgate.governance.roles import HANDOFFS
from leadgate.web.templating import page

router = APIRouter(prefix="/staff/handoffs", include_in_schema=False, dependencies=[require(HANDOFFS)])


@router.get("", name="staff_handoffs")
async def queue(request: Request, chat: Chat, caller: Caller) -> Response:
    """The handoff queue (at most 200 conversations, oldest handoff first; a rep's own only)."""
    handoffs = await call_service(chat.handoffs, 200, principal_scope(caller))
    await log_conversations_read(request, [h.conversation_id for h in handoffs], "handoff_queue")
    return page(request, "handoffs.html", handoffs=handoffs)


async def _detail(
    request: Request, chat: Chat, conversation_id: str, status_code: int = 200, error: str | None = None
) -> Response:
    seen = principal_scope(getattr(request.state, "principal", None))
    detail = await call_service(chat.handoff, conversation_id, seen)
    await log_conversations_read(request, [conversation_id], "transcript")
    limit = request.app.state.lg.settings.max_message_chars
    return page(request, "handoff.html", status_code=status_code, h=detail, max_chars=limit, error=error)


@router.get("/{conversation_id}", name="staff_handoff")
async def conversation(conversation_id: str, request: Request, chat: Chat) -> Response:
    """One handed-off conversation; 404 unless handed off and visible to the caller."""
    return await _detail(request, chat, conversation_id)


@router.post("/{conversation_id}/reply")
async def reply(
    conversation_id: str,
    request: Request,
    chat: Chat,
    caller: Caller,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Store the reply as the signed-in person; 303 back to the conversation (400 or 413 with the page)."""
    assert caller is not None
    limit = request.app.state.lg.settings.max_message_chars
    text = text.strip()
    if not text or "\x00" in text:
        return await _detail(request, chat, conversation_id, 400, "Write a reply first (plain text).")
    if len(text) > limit:
        return await _detail(
            request,
            chat,
            conversation_id,
            413,
            f"The reply has {len(text)} characters; the limit is {limit}.",
        )
    await call_service(
        chat.staff_post,
        conversation_id,
        text,
        caller.subject,
        staff_name=caller.name,
        scope=principal_scope(caller),
    )
    return RedirectResponse(
        request.url_for("staff_handoff", conversation_id=conversation_id).path, status_code=303
    )


@router.post("/{conversation_id}/close")
async def close(conversation_id: str, request: Request, chat: Chat, caller: Caller) -> Response:
    """Close the conversation as the signed-in person; 303 to the queue."""
    assert caller is not None
    await call_service(chat.close, conversation_id, caller.subject, scope=principal_scope(caller))
    return RedirectResponse(request.url_for("staff_handoffs").path, status_code=303)
