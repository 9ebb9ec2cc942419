"""Outcomes: what happens when the slots are in (qualify, offer slots, book, notify a person, hand off, close).

The engine never calls the qualifier or the scheduler: it returns **commands** (``leadgate.chat.ports``:
``Qualify``, ``OfferSlots``, ``Book``, ``NotifyPerson``) in ``TurnResult.commands``; the service carries
them out after the turn and feeds each result back through ``Assistant.resume``, which continues here
(``_on_decision``, ``_on_offers``, ``_on_booking``) and may return more commands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadgate.chat.flows.phrasing import PhrasingPart
from leadgate.chat.flows.turn import HANDOFF_OPTION, Turn
from leadgate.chat.flows.understand import Understanding
from leadgate.chat.flows.validators import BudgetValidator
from leadgate.chat.ports import (
    Book,
    BookingResult,
    ChatDecision,
    NotifyPerson,
    OfferSlots,
    Qualify,
    SlotOffer,
)

OFFERS_SHOWN = 3
"""Demo slots offered at a time."""


class OutcomesPart(PhrasingPart):
    """Ends the slot filling: qualification, offers, booking, handoff, close."""

    def _advance(self, turn: Turn, now: datetime, *, explain: bool, asked_before: str | None) -> None:
        st = turn.state
        if (
            asked_before is not None
            and asked_before not in st.slots
            and asked_before not in st.deferred
            and asked_before not in st.revisited
            and st.misses.get(asked_before, 0) >= 2
        ):
            # asked twice without success: move on, come back once at the end
            st.deferred.append(asked_before)
            turn.event("slot_deferred", slot=asked_before, reason="asked_twice")
            turn.say(self.flow.texts.moving_on)
            explain = False
        nxt = self._next_slot(st)
        if nxt is not None:
            revisit = nxt.name in st.deferred and nxt.name not in st.revisited
            if nxt.name in st.deferred and nxt.name in st.revisited and nxt.name != asked_before:
                revisit = False
            if revisit:
                st.revisited.append(nxt.name)
            elif nxt.name in st.revisited and nxt.name == asked_before and nxt.can_skip:
                # revisited once and still not answered: leave it out
                self._skip_slot(turn, nxt.name)
                self._advance(turn, now, explain=False, asked_before=None)
                return
            self._ask(turn, nxt, explain=(explain and nxt.name == asked_before) or revisit, revisit=revisit)
            return
        st.pending = None
        assert self._consent is not None
        if st.slots[self._consent.name].value is False:
            st.pending = self._consent.name  # a later "yes" gives consent
            if st.outcome != "consent_declined":
                turn.say(self.flow.texts.consent_declined, kind="close")
                turn.event("consent_declined")
                turn.event("flow_completed", outcome="consent_declined")
                st.outcome = "consent_declined"
            return
        if st.decision is None and st.non_buyer is None:
            if st.summary == "shown":
                st.summary = "confirmed"
                turn.event("summary_confirmed")
            turn.command(
                Qualify(conversation_id=st.conversation_id, slots=st.slot_values(), notes=list(st.context))
            )

    def _skip_slot(self, turn: Turn, name: str) -> None:
        from leadgate.chat.flows.state import SlotValue

        st = turn.state
        st.slots[name] = SlotValue(value=None, raw="", flags=["skipped"], turn=st.turn, source="skip")
        turn.skipped.append(name)
        turn.event("slot_skipped", slot=name)

    def _first_name(self, st: Any) -> str:
        assert self._person is not None
        value = st.slots.get(self._person.name)
        if value is not None and isinstance(value.value, dict):
            return str(value.value.get("first") or value.value.get("full") or "")
        return ""

    def _close(self, turn: Turn, outcome: str, text: str, **data: Any) -> None:
        st = turn.state
        st.outcome, st.pending = outcome, None
        turn.say(text, kind="close", data=data)
        turn.event("flow_completed", outcome=outcome)

    def _on_decision(self, turn: Turn, decision: ChatDecision | None, now: datetime) -> None:
        """Continue after ``Qualify``: the reply follows the decision; a high-value lead also gets a person."""
        st = turn.state
        if decision is None:
            self._close(turn, "not_qualified", self.flow.texts.no_qualifier)
            return
        st.decision = decision
        turn.event(
            "lead_qualified",
            lead_id=decision.lead_id,
            decision_id=decision.decision_id,
            tier=decision.tier,
            action=decision.action,
            probability=decision.probability,
            review_required=decision.review_required,
        )
        replies = self.flow.decisions
        first_name = self._first_name(st)
        high_value = self._high_value(st) and decision.action != "discard"
        if high_value:
            summary = {
                self.flow.slot(n).label: self.flow.slot(n).validator.describe(v.value)
                for n, v in st.slots.items()
                if v.value is not None
            }
            turn.command(
                NotifyPerson(
                    conversation_id=st.conversation_id,
                    reason="high_value",
                    lead_id=decision.lead_id,
                    decision_id=decision.decision_id,
                    summary=summary,
                )
            )
            turn.event("person_notified", reason="high_value")
        if decision.action == "route_to_sales":
            intro = replies.route_to_sales.format(first_name=first_name)
            if high_value:
                intro = f"{self.flow.texts.high_value_notified} {intro}"
            st.offer_intro = intro
            turn.command(OfferSlots(after=now, visitor_tz=st.visitor_tz, n=OFFERS_SHOWN, purpose="decision"))
        elif decision.action == "nurture":
            links = "\n".join(f"- {r.title}: {r.url}" for r in self.flow.resources)
            text = replies.nurture.format(first_name=first_name) + (f"\n{links}" if links else "")
            if high_value:
                text = f"{self.flow.texts.high_value_notified} {text}"
            self._close(turn, "nurture", text, resources=[r.model_dump() for r in self.flow.resources])
        elif decision.action == "discard":
            self._close(turn, "discard", replies.discard.format(first_name=first_name))
        else:
            self._close(turn, "human_review", replies.human_review.format(first_name=first_name))

    def _high_value(self, st: Any) -> bool:
        rules = self.flow.handoff.high_value
        budget_slot = self.flow.slot_of_type("budget")
        size_slot = self.flow.slot_of_type("company_size")
        if rules.budget_at_least is not None and budget_slot is not None:
            budget = st.slots.get(budget_slot.name)
            if budget is not None and isinstance(budget.value, dict):
                floor = BudgetValidator.annual_floor(budget.value)
                if floor is not None and floor >= rules.budget_at_least:
                    return True
        if rules.company_size_at_least is not None and size_slot is not None:
            size = st.slots.get(size_slot.name)
            if size is not None and isinstance(size.value, dict):
                low = size.value.get("min")
                if isinstance(low, int) and low >= rules.company_size_at_least:
                    return True
        return False

    def _handoff(self, turn: Turn, reason: str) -> None:
        st = turn.state
        st.status, st.handoff_reason, st.pending = "handoff", reason, None
        st.offers = []
        opener = getattr(self.flow.texts.handoff_reasons, reason)
        turn.event("handoff_requested", reason=reason, slots=sorted(st.slots))
        turn.say(f"{opener} {self.flow.texts.handoff}", kind="handoff", data={"reason": reason})

    def _gate_non_buyer(self, turn: Turn, u: Understanding) -> bool:
        """Spam and job-seeker messages: reply; before a decision, close and mark the conversation."""
        if u.intent not in ("spam", "job_seeker"):
            return False
        st = turn.state
        turn.say(self.flow.texts.spam if u.intent == "spam" else self.flow.texts.job_seeker, kind="close")
        if st.decision is None:
            st.non_buyer = u.intent
            st.outcome = u.intent
            st.pending = None
            turn.event("non_buyer", visitor=u.intent, confidence=round(u.confidence, 4))
            turn.event("flow_completed", outcome=u.intent)
        return True

    def _policy_handoff(self, turn: Turn, u: Understanding) -> bool:
        rules = self.flow.handoff
        if rules.on_request and u.intent == "human_handoff":
            self._handoff(turn, "visitor_request")
            return True
        if rules.negative_sentiment is not None and u.sentiment <= rules.negative_sentiment:
            self._handoff(turn, "negative_sentiment")
            return True
        return False

    def _answer(self, turn: Turn, question: str) -> None:
        answer = self.kb.answer(question)
        if answer.grounded:
            turn.say(answer.text, kind="answer", citations=list(answer.citations))
            turn.event(
                "question_answered",
                question=question,
                sources=[c.source for c in answer.citations],
                score=answer.score,
            )
        else:
            turn.say(
                self.flow.texts.unknown,
                kind="unknown",
                options=[{"id": HANDOFF_OPTION, "label": self.flow.texts.talk_to_person}],
            )
            turn.event("question_unanswered", question=question, score=answer.score)

    def _misunderstood(self, turn: Turn, text: str | None = None) -> bool:
        """Count a misunderstanding; hand off when there were too many. Returns whether it handed off."""
        st = turn.state
        st.misunderstandings += 1
        turn.event("misunderstood", count=st.misunderstandings)
        if st.misunderstandings >= self.flow.handoff.max_misunderstandings:
            self._handoff(turn, "misunderstanding")
            return True
        turn.say(text or self.flow.texts.misunderstood)
        return False

    # ------------------------------------------------------------------ offers and booking

    def _show_offers(self, turn: Turn, text: str, offers: list[SlotOffer]) -> None:
        turn.state.offers = offers
        turn.event("slots_offered", offer_ids=[o.offer_id for o in offers], labels=[o.label for o in offers])
        listed = "\n".join(f"{i}. {o.label}" for i, o in enumerate(offers, start=1))
        turn.say(
            f"{text}\n{listed}", kind="offer", options=[{"id": o.offer_id, "label": o.label} for o in offers]
        )

    def _on_offers(self, turn: Turn, command: OfferSlots, offers: list[SlotOffer]) -> None:
        """Continue after ``OfferSlots``: show them, or close with ``no_slots`` when there are none."""
        st = turn.state
        if not offers:
            assert self._email is not None
            st.offers = []
            email = st.slots[self._email.name].value if self._email.name in st.slots else None
            self._close(turn, "no_slots", self.flow.texts.no_slots.format(email=email or ""))
            return
        texts = self.flow.texts
        intro = {
            "decision": st.offer_intro or texts.pick_again,
            "more": texts.more_slots,
            "retry": texts.slot_taken,
        }
        st.offer_intro = None
        self._show_offers(turn, intro[command.purpose], offers)

    def _book(self, turn: Turn, offer: SlotOffer) -> None:
        """Ask the service to book ``offer`` (``Book``)."""
        st = turn.state
        assert self._person is not None and self._email is not None
        person = st.slots[self._person.name].value if self._person.name in st.slots else None
        email = st.slots[self._email.name].value if self._email.name in st.slots else ""
        turn.command(
            Book(
                offer=offer,
                conversation_id=st.conversation_id,
                attendee_name=str(person["full"] if isinstance(person, dict) else person or ""),
                attendee_email=str(email or ""),
                visitor_tz=st.visitor_tz,
            )
        )

    def _on_booking(self, turn: Turn, result: BookingResult, now: datetime) -> None:
        """Continue after ``Book``: confirm, or apologize and offer the next free slots."""
        st = turn.state
        offer = result.offer
        if result.booked:
            st.booking, st.offers = result, []
            turn.event(
                "demo_booked",
                booking_id=result.booking_id,
                offer_id=offer.offer_id,
                rep_id=offer.rep_id,
                start=offer.start.isoformat(),
                ics_path=result.ics_path,
            )
            st.outcome, st.pending = "booked", None
            turn.say(
                self.flow.texts.booked.format(label=offer.label, ics_path=result.ics_path or ""),
                kind="booked",
                data={
                    "booking_id": result.booking_id,
                    "ics_path": result.ics_path,
                    "offer_id": offer.offer_id,
                },
            )
            turn.event("flow_completed", outcome="booked")
            return
        turn.event("booking_failed", offer_id=offer.offer_id, reason=result.reason)
        turn.command(OfferSlots(after=now, visitor_tz=st.visitor_tz, n=OFFERS_SHOWN, purpose="retry"))
