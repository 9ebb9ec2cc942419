"""The outbox on SQLite and PostgreSQL: idempotent enqueue, leases, backoff, dead letters, replay."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from tests.actions.seed import NOW, enqueue_for, store_decided

from leadgate.actions import outbox
from leadgate.actions.outbox import OUTBOX, OutboxError, RetryPolicy
from leadgate.audit.events import iter_events, verify_events
from leadgate.db import make_engine, write_lock

ROUTES = {"crm_upsert": ["crm"], "crm_task": ["crm"]}
LEASE = timedelta(seconds=30)


def count(engine: Engine, status: str | None = None) -> int:
    query = select(func.count()).select_from(OUTBOX)
    if status:
        query = query.where(OUTBOX.c.status == status)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def claim(engine: Engine, worker: str, limit: int, at=NOW, **kw):  # type: ignore[no-untyped-def]
    with write_lock(engine), engine.begin() as conn:
        return outbox.claim(conn, worker, limit, at, LEASE, **kw)


def test_enqueue_is_idempotent_on_destination_and_key(engine: Engine) -> None:
    decisions = store_decided(engine, range(5))
    first = enqueue_for(engine, decisions, ROUTES)
    again = enqueue_for(engine, decisions, ROUTES)  # planned again: new action ids, same keys
    assert len(first) == len(again) == 5
    assert count(engine) == 5
    with engine.connect() as conn:
        stored = {i.action.action_id for i in outbox.list_items(conn)}
    assert stored == {a.action_id for a in first}


def test_claim_leases_rows_once_until_the_lease_runs_out(engine: Engine) -> None:
    enqueue_for(engine, store_decided(engine, range(7)), ROUTES)
    a = claim(engine, "w-a", 5)
    b = claim(engine, "w-b", 5)
    assert len(a) == 5 and len(b) == 2
    assert {i.id for i in a}.isdisjoint({i.id for i in b})
    assert all(i.attempts == 1 and i.claimed_by == "w-a" for i in a)
    assert claim(engine, "w-c", 5) == []
    later = claim(engine, "w-c", 10, at=NOW + LEASE + timedelta(seconds=1))  # w-a and w-b "died"
    assert sorted(i.id for i in later) == sorted(i.id for i in a + b)
    assert all(i.attempts == 2 for i in later)


def test_claim_skips_rows_not_yet_due_and_excluded_destinations(engine: Engine) -> None:
    decisions = store_decided(engine, range(2))
    enqueue_for(engine, decisions[:1], {"crm_upsert": ["crm"]})
    enqueue_for(engine, decisions[1:], {"crm_upsert": ["slow_crm"]})
    assert claim(engine, "w", 10, at=NOW - timedelta(seconds=1)) == []
    got = claim(engine, "w", 10, exclude_destinations=["slow_crm"])
    assert [i.action.destination for i in got] == ["crm"]
    assert claim(engine, "w", 10, only_destinations=["crm"]) == []


def test_backoff_is_full_jitter_and_honours_retry_after(engine: Engine) -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1.0, max_backoff_seconds=60.0)
    delays = [policy.delay(4) for _ in range(400)]
    assert min(delays) >= 0.0 and max(delays) <= 8.0  # uniform(0, min(60, 1 * 2**(4 - 1)))
    assert max(delays) > 6.0 and min(delays) < 2.0  # spread across the window, not a fixed wait
    assert all(policy.delay(1, retry_after=42.0) >= 42.0 for _ in range(20))
    assert policy.delay(1, retry_after=10**9) <= policy.max_retry_after_seconds
    assert max(policy.delay(30) for _ in range(200)) <= 60.0

    enqueue_for(engine, store_decided(engine, range(1)), ROUTES)
    (item,) = claim(engine, "w", 1)
    with write_lock(engine), engine.begin() as conn:
        state = outbox.mark_failed(conn, item, "w", "CRM answered 429", NOW, policy, retry_after=120)
    assert state == "pending"
    with engine.connect() as conn:
        row = outbox.get_item(conn, item.id)
    assert row.next_attempt_at is not None and row.next_attempt_at >= NOW + timedelta(seconds=120)
    assert row.claimed_by is None and row.last_error == "CRM answered 429" and row.attempts == 1
    assert claim(engine, "w", 1, at=NOW + timedelta(seconds=119)) == []
    assert len(claim(engine, "w", 1, at=NOW + timedelta(seconds=121))) == 1


def test_dead_after_max_attempts_or_at_once_when_permanent(engine: Engine) -> None:
    policy = RetryPolicy(max_attempts=2, base_seconds=0.001, max_backoff_seconds=0.001)
    enqueue_for(engine, store_decided(engine, range(2)), ROUTES)
    first, second = claim(engine, "w", 2)
    with write_lock(engine), engine.begin() as conn:
        assert (
            outbox.mark_failed(conn, first, "w", "HTTP 400: bad email", NOW, policy, permanent=True) == "dead"
        )
        assert outbox.mark_failed(conn, second, "w", "CRM answered 503", NOW, policy) == "pending"
    (again,) = claim(engine, "w", 2, at=NOW + timedelta(seconds=1))
    assert again.id == second.id and again.attempts == 2
    with write_lock(engine), engine.begin() as conn:
        assert outbox.mark_failed(conn, again, "w", "CRM answered 503", NOW, policy) == "dead"
    assert count(engine, "dead") == 2
    with engine.connect() as conn:
        events = list(iter_events(conn, kind="delivery_dead"))
        dead = outbox.get_item(conn, second.id)
    assert verify_events(engine) == (2, None)
    assert [e["lead_id"] for e in events] == [first.action.lead_id, second.action.lead_id]
    assert events[0]["reason"] == "HTTP 400: bad email"
    assert events[1]["reason"] == "gave up after 2 attempts: CRM answered 503"
    assert events[1]["data"]["action_id"] == second.action.action_id
    assert dead.last_error == "gave up after 2 attempts: CRM answered 503"


def test_a_late_worker_cannot_overwrite_a_row_another_worker_took(engine: Engine) -> None:
    enqueue_for(engine, store_decided(engine, range(1)), ROUTES)
    (mine,) = claim(engine, "w-slow", 1)
    (theirs,) = claim(engine, "w-fast", 1, at=NOW + LEASE + timedelta(seconds=1))
    with write_lock(engine), engine.begin() as conn:
        assert outbox.mark_failed(conn, mine, "w-slow", "timeout", NOW, RetryPolicy()) == "lost"
        assert outbox.mark_delivered(conn, theirs, "w-fast", NOW, "rec_1")
        assert not outbox.mark_delivered(conn, mine, "w-slow", NOW, "rec_1")  # already delivered


def test_release_and_replay(engine: Engine) -> None:
    enqueue_for(engine, store_decided(engine, range(3)), ROUTES)
    a, b, c = claim(engine, "w", 3)
    with write_lock(engine), engine.begin() as conn:
        assert outbox.release(conn, "w", [c.id]) == 1
        outbox.mark_dead(conn, a, "w", "HTTP 404: owner not found", NOW)
        outbox.mark_delivered(conn, b, "w", NOW, "rec_7")
    with engine.connect() as conn:
        assert outbox.get_item(conn, c.id).attempts == 0  # released unattempted
        assert outbox.get_item(conn, a.action.action_id).status == "dead"
    with write_lock(engine), engine.begin() as conn, pytest.raises(OutboxError, match="still pending"):
        outbox.replay(conn, ids=[c.id], now=NOW, actor="cli:ops")
    with write_lock(engine), engine.begin() as conn, pytest.raises(OutboxError, match="does not exist"):
        outbox.replay(conn, ids=[999_999], now=NOW, actor="cli:ops")
    later = NOW + timedelta(minutes=5)
    with write_lock(engine), engine.begin() as conn:
        assert outbox.replay(conn, all_dead=True, now=later, actor="cli:ops") == [a.id]
    with engine.connect() as conn:
        row = outbox.get_item(conn, a.id)
        (event,) = list(iter_events(conn, kind="delivery_replayed"))
        counts = outbox.status_counts(conn)
    assert (row.status, row.attempts, row.action.idempotency_key) == ("pending", 0, a.action.idempotency_key)
    assert event["actor"] == "cli:ops" and event["reason"] == "replayed from dead"
    assert counts == {"pending": 2, "delivered": 1, "dead": 0, "skipped": 0}


def test_concurrent_claims_never_share_a_row(db_url: str) -> None:
    """8 threads, each with its own engine (as separate processes would have), claim in small batches."""
    setup = make_engine(db_url)
    enqueue_for(setup, store_decided(setup, range(300)), {"crm_upsert": ["crm"]})
    setup.dispose()
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        eng = make_engine(db_url)
        mine: list[int] = []
        try:
            while True:
                batch = claim(eng, name, 7)
                if not batch:
                    break
                mine += [i.id for i in batch]
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            eng.dispose()
            got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == 300 and len(set(claimed)) == 300
    assert sum(1 for ids in got.values() if ids) >= 2  # really concurrent, not one thread taking all


def test_actions_commit_with_their_decision_or_not_at_all(engine: Engine) -> None:
    from tests.actions.seed import assignment, decision_row, lead

    from leadgate.actions.act import enqueue_decided
    from leadgate.audit.log import store_decisions
    from leadgate.db import store
    from leadgate.db.rows import decision_from_row, lead_row

    def decide(i: int, fail: bool) -> None:
        person = lead(i)
        row = decision_row(person.lead_id, i, "route_to_sales", "hot")
        stored = lead_row(person, None)
        stored["latest_decision_id"] = row["decision_id"]
        decision = decision_from_row(dict(row), None)
        with write_lock(engine), engine.begin() as conn:
            store.lock_chain(conn)
            store.write_leads(conn, [stored])
            store_decisions(conn, [row], {})
            enqueue_decided(conn, [decision], [assignment(decision)], ROUTES, now=NOW)
            if fail:
                raise RuntimeError("the request failed after the decision was written")

    with pytest.raises(RuntimeError):
        decide(1, fail=True)
    assert count(engine) == 0
    decide(2, fail=False)
    with engine.connect() as conn:
        kinds = sorted(i.action.kind for i in outbox.list_items(conn))
        assert store.latest_decision(conn, "web-000002") is not None
        assert store.latest_decision(conn, "web-000001") is None
    assert kinds == ["crm_task", "crm_upsert"]
