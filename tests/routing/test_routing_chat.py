"""Chat: qualified chat leads are routed like the API's, and a demo booked in chat goes to the calendar's rep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from tests.routing.test_routing_store import HOT_SLOTS, STUDENT_SLOTS

from leadgate.audit.events import iter_events, verify_events
from leadgate.chat.booking import CalendarScheduler, load_calendars
from leadgate.chat.qualify import ChatLeadQualifier, load_chat_qualifier
from leadgate.chat.runtime import chat_router
from leadgate.config import Settings
from leadgate.db.acting_models import AssignmentRow
from leadgate.routing import current_assignment

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 07:00 in Berlin, 01:00 in New York


def test_chat_router_is_the_main_policys_over_the_reps_file() -> None:
    router = chat_router(Settings())
    assert router is not None
    assert router.policy_ref == "xeducation@2" and router.directory.ref == "example-reps@1"


def test_chat_leads_are_routed_and_a_booked_demo_goes_to_the_calendars_rep(engine: Engine) -> None:
    chat = ChatLeadQualifier(engine, load_chat_qualifier(), router=chat_router(Settings()))
    decision = chat.qualify(conversation_id="conv-42", slots=HOT_SLOTS, now=NOW)
    assert decision.action == "route_to_sales"
    cold = chat.qualify(conversation_id="conv-43", slots=STUDENT_SLOTS, now=NOW)
    assert cold.action != "route_to_sales"
    with engine.connect() as conn:
        routed = current_assignment(conn, "chat-conv-42")
        assert current_assignment(conn, "chat-conv-43") is None
    # no country in a chat lead: the otherwise pool, every active rep (anna weight 2 is first)
    assert routed is not None and (routed["rep_id"], routed["rule"]) == ("anna", "round_robin")

    scheduler = CalendarScheduler(engine, load_calendars(), clock=lambda: NOW, on_booked=chat.booked)
    offers = scheduler.offer_slots(now=NOW, visitor_tz="America/New_York", n=6)
    offer = next(o for o in offers if o.rep_id != "anna")  # the visitor picks another rep's slot
    result = scheduler.book(
        offer,
        conversation_id="conv-42",
        attendee_name="Dana Reyes",
        attendee_email="dana@acme.io",
        visitor_tz="America/New_York",
    )
    assert result.booked and result.booking_id
    with engine.connect() as conn:
        now_assigned = current_assignment(conn, "chat-conv-42")
        statuses = list(
            conn.execute(
                select(AssignmentRow.status, AssignmentRow.rule)
                .where(AssignmentRow.lead_id == "chat-conv-42")
                .order_by(AssignmentRow.id)
            )
        )
        events = list(iter_events(conn, lead_id="chat-conv-42"))
    assert now_assigned is not None
    assert (now_assigned["rep_id"], now_assigned["rule"]) == (offer.rep_id, "booking")
    assert result.booking_id in now_assigned["reason"]
    assert f"demo booked in {offer.rep_id}'s calendar" in now_assigned["reason"]
    assert [tuple(s) for s in statuses] == [("reassigned", "round_robin"), ("open", "booking")]
    assert [e["kind"] for e in events] == ["assigned", "reassigned"]
    assert events[1]["data"]["booking_id"] == result.booking_id
    assert verify_events(engine) == (2, None)

    # a second booking with the same rep (a reschedule) stores nothing new
    later = scheduler.offer_slots(now=NOW + timedelta(days=2), visitor_tz="America/New_York", n=6)
    again = next(o for o in later if o.rep_id == offer.rep_id)
    assert scheduler.book(
        again,
        conversation_id="conv-42",
        attendee_name="Dana Reyes",
        attendee_email="dana@acme.io",
        visitor_tz="America/New_York",
    ).booked
    assert verify_events(engine) == (2, None)


def test_a_booking_without_a_decided_lead_assigns_nothing(engine: Engine) -> None:
    chat = ChatLeadQualifier(engine, load_chat_qualifier(), router=chat_router(Settings()))
    scheduler = CalendarScheduler(engine, load_calendars(), clock=lambda: NOW, on_booked=chat.booked)
    offer = scheduler.offer_slots(now=NOW, visitor_tz="Europe/Berlin", n=1)[0]
    assert scheduler.book(
        offer,
        conversation_id="conv-7",
        attendee_name="Max Mustermann",
        attendee_email="max@example.de",
        visitor_tz="Europe/Berlin",
    ).booked
    with engine.connect() as conn:
        assert current_assignment(conn, "chat-conv-7") is None
