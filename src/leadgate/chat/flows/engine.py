"""The dialogue engine: a flow, a state and a visitor message in; the next state, replies and events out.

The engine is pure: it touches no database or network itself. The knowledge base, the scheduler, the
qualifier and the optional language model come in through the protocols of ``leadgate.chat.ports``; the
caller persists the returned state and events. Visitor text is only data: it fills slots and picks
intents, never changes what the assistant is told to do, and no reply echoes the flow's configuration.

One turn (``Assistant.handle``), in order:

1. A conversation a person has (``handoff``) gets no reply; the service stores the message, the engine
   only records ``held_for_person`` (no copy of the text).
2. The message is understood: NLU intent (gated by the flow's per-intent thresholds) and entities, the
   language model's slots (when one is configured and answers), VADER sentiment.
3. Spam and job-seeker messages end the flow with their text (``outcome``); such a conversation is never
   qualified.
4. Every slot value in the message is taken: NLU entities, then the language model's values, then a short
   answer to the slot asked, read in the slot's context. Each goes through the slot's validator; a value for
   a filled slot is a correction. One reply lists what was taken, corrected, refused (and why) and skipped.
5. A request for a person, a clearly negative message, or too many consecutive misunderstandings hand
   the conversation to a person.
6. Questions are answered from the knowledge base (or honestly not), then the slot asked is asked again.
7. When every slot is answered: consent declined ends the flow without qualifying; otherwise the qualifier
   decides, and the reply follows the decision (demo slots, resources, review, polite close); a high-value
   lead goes to a person. Slots are picked by option id or by words and booked through the scheduler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadgate.chat.flows.model import INTENT_NAMES, Flow, SlotSpec
from leadgate.chat.flows.picking import pick_offer
from leadgate.chat.flows.sentiment import compound_sentiment
from leadgate.chat.flows.state import ChatEvent, ConversationState, EventType, SlotValue, TurnResult
from leadgate.chat.flows.validators import BudgetValidator, ValidationContext, Verdict
from leadgate.chat.nlu import NLU, Entity, default_nlu
from leadgate.chat.ports import (
    BotMessage,
    KnowledgeAnswerer,
    LanguageModel,
    LeadQualifier,
    Scheduler,
    SlotOffer,
)

QUESTION_INTENTS = frozenset({"product_question", "pricing", "support"})
"""Intents answered from the knowledge base."""

HANDOFF_OPTION = "handoff"
"""Option id of the "Talk to a person" quick reply."""

PHRASED_KINDS = frozenset({"text", "ask"})
"""Reply kinds the language model may rephrase (never answers, offers, bookings, handoffs or closes)."""

ReplyKind = Literal["text", "ask", "answer", "unknown", "offer", "booked", "handoff", "close"]

OFFERS_SHOWN = 3
"""Demo slots offered at a time."""

_SPEAKER_LINE = re.compile(r"(?im)^\s*(visitor|user|human|customer|assistant|bot|agent|ai)\s*:")
_FACT_TOKEN = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.-]+|\d[\d,.:]*")


_SENTENCE = re.compile(r"[^.!?;]+[.!?;]*")
# A message "looks like a question" when it ends in "?" or opens with an interrogative or an auxiliary verb
# (English question formation); anything else is a statement.
_QUESTION_OPENING = re.compile(
    r"^\s*(how|what|what's|whats|which|who|whom|whose|where|when|why|can|could|do|does|did|is|are|was|"
    r"were|will|would|should|shall|may|might|have|has|any|is there|are there)\b",
    re.IGNORECASE,
)


def looks_like_question(text: str) -> bool:
    """True when ``text`` ends in "?" or opens with an interrogative or auxiliary ("how", "do", "can")."""
    return text.rstrip().endswith("?") or _QUESTION_OPENING.match(text) is not None


_TRAILING_QUESTION = re.compile(
    r",\s*((?:do|does|can|could|is|are|will|would|how|what|which|when|where|who|why)\b[^?]*\?)", re.IGNORECASE
)


@dataclass
class _Understanding:
    text: str
    question: str | None
    intent: str | None
    top_intent: str
    confidence: float
    inform_p: float
    intent_source: str
    entities: list[Entity]
    llm_slots: dict[str, Any]
    sentiment: float


@dataclass
class _Turn:
    """What one turn accumulates before it becomes a ``TurnResult``."""

    state: ConversationState
    replies: list[BotMessage] = field(default_factory=list)
    events: list[ChatEvent] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    corrected: list[tuple[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    held_domain: str | None = None

    def event(self, event_type: EventType, **data: Any) -> None:
        self.events.append(ChatEvent(type=event_type, data=data))

    def say(self, text: str, kind: ReplyKind = "text", **extra: Any) -> None:
        self.replies.append(BotMessage(text=text, kind=kind, **extra))

    @property
    def touched(self) -> bool:
        return bool(
            self.taken or self.corrected or self.refused or self.skipped or self.repeated or self.held_domain
        )


def _aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (e.g. datetime.now(UTC))")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _phrase_list(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p.lower()).replace(r"\ ", r"\s+") for p in phrases)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


class Assistant:
    """The website chat assistant for one flow.

    Args:
        flow: the qualification flow.
        kb: answers product, pricing and support questions (``grounded=False`` means "I don't know").
        scheduler: offers and books demo slots; None means hot leads are told a colleague will e-mail.
        qualifier: stores the lead and decides it; None means completed conversations go to review.
        nlu: the NLU; None means ``default_nlu()`` (trained on first use, about 1.5 s).
        llm: an optional language model: extracts slots (validated like NLU values) and rephrases plain
            replies; a None answer falls back to the NLU and the flow's own text.
        region: ISO 3166-1 alpha-2 default region for phone numbers and numeric dates.

    Raises:
        ValueError: if ``region`` is unknown to the NLU.
    """

    def __init__(
        self,
        flow: Flow,
        *,
        kb: KnowledgeAnswerer,
        scheduler: Scheduler | None,
        qualifier: LeadQualifier | None,
        nlu: NLU | None = None,
        llm: LanguageModel | None = None,
        region: str = "US",
    ) -> None:
        self.flow = flow
        self.kb = kb
        self.scheduler = scheduler
        self.qualifier = qualifier
        self.nlu = nlu if nlu is not None else default_nlu()
        self.llm = llm
        self.region = region
        self._slots = flow.ordered_slots()
        self._person = flow.slot_of_type("person_name")
        self._email = flow.slot_of_type("work_email")
        self._consent = flow.slot_of_type("consent")
        self._cue = _phrase_list(flow.correction_cues)
        self._skip = _phrase_list(flow.skip_phrases)
        self.nlu.extractor.extract("warm up", datetime(2026, 1, 1), region=region)

    # ------------------------------------------------------------------ public

    def start(self, *, conversation_id: str, now: datetime, visitor_tz: str) -> TurnResult:
        """Open a conversation: the greeting and the first question.

        Args:
            conversation_id: the conversation's id.
            now: the current time (aware).
            visitor_tz: the visitor's IANA time zone (e.g. ``Europe/Berlin``).

        Returns:
            The first state (turn 0), the greeting and the first ``ask``, and a ``flow_started`` event.

        Raises:
            ValueError: if ``now`` is naive or ``visitor_tz`` is unknown.
        """
        _aware(now)
        _zone(visitor_tz)
        state = ConversationState(conversation_id=conversation_id, flow=self.flow.ref, visitor_tz=visitor_tz)
        turn = _Turn(state)
        turn.event("flow_started", flow=self.flow.ref)
        turn.say(self.flow.texts.greeting)
        self._ask(turn, self._slots[0], explain=False)
        return self._result(turn)

    def handle(
        self, state: ConversationState, text: str, *, now: datetime, option_id: str | None = None
    ) -> TurnResult:
        """Handle one visitor message (or a click on a quick reply).

        Args:
            state: the conversation's current state; it is not changed.
            text: the visitor's message (for a click, the option's label).
            now: the current time (aware).
            option_id: the id of a quick reply the visitor clicked: an offer id, or ``handoff``.

        Returns:
            The new state, the replies (none while a person has the conversation) and the events.

        Raises:
            ValueError: if ``now`` is naive, the state belongs to another flow, or the message is empty
                (without an option) or too long for the NLU.
            Exception: whatever the knowledge base, scheduler, qualifier or language model raise (the
                engine does not hide a failing collaborator).
        """
        _aware(now)
        if state.flow != self.flow.ref:
            raise ValueError(f"state is for flow {state.flow!r}; this assistant runs {self.flow.ref!r}")
        st = state.model_copy(deep=True)
        st.turn += 1
        turn = _Turn(st)
        if st.status == "handoff":
            turn.event("held_for_person", option_id=option_id)
            return self._result(turn)
        if option_id == HANDOFF_OPTION:
            self._handoff(turn, "visitor_request")
            return self._result(turn)
        if option_id is not None:
            chosen = next((o for o in st.offers if o.offer_id == option_id), None)
            if chosen is not None and st.outcome is None:
                self._book(turn, chosen, now)
                return self._result(turn)
        if not text or not text.strip():
            raise ValueError("cannot handle an empty message")
        local_now = now.astimezone(_zone(st.visitor_tz)).replace(tzinfo=None)
        u = self._understand(
            text, now, local_now, self.flow.slot(st.pending).sources[0] if st.pending else None
        )
        turn.event(
            "intent",
            name=u.intent,
            top=u.top_intent,
            confidence=round(u.confidence, 4),
            source=u.intent_source,
            sentiment=round(u.sentiment, 4),
        )
        if st.outcome is not None or st.status == "closed":
            self._completed_turn(turn, u, now, local_now)
        elif st.offers:
            self._offer_turn(turn, u, now, local_now)
        else:
            self._collect_turn(turn, u, now, local_now)
        return self._result(turn)

    # ------------------------------------------------------------------ understanding

    def _understand(
        self, text: str, now: datetime, local_now: datetime, expecting: str | None = None
    ) -> _Understanding:
        parsed = self.nlu.parse(text, now=local_now, region=self.region, expecting=expecting)
        top, confidence = parsed.intent.name, parsed.intent.confidence
        inform_p = next((s.confidence for s in parsed.intent_ranking if s.name == "inform"), 0.0)
        intent: str | None = top if confidence >= self.flow.intents.threshold(top) else None
        source = "nlu"
        llm_slots: dict[str, Any] = {}
        if self.llm is not None:
            extracted = self.llm.extract_slots(text, slot_names=[s.name for s in self._slots], now=now)
            if extracted is not None:
                names = {s.name for s in self._slots}
                llm_slots = {k: v for k, v in extracted.slots.items() if k in names and v is not None}
                if (
                    confidence < self.flow.intents.llm_intent_below
                    and extracted.intent is not None
                    and extracted.intent in INTENT_NAMES
                ):
                    intent, source = extracted.intent, "llm"
        question = text if intent in QUESTION_INTENTS else None
        if question is None and intent in (None, "inform", "affirm", "deny", "greet"):
            question = self._question_clause(text)
        return _Understanding(
            text=text,
            question=question,
            intent=intent,
            top_intent=top,
            confidence=confidence,
            inform_p=inform_p,
            intent_source=source,
            entities=list(parsed.entities),
            llm_slots=llm_slots,
            sentiment=compound_sentiment(text),
        )

    def _question_clause(self, text: str) -> str | None:
        """A clause ending in "?" that the classifier reads as a question for the knowledge base, if any.

        A message mixing data and a question ("we're 50 people, do you integrate with HubSpot?") is
        classified as a whole as ``inform``; its question clause is classified on its own.
        """
        whole = text.strip()
        for sentence in _SENTENCE.findall(text):
            if not sentence.rstrip().endswith("?"):
                continue
            clauses = [sentence, *(m.group(1) for m in _TRAILING_QUESTION.finditer(sentence))]
            for raw in clauses:
                clause = raw.strip(" ,")
                if clause == whole or len(clause) < 8:
                    continue
                predicted = self.nlu.classifier.predict(clause)
                threshold = self.flow.intents.threshold(predicted.name)
                if predicted.name in QUESTION_INTENTS and predicted.confidence >= threshold:
                    return clause
        return None

    def _strip_cues(self, text: str) -> tuple[str, bool]:
        """Remove leading correction cues ("sorry, I meant"); return the rest and whether any was there."""
        core = text.strip()
        found = False
        if self._cue is not None:
            while True:
                m = self._cue.match(core)
                if m is None:
                    break
                found = True
                core = core[m.end() :].lstrip(" ,.:;!-—")
        return core.rstrip(" .!?,;:"), found

    def _in_context(self, slot: SlotSpec, answer: str, local_now: datetime) -> Entity | None:
        """Read a short answer with the slot's context templates; the entity must cover all of it."""
        if not answer:
            return None
        for template in slot.context:
            offset = template.index("{text}")
            sentence = template.replace("{text}", answer)
            for entity in self.nlu.extractor.extract(sentence, local_now, region=self.region):
                if (
                    entity.entity in slot.sources
                    and entity.start <= offset
                    and entity.end >= offset + len(answer)
                ):
                    return entity
        return None

    def _entity_candidates(
        self, slot: SlotSpec, u: _Understanding, st: ConversationState
    ) -> list[tuple[Any, str]]:
        found = [e for e in u.entities if e.entity in slot.sources]
        if not found:
            return []
        roles = [e for e in found if e.entity == "role"]
        authority = [e for e in found if e.entity == "authority"]
        if slot.validator.type == "role" and authority:
            base: dict[str, Any] = dict(roles[0].normalized) if roles else {}
            if not roles and slot.name in st.slots and isinstance(st.slots[slot.name].value, dict):
                base = dict(st.slots[slot.name].value)
            base["authority"] = authority[0].normalized.get("authority")
            raw = ", ".join(e.value for e in (roles[:1] + authority[:1]))
            return [(base, raw)]
        return [(dict(e.normalized), e.value) for e in found]

    def _llm_candidate(self, slot: SlotSpec, value: Any, local_now: datetime) -> tuple[Any, str]:
        """A language model's value, re-read by the NLU when it is a string (so both agree on validity)."""
        if not isinstance(value, str):
            return value, str(value)
        entity = self._in_context(slot, value.strip(), local_now)
        if entity is None:
            for e in self.nlu.extractor.extract(value, local_now, region=self.region):
                if e.entity in slot.sources:
                    entity = e
                    break
        if entity is not None:
            return dict(entity.normalized), value
        return value, value

    # ------------------------------------------------------------------ slots

    def _context(self, st: ConversationState, local_now: datetime) -> ValidationContext:
        return ValidationContext(
            today=local_now.date(), region=self.region, free_mail_asked=st.free_mail_asked
        )

    def _collect(
        self, turn: _Turn, u: _Understanding, local_now: datetime, *, exclude: frozenset[str]
    ) -> None:
        """Take every slot value the message holds (see the module docstring, step 4)."""
        st = turn.state
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
            if slot.name in u.llm_slots:
                value, raw = self._llm_candidate(slot, u.llm_slots[slot.name], local_now)
                candidates.append((value, raw, "llm"))
            if slot.name == st.pending and not corrected_by_cue:
                candidates.extend(self._pending_candidates(slot, u, core, cue, local_now, entity_types))
            if candidates:
                self._apply(turn, slot, candidates, local_now)
            elif slot.name == st.pending and not corrected_by_cue:
                self._maybe_skip(turn, slot, u)

    def _pending_candidates(
        self,
        slot: SlotSpec,
        u: _Understanding,
        core: str,
        cue: bool,
        local_now: datetime,
        entity_types: set[str],
    ) -> list[tuple[Any, str, str]]:
        out: list[tuple[Any, str, str]] = []
        if u.intent is not None and u.intent in QUESTION_INTENTS | {
            "human_handoff",
            "demo_request",
            "out_of_scope",
        }:
            return out
        if "yes_no" in slot.sources and u.intent in ("affirm", "deny"):
            out.append((u.intent == "affirm", u.text, "yes_no"))
            return out
        entity = self._in_context(slot, core, local_now)
        if entity is not None:
            out.append((dict(entity.normalized), core, "context"))
        if (
            "text" in slot.sources
            and not entity_types
            and u.inform_p >= self.flow.intents.free_text_min_inform
            and not self._is_skip(u)
        ):
            answer = core if cue else u.text.strip()
            out.append((answer, answer, "text"))
        return out

    def _is_skip(self, u: _Understanding) -> bool:
        return u.intent == "deny" or (self._skip is not None and self._skip.search(u.text) is not None)

    def _maybe_skip(self, turn: _Turn, slot: SlotSpec, u: _Understanding) -> None:
        st = turn.state
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

    def _apply(
        self, turn: _Turn, slot: SlotSpec, candidates: list[tuple[Any, str, str]], local_now: datetime
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
                return True
            if verdict.hold:
                st.held_email = str(verdict.value)
                st.free_mail_asked = True
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

    def _fill(self, turn: _Turn, slot: SlotSpec, verdict: Verdict, raw: str, source: str) -> None:
        st = turn.state
        old = st.slots.get(slot.name)
        new = SlotValue(value=verdict.value, raw=raw, flags=list(verdict.flags), turn=st.turn, source=source)
        st.last_filled = slot.name
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

    def _describe(self, name: str, value: Any) -> str:
        slot = self.flow.slot(name)
        if value is None:
            return f"{slot.label} skipped"
        return f"{slot.label} {slot.validator.describe(value)}"

    def _summarize(self, turn: _Turn) -> None:
        """One reply listing what this turn took, corrected, refused and skipped."""
        texts = self.flow.texts
        st = turn.state
        parts = []
        if turn.taken:
            items = ", ".join(self._describe(n, st.slots[n].value) for n in turn.taken)
            parts.append(texts.noted.format(items=items))
        if turn.corrected:
            items = ", ".join(
                f"{self._describe(n, st.slots[n].value)} (was {self.flow.slot(n).validator.describe(old)})"
                if old is not None
                else self._describe(n, st.slots[n].value)
                for n, old in turn.corrected
            )
            parts.append(texts.updated.format(items=items))
        for name, reason in turn.refused:
            parts.append(texts.refused.format(label=self.flow.slot(name).label, reason=reason))
        for name in turn.skipped:
            parts.append(texts.skipped.format(label=self.flow.slot(name).label))
        if parts:
            turn.say(
                " ".join(parts),
                data={
                    "taken": list(turn.taken),
                    "corrected": [n for n, _ in turn.corrected],
                    "refused": [n for n, _ in turn.refused],
                    "skipped": list(turn.skipped),
                },
            )

    def _next_slot(self, st: ConversationState) -> SlotSpec | None:
        return next((s for s in self._slots if s.name not in st.slots), None)

    def _ask(self, turn: _Turn, slot: SlotSpec, *, explain: bool) -> None:
        st = turn.state
        st.pending = slot.name
        st.asks[slot.name] = st.asks.get(slot.name, 0) + 1
        if turn.held_domain is not None and slot.validator.type == "work_email":
            text = self.flow.texts.free_mail.format(domain=turn.held_domain, why=slot.why)
        else:
            text = f"{slot.why} {slot.prompt}" if explain else slot.prompt
        turn.say(text, kind="ask", data={"slot": slot.name})

    # ------------------------------------------------------------------ turns

    def _gate_non_buyer(self, turn: _Turn, u: _Understanding) -> bool:
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

    def _policy_handoff(self, turn: _Turn, u: _Understanding) -> bool:
        rules = self.flow.handoff
        if rules.on_request and u.intent == "human_handoff":
            self._handoff(turn, "visitor_request")
            return True
        if rules.negative_sentiment is not None and u.sentiment <= rules.negative_sentiment:
            self._handoff(turn, "negative_sentiment")
            return True
        return False

    def _answer(self, turn: _Turn, question: str) -> None:
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

    def _misunderstood(self, turn: _Turn, text: str | None = None) -> bool:
        """Count a misunderstanding; hand off when there were too many. Returns whether it handed off."""
        st = turn.state
        st.misunderstandings += 1
        turn.event("misunderstood", count=st.misunderstandings)
        if st.misunderstandings >= self.flow.handoff.max_misunderstandings:
            self._handoff(turn, "misunderstanding")
            return True
        turn.say(text or self.flow.texts.misunderstood)
        return False

    def _collect_turn(self, turn: _Turn, u: _Understanding, now: datetime, local_now: datetime) -> None:
        st = turn.state
        if self._gate_non_buyer(turn, u):
            return
        asked_before = st.pending
        u = self._as_free_text_answer(st, u)
        self._collect(turn, u, local_now, exclude=frozenset())
        self._summarize(turn)
        if self._policy_handoff(turn, u):
            return
        explain = bool(turn.refused)
        understood = turn.touched
        if u.question is not None:
            self._answer(turn, u.question)
            understood = True
        elif u.intent == "demo_request":
            turn.say(self.flow.texts.demo_first)
            understood = True
        elif u.intent == "greet" and not understood:
            turn.say(self.flow.texts.greet_again)
            understood = True
        elif u.intent == "goodbye" and not understood:
            turn.say(self.flow.texts.goodbye)
            st.misunderstandings = 0
            return
        elif u.intent in ("affirm", "deny") and not understood:
            understood, explain = True, True
        elif not understood:
            text = self.flow.texts.out_of_scope if u.intent == "out_of_scope" else None
            if self._misunderstood(turn, text):
                return
            explain = True
        if understood:
            st.misunderstandings = 0
        self._advance(turn, now, explain=explain, asked_before=asked_before)

    def _as_free_text_answer(self, st: ConversationState, u: _Understanding) -> _Understanding:
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

    def _advance(self, turn: _Turn, now: datetime, *, explain: bool, asked_before: str | None) -> None:
        st = turn.state
        nxt = self._next_slot(st)
        if nxt is not None:
            self._ask(turn, nxt, explain=explain and nxt.name == asked_before)
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
            self._qualify(turn, now)

    def _first_name(self, st: ConversationState) -> str:
        assert self._person is not None
        value = st.slots.get(self._person.name)
        if value is not None and isinstance(value.value, dict):
            return str(value.value.get("first") or value.value.get("full") or "")
        return ""

    def _close(self, turn: _Turn, outcome: str, text: str, **data: Any) -> None:
        st = turn.state
        st.outcome, st.pending = outcome, None
        turn.say(text, kind="close", data=data)
        turn.event("flow_completed", outcome=outcome)

    def _qualify(self, turn: _Turn, now: datetime) -> None:
        st = turn.state
        if self.qualifier is None:
            self._close(turn, "not_qualified", self.flow.texts.no_qualifier)
            return
        decision = self.qualifier.qualify(conversation_id=st.conversation_id, slots=st.slot_values(), now=now)
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
        if self._high_value(st):
            self._handoff(turn, "high_value")
            return
        replies = self.flow.decisions
        first_name = self._first_name(st)
        if decision.action == "route_to_sales":
            self._offer(turn, now, replies.route_to_sales.format(first_name=first_name))
        elif decision.action == "nurture":
            links = "\n".join(f"- {r.title}: {r.url}" for r in self.flow.resources)
            text = replies.nurture.format(first_name=first_name) + (f"\n{links}" if links else "")
            self._close(turn, "nurture", text, resources=[r.model_dump() for r in self.flow.resources])
        elif decision.action == "discard":
            self._close(turn, "discard", replies.discard.format(first_name=first_name))
        else:
            self._close(turn, "human_review", replies.human_review.format(first_name=first_name))

    def _high_value(self, st: ConversationState) -> bool:
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

    def _handoff(self, turn: _Turn, reason: str) -> None:
        st = turn.state
        st.status, st.handoff_reason, st.pending = "handoff", reason, None
        st.offers = []
        opener = getattr(self.flow.texts.handoff_reasons, reason)
        turn.event("handoff_requested", reason=reason, slots=sorted(st.slots))
        turn.say(f"{opener} {self.flow.texts.handoff}", kind="handoff", data={"reason": reason})

    # ------------------------------------------------------------------ offers and booking

    def _show_offers(self, turn: _Turn, text: str, offers: list[SlotOffer]) -> None:
        turn.state.offers = offers
        turn.event("slots_offered", offer_ids=[o.offer_id for o in offers], labels=[o.label for o in offers])
        listed = "\n".join(f"{i}. {o.label}" for i, o in enumerate(offers, start=1))
        turn.say(
            f"{text}\n{listed}", kind="offer", options=[{"id": o.offer_id, "label": o.label} for o in offers]
        )

    def _no_slots(self, turn: _Turn) -> None:
        assert self._email is not None
        st = turn.state
        st.offers = []
        email = st.slots[self._email.name].value
        self._close(turn, "no_slots", self.flow.texts.no_slots.format(email=email))

    def _offer(self, turn: _Turn, now: datetime, intro: str, *, after: datetime | None = None) -> None:
        st = turn.state
        offers: list[SlotOffer] = []
        if self.scheduler is not None:
            offers = self.scheduler.offer_slots(now=after or now, visitor_tz=st.visitor_tz, n=OFFERS_SHOWN)
        if not offers:
            self._no_slots(turn)
            return
        self._show_offers(turn, intro, offers)

    def _book(self, turn: _Turn, offer: SlotOffer, now: datetime) -> None:
        st = turn.state
        assert self.scheduler is not None and self._person is not None and self._email is not None
        person = st.slots[self._person.name].value
        result = self.scheduler.book(
            offer,
            conversation_id=st.conversation_id,
            attendee_name=str(person["full"] if isinstance(person, dict) else person),
            attendee_email=str(st.slots[self._email.name].value),
            visitor_tz=st.visitor_tz,
        )
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
        self._offer(turn, now, self.flow.texts.slot_taken)

    def _offer_turn(self, turn: _Turn, u: _Understanding, now: datetime, local_now: datetime) -> None:
        st = turn.state
        if self._gate_non_buyer(turn, u):
            self._show_offers(turn, self.flow.texts.pick_again, st.offers)
            return
        self._collect(turn, u, local_now, exclude=frozenset({"timeline"}))
        self._summarize(turn)
        if self._policy_handoff(turn, u):
            return
        days = [
            date.fromisoformat(str(e.normalized["start"]))
            for e in u.entities
            if e.entity == "timeline" and e.normalized.get("grain") == "day"
        ]
        chosen = pick_offer(u.text, st.offers, st.visitor_tz, day=days[0] if len(days) == 1 else None)
        if chosen is not None:
            st.misunderstandings = 0
            self._book(turn, chosen, now)
            return
        if u.question is not None:
            st.misunderstandings = 0
            self._answer(turn, u.question)
            self._show_offers(turn, self.flow.texts.pick_again, st.offers)
            return
        if u.intent == "deny":
            st.misunderstandings = 0
            latest = max(o.end for o in st.offers)
            self._offer(turn, now, self.flow.texts.more_slots, after=latest)
            return
        if turn.touched:
            st.misunderstandings = 0
        elif self._misunderstood(turn):
            return
        self._show_offers(turn, self.flow.texts.pick_again, st.offers)

    def _completed_turn(self, turn: _Turn, u: _Understanding, now: datetime, local_now: datetime) -> None:
        """After the flow ended: answer questions, take corrections, let a declined consent be given."""
        st = turn.state
        texts = self.flow.texts
        if st.non_buyer is not None:
            if u.question is not None:
                self._answer(turn, u.question)
            else:
                turn.say(texts.spam if st.non_buyer == "spam" else texts.job_seeker, kind="close")
            return
        self._collect(turn, u, local_now, exclude=frozenset())
        self._summarize(turn)
        if self._policy_handoff(turn, u):
            return
        assert self._consent is not None
        consent = st.slots.get(self._consent.name)
        if (
            st.outcome == "consent_declined"
            and consent is not None
            and consent.value is True
            and st.decision is None
        ):
            st.outcome = None
            self._advance(turn, now, explain=False, asked_before=None)
            return
        if u.question is not None:
            self._answer(turn, u.question)
        elif u.intent == "goodbye":
            turn.say(texts.goodbye, kind="close")
        elif not turn.touched:
            turn.say(texts.closed, kind="close")

    # ------------------------------------------------------------------ result

    def _phrase(self, message: BotMessage) -> BotMessage:
        if self.llm is None or message.kind not in PHRASED_KINDS:
            return message
        phrased = self.llm.phrase(message.text, facts=[])
        if phrased is None or not faithful(phrased, message.text):
            return message
        return message.model_copy(update={"text": phrased.strip()})

    def _result(self, turn: _Turn) -> TurnResult:
        replies = [self._phrase(m) for m in turn.replies]
        return TurnResult(state=turn.state, replies=replies, events=turn.events)


def faithful(phrased: str, draft: str, facts: list[str] | None = None) -> bool:
    """Whether a language model's rephrasing may replace ``draft``.

    Refused: an empty text; one more than three times as long as the draft (plus 200 characters); one
    that writes a speaker turn ("Visitor: ...", "Assistant: ..."), i.e. both sides of the conversation;
    one with a number, e-mail address or URL that is neither in the draft nor in ``facts``.

    Args:
        phrased: the model's text.
        draft: the assistant's own text.
        facts: other statements the model was allowed to use.

    Returns:
        True when the rephrasing passes every check.
    """
    text = phrased.strip()
    if not text or len(text) > 3 * len(draft) + 200 or _SPEAKER_LINE.search(text):
        return False
    allowed = " ".join([draft, *(facts or [])])
    return all(token.rstrip(".,:") in allowed for token in _FACT_TOKEN.findall(text))
