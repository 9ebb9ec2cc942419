"""ConversationStore on SQLite and PostgreSQL: gap-free seq, idempotency index, stale writers, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from leadgate.chat.store import (
    ASSISTANT,
    STAFF,
    VISITOR,
    ConversationStore,
    NewEvent,
    hash_token,
    new_token,
    token_matches,
)

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
STORE = ConversationStore()


def create(engine: Engine, cid: str, status: str = "active", at: datetime = NOW) -> None:
    with engine.begin() as conn:
        STORE.create(
            conn,
            conversation_id=cid,
            token_hash=hash_token("t-" + cid),
            visitor_id=None,
            status=status,
            flow_version="test@1",
            state='{"slots": {"company": "Acme"}}',
            timezone="UTC",
            now=at,
        )


def test_tokens_are_random_and_stored_hashed() -> None:
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 43
    assert hash_token(a) != a and len(hash_token(a)) == 64
    assert token_matches(a, hash_token(a))
    assert not token_matches(b, hash_token(a))
    assert not token_matches(None, hash_token(a))


def test_append_numbers_events_without_gaps(engine: Engine) -> None:
    create(engine, "c1")
    with engine.begin() as conn:
        conv = STORE.lock(conn, "c1")
        assert conv is not None and conv.last_seq == 0
        conv, first = STORE.append(
            conn, conv, [NewEvent(VISITOR, {"text": "hi"}, client_message_id="m1")], NOW
        )
        conv, more = STORE.append(
            conn,
            conv,
            [NewEvent(ASSISTANT, {"text": "hello"}, reply_to=1), NewEvent(STAFF, {"text": "hey"})],
            NOW + timedelta(seconds=1),
        )
    assert [e.seq for e in first + more] == [1, 2, 3] and conv.last_seq == 3
    with engine.connect() as conn:
        stored = STORE.get(conn, "c1")
        assert stored is not None and stored.last_seq == 3 and stored.created_at == NOW
        assert [e.seq for e in STORE.events(conn, "c1", after_seq=1)] == [2, 3]
        assert [e.kind for e in STORE.events(conn, "c1", kinds=[STAFF])] == [STAFF]
        assert STORE.client_message(conn, "c1", "m1") == first[0]
        assert STORE.client_message(conn, "c1", "m2") is None
        assert [e.payload for e in STORE.replies_to(conn, "c1", 1)] == [{"text": "hello"}]
        last = STORE.last_message(conn, "c1")
        assert last is not None and last.seq == 3 and last.created_at == NOW + timedelta(seconds=1)


def test_duplicate_client_message_and_stale_writer_are_refused(engine: Engine) -> None:
    create(engine, "c1")
    with engine.begin() as conn:
        conv = STORE.lock(conn, "c1")
        assert conv is not None
        STORE.append(conn, conv, [NewEvent(VISITOR, {"text": "hi"}, client_message_id="m1")], NOW)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conv = STORE.lock(conn, "c1")
        assert conv is not None
        STORE.append(conn, conv, [NewEvent(VISITOR, {"text": "again"}, client_message_id="m1")], NOW)
    # a writer holding an old copy (last_seq 0) collides on seq 1 instead of leaving a gap
    with engine.connect() as conn:
        stale = STORE.get(conn, "c1")
    assert stale is not None
    with engine.begin() as conn:
        conv = STORE.lock(conn, "c1")
        assert conv is not None
        STORE.append(conn, conv, [NewEvent(STAFF, {"text": "x"})], NOW)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        STORE.append(conn, stale, [NewEvent(STAFF, {"text": "y"})], NOW)
    with engine.connect() as conn:
        assert [e.seq for e in STORE.events(conn, "c1")] == [1, 2]


def test_stale_writer_past_the_last_seq_is_refused(engine: Engine) -> None:
    create(engine, "c1")
    with engine.begin() as conn:
        conv = STORE.lock(conn, "c1")
        assert conv is not None
        STORE.append(conn, conv, [NewEvent(STAFF, {"text": "x"})], NOW)
    with engine.begin() as conn:
        conv = STORE.lock(conn, "c1")
        assert conv is not None
        STORE.update(conn, "c1", NOW, last_seq=5)
    with pytest.raises(RuntimeError, match="without holding its lock"), engine.begin() as conn:
        STORE.append(conn, conv, [NewEvent(STAFF, {"text": "y"})], NOW)


def test_handoff_queue_is_oldest_handoff_first(engine: Engine) -> None:
    for cid in ("a", "b", "c", "d"):
        create(engine, cid)
    with engine.begin() as conn:
        STORE.update(conn, "a", NOW, status="handoff", handoff_at=NOW + timedelta(minutes=5))
        STORE.update(conn, "b", NOW, status="handoff", handoff_at=NOW + timedelta(minutes=1))
        STORE.update(conn, "c", NOW, status="closed", handoff_at=NOW)
    with engine.connect() as conn:
        queue = STORE.handoff_queue(conn)
        assert [c.conversation_id for c in queue] == ["b", "a"]
        assert queue[0].handoff_at == NOW + timedelta(minutes=1)
        assert [c.conversation_id for c in STORE.handoff_queue(conn, limit=1)] == ["b"]
