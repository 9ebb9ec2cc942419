"""A small, honest in-test assistant of the shape of ``chat.flows.Assistant`` (no tests here).

It counts turns in its state (``turns``), keeps the last message as a slot, answers every message with two
replies that carry the turn number, hands off on ``human``, records a decision on ``qualify``, and raises
once for every text in ``fail_once``. Persistence, idempotency, ordering and restart behaviour of the chat
service do not depend on the real flow logic.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from leadgate.chat.ports import BotMessage, ChatDecision, Citation


class EchoState(BaseModel):
    status: Literal["active", "handoff", "closed"] = "active"
    slots: dict[str, Any] = Field(default_factory=dict)
    handoff_reason: str | None = None
    decision: ChatDecision | None = None
    turns: int = 0
    tz: str = "UTC"


class EchoEvent(BaseModel):
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class EchoTurn(BaseModel):
    state: EchoState
    replies: list[BotMessage]
    events: list[EchoEvent]


class EchoAssistant:
    """Echoes the visitor; see the module docstring."""

    def __init__(self, fail_once: set[str] | None = None, delay_s: float = 0.0):
        self.fail_once = set(fail_once or ())
        self.delay_s = delay_s
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def start(self, *, conversation_id: str, now: datetime, visitor_tz: str) -> EchoTurn:
        return EchoTurn(
            state=EchoState(tz=visitor_tz),
            replies=[BotMessage(text="Hi! Which company are you with?", kind="ask")],
            events=[EchoEvent(type="started", data={"conversation_id": conversation_id})],
        )

    def resume(self, state: EchoState, command: Any, result: Any, *, now: datetime) -> EchoTurn:
        """Never called: echo turns carry no commands."""
        raise AssertionError("EchoAssistant returns no commands")

    def handle(self, state: EchoState, text: str, *, now: datetime, option_id: str | None = None) -> EchoTurn:
        with self._lock:
            self.calls.append(text)
            fail = text in self.fail_once
            self.fail_once.discard(text)
        if fail:
            raise RuntimeError(f"assistant failure on {text!r}")
        if self.delay_s:
            time.sleep(self.delay_s)  # widens the window in which unserialized posts would overlap
        turns = state.turns + 1
        slots = {**state.slots, "last": text, "company": state.slots.get("company", text)}
        update: dict[str, Any] = {"turns": turns, "slots": slots}
        replies = [
            BotMessage(text=f"#{turns} you said: {text}", kind="text"),
            BotMessage(
                text=f"#{turns} anything else?",
                kind="answer",
                citations=[Citation(source="faq.md", title="FAQ", quote="We answer.")],
                options=[{"id": "yes", "label": "Yes"}],
                data={"option_id": option_id},
            ),
        ]
        if text == "human":
            update.update(status="handoff", handoff_reason="visitor asked for a person")
            replies = [BotMessage(text="A colleague will take over.", kind="handoff")]
        if text == "qualify":
            update["decision"] = ChatDecision(
                lead_id=f"chat-{turns}",
                decision_id="0193c1a2-0000-7000-8000-000000000001",
                tier="hot",
                action="route_to_sales",
                probability=0.8,
                review_required=False,
            )
        return EchoTurn(
            state=state.model_copy(update=update),
            replies=replies,
            events=[EchoEvent(type="slot_set", data={"slot": "last", "value": text})],
        )
