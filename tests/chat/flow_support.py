"""Collaborators of the pure dialogue engine in tests: small, honest implementations of the chat ports.

They are not mocks of a database: each computes its answer from its input (a knowledge base over two
passages with a word-overlap rule, a scheduler over a fixed list of slots that remembers bookings, a
qualifier that decides from the slots, a scripted language model). The lead's end-to-end tests use the
real knowledge base, scheduler, qualifier and database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from leadgate.chat.ports import BookingResult, ChatDecision, Citation, KbAnswer, LlmSlots, SlotOffer

_STOP = frozenset(
    {"a", "an", "and", "are", "can", "do", "does", "for", "from", "have", "how", "i", "in", "is", "it"}
    | {"its", "much", "of", "on", "or", "the", "there", "to", "we", "what", "when", "which", "with"}
    | {"you", "your", "my", "our", "me", "any"}
)


def _words(text: str) -> set[str]:
    return {
        w.removesuffix("s") for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2
    }


@dataclass
class TwoPassageKb:
    """Answers from two passages when a content word of the question appears in one (else: not grounded)."""

    passages: tuple[tuple[str, str, str], ...] = (
        (
            "pricing.md",
            "Plans and pricing",
            "The Team plan costs 49 USD per seat per month and every plan starts with a 14-day free trial.",
        ),
        (
            "integrations.md",
            "Integrations",
            "leadgate integrates with HubSpot and Salesforce through their official APIs.",
        ),
    )
    questions: list[str] = field(default_factory=list)

    def answer(self, question: str) -> KbAnswer:
        self.questions.append(question)
        asked = _words(question)
        best = max(self.passages, key=lambda p: len(asked & _words(p[2])))
        overlap = len(asked & _words(best[2]))
        if overlap == 0:
            return KbAnswer(grounded=False, text="", score=0.0)
        return KbAnswer(
            grounded=True,
            text=best[2],
            citations=[Citation(source=best[0], title=best[1], quote=best[2])],
            score=float(overlap),
        )


@dataclass
class FixedScheduler:
    """Offers the free slots of a fixed list (30 minutes each, after ``now``); booking marks a slot taken."""

    starts: tuple[datetime, ...]
    taken: set[str] = field(default_factory=set)
    bookings: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def offer_id(start: datetime) -> str:
        return "rep1-" + start.strftime("%Y%m%dT%H%M")

    def _offer(self, start: datetime, visitor_tz: str) -> SlotOffer:
        local = start.astimezone(ZoneInfo(visitor_tz))
        end = start + timedelta(minutes=30)
        label = f"{local:%a %d %b, %H:%M}-{end.astimezone(ZoneInfo(visitor_tz)):%H:%M} ({visitor_tz})"
        return SlotOffer(offer_id=self.offer_id(start), rep_id="rep1", start=start, end=end, label=label)

    def offer_slots(self, *, now: datetime, visitor_tz: str, n: int = 3) -> list[SlotOffer]:
        free = [s for s in self.starts if s > now and self.offer_id(s) not in self.taken]
        return [self._offer(s, visitor_tz) for s in free[:n]]

    def take(self, offer_id: str) -> None:
        """Someone else books this slot."""
        self.taken.add(offer_id)

    def book(
        self,
        offer: SlotOffer,
        *,
        conversation_id: str,
        attendee_name: str,
        attendee_email: str,
        visitor_tz: str,
    ) -> BookingResult:
        if offer.offer_id in self.taken:
            return BookingResult(booked=False, offer=offer, reason="the slot was booked meanwhile")
        self.taken.add(offer.offer_id)
        booking_id = f"bk-{len(self.bookings) + 1}"
        self.bookings.append(
            {"id": booking_id, "offer": offer.offer_id, "name": attendee_name, "email": attendee_email}
        )
        return BookingResult(
            booked=True, offer=offer, booking_id=booking_id, ics_path=f"/v1/bookings/{booking_id}.ics"
        )


@dataclass
class SlotRuleQualifier:
    """Decides from the slots: senior buyers of 50+ people are hot, tiny or student visitors are discarded,
    an unknown budget goes to review, everyone else is nurtured."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def qualify(
        self, *, conversation_id: str, slots: dict[str, Any], now: datetime, notes: Sequence[str] = ()
    ) -> ChatDecision:
        self.calls.append({"conversation_id": conversation_id, "slots": slots, "now": now})
        role = slots.get("role") or {}
        size = (slots.get("company_size") or {}).get("min") or 0
        seniority = role.get("seniority")
        if seniority in ("student", "intern") or size < 5:
            tier, action = "disqualified", "discard"
        elif slots.get("budget") is None:
            tier, action = "warm", "human_review"
        elif seniority in ("c_level", "vp", "director") and size >= 50:
            tier, action = "hot", "route_to_sales"
        else:
            tier, action = "nurture", "nurture"
        probability = {"hot": 0.8, "warm": 0.5, "nurture": 0.2, "disqualified": 0.05}[tier]
        return ChatDecision(
            lead_id=f"chat-{conversation_id}",
            decision_id=f"d-{len(self.calls)}",
            tier=tier,
            action=action,
            probability=probability,
            review_required=action == "human_review",
            reasons=[f"{tier} by the test rule"],
        )


@dataclass
class ScriptedLlm:
    """A language model whose answers are scripted per message; ``phrase`` follows ``phrase_mode``.

    phrase_mode: ``none`` (always None), ``polite`` (prefixes "Sure! "), ``invent`` (adds a price the
    draft never stated), ``both_sides`` (writes a visitor turn too).
    """

    extract: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    phrase_mode: str = "none"
    extract_calls: list[str] = field(default_factory=list)
    phrase_calls: list[str] = field(default_factory=list)

    def extract_slots(self, text: str, *, slot_names: list[str], now: datetime) -> LlmSlots | None:
        self.extract_calls.append(text)
        scripted = self.extract.get(text)
        return None if scripted is None else LlmSlots.model_validate(scripted)

    def phrase(self, draft: str, *, facts: list[str]) -> str | None:
        self.phrase_calls.append(draft)
        if self.phrase_mode == "polite":
            return "Sure! " + draft
        if self.phrase_mode == "invent":
            return draft + " Our plan costs 12 USD."
        if self.phrase_mode == "both_sides":
            return draft + "\nVisitor: yes please, book me in"
        return None
