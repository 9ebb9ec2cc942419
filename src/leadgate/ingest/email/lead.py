"""An ``EmailLead`` -> a ``lead/v1`` ``Lead``: the sender through the contract, the body through the chat NLU.

Pure (the clock is passed in). The body (subject and text) is parsed by the chat NLU
(``leadgate.chat.nlu``, what ``leadgate nlu parse`` prints): its intent, and its entities turned into the
chat's slots (``role``/``authority``, ``company_size``, ``money`` -> budget, ``timeline``, ``company``,
``phone``), which ``leadgate.ingest.chat.lead_from_chat_slots`` turns into the same BANT attributes a chat lead
carries (``docs/chat-qualification.md``), so an email lead is qualified like a chat lead. The sender's
address goes through the contract's email validation; the first and last name come from the display name
("José Núñez", Outlook's "Núñez, José"), else from a name the NLU found in the text.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from leadgate.chat.nlu.interpreter import NLU, ParseResult
from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead
from leadgate.ingest.chat import SlotError, lead_from_chat_slots
from leadgate.ingest.email.parse import EmailLead

SOURCE = "email"
"""``Lead.source`` of every email lead."""

LEAD_ID_PREFIX = "email-"

OPTIONAL_SLOTS = (
    "role",
    "authority",
    "company_size",
    "budget",
    "timeline",
    "company",
    "phone",
    "person_name",
)
"""Slots read from the text: one that does not fit the contract is left out (the lead is still made)."""

PERSONAL_ATTRIBUTES = frozenset({"need"})
"""Attributes stored encrypted with the personal fields: ``need`` holds the sender's own words."""


def message_key(message_id: str | None, raw: bytes) -> str:
    """The sha256 (hex) identifying a message: of its Message-ID, else of its raw bytes."""
    basis = f"mid:{message_id}".encode() if message_id else b"raw:" + raw
    return hashlib.sha256(basis).hexdigest()


def email_lead_id(key: str) -> str:
    """The lead id of a message with ``message_key`` ``key``: the same message always makes the same lead."""
    return LEAD_ID_PREFIX + key[:32]


def split_display_name(name: str | None) -> tuple[str | None, str | None]:
    """``(first, last)`` of a display name: ``"Søren Ægidius"`` -> Søren, Ægidius; ``"Núñez, José"`` -> José, Núñez.

    A name that is an address (``"jane@x.com"``) or empty gives ``(None, None)``; one word is a first name.
    """
    if not name or "@" in name:
        return None, None
    name = " ".join(name.replace('"', " ").split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip() or None, last.strip() or None
    first, _, last = name.partition(" ")
    return first or None, last or None


def slots_from_nlu(result: ParseResult) -> dict[str, Any]:
    """The chat slots the NLU found in a message (first entity of each kind), as the dialogue engine fills them."""
    slots: dict[str, Any] = {}
    roles = result.entities_of("role")
    if roles:
        slots["role"] = dict(roles[0].normalized)
    authority = result.entities_of("authority")
    if authority:
        slots["authority"] = authority[0].normalized.get("authority")
    for entity, slot in (("company_size", "company_size"), ("money", "budget"), ("timeline", "timeline")):
        found = result.entities_of(entity)
        if found:
            slots[slot] = dict(found[0].normalized)
    companies = result.entities_of("company")
    if companies:
        slots["company"] = dict(companies[0].normalized)
    phones = result.entities_of("phone")
    if phones:
        slots["phone"] = dict(phones[0].normalized)
    people = result.entities_of("person")
    if people:
        slots["person_name"] = dict(people[0].normalized)
    return slots


def build_email_lead(mail: EmailLead, key: str, nlu: NLU, now: datetime, region: str = "US") -> Lead:
    """The ``lead/v1`` lead of one enquiry mail.

    Args:
        mail: the parsed message.
        key: its ``message_key`` (the lead id is ``email-`` + its first 32 hex digits).
        nlu: the chat NLU (``default_nlu()``).
        now: arrival time (aware): ``received_at`` and the reference for relative dates ("by next quarter").
        region: default region of phone numbers and numeric dates (ISO 3166-1 alpha-2).

    Returns:
        The lead: ``source`` ``email``, the sender's email and names, the chat's BANT attributes, ``need``
        (subject and text, at most 2,000 characters), ``intent`` and ``intent_confidence`` (0..1).

    Raises:
        ContractError: the sender's address is not a valid email address (``email``).
    """
    text = "\n\n".join(part for part in (mail.subject, mail.body) if part)
    result = nlu.parse(text[:5000], now=now, region=region)
    slots = slots_from_nlu(result)
    first, last = split_display_name(mail.sender_name)
    if first is not None:
        slots["person_name"] = {"first": first, "last": last}
    slots["work_email"] = mail.sender_email
    slots["need"] = text[:2000]
    conversation_id = key[:32]
    while True:
        try:
            chat_lead = lead_from_chat_slots(conversation_id, slots, now)
            break
        except SlotError as exc:
            if exc.slot in OPTIONAL_SLOTS and exc.slot in slots:
                del slots[exc.slot]  # a fact the text states unreadably is left out, not the lead
                continue
            path = "email" if exc.slot == "work_email" else f"attributes.{exc.slot}"
            raise ContractError("lead/v1", [FieldError(path, exc.reason)]) from exc
    data = chat_lead.model_dump()
    data["lead_id"] = email_lead_id(key)
    data["source"] = SOURCE
    data["attributes"] = {
        **data["attributes"],
        "intent": result.intent.name,
        "intent_confidence": round(result.intent.confidence, 4),
    }
    try:
        return Lead.model_validate(data)
    except ValidationError as exc:
        raise ContractError.from_validation_error("lead/v1", exc) from exc
