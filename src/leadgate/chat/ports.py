"""The contracts between the chat assistant and what it talks to.

The dialogue engine (``chat.flows``) is pure: it reads a ``ConversationState``, a visitor message and the
time, and returns the next state, the replies and the events. Everything that touches the outside world
comes in through the small protocols below, implemented by:

* ``KnowledgeAnswerer``: ``chat.kb`` (retrieval over the company's own knowledge base);
* ``Scheduler``: ``chat.booking`` (rep calendars, atomic booking, ICS invites);
* ``LeadQualifier``: ``chat.qualify`` (slots -> ``Lead`` -> the qualification pipeline -> ``Decision``);
* ``LanguageModel``: ``chat.llm`` (an optional OpenAI-compatible endpoint; None means built-in NLU only).

These types are versioned with the chat API (``chat/v1``): add optional fields only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Citation(_Frozen):
    """Where an answer comes from.

    Attributes:
        source: the knowledge-base file, relative to the knowledge-base folder (e.g. ``pricing.md``).
        title: the document title or section heading.
        quote: the passage the answer states, verbatim (at most a few sentences).
    """

    source: str
    title: str
    quote: str


class KbAnswer(_Frozen):
    """An answer from the knowledge base.

    Attributes:
        grounded: True when the retrieved passages support an answer; False means "I don't know".
        text: what the assistant says; when grounded, only what the cited passages state.
        citations: the passages used (empty when not grounded).
        score: retrieval support of the best passage (the scale is the retriever's; compare to its threshold).
    """

    grounded: bool
    text: str
    citations: list[Citation] = Field(default_factory=list)
    score: float = 0.0


class KnowledgeAnswerer(Protocol):
    """Answers a visitor's question from the company's own knowledge base only."""

    def answer(self, question: str) -> KbAnswer:
        """Answer ``question``; ``grounded=False`` when the knowledge base does not support an answer."""
        ...


class SlotOffer(_Frozen):
    """A meeting slot offered to the visitor.

    Attributes:
        offer_id: stable id of this offer (rep and start), used by the visitor to pick it.
        rep_id: the rep whose calendar has the slot.
        start, end: aware datetimes in UTC.
        label: the slot in the visitor's time zone, e.g. ``Tue 24 Nov, 10:00-10:30 (Europe/Berlin)``.
    """

    offer_id: str
    rep_id: str
    start: datetime
    end: datetime
    label: str


class BookingResult(_Frozen):
    """The outcome of a booking request.

    Attributes:
        booked: True when the slot was booked; False when it was taken meanwhile (offer others).
        booking_id: the booking's id when booked.
        offer: the slot requested.
        ics_path: API path of the ICS invite (``/v1/bookings/{booking_id}.ics``) when booked.
        reason: why not booked.
    """

    booked: bool
    offer: SlotOffer
    booking_id: str | None = None
    ics_path: str | None = None
    reason: str | None = None


class Scheduler(Protocol):
    """Offers and books demo slots on the reps' calendars."""

    def offer_slots(self, *, now: datetime, visitor_tz: str, n: int = 3) -> list[SlotOffer]:
        """The next ``n`` free slots after ``now`` (aware), labelled in ``visitor_tz`` (IANA name)."""
        ...

    def book(
        self,
        offer: SlotOffer,
        *,
        conversation_id: str,
        attendee_name: str,
        attendee_email: str,
        visitor_tz: str,
    ) -> BookingResult:
        """Book ``offer`` atomically: two concurrent requests for one slot give one booking."""
        ...


class ChatDecision(_Frozen):
    """The qualification decision of a conversation's lead, as the assistant needs it.

    Attributes:
        lead_id: the stored lead's id.
        decision_id: the stored, audited decision's id.
        tier: ``hot``, ``warm``, ``nurture`` or ``disqualified``.
        action: ``route_to_sales``, ``nurture``, ``human_review`` or ``discard``.
        probability: calibrated probability to convert, in [0, 1].
        review_required: True when the policy asks a person to review.
        reasons: the policy's reasons, in plain words.
    """

    lead_id: str
    decision_id: str
    tier: str
    action: str
    probability: float
    review_required: bool
    reasons: list[str] = Field(default_factory=list)


class LeadQualifier(Protocol):
    """Turns a conversation's filled slots into a stored lead and an audited decision."""

    def qualify(
        self, *, conversation_id: str, slots: dict[str, Any], now: datetime, notes: Sequence[str] = ()
    ) -> ChatDecision:
        """Store the lead built from ``slots`` (slot name -> normalized value) and decide it.

        ``notes`` are what the visitor said that answered no slot, kept with the lead (``visitor_notes``).
        """
        ...


class LlmSlots(BaseModel):
    """Slots an LLM extracted from one message (validated by pydantic; unknown slots are dropped)."""

    model_config = ConfigDict(extra="ignore")

    intent: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)


class LanguageModel(Protocol):
    """An optional language model. Every method returns None on timeout or error: the caller falls back."""

    def extract_slots(self, text: str, *, slot_names: list[str], now: datetime) -> LlmSlots | None:
        """Slots and intent found in ``text``, or None."""
        ...

    def phrase(self, draft: str, *, facts: list[str]) -> str | None:
        """``draft`` rephrased, stating nothing beyond ``draft`` and ``facts``; or None."""
        ...


class BotMessage(_Frozen):
    """One reply of the assistant.

    Attributes:
        text: what the visitor reads (plain text).
        kind: ``text``, ``ask`` (asks for a slot), ``answer`` (knowledge-base answer), ``unknown`` (the
            knowledge base does not say), ``offer`` (demo slots), ``booked``, ``handoff``, ``close``.
        citations: the sources of an ``answer``.
        options: quick replies the visitor may pick (``{"id": ..., "label": ...}``), e.g. slot offers.
        data: extra structured data (e.g. the booking id and ICS path).
    """

    text: str
    kind: Literal["text", "ask", "answer", "unknown", "offer", "booked", "handoff", "close"] = "text"
    citations: list[Citation] = Field(default_factory=list)
    options: list[dict[str, str]] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------
# Commands: what the dialogue engine asks the service to do after a turn (DESIGN rule 9: engines return,
# services do). The service carries each one out outside any conversation lock and feeds the result back
# through ``Assistant.resume``.


class Qualify(_Frozen):
    """Store the lead built from the slots and decide it (``LeadQualifier.qualify``).

    Result: a ``ChatDecision``, or None when no qualifier is configured.

    Attributes:
        conversation_id: the conversation (the lead is ``chat-<conversation_id>``).
        slots: slot name -> normalized value (``ConversationState.slot_values()``).
        notes: what the visitor said that answered no slot (kept as context for the lead's notes).
    """

    kind: Literal["qualify"] = "qualify"
    conversation_id: str
    slots: dict[str, Any]
    notes: list[str] = Field(default_factory=list)


class OfferSlots(_Frozen):
    """Find free demo slots (``Scheduler.offer_slots``); result: ``list[SlotOffer]`` (empty: none, or no scheduler).

    Attributes:
        after: offer slots starting after this time (aware).
        visitor_tz: the visitor's IANA time zone (labels).
        n: how many slots.
        purpose: why they are offered: ``decision`` (after qualification), ``more`` (the visitor wants other
            times) or ``retry`` (the picked slot was taken meanwhile); the engine words its reply by it.
    """

    kind: Literal["offer_slots"] = "offer_slots"
    after: datetime
    visitor_tz: str
    n: int = Field(default=3, ge=1, le=10)
    purpose: Literal["decision", "more", "retry"] = "decision"


class Book(_Frozen):
    """Book a picked slot atomically (``Scheduler.book``); result: ``BookingResult``."""

    kind: Literal["book"] = "book"
    offer: SlotOffer
    conversation_id: str
    attendee_name: str
    attendee_email: str
    visitor_tz: str


class NotifyPerson(_Frozen):
    """Tell a person about this conversation (a high-value lead); no result is fed back.

    Attributes:
        conversation_id: the conversation.
        reason: why (``high_value``).
        lead_id: the qualified lead, when there is one.
        decision_id: its decision, when there is one.
        summary: slot label -> the value as the visitor reads it (for the person's message).
    """

    kind: Literal["notify_person"] = "notify_person"
    conversation_id: str
    reason: str
    lead_id: str | None = None
    decision_id: str | None = None
    summary: dict[str, str] = Field(default_factory=dict)


Command = Qualify | OfferSlots | Book | NotifyPerson
"""A command of the dialogue engine."""

CommandResult = ChatDecision | list[SlotOffer] | BookingResult | None
"""What carrying out a command gives back (see each command)."""


class PersonNotifier(Protocol):
    """Tells a person (a sales rep) about a conversation: the ``NotifyPerson`` command."""

    def notify_person(self, command: NotifyPerson, *, now: datetime) -> None:
        """Record and deliver the notification (e.g. enqueue a ``notify_rep`` action)."""
        ...


# ----------------------------------------------------------------------------------------------------
# The dialogue engine as the chat service sees it (chat.flows.Assistant has exactly this shape).


class ChatEventLike(Protocol):
    """An event of the dialogue engine (e.g. a slot was set, a handoff was requested)."""

    @property
    def type(self) -> str:
        """Event type, e.g. ``slot_set``."""
        ...

    @property
    def data(self) -> Mapping[str, Any]:
        """JSON-able details."""
        ...


class ConversationStateLike(Protocol):
    """The flow state of one conversation (a pydantic model in ``chat.flows``)."""

    @property
    def status(self) -> str:
        """``active``, ``handoff`` or ``closed``."""
        ...

    @property
    def slots(self) -> Mapping[str, Any]:
        """Slot name -> normalized value."""
        ...

    @property
    def handoff_reason(self) -> str | None:
        """Why a person should take over (when ``status`` is ``handoff``)."""
        ...

    @property
    def decision(self) -> ChatDecision | None:
        """The qualification decision once made."""
        ...

    def model_dump_json(self) -> str:
        """The state as JSON text (read back with the service's ``load_state``)."""
        ...


S = TypeVar("S", bound=ConversationStateLike)
S_co = TypeVar("S_co", bound=ConversationStateLike, covariant=True)


class TurnResultLike(Protocol[S_co]):
    """What the assistant returns for one turn: the next state, the replies and the events."""

    @property
    def state(self) -> S_co:
        """The state after the turn."""
        ...

    @property
    def replies(self) -> Sequence[BotMessage]:
        """The assistant's replies, in order."""
        ...

    @property
    def events(self) -> Sequence[ChatEventLike]:
        """The flow events of the turn, in order."""
        ...


class ChatAssistant(Protocol[S]):
    """The dialogue engine: pure, given the state, the visitor's text and the time.

    A turn result may carry ``commands`` (``chat.ports.Command``); the service carries them out and calls
    ``resume`` with each result. An assistant whose turns carry no commands never has ``resume`` called.
    """

    def start(self, *, conversation_id: str, now: datetime, visitor_tz: str) -> TurnResultLike[S]:
        """The first turn of a new conversation (greeting)."""
        ...

    def handle(
        self, state: S, text: str, *, now: datetime, option_id: str | None = None
    ) -> TurnResultLike[S]:
        """Answer one visitor message (``option_id``: a quick reply the visitor picked)."""
        ...

    def resume(
        self, state: S, command: Command, result: CommandResult, *, now: datetime
    ) -> TurnResultLike[S]:
        """Continue a turn with the result of one of its commands."""
        ...
