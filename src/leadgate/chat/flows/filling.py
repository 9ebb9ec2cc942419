"""Slot filling: every value a message holds is offered to every open slot it fits, validated, and stored.

Sources, in order, per slot: NLU entities (any slot, in any order: one message may fill name, role and
company), the language model's values, then, for the slot asked, the message read as a short answer in the
slot's context (an answer to "which company" is a company), a yes/no, or the whole message for a free-text
slot. A free-text slot never swallows a question, a correction, a skip or a "later".
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from leadgate.chat.flows.model import SlotSpec
from leadgate.chat.flows.state import ConversationState, SlotValue
from leadgate.chat.flows.turn import Turn
from leadgate.chat.flows.understand import (
    GREETING,
    QUESTION_INTENTS,
    SEEKS_INFO,
    STATEMENT_OPENING,
    WORD,
    Understanding,
    UnderstandingPart,
    looks_like_question,
)
from leadgate.chat.flows.validators import ValidationContext, Verdict
from leadgate.chat.nlu.company import company_from_email

_CHANGE = re.compile(
    r"^\s*(?:(?:please|pls|can you|could you)\s+)?(?:change|update|set|make|correct)\s+(?:my\s+|the\s+|our\s+)?"
    r"(?P<label>[a-z][a-z ]{1,30}?)\s+to\s+(?P<value>.+?)\s*[.!?]?\s*$",
    re.IGNORECASE,
)
_ROLE_PHRASE = re.compile(
    r"^(?:i|i'm|i am)\s+(?:run|lead|manage|head|own|oversee|look after|handle|am in charge of|in charge of|"
    r"work in|work on|work for)\s+(?:the\s+|our\s+|a\s+)?[a-z][\w&/ -]{1,40}?(?=\s+(?:there|here)\s*$|$)",
    re.IGNORECASE,
)
_KEEP_HELD = re.compile(
    r"\b(?:only (?:e-?mail|address|one)|use (?:that|this|it|the same)|(?:that|this|it)(?:'s| is) fine|"
    r"(?:don'?t|do not) have (?:one|a work)|no work (?:e-?mail|address)|keep (?:that|this|it))\b",
    re.IGNORECASE,
)
_NAMEWORD = re.compile(r"\b(?:name|i'm|i am|this is|call me)\b", re.IGNORECASE)
_MY_X_IS = re.compile(
    r"^\s*(?:(?:sorry|actually|oops|wait)[,\s]+)*(?:my|the|our)\s+(?P<label>[a-z][a-z ]{1,30}?)\s+"
    r"(?:is|should be|=)\s+(?P<value>.+?)\s*[.!?]?\s*$",
    re.IGNORECASE,
)


class FillingPart(UnderstandingPart):
    """Takes slot values from an :class:`Understanding` into the turn's state (see the module docstring)."""

    def _is_statement(self, u: Understanding) -> bool:
        """A first-person statement ("we need to understand feature adoption", "hi, we're evaluating ...")."""
        if looks_like_question(GREETING.sub("", u.text).lstrip(" ,!.")) or u.question is not None:
            return False
        if SEEKS_INFO.search(u.text) is not None:
            return False
        return STATEMENT_OPENING.match(u.text) is not None and len(WORD.findall(u.text)) >= 5

    def _note_context(self, turn: Turn, u: Understanding) -> bool:
        """Keep a statement that answered no slot as context (offered to the free-text slot later)."""
        if turn.touched or not self._is_statement(u):
            return False
        if u.intent not in (None, "inform", "greet", "product_question", "out_of_scope"):
            return False
        st = turn.state
        note = GREETING.sub("", u.text).strip(" ,.!")
        note = note[:1].upper() + note[1:]
        if note not in st.context:
            st.context.append(note)
        turn.noted = True
        turn.event("context_noted", chars=len(note))
        free_text = next((s for s in self._slots if "text" in s.sources), None)
        if free_text is not None and free_text.name not in st.slots:
            self._apply(turn, free_text, [(note, note, "context")], datetime(2000, 1, 1))
            turn.noted = free_text.name not in turn.taken
        if turn.noted:
            turn.say(self.flow.texts.context_noted)
        return True

    def _missed(self, turn: Turn, slot: str | None, *, refused: bool) -> bool:
        """Count a failed answer to the asked slot; True when this is its second (the slot moves on).

        Only answers of two words or more count (a real attempt, "I run RevOps there"); gibberish counts as a
        misunderstanding, which hands off after ``handoff.max_misunderstandings``.
        """
        st = turn.state
        if slot is None or slot in st.slots or slot in st.revisited:
            return False
        if "yes_no" in self.flow.slot(slot).sources:
            return False
        st.misses[slot] = st.misses.get(slot, 0) + 1
        return st.misses[slot] >= 2 and not refused

    def _as_free_text_answer(self, st: ConversationState, u: Understanding) -> Understanding:
        """Read a statement as the answer to a pending free-text slot, whatever the classifier says.

        Asked "What would you like to solve?", a visitor answers with statements that read like product
        questions or demo requests ("understand which features our customers use"). A message that does not
        look like a question (``looks_like_question``) answers the pending free-text slot; a handoff request,
        spam or a job seeker's message never does.
        """
        pending = next((s for s in self._slots if s.name == st.pending), None)
        if (
            pending is None
            or "text" not in pending.sources
            or u.intent not in QUESTION_INTENTS | {"demo_request", "out_of_scope"}
            or looks_like_question(u.text)
        ):
            return u
        return replace(u, intent="inform", question=None, inform_p=1.0)

    def _context(self, st: ConversationState, local_now: datetime) -> ValidationContext:
        return ValidationContext(
            today=local_now.date(), region=self.region, free_mail_asked=st.free_mail_asked
        )

    def _slot_by_label(self, label: str) -> SlotSpec | None:
        wanted = label.strip().lower().rstrip("s")
        for slot in self._slots:
            names = {slot.label.lower(), slot.name.replace("_", " "), slot.label.lower().split()[-1]}
            if wanted in {n.rstrip("s") for n in names}:
                return slot
        aliases = {"name": "person_name", "email": "work_email", "size": "company_size", "title": "role"}
        name = aliases.get(wanted)
        return next((s for s in self._slots if s.name == name), None)

    def _explicit_change(self, turn: Turn, u: Understanding, local_now: datetime) -> bool:
        """A value for a named slot ("change company to Corvex", "my budget is 50k"); whether it was taken."""
        for pattern in (_CHANGE, _MY_X_IS):
            m = pattern.match(u.text)
            if m is None:
                continue
            slot = self._slot_by_label(m.group("label"))
            if slot is None:
                continue
            value = m.group("value").strip().rstrip(".!?")
            found = [
                e
                for e in self.nlu.extractor.extract(value, local_now, region=self.region)
                if e.entity in slot.sources
            ]
            candidates: list[tuple[Any, str, str]] = [(dict(e.normalized), e.value, "nlu") for e in found[:1]]
            entity = self._in_context(slot, value, local_now)
            if entity is not None:
                candidates.append((dict(entity.normalized), value, "context"))
            explicit = pattern is _CHANGE or value[:1].isupper()  # "our company is growing" is no name
            if explicit and ("text" in slot.sources or slot.validator.type in ("company_name", "role")):
                candidates.append((value, value, "text"))
            if candidates and self._apply(turn, slot, candidates, local_now):
                turn.explicit = True
                return True
        return False

    def _collect(self, turn: Turn, u: Understanding, local_now: datetime, *, exclude: frozenset[str]) -> None:
        """Take every slot value the message holds."""
        st = turn.state
        if self._explicit_change(turn, u, local_now):
            return
        company = self._company
        if st.proposed_company is not None and company is not None and st.pending == company.name:
            if u.intent == "affirm":
                self._apply(turn, company, [(st.proposed_company, u.text, "email_domain")], local_now)
                return
            if u.intent == "deny" and not any(e.entity == "company" for e in u.entities):
                st.proposed_company = None
                turn.declined_proposal = True
                return
        entity_types = {e.entity for e in u.entities}
        core, cue = self._strip_cues(u.text)
        target = st.last_filled if cue and st.last_filled and st.last_filled != st.pending else None
        corrected_by_cue = False
        if target is not None:
            slot = self.flow.slot(target)
            if "text" not in slot.sources and not (set(slot.sources) & entity_types):
                entity = self._in_context(slot, core, local_now)
                if entity is not None:
                    corrected_by_cue = self._apply(
                        turn, slot, [(dict(entity.normalized), core, "context")], local_now
                    )
        only_pending = u.intent == "out_of_scope"  # "will it rain tomorrow?" gives no timeline
        for slot in self._slots:
            if slot.validator.type in exclude or slot.name in exclude:
                continue
            if only_pending and slot.name != st.pending:
                continue
            candidates: list[tuple[Any, str, str]] = [
                (v, raw, "nlu") for v, raw in self._entity_candidates(slot, u, st)
            ]
            if candidates and self._keeps_name(slot, st, u, cue):
                candidates = []
            if slot.name in u.llm_slots:
                value, raw = self._llm_candidate(slot, u.llm_slots[slot.name], local_now)
                candidates.append((value, raw, "llm"))
            if slot.name == st.pending and not corrected_by_cue:
                candidates.extend(self._pending_candidates(slot, u, core, cue, local_now, entity_types, st))
            if candidates:
                self._apply(turn, slot, candidates, local_now)
            elif slot.name == st.pending and not corrected_by_cue:
                self._maybe_skip(turn, slot, u)
        self._propose_company(turn)

    def _keeps_name(self, slot: SlotSpec, st: ConversationState, u: Understanding, cue: bool) -> bool:
        """Whether a name given already is kept against this message's person entity.

        It changes only when asked, with a cue ("sorry, it's ...") or the word "name": a bare "Northwind
        Traders" later is not a person's name overwriting it.
        """
        return (
            slot.validator.type == "person_name"
            and slot.name in st.slots
            and st.pending != slot.name
            and not cue
            and _NAMEWORD.search(u.text) is None
        )

    def _propose_company(self, turn: Turn) -> None:
        """After a work email, propose the company its domain names (asked as "Is X the company you're with?")."""
        st = turn.state
        if self._email is None or self._company is None or self._email.name not in turn.taken:
            return
        if self._company.name in st.slots:
            return
        email = st.slots[self._email.name].value
        guess = company_from_email(str(email)) if isinstance(email, str) else None
        if guess is not None:
            st.proposed_company = guess
            turn.event("company_proposed", company=guess)

    def _pending_candidates(
        self,
        slot: SlotSpec,
        u: Understanding,
        core: str,
        cue: bool,
        local_now: datetime,
        entity_types: set[str],
        st: ConversationState,
    ) -> list[tuple[Any, str, str]]:
        out: list[tuple[Any, str, str]] = []
        if u.intent is not None and u.intent in QUESTION_INTENTS | {
            "human_handoff",
            "demo_request",
            "out_of_scope",
        }:
            return out
        if "yes_no" not in slot.sources and (self._is_later(u) or self._is_short_skip(u)):
            return out
        if "yes_no" in slot.sources and u.intent in ("affirm", "deny"):
            out.append((u.intent == "affirm", u.text, "yes_no"))
            return out
        entity = self._in_context(slot, core, local_now)
        if entity is not None:
            out.append((dict(entity.normalized), core, "context"))
        plain = (
            not entity_types
            and not self._is_skip(u)
            and not self._is_later(u)
            and not cue
            and not looks_like_question(u.text)
            and u.intent not in ("affirm", "deny", "greet", "goodbye")
        )
        if slot.validator.type == "role" and entity is None and plain:
            m = _ROLE_PHRASE.match(core)
            if m is not None:
                out.append((m.group(0).removeprefix("I ").removeprefix("i "), core, "text"))
        if (
            "text" in slot.sources
            and not entity_types
            and u.inform_p >= self.flow.intents.free_text_min_inform
            and not self._is_skip(u)
            and not self._is_later(u)
            and not cue
            and not looks_like_question(u.text)
            and u.intent not in ("affirm", "deny", "greet", "goodbye")
        ):
            answer = u.text.strip()
            out.append((answer, answer, "text"))
        return out

    def _is_skip(self, u: Understanding) -> bool:
        return u.intent == "deny" or (self._skip is not None and self._skip.search(u.text) is not None)

    def _is_short_skip(self, u: Understanding) -> bool:
        """A skip phrase that is the whole answer ("skip", "I'd rather not say"), not part of a value."""
        return self._skip is not None and self._skip.search(u.text) is not None and len(u.text.split()) <= 5

    def _is_later(self, u: Understanding) -> bool:
        return self._later is not None and self._later.search(u.text) is not None

    def _defer(self, turn: Turn, slot: SlotSpec, why: str) -> None:
        st = turn.state
        if slot.name not in st.deferred:
            st.deferred.append(slot.name)
        turn.deferred.append(slot.name)
        if why == "declined":
            turn.declined.append(slot.name)
        turn.event("slot_deferred", slot=slot.name, reason=why)

    def _maybe_skip(self, turn: Turn, slot: SlotSpec, u: Understanding) -> None:
        st = turn.state
        if (
            slot.validator.type == "work_email"
            and st.held_email is not None
            and st.free_mail_asked
            and (u.intent == "affirm" or _KEEP_HELD.search(u.text) is not None)
        ):
            self._fill(
                turn, slot, Verdict(ok=True, value=st.held_email, flags=("free_mail",)), st.held_email, "held"
            )
            st.held_email = None
            return
        if self._is_later(u) and slot.name not in st.revisited:
            self._defer(turn, slot, "later")
            return
        if not self._is_skip(u):
            return
        if slot.validator.type == "work_email" and st.held_email is not None:
            self._fill(
                turn, slot, Verdict(ok=True, value=st.held_email, flags=("free_mail",)), st.held_email, "held"
            )
            st.held_email = None
            return
        if slot.can_skip and slot.name not in st.slots:
            st.slots[slot.name] = SlotValue(
                value=None, raw=u.text, flags=["skipped"], turn=st.turn, source="skip"
            )
            turn.skipped.append(slot.name)
            turn.event("slot_skipped", slot=slot.name)
        elif not slot.can_skip and slot.name not in st.revisited and "yes_no" not in slot.sources:
            self._defer(turn, slot, "declined")

    def _apply(
        self, turn: Turn, slot: SlotSpec, candidates: list[tuple[Any, str, str]], local_now: datetime
    ) -> bool:
        """Validate the candidates in order; store the first accepted. Returns whether one was stored."""
        st = turn.state
        ctx = self._context(st, local_now)
        first_refusal: tuple[Verdict, str, str] | None = None
        for value, raw, source in candidates:
            verdict = slot.validator.check(value, ctx)
            if verdict.ok:
                self._fill(turn, slot, verdict, raw, source)
                if slot.validator.type == "work_email":
                    st.held_email = None
                if slot.validator.type == "company_name":
                    st.proposed_company = None
                return True
            if verdict.hold:
                st.held_email = str(verdict.value)
                turn.held_domain = str(verdict.value).rpartition("@")[2]
                turn.event(
                    "slot_rejected", slot=slot.name, reason="free_mail", value=verdict.value, source=source
                )
                return False
            if first_refusal is None:
                first_refusal = (verdict, raw, source)
        if first_refusal is not None:
            verdict, raw, source = first_refusal
            reason = verdict.reason or "it is not valid"
            turn.event("slot_rejected", slot=slot.name, reason=reason, raw=raw, source=source)
            if source != "llm":
                turn.refused.append((slot.name, reason))
        return False

    def _fill(self, turn: Turn, slot: SlotSpec, verdict: Verdict, raw: str, source: str) -> None:
        st = turn.state
        old = st.slots.get(slot.name)
        new = SlotValue(value=verdict.value, raw=raw, flags=list(verdict.flags), turn=st.turn, source=source)
        st.last_filled = slot.name
        if slot.name in st.deferred:
            st.deferred.remove(slot.name)
        if slot.validator.type == "budget" and old is not None:
            new = _keep_budget_terms(old, new)
        if old is not None and old.value == new.value:
            turn.repeated.append(slot.name)
            return
        st.slots[slot.name] = new
        if old is None:
            turn.taken.append(slot.name)
            turn.event("slot_filled", slot=slot.name, value=new.value, flags=new.flags, source=source)
        else:
            turn.corrected.append((slot.name, old.value))
            turn.event(
                "slot_corrected",
                slot=slot.name,
                old=old.value,
                value=new.value,
                flags=new.flags,
                source=source,
            )

    def _next_slot(self, st: ConversationState) -> SlotSpec | None:
        """The first slot not answered and not deferred; then the deferred ones, in the order deferred.

        The consent question stays last: deferred slots are asked again before it.
        """
        found = next((s for s in self._slots if s.name not in st.slots and s.name not in st.deferred), None)
        deferred = next((self.flow.slot(n) for n in st.deferred if n not in st.slots), None)
        if found is not None and (deferred is None or found.validator.type != "consent"):
            return found
        return deferred if deferred is not None else found


def _keep_budget_terms(old: SlotValue, new: SlotValue) -> SlotValue:
    """A budget correction without currency or period ("the budget is 50k, not 15k") keeps the old ones."""
    if not isinstance(old.value, dict) or not isinstance(new.value, dict):
        return new
    value = dict(new.value)
    for key in ("currency", "period", "per"):
        if value.get(key) is None and old.value.get(key) is not None:
            value[key] = old.value[key]
    return new.model_copy(update={"value": value})
