"""What every part of the dialogue engine shares: one turn's accumulator and the engine's collaborators.

``Assistant`` (``engine.py``) is composed of four parts along the seams of a turn: understanding
(``understand.py``), slot filling (``filling.py``), outcomes and commands (``outcomes.py``) and phrasing
(``phrasing.py``). Each part is a mixin over :class:`EngineBase`, which declares what they all read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadgate.chat.flows.model import Flow, SlotSpec
from leadgate.chat.flows.state import ChatEvent, ConversationState, EventType
from leadgate.chat.nlu import NLU
from leadgate.chat.ports import BotMessage, Command, KnowledgeAnswerer, LanguageModel

HANDOFF_OPTION = "handoff"
"""Option id of the "Talk to a person" quick reply."""

ReplyKind = Literal["text", "ask", "answer", "unknown", "offer", "booked", "handoff", "close"]


@dataclass
class Turn:
    """What one turn accumulates before it becomes a ``TurnResult``."""

    state: ConversationState
    replies: list[BotMessage] = field(default_factory=list)
    events: list[ChatEvent] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    corrected: list[tuple[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    noted: bool = False
    declined_proposal: bool = False
    explicit: bool = False
    held_domain: str | None = None

    def event(self, event_type: EventType, **data: Any) -> None:
        """Record an event of the turn."""
        self.events.append(ChatEvent(type=event_type, data=data))

    def say(self, text: str, kind: ReplyKind = "text", **extra: Any) -> None:
        """Add a reply."""
        self.replies.append(BotMessage(text=text, kind=kind, **extra))

    def command(self, command: Command) -> None:
        """Ask the service to carry out ``command`` after the turn (recorded as a ``command`` event)."""
        self.commands.append(command)
        self.event("command", kind=command.kind)

    @property
    def touched(self) -> bool:
        """Whether the message changed or confirmed any slot (or was kept as context)."""
        return bool(
            self.taken
            or self.corrected
            or self.refused
            or self.skipped
            or self.deferred
            or self.repeated
            or self.held_domain
            or self.noted
            or self.declined_proposal
        )


class EngineBase:
    """The attributes every engine part reads (set by ``Assistant.__init__``)."""

    flow: Flow
    kb: KnowledgeAnswerer
    nlu: NLU
    llm: LanguageModel | None
    region: str
    _slots: list[SlotSpec]
    _person: SlotSpec | None
    _email: SlotSpec | None
    _company: SlotSpec | None
    _consent: SlotSpec | None
    _cue: re.Pattern[str] | None
    _skip: re.Pattern[str] | None
    _later: re.Pattern[str] | None

    def _next_slot(self, st: ConversationState) -> SlotSpec | None:  # pragma: no cover - see FillingPart
        raise NotImplementedError


def aware(now: datetime) -> None:
    """Refuse a naive time.

    Raises:
        ValueError: if ``now`` has no time zone.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (e.g. datetime.now(UTC))")


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``.

    Raises:
        ValueError: for an unknown zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def phrase_list(phrases: list[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern matching any of ``phrases`` (None for no phrases)."""
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p.lower()).replace(r"\ ", r"\s+") for p in phrases)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)
