"""E-mail addresses (email-validator) and phone numbers (phonenumbers).

E-mail: every ``local@domain`` candidate is checked with ``email_validator.validate_email`` with
``check_deliverability=False`` (syntax only; no DNS lookup, nothing leaves the process). A valid
address is normalized (domain lowercased and IDNA-decoded, local part kept); an invalid one is still
returned, with ``valid: False`` and the validator's reason, so the flow can explain the re-ask.
``free_provider`` flags consumer mailboxes (gmail.com, yahoo.*, outlook.*, hotmail.*, icloud.com,
proton.me...) by the shared vocabulary (``leadgate.contracts.vocabulary.FREE_EMAIL_DOMAINS``).

Phone: ``phonenumbers.PhoneNumberMatcher`` with leniency ``VALID`` (the number must be a valid
number for its region by libphonenumber's metadata) and a default region for numbers written
without a country code; normalized to E.164.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from leadgate.chat.nlu.company import company_from_email
from leadgate.chat.nlu.entity import Entity
from leadgate.contracts.vocabulary import FREE_EMAIL_DOMAINS, is_free_provider

EXTRACTOR_EMAIL = "leadgate.email"
EXTRACTOR_PHONE = "leadgate.phone"

__all__ = ["FREE_EMAIL_DOMAINS", "extract_emails", "extract_phones", "is_free_provider"]

_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\],;:\"'@]+@[^\s<>()\[\],;:\"'@]+")


def extract_emails(text: str) -> list[Entity]:
    """Find e-mail addresses.

    Args:
        text: the message.

    Returns:
        ``email`` entities; ``normalized`` holds ``email`` (normalized address, or None if invalid),
        ``local_part``, ``domain``, ``valid`` (bool), ``free_provider`` (bool), ``error`` (the
        validator's message when invalid, else None) and ``company_proposal`` (the company name the
        domain suggests, for the visitor to confirm: :func:`~leadgate.chat.nlu.company.company_from_email`;
        None for free-mail and invalid addresses).

    """
    out = []
    for m in _EMAIL_CANDIDATE.finditer(text):
        raw = m.group(0).rstrip(".!?")
        start, end = m.start(), m.start() + len(raw)
        try:
            info = validate_email(raw, check_deliverability=False)
        except EmailNotValidError as exc:
            local, _, domain = raw.partition("@")
            out.append(_email_entity(raw, start, end, None, local, domain.lower(), str(exc)))
            continue
        out.append(
            _email_entity(raw, start, end, info.normalized, info.local_part, info.domain.lower(), None)
        )
    return out


def _email_entity(
    raw: str, start: int, end: int, normalized: str | None, local: str, domain: str, error: str | None
) -> Entity:
    """An ``email`` entity; ``normalized`` is None and ``error`` says why when the address is invalid."""
    return Entity(
        "email",
        raw,
        start,
        end,
        {
            "email": normalized,
            "local_part": local,
            "domain": domain,
            "valid": error is None,
            "free_provider": is_free_provider(domain),
            "error": error,
            "company_proposal": company_from_email(domain) if error is None else None,
        },
        confidence=1.0 if error is None else 0.5,
        extractor=EXTRACTOR_EMAIL,
    )


_NUMBER_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.VOIP: "voip",
}


def extract_phones(text: str, region: str = "US") -> list[Entity]:
    """Find phone numbers.

    Args:
        text: the message.
        region: ISO 3166-1 alpha-2 region assumed for numbers without a country code (``"US"``,
            ``"GB"``, ``"DE"``...).

    Returns:
        ``phone`` entities; ``normalized`` holds ``e164`` (``"+14155550132"``), ``region`` (of the
        number), ``national`` (national format) and ``type`` (``mobile``, ``fixed_line``,
        ``fixed_line_or_mobile``, ``toll_free``, ``voip`` or ``other``).

    Raises:
        ValueError: if ``region`` is not a region phonenumbers knows.

    """
    reg = region.upper()
    if reg not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"unknown phone region {region!r}; use an ISO 3166-1 alpha-2 code such as 'US' or 'GB'"
        )
    out = []
    for match in phonenumbers.PhoneNumberMatcher(text, reg, leniency=phonenumbers.Leniency.VALID):
        number = match.number
        out.append(
            Entity(
                "phone",
                match.raw_string,
                match.start,
                match.end,
                {
                    "e164": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                    "region": phonenumbers.region_code_for_number(number),
                    "national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                    "type": _NUMBER_TYPES.get(phonenumbers.number_type(number), "other"),
                },
                confidence=1.0,
                extractor=EXTRACTOR_PHONE,
            )
        )
    return out
