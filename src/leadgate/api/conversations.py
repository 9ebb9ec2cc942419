"""``/v1/conversations``: the public chat API of the website widget (contract: ``docs/chat-api.md``).

Start a conversation, resume it with its token, post messages (JSON, or streamed as server-sent events
with a typing indicator), and listen for new messages (staff replies after a handoff). Every endpoint
counts against the per-IP rate limit; posted messages also against the per-conversation limit.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import anyio
import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from leadgate.api.errors import error_responses
from leadgate.api.ratelimit import client_ip, ingest_guard
from leadgate.api.state import AppState
from leadgate.api.tickets import TTL_S, TicketError, check_ticket, issue_ticket
from leadgate.chat.booking.store import get_booking
from leadgate.chat.schemas import ChatMessage, OpenResult, PostResult, Transcript
from leadgate.chat.service import AssistantFailed, ChatService, ConversationClosed, ConversationNotFound
from leadgate.contracts.lead import Storable

log = logging.getLogger(__name__)

EVENTS_POLL_S = 1.0
"""How often ``/events`` looks for new messages (seconds)."""
SSE_RETRY_MS = 2000
"""Reconnect delay the ``/events`` stream asks ``EventSource`` for (milliseconds)."""

TOKEN_HEADER = "X-Conversation-Token"
T = TypeVar("T")


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.lg
    return state


def limit_ip(request: Request) -> None:
    """Dependency: count the request against the per-IP limit (``RateLimited`` -> 429)."""
    _state(request).rate_limits.hit_ip(client_ip(request))


def chat_service(request: Request) -> ChatService[Any]:
    """Dependency: the chat service; 503 when the assistant is not configured on this server."""
    chat = _state(request).chat
    if chat is None:
        raise HTTPException(503, "the chat assistant is not configured on this server")
    return chat


Chat = Annotated[ChatService[Any], Depends(chat_service)]
TokenHeader = Annotated[str | None, Header(alias=TOKEN_HEADER)]

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], dependencies=[Depends(limit_ip)])


@cache
def known_zones() -> tuple[str, ...]:
    """The IANA time zone names this server knows (``zoneinfo.available_timezones``, read once), sorted."""
    return tuple(sorted(available_timezones()))


class ConversationIn(BaseModel):
    """``POST /v1/conversations``: the visitor's IANA time zone and the widget's optional visitor id."""

    timezone: str = Field(
        max_length=64,
        examples=["Europe/Berlin"],
        json_schema_extra=lambda schema: schema.update(enum=list[JsonValue](known_zones())),
    )
    visitor_id: Annotated[str, Storable] | None = Field(default=None, max_length=128)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            if value not in known_zones():  # exactly the names the schema lists
                raise ZoneInfoNotFoundError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin") from exc
        return value


class MessageIn(BaseModel):
    """``POST /v1/conversations/{id}/messages``: one visitor message.

    ``text`` may be empty only when ``option_id`` names a picked quick reply; its length limit
    (``LEADGATE_MAX_MESSAGE_CHARS``) is checked by the endpoint (413).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["text"], "properties": {"text": {"pattern": r"\S"}}},
                {"required": ["option_id"], "properties": {"option_id": {"type": "string"}}},
            ]
        }
    )

    client_message_id: Annotated[str, Storable] = Field(min_length=1, max_length=128)
    text: Annotated[str, Storable] = ""
    option_id: Annotated[str, Storable] | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _text_or_option(self) -> MessageIn:
        if not self.text.strip() and self.option_id is None:
            raise ValueError("text must not be empty unless option_id is given")
        return self


async def call_service(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking chat-service call in the thread pool, mapping its errors to HTTP errors.

    Raises:
        HTTPException: 404 for ``ConversationNotFound``, 409 for ``ConversationClosed``, 500 for
            ``AssistantFailed`` (logged with its cause).
    """
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except ConversationNotFound as exc:
        raise HTTPException(404, "conversation not found") from exc
    except ConversationClosed as exc:
        raise HTTPException(409, str(exc)) from exc
    except AssistantFailed as exc:
        # the frames of the cause, not its message: an error's message may quote the visitor's text
        cause = exc.__cause__ or exc
        log.error(
            "chat assistant failed",
            extra={
                "error": type(cause).__name__,
                "traceback": "".join(traceback.format_tb(cause.__traceback__)),
            },
        )
        raise HTTPException(
            500, "the assistant failed to answer; resend the message with the same client_message_id"
        ) from exc


@router.post(
    "",
    status_code=201,
    response_model=OpenResult,
    summary="Start a conversation",
    dependencies=[Depends(ingest_guard)],
    responses=error_responses(503),
)
async def open_conversation(body: ConversationIn, chat: Chat) -> OpenResult:
    """Start a conversation; returns its id, the resume token (only here) and the assistant's greeting."""
    return await call_service(chat.open, body.timezone, body.visitor_id)


@router.get(
    "/{conversation_id}",
    response_model=Transcript,
    summary="Resume: status and messages",
    responses=error_responses(503),
)
async def get_conversation(
    conversation_id: str,
    chat: Chat,
    token: TokenHeader = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
) -> Transcript:
    """The conversation's status and its messages with ``seq > after_seq``; 404 for a wrong token."""
    return await call_service(chat.transcript, conversation_id, token, after_seq)


def too_long(chars: int, limit: int) -> JSONResponse:
    """The 413 answer to a message text over ``LEADGATE_MAX_MESSAGE_CHARS``: ``{"detail", "max_chars"}``."""
    detail = f"message of {chars} characters is over the limit of {limit} characters"
    return JSONResponse(status_code=413, content={"detail": detail, "max_chars": limit})


def _wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def _message_event(message: ChatMessage) -> ServerSentEvent:
    return ServerSentEvent(data=message.model_dump_json(), event="message", id=str(message.seq))


def _json_event(event: str, data: dict[str, Any], **kwargs: Any) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=event, **kwargs)


@router.post(
    "/{conversation_id}/messages",
    response_model=PostResult,
    summary="Send a message (JSON, or SSE with Accept: text/event-stream)",
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(409, 413, 503)},
    dependencies=[Depends(ingest_guard)],
)
async def post_message(
    conversation_id: str, body: MessageIn, request: Request, chat: Chat, token: TokenHeader = None
) -> Response | PostResult:
    """Store the message, answer it, store the answer, then return it (idempotent on ``client_message_id``).

    With ``Accept: text/event-stream`` the answer streams as SSE: ``typing`` (start), one ``message`` per
    reply, ``typing`` (stop), ``done`` (or ``error``). Errors before the stream: 404 (wrong token), 413
    (text over ``LEADGATE_MAX_MESSAGE_CHARS``), 422, 429, 503.
    """
    lg = _state(request)
    limit = lg.settings.max_message_chars
    if len(body.text) > limit:
        return too_long(len(body.text), limit)
    await call_service(chat.authorize, conversation_id, token)
    lg.rate_limits.hit_conversation(conversation_id)
    post = (chat.post, conversation_id, token, body.client_message_id, body.text, body.option_id)
    if not _wants_stream(request):
        return await call_service(*post)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        yield _json_event("typing", {"typing": True})
        try:
            result = await call_service(*post)
        except HTTPException as exc:
            yield _json_event("error", {"status": exc.status_code, "detail": exc.detail})
            return
        for reply in result.replies:
            yield _message_event(reply)
        yield _json_event("typing", {"typing": False})
        done = {
            "status": result.status,
            "message": result.message.model_dump(mode="json"),
            "duplicate": result.duplicate,
        }
        yield _json_event("done", done)

    return EventSourceResponse(stream())


@router.get(
    "/{conversation_id}/events",
    summary="Server-sent events: new messages and status changes",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(403, 503)},
)
async def conversation_events(
    conversation_id: str,
    chat: Chat,
    request: Request,
    token: TokenHeader = None,
    ticket: Annotated[
        str | None, Query(max_length=512, description="an events ticket (POST .../tickets), for EventSource")
    ] = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    timeout: Annotated[float, Query(ge=0, le=60)] = 25.0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Stream ``status`` (first and on change) and ``message`` events (any role, ``seq > after_seq``).

    The stream ends after ``timeout`` seconds or once the conversation is closed; ``EventSource``
    reconnects with ``Last-Event-ID``, which takes the place of ``after_seq``. The token goes in
    ``X-Conversation-Token``; ``EventSource``, which cannot send headers, sends an events ticket instead
    (``?ticket=``, from ``POST /v1/conversations/{id}/tickets``, valid 60 s): no token in a URL.
    404 for a wrong token, 403 for a wrong or expired ticket.
    """
    authorized = False
    if ticket is not None:
        try:
            check_ticket(_state(request).settings.secret_key, "events", conversation_id, ticket)
        except TicketError as exc:
            raise HTTPException(403, str(exc)) from exc
        authorized = True
    if last_event_id is not None and last_event_id.isdigit():
        after_seq = int(last_event_id)
    first = await call_service(chat.transcript, conversation_id, token, after_seq, authorized=authorized)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        nonlocal after_seq
        current = first
        status = current.status
        yield _json_event(
            "status", {"status": status, "handoff_reason": current.handoff_reason}, retry=SSE_RETRY_MS
        )
        deadline = anyio.current_time() + timeout
        while True:
            for message in current.messages:
                after_seq = max(after_seq, message.seq)
                yield _message_event(message)
            if current.status != status:  # after the messages stored before the change
                status = current.status
                yield _json_event("status", {"status": status, "handoff_reason": current.handoff_reason})
            left = deadline - anyio.current_time()
            if status == "closed" or left <= 0:
                return
            await anyio.sleep(min(EVENTS_POLL_S, left))
            try:
                current = await call_service(
                    chat.transcript, conversation_id, token, after_seq, authorized=authorized
                )
            except HTTPException as exc:
                yield _json_event("error", {"status": exc.status_code, "detail": exc.detail})
                return

    return EventSourceResponse(stream())


class EventsTicketIn(BaseModel):
    """Ask for a ticket that opens this conversation's ``/events`` stream (60 s)."""

    purpose: Literal["events"]


class IcsTicketIn(BaseModel):
    """Ask for a ticket that downloads the ICS invite of a booking made in this conversation (10 minutes)."""

    purpose: Literal["ics"]
    booking_id: uuid.UUID


class TicketOut(BaseModel):
    """A short-lived signed ticket and the URL (path and query, relative to the server) that uses it."""

    ticket: str
    url: str = Field(examples=["/v1/bookings/{booking_id}.ics?ticket=..."])
    expires_in: int = Field(description="seconds the ticket stays valid")


@router.post(
    "/{conversation_id}/tickets",
    response_model=TicketOut,
    summary="A short-lived ticket for a URL (events stream, ICS invite): no token in a URL",
    responses=error_responses(503),
)
async def create_ticket(
    conversation_id: str,
    body: Annotated[EventsTicketIn | IcsTicketIn, Field(discriminator="purpose")],
    request: Request,
    chat: Chat,
    token: TokenHeader = None,
) -> TicketOut:
    """Sign a ticket for this conversation's events stream, or for the ICS invite of one of its bookings.

    Needs the conversation's ``X-Conversation-Token`` (404 for a wrong one); 404 for a booking made in
    another conversation. See ``leadgate.api.tickets`` for what a ticket is and how long it lives.
    """
    await call_service(chat.authorize, conversation_id, token)
    secret = _state(request).settings.secret_key
    if isinstance(body, IcsTicketIn):
        booking_id = str(body.booking_id)
        booking = await run_in_threadpool(get_booking, _state(request).engine, booking_id)
        if booking is None or booking.conversation_id != conversation_id:
            raise HTTPException(404, f"booking {booking_id} not found in this conversation")
        ticket = issue_ticket(secret, "ics", booking_id)
        url = f"/v1/bookings/{booking_id}.ics?{urlencode({'ticket': ticket})}"
        return TicketOut(ticket=ticket, url=url, expires_in=TTL_S["ics"])
    ticket = issue_ticket(secret, "events", conversation_id)
    url = f"/v1/conversations/{quote(conversation_id, safe='')}/events?{urlencode({'ticket': ticket})}"
    return TicketOut(ticket=ticket, url=url, expires_in=TTL_S["events"])
