"""The real dialogue engine behind ChatService, on SQLite and PostgreSQL: the engine returns commands and
never calls the qualifier or the scheduler; no conversation lock is held while the language model runs or
while the commands are carried out; a turn answered meanwhile by another process is discarded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.chat.flow_support import FixedScheduler, SlotRuleQualifier, TwoPassageKb

from leadgate.chat.commands import MAX_COMMANDS, CommandLoopError, CommandRunner, carry_out
from leadgate.chat.flows import Assistant, ConversationState, load_default_flow
from leadgate.chat.nlu import NLU
from leadgate.chat.ports import Book, BookingResult, ChatDecision, LlmSlots, OfferSlots, Qualify
from leadgate.chat.service import ChatService
from leadgate.chat.store import CONVERSATIONS, ConversationStore
from leadgate.chat.transactions import write_transaction
from leadgate.db import write_lock

NOW = datetime(2026, 5, 14, 8, 0, tzinfo=UTC)
SLOTS = tuple(datetime(2026, 5, day, 8, 0, tzinfo=UTC) for day in (18, 19, 20))
BUYER = "I'm Dana Lee, CTO at Acme Corp, dana@acme.com, 400 employees, budget 50k USD, by Q3"


def lock_is_free(engine: Engine, conversation_id: str) -> bool:
    """Whether another writer could take the conversation right now (no row lock, no writer lock held)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            try:
                conn.execute(
                    select(CONVERSATIONS.c.id)
                    .where(CONVERSATIONS.c.conversation_id == conversation_id)
                    .with_for_update(nowait=True)
                ).all()
            except Exception:
                return False
            return True
    lock = write_lock(engine)
    if not lock.acquire(blocking=False):
        return False
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout = 0")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.rollback()
        return True
    except Exception:
        return False
    finally:
        lock.release()


@dataclass
class LockCheckingLlm:
    """A language model that checks, on every call, that the conversation can be locked by someone else."""

    engine: Engine
    conversation_id: str = ""
    checks: list[bool] = field(default_factory=list)

    def extract_slots(self, text: str, *, slot_names: list[str], now: datetime) -> LlmSlots | None:
        self.checks.append(lock_is_free(self.engine, self.conversation_id))
        return None

    def phrase(self, draft: str, *, facts: list[str]) -> str | None:
        self.checks.append(lock_is_free(self.engine, self.conversation_id))
        return None


@dataclass
class CheckingQualifier(SlotRuleQualifier):
    """Decides like SlotRuleQualifier, after checking that no conversation lock is held."""

    engine: Engine | None = None
    conversation_id: str = ""
    checks: list[bool] = field(default_factory=list)

    def qualify(
        self, *, conversation_id: str, slots: dict[str, Any], now: datetime, notes: Sequence[str] = ()
    ) -> ChatDecision:
        assert self.engine is not None
        self.checks.append(lock_is_free(self.engine, conversation_id))
        return super().qualify(conversation_id=conversation_id, slots=slots, now=now)


def test_no_lock_is_held_while_the_llm_runs_or_the_commands_are_carried_out(engine: Engine, nlu: NLU) -> None:
    llm = LockCheckingLlm(engine)
    qualifier = CheckingQualifier(engine=engine)
    scheduler = FixedScheduler(SLOTS)
    assistant = Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu, llm=llm)
    chat = ChatService(
        engine,
        assistant,
        ConversationState.model_validate_json,
        commands=CommandRunner(qualifier=qualifier, scheduler=scheduler),
    )
    opened = chat.open("Europe/Berlin", now=NOW)
    llm.conversation_id = opened.conversation_id
    # the probe sees a held lock (so its True answers below mean something)
    with write_transaction(engine) as conn:
        ConversationStore().lock(conn, opened.conversation_id)
        assert not lock_is_free(engine, opened.conversation_id)
    assert lock_is_free(engine, opened.conversation_id)
    for i, message in enumerate([BUYER, "automate lead qualification", "skip", "yes"]):
        result = chat.post(opened.conversation_id, opened.token, f"c-{i}", message, now=NOW)
    assert [r.kind for r in result.replies] == ["text", "offer"]
    picked = chat.post(
        opened.conversation_id, opened.token, "c-pick", "x", result.replies[-1].options[0]["id"], now=NOW
    )
    assert [r.kind for r in picked.replies] == ["booked"] and len(scheduler.bookings) == 1
    assert len(llm.checks) >= 8 and all(llm.checks), llm.checks
    assert qualifier.checks == [True]


class RaisingQualifier(SlotRuleQualifier):
    """Fails the test if called while the engine's ``handle`` or ``resume`` runs."""

    inside = False

    def qualify(
        self, *, conversation_id: str, slots: dict[str, Any], now: datetime, notes: Sequence[str] = ()
    ) -> ChatDecision:
        if RaisingQualifier.inside:
            raise AssertionError("the qualifier was called from inside the engine")
        return super().qualify(conversation_id=conversation_id, slots=slots, now=now)


class RaisingScheduler(FixedScheduler):
    """Fails the test if called while the engine runs."""

    def offer_slots(self, **kwargs: Any) -> Any:
        if RaisingQualifier.inside:
            raise AssertionError("the scheduler was called from inside the engine")
        return super().offer_slots(**kwargs)

    def book(self, offer: Any, **kwargs: Any) -> Any:
        if RaisingQualifier.inside:
            raise AssertionError("the scheduler was called from inside the engine")
        return super().book(offer, **kwargs)


@contextlib.contextmanager
def inside() -> Iterator[None]:
    RaisingQualifier.inside = True
    try:
        yield
    finally:
        RaisingQualifier.inside = False


class GuardedAssistant(Assistant):
    def handle(self, *args: Any, **kwargs: Any) -> Any:
        with inside():
            return super().handle(*args, **kwargs)

    def resume(self, *args: Any, **kwargs: Any) -> Any:
        with inside():
            return super().resume(*args, **kwargs)


def test_the_engine_returns_commands_and_never_calls_the_collaborators(nlu: NLU) -> None:
    with pytest.raises(TypeError):
        Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu, qualifier=SlotRuleQualifier())  # type: ignore[call-arg]
    assistant = GuardedAssistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu)
    qualifier, scheduler = RaisingQualifier(), RaisingScheduler(SLOTS)
    runner = CommandRunner(qualifier=qualifier, scheduler=scheduler)
    state = assistant.start(conversation_id="c1", now=NOW, visitor_tz="UTC").state
    for message in [BUYER, "automate lead qualification", "skip"]:
        turn = assistant.handle(state, message, now=NOW)
        assert turn.commands == []
        state = turn.state
    turn = assistant.handle(state, "yes", now=NOW)
    assert [type(c) for c in turn.commands] == [Qualify]
    assert turn.commands[0].slots["work_email"] == "dana@acme.com" and qualifier.calls == []
    assert turn.state.offers == [] and turn.state.decision is None
    # the decision comes back through resume, which asks for slots
    decision = qualifier.qualify(conversation_id="c1", slots=turn.commands[0].slots, now=NOW)
    after = assistant.resume(turn.state, turn.commands[0], decision, now=NOW)
    assert [type(c) for c in after.commands] == [OfferSlots] and after.state.decision == decision
    offers = runner.run(after.commands[0], now=NOW)
    assert isinstance(offers, list) and len(offers) == 3
    shown = assistant.resume(after.state, after.commands[0], offers, now=NOW)
    assert shown.commands == [] and [r.kind for r in shown.replies] == ["offer"]
    picked = assistant.handle(shown.state, "the first one", now=NOW)
    assert [type(c) for c in picked.commands] == [Book] and scheduler.bookings == []
    done = carry_out(assistant, picked, runner, now=NOW)
    assert done.state.outcome == "booked" and len(scheduler.bookings) == 1
    with pytest.raises(ValueError, match="BookingResult"):
        assistant.resume(picked.state, picked.commands[0], [], now=NOW)


def test_the_command_loop_is_bounded(nlu: NLU) -> None:
    class Looping:
        def resume(self, state: Any, command: Any, result: Any, *, now: datetime) -> Any:
            return carried(state, [command])

    def carried(state: Any, commands: list[Any]) -> Any:
        return type("T", (), {"state": state, "replies": [], "events": [], "commands": commands})()

    first = carried(None, [OfferSlots(after=NOW, visitor_tz="UTC")])
    with pytest.raises(CommandLoopError, match=str(MAX_COMMANDS)):
        carry_out(Looping(), first, CommandRunner(scheduler=FixedScheduler(SLOTS)), now=NOW)


class SecondProcess(ChatService[ConversationState]):
    """A service as another server process would run it: no shared in-process conversation lock."""

    def _local_lock(self, conversation_id: str) -> AbstractContextManager[None]:
        return nullcontext()


@dataclass
class InterruptingLlm:
    """While the first post's engine runs, another process posts to the same conversation."""

    other: Any = None
    fired: bool = False

    def extract_slots(self, text: str, *, slot_names: list[str], now: datetime) -> LlmSlots | None:
        if not self.fired and self.other is not None:
            self.fired = True
            self.other()
        return None

    def phrase(self, draft: str, *, facts: list[str]) -> str | None:
        return None


def test_a_turn_answered_meanwhile_by_another_process_is_discarded(engine: Engine, nlu: NLU) -> None:
    llm = InterruptingLlm()
    slow = SecondProcess(
        engine,
        Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu, llm=llm),
        ConversationState.model_validate_json,
    )
    fast = SecondProcess(
        engine,
        Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu),
        ConversationState.model_validate_json,
    )
    opened = slow.open("UTC", now=NOW)
    other: list[Any] = []
    llm.other = lambda: other.append(
        fast.post(opened.conversation_id, opened.token, "c-2", "dana@acme.com", now=NOW)
    )
    first = slow.post(opened.conversation_id, opened.token, "c-1", "I'm Dana Lee", now=NOW)
    # the other process answered c-1 (pending) first, then its own c-2; the slow turn was discarded
    assert len(other) == 1 and not other[0].duplicate
    assert first.replies and "Dana Lee" in first.replies[0].text
    transcript = slow.transcript(opened.conversation_id, opened.token)
    visitor = [m.text for m in transcript.messages if m.role == "visitor"]
    assert visitor == ["I'm Dana Lee", "dana@acme.com"]
    with engine.connect() as conn:
        conv = ConversationStore().get(conn, opened.conversation_id)
    assert conv is not None
    state, pending = ConversationState.model_validate_json(conv.state), conv.pending_seq
    assert state.turn == 2 and state.slots["work_email"].value == "dana@acme.com" and pending is None
    # one set of replies per visitor message: the discarded turn stored nothing
    replies_to_first = [m for m in transcript.messages if m.role == "assistant" and m.seq > first.message.seq]
    assert sum(1 for m in replies_to_first if m.kind == "ask" and "work email" in m.text.lower()) == 1


def test_a_person_is_notified_through_the_outbox_once(engine: Engine) -> None:
    from sqlalchemy import text as sql

    from leadgate.chat.commands import OutboxNotifier
    from leadgate.chat.ports import NotifyPerson

    notifier = OutboxNotifier(engine, {"notify_rep": ("email",)})
    command = NotifyPerson(
        conversation_id="conv-9",
        reason="high_value",
        lead_id="chat-conv-9",
        decision_id="d-1",
        summary={"name": "Tom Becker", "budget": "300,000 per year"},
    )
    notifier.notify_person(command, now=NOW)
    notifier.notify_person(command, now=NOW)  # a retried turn enqueues nothing new
    OutboxNotifier(engine, {}).notify_person(command, now=NOW)  # no destination: nothing
    with engine.connect() as conn:
        rows = conn.execute(sql("SELECT kind, destination, lead_id, payload FROM outbox")).all()
    assert [(r.kind, r.destination, r.lead_id) for r in rows] == [("notify_rep", "email", "chat-conv-9")]
    assert '"reason":"high_value"' in rows[0].payload and "Tom Becker" not in rows[0].payload


def test_book_carried_out_again_returns_the_conversations_own_booking(engine: Engine) -> None:
    from leadgate.chat.runtime import build_chat_parts
    from leadgate.config import Settings

    _, runner = build_chat_parts(Settings(database_url=str(engine.url)), engine)
    now = datetime.now(UTC)
    offers = runner.run(OfferSlots(after=now, visitor_tz="Europe/Berlin"), now=now)
    assert isinstance(offers, list) and offers
    book = Book(
        offer=offers[0],
        conversation_id="conv-a",
        attendee_name="Dana Lee",
        attendee_email="dana@acme.com",
        visitor_tz="Europe/Berlin",
    )
    first = runner.run(book, now=now)
    again = runner.run(book, now=now)  # the turn failed after booking and is carried out again
    other = runner.run(book.model_copy(update={"conversation_id": "conv-b"}), now=now)
    assert isinstance(first, BookingResult) and first.booked and first.booking_id
    assert isinstance(again, BookingResult) and again.booked and again.booking_id == first.booking_id
    assert isinstance(other, BookingResult) and not other.booked
