"""No token in a URL (issue 8, item 11): short-lived signed tickets for the events stream and the ICS invite."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from tests.api.conversations_support import ChatApi, MakeChatApi, make_chat_api, sse

from leadgate.api.tickets import TTL_S, TicketError, check_ticket, issue_ticket
from leadgate.chat.booking import store as booking_store

__all__ = ["make_chat_api"]  # the fixture, imported for pytest

SECRET = "s" * 40


def test_a_ticket_is_bound_to_its_purpose_object_and_key() -> None:
    ticket = issue_ticket(SECRET, "events", "conv-1")
    check_ticket(SECRET, "events", "conv-1", ticket)
    with pytest.raises(TicketError, match="another object"):
        check_ticket(SECRET, "events", "conv-2", ticket)
    with pytest.raises(TicketError, match="not a valid ics ticket"):
        check_ticket(SECRET, "ics", "conv-1", ticket)
    with pytest.raises(TicketError, match="not a valid"):
        check_ticket("t" * 40, "events", "conv-1", ticket)
    with pytest.raises(TicketError, match="not a valid"):
        check_ticket(SECRET, "events", "conv-1", ticket[:-2] + "xx")


def test_a_ticket_expires_after_its_ttl() -> None:
    # signed as if issued TTL + 1 seconds ago (the timestamp comes from the signer's get_timestamp)
    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - TTL_S["events"] - 1

    old = URLSafeTimedSerializer(SECRET, salt="leadgate-ticket/events", signer=PastSigner).dumps("conv-1")
    with pytest.raises(TicketError, match="expired"):
        check_ticket(SECRET, "events", "conv-1", old)
    recent = issue_ticket(SECRET, "events", "conv-1")
    check_ticket(SECRET, "events", "conv-1", recent)


def _ticket(api: ChatApi, conv: dict[str, Any], token: str | None = None, **body: Any) -> Any:
    return api.client.post(
        f"/v1/conversations/{conv['conversation_id']}/tickets",
        json=body,
        headers={"X-Conversation-Token": token if token is not None else conv["token"]},
    )


def test_events_stream_opens_with_a_ticket_not_a_token(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    conv, other = api.open(), api.open()
    assert _ticket(api, conv, token=other["token"], purpose="events").status_code == 404  # wrong token
    r = _ticket(api, conv, purpose="events")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["expires_in"] == 60 and conv["token"] not in out["url"]
    assert out["url"].startswith(f"/v1/conversations/{conv['conversation_id']}/events?ticket=")
    events = sse(api.client.get(out["url"] + "&timeout=0").text)
    assert events[0]["event"] == "status" and events[0]["data"]["status"] == "active"
    # the ticket opens this conversation only, and the token is not taken from the URL any more
    other_url = f"/v1/conversations/{other['conversation_id']}/events"
    denied = api.client.get(other_url, params={"ticket": out["ticket"], "timeout": 0})
    assert denied.status_code == 403 and "another object" in denied.json()["detail"]
    assert api.client.get(other_url, params={"token": other["token"], "timeout": 0}).status_code == 422
    assert api.client.get(other_url, params={"timeout": 0}).status_code == 404  # neither token nor ticket


def _book(api: ChatApi, conv: dict[str, Any]) -> str:
    """Store a booking made in ``conv`` (as the scheduler does) and return its id."""
    booking_id = str(uuid.uuid4())
    start = datetime(2030, 1, 7, 10, tzinfo=UTC)
    booking = booking_store.Booking(
        booking_id=booking_id,
        rep_id="rep-1",
        start=start,
        end=start + timedelta(minutes=30),
        conversation_id=conv["conversation_id"],
        attendee_name="Jane Doe",
        attendee_email="jane@example.com",
        attendee_tz="Europe/Berlin",
        status="booked",
        ics="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
        created_at=datetime.now(UTC),
    )
    with api.state.engine.begin() as conn:
        booking_store.insert_booking(conn, booking)
    return booking_id


def test_the_ics_invite_needs_a_ticket_of_that_booking(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    conv, other = api.open(), api.open()
    booking_id = _book(api, conv)
    ics = f"/v1/bookings/{booking_id}.ics"
    assert api.client.get(ics).status_code == 422  # the booking id alone opens nothing
    assert _ticket(api, other, purpose="ics", booking_id=booking_id).status_code == 404  # not its booking
    r = _ticket(api, conv, purpose="ics", booking_id=booking_id)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["expires_in"] == 600 and out["url"].startswith(f"{ics}?ticket=")
    invite = api.client.get(out["url"])
    assert invite.status_code == 200 and invite.headers["content-type"].startswith("text/calendar")
    assert "METHOD:REQUEST" in invite.text
    events_ticket = _ticket(api, conv, purpose="events").json()["ticket"]
    assert api.client.get(ics, params={"ticket": events_ticket}).status_code == 403  # another purpose
    assert _ticket(api, conv, purpose="ics").status_code == 422  # which booking?
