"""``IcsInvite`` (destination ``invite``): the booked demo's ICS mailed to the visitor and the rep through a
real local SMTP server (aiosmtpd), the attachment parsed back with ``icalendar``; the gate lets an invite
through only for a booking still booked, to a lead who has not objected (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from sqlalchemy import Engine
from tests.adapters.notify_support import LEAD, SmtpServer, store_lead

from leadgate.actions.gate import check
from leadgate.actions.ports import Delivery, DestinationContext, PermanentDeliveryError
from leadgate.adapters.invite import IcsInvite, InviteConfig
from leadgate.chat.booking.ics import build_invite, cancel_invite, event_uid
from leadgate.chat.booking.loader import load_calendars
from leadgate.chat.booking.store import Booking, insert_booking, mark_cancelled
from leadgate.config import Settings
from leadgate.contracts.action import Action
from leadgate.db import write_lock

BOOKED_AT = dt.datetime(2026, 12, 2, 15, 40, tzinfo=dt.UTC)
START = dt.datetime(2026, 12, 8, 14, 0, tzinfo=dt.UTC)  # Tuesday 15:00 in Berlin


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def book(engine: Engine, lead_id: str = "chat-4410") -> str:
    """Store a demo booked in chat with Anna (the shipped calendars), as the booking scheduler does."""
    calendars = load_calendars()
    rep = calendars.rep("anna")
    booking_id = str(uuid.uuid4())
    ics = build_invite(
        booking_id=booking_id,
        rep=rep,
        company=calendars.company,
        start=START,
        end=START + dt.timedelta(minutes=30),
        attendee_name="Joseph Okafor",
        attendee_email="j.okafor@brightpath-freight.example",
        attendee_tz="Europe/London",
        stamp=BOOKED_AT,
    )
    booking = Booking(
        booking_id=booking_id,
        rep_id="anna",
        start=START,
        end=START + dt.timedelta(minutes=30),
        conversation_id=None,
        attendee_name="Joseph Okafor",
        attendee_email="j.okafor@brightpath-freight.example",
        attendee_tz="Europe/London",
        status="booked",
        ics=ics,
        created_at=BOOKED_AT,
    )
    with write_lock(engine), engine.begin() as conn:
        insert_booking(conn, booking)
    return booking_id


def invite_action(lead_id: str, booking_id: str) -> Action:
    return Action(
        action_id=f"act-inv-{booking_id[:8]}",
        kind="invite",
        destination="invite",
        lead_id=lead_id,
        decision_id="dec-chat-4410",
        idempotency_key=f"invite-{booking_id}",
        payload={"booking_id": booking_id, "rep_id": "anna"},
        created_at=BOOKED_AT,
    )


def adapter(port: int, engine: Engine) -> IcsInvite:
    config = InviteConfig(
        host="127.0.0.1", port=port, security="none", from_address="demos@example-analytics.example"
    )
    return IcsInvite(config, DestinationContext(engine=engine, settings=Settings(), timeout=5.0))


def test_the_invite_reaches_visitor_and_rep_once_as_a_calendar_request(
    smtp: SmtpServer, engine: Engine
) -> None:
    booking_id = book(engine)
    invite = adapter(smtp.port, engine)
    action = invite_action("chat-4410", booking_id)
    invite.deliver(Delivery(action=action, lead=LEAD))
    invite.deliver(Delivery(action=action, lead=LEAD, attempt=2))  # a retry: not sent again

    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert {a.addr_spec for a in msg["To"].addresses} == {
        "j.okafor@brightpath-freight.example",
        "anna.becker@example.com",
    }
    _mail_from, rcpt = smtp.handler.envelopes[0]
    assert sorted(rcpt) == ["anna.becker@example.com", "j.okafor@brightpath-freight.example"]
    inline = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(inline) == 1 and inline[0].get_param("method") == "REQUEST"
    (attachment,) = [p for p in msg.iter_attachments() if p.get_filename() == "invite.ics"]
    calendar = Calendar.from_ical(attachment.get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.events
    assert str(event["UID"]) == event_uid(booking_id)
    assert str(event["ORGANIZER"]) == "mailto:anna.becker@example.com"
    assert event.decoded("DTSTART") == START
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
    attendees = {str(a) for a in event.get("ATTENDEE")}
    assert "mailto:j.okafor@brightpath-freight.example" in attendees
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Tue 08 Dec 2026, 14:00 UTC" in text and booking_id in text


def test_an_unknown_booking_is_permanent(smtp: SmtpServer, engine: Engine) -> None:
    invite = adapter(smtp.port, engine)
    with pytest.raises(PermanentDeliveryError, match="does not exist"):
        invite.deliver(Delivery(action=invite_action("chat-4410", str(uuid.uuid4()))))
    missing = invite_action("chat-4410", "x").model_copy(update={"payload": {}})
    with pytest.raises(PermanentDeliveryError, match="booking_id"):
        invite.deliver(Delivery(action=missing))
    assert smtp.messages == []


def test_gate_invites_only_for_a_live_booking_and_a_lead_who_did_not_object(engine: Engine) -> None:
    now = BOOKED_AT + dt.timedelta(minutes=1)
    store_lead(engine, "chat-4410")
    store_lead(engine, "chat-4411", do_not_email=True)
    live = book(engine)
    with engine.connect() as conn:
        assert check(conn, invite_action("chat-4410", live), now=now).allowed
        objected = check(conn, invite_action("chat-4411", live), now=now)
        unknown = check(conn, invite_action("chat-4410", "no-such-booking"), now=now)
    assert not objected.allowed and "objected" in objected.reason
    assert not unknown.allowed and "does not exist" in unknown.reason
    with write_lock(engine), engine.begin() as conn:
        mark_cancelled(conn, live, ics=cancel_invite(_ics(engine, live), stamp=now), at=now)
    with engine.connect() as conn:
        cancelled = check(conn, invite_action("chat-4410", live), now=now)
    assert not cancelled.allowed and "cancelled" in cancelled.reason


def _ics(engine: Engine, booking_id: str) -> str:
    from leadgate.chat.booking.store import get_booking

    booking = get_booking(engine, booking_id)
    assert booking is not None
    return booking.ics
