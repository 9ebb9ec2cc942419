"""The qualification flow file (``flow.yml``) as frozen pydantic models.

A flow is data: its ``name`` and ``version`` make its reference (``website_qualification@1``), which every
conversation stores; a change to a flow's behavior is a new ``version``. The format is described in
``docs/chat-flows.md``; :mod:`leadgate.chat.flows.loader` reads the YAML and reports errors with line
numbers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.chat.flows.branding import Branding, rotate, template_problem
from leadgate.chat.flows.validators import SlotValidator
from leadgate.chat.nlu.data import INTENTS

_MODEL = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

ENTITY_SOURCES = frozenset(
    {"email", "phone", "money", "company_size", "timeline", "role", "authority", "person", "company"}
)
"""Entity types of the built-in NLU a slot may be filled from (``docs/nlu.md``)."""

SPECIAL_SOURCES = frozenset({"text", "yes_no"})
"""``text``: the whole message, when the slot is the one asked; ``yes_no``: the affirm/deny intents."""

INTENT_NAMES = frozenset(INTENTS)
"""The intents of the built-in NLU."""

Text = Annotated[str, Field(min_length=1, max_length=1000)]
SlotName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("flow", "{message}", {"message": message}), loc=loc, input=value
    )


def _template_errors(model: BaseModel, prefix: tuple[str, ...] = ()) -> list[InitErrorDetails]:
    """Errors for the string fields of ``model`` that use placeholders outside :data:`PLACEHOLDERS`.

    The brand placeholders (``{company}``, ``{assistant}``...; ``branding.BRAND_PLACEHOLDERS``) are allowed
    everywhere.
    """
    errors = []
    for key, template in model:
        if not isinstance(template, str):
            continue
        allowed = PLACEHOLDERS.get(key, frozenset()) if not prefix else frozenset()
        problem = template_problem(template, allowed)
        if problem:
            errors.append(_error((*prefix, key), problem, template))
    return errors


class SlotSpec(BaseModel):
    """One piece of information the flow collects.

    Attributes:
        name: the slot name (``person``, ``email``...), the key in ``ConversationState.slots`` and in the
            qualifier's ``slots``.
        label: how the slot is named to the visitor ("company size").
        sources: (``from`` in YAML) where values come from: NLU entity types (``email``, ``money``...),
            ``text`` (the whole message, only when this slot was asked) and ``yes_no`` (affirm/deny, only
            when asked).
        context: templates with ``{text}`` used to read a short answer to this slot's question with the
            NLU's own extractors: "about 200" asked for company size is read as "we are about 200 people".
            A value counts only when the entity covers the whole answer.
        required: a required slot must be answered; an optional one may be skipped.
        skippable: whether "skip", "not sure" or a no answers the slot (stored as None with the flag
            ``skipped``); default: not ``required``.
        prompt: the question asking for the slot.
        why: why the slot is needed; said when the slot is asked again.
        validator: the slot's validator (``validators.py``).
        order: ask order; slots are asked by ``order``, then by their position in the file.
    """

    model_config = _MODEL
    name: SlotName
    label: Text
    sources: list[str] = Field(alias="from", min_length=1)
    context: list[str] = Field(default_factory=list)
    required: bool = True
    skippable: bool | None = None
    prompt: Text
    why: Text
    validator: SlotValidator
    order: int | None = None

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, sources: list[str]) -> list[str]:
        unknown = [s for s in sources if s not in ENTITY_SOURCES | SPECIAL_SOURCES]
        if unknown:
            raise ValueError(
                f"unknown source(s) {unknown}; use NLU entity types "
                f"({', '.join(sorted(ENTITY_SOURCES))}), text or yes_no"
            )
        return sources

    @field_validator("label", "prompt", "why")
    @classmethod
    def _brand_only(cls, template: str) -> str:
        problem = template_problem(template, frozenset())
        if problem:
            raise ValueError(problem)
        return template

    @field_validator("context")
    @classmethod
    def _context_has_text(cls, context: list[str]) -> list[str]:
        for template in context:
            if template.count("{text}") != 1:
                raise ValueError(f"context template {template!r} must contain {{text}} exactly once")
        return context

    @property
    def can_skip(self) -> bool:
        """Whether a skip answer is taken for this slot."""
        return (not self.required) if self.skippable is None else self.skippable


class IntentSettings(BaseModel):
    """How sure the NLU must be before an intent changes the conversation.

    The classifier's probabilities are temperature-scaled (expected calibration error about 0.02,
    ``docs/nlu.md``), so a threshold reads as "at least this likely". The shipped values are leadgate's
    choice, checked on the conversation tests: questions are cheap to answer (the knowledge base says when
    it does not know), so their threshold is low; spam and job-seeker end the qualification, so theirs is
    high.

    Attributes:
        default_min_confidence: threshold for intents not listed in ``min_confidence``.
        min_confidence: per-intent thresholds.
        free_text_min_inform: a ``text`` slot takes the whole message only when the NLU gives ``inform`` at
            least this probability (so "what's the weather?" is not taken as a use case).
        llm_intent_below: the language model's intent replaces the NLU's only when the NLU's top
            probability is below this.
    """

    model_config = _MODEL
    default_min_confidence: Probability = 0.5
    min_confidence: dict[str, Probability] = Field(default_factory=dict)
    free_text_min_inform: Probability = 0.2
    llm_intent_below: Probability = 0.5

    @field_validator("min_confidence")
    @classmethod
    def _known_intents(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - INTENT_NAMES)
        if unknown:
            raise ValueError(f"unknown intent(s) {unknown}")
        return value

    def threshold(self, intent: str) -> float:
        """The probability ``intent`` needs to count."""
        return self.min_confidence.get(intent, self.default_min_confidence)


class HighValue(BaseModel):
    """When a qualified lead is high value; it then notifies a person (``NotifyPerson``) besides its reply.

    A high-value lead gets its decision's reply like any other (a hot one books a demo); no handoff.

    Attributes:
        budget_at_least: the budget's yearly lower bound (``BudgetValidator.annual_floor``, in its own
            currency units, not converted) at or above which the lead is high value.
        company_size_at_least: the head count's lower bound at or above which the lead is high value.
    """

    model_config = _MODEL
    budget_at_least: float | None = Field(default=None, gt=0)
    company_size_at_least: int | None = Field(default=None, ge=1)


class HandoffRules(BaseModel):
    """When the conversation goes to a person.

    Attributes:
        on_request: hand off when the visitor asks for a person (``human_handoff`` intent).
        max_misunderstandings: hand off after this many consecutive turns the assistant did not
            understand (nothing taken, no intent handled; out-of-scope messages count).
        negative_sentiment: hand off when a message's VADER compound score is at or below this. VADER
            (Hutto & Gilbert, 2014, ICWSM) scores in [-1, 1]; its README calls <= -0.05 negative. -0.5 is
            leadgate's reading of "clearly upset", well past that boundary.
        high_value: thresholds above which a qualified lead also notifies a person (no handoff).
    """

    model_config = _MODEL
    on_request: bool = True
    max_misunderstandings: int = Field(default=2, ge=1, le=10)
    negative_sentiment: float | None = Field(default=-0.5, ge=-1.0, le=0.0)
    high_value: HighValue = Field(default_factory=HighValue)


class Resource(BaseModel):
    """A link sent to nurture leads."""

    model_config = _MODEL
    title: Text
    url: Annotated[str, Field(pattern=r"^(https?://|/)\S+$", max_length=500)]


class DecisionReplies(BaseModel):
    """What the assistant says after qualification, per decision action.

    Placeholders: ``{first_name}``. ``route_to_sales`` introduces the demo slots; ``nurture`` is followed by
    the flow's resources.
    """

    model_config = _MODEL
    route_to_sales: Text
    nurture: Text
    human_review: Text
    discard: Text

    @model_validator(mode="after")
    def _templates(self) -> DecisionReplies:
        errors = _template_errors(self)
        if errors:
            raise ValidationError.from_exception_data("DecisionReplies", errors)
        return self


HANDOFF_REASONS = ("visitor_request", "misunderstanding", "negative_sentiment", "high_value")
"""Why a conversation went to a person (``ConversationState.handoff_reason``)."""


class HandoffTexts(BaseModel):
    """The opening sentence of the handoff message, per reason (followed by ``Texts.handoff``)."""

    model_config = _MODEL
    visitor_request: Text
    misunderstanding: Text
    negative_sentiment: Text
    high_value: Text


class Texts(BaseModel):
    """Everything else the assistant says (see ``docs/chat-flows.md`` for when each is used)."""

    model_config = _MODEL
    greeting: Text
    greet_again: Text
    goodbye: Text
    noted: Text
    updated: Text
    refused: Text
    skipped: Text
    free_mail: Text
    misunderstood: Text
    out_of_scope: Text
    job_seeker: Text
    spam: Text
    unknown: Text
    talk_to_person: Text
    demo_first: Text
    handoff: Text
    handoff_reasons: HandoffTexts
    consent_declined: Text
    no_qualifier: Text
    pick_again: Text
    more_slots: Text
    slot_taken: Text
    no_slots: Text
    booked: Text
    closed: Text
    # issue 10: understanding and no dead ends
    greet_back: Text = "Hi there!"
    context_noted: Text = "Thanks, that's helpful context; I've noted it."
    deferred: Text = "No problem, we'll come back to your {label} at the end."
    declined_required: Text = "I do need your {label}: {why} Let's come back to it at the end."
    free_mail_noted: Text = "I've noted {email}; I'll ask about a work address when we get there."
    company_confirm: Text = "Is {guess} the company you're with?"
    revisit: Text = "One thing we skipped earlier:"
    summary: Text = "Here's what I have: {items}."
    summary_fix: Text = "If anything is wrong, just tell me (for example 'the budget is 50k')."
    moving_on: Text = "Let's leave that for now; I'll come back to it at the end."
    high_value_notified: Text = "I've also let our team know, so a person will be in touch as well."

    @model_validator(mode="after")
    def _templates(self) -> Texts:
        errors = _template_errors(self) + _template_errors(self.handoff_reasons, ("handoff_reasons",))
        if errors:
            raise ValidationError.from_exception_data("Texts", errors)
        return self


PLACEHOLDERS: dict[str, frozenset[str]] = {
    "noted": frozenset({"items"}),
    "updated": frozenset({"items"}),
    "refused": frozenset({"label", "reason"}),
    "skipped": frozenset({"label"}),
    "free_mail": frozenset({"domain", "why"}),
    "no_slots": frozenset({"email"}),
    "booked": frozenset({"label", "ics_path"}),
    "deferred": frozenset({"label"}),
    "declined_required": frozenset({"label", "why"}),
    "free_mail_noted": frozenset({"email"}),
    "company_confirm": frozenset({"guess"}),
    "summary": frozenset({"items"}),
    "route_to_sales": frozenset({"first_name"}),
    "nurture": frozenset({"first_name"}),
    "human_review": frozenset({"first_name"}),
    "discard": frozenset({"first_name"}),
}
"""The placeholders each text may use; any other text has none. Checked when the flow is loaded."""


class Flow(BaseModel):
    """A versioned qualification flow.

    Attributes:
        name, version: the flow's reference ``name@version``.
        description: what the flow is for.
        slots: the slots, asked in ``order`` (then file order).
        intents: intent thresholds.
        correction_cues: words that start a correction ("sorry, I meant 400"): stripped before reading a
            short answer, and they let a bare value correct the slot answered last.
        skip_phrases: answers that skip a skippable slot (besides a "no"), matched as whole words; for a
            required slot they explain why it is needed and move it to the end.
        later_phrases: answers that move the asked slot to the end ("later"), asked once more there.
        handoff: handoff rules.
        decisions: replies per decision action.
        resources: links sent with the ``nurture`` reply.
        texts: the assistant's other texts.
        branding: the company, assistant name, tone, greetings, links and prompt overrides
            (``leadgate.chat.flows.branding``); the loader applies it (or ``LEADGATE_BRANDING_FILE``, or the
            shipped Lumenly default) and stores the applied one here. Every text and slot prompt may use
            ``{company}``, ``{assistant}``, ``{website}`` and ``{careers_url}``.

    Raises:
        pydantic.ValidationError: (on validation) for duplicate slot names, a flow without exactly one
            ``person_name``, ``work_email`` and ``consent`` slot, a consent slot not filled from ``yes_no``,
            or an unknown placeholder in a text (see :data:`PLACEHOLDERS`).
    """

    model_config = _MODEL
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=60)]
    version: Annotated[int, Field(ge=1)]
    description: str = ""
    slots: list[SlotSpec] = Field(min_length=1)
    intents: IntentSettings = Field(default_factory=IntentSettings)
    correction_cues: list[Text] = Field(default_factory=list)
    skip_phrases: list[Text] = Field(default_factory=list)
    later_phrases: list[Text] = Field(
        default_factory=lambda: ["later", "come back to", "ask me later", "not now", "get back to you"]
    )
    handoff: HandoffRules = Field(default_factory=HandoffRules)
    decisions: DecisionReplies
    resources: list[Resource] = Field(default_factory=list)
    texts: Texts
    branding: Branding | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Flow:
        errors: list[InitErrorDetails] = []
        seen: set[str] = set()
        for index, slot in enumerate(self.slots):
            if slot.name in seen:
                errors.append(
                    _error(("slots", index, "name"), f"duplicate slot name {slot.name!r}", slot.name)
                )
            seen.add(slot.name)
            if slot.validator.type == "consent" and "yes_no" not in slot.sources:
                errors.append(
                    _error(("slots", index, "from"), "a consent slot is filled from yes_no", slot.sources)
                )
        for kind in ("person_name", "work_email", "consent"):
            count = sum(1 for s in self.slots if s.validator.type == kind)
            if count != 1:
                errors.append(
                    _error(
                        ("slots",),
                        f"a flow needs exactly one slot with validator {kind!r} (found {count})",
                        count,
                    )
                )
        if errors:
            raise ValidationError.from_exception_data("Flow", errors)
        return self

    @property
    def ref(self) -> str:
        """``name@version``, stored with every conversation."""
        return f"{self.name}@{self.version}"

    def ordered_slots(self) -> list[SlotSpec]:
        """The slots in ask order."""
        indexed = list(enumerate(self.slots))
        indexed.sort(key=lambda p: (p[1].order if p[1].order is not None else p[0], p[0]))
        return [s for _, s in indexed]

    def slot(self, name: str) -> SlotSpec:
        """The slot called ``name``.

        Raises:
            KeyError: if the flow has no such slot.
        """
        for s in self.slots:
            if s.name == name:
                return s
        raise KeyError(name)

    def greeting_for(self, conversation_id: str, *, again: bool = False) -> str:
        """The greeting (``again``: the reply to a later hello) of one conversation.

        The branding may give several greetings; they are rotated by conversation id
        (``branding.rotate``: the same conversation always gets the same one). Otherwise
        ``texts.greeting`` / ``texts.greet_again``.
        """
        key = "greet_again" if again else "greeting"
        variants = self.branding.greetings.variants(key) if self.branding is not None else []
        return rotate(variants, conversation_id) if variants else str(getattr(self.texts, key))

    def slot_of_type(self, validator_type: str) -> SlotSpec | None:
        """The first slot whose validator has ``validator_type``, or None."""
        return next((s for s in self.slots if s.validator.type == validator_type), None)


FlowStatus = Literal["active", "handoff", "closed"]
