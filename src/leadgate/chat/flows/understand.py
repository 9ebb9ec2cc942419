"""Understanding one visitor message: NLU, language model, question clause, cues, short answers.

Intent and entities come from the NLU (and the optional language model); a mixed message's question clause
is classified on its own; correction cues are stripped; a short answer is read in the pending slot's context.

Nothing here changes the conversation: :meth:`UnderstandingPart._understand` returns an
:class:`Understanding` that slot filling (``filling.py``) and the turn logic (``engine.py``) act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadgate.chat.flows.model import INTENT_NAMES, SlotSpec
from leadgate.chat.flows.sentiment import compound_sentiment
from leadgate.chat.flows.state import ConversationState
from leadgate.chat.flows.turn import EngineBase
from leadgate.chat.nlu import Entity

QUESTION_INTENTS = frozenset({"product_question", "pricing", "support"})
"""Intents answered from the knowledge base."""

_SENTENCE = re.compile(r"[^.!?;]+[.!?;]*")
# A message "looks like a question" when it ends in "?" or opens with an interrogative or an auxiliary verb
# (English question formation); anything else is a statement.
_QUESTION_OPENING = re.compile(
    r"^\s*(how|what|what's|whats|which|who|whom|whose|where|when|why|can|could|do|does|did|is|are|was|"
    r"were|will|would|should|shall|may|might|have|has|any|is there|are there)\b",
    re.IGNORECASE,
)
_TRAILING_QUESTION = re.compile(
    r",\s*((?:do|does|can|could|is|are|will|would|how|what|which|when|where|who|why)\b[^?]*\?)", re.IGNORECASE
)
_BARE_NAME = re.compile(r"^[A-Za-z0-9][\w&'.,\- ]{0,60}$")
_PREFIX_NOISE = re.compile(
    r"^(?:it's|its|it is|we're|we are|i'm with|i am with|with|at|the company is)\s+", re.I
)


STATEMENT_OPENING = re.compile(
    r"^\s*(?:(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))\b[\s,!.]*)?"
    r"(?:so,?\s+)?(?:we|we're|were|we've|our|i|i'm|im|i've|my team|my company|us|the team)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[A-Za-z']+")
GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))\b", re.IGNORECASE)


SEEKS_INFO = re.compile(
    r"\b(?:know (?:if|whether|how|what|about)|wondering|curious|tell me|interested in (?:your|the)|"
    r"question about|find out|learn (?:more )?about)\b",
    re.IGNORECASE,
)
"""A statement that asks for information ("we want to know if you integrate with HubSpot")."""


def looks_like_question(text: str) -> bool:
    """True when ``text`` ends in "?" or opens with an interrogative or auxiliary ("how", "do", "can")."""
    return text.rstrip().endswith("?") or _QUESTION_OPENING.match(text) is not None


@dataclass
class Understanding:
    """What one message says, before anything is done with it."""

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


class UnderstandingPart(EngineBase):
    """Reads a message (NLU, language model, sentiment, question clause, cues, short answers in context)."""

    def _understand(
        self, text: str, now: datetime, local_now: datetime, pending: SlotSpec | None = None
    ) -> Understanding:
        expecting = (
            next((s for s in pending.sources if s not in ("text", "yes_no")), None) if pending else None
        )
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
        entities = list(parsed.entities)
        if pending is not None and pending.validator.type == "company_name":
            intent, entities = self._as_company_answer(text, intent, entities)
        question = text if intent in QUESTION_INTENTS else None
        if question is None and intent in (None, "inform", "out_of_scope") and SEEKS_INFO.search(text):
            question = text
        if question is None and intent in (None, "inform", "affirm", "deny", "greet"):
            question = self._question_clause(text)
        return Understanding(
            text=text,
            question=question,
            intent=intent,
            top_intent=top,
            confidence=confidence,
            inform_p=inform_p,
            intent_source=source,
            entities=entities,
            llm_slots=llm_slots,
            sentiment=compound_sentiment(text),
        )

    def _as_company_answer(
        self, text: str, intent: str | None, entities: list[Entity]
    ) -> tuple[str | None, list[Entity]]:
        """Read a short answer to "Which company are you with?" as a company name.

        Never a person's name (that would overwrite the name given) and never a product question.
        """
        core = _PREFIX_NOISE.sub("", text.strip()).rstrip(" .!")
        if looks_like_question(text) or not _BARE_NAME.match(core) or len(core.split()) > 5:
            return intent, entities
        kept = [e for e in entities if e.entity != "person"]
        if intent in QUESTION_INTENTS | {"out_of_scope", "demo_request", None}:
            intent = "inform"
        return intent, kept

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
        self, slot: SlotSpec, u: Understanding, st: ConversationState
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
