"""What every slot validator (``chat.flows.validators``) receives and returns, and the helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ConfigDict

from leadgate.contracts.vocabulary import BUDGET_PERIODS

_MODEL = ConfigDict(extra="forbid", frozen=True)
_LETTER = re.compile(r"[^\W\d_]")
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'’.\-]*(?:['’.\-][^\W\d_]*)*\.?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

PERIODS_PER_YEAR: dict[str | None, int] = {None: 1}
PERIODS_PER_YEAR.update(BUDGET_PERIODS)
"""How many of each budget period make a year (the shared vocabulary's ``BUDGET_PERIODS``; a budget without
a period is read as a yearly total)."""


@dataclass(frozen=True)
class ValidationContext:
    """What a validator may depend on besides the value.

    Attributes:
        today: the visitor's local date (timelines must not end before it).
        region: ISO 3166-1 alpha-2 default region for phone numbers without a country code.
        free_mail_asked: True when the visitor was already asked once for a work address instead of a
            free-provider one (the second free address is then accepted with the flag ``free_mail``).
    """

    today: date
    region: str = "US"
    free_mail_asked: bool = False


@dataclass(frozen=True)
class Verdict:
    """The outcome of validating one candidate value.

    Attributes:
        ok: True when the value is accepted.
        value: the normalized value to store (JSON-able); for a held free-mail address, the address.
        flags: notes stored with the value (``free_mail``, ``currency_assumed``, ``approximate``...).
        reason: why the value was refused, in plain words for the visitor (None when ``ok``).
        hold: True when the value is neither accepted nor wrong: a free-mail address the first time
            (``free_mail: ask_once``); the engine keeps it and asks once for a work address.
    """

    ok: bool
    value: Any = None
    flags: tuple[str, ...] = ()
    reason: str | None = None
    hold: bool = False


def _refuse(reason: str) -> Verdict:
    return Verdict(ok=False, reason=reason)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _fmt_number(value: float | int) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
