"""Phrasing: what the assistant says about slots (asks, what was noted, the summary).

The language model's optional rephrasing is kept only when it is ``faithful`` to the assistant's own text.
"""

from __future__ import annotations

import re
from typing import Any

from leadgate.chat.flows.model import SlotSpec
from leadgate.chat.flows.state import ConversationState
from leadgate.chat.flows.turn import EngineBase, Turn
from leadgate.chat.ports import BotMessage

PHRASED_KINDS = frozenset({"text", "ask"})
"""Reply kinds the language model may rephrase (never answers, offers, bookings, handoffs or closes)."""

_SPEAKER_LINE = re.compile(r"(?im)^\s*(visitor|user|human|customer|assistant|bot|agent|ai)\s*:")
_FACT_TOKEN = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.-]+|\d[\d,.:]*")


class PhrasingPart(EngineBase):
    """Words the replies about slots."""

    def _describe(self, name: str, value: Any) -> str:
        slot = self.flow.slot(name)
        if value is None:
            return f"{slot.label} skipped"
        return f"{slot.label} {slot.validator.describe(value)}"

    def _summary_text(self, st: ConversationState) -> str:
        """Everything collected so far, in ask order (skipped slots left out)."""
        items = [
            self._describe(s.name, st.slots[s.name].value)
            for s in self._slots
            if s.name in st.slots and st.slots[s.name].value is not None and s.validator.type != "consent"
        ]
        return self.flow.texts.summary.format(items="; ".join(items))

    def _summarize(self, turn: Turn) -> None:
        """One reply listing what this turn took, corrected, refused, skipped and deferred."""
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
        for name in turn.deferred:
            slot = self.flow.slot(name)
            if slot.required and name in turn.declined:
                parts.append(texts.declined_required.format(label=slot.label, why=slot.why))
            else:
                parts.append(texts.deferred.format(label=slot.label))
        if turn.held_domain is not None and st.pending != (self._email.name if self._email else None):
            parts.append(texts.free_mail_noted.format(email=st.held_email or turn.held_domain))
        if parts:
            turn.say(
                " ".join(parts),
                data={
                    "taken": list(turn.taken),
                    "corrected": [n for n, _ in turn.corrected],
                    "refused": [n for n, _ in turn.refused],
                    "skipped": list(turn.skipped),
                    "deferred": list(turn.deferred),
                },
            )

    def _ask(self, turn: Turn, slot: SlotSpec, *, explain: bool, revisit: bool = False) -> None:
        st = turn.state
        texts = self.flow.texts
        st.pending = slot.name
        st.asks[slot.name] = st.asks.get(slot.name, 0) + 1
        if slot.validator.type == "work_email" and st.held_email is not None and not st.free_mail_asked:
            st.free_mail_asked = True
            domain = st.held_email.rpartition("@")[2]
            text = texts.free_mail.format(domain=domain, why=slot.why)
        elif slot.validator.type == "company_name" and st.proposed_company is not None:
            text = texts.company_confirm.format(guess=st.proposed_company)
        else:
            text = f"{slot.why} {slot.prompt}" if explain else slot.prompt
        if revisit:
            text = f"{texts.revisit} {text}"
        if self._is_last_question(st, slot) and st.summary is None and slot.validator.type == "consent":
            st.summary = "shown"
            turn.event("summary_shown")
            text = f"{self._summary_text(st)} {texts.summary_fix} {text}"
        elif st.summary == "shown" and slot.validator.type == "consent" and turn.corrected:
            text = f"{self._summary_text(st)} {text}"
        turn.say(text, kind="ask", data={"slot": slot.name})

    def _is_last_question(self, st: ConversationState, slot: SlotSpec) -> bool:
        return all(s.name in st.slots or s.name == slot.name for s in self._slots)

    def _phrase(self, message: BotMessage) -> BotMessage:
        if self.llm is None or message.kind not in PHRASED_KINDS:
            return message
        phrased = self.llm.phrase(message.text, facts=[])
        if phrased is None or not faithful(phrased, message.text):
            return message
        return message.model_copy(update={"text": phrased.strip()})


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
