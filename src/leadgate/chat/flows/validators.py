"""Per-slot validators of a qualification flow.

Every slot names one validator. A validator receives a candidate value in one of the shapes the built-in
NLU produces (``Entity.normalized``, see ``docs/nlu.md``) or a plain JSON value (what a language model
may return: a string, a number, a bool), and returns a :class:`Verdict`: the normalized, JSON-able value
to store with its flags, or the reason it was refused. Slot values from the NLU and from a language
model go through the same ``check``; a string from a language model is first re-read by the NLU entity
extractors (``chat.flows.engine``), so the two sources cannot disagree about what a valid value is.

Stored value shapes (what ``LeadQualifier.qualify`` receives as ``slots[name]``):

=================  ======================================================================================
validator          value
=================  ======================================================================================
``person_name``    ``{"full": str, "first": str, "last": str | None}``
``work_email``     ``str`` (normalized address); flag ``free_mail`` when a free provider was accepted
``company_name``   ``str``
``role``           ``{"title", "seniority", "department", "authority"}`` (each ``str | None``)
``company_size``   ``{"min": int, "max": int | None, "approximate": bool, "scope": "company" | "team"}``
``budget``         ``{"amount", "min", "max", "currency", "period", "per", "approximate"}`` (numbers in
                   currency units, ``max`` None when open-ended)
``timeline``       ``{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "grain": str}``
``phone``          ``str`` in E.164 (``+14155550132``)
``consent``        ``bool``
``free_text``      ``str``
=================  ======================================================================================

A skipped slot (``skippable``) is stored with value ``None`` and the flag ``skipped``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from leadgate.chat.flows.validators_contact import (
    CompanyNameValidator,
    PersonNameValidator,
    RoleValidator,
    WorkEmailValidator,
)
from leadgate.chat.flows.verdicts import (
    _CURRENCY,
    _LETTER,
    _MODEL,
    PERIODS_PER_YEAR,
    ValidationContext,
    Verdict,
    _fmt_number,
    _int,
    _number,
    _refuse,
)
from leadgate.yamlcheck import UNION_TAG_PREFIX as TAG_PREFIX


class CompanySizeValidator(BaseModel):
    """A head count: ``min`` a positive integer in [``min_value``, ``max_value``], ``max`` >= ``min`` or None.

    Accepts an NLU ``company_size`` value (``{"min", "max", "approximate", "scope"}``) or a positive
    integer. Flags: ``approximate``, ``range``, ``open_ended``, ``team_scope`` (the visitor gave a team's
    size, e.g. "a team of 12", not the company's).
    """

    model_config = _MODEL
    type: Literal["company_size"] = "company_size"
    min_value: int = Field(default=1, ge=1)
    max_value: int = Field(default=5_000_000, ge=1)

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a head count; see the class docstring. Never raises."""
        if isinstance(value, dict):
            low, high = _int(value.get("min")), value.get("max")
            high = None if high is None else _int(high)
            if value.get("max") is not None and high is None:
                return _refuse("a head count is a whole number")
            approximate = bool(value.get("approximate"))
            team = value.get("scope") == "team"
        else:
            low = high = _int(value)
            approximate = team = False
        if low is None:
            return _refuse("a head count is a whole number")
        if low < self.min_value:
            return _refuse(f"a company has at least {self.min_value} person")
        if (high if high is not None else low) > self.max_value:
            return _refuse(f"that is more than {self.max_value:,} people")
        if high is not None and high < low:
            return _refuse("the range is upside down")
        flags = [
            name
            for name, on in (
                ("approximate", approximate),
                ("range", high is not None and high != low),
                ("open_ended", high is None),
                ("team_scope", team),
            )
            if on
        ]
        scope = "team" if team else "company"
        return Verdict(
            ok=True,
            value={"min": low, "max": high, "approximate": approximate, "scope": scope},
            flags=tuple(flags),
        )

    def describe(self, value: Any) -> str:
        """Return e.g. ``400 people``, ``about 200 people``, ``50-100 people`` or ``1,001+ people``."""
        low, high = value["min"], value["max"]
        about = "about " if value.get("approximate") else ""
        if high is None:
            return f"{about}{low:,}+ people"
        if high == low:
            return f"{about}{low:,} {'person' if low == 1 else 'people'}"
        return f"{about}{low:,}-{high:,} people"


class BudgetValidator(BaseModel):
    """A budget: positive amounts, ``max`` >= ``min``, an ISO 4217 currency or none.

    Accepts an NLU ``money`` value or a positive number (an amount without currency or period). A budget
    without a currency takes ``default_currency`` with the flag ``currency_assumed``, or stays without
    one with the flag ``no_currency`` when ``default_currency`` is None. ``currencies`` (when not empty)
    lists the currencies accepted. Currencies are never converted.
    """

    model_config = _MODEL
    type: Literal["budget"] = "budget"
    default_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    currencies: list[str] = Field(default_factory=list)

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a budget; see the class docstring. Never raises."""
        if _number(value) is not None:
            value = {"amount": value, "min": value, "max": value}
        if not isinstance(value, dict):
            return _refuse("a budget is an amount of money, e.g. 50k USD a year")
        amount, low, high = (value.get(k) for k in ("amount", "min", "max"))
        numbers = [v for v in (amount, low, high) if v is not None]
        if not numbers or any(_number(v) is None for v in numbers):
            return _refuse("a budget is an amount of money, e.g. 50k USD a year")
        if any(v <= 0 for v in numbers):
            return _refuse("a budget is more than zero")
        if low is None:
            low = amount
        if low is not None and high is not None and high < low:
            return _refuse("the range is upside down")
        currency = value.get("currency")
        flags: list[str] = []
        if currency is None:
            currency = self.default_currency
            flags.append("currency_assumed" if currency else "no_currency")
        if currency is not None and (not isinstance(currency, str) or not _CURRENCY.match(currency)):
            return _refuse("I didn't recognize that currency")
        if currency is not None and self.currencies and currency not in self.currencies:
            return _refuse(f"I can take budgets in {', '.join(self.currencies)}")
        period = value.get("period")
        if period not in PERIODS_PER_YEAR:
            return _refuse("I didn't recognize that budget period")
        per = value.get("per") if isinstance(value.get("per"), str) else None
        approximate = bool(value.get("approximate"))
        if approximate:
            flags.append("approximate")
        if high is None or (low is not None and high != low):
            flags.append("range")
        return Verdict(
            ok=True,
            value={
                "amount": amount if amount is not None else (low if low == high else None),
                "min": low,
                "max": high,
                "currency": currency,
                "period": period,
                "per": per,
                "approximate": approximate,
            },
            flags=tuple(flags),
        )

    @staticmethod
    def annual_floor(value: dict[str, Any]) -> float | None:
        """The smallest yearly amount the budget states: ``(amount or min) * periods per year``.

        Args:
            value: a stored budget value.

        Returns:
            The amount in the budget's own currency units per year, or None when no lower bound is known.
        """
        low = value.get("amount") if value.get("amount") is not None else value.get("min")
        if low is None:
            return None
        return float(low) * PERIODS_PER_YEAR.get(value.get("period"), 1)

    def describe(self, value: Any) -> str:
        """Return e.g. ``50,000 USD per year`` or ``20,000-30,000``."""
        low, high = value.get("min"), value.get("max")
        if value.get("amount") is not None:
            text = _fmt_number(value["amount"])
        elif high is None:
            text = f"{_fmt_number(low)}+"
        elif low is None:
            text = f"up to {_fmt_number(high)}"
        else:
            text = f"{_fmt_number(low)}-{_fmt_number(high)}"
        if value.get("currency"):
            text += f" {value['currency']}"
        if value.get("per"):
            text += f" per {value['per']}"
        if value.get("period"):
            text += f" per {value['period']}"
        return text


class TimelineValidator(BaseModel):
    """When the visitor needs a solution: a date range that ends today or later.

    Accepts an NLU ``timeline`` value (``{"start", "end", "grain"}`` as ISO dates). A range that started in
    the past but has not ended is kept from today. ``max_days_ahead`` bounds how far away the start may be
    (default three years: a later start is not a buying timeline).
    """

    model_config = _MODEL
    type: Literal["timeline"] = "timeline"
    max_days_ahead: int = Field(default=1096, ge=1)

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a timeline; see the class docstring. Never raises."""
        if not isinstance(value, dict):
            return _refuse("I need a time frame, e.g. 'this quarter' or 'by March'")
        try:
            start = date.fromisoformat(str(value["start"]))
            end = date.fromisoformat(str(value["end"]))
        except (KeyError, ValueError):
            return _refuse("I need a time frame, e.g. 'this quarter' or 'by March'")
        if end < start:
            return _refuse("the time frame ends before it starts")
        if end < ctx.today:
            return _refuse("that date has already passed")
        if start > ctx.today + timedelta(days=self.max_days_ahead):
            return _refuse(f"that is more than {self.max_days_ahead // 365} years away")
        grain = value.get("grain") if isinstance(value.get("grain"), str) else None
        return Verdict(
            ok=True,
            value={"start": max(start, ctx.today).isoformat(), "end": end.isoformat(), "grain": grain},
        )

    def describe(self, value: Any) -> str:
        """Return e.g. ``1 Jul 2026 to 30 Sep 2026``, ``on 19 May 2026`` or ``from 1 Mar 2027`` (an ``after`` bound)."""
        start, end = date.fromisoformat(str(value["start"])), date.fromisoformat(str(value["end"]))
        if start == end:
            return f"on {_day(start)}"
        if value.get("grain") == "after":
            return f"from {_day(start)}"
        return f"{_day(start)} to {_day(end)}"


def _day(d: date) -> str:
    """A date as visitors read it: ``3 Feb 2027``."""
    return f"{d.day} {d.strftime('%b %Y')}"


class PhoneValidator(BaseModel):
    """A phone number valid for its region by libphonenumber's metadata, stored in E.164.

    Accepts an NLU ``phone`` value (``{"e164", ...}``) or a string (read with the default region).
    """

    model_config = _MODEL
    type: Literal["phone"] = "phone"

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a phone number; see the class docstring. Never raises."""
        raw = value.get("e164") if isinstance(value, dict) else value
        if not isinstance(raw, str):
            return _refuse("that is not a phone number")
        try:
            number = phonenumbers.parse(raw, ctx.region)
        except phonenumbers.NumberParseException:
            return _refuse("that is not a phone number")
        if not phonenumbers.is_valid_number(number):
            return _refuse("that phone number is not valid; please include the country code")
        return Verdict(ok=True, value=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def describe(self, value: Any) -> str:
        """Return the E.164 number."""
        return str(value)


_YES = frozenset({"yes", "y", "true"})
_NO = frozenset({"no", "n", "false"})


class ConsentValidator(BaseModel):
    """Consent to be contacted: yes or no (``True``/``False``; from the affirm/deny intents or a bool)."""

    model_config = _MODEL
    type: Literal["consent"] = "consent"

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a yes/no answer; see the class docstring. Never raises."""
        if isinstance(value, str):
            value = True if value.strip().lower() in _YES else False if value.strip().lower() in _NO else None
        if not isinstance(value, bool):
            return _refuse("I need a yes or a no")
        return Verdict(ok=True, value=value)

    def describe(self, value: Any) -> str:
        """Return ``given`` or ``declined`` (read after the slot's label: "consent to be contacted given")."""
        return "given" if value else "declined"


class FreeTextValidator(BaseModel):
    """Free text (the visitor's need or use case): ``min_chars`` to ``max_chars`` with at least one letter."""

    model_config = _MODEL
    type: Literal["free_text"] = "free_text"
    min_chars: int = Field(default=3, ge=1)
    max_chars: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> FreeTextValidator:
        if self.max_chars < self.min_chars:
            raise ValueError("max_chars must be >= min_chars")
        return self

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate free text; see the class docstring. Never raises."""
        if not isinstance(value, str) or not _LETTER.search(value):
            return _refuse("please describe it in a few words")
        text = " ".join(value.split())
        if len(text) < self.min_chars:
            return _refuse("please describe it in a few words")
        if len(text) > self.max_chars:
            return _refuse(f"please keep it under {self.max_chars} characters")
        return Verdict(ok=True, value=text)

    def describe(self, value: Any) -> str:
        """Return the text in quotes, shortened at a word boundary to about 60 characters ("…" marks a cut)."""
        text = str(value)
        if len(text) > 60:
            cut = text[:60].rsplit(" ", 1)[0] if " " in text[:60] else text[:59]
            text = cut.rstrip(" ,;:.") + "…"
        return f'"{text}"'


def _validator_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return None if kind is None else f"{TAG_PREFIX}{kind}"


SlotValidator = Annotated[
    Annotated[PersonNameValidator, Tag(f"{TAG_PREFIX}person_name")]
    | Annotated[WorkEmailValidator, Tag(f"{TAG_PREFIX}work_email")]
    | Annotated[CompanyNameValidator, Tag(f"{TAG_PREFIX}company_name")]
    | Annotated[RoleValidator, Tag(f"{TAG_PREFIX}role")]
    | Annotated[CompanySizeValidator, Tag(f"{TAG_PREFIX}company_size")]
    | Annotated[BudgetValidator, Tag(f"{TAG_PREFIX}budget")]
    | Annotated[TimelineValidator, Tag(f"{TAG_PREFIX}timeline")]
    | Annotated[PhoneValidator, Tag(f"{TAG_PREFIX}phone")]
    | Annotated[ConsentValidator, Tag(f"{TAG_PREFIX}consent")]
    | Annotated[FreeTextValidator, Tag(f"{TAG_PREFIX}free_text")],
    Discriminator(
        _validator_kind,
        custom_error_type="flow_validator",
        custom_error_message=(
            "a validator is a mapping with a 'type': person_name, work_email, company_name, role, "
            "company_size, budget, timeline, phone, consent or free_text"
        ),
    ),
]
"""One of the validators above, chosen by its ``type`` key."""

VALIDATOR_TYPES = (
    "person_name",
    "work_email",
    "company_name",
    "role",
    "company_size",
    "budget",
    "timeline",
    "phone",
    "consent",
    "free_text",
)
"""The ``type`` names of the validators."""
