"""Money: amounts, multipliers (k, M, thousand, grand), ranges, currencies and periods.

Examples of what is found and how it is normalized (``normalized`` of the entity)::

    "budget is around 50k"           {"amount": 50000, "min": 50000, "max": 50000, "currency": None,
                                      "period": None, "per": None, "approximate": True}
    "between $10k and $15k"          {"amount": None, "min": 10000, "max": 15000, "currency": "USD", ...}
    "20-30k"                         {"amount": None, "min": 20000, "max": 30000, ...}
    "up to 100k annually"            {"amount": 100000, "min": None, "max": 100000, "period": "year", ...}
    "£500/mo per seat"               {"amount": 500, ..., "currency": "GBP", "period": "month", "per": "seat"}

A number counts as money only with a marker, to keep precision high: a currency (symbol, ISO code or
word) on either side, a multiplier (``k``, ``thousand``, ``grand``, ``million``; a bare ``m``/``b``
needs a currency or context), or a budget word shortly before it (``budget``, ``spend``, ``pay``...).
A number followed by a count noun (``10k employees``, ``50k visitors``) is never money.

Thousands may be grouped with commas or dots, spaces or apostrophes (``10 000 €``, ``CHF 30'000``) or in the
Indian way (``₹5,00,000``). Number formats are parsed by price-parser (``Price.fromstring``), which reads both ``1,500.50`` and
``1.500,50``; a single separator followed by exactly three digits is a thousands separator
(``20.000`` = 20000), as price-parser decides.
"""

from __future__ import annotations

import re
from decimal import Decimal

from price_parser import Price

from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.numbers import UNITS, as_number
from leadgate.contracts.vocabulary import BUDGET_PERIODS

EXTRACTOR = "leadgate.money"

_SYMBOLS: dict[str, str] = {
    "us$": "USD",
    "usd$": "USD",
    "a$": "AUD",
    "au$": "AUD",
    "c$": "CAD",
    "ca$": "CAD",
    "nz$": "NZD",
    "s$": "SGD",
    "hk$": "HKD",
    "r$": "BRL",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₩": "KRW",
    "₽": "RUB",
}
_CODES = str.split(
    "usd eur gbp chf cad aud nzd jpy inr sek nok dkk pln czk sgd hkd brl mxn zar cny rmb krw rub"
)
_WORDS: dict[str, str] = {
    "dollars": "USD",
    "dollar": "USD",
    "bucks": "USD",
    "euros": "EUR",
    "euro": "EUR",
    "pounds": "GBP",
    "pound": "GBP",
    "quid": "GBP",
    "sterling": "GBP",
    "yen": "JPY",
    "rupees": "INR",
    "rupee": "INR",
    "francs": "CHF",
    "franc": "CHF",
    "zloty": "PLN",
    "kronor": "SEK",
}
_MULTIPLIERS: dict[str, int] = {
    "k": 1_000,
    "thousand": 1_000,
    "grand": 1_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "mn": 1_000_000,
    "mil": 1_000_000,
    "million": 1_000_000,
    "millions": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
}
_WEAK_MULTIPLIERS = {"m", "b"}
_PERIODS: dict[str, str] = {
    "month": "month",
    "months": "month",
    "mo": "month",
    "mth": "month",
    "monthly": "month",
    "pm": "month",
    "p.m.": "month",
    "year": "year",
    "yr": "year",
    "annum": "year",
    "annually": "year",
    "annual": "year",
    "per annum": "year",
    "yearly": "year",
    "pa": "year",
    "p.a.": "year",
    "p.a": "year",
    "quarter": "quarter",
    "qtr": "quarter",
    "quarterly": "quarter",
    "week": "week",
    "wk": "week",
    "weekly": "week",
    "day": "day",
    "daily": "day",
}
assert set(_PERIODS.values()) <= BUDGET_PERIODS.keys(), "money periods must be shared-vocabulary periods"
_UNITS = {"seat": "seat", "user": "user", "license": "license", "licence": "license", "lead": "lead"}

_SYM_RE = r"(?:us\$|usd\$|a\$|au\$|c\$|ca\$|nz\$|s\$|hk\$|r\$|\$|€|£|¥|₹|₩|₽)"
_CODE_RE = r"(?:" + "|".join(_CODES) + r")(?![a-z])"
_WORD_RE = r"(?:" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")(?![a-z])"
_MULT_RE = r"(?:thousand|grand|millions|million|billion|mil|mm|mn|bn|k|m|b)(?![a-z])"
_NUM_RE = (
    r"\d{1,2}(?:,\d\d)+,\d{3}(?!\d)"  # Indian grouping: 5,00,000 (lakh), 12,34,567
    r"|\d{1,3}(?:[ \u00a0\u202f'’]\d{3})+(?![\d.,]\d)(?:[.,]\d{1,2})?"  # 10 000, CHF 30'000
    r"|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
)
_WORDNUM_RE = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|"
    r"eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|a few|a couple of|"
    r"a couple|a hundred|hundred|a)"
)


def _amount(p: str) -> str:
    return (
        rf"(?P<{p}cur1>{_SYM_RE}|{_CODE_RE})?\s?"
        rf"(?:(?P<{p}num>{_NUM_RE})|(?P<{p}word>{_WORDNUM_RE})(?=\s?(?:{_MULT_RE}|{_WORD_RE})))"
        rf"(?:\s?(?P<{p}mult>{_MULT_RE}))?"
        rf"(?:\s?(?P<{p}cur2>{_SYM_RE}|{_CODE_RE}|{_WORD_RE}))?"
    )


_MONEY = re.compile(
    r"(?<![\w.,$€£¥₹])"
    r"(?:(?P<between>between|from)\s+)?"
    + _amount("a")
    + r"(?:\s*(?P<sep>-|–|—|to|and)\s*"
    + _amount("b")
    + r")?"
    r"(?![\w])",
    re.IGNORECASE,
)
_QUALIFIER_BEFORE = re.compile(
    r"(?P<q>up to|upto|max(?:imum)?(?: of)?|at most|no more than|not more than|less than|under|below|"
    r"at least|min(?:imum)?(?: of)?|more than|over|above|north of|starting (?:at|from)|"
    r"around|about|approx(?:imately|\.)?|roughly|~|circa|ca\.|something like|close to|"
    r"in the region of|ballpark(?: of)?)\s*$",
    re.IGNORECASE,
)
_QUALIFIER_AFTER = re.compile(r"^\s*(?P<q>tops|max|maximum|or less|or so|or more|\+|plus|ish)(?![\w])", re.I)
_PERIOD_AFTER = re.compile(
    r"^(?:\s*(?:per|a|an|each|every|/)\s*(?P<unit>seat|user|licen[cs]e|lead)s?(?![\w]))?"
    r"(?:\s*(?:per|a|an|each|every|/|in)\s*(?P<period>months?|mo|mth|year|yr|annum|quarter|qtr|week|wk|day)(?![\w])"
    r"|\s*(?P<adv>monthly|annually|yearly|quarterly|weekly|daily|p\.a\.?|pa|p\.m\.|"
    r"annual(?=\s+(?:budget|spend|contract))|per annum)(?![\w])"
    r"|\s*(?P<fory>for the (?:whole |full |entire )?year)(?![\w]))?"
    r"(?:\s*(?:per|a|an|each|/)\s*(?P<unit2>seat|user|licen[cs]e|lead)s?(?![\w]))?",
    re.IGNORECASE,
)
_COUNT_NOUN_AFTER = re.compile(
    r"^\s*\+?\s*(?:[a-z-]+\s+)?(?:people|ppl|persons?|employees?|staff|users?|visitors?|visits|leads?|customers?|"
    r"clients?|members?|contacts?|emails?|records?|rows?|chats?|conversations?|messages?|downloads?|followers?|"
    r"subscribers?|accounts?|companies|reps?|agents?|engineers?|developers?|workers?|fte?s?|seats?|licen[cs]es?|"
    r"sessions?|views?|pageviews?|calls?|tickets?|requests?|transactions?|orders?|units?|items?|hits|"
    r"signups?|installs?|months?|weeks?|days?|years?|hours?|minutes?|mins?|%|percent|times|x\b|"
    r"sq|square|miles?|km|kg|lbs?|steps?|words?|pages?|students?|patients?|locations?|offices?|stores?)(?![\w])",
    re.IGNORECASE,
)
_CONTEXT_BEFORE = re.compile(
    r"(?:budget|budgeted|budgeting|spend|spending|cost|costs|price|pricing|pay|paying|afford|invest|investment|"
    r"allocated|set aside|funding|ceiling|cap|ballpark|range|tops|max|maximum)\b[^.!?\n]{0,30}$",
    re.IGNORECASE,
)
_MAX_QUALIFIERS = {"up to", "upto", "max", "maximum", "max of", "maximum of", "at most", "no more than"}
_MAX_QUALIFIERS |= {"not more than", "less than", "under", "below", "tops", "or less"}
_MIN_QUALIFIERS = {"at least", "min", "minimum", "min of", "minimum of", "more than", "over", "above"}
_MIN_QUALIFIERS |= {"north of", "starting at", "starting from", "or more", "+", "plus"}


def _currency(token: str | None) -> str | None:
    if not token:
        return None
    t = token.lower()
    if t in _SYMBOLS:
        return _SYMBOLS[t]
    if t in _CODES:
        return "CNY" if t == "rmb" else t.upper()
    return _WORDS.get(t)


def _value(num: str | None, word: str | None) -> Decimal | None:
    if num:
        price = Price.fromstring(num)
        return price.amount
    if word:
        w = " ".join(word.lower().replace("-", " ").split())
        if w in UNITS:
            return Decimal(UNITS[w])
        parts = w.split(" ")
        if len(parts) == 2 and parts[0] in UNITS and parts[1] in UNITS:
            return Decimal(UNITS[parts[0]] + UNITS[parts[1]])
    return None


def _is_year(num: str | None, mult: str | None) -> bool:
    return bool(num and not mult and re.fullmatch(r"(?:19|20)\d\d", num))


def extract_money(text: str) -> list[Entity]:
    """Find amounts of money.

    Args:
        text: the message.

    Returns:
        ``money`` entities in text order; ``normalized`` holds ``amount`` (a single value, or None for
        a range), ``min`` and ``max`` (None when open), ``currency`` (ISO 4217 code or None; ``$``
        is read as USD), ``period`` (``day``, ``week``, ``month``, ``quarter``, ``year`` or None),
        ``per`` (``seat``, ``user``, ``license``, ``lead`` or None) and ``approximate`` (bool).

    """
    found: list[Entity] = []
    for m in _MONEY.finditer(text):
        g = m.groupdict()
        if g["sep"] and g["sep"].lower() == "and" and not g["between"]:
            # "5k and 10 people": an "and" joins a range only after "between"; retry the first amount alone
            found.extend(_single(text, m.start(), m.start("sep")))
            continue
        if not g["anum"] and not g["aword"]:
            continue
        entity = _build(text, m)
        if entity is not None:
            found.append(entity)
        elif g["bnum"] or g["bword"]:
            found.extend(_single(text, m.start(), m.start("sep")))
    return found


def _single(text: str, start: int, end: int) -> list[Entity]:
    m = _MONEY.match(text[:end], start)
    if m is None or m.group("sep"):
        return []
    entity = _build(text, m)
    return [entity] if entity is not None else []


def _build(text: str, m: re.Match[str]) -> Entity | None:
    g = m.groupdict()
    a_val = _value(g["anum"], g["aword"])
    if a_val is None:
        return None
    a_mult = (g["amult"] or "").lower() or None
    b_val = _value(g["bnum"], g["bword"])
    b_mult = (g["bmult"] or "").lower() or None
    currency = (
        _currency(g["acur1"]) or _currency(g["acur2"]) or _currency(g["bcur1"]) or _currency(g["bcur2"])
    )
    start, end = m.start(), m.end()
    while start < end and text[start].isspace():
        start += 1
    after = text[end:]
    pm = _PERIOD_AFTER.match(after)
    has_period = bool(pm and pm.group(0).strip())
    if not currency and not has_period and _COUNT_NOUN_AFTER.match(after):
        return None
    mults = [x for x in (a_mult, b_mult) if x]
    has_strong_mult = any(x not in _WEAK_MULTIPLIERS for x in mults)
    context = bool(_CONTEXT_BEFORE.search(text[: m.start()]))
    if not currency and not has_strong_mult and not (context and (mults or g["anum"])):
        return None
    if not currency and _is_year(g["anum"], a_mult) and b_val is None:
        return None
    if g["aword"] and not (a_mult or currency):
        return None

    a = a_val * _MULTIPLIERS[a_mult] if a_mult else a_val
    lo: Decimal | None = a
    hi: Decimal | None = a
    amount: Decimal | None = a
    if b_val is not None:
        b = b_val * _MULTIPLIERS[b_mult] if b_mult else b_val
        if not a_mult and b_mult and a_val * _MULTIPLIERS[b_mult] <= b:
            a = a_val * _MULTIPLIERS[b_mult]
        lo, hi, amount = min(a, b), max(a, b), None

    period = unit = None
    if pm and has_period:
        raw = pm.group("period") or pm.group("adv")
        if raw:
            period = _PERIODS.get(raw.lower())
        if pm.group("fory"):
            period = "year"
        u = pm.group("unit") or pm.group("unit2")
        unit = _UNITS.get(u.lower()) if u else None
        end += len(pm.group(0).rstrip())
        after = text[end:]

    approximate = bool(g["aword"] and g["aword"].lower() in {"a few", "a couple", "a couple of"})
    qb = _QUALIFIER_BEFORE.search(text[:start])
    qa = _QUALIFIER_AFTER.match(after)
    for q, pos in ((qb, "before"), (qa, "after")):
        if q is None or amount is None:
            continue
        word = " ".join(q.group("q").lower().split())
        if word in _MAX_QUALIFIERS:
            lo = None
        elif word in _MIN_QUALIFIERS:
            hi = None
        else:
            approximate = True
        if pos == "before":
            start = q.start("q")
        else:
            end += q.end("q")
    if amount is not None and g["between"] and g["between"].lower() == "from":
        hi = None  # "from $5k" without an upper end
    if qb is not None and amount is None:
        word = " ".join(qb.group("q").lower().split())
        if word not in _MAX_QUALIFIERS and word not in _MIN_QUALIFIERS:
            approximate = True
            start = qb.start("q")
    value = text[start:end].rstrip()
    end = start + len(value)
    return Entity(
        entity="money",
        value=value,
        start=start,
        end=end,
        normalized={
            "amount": as_number(float(amount)) if amount is not None else None,
            "min": as_number(float(lo)) if lo is not None else None,
            "max": as_number(float(hi)) if hi is not None else None,
            "currency": currency,
            "period": period,
            "per": unit,
            "approximate": approximate,
        },
        confidence=1.0 if currency or has_strong_mult else 0.8,
        extractor=EXTRACTOR,
    )
