"""The conversation state the dialogue engine reads and returns, its events and a turn's result.

``ConversationState`` is what the storage layer persists between turns (JSON, ``schema: chat_state/v1``);
``ChatEvent`` is one entry of the conversation's event log (Rasa's tracker events, in spirit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgate.chat.ports import BookingResult, BotMessage, ChatDecision, Command, SlotOffer

STATE_SCHEMA: Literal["chat_state/v1"] = "chat_state/v1"
"""Schema id written into every serialized state; a state of another schema is refused."""

EventType = Literal[
    "flow_started",
    "intent",
    "slot_filled",
    "slot_corrected",
    "slot_rejected",
    "slot_skipped",
    "misunderstood",
    "question_answered",
    "question_unanswered",
    "non_buyer",
    "handoff_requested",
    "held_for_person",
    "consent_declined",
    "lead_qualified",
    "slots_offered",
    "booking_failed",
    "demo_booked",
    "flow_completed",
    "command",
    "person_notified",
    "slot_deferred",
    "context_noted",
    "summary_shown",
    "summary_confirmed",
    "company_proposed",
]
"""Event types (at most 32 characters: the ``conversation_events.kind`` column)."""


class SlotValue(BaseModel):
    """A filled slot.

    Attributes:
        value: the normalized value (JSON-able; shapes in ``validators.py``), None when skipped.
        raw: the visitor's words it came from.
        flags: notes such as ``free_mail``, ``skipped``, ``approximate``, ``currency_assumed``.
        turn: the turn that set it.
        source: ``nlu`` (an entity), ``context`` (a short answer read in the slot's context), ``text``
            (the whole message), ``yes_no`` (affirm/deny), ``llm`` (the language model, validated) or
            ``skip``.
    """

    model_config = ConfigDict(extra="forbid")
    value: Any = None
    raw: str = ""
    flags: list[str] = Field(default_factory=list)
    turn: int = 0
    source: str = "nlu"


class ConversationState(BaseModel):
    """Everything the engine needs to continue a conversation (serialize with :meth:`to_json`).

    Attributes:
        schema_id: ``chat_state/v1`` (``schema`` in JSON).
        conversation_id: the conversation's id.
        flow: the flow reference ``name@version``.
        status: ``active``, ``handoff`` (a person has it; the bot is silent) or ``closed``. The engine
            sets ``handoff`` only; when the flow ends it sets ``outcome`` and keeps the conversation
            ``active`` so the visitor can still ask questions. ``closed`` is set by the service (e.g. staff
            closing a conversation); the engine treats a closed state like an ended flow.
        visitor_tz: the visitor's IANA time zone.
        slots: filled slots by name.
        pending: the slot asked last (None when nothing is asked).
        asks: how many times each slot was asked.
        misunderstandings: consecutive turns not understood.
        free_mail_asked: True once the visitor was asked for a work address instead of a free one.
        held_email: the free-provider address given before that request (accepted if no other comes).
        offers: demo slots currently offered.
        booking: the booking, once made.
        decision: the qualification decision, once made.
        turn: turns handled so far (``start`` is turn 0).
        handoff_reason: why the conversation went to a person.
        outcome: how the flow ended (``booked``, ``nurture``, ``discard``, ``human_review``, ``no_slots``,
            ``consent_declined``, ``job_seeker``, ``spam``, ``not_qualified``), None while it runs.
        non_buyer: ``job_seeker`` or ``spam`` when the visitor is clearly not a buyer (never qualified).
        last_filled: the slot filled or corrected last (a bare "sorry, I meant 400" corrects it).
        greeted: True once the visitor said hello (a second hello gets ``greet_again``).
        context: what the visitor said that answered no slot ("we're evaluating analytics tools"), in
            order; offered to the free-text slot and passed to the qualifier as notes.
        deferred: slots moved to the end (asked twice without success, or "later"), in order.
        revisited: deferred slots already asked again at the end (each is revisited once).
        proposed_company: a company read from the work email's domain, waiting for a yes or another name.
        misses: per slot, the turns it was asked and the answer was not understood or refused.
        offer_intro: the reply that introduces the slots being looked up (between ``Qualify`` and ``OfferSlots``).
        summary: ``shown`` while the visitor is asked to confirm the collected details, ``confirmed`` after.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    schema_id: Literal["chat_state/v1"] = Field(default=STATE_SCHEMA, alias="schema")
    conversation_id: str
    flow: str
    status: Literal["active", "handoff", "closed"] = "active"
    visitor_tz: str
    slots: dict[str, SlotValue] = Field(default_factory=dict)
    pending: str | None = None
    asks: dict[str, int] = Field(default_factory=dict)
    misunderstandings: int = 0
    free_mail_asked: bool = False
    held_email: str | None = None
    offers: list[SlotOffer] = Field(default_factory=list)
    booking: BookingResult | None = None
    decision: ChatDecision | None = None
    turn: int = 0
    handoff_reason: str | None = None
    outcome: str | None = None
    non_buyer: str | None = None
    last_filled: str | None = None
    greeted: bool = False
    context: list[str] = Field(default_factory=list)
    deferred: list[str] = Field(default_factory=list)
    revisited: list[str] = Field(default_factory=list)
    proposed_company: str | None = None
    summary: Literal["shown", "confirmed"] | None = None
    offer_intro: str | None = None
    misses: dict[str, int] = Field(default_factory=dict)

    def to_json(self) -> str:
        """The state as JSON (``schema`` first)."""
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ConversationState:
        """Read a state written by :meth:`to_json`.

        Raises:
            pydantic.ValidationError: if the JSON is not a ``chat_state/v1`` state.
        """
        return cls.model_validate_json(text)

    def slot_values(self) -> dict[str, Any]:
        """Slot name -> normalized value (None for skipped slots), as given to the qualifier."""
        return {name: slot.value for name, slot in self.slots.items()}


class ChatEvent(BaseModel):
    """One event of a conversation.

    Attributes:
        type: what happened (:data:`EventType`).
        data: details, JSON-able (e.g. ``{"slot": "email", "value": ..., "flags": [...]}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced.

    Attributes:
        state: the new state (the caller persists it; the state passed in is not changed).
        replies: the assistant's messages, in order (empty while a person has the conversation).
        events: the events of the turn, in order.
        commands: what the service must carry out after the turn, in order (``leadgate.chat.ports``:
            ``Qualify``, ``OfferSlots``, ``Book``, ``NotifyPerson``); the results go back through
            ``Assistant.resume``.
    """

    state: ConversationState
    replies: list[BotMessage] = field(default_factory=list)
    events: list[ChatEvent] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
