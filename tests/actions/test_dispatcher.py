"""The dispatcher against a CRM on a real socket, on SQLite and PostgreSQL: delivery with decrypted lead
fields, Retry-After, server errors, timeouts, dead letters, replay without duplicates, consent, breakers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from tests.actions.crm_server import CrmState, crm_server
from tests.actions.http_crm import HttpCrm
from tests.actions.seed import NOW, assignment, enqueue_for, lead, store_decided

from leadgate.actions import outbox
from leadgate.actions.dispatcher import Dispatcher
from leadgate.actions.planning import plan_actions
from leadgate.actions.ports import DestinationContext
from leadgate.audit.events import iter_events
from leadgate.db import store, write_lock
from leadgate.reps import load_reps

ROUTES = {"crm_upsert": ["crm"], "crm_task": ["crm"], "nurture": ["crm"]}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def crm() -> Iterator[tuple[str, CrmState]]:
    with crm_server() as server:
        yield server


_OPEN: list[Dispatcher] = []


@pytest.fixture(autouse=True)
def _close_dispatchers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def dispatcher(engine: Engine, url: str, clock: Clock, **kw) -> Dispatcher:  # type: ignore[no-untyped-def]
    context = DestinationContext(engine=engine, settings=None, timeout=kw.pop("timeout", 2.0))
    crm = HttpCrm(HttpCrm.Config(url=url), context)
    d = Dispatcher(
        engine,
        {"crm": crm},
        worker_id="test-worker",
        reps=load_reps(),
        clock=clock,
        timeout_seconds=context.timeout,
        **kw,
    )
    _OPEN.append(d)
    return d


def items(engine: Engine) -> list[outbox.OutboxItem]:
    with engine.connect() as conn:
        return sorted(outbox.list_items(conn, limit=10_000), key=lambda i: i.id)


def test_delivers_records_and_tasks_with_the_lead_read_at_send_time(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    decisions = store_decided(engine, range(3))
    actions = plan_actions(
        decisions, [assignment(d, "anna") for d in decisions], ROUTES, now=NOW, new_id=store.new_id
    )
    with write_lock(engine), engine.begin() as conn:
        outbox.enqueue(conn, actions)
    clock = Clock(NOW + timedelta(seconds=1))
    d = dispatcher(engine, url, clock)
    result = d.run_once(limit=20)
    assert result.claimed == 6 and result.counts == {"delivered": 6}
    assert len(state.records) == 6 and state.total_posts == 6
    upsert = state.records[actions[0].idempotency_key]
    assert upsert["email"] == lead(0).email  # decrypted from the store, never in the payload
    assert upsert["company"] == "Northwind Logistics" and upsert["tier"] == "hot"
    assert state.records[actions[1].idempotency_key]["owner"] == "anna.becker@example.com"
    rows = items(engine)
    assert {r.status for r in rows} == {"delivered"}
    assert sorted(r.external_id or "" for r in rows) == [f"rec_{n:06d}" for n in range(1, 7)]
    assert all(r.delivered_at == clock.at and r.claimed_by is None for r in rows)


def test_429_waits_at_least_retry_after_then_delivers_once(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    (action,) = enqueue_for(engine, store_decided(engine, range(1)), {"crm_upsert": ["crm"]})
    state.script.append(("429", 30))
    clock = Clock(NOW)
    d = dispatcher(engine, url, clock)
    assert d.run_once().counts == {"retry": 1}
    (row,) = items(engine)
    assert row.next_attempt_at is not None and row.next_attempt_at >= NOW + timedelta(seconds=30)
    assert row.last_error == "RetryableDeliveryError (HTTP 429): CRM answered 429"
    clock.advance(29)
    assert d.run_once().claimed == 0  # not before Retry-After
    clock.advance(2)
    assert d.run_once().counts == {"delivered": 1}
    assert state.posts[action.idempotency_key] == 2 and len(state.records) == 1
    (row,) = items(engine)
    assert (row.status, row.attempts, row.external_id) == ("delivered", 2, "rec_000001")


def test_server_error_and_timeout_are_retried_without_a_second_record(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    actions = enqueue_for(engine, store_decided(engine, range(2)), {"crm_upsert": ["crm"]})
    state.script.extend([("500",), ("hang", 1.2)])  # the hung request still creates its record, late
    clock = Clock(NOW)
    d = dispatcher(engine, url, clock, timeout=0.4)
    assert d.run_once().counts == {"retry": 2}
    errors = [r.last_error for r in items(engine)]
    assert errors[0] == "RetryableDeliveryError (HTTP 500): CRM answered 500"
    assert errors[1] == "RetryableDeliveryError: ReadTimeout talking to the CRM"
    time.sleep(1.0)  # the hung request finishes on the server
    assert len(state.records) == 1
    clock.advance(600)
    assert d.run_once().counts == {"delivered": 2}
    assert len(state.records) == 2
    assert [state.posts[a.idempotency_key] for a in actions] == [2, 2]


def test_400_is_dead_at_once_and_replay_delivers_exactly_once(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    (action,) = enqueue_for(engine, store_decided(engine, range(1)), {"crm_upsert": ["crm"]})
    state.script.append(("400",))
    clock = Clock(NOW)
    d = dispatcher(engine, url, clock)
    assert d.run_once().counts == {"dead": 1}
    (row,) = items(engine)
    assert row.status == "dead" and row.attempts == 1
    assert (
        row.last_error
        == "PermanentDeliveryError (HTTP 400): CRM refused the record: property 'lifecyclestage' is invalid"
    )
    with engine.connect() as conn:
        (dead,) = list(iter_events(conn, kind="delivery_dead"))
    assert dead["lead_id"] == action.lead_id and dead["data"]["destination"] == "crm"
    assert d.breakers["crm"].current_state != "open"  # a refused payload says nothing about the CRM
    with write_lock(engine), engine.begin() as conn:
        outbox.replay(conn, ids=[row.id], now=clock(), actor="cli:ops")
    assert d.run_once().counts == {"delivered": 1}
    # replaying a delivered row again: the CRM sees the same key and keeps one record
    with write_lock(engine), engine.begin() as conn:
        outbox.replay(conn, ids=[row.id], now=clock(), actor="cli:ops")
    assert d.run_once().counts == {"delivered": 1}
    assert state.posts[action.idempotency_key] == 3 and len(state.records) == 1


def test_consent_refusal_skips_with_the_reason(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    refused = store_decided(engine, range(2), action="nurture", tier="nurture", do_not_email=True)
    allowed = store_decided(
        engine, range(2, 3), action="nurture", tier="nurture", consent_email_marketing=True
    )
    enqueue_for(engine, refused + allowed, ROUTES)
    d = dispatcher(engine, url, Clock(NOW))
    assert d.run_once().counts == {"skipped": 2, "delivered": 1}
    rows = items(engine)
    assert [r.status for r in rows] == ["skipped", "skipped", "delivered"]
    assert rows[0].last_error == "skipped: the lead objected to email_marketing (import, 2026-12-02)"
    assert state.total_posts == 1


def test_an_action_for_a_lead_that_is_not_stored_is_dead_with_the_reason(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, _state = crm
    decisions = store_decided(engine, range(1))
    ghost = decisions[0].model_copy(update={"lead_id": "web-missing", "decision_id": "dec-ghost"})
    enqueue_for(engine, [ghost], {"nurture": ["crm"], "crm_upsert": ["crm"]})
    d = dispatcher(engine, url, Clock(NOW))
    assert d.run_once().counts == {"dead": 1}
    assert items(engine)[0].last_error == "cannot deliver: lead web-missing is not stored"


def test_an_erased_lead_is_skipped(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    url, state = crm
    enqueue_for(engine, store_decided(engine, range(1)), {"crm_upsert": ["crm"]})
    with write_lock(engine), engine.begin() as conn:
        conn.execute(
            update(store.LEADS)
            .where(store.LEADS.c.lead_id == "web-000000")
            .values(pii=None, tombstone_id="t-1")
        )
    assert dispatcher(engine, url, Clock(NOW)).run_once().counts == {"skipped": 1}
    assert items(engine)[0].last_error == "skipped: the lead's personal data was erased"
    assert state.total_posts == 0


def test_breaker_opens_stops_claiming_and_closes_after_a_trial(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    enqueue_for(engine, store_decided(engine, range(6)), {"crm_upsert": ["crm"]})
    state.down = True
    clock = Clock(NOW)
    d = dispatcher(engine, url, clock, breaker_fail_max=3, breaker_reset_seconds=0.8)
    first = d.run_once(limit=10)
    assert first.counts == {"retry": 3, "deferred": 3}
    assert d.open_destinations() == ["crm"]
    assert state.total_posts == 3
    assert sorted(r.attempts for r in items(engine)) == [0, 0, 0, 1, 1, 1]  # deferred rows: no attempt
    clock.advance(3600)
    assert d.run_once(limit=10).claimed == 0  # open: nothing claimed for it
    time.sleep(0.9)
    state.down = False
    assert d.open_destinations() == []
    assert d.run_once(limit=10).counts == {"delivered": 6}
    assert d.breakers["crm"].current_state == "closed"
    assert len(state.records) == 6 and state.total_posts == 9


def test_rate_limits_do_not_open_the_breaker(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    enqueue_for(engine, store_decided(engine, range(6)), {"crm_upsert": ["crm"]})
    state.script.extend([("429", 1)] * 5)  # a busy CRM throttles five calls in a row: it is up, not failing
    clock = Clock(NOW)
    d = dispatcher(engine, url, clock, breaker_fail_max=3, breaker_reset_seconds=60)
    first = d.run_once(limit=10)
    assert first.counts == {"retry": 5, "delivered": 1}
    assert d.open_destinations() == [] and d.breakers["crm"].current_state == "closed"
    clock.advance(2)
    assert d.run_once(limit=10).counts == {"delivered": 5}
    assert len(state.records) == 6


def test_stop_releases_the_rest_of_the_batch_unattempted(engine: Engine, crm) -> None:  # type: ignore[no-untyped-def]
    url, state = crm
    enqueue_for(engine, store_decided(engine, range(4)), {"crm_upsert": ["crm"]})
    stop = threading.Event()
    stop.set()
    d = dispatcher(engine, url, Clock(NOW))
    assert d.run_once(limit=10, stop=stop).counts == {"released": 4}
    assert [(r.status, r.attempts, r.claimed_by) for r in items(engine)] == [("pending", 0, None)] * 4
    assert state.total_posts == 0


def test_every_outcome_is_a_structured_log_record_without_personal_data(
    engine: Engine, crm, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    import logging

    url, state = crm
    actions = enqueue_for(engine, store_decided(engine, range(2)), {"crm_upsert": ["crm"]})
    state.script.append(("400",))
    with caplog.at_level(logging.INFO, logger="leadgate.actions.dispatcher"):
        dispatcher(engine, url, Clock(NOW)).run_once()
    records = [r for r in caplog.records if r.name == "leadgate.actions.dispatcher"]
    assert [(r.getMessage(), r.levelname) for r in records] == [
        ("delivery dead", "WARNING"),
        ("delivery delivered", "INFO"),
    ]
    dead, ok = records
    assert (dead.action_id, dead.lead_id, dead.destination, dead.kind, dead.attempt) == (  # type: ignore[attr-defined]
        actions[0].action_id,
        actions[0].lead_id,
        "crm",
        "crm_upsert",
        1,
    )
    assert ok.external_id == "rec_000001" and ok.detail == {"status": 201}  # type: ignore[attr-defined]
    text = " ".join(str(r.__dict__) for r in records)
    assert lead(0).email not in text and lead(1).email not in text and "Souza" not in text
