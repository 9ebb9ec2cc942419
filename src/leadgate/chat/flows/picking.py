"""Which offered demo slot a visitor's words pick ("the second one", "Tuesday at 10", "2")."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from leadgate.chat.ports import SlotOffer

_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
}
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r"|last)\b", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*(?:(?:option|number|no\.?|slot|#)\s*)?([1-9])\s*[.!]?\s*$", re.IGNORECASE)
_WEEKDAYS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_WEEKDAY = re.compile(
    r"\b(mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"(?:\bat\s+(?P<h1>\d{1,2})(?::(?P<m1>\d{2}))?\s*(?P<ap1>am|pm|a\.m\.|p\.m\.)?(?![\d:]))"
    r"|(?:\b(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*(?P<ap2>am|pm|a\.m\.|p\.m\.)?)"
    r"|(?:\b(?P<h3>\d{1,2})\s*(?P<ap3>am|pm|a\.m\.|p\.m\.))",
    re.IGNORECASE,
)


def _time_of(text: str) -> tuple[int, int] | None:
    m = _TIME.search(text)
    if m is None:
        return None
    for i in ("1", "2", "3"):
        if m.group(f"h{i}") is not None:
            hour = int(m.group(f"h{i}"))
            minute = int(m.group(f"m{i}") or 0) if i != "3" else 0
            suffix = (m.group(f"ap{i}") or "").lower().replace(".", "")
            if suffix == "pm" and hour < 12:
                hour += 12
            elif suffix == "am" and hour == 12:
                hour = 0
            if hour > 23 or minute > 59:
                return None
            return hour, minute
    return None


def pick_offer(
    text: str, offers: list[SlotOffer], visitor_tz: str, day: date | None = None
) -> SlotOffer | None:
    """Return the offer the visitor's words point at, or None when they match none or several.

    Understood: an ordinal ("the second one", "last"), a bare number or "option 2" (1-based position in
    the list shown), a weekday ("Tuesday", "tue"), a date found by the NLU (``day``) and a time of day
    ("at 10", "10:30", "3pm"); weekday, date and time must all match the offer's start in ``visitor_tz``.

    Args:
        text: the visitor's message.
        offers: the offers shown, in the order shown.
        visitor_tz: IANA time zone the visitor reads the offers in.
        day: a date the NLU found in the message (its ``timeline`` entity of grain ``day``), if any.

    Returns:
        The one matching offer, or None.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: if ``visitor_tz`` is unknown.
    """
    if not offers:
        return None
    numbered = _NUMBERED.match(text)
    if numbered is not None:
        index = int(numbered.group(1)) - 1
        return offers[index] if index < len(offers) else None
    ordinal = _ORDINAL.search(text)
    if ordinal is not None:
        word = ordinal.group(1).lower()
        index = len(offers) - 1 if word == "last" else _ORDINALS[word]
        return offers[index] if index < len(offers) else None
    tz = ZoneInfo(visitor_tz)
    weekday_match = _WEEKDAY.search(text)
    weekday = _WEEKDAYS[weekday_match.group(1)[:3].lower()] if weekday_match else None
    clock = _time_of(text)
    if weekday is None and clock is None and day is None:
        return None
    matches = []
    for offer in offers:
        local = offer.start.astimezone(tz)
        if weekday is not None and local.weekday() != weekday:
            continue
        if day is not None and local.date() != day:
            continue
        if clock is not None and (local.hour, local.minute) != clock:
            continue
        matches.append(offer)
    return matches[0] if len(matches) == 1 else None
