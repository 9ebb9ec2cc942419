"""Number words and numerals shared by the money, company-size and timeline extractors."""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "a hundred": 100,
    "one hundred": 100,
    "a thousand": 1000,
    "one thousand": 1000,
    "a dozen": 12,
    "dozen": 12,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a pair of": 2,
    "a few": 3,
    "few": 3,
    "several": 3,
    "a": 1,
    "an": 1,
    "one or two": 2,
}
"""Number words (and vague quantities: ``"a few"`` = 3, ``"several"`` = 3, ``"a couple"`` = 2)."""

NUMBER_WORD = r"(?:" + "|".join(re.escape(w) for w in sorted(UNITS, key=len, reverse=True)) + r")"
"""Regular expression matching one entry of :data:`UNITS` (longest first)."""

NUMERAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
"""A numeral with optional thousands commas and decimals: ``1,500``, ``1.5``, ``200``."""

_TENS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
COMPOUND_WORD = _TENS + r"[- ](?:one|two|three|four|five|six|seven|eight|nine)"
"""``"twenty-five"``, ``"forty two"``."""


def parse_numeral(text: str) -> float:
    """Parse ``"1,500"`` or ``"1.5"`` (English separators) to a float.

    Args:
        text: digits with optional thousands commas and a decimal point.

    Returns:
        The value.

    Raises:
        ValueError: if ``text`` is not a numeral.

    """
    return float(text.replace(",", ""))


def parse_quantity(text: str) -> float:
    """Parse a numeral, a number word, or a compound like ``"twenty-five"``.

    Args:
        text: the quantity as written (case-insensitive).

    Returns:
        The value.

    Raises:
        ValueError: if the text is not a known quantity.

    """
    t = " ".join(text.lower().replace("-", " ").split())
    if re.fullmatch(NUMERAL, t):
        return parse_numeral(t)
    if t in UNITS:
        return float(UNITS[t])
    parts = t.split(" ")
    if len(parts) == 2 and parts[0] in UNITS and parts[1] in UNITS and UNITS[parts[1]] < 10:
        return float(UNITS[parts[0]] + UNITS[parts[1]])
    raise ValueError(f"not a quantity: {text!r}")


def as_number(value: float) -> int | float:
    """Return an int for integral values (``50000.0`` -> ``50000``), else the float rounded to 2 places."""
    if float(value).is_integer():
        return int(value)
    return round(float(value), 2)
