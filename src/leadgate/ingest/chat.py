"""The chat channel: a conversation's filled slots -> a ``lead/v1`` ``Lead`` (like ``ingest.forms`` for web forms).

The chat assistant (``chat.qualify.ChatLeadQualifier``) and the e-mail channel (``ingest.email.lead``) call
:func:`lead_from_chat_slots`; the lead then goes through the same pipeline as every other channel. The
values a slot may take (seniority, authority, free-mail domains, budget periods) come from the shared
vocabulary (``leadgate.contracts.vocabulary``), the same one the chat validators and the NLU use.
``lead_id = "chat-" + conversation_id``, ``source = "chat"``; the attributes are the BANT and ICP facts the
visitor stated (all pre-decision). The slot -> attribute table is in ``docs/chat-qualification.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from leadgate.contracts.lead import Lead
from leadgate.contracts.vocabulary import (
    AUTHORITIES,
    BUDGET_PERIOD_ALIASES,
    BUDGET_PERIODS,
    SENIORITIES,
    is_free_provider,
)
from leadgate.errors import LeadgateError

SOURCE = "chat"
"""``Lead.source`` of every chat lead."""

LEAD_ID_PREFIX = "chat-"
"""``lead_id = LEAD_ID_PREFIX + conversation_id``: one lead per conversation."""


CHAT_ATTRIBUTES: dict[str, str] = {
    name: "pre_decision"
    for name in (
        "company_size",
        "company_size_min",
        "company_size_max",
        "company_size_scope",
        "authority",
        "seniority",
        "department",
        "budget_status",
        "budget_amount",
        "budget_currency",
        "budget_period",
        "budget_per",
        "budget_annual",
        "timeline_status",
        "timeline_start",
        "timeline_end",
        "timeline_days",
        "free_email",
        "email_domain",
        "need",
        "need_stated",
        "consent",
    )
}
"""Every attribute a chat lead may carry -> its stage. All are stated by the visitor before the decision,
so all are ``pre_decision``; ``FeatureSet.check_sources`` checks the chat feature set against this."""

PERIOD_FACTORS: dict[str, int] = BUDGET_PERIODS
"""Budget periods -> periods per year (the shared vocabulary's :data:`~leadgate.contracts.vocabulary.BUDGET_PERIODS`)."""

_PERIOD_ALIASES = BUDGET_PERIOD_ALIASES

BANDED_CURRENCIES = frozenset({"USD", "EUR", "GBP", "CHF", "CAD", "AUD"})
"""Currencies whose unit is worth roughly one US dollar (between about 0.65 and 1.3), so the US-dollar
budget bands of ``chat_fit.yaml`` (factors of 2.5 to 10 apart) apply without conversion. A budget in
another currency counts as stated but is not banded: leadgate keeps no exchange rates."""

_NO = frozenset({"none", "no", "no budget", "nothing", "zero", "false", "n/a", "na"})
_YES_WORDS = frozenset({"true", "yes", "y", "1"})
_NO_WORDS = frozenset({"false", "no", "n", "0"})

_LEAD_FIELD_SLOT = {
    "email": "work_email",
    "first_name": "person_name",
    "last_name": "person_name",
    "company": "company",
    "title": "role",
    "phone": "phone",
    "country": "country",
    "city": "city",
}

_MAX_TEXT = 2000
"""Longest free-text slot kept (``need``), in characters: the chat API's default message limit."""


class SlotError(LeadgateError, ValueError):
    """A slot value that cannot be read.

    Attributes:
        slot: the slot's name (``budget``, ``work_email``...).
        reason: what is wrong, in plain words.
    """

    def __init__(self, slot: str, reason: str):
        super().__init__(f"slot {slot!r}: {reason}")
        self.slot = slot
        self.reason = reason


def _text(slot: str, value: Any, *, keys: tuple[str, ...] = (), max_len: int = 300) -> str | None:
    """A string slot, or the first string under ``keys`` of a dict slot; None when blank."""
    if isinstance(value, Mapping):
        for key in keys:
            if value.get(key) not in (None, ""):
                value = value[key]
                break
        else:
            raise SlotError(slot, f"expected text or an object with one of {list(keys)}, got {dict(value)!r}")
    if value is None:
        return None
    if not isinstance(value, str):
        raise SlotError(slot, f"expected text, got {type(value).__name__} {value!r}")
    value = " ".join(value.split())
    if len(value) > max_len:
        raise SlotError(slot, f"longer than {max_len} characters")
    return value or None


def _number(slot: str, value: Any, what: str) -> float | None:
    """A finite, non-negative number (an int, float or numeric string); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise SlotError(slot, f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise SlotError(slot, f"{what} must be a number, got {value!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise SlotError(slot, f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _name(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, Mapping) and (value.get("first") or value.get("last")):
        first = _text("person_name", value.get("first"), max_len=200)
        last = _text("person_name", value.get("last"), max_len=200)
        return first, last
    full = _text("person_name", value, keys=("full", "name"), max_len=400)
    if full is None:
        return None, None
    # The first word is the first name, the rest the last name ("Ludwig van Beethoven").
    first, _, last = full.partition(" ")
    return first, last or None


def _email(value: Any) -> tuple[str | None, dict[str, Any]]:
    if value is None:
        return None, {}
    free: Any = None
    if isinstance(value, Mapping):
        if value.get("valid") is False:
            detail = value.get("error") or "the address is not valid"
            raise SlotError("work_email", f"not a valid email address ({detail})")
        free = value.get("free_mail", value.get("free_provider"))
    address = _text("work_email", value, keys=("email",), max_len=320)
    if address is None:
        return None, {}
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain:
        raise SlotError("work_email", f"not a valid email address: {address!r}")
    if free is None:
        free = is_free_provider(domain)
    if not isinstance(free, bool):
        raise SlotError("work_email", f"free_mail must be true or false, got {free!r}")
    return address, {"email_domain": domain.lower(), "free_email": free}


def _choice(slot: str, what: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise SlotError(slot, f"{what} must be one of {list(allowed)}, got {value!r}")
    return value.strip().lower()


def _role(value: Any) -> tuple[str | None, dict[str, Any]]:
    if value is None:
        return None, {}
    if isinstance(value, str):
        return _text("role", value), {}
    if not isinstance(value, Mapping):
        raise SlotError("role", f"expected a title or the NLU's role object, got {value!r}")
    title = _text("role", value.get("title"))
    attrs = {
        "seniority": _choice("role", "seniority", value.get("seniority"), SENIORITIES),
        "department": _text("role", value.get("department"), max_len=64),
        "authority": _choice("role", "authority", value.get("authority"), AUTHORITIES),
    }
    return title, attrs


def _authority(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("authority")
    return _choice("authority", "authority", value, AUTHORITIES)


def _company_size(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        low = _number("company_size", value.get("min"), "min")
        high = _number("company_size", value.get("max"), "max")
        scope = _text("company_size", value.get("scope"), max_len=32)
    else:
        low = high = _number("company_size", value, "the size")
        scope = None
    if low is None and high is None:
        raise SlotError("company_size", "needs a number of people, or a min or max")
    if low is not None and high is not None and high < low:
        raise SlotError("company_size", f"max {high:g} is below min {low:g}")
    if max(low or 0.0, high or 0.0) < 1:
        raise SlotError("company_size", "a company has at least 1 person")
    # One number for the rules and the policy: the midpoint of a range, else the bound given
    # ("1000+" -> 1000, "up to 50" -> 50).
    size = round((low + high) / 2) if low is not None and high is not None else round(low or high or 0)
    attrs: dict[str, Any] = {"company_size": size, "company_size_scope": scope}
    if low is not None:
        attrs["company_size_min"] = _whole(low)
    if high is not None:
        attrs["company_size_max"] = _whole(high)
    return attrs


def _budget(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if value is False or (isinstance(value, str) and value.strip().lower() in _NO):
        return {"budget_status": "none"}
    currency = period = per = None
    if isinstance(value, Mapping):
        amount = _number("budget", value.get("amount"), "amount")
        low = _number("budget", value.get("min"), "min")
        high = _number("budget", value.get("max"), "max")
        if amount is None:
            if low is None and high is None:
                raise SlotError("budget", "needs an amount, or a min or max")
            # A range is read at its midpoint; "at least X" at X, "up to X" at X.
            amount = (low + high) / 2 if low is not None and high is not None else (low or high)
        currency = value.get("currency")
        if currency is not None and (
            not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency)
        ):
            raise SlotError("budget", f"currency must be an ISO 4217 code such as USD, got {currency!r}")
        currency = currency.upper() if currency else None
        raw_period = value.get("period")
        if raw_period is not None:
            key = str(raw_period).strip().lower()
            period = _PERIOD_ALIASES.get(key, key)
            if period not in PERIOD_FACTORS:
                raise SlotError("budget", f"period must be one of {list(PERIOD_FACTORS)}, got {raw_period!r}")
        per = _text("budget", value.get("per"), max_len=32)
    else:
        amount = _number("budget", value, "the budget")
    assert amount is not None
    if amount == 0:
        return {"budget_status": "none"}
    attrs: dict[str, Any] = {
        "budget_status": "stated",
        "budget_amount": _whole(amount),
        "budget_currency": currency,
        "budget_period": period,
        "budget_per": per,
    }
    if per is None and (currency is None or currency in BANDED_CURRENCIES):
        attrs["budget_annual"] = _whole(amount * PERIOD_FACTORS[period or "year"])
    return attrs


def _date(slot: str, value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise SlotError(slot, f"expected an ISO date (YYYY-MM-DD), got {value!r}")


def _timeline(value: Any, today: date) -> dict[str, Any]:
    if value is None:
        return {}
    if value is False or (isinstance(value, str) and value.strip().lower() in _NO):
        return {"timeline_status": "none"}
    if isinstance(value, Mapping):
        start = _date("timeline", value.get("start"))
        end = _date("timeline", value.get("end"))
    else:
        start = end = _date("timeline", value)
    if start is None and end is None:
        raise SlotError("timeline", "needs a start or an end date")
    if start is not None and end is not None and end < start:
        raise SlotError("timeline", f"ends ({end}) before it starts ({start})")
    last = end or start
    assert last is not None
    return {
        "timeline_status": "stated",
        "timeline_start": start.isoformat() if start else None,
        "timeline_end": end.isoformat() if end else None,
        # Days from today to the end of the window: the date by which they want it (0 when already past).
        "timeline_days": max(0, (last - today).days),
    }


def _consent(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES_WORDS | _NO_WORDS:
        return value.strip().lower() in _YES_WORDS
    raise SlotError("consent", f"expected true or false, got {value!r}")


def lead_from_chat_slots(
    conversation_id: str, slots: Mapping[str, Any], now: datetime, *, notes: Sequence[str] = ()
) -> Lead:
    """The ``Lead`` of a conversation from its filled slots.

    Slot -> lead mapping (full table in ``docs/chat-qualification.md``): ``person_name`` -> first and
    last name; ``work_email`` -> ``email`` and attributes ``free_email``, ``email_domain``; ``company``
    -> ``company``; ``role`` -> ``title`` and ``seniority``, ``department``, ``authority``; ``authority``
    (a separate statement, wins over the role's) -> ``authority``; ``company_size`` -> ``company_size``
    (midpoint of a range, else the bound given), ``company_size_min/max/scope``; ``need`` -> ``need``,
    ``need_stated``; ``budget`` -> ``budget_status`` (``stated``/``none``), ``budget_amount``,
    ``budget_currency``, ``budget_period``, ``budget_per``, ``budget_annual`` (annualized with
    ``PERIOD_FACTORS``, only for per-purchase budgets in ``BANDED_CURRENCIES`` or no currency);
    ``timeline`` -> ``timeline_start``, ``timeline_end``, ``timeline_days`` (days from ``now`` to the end);
    ``phone``, ``country``, ``city`` -> the lead fields; ``consent`` -> ``consent``. Each slot may be
    absent or None (unknown). Slots with other names are ignored (flows keep bookkeeping slots).

    Args:
        conversation_id: the conversation's id (letters, digits, ``._:@-``; at most 123 characters).
        slots: slot name -> value, as the NLU normalizes them (``leadgate nlu parse``) or plain values
            (a string email, a number of people, an ISO date...).
        now: the time of qualification (aware, or naive UTC): ``received_at`` and the timeline's reference.
        notes: what the visitor said that answered no slot ("we need to understand feature adoption..."),
            in order; kept as the attribute ``visitor_notes`` (joined by " | ", at most the free-text limit).
            Context for the rep, not a feature of any shipped feature set.

    Returns:
        The ``lead/v1`` lead; attributes are only those stated (no None values).

    Raises:
        SlotError: a slot value that cannot be read, naming the slot.
        ValueError: an invalid ``conversation_id``.
        TypeError: ``slots`` is not a mapping.
    """
    if not isinstance(slots, Mapping):
        raise TypeError(f"slots must be a mapping of slot name -> value, got {type(slots).__name__}")
    if not isinstance(conversation_id, str) or not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9._:@\-]{0,122}", conversation_id
    ):
        raise ValueError(f"invalid conversation_id {conversation_id!r}")
    aware_now = now if now.tzinfo else now.replace(tzinfo=UTC)
    today = aware_now.astimezone(UTC).date()

    first, last = _name(slots.get("person_name"))
    email, email_attrs = _email(slots.get("work_email"))
    title, role_attrs = _role(slots.get("role"))
    attrs: dict[str, Any] = {**email_attrs, **role_attrs}
    stated_authority = _authority(slots.get("authority"))
    if stated_authority is not None:
        attrs["authority"] = stated_authority
    attrs.update(_company_size(slots.get("company_size")))
    attrs.update(_budget(slots.get("budget")))
    attrs.update(_timeline(slots.get("timeline"), today))
    need = _text("need", slots.get("need"), keys=("text",), max_len=_MAX_TEXT)
    if need is not None:
        attrs["need"] = need
    attrs["need_stated"] = need is not None
    kept = [n.strip() for n in notes if isinstance(n, str) and n.strip()]
    if kept:
        attrs["visitor_notes"] = " | ".join(kept)[:_MAX_TEXT]
    attrs["consent"] = _consent(slots.get("consent"))
    phone = _text("phone", slots.get("phone"), keys=("e164", "national"), max_len=40)
    fields = {
        "lead_id": LEAD_ID_PREFIX + conversation_id,
        "source": SOURCE,
        "received_at": aware_now,
        "email": email,
        "first_name": first,
        "last_name": last,
        "company": _text("company", slots.get("company"), keys=("name",)),
        "title": title,
        "phone": phone,
        "country": _text("country", slots.get("country"), keys=("name", "code"), max_len=100),
        "city": _text("city", slots.get("city"), keys=("name",), max_len=100),
        "attributes": {k: v for k, v in attrs.items() if v is not None},
    }
    try:
        return Lead.model_validate(fields)
    except ValidationError as exc:
        first_error = exc.errors()[0]
        loc = first_error["loc"]
        field = str(loc[0]) if loc else "lead"
        slot = _LEAD_FIELD_SLOT.get(field, str(loc[1]) if field == "attributes" and len(loc) > 1 else field)
        raise SlotError(slot, first_error["msg"]) from exc


build_chat_lead = lead_from_chat_slots
"""The former name of :func:`lead_from_chat_slots` (kept for callers of ``chat.qualify.build_chat_lead``)."""
