"""CalendarScheduler on SQLite and PostgreSQL: booking, re-offers, cancellation, concurrency, the ICS route."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from icalendar import Calendar
from sqlalchemy import Engine, MetaData, func, select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import StarletteDeprecationWarning

from leadgate.api.bookings import router
from leadgate.api.tickets import issue_ticket
from leadgate.chat.booking import CalendarScheduler, CalendarSet, Interval, offer_id
from leadgate.chat.booking.scheduler import TAKEN
from leadgate.chat.booking.store import Booking, insert_booking
from leadgate.chat.ports import BookingResult, Scheduler, SlotOffer
from leadgate.config import Settings
from leadgate.db import make_engine
from leadgate.db.booking_models import BookingRow

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 07:00 in Berlin
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN)


def make_calendars(step: int = 30) -> CalendarSet:
    hours = {day: ["09:00-12:00", "13:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    return CalendarSet.model_validate(
        {
            "name": "t",
            "version": 1,
            "company": "Acme",
            "min_notice_minutes": 60,
            "horizon_days": 7,
            "reps": [
                {
                    "id": "bea",
                    "name": "Bea Berlin",
                    "email": "bea@example.com",
                    "timezone": "Europe/Berlin",
                    "working_hours": hours,
                    "meeting_minutes": 30,
                    "buffer_before_minutes": 10,
                    "buffer_after_minutes": 10,
                    "slot_step_minutes": step,
                    "languages": ["de", "en"],
                    "busy": [{"start": "2026-11-25T09:00:00+01:00", "end": "2026-11-25T12:00:00+01:00"}],
                },
                {
                    "id": "ned",
                    "name": "Ned York",
                    "email": "ned@example.com",
                    "timezone": "America/New_York",
                    "working_hours": hours,
                    "meeting_minutes": 30,
                    "slot_step_minutes": step,
                    "languages": ["en", "es"],
                    "territories": ["US", "CA"],
                },
            ],
        }
    )


@pytest.fixture
def scheduler(engine: Engine) -> CalendarScheduler:
    return CalendarScheduler(engine, make_calendars(), clock=lambda: NOW)


def offer_at(sched: CalendarScheduler, rep_id: str, start: datetime, tz: str = "Europe/Berlin") -> SlotOffer:
    return sched.offer(offer_id(rep_id, start), visitor_tz=tz)


def book(
    sched: CalendarScheduler, offer: SlotOffer, who: str = "Yuki Sato", tz: str = "Asia/Tokyo"
) -> BookingResult:
    return sched.book(
        offer,
        conversation_id=f"conv-{who[:20]}",
        attendee_name=who,
        attendee_email="yuki@example.jp",
        visitor_tz=tz,
    )


def count_rows(engine: Engine, status: str | None = None) -> int:
    table = BookingRow.__table__
    query = select(func.count()).select_from(table)
    if status is not None:
        query = query.where(table.c.status == status)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_scheduler_satisfies_the_port(scheduler: CalendarScheduler) -> None:
    port: Scheduler = scheduler
    assert port.offer_slots(now=NOW, visitor_tz="Europe/Berlin", n=1)


def test_offers_can_be_limited_by_language_and_territory(scheduler: CalendarScheduler) -> None:
    def reps(**kwargs: str) -> set[str]:
        return {o.rep_id for o in scheduler.offer_slots(now=NOW, visitor_tz="UTC", n=40, **kwargs)}

    assert reps() == {"bea", "ned"}
    assert reps(language="ES") == {"ned"}
    assert reps(language="de") == {"bea"}
    assert reps(territory="us") == {"bea", "ned"}  # bea has no territory list: she serves everyone
    assert reps(language="de", territory="US") == {"bea"}
    assert reps(language="fr") == set()
    with pytest.raises(ValueError, match="aware"):
        scheduler.offer_slots(now=NOW.replace(tzinfo=None), visitor_tz="UTC")


def test_booking_is_stored_with_its_invite_and_leaves_the_reoffers(scheduler: CalendarScheduler) -> None:
    offers = scheduler.offer_slots(now=NOW, visitor_tz="Asia/Tokyo")
    assert len(offers) == 3
    chosen = offers[0]
    result = book(scheduler, chosen)
    assert result.booked and result.reason is None and result.offer == chosen
    assert result.booking_id is not None
    assert result.ics_path == f"/v1/bookings/{result.booking_id}.ics"
    stored = scheduler.get_booking(result.booking_id)
    assert isinstance(stored, Booking)
    assert (stored.rep_id, stored.start, stored.end, stored.status) == (
        chosen.rep_id,
        chosen.start,
        chosen.end,
        "booked",
    )
    assert stored.start.tzinfo == UTC and stored.created_at == NOW
    assert (stored.attendee_email, stored.attendee_tz) == ("yuki@example.jp", "Asia/Tokyo")
    [event] = Calendar.from_ical(stored.ics).events
    assert event.start == chosen.start and event.end == chosen.end
    # the booked slot is not offered again, to this visitor or any other
    for tz in ("Asia/Tokyo", "Europe/Berlin", "America/New_York"):
        again = scheduler.offer_slots(now=NOW, visitor_tz=tz, n=50)
        assert all(
            not (
                o.rep_id == chosen.rep_id
                and Interval(o.start, o.end).overlaps(
                    Interval(chosen.start - timedelta(minutes=10), chosen.end + timedelta(minutes=10))
                )
            )
            for o in again
        )
    second = book(scheduler, chosen, who="Someone Else")
    assert (second.booked, second.reason, second.booking_id) == (False, TAKEN, None)
    assert count_rows(scheduler.engine) == 1
    assert scheduler.get_booking("00000000-0000-0000-0000-000000000000") is None


def test_cancel_frees_the_slot_and_stores_the_cancellation(scheduler: CalendarScheduler) -> None:
    offer = offer_at(scheduler, "bea", TUESDAY_10)
    first = book(scheduler, offer)
    assert first.booked and first.booking_id
    assert offer.offer_id not in {
        o.offer_id for o in scheduler.offer_slots(now=NOW, visitor_tz="Europe/Berlin", n=60)
    }
    cancelled = scheduler.cancel(first.booking_id)
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.cancelled_at == NOW
    ics = Calendar.from_ical(cancelled.ics)
    assert ics["METHOD"] == "CANCEL" and ics.events[0].status == "CANCELLED"
    assert scheduler.cancel(first.booking_id) == cancelled  # idempotent
    assert scheduler.cancel("00000000-0000-0000-0000-000000000000") is None
    assert offer.offer_id in {
        o.offer_id for o in scheduler.offer_slots(now=NOW, visitor_tz="Europe/Berlin", n=60)
    }
    again = book(scheduler, offer, who="Second Visitor")
    assert again.booked and again.booking_id != first.booking_id
    assert (count_rows(scheduler.engine, "booked"), count_rows(scheduler.engine, "cancelled")) == (1, 1)


def test_refused_requests_store_nothing(scheduler: CalendarScheduler) -> None:
    good = offer_at(scheduler, "bea", TUESDAY_10)
    cases: list[tuple[SlotOffer, dict[str, Any], str]] = [
        (
            good.model_copy(update={"start": good.start + timedelta(minutes=30)}),
            {},
            "the offer does not match its id",
        ),
        (
            good.model_copy(update={"offer_id": "nobody@20261124T090000Z", "rep_id": "nobody"}),
            {},
            "unknown offer",
        ),
        (good.model_copy(update={"offer_id": "garbage"}), {}, "unknown offer"),
        (
            offer_at(scheduler, "bea", TUESDAY_10 + timedelta(minutes=15)),
            {},
            "not one of the rep's working-hour slots",
        ),
        (offer_at(scheduler, "bea", TUESDAY_10 + timedelta(days=1)), {}, "the rep is busy at that time"),
        (offer_at(scheduler, "bea", NOW + timedelta(minutes=30)), {}, "too soon"),
        (good, {"attendee_email": "not-an-email"}, "invalid attendee"),
        (good, {"visitor_tz": "Mars/Olympus"}, "invalid attendee"),
        (good, {"attendee_name": "  "}, "invalid attendee name"),
    ]
    for offer, overrides, reason in cases:
        kwargs: dict[str, Any] = {
            "conversation_id": "c1",
            "attendee_name": "Yuki",
            "attendee_email": "yuki@example.jp",
            "visitor_tz": "Asia/Tokyo",
        }
        kwargs.update(overrides)
        result = scheduler.book(offer, **kwargs)
        assert not result.booked and result.reason is not None and reason in result.reason, (offer, result)
    assert count_rows(scheduler.engine) == 0
    assert book(scheduler, good).booked


def test_unique_index_is_the_last_guard(engine: Engine) -> None:
    class NoRecheck(CalendarScheduler):
        def _recheck(self, conn: Any, rep: Any, start: datetime, now: datetime) -> str | None:
            return None

    sched = NoRecheck(engine, make_calendars(), clock=lambda: NOW)
    offer = offer_at(sched, "bea", TUESDAY_10)
    assert book(sched, offer).booked
    # without the re-check the insert reaches the database, whose unique index refuses it
    late = book(sched, offer, who="Late Visitor")
    assert (late.booked, late.reason) == (False, TAKEN)
    row = sched.get_booking(
        book(sched, offer_at(sched, "bea", TUESDAY_10 + timedelta(hours=1))).booking_id or ""
    )
    assert row is not None
    duplicate = row.model_copy(update={"booking_id": "11111111-1111-1111-1111-111111111111"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_booking(conn, duplicate)
    with engine.begin() as conn:  # a cancelled row does not hold the slot
        insert_booking(conn, duplicate.model_copy(update={"status": "cancelled"}))
    assert count_rows(engine) == 3


def _race(db_url: str, calendars: CalendarSet, offers: list[SlotOffer]) -> list[BookingResult]:
    """Book ``offers[i % len(offers)]`` from 16 threads at once, each with its own engine and connection."""
    threads_n = 16
    engines = [make_engine(db_url) for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)
    results: list[BookingResult | BaseException | None] = [None] * threads_n

    def run(i: int) -> None:
        try:
            sched = CalendarScheduler(engines[i], calendars, clock=lambda: NOW)
            with engines[i].connect():  # open the connection before the start line
                pass
            barrier.wait(timeout=60)
            results[i] = book(sched, offers[i % len(offers)], who=f"Visitor {i}")
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for eng in engines:
        eng.dispose()
    assert all(isinstance(r, BookingResult) for r in results), results
    return [r for r in results if isinstance(r, BookingResult)]


def test_concurrent_requests_for_one_slot_book_it_once(db_url: str, engine: Engine) -> None:
    calendars = make_calendars()
    offer = offer_at(CalendarScheduler(engine, calendars), "bea", TUESDAY_10)
    results = _race(db_url, calendars, [offer])
    assert sum(r.booked for r in results) == 1
    assert {r.reason for r in results if not r.booked} == {TAKEN}
    assert count_rows(engine) == 1


def test_concurrent_overlapping_starts_book_only_one(db_url: str, engine: Engine) -> None:
    calendars = make_calendars(step=15)
    sched = CalendarScheduler(engine, calendars, clock=lambda: NOW)
    offers = [offer_at(sched, "bea", TUESDAY_10), offer_at(sched, "bea", TUESDAY_10 + timedelta(minutes=15))]
    results = _race(db_url, calendars, offers)
    assert sum(r.booked for r in results) == 1
    assert count_rows(engine) == 1
    [winner] = [r for r in results if r.booked]
    assert winner.offer in offers
    # the other rep's calendar is untouched: the same Berlin wall time is still free there
    other = offer_at(sched, "ned", TUESDAY_10.replace(tzinfo=ZoneInfo("America/New_York")))
    assert book(sched, other).booked


@pytest.fixture
def client(engine: Engine, scheduler: CalendarScheduler) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.lg = SimpleNamespace(engine=engine, scheduler=scheduler, settings=Settings())
    app.include_router(router)
    with TestClient(app) as test_client:
        yield test_client


def test_ics_route_serves_the_invite_and_404s(client: TestClient, scheduler: CalendarScheduler) -> None:
    result = book(scheduler, offer_at(scheduler, "bea", TUESDAY_10))
    assert result.ics_path is not None and result.booking_id is not None

    def ticket(booking_id: str) -> dict[str, str]:  # as POST /v1/conversations/{id}/tickets signs it
        return {"ticket": issue_ticket(Settings().secret_key, "ics", booking_id)}

    assert client.get(result.ics_path).status_code == 422  # no ticket: the booking id alone opens nothing
    response = client.get(result.ics_path, params=ticket(result.booking_id))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert f"demo-{result.booking_id}.ics" in response.headers["content-disposition"]
    stored = scheduler.get_booking(result.booking_id)
    assert stored is not None and response.text == stored.ics
    assert Calendar.from_ical(response.text).events[0].start == TUESDAY_10
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/v1/bookings/{unknown}.ics", params=ticket(unknown)).status_code == 404
    assert client.get("/v1/bookings/not-a-uuid.ics", params=ticket("not-a-uuid")).status_code == 404
    scheduler.cancel(result.booking_id)
    assert "METHOD:CANCEL" in client.get(result.ics_path, params=ticket(result.booking_id)).text


def test_migration_matches_the_table_model(engine: Engine) -> None:
    metadata = MetaData()
    BookingRow.__table__.to_metadata(metadata)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _only_bookings})
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def _only_bookings(name: str | None, type_: str, parent_names: Any) -> bool:
    return type_ != "table" or name == "bookings"
