"""Conversation tests as data (Rasa style): ``tests/chat/conversations/*.yml``, run against the shipped flow.

A file lists ``conversations``; each has ``name``, ``now`` (aware ISO time), ``visitor_tz``, which
collaborators to use (``qualifier: rules | none``, ``scheduler: fixed | none``, optional ``llm``) and
``turns``. The first turn is ``start``; every later turn is one of:

* ``say: <text>``: a visitor message;
* ``pick: <n>``: a click on the n-th option (1-based) of the assistant's last reply with options;
* ``taken_elsewhere: <n>``: another visitor books the n-th offered slot (no message; no ``expect``).

``expect`` keys: ``replies`` (reply kinds, exact), ``says`` / ``not_says`` (substrings of the replies,
case-insensitive), ``pending``, ``status``, ``outcome``, ``handoff_reason``, ``non_buyer``,
``misunderstandings``, ``slots`` (dotted path -> value), ``flags`` (slot -> flags that must be there),
``absent`` (slots not filled), ``events`` (types that must occur in this order), ``no_events``,
``event_data`` (type -> key/values one event of that type must have), ``citations`` (sources cited),
``qualified`` / ``booked`` / ``kb_calls`` (total calls to the collaborators so far), ``commands`` (the kinds
of the commands the turn's engine steps returned, in order).

Every turn also checks that ``handle`` left the state it was given unchanged and that the new state
survives a JSON round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chat.flow_support import FixedScheduler, ScriptedLlm, SlotRuleQualifier, TwoPassageKb

from leadgate.chat.commands import CarriedTurn, CommandRunner, carry_out
from leadgate.chat.flows import Assistant, ConversationState, TurnResult, load_default_flow
from leadgate.chat.nlu import NLU

CONVERSATIONS = Path(__file__).parent / "conversations"

SLOT_STARTS = tuple(
    datetime(2026, 5, day, hour, 0, tzinfo=UTC) for day in (18, 19, 20, 21) for hour in (8, 13)
)
"""The test scheduler's slots: Mon 18 to Thu 21 May 2026, 08:00 and 13:00 UTC (10:00 and 15:00 in Berlin)."""

EXPECT_KEYS = frozenset(
    {
        "replies",
        "says",
        "not_says",
        "pending",
        "status",
        "outcome",
        "handoff_reason",
        "non_buyer",
        "misunderstandings",
        "slots",
        "flags",
        "absent",
        "events",
        "no_events",
        "event_data",
        "citations",
        "qualified",
        "booked",
        "kb_calls",
        "commands",
    }
)


def _cases() -> list[Any]:
    cases = []
    for path in sorted(CONVERSATIONS.glob("*.yml")):
        for conv in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            cases.append(pytest.param(conv, id=f"{path.stem}: {conv['name']}"))
    return cases


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split(".")[1:]:
        assert isinstance(value, dict), f"{dotted}: {value!r} is not a mapping"
        value = value[part]
    return value


def _is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


class _Run:
    def __init__(self, conv: dict[str, Any], nlu: NLU) -> None:
        self.now = datetime.fromisoformat(conv["now"])
        self.kb = TwoPassageKb()
        self.scheduler = FixedScheduler(SLOT_STARTS) if conv.get("scheduler", "fixed") == "fixed" else None
        self.qualifier = SlotRuleQualifier() if conv.get("qualifier", "rules") == "rules" else None
        llm = conv.get("llm")
        self.llm = (
            ScriptedLlm(extract=llm.get("extract", {}), phrase_mode=llm.get("phrase", "none"))
            if llm
            else None
        )
        self.assistant = Assistant(load_default_flow(), kb=self.kb, nlu=nlu, llm=self.llm)
        self.runner = CommandRunner(qualifier=self.qualifier, scheduler=self.scheduler)
        self.options: list[dict[str, str]] = []

    def check(
        self, where: str, result: TurnResult | CarriedTurn[ConversationState], expect: dict[str, Any]
    ) -> None:
        unknown = set(expect) - EXPECT_KEYS
        assert not unknown, f"{where}: unknown expect keys {sorted(unknown)}"
        st = result.state
        kinds = [r.kind for r in result.replies]
        texts = " ".join(r.text for r in result.replies)
        types: list[str] = [e.type for e in result.events]
        context = f"{where}\n  replies: {[(r.kind, r.text) for r in result.replies]}\n  events: {types}"
        if "replies" in expect:
            assert kinds == expect["replies"], context
        for part in expect.get("says", []):
            assert part.lower() in texts.lower(), f"{context}\n  missing {part!r}"
        for part in expect.get("not_says", []):
            assert part.lower() not in texts.lower(), f"{context}\n  unexpected {part!r}"
        for key in ("pending", "status", "outcome", "handoff_reason", "non_buyer", "misunderstandings"):
            if key in expect:
                assert getattr(st, key) == expect[key], f"{context}\n  {key}: {getattr(st, key)!r}"
        for dotted, value in expect.get("slots", {}).items():
            name = dotted.split(".")[0]
            assert name in st.slots, f"{context}\n  slot {name} not filled: {sorted(st.slots)}"
            assert _dig(st.slots[name].value, dotted) == value, (
                f"{context}\n  {dotted}: {st.slots[name].value!r}"
            )
        for name, flags in expect.get("flags", {}).items():
            assert set(flags) <= set(st.slots[name].flags), (
                f"{context}\n  {name} flags {st.slots[name].flags}"
            )
        for name in expect.get("absent", []):
            assert name not in st.slots, f"{context}\n  slot {name} is filled: {st.slots[name]!r}"
        assert _is_subsequence(expect.get("events", []), types), context
        for kind in expect.get("no_events", []):
            assert kind not in types, f"{context}\n  unexpected event {kind}"
        for kind, data in expect.get("event_data", {}).items():
            found = [e.data for e in result.events if e.type == kind]
            assert any(all(d.get(k) == v for k, v in data.items()) for d in found), (
                f"{context}\n  {kind}: {found}"
            )
        if "citations" in expect:
            cited = [c.source for r in result.replies for c in r.citations]
            assert cited == expect["citations"], context
        if "qualified" in expect:
            assert self.qualifier is not None and len(self.qualifier.calls) == expect["qualified"], context
        if "booked" in expect:
            assert self.scheduler is not None and len(self.scheduler.bookings) == expect["booked"], context
        if "commands" in expect:
            assert isinstance(result, CarriedTurn), context
            assert [c.kind for c in result.commands] == expect["commands"], context
        if "kb_calls" in expect:
            assert len(self.kb.questions) == expect["kb_calls"], context

    def step(
        self, state: ConversationState, turn: dict[str, Any], where: str
    ) -> CarriedTurn[ConversationState]:
        """``handle`` then the commands it returns (carried out by the test collaborators, fed back with
        ``resume``), as the chat service does."""
        before = state.to_json()
        if "pick" in turn:
            option = self.options[turn["pick"] - 1]
            first = self.assistant.handle(state, option["label"], now=self.now, option_id=option["id"])
        else:
            first = self.assistant.handle(state, turn["say"], now=self.now)
        assert state.to_json() == before, f"{where}: handle changed the state it was given"
        return carry_out(self.assistant, first, self.runner, now=self.now)


@pytest.mark.parametrize("conv", _cases())
def test_conversation(conv: dict[str, Any], nlu: NLU) -> None:
    run = _Run(conv, nlu)
    turns = conv["turns"]
    result = run.assistant.start(conversation_id="conv-1", now=run.now, visitor_tz=conv["visitor_tz"])
    run.check("start", result, turns[0].get("expect", {}))
    state = result.state
    for index, turn in enumerate(turns[1:], start=1):
        where = f"turn {index}: {turn}"
        if "taken_elsewhere" in turn:
            assert run.scheduler is not None
            run.scheduler.take(state.offers[turn["taken_elsewhere"] - 1].offer_id)
            continue
        result = run.step(state, turn, where)
        run.check(where, result, turn.get("expect", {}))
        for reply in result.replies:
            if reply.options:
                run.options = list(reply.options)
        state = ConversationState.from_json(result.state.to_json())
        assert state == result.state, f"{where}: the state does not survive JSON"


def test_conversation_files_exist() -> None:
    names = [p.stem for p in CONVERSATIONS.glob("*.yml")]
    assert len(names) >= 5, names
