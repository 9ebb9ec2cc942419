"""Branding of the chat assistant: who it speaks for, and how (``docs/branding.md``).

A company is configuration, not code: its name, the assistant's name, the tone, greetings, the invite
organizer, links and prompt overrides live in one ``branding`` section, either in the flow file or in the
file named by ``LEADGATE_BRANDING_FILE`` (which replaces the flow's section). A new knowledge base
(``LEADGATE_KB_DIR``) plus one branding file re-brand the assistant.

Every text and slot prompt of a flow may use the placeholders of :data:`BRAND_PLACEHOLDERS`
(``{company}``, ``{assistant}``, ``{website}``, ``{careers_url}``). :func:`apply_branding` renders them
once, when the flow is loaded, into a branded :class:`~leadgate.chat.flows.model.Flow`: the dialogue engine
only ever sees finished texts (and the run-time placeholders such as ``{items}``, left as they are).

Public interface:

* :class:`Branding` (with :class:`Greetings`, :class:`Prompts`, :class:`SlotText`), :data:`Tone`;
* :data:`TONE_PACKS`: the shipped wording of the texts where tone shows;
* :data:`DEFAULT_BRANDING`: the shipped example company, Lumenly;
* :func:`check_branding_text`, :func:`check_branding_file`, :func:`load_branding`,
  :func:`load_branding_text`, :class:`BrandingError`;
* :func:`apply_branding`, :func:`render_brand`, :func:`rotate`.
"""

from __future__ import annotations

import hashlib
import re
import string
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.chat.booking.model import Organizer
from leadgate.yamlcheck import YamlError, YamlIssue, check_yaml

if TYPE_CHECKING:
    from leadgate.chat.flows.model import Flow

__all__ = [
    "BRAND_PLACEHOLDERS",
    "DEFAULT_BRANDING",
    "TONED_TEXTS",
    "TONE_PACKS",
    "Branding",
    "BrandingError",
    "Greetings",
    "Prompts",
    "SlotText",
    "Tone",
    "apply_branding",
    "check_branding_file",
    "check_branding_text",
    "load_branding",
    "load_branding_text",
    "placeholders",
    "render_brand",
    "rotate",
    "template_problem",
]

_MODEL = ConfigDict(extra="forbid", frozen=True)

BRAND_PLACEHOLDERS = frozenset({"company", "assistant", "website", "careers_url"})
"""Placeholders every flow text, decision reply, slot label, prompt and ``why`` may use; rendered at load.

``{company}``: ``Branding.company``; ``{assistant}``: ``Branding.assistant_name``; ``{website}`` and
``{careers_url}``: the links of the same names (a text that uses one needs the branding to set it).
"""

Tone = Literal["friendly", "formal", "concise"]
"""The shipped tones; each picks a text pack (:data:`TONE_PACKS`) and is passed to the optional LLM."""

TONED_TEXTS = ("greeting", "greet_again", "noted", "misunderstood", "goodbye", "handoff")
"""The texts where tone shows: a ``tone`` replaces the flow's wording of these with its pack's."""

TONE_PACKS: dict[str, dict[str, str]] = {
    "friendly": {
        "greeting": (
            "Hi! I'm {assistant}. I can answer questions about {company} and set up a demo with our team."
        ),
        "greet_again": "Hi again!",
        "noted": "Got it: {items}.",
        "misunderstood": "Sorry, I didn't quite get that.",
        "goodbye": "Thanks for stopping by! This chat stays open if you want to come back.",
        "handoff": (
            "I'm passing you to a person from our team; they'll reply here in this chat. Until then I won't "
            "answer automatically."
        ),
    },
    "formal": {
        "greeting": (
            "Welcome to {company}. I am {assistant}, and I can answer your questions about {company} and "
            "arrange a product demonstration with our team."
        ),
        "greet_again": "Hello again. How may I help you?",
        "noted": "Thank you. Noted: {items}.",
        "misunderstood": "I am sorry, I did not understand that. Could you phrase it differently?",
        "goodbye": "Thank you for your visit. This conversation remains open should you wish to return.",
        "handoff": (
            "A member of our team will continue this conversation here. Until then, I will not reply "
            "automatically."
        ),
    },
    "concise": {
        "greeting": "Hi, I'm {assistant} from {company}. Ask me about {company}, or book a demo.",
        "greet_again": "Hello again.",
        "noted": "Noted: {items}.",
        "misunderstood": "Sorry, I didn't catch that.",
        "goodbye": "Thanks, bye! The chat stays open.",
        "handoff": "A colleague will reply here shortly; I'll stay quiet until then.",
    },
}
"""Wording of :data:`TONED_TEXTS` per tone. ``friendly`` is the shipped flow's own wording."""

_BRAND_VALUE = r"^[^{}\r\n]+$"
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=_BRAND_VALUE)]
Url = Annotated[str, Field(pattern=r"^(https?://|/)[^\s{}]+$", max_length=500)]
Template = Annotated[str, Field(min_length=1, max_length=1000)]
OneOrMany = Template | Annotated[list[Template], Field(min_length=1, max_length=20)]

_ESCAPED_OR_BRAND = re.compile(r"\{\{|\}\}|\{(" + "|".join(sorted(BRAND_PLACEHOLDERS)) + r")\}")


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("branding", "{message}", {"message": message}), loc=loc, input=value
    )


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` template (``{{`` and ``}}`` are literal braces).

    Raises:
        ValueError: the template is malformed (a lone ``{`` or ``}``).
    """
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise ValueError(f"bad template {template!r}: {exc}") from None


def template_problem(template: str, allowed: frozenset[str]) -> str | None:
    """Why ``template`` may not be used where ``allowed`` placeholders are, or None when it may.

    Brand placeholders (:data:`BRAND_PLACEHOLDERS`) are always allowed besides ``allowed``.
    """
    try:
        unknown = placeholders(template) - allowed - BRAND_PLACEHOLDERS
    except ValueError as exc:
        return str(exc)
    if unknown:
        names = ", ".join("{" + a + "}" for a in sorted(allowed | BRAND_PLACEHOLDERS))
        return f"unknown placeholder(s) {sorted(unknown)}; allowed here: {names}"
    return None


class SlotText(BaseModel):
    """Replacement wording of one slot (any field left out keeps the flow's)."""

    model_config = _MODEL
    label: Template | None = None
    prompt: Template | None = None
    why: Template | None = None


class Greetings(BaseModel):
    """The greeting (first message) and the reply to a later hello.

    Each is one text or a list; a list is rotated deterministically by conversation id (:func:`rotate`).
    """

    model_config = _MODEL
    greeting: OneOrMany | None = None
    greet_again: OneOrMany | None = None

    def variants(self, key: str) -> list[str]:
        """The texts of ``key`` (``greeting`` or ``greet_again``) as a list (empty when not set)."""
        value = getattr(self, key)
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)


class Prompts(BaseModel):
    """Per-slot and per-text overrides of the flow's wording.

    Attributes:
        slots: slot name -> its new ``label``, ``prompt`` and/or ``why``.
        texts: a key of the flow's ``texts`` (``handoff_reasons.<reason>`` for those) -> its new text.
        decisions: a key of the flow's ``decisions`` (``route_to_sales``, ``nurture``...) -> its new text.
    """

    model_config = _MODEL
    slots: dict[str, SlotText] = Field(default_factory=dict)
    texts: dict[str, Template] = Field(default_factory=dict)
    decisions: dict[str, Template] = Field(default_factory=dict)


class Branding(BaseModel):
    """One company's branding of the assistant (the ``branding`` section; ``docs/branding.md``).

    Attributes:
        company: the company the assistant speaks for (``{company}``; named in invites).
        assistant_name: how the assistant introduces itself (``{assistant}``), e.g. "Wren".
        tone: ``friendly``, ``formal`` or ``concise``: replaces the flow's wording of :data:`TONED_TEXTS`
            with the shipped pack (:data:`TONE_PACKS`) and is passed to the optional LLM's phrasing prompt.
            None: the flow's own wording, phrased as ``friendly``.
        greetings: greeting and greet-again texts, each one text or a list rotated by conversation id;
            they win over the tone pack.
        invite_organizer: ``name`` and ``email`` written as the ``ORGANIZER`` of demo invites; None: the
            rep who runs the demo.
        website: the company's site (``{website}``).
        careers_url: the careers page (``{careers_url}``), given to job seekers.
        resources: links sent with the ``nurture`` reply; None: the flow's ``resources``.
        tagline, description: the headline and one paragraph of the demo page (``/demo``).
        prompts: slot and text overrides; they win over everything else.

    Raises:
        pydantic.ValidationError: (on validation) unknown keys, a brace or line break in a name, an override
            with a placeholder it may not use (its message lists the allowed ones), or one that uses
            ``{website}`` / ``{careers_url}`` while that link is not set.
    """

    model_config = _MODEL
    company: Name
    assistant_name: Name
    tone: Tone | None = None
    greetings: Greetings = Field(default_factory=Greetings)
    invite_organizer: Organizer | None = None
    website: Url | None = None
    careers_url: Url | None = None
    resources: list[dict[str, str]] | None = None
    tagline: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    prompts: Prompts = Field(default_factory=Prompts)

    @model_validator(mode="after")
    def _templates(self) -> Branding:
        from leadgate.chat.flows.model import PLACEHOLDERS, DecisionReplies, HandoffTexts, Resource, Texts

        errors: list[InitErrorDetails] = []
        text_keys = {k for k in Texts.model_fields if k != "handoff_reasons"} | {
            f"handoff_reasons.{k}" for k in HandoffTexts.model_fields
        }
        checks: list[tuple[tuple[str | int, ...], str, frozenset[str]]] = []
        for key in ("greeting", "greet_again"):
            value = getattr(self.greetings, key)
            for index, text in enumerate(self.greetings.variants(key)):
                loc: tuple[str | int, ...] = (
                    ("greetings", key) if isinstance(value, str) else ("greetings", key, index)
                )
                checks.append((loc, text, frozenset()))
        for key, text in self.prompts.texts.items():
            if key not in text_keys:
                errors.append(_error(("prompts", "texts", key), f"unknown text {key!r}", key))
                continue
            checks.append((("prompts", "texts", key), text, PLACEHOLDERS.get(key, frozenset())))
        for key, text in self.prompts.decisions.items():
            if key not in DecisionReplies.model_fields:
                errors.append(_error(("prompts", "decisions", key), f"unknown decision {key!r}", key))
                continue
            checks.append((("prompts", "decisions", key), text, PLACEHOLDERS.get(key, frozenset())))
        for name, slot in self.prompts.slots.items():
            for field in ("label", "prompt", "why"):
                text = getattr(slot, field)
                if text is not None:
                    checks.append((("prompts", "slots", name, field), text, frozenset()))
        for loc, text, allowed in checks:
            problem = template_problem(text, allowed) or self._missing_link(text)
            if problem:
                errors.append(_error(loc, problem, text))
        for index, resource in enumerate(self.resources or []):
            try:
                Resource.model_validate(resource)
            except ValidationError as exc:
                first = exc.errors()[0]
                errors.append(_error(("resources", index, *first["loc"]), first["msg"], resource))
        if errors:
            raise ValidationError.from_exception_data("Branding", errors)
        return self

    def _missing_link(self, template: str) -> str | None:
        """Why ``template`` cannot be rendered with this branding (a link it uses is not set), or None."""
        try:
            used = placeholders(template)
        except ValueError as exc:
            return str(exc)
        missing = sorted(k for k in ("website", "careers_url") if k in used and getattr(self, k) is None)
        if missing:
            return f"uses {', '.join('{' + m + '}' for m in missing)}, but the branding sets no {missing[0]}"
        return None

    @property
    def values(self) -> dict[str, str]:
        """The brand placeholders' values (links that are not set are left out)."""
        values = {"company": self.company, "assistant": self.assistant_name}
        if self.website is not None:
            values["website"] = self.website
        if self.careers_url is not None:
            values["careers_url"] = self.careers_url
        return values

    @property
    def phrasing_tone(self) -> str:
        """The tone given to the LLM's phrasing prompt (``friendly`` when none is set)."""
        return self.tone or "friendly"


DEFAULT_BRANDING = Branding.model_construct(
    company="Lumenly",
    assistant_name="Lumenly's assistant",
    website="https://example.com",
    careers_url="https://example.com/careers",
    tagline="See how every account adopts your product.",
    description=(
        "Lumenly is product analytics for B2B software companies: funnels, retention, account health and "
        "experiments, grouped by user and by customer company."
    ),
)
"""The shipped example company (the knowledge base under ``leadgate/chat/data/kb/``): used by a flow
without a ``branding`` section when no ``LEADGATE_BRANDING_FILE`` is set. Built without validation (the
validator needs ``model.py``, which imports this module); ``tests/chat/test_branding.py`` validates it."""


def render_brand(template: str, values: dict[str, str]) -> str:
    """``template`` with its brand placeholders replaced; everything else (``{items}``, ``{{``) kept as is.

    Args:
        template: a flow text.
        values: placeholder -> value (:attr:`Branding.values`); values hold no braces (checked by
            :class:`Branding`), so the result can still be ``str.format``-ed by the engine.

    Raises:
        KeyError: the template uses a brand placeholder missing from ``values`` (a link not set).
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0) if name is None else values[name]

    return _ESCAPED_OR_BRAND.sub(replace, template)


def rotate(variants: list[str], conversation_id: str) -> str:
    """The variant of a conversation: the same id always gets the same one (SHA-256 of the id, modulo).

    Raises:
        IndexError: ``variants`` is empty.
    """
    if not variants:
        raise IndexError("no variants to rotate")
    digest = hashlib.sha256(conversation_id.encode("utf-8")).digest()
    return variants[int.from_bytes(digest[:8], "big") % len(variants)]


def apply_branding(flow: Flow, branding: Branding) -> Flow:
    """The flow with ``branding``'s texts, and every brand placeholder rendered (once, at load time).

    Order: the flow's texts; the tone pack (when ``branding.tone`` is set) for :data:`TONED_TEXTS`; the
    greetings (the first of a list becomes ``texts.greeting``; all are kept, rendered, for
    :meth:`Flow.greeting_for`); the ``prompts`` overrides; the branding's ``resources``. Then
    ``{company}``, ``{assistant}``, ``{website}`` and ``{careers_url}`` are replaced in every text,
    decision reply, slot label, prompt and ``why``.

    Args:
        flow: a flow as validated from its file, not yet branded (the loaders return branded flows:
            branding one again finds no placeholders left to fill).
        branding: the branding to apply (stored as the result's ``branding``).

    Returns:
        A new, validated ``Flow``; ``flow`` is not changed.

    Raises:
        pydantic.ValidationError: located at the flow's text (``texts.job_seeker``, ``slots.3.prompt``):
            a text uses ``{website}`` or ``{careers_url}`` that the branding does not set, or a
            ``prompts.slots`` override names a slot the flow does not have.
    """
    from leadgate.chat.flows.model import Flow

    values = branding.values
    data = flow.model_dump(by_alias=True, exclude={"branding"})
    texts: dict[str, Any] = data["texts"]
    errors: list[InitErrorDetails] = []
    if branding.tone is not None:
        texts.update(TONE_PACKS[branding.tone])
    greetings = {key: branding.greetings.variants(key) for key in ("greeting", "greet_again")}
    for key, variants in greetings.items():
        if variants:
            texts[key] = variants[0]
    for key, text in branding.prompts.texts.items():
        if key.startswith("handoff_reasons."):
            texts["handoff_reasons"][key.split(".", 1)[1]] = text
        else:
            texts[key] = text
    data["decisions"].update(branding.prompts.decisions)
    names = [slot["name"] for slot in data["slots"]]
    for name, override in branding.prompts.slots.items():
        if name not in names:
            errors.append(
                _error(("branding", "prompts", "slots", name), f"the flow has no slot {name!r}", name)
            )
            continue
        data["slots"][names.index(name)].update(override.model_dump(exclude_none=True))
    if branding.resources is not None:
        data["resources"] = branding.resources

    def render(loc: tuple[str | int, ...], text: str) -> str:
        try:
            return render_brand(text, values)
        except KeyError as exc:
            errors.append(
                _error(loc, f"uses {{{exc.args[0]}}}, but the branding sets no {exc.args[0]}", text)
            )
            return text

    for key, text in list(texts.items()):
        if isinstance(text, str):
            texts[key] = render(("texts", key), text)
    for key, text in list(texts["handoff_reasons"].items()):
        texts["handoff_reasons"][key] = render(("texts", "handoff_reasons", key), text)
    for key, text in list(data["decisions"].items()):
        data["decisions"][key] = render(("decisions", key), text)
    for index, slot in enumerate(data["slots"]):
        for field in ("label", "prompt", "why"):
            slot[field] = render(("slots", index, field), slot[field])
    rendered = {
        key: [render(("branding", "greetings", key), t) for t in variants] or None
        for key, variants in greetings.items()
    }
    if errors:
        raise ValidationError.from_exception_data("Flow", errors)
    data["branding"] = branding.model_copy(
        update={
            "greetings": Greetings.model_construct(
                greeting=rendered["greeting"], greet_again=rendered["greet_again"]
            )
        }
    )
    return Flow.model_validate(data)


class BrandingError(YamlError):
    """A branding file is not valid.

    ``str()`` lists one ``file:line:col: path: message`` line per issue.

    Attributes:
        source: the file name (or the label given to :func:`load_branding_text`).
        issues: every issue found, ordered by position.
    """


def check_branding_text(text: str) -> tuple[Branding | None, list[YamlIssue]]:
    """Check branding YAML given as text (one mapping: the fields of :class:`Branding`).

    Returns:
        ``(branding, [])`` when valid; ``(None, issues)`` otherwise, ordered by line and column (YAML
        syntax, duplicate keys, unknown keys, wrong types, unknown placeholders...).
    """
    return check_yaml(text, Branding, "branding file")


def check_branding_file(path: str | Path) -> list[YamlIssue]:
    """Check a branding file; see :func:`check_branding_text`.

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    return check_branding_text(Path(path).read_text(encoding="utf-8"))[1]


def load_branding_text(text: str, source: str = "<branding>") -> Branding:
    """Load a branding from YAML text.

    Raises:
        BrandingError: listing every issue as ``source:line:col: path: message``.
    """
    branding, issues = check_branding_text(text)
    if branding is None:
        raise BrandingError(source, issues)
    return branding


def load_branding(path: str | Path) -> Branding:
    """Load and validate a branding file (``LEADGATE_BRANDING_FILE``).

    Raises:
        FileNotFoundError: if the file does not exist.
        BrandingError: listing every issue as ``file:line:col: path: message``.
    """
    path = Path(path)
    return load_branding_text(path.read_text(encoding="utf-8"), source=str(path))
