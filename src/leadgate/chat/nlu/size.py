"""Company (or team) size: a head count or a range of head counts.

Understood forms (case-insensitive)::

    "about 200 people"            {"min": 200, "max": 200, "approximate": True, "scope": "company"}
    "50-100 employees"            {"min": 50, "max": 100, ...}
    "between 50 and 100 people"   {"min": 50, "max": 100, ...}
    "a team of 12"                {"min": 12, "max": 12, "scope": "team"}
    "10k employees", "1,500 staff", "1000+ employees", "over 500 people" (min 501),
    "less than 20 people" (min 1, max 19), "a 5-person startup", "we're 40 strong",
    "headcount is 350", "company size is 11-50", "a few hundred employees", "just me" (1)

A count needs a head noun (people, employees, staff, FTEs, team members...) or a cue (``team of``,
``headcount``, ``company size``, ``N-person``); bare numbers are left alone so budgets, dates and
phone numbers are not read as sizes. ``scope`` is ``team`` for ``team of N`` and role nouns
(``engineers``, ``reps``, ``agents``), ``company`` otherwise. Vague words resolve to ranges:
``a few hundred`` = 200-500, ``several hundred`` = 300-900, ``hundreds`` = 100-999,
``a few thousand`` = 2,000-5,000, ``thousands`` = 1,000-9,999, ``dozens`` = 24-99 (leadgate's
conventions, documented in docs/nlu.md).
"""

from __future__ import annotations

import re

from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.numbers import COMPOUND_WORD, UNITS, parse_numeral

EXTRACTOR = "leadgate.company_size"

_COMPANY_NOUNS = (
    r"people|persons|employees|employes|staff|staffers|ftes?|full[- ]time employees|workers|"
    r"team members|colleagues|headcount|heads|souls|folks|people globally|people worldwide|ppl|employes|emps"
)
_TEAM_NOUNS = (
    r"engineers|developers|devs|reps|sales reps|salespeople|sdrs|bdrs|aes|agents|marketers|designers"
)
_VAGUE: dict[str, tuple[int, int]] = {
    "a few hundred": (200, 500),
    "few hundred": (200, 500),
    "a couple hundred": (200, 300),
    "a couple of hundred": (200, 300),
    "several hundred": (300, 900),
    "hundreds of": (100, 999),
    "hundreds": (100, 999),
    "a few thousand": (2000, 5000),
    "several thousand": (3000, 9000),
    "thousands of": (1000, 9999),
    "thousands": (1000, 9999),
    "dozens of": (24, 99),
    "dozens": (24, 99),
}
_SCALED_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|fifty)\s+"
    r"(?:hundred|thousand)"
)
_WORD_NUM = (
    r"(?:"
    + _SCALED_WORD
    + r"|"
    + COMPOUND_WORD
    + r"|a dozen|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|a hundred|one hundred|a thousand)"
)
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s?k\b)?|" + _WORD_NUM
_QUAL = (
    r"(?P<qual>about|around|roughly|approximately|approx\.?|~|circa|ca\.|nearly|almost|close to|"
    r"just under|just over|under|below|less than|fewer than|up to|at most|over|above|more than|at least|"
    r"north of|maybe|some)\s*"
)
_RANGE = (
    r"(?:(?P<between>between)\s+)?(?P<a>" + _NUM + r")(?:\s*(?:-|–|—|to|and)\s*(?P<b>" + _NUM + r"))?"
    r"(?P<plus>\s?\+)?"
)
_VAGUE_RE = r"(?P<vague>" + "|".join(sorted(_VAGUE, key=len, reverse=True)) + r")"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"(?<![\w$€£.])(?:" + _QUAL + r")?(?:" + _RANGE + r"|" + _VAGUE_RE + r")\s*"
            r"(?:(?:full[- ]time|part[- ]time|total|in[- ]house|internal|permanent)\s+)?"
            r"(?P<noun>" + _COMPANY_NOUNS + r"|" + _TEAM_NOUNS + r")(?![\w])",
            re.I,
        ),
        "noun",
    ),
    (
        re.compile(
            r"\b(?P<cue>(?:a |our |my |small |the )*team of|headcount(?: is| of|:)?|company size(?: is|:)?|"
            r"we(?:'re| are) a team of|size(?: is|:))\s*(?:"
            + _QUAL
            + r")?"
            + _RANGE
            + r"(?:\s+(?P<noun>"
            + _COMPANY_NOUNS
            + r"|"
            + _TEAM_NOUNS
            + r"))?(?![\w])",
            re.I,
        ),
        "cue",
    ),
    (
        re.compile(
            r"(?<![\w$€£.])(?:"
            + _QUAL
            + r")?(?P<a>\d+|"
            + _WORD_NUM
            + r")[- ](?:person|people|man|member|employee)"
            r"(?P<noun>\s+(?:company|startup|team|shop|agency|firm|business|org|organization|organisation|outfit))?"
            r"(?![\w])",
            re.I,
        ),
        "adjective",
    ),
    (
        re.compile(
            r"(?<![\w$€£.])(?:" + _QUAL + r")?(?P<a>\d+(?:,\d{3})*|" + _WORD_NUM + r")\s+of us\b", re.I
        ),
        "of_us",
    ),
    (
        re.compile(
            r"\bwe(?:'re| are)\s+(?:" + _QUAL + r")?(?P<a>\d+(?:,\d{3})*|" + _WORD_NUM + r")\s+strong\b", re.I
        ),
        "strong",
    ),
    (
        re.compile(
            r"\b(?:(?P<solo>just me|only me|it'?s just me|solo founder|one[- ]man band|one[- ]person (?:company|"
            r"shop|business)|solopreneur)(?P<two>\s+and\s+(?:my\s+)?(?:co-?founder|partner|business partner))?)(?![\w])",
            re.I,
        ),
        "solo",
    ),
]
_TEAM_NOUN_SET = set(_TEAM_NOUNS.split("|"))


def _num(text: str) -> int:
    t = text.lower().strip()
    k = t.endswith("k")
    if k:
        t = t[:-1].strip()
    if re.fullmatch(r"[\d,]+(?:\.\d+)?", t):
        value = parse_numeral(t)
    else:
        words = t.replace("-", " ").split()
        scale = {"hundred": 100, "thousand": 1000}.get(words[-1]) if len(words) == 2 else None
        if scale is not None and words[0] in UNITS:
            value = float(UNITS[words[0]] * scale)
        elif t in UNITS:
            value = float(UNITS[t])
        elif len(words) == 2 and words[0] in UNITS and words[1] in UNITS:
            value = float(UNITS[words[0]] + UNITS[words[1]])
        else:
            raise ValueError(t)
    return round(value * (1000 if k else 1))


def extract_company_size(text: str, expecting: str | None = None) -> list[Entity]:
    """Find head counts.

    Args:
        text: the message.
        expecting: the entity type the pending question asks for. With ``"company_size"`` a number that
            opens the answer needs no head noun (``"20ish"``, ``"~300 ppl"``, ``"8,000 globally"``,
            ``"two hundred or so"``): it is read as if ``people`` followed it; ``~``, ``-ish`` and ``or so``
            make it approximate.

    Returns:
        ``company_size`` entities in text order, non-overlapping; ``normalized`` holds ``min`` and
        ``max`` (ints; None when open-ended), ``approximate`` (bool) and ``scope`` (``company`` or
        ``team``).

    """
    found: list[tuple[int, int, dict[str, object]]] = []
    for pattern, kind in _PATTERNS:
        for m in pattern.finditer(text):
            norm = _normalize(m, kind)
            if norm is not None:
                start = m.start()
                while start < m.end() and text[start].isspace():
                    start += 1
                found.append((start, m.end(), norm))
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
    chosen: list[tuple[int, int, dict[str, object]]] = []
    for f in found:
        if all(f[1] <= c[0] or c[1] <= f[0] for c in chosen):
            chosen.append(f)
    chosen.sort(key=lambda f: f[0])
    out = [
        Entity("company_size", text[s:e], s, e, norm, confidence=1.0, extractor=EXTRACTOR)
        for s, e, norm in chosen
    ]
    if not out and expecting == "company_size":
        out = _bare_answer(text)
    return out


_BARE = re.compile(
    r"^\s*(?:(?:we'?re|we are|it'?s|it is|maybe|probably|hmm|um|ok)[\s,]+)*"
    r"(?P<phrase>(?P<tilde>[~≈]\s*)?(?:(?:about|around|roughly|approx\.?|approximately|just under|just over|"
    r"over|under|less than|more than|at least|nearly|almost|close to)\s+)?"
    r"(?:" + _NUM + r")(?:\s*(?:-|to|–)\s*(?:" + _NUM + r"))?)"
    r"(?P<ish>\s*-?ish|\s+or so)?"
    r"(?=\s*(?:$|[,.;!?]|ppl\b|globally\b|worldwide\b|in total\b|total\b|of us\b|across\b|and\b))",
    re.IGNORECASE,
)


def _bare_answer(text: str) -> list[Entity]:
    """A number that opens the answer to "how many people?", read as a head count."""
    m = _BARE.match(text)
    if m is None:
        return []
    phrase = m.group("phrase")
    if m.group("tilde"):
        phrase = "about " + phrase[len(m.group("tilde")) :]
    elif m.group("ish"):
        phrase = "about " + phrase
    found = extract_company_size(phrase + " people")
    if len(found) != 1:
        return []
    end = m.end("ish") if m.group("ish") else m.end("phrase")
    start = m.start("phrase")
    norm = dict(found[0].normalized)
    return [Entity("company_size", text[start:end], start, end, norm, confidence=0.9, extractor=EXTRACTOR)]


def _normalize(m: re.Match[str], kind: str) -> dict[str, object] | None:
    g = m.groupdict()
    if kind == "solo":
        n = 2 if g.get("two") else 1
        return {"min": n, "max": n, "approximate": False, "scope": "company"}
    noun = (g.get("noun") or "").strip().lower()
    scope = "team" if kind == "cue" and "team" in (g.get("cue") or "").lower() else "company"
    if noun in _TEAM_NOUN_SET:
        scope = "team"
    if kind == "adjective" and noun == "team":
        scope = "team"
    if g.get("vague"):
        lo, hi = _VAGUE[" ".join(g["vague"].lower().split())]
        return {"min": lo, "max": hi, "approximate": True, "scope": scope}
    a = _num(g["a"])
    lo_v: int | None = a
    hi_v: int | None = a
    b = g.get("b")
    if b:
        bv = _num(b)
        if not g["a"].lower().endswith("k") and b.lower().endswith("k") and a * 1000 <= bv:
            a *= 1000
        lo_v, hi_v = min(a, bv), max(a, bv)
    elif g.get("between"):
        return None
    if lo_v is not None and lo_v <= 0:
        return None
    if g.get("plus"):
        hi_v = None
    approximate = False
    qual = " ".join((g.get("qual") or "").lower().split())
    if qual and not b:
        if qual in ("under", "below", "less than", "fewer than"):
            lo_v, hi_v = 1, a - 1
        elif qual in ("up to", "at most"):
            lo_v, hi_v = 1, a
        elif qual in ("over", "above", "more than", "north of"):
            lo_v, hi_v = a + 1, None
        elif qual == "at least":
            lo_v, hi_v = a, None
        elif qual == "just under":
            lo_v, hi_v, approximate = a - 1, a - 1, True
        elif qual == "just over":
            lo_v, hi_v, approximate = a + 1, a + 1, True
        else:
            approximate = True
    elif qual:
        approximate = True
    return {"min": lo_v, "max": hi_v, "approximate": approximate, "scope": scope}
