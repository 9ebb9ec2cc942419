"""ChatService on SQLite and PostgreSQL: persistence, resume, idempotency, failure recovery, ordering under
concurrency, restart, handoff and staff replies."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from tests.chat.echo_assistant import EchoAssistant, EchoState

from leadgate.chat.service import (
    AssistantFailed,
    ChatService,
    ConversationClosed,
    ConversationNotFound,
)
from leadgate.chat.store import CONVERSATIONS, EVENTS, ConversationStore
from leadgate.db import make_engine, write_lock
from leadgate.db.store import DEAD
from leadgate.privacy.crypto import aad, keyring

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def service(engine: Engine, assistant: EchoAssistant | None = None) -> ChatService[EchoState]:
    return ChatService(engine, assistant or EchoAssistant(), EchoState.model_validate_json)


def rows(engine: Engine, conversation_id: str) -> list[dict]:
    """The stored events of a conversation in seq order, each ``payload`` decrypted (JSON text)."""
    ring = keyring(engine)
    with engine.connect() as conn:
        found = [
            dict(r)
            for r in conn.execute(
                select(EVENTS).where(EVENTS.c.conversation_id == conversation_id).order_by(EVENTS.c.seq)
            ).mappings()
        ]
    for r in found:
        bound = aad("conversation_events", "payload", f"{conversation_id}:{r['seq']}")
        r["payload"] = ring.decrypt_text(r["payload"], bound)
    return found


def state_of(engine: Engine, conversation_id: str) -> EchoState:
    with engine.connect() as conn:
        conv = ConversationStore().get(conn, conversation_id)
    assert conv is not None
    return EchoState.model_validate_json(conv.state)


def test_open_stores_greeting_and_resumes_with_token(engine: Engine) -> None:
    chat = service(engine)
    opened = chat.open("Europe/Berlin", visitor_id="v-1", now=NOW)
    assert opened.status == "active"
    assert [m.text for m in opened.messages] == ["Hi! Which company are you with?"]
    assert [(r["seq"], r["kind"]) for r in rows(engine, opened.conversation_id)] == [
        (1, "flow_event"),
        (2, "assistant_message"),
    ]
    with engine.connect() as conn:
        conv = ConversationStore().get(conn, opened.conversation_id)
    assert conv is not None and conv.token_hash != opened.token and len(conv.token_hash) == 64
    assert conv.timezone == "Europe/Berlin" and conv.visitor_id == "v-1" and conv.flow_version == "chat/v1"

    # a "reload": a new service object with only the id and the token
    again = service(engine).transcript(opened.conversation_id, opened.token)
    assert again.messages == opened.messages
    assert again.status == "active" and again.last_seq == 2

    other = chat.open("UTC", now=NOW)
    for token in (None, "", "wrong", other.token):
        with pytest.raises(ConversationNotFound):
            chat.transcript(opened.conversation_id, token)
    with pytest.raises(ConversationNotFound):
        chat.transcript("0193c1a2-0000-7000-8000-00000000dead", opened.token)
    with pytest.raises(ValueError, match="unknown time zone"):
        chat.open("Mars/Olympus")


def test_post_stores_message_events_replies_and_state(engine: Engine) -> None:
    chat = service(engine)
    opened = chat.open("UTC", now=NOW)
    result = chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW)
    assert not result.duplicate and result.status == "active"
    assert result.message.role == "visitor" and result.message.text == "Acme"
    assert result.message.client_message_id == "c-1" and result.message.seq == 3
    assert [(m.seq, m.role, m.text) for m in result.replies] == [
        (5, "assistant", "#1 you said: Acme"),
        (6, "assistant", "#1 anything else?"),
    ]
    assert result.replies[1].kind == "answer" and result.replies[1].citations[0].source == "faq.md"
    stored = rows(engine, opened.conversation_id)
    assert [r["seq"] for r in stored] == list(range(1, 7))
    kinds = ["visitor_message", "flow_event", "assistant_message", "assistant_message"]
    assert [r["kind"] for r in stored[2:]] == kinds
    assert [r["reply_to"] for r in stored[2:]] == [None, 3, 3, 3]
    state = state_of(engine, opened.conversation_id)
    assert state.turns == 1 and state.slots["company"] == "Acme"
    # what a later read returns is what the post returned
    transcript = chat.transcript(opened.conversation_id, opened.token, after_seq=2)
    assert transcript.messages == [result.message, *result.replies]


def test_resend_with_same_client_message_id_is_stored_once(engine: Engine) -> None:
    assistant = EchoAssistant()
    chat = service(engine, assistant)
    opened = chat.open("UTC", now=NOW)
    first = chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW)
    before = rows(engine, opened.conversation_id)
    again = chat.post(opened.conversation_id, opened.token, "c-1", "Acme (resent)", now=NOW)
    assert again.duplicate
    assert again.message == first.message and again.replies == first.replies
    assert rows(engine, opened.conversation_id) == before
    assert assistant.calls == ["Acme"]
    # a new id is a new message
    second = chat.post(opened.conversation_id, opened.token, "c-2", "Acme", now=NOW)
    assert not second.duplicate and second.replies[0].text == "#2 you said: Acme"
    # the same client id in another conversation is another message
    other = chat.open("UTC", now=NOW)
    assert not chat.post(other.conversation_id, other.token, "c-1", "Beta", now=NOW).duplicate
    with pytest.raises(ConversationNotFound):
        chat.post(opened.conversation_id, other.token, "c-9", "hijack", now=NOW)


def test_assistant_failure_keeps_message_and_resend_processes_it(engine: Engine) -> None:
    assistant = EchoAssistant(fail_once={"Acme"})
    chat = service(engine, assistant)
    opened = chat.open("UTC", now=NOW)
    with pytest.raises(AssistantFailed) as failed:
        chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW)
    assert isinstance(failed.value.__cause__, RuntimeError)
    stored = rows(engine, opened.conversation_id)
    assert [(r["kind"], r["client_message_id"]) for r in stored[2:]] == [("visitor_message", "c-1")]
    with engine.connect() as conn:
        pending = conn.execute(
            select(CONVERSATIONS.c.pending_seq).where(
                CONVERSATIONS.c.conversation_id == opened.conversation_id
            )
        ).scalar_one()
    assert pending == 3

    result = chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW)
    assert not result.duplicate and result.message.seq == 3
    assert [m.text for m in result.replies] == ["#1 you said: Acme", "#1 anything else?"]
    assert assistant.calls == ["Acme", "Acme"]
    stored = rows(engine, opened.conversation_id)
    assert [r["kind"] for r in stored].count("visitor_message") == 1
    assert [r["seq"] for r in stored] == list(range(1, 7))
    assert chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW).duplicate


def test_pending_message_is_answered_before_the_next_one(engine: Engine) -> None:
    chat = service(engine, EchoAssistant(fail_once={"first"}))
    opened = chat.open("UTC", now=NOW)
    with pytest.raises(AssistantFailed):
        chat.post(opened.conversation_id, opened.token, "c-1", "first", now=NOW)
    result = chat.post(opened.conversation_id, opened.token, "c-2", "second", now=NOW)
    assert [m.text for m in result.replies] == ["#2 you said: second", "#2 anything else?"]
    messages = chat.transcript(opened.conversation_id, opened.token, after_seq=2).messages
    assert [(m.role, m.text) for m in messages] == [
        ("visitor", "first"),
        ("assistant", "#1 you said: first"),
        ("assistant", "#1 anything else?"),
        ("visitor", "second"),
        ("assistant", "#2 you said: second"),
        ("assistant", "#2 anything else?"),
    ]
    earlier = chat.post(opened.conversation_id, opened.token, "c-1", "first", now=NOW)
    assert earlier.duplicate and earlier.replies == messages[1:3]


def test_concurrent_posts_to_one_conversation_are_processed_in_order(engine: Engine) -> None:
    chat = service(engine, EchoAssistant(delay_s=0.02))
    opened = chat.open("UTC", now=NOW)
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def send(i: int) -> None:
        try:
            barrier.wait()
            chat.post(opened.conversation_id, opened.token, f"c-{i}", f"message {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert state_of(engine, opened.conversation_id).turns == 10

    stored = rows(engine, opened.conversation_id)
    assert [r["seq"] for r in stored] == list(range(1, len(stored) + 1))
    visitor = [r for r in stored if r["kind"] == "visitor_message"]
    assert sorted(r["client_message_id"] for r in visitor) == sorted(f"c-{i}" for i in range(10))
    # each visitor message is followed by exactly its own turn: a flow event and two replies
    for turn, message in enumerate(visitor, start=1):
        after = stored[message["seq"] : message["seq"] + 3]
        assert [r["reply_to"] for r in after] == [message["seq"]] * 3
        assert [r["kind"] for r in after] == ["flow_event", "assistant_message", "assistant_message"]
        text = message["payload"].split('"text":"')[1].split('"')[0]
        assert f'"#{turn} you said: {text}"' in after[1]["payload"]
    assert len(stored) == 2 + 10 * 4


def test_restart_loses_nothing_and_the_conversation_continues(db_url: str) -> None:
    first = make_engine(db_url)
    chat = service(first)
    opened = chat.open("UTC", now=NOW)
    posted = chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW)
    before = chat.transcript(opened.conversation_id, opened.token)
    first.dispose()

    second = make_engine(db_url)
    try:
        restarted = service(second)  # a new process: new engine, new assistant object
        after = restarted.transcript(opened.conversation_id, opened.token)
        assert after == before
        assert after.messages[-2:] == posted.replies
        assert restarted.post(opened.conversation_id, opened.token, "c-1", "Acme").duplicate
        more = restarted.post(opened.conversation_id, opened.token, "c-2", "and more")
        assert more.replies[0].text == "#2 you said: and more"
        assert state_of(second, opened.conversation_id).slots["company"] == "Acme"
    finally:
        second.dispose()


def test_handoff_queue_staff_reply_and_close(engine: Engine) -> None:
    chat = service(engine)
    waiting = chat.open("Europe/Berlin", visitor_id="v-7", now=NOW)
    chat.post(waiting.conversation_id, waiting.token, "c-1", "Acme", now=NOW)
    chat.post(waiting.conversation_id, waiting.token, "c-2", "qualify", now=NOW)
    handed = chat.post(waiting.conversation_id, waiting.token, "c-3", "human", now=NOW)
    assert handed.status == "handoff" and handed.replies[0].kind == "handoff"
    busy = chat.open("UTC", now=NOW)
    chat.post(busy.conversation_id, busy.token, "c-1", "just browsing", now=NOW)
    later = chat.open("UTC", now=NOW)
    chat.post(
        later.conversation_id, later.token, "c-1", "human", now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    )

    queue = chat.handoffs()
    assert [h.conversation_id for h in queue] == [waiting.conversation_id, later.conversation_id]
    head = queue[0]
    assert head.handoff_reason == "visitor asked for a person" and head.handoff_at == NOW
    assert head.slots == {"last": "human", "company": "Acme"}
    assert head.lead_id == "chat-2" and head.decision_id == "0193c1a2-0000-7000-8000-000000000001"
    assert head.last_message is not None and head.last_message.text == "A colleague will take over."
    assert head.visitor_id == "v-7" and head.timezone == "Europe/Berlin"

    with pytest.raises(ConversationNotFound):
        chat.staff_post(busy.conversation_id, "hello", "anna")
    staff = chat.staff_post(waiting.conversation_id, "Hi, Anna here.", "anna", now=NOW)
    assert staff.role == "staff" and staff.data == {"staff_id": "anna"}
    seen = chat.transcript(waiting.conversation_id, waiting.token, after_seq=handed.replies[-1].seq)
    assert [(m.role, m.text, m.data) for m in seen.messages] == [("staff", "Hi, Anna here.", {})]
    assert seen.status == "handoff"

    detail = chat.handoff(waiting.conversation_id)
    assert [m.role for m in detail.messages] == ["assistant"] + ["visitor", "assistant", "assistant"] * 2 + [
        "visitor",
        "assistant",
        "staff",
    ]
    handoff_event = next(e for e in detail.events if e["kind"] == "status_change")
    assert handoff_event["data"] == {
        "status": "handoff",
        "reason": "visitor asked for a person",
        "by": "assistant",
    }

    assert chat.close(waiting.conversation_id, "anna") == "closed"
    assert chat.close(waiting.conversation_id, "anna") == "closed"
    assert [h.conversation_id for h in chat.handoffs()] == [later.conversation_id]
    with pytest.raises(ConversationClosed):
        chat.post(waiting.conversation_id, waiting.token, "c-4", "hello?")
    with pytest.raises(ConversationClosed):
        chat.staff_post(waiting.conversation_id, "bye", "anna")
    assert chat.handoff(waiting.conversation_id).status == "closed"
    statuses = [
        e["data"]["status"]
        for e in chat.handoff(waiting.conversation_id).events
        if e["kind"] == "status_change"
    ]
    assert statuses == ["handoff", "closed"]
    with pytest.raises(ConversationNotFound):
        chat.handoff(busy.conversation_id)


class WritingAssistant(EchoAssistant):
    """Writes to the same database on its own connection during a turn, as the real assistant's qualifier
    (``db.write_lock`` + a transaction) and scheduler (a row referencing the conversation) do."""

    def __init__(self, engine: Engine):
        super().__init__()
        self.engine = engine

    def handle(self, state: EchoState, text: str, *, now: datetime, option_id: str | None = None) -> Any:
        lock = write_lock(self.engine)
        if not lock.acquire(timeout=10):  # a service holding the writer lock through the turn would deadlock
            raise RuntimeError("the database writer lock is held during the turn")
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                    # what an insert with a foreign key to the conversation takes on the row
                    conn.execute(
                        select(CONVERSATIONS.c.id)
                        .where(CONVERSATIONS.c.conversation_id == state.slots.get("cid", ""))
                        .with_for_update(read=True, key_share=True)
                    )
                conn.execute(
                    insert(DEAD).values(
                        source="test",
                        dedupe_key=f"turn-{state.turns}-{text}",
                        record="{}",
                        reason="written during a turn",
                        errors="[]",
                        created_at=now,
                    )
                )
        finally:
            lock.release()
        return super().handle(state, text, now=now, option_id=option_id)


def test_the_assistant_can_write_to_the_database_during_a_turn(engine: Engine) -> None:
    chat = service(engine, WritingAssistant(engine))
    opened = chat.open("UTC", now=NOW)
    with engine.begin() as conn:  # let the assistant know its conversation id
        conv = ConversationStore().get(conn, opened.conversation_id)
        assert conv is not None
        state = EchoState.model_validate_json(conv.state)
        state.slots["cid"] = opened.conversation_id
        ConversationStore().update(conn, opened.conversation_id, NOW, state=state.model_dump_json())
    result = chat.post(opened.conversation_id, opened.token, "c-1", "Acme", now=NOW)
    assert result.replies[0].text == "#1 you said: Acme"
    with engine.connect() as conn:
        assert conn.execute(select(DEAD.c.dedupe_key).where(DEAD.c.source == "test")).scalars().all() == [
            "turn-0-Acme"
        ]
