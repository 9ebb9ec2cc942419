"""Person names and company names, by cue words and capitalization (precision first).

Person (``normalized``: ``full``, ``first``, ``last``):

- explicit cues, any case: ``my name is``, ``name's``, ``call me``, ``first name is``, ``surname is``;
- ``I'm`` / ``I am`` / ``this is`` followed by capitalized words that are not common words, titles,
  languages or places (``I'm Jane`` yes, ``I'm Interested`` / ``I'm German`` no); a lowercase
  ``i'm jane`` only when ``jane`` is part of an e-mail address in the same message;
- ``Jane here``, ``Jane from Acme`` and a signature ``Jane Doe, CTO, Acme`` at the start of the
  message (the rest must hold a role or an e-mail address);
- a message that is only two to four capitalized words with no company word (``Jane Doe``;
  confidence 0.6: the flow knows whether it just asked for a name).

Company (``normalized``: ``name``, ``legal_suffix``):

- explicit cues, any case: ``I work at/for``, ``our company is``, ``company name is``,
  ``the company is called``, ``a fintech called``, ``we're called``, ``on behalf of``;
- capitalized words after a role or a name: ``CTO at Acme``, ``Jane from Acme``, ``I'm with Acme``;
- capitalized words ending in a legal suffix anywhere (``Globex Inc``, ``Brandt Logistik GmbH``) or in a
  company word after ``we're`` (``we're Stark Industries``);
- capitalized words equal to the domain of a (non-free) e-mail address or URL in the same message
  (``Paylane`` with ``sam@paylane.com``).

Places, languages and nationalities are never names or companies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from leadgate.chat.nlu.company import COMPANY_WORDS
from leadgate.chat.nlu.entity import Entity
from leadgate.contracts.vocabulary import NAME_PARTICLES

EXTRACTOR = "leadgate.names"


def _words(text: str) -> frozenset[str]:
    """Lowercased set of the whitespace-separated words of ``text``."""
    return frozenset(w.lower() for w in text.split())


_TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_COMPANY_TOKEN = re.compile(r"[^\W_][\w&'’.\-]*|&")
_PARTICLES = NAME_PARTICLES
_LEGAL = (
    r"Inc\.?|LLC|L\.L\.C\.|Ltd\.?|Limited|GmbH|gGmbH|AG|S\.A\.|SA|SAS|SARL|B\.V\.|BV|N\.V\.|NV|Corp\.?|Corporation|"
    r"Co\.|PLC|plc|Pty(?:\.? Ltd\.?)?|Oy|AB|ASA|KG|SE|S\.L\.|S\.r\.l\.|Srl|S\.p\.A\.|SpA|LLP|LP|K\.K\.|KK|AS|ApS"
)
_LEGAL_RE = re.compile(r"^(?:" + _LEGAL + r")$")
_COMPANY_WORDS = COMPANY_WORDS
_PLACES = _words(
    "Berlin Munich Hamburg Frankfurt Cologne London Manchester Paris Lyon Madrid Barcelona Lisbon Rome Milan "
    "Amsterdam Rotterdam Brussels Vienna Zurich Geneva Stockholm Oslo Copenhagen Helsinki Dublin Warsaw Prague "
    "Budapest Athens Istanbul Moscow Kyiv Tokyo Osaka Seoul Beijing Shanghai Shenzhen Singapore Sydney "
    "Melbourne Auckland Mumbai Delhi Bangalore Bengaluru Dubai Toronto Vancouver Montreal Austin Boston Chicago "
    "Seattle Denver Atlanta Miami Dallas Houston Phoenix Texas California Florida Ohio York New San Francisco "
    "Los Angeles Diego Jose Washington Europe Asia Africa America Americas Germany France Spain Italy Portugal "
    "Netherlands Belgium Austria Switzerland Sweden Norway Denmark Finland Ireland Poland Czechia Greece Turkey "
    "Russia Ukraine Japan Korea China India Australia Zealand Canada Mexico Brazil Argentina Chile Colombia "
    "Israel Egypt Nigeria Kenya UK USA US UAE EU EMEA APAC LATAM NYC SF LA Bay Area Silicon Valley"
)
_LANGUAGES = _words(
    "English German French Spanish Italian Portuguese Dutch Swedish Norwegian Danish Finnish Polish Czech "
    "Greek Turkish Russian Ukrainian Japanese Chinese Mandarin Cantonese Korean Hindi Arabic Hebrew Persian "
    "Thai Vietnamese Indonesian Malay American British Canadian Australian Irish Scottish Swiss Austrian "
    "Belgian Brazilian Mexican Indian European Asian African"
)
_COMMON = _words(
    "a an the in on at from with for to of and or but so not no yes just only also very really still now "
    "here there this that these those it its it's i i'm im me my mine your our their his her we you they "
    "looking interested fine good great ok okay well sorry happy new trying having using working writing "
    "calling reaching curious wondering confused ready back done afraid sure glad evaluating researching "
    "excited planning thinking going based located responsible part one bored sad tired hungry busy free "
    "available unemployed retired leaving off out about into interested currently actually basically "
    "probably maybe totally definitely fine alright interested considering exploring shopping browsing "
    "hoping struggling getting checking asking contacting emailing messaging new old human bot robot real "
    "person customer client user visitor student developer engineer manager director founder owner "
    "ceo cto cfo coo cmo vp head chief lead president partner consultant freelancer designer analyst "
    "hi hello hey thanks thank please sir madam mr mrs ms dr prof team company business startup agency "
    # greetings and farewells in other languages (issue 10: "bonjour" at "what's your name?" is not a name)
    "bonjour bonsoir salut hola buenos buenas hallo moin servus grüezi hej goedemorgen goedendag buongiorno "
    "buonasera ciao olá cześć ahoj merhaba namaste konnichiwa tschüss adiós adios arrivederci "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december today tomorrow tonight asap q1 q2 q3 q4 "
    "gmail outlook yahoo hotmail icloud email phone mobile number website web www internet online "
    "lol haha ha hmm um uh yep yup nope nah sure cool awesome wow oh ah api crm sdk saas b2b b2c"
)
NOT_AN_ANSWER = _words(
    "why what who whom whose how when where which whatever later skip pass none nothing nobody anonymous "
    "idk dunno unknown test testing pricing price prices cost costs demo help support question questions "
    "features feature integrations integration docs documentation trial plans plan info information details "
    "n/a na tbd private confidential secret stealth"
)
"""Words that open an answer but never a name: question words, refusals, and what a visitor asks about."""
_STOP = _COMMON | _PLACES | _LANGUAGES | NOT_AN_ANSWER
_LOWER_COMPANY_STOP = _COMMON | {
    "home", "large", "small", "big", "local", "tech", "software", "bank", "hospital", "school", "university",
    "firm", "shop", "store", "place", "site", "night", "weekend", "moment", "least", "most", "all", "as", "where",
    "which", "who", "since", "because", "while", "until", "after", "before", "during", "like",
    "present", "times", "work", "scale", "heart", "best", "first", "last", "once", "risk", "stake",
}  # fmt: skip

_PERSON_STRONG = re.compile(
    r"\b(?P<cue>my (?:full )?name is|my name's|my names|name is|name's|name:|they call me|call me|i am called|"
    r"i'm called|(?:my )?first name(?: is|:)|(?:my )?(?:sur|last |family )name(?: is|:))\s*",
    re.IGNORECASE,
)
_NOT_A_PERSON_NAME = re.compile(
    r"\b(?:company|company's|business|brand|product|domain|user|account|team|project|app|website|site)\s*$",
    re.IGNORECASE,
)
_PERSON_IM = re.compile(r"(?:^|(?<=[\s,.!?;:(]))(?:i'?m|i am|im|this is|it'?s)\s+", re.IGNORECASE)
_PERSON_START = re.compile(r"^\s*(?:(?:hi|hello|hey|dear \w+)\b[\s,!]*)?", re.IGNORECASE)
_COMPANY_STRONG = re.compile(
    r"\b(?:i work (?:at|for|with)|i'?m working (?:at|for)|working (?:at|for)|i'?m employed (?:at|by)|"
    r"employed (?:at|by)|my company is|my company's|our company is|our company's name is|our company name is|"
    r"the company is called|the company's called|company is called|company's called|company name is|"
    r"company name:|company:|the company is|we are called|we'?re called|it'?s a company called|"
    r"(?:a|an)\s+(?:\w+\s+){0,2}(?:company|startup|agency|firm|business|fintech|shop|brand|saas|consultancy|"
    r"studio|nonprofit|non-profit|organization|organisation) called|i represent|representing|on behalf of)\s+",
    re.IGNORECASE,
)
_COMPANY_AFTER_PERSON = re.compile(r"^\s*(?:,\s*)?(?:from|at|with|of|@)\s+", re.IGNORECASE)
_COMPANY_AFTER_ROLE = re.compile(r"^\s*(?:at|@|of|with|for|,)\s+(?:the\s+)?", re.IGNORECASE)
_COMPANY_IM_WITH = re.compile(r"\b(?:i'?m|i am|we'?re|we are)\s+(?:with|from|at)\s+", re.IGNORECASE)
_WE_ARE = re.compile(r"\b(?:we'?re|we are)\s+", re.IGNORECASE)
_LEGAL_ANYWHERE = re.compile(
    r"(?<![\w&])((?:[A-Z0-9][\w&'’\-]*\s+){1,4}(?:" + _LEGAL + r"))(?![\w])",
)
_DOMAIN = re.compile(r"(?:@|\bwww\.|https?://)(?P<domain>[a-z0-9-]+)\.[a-z.]{2,}", re.IGNORECASE)


def _is_cap(token: str) -> bool:
    return token[:1].isupper()


def _take_name(
    text: str, pos: int, allow_lower: bool, max_tokens: int = 4
) -> tuple[int, int, list[str]] | None:
    tokens: list[str] = []
    start = end = -1
    i = pos
    while len(tokens) < max_tokens:
        m = re.compile(r"[ \t]*").match(text, i)
        j = m.end() if m else i
        tm = _TOKEN.match(text, j)
        if tm is None:
            break
        tok = tm.group(0)
        low = tok.lower()
        particle = tokens and low in _PARTICLES and not _is_cap(tok)
        if not particle:
            if low in _STOP:
                break
            if not allow_lower and not _is_cap(tok):
                break
        if start < 0:
            start = tm.start()
        tokens.append(tok)
        end = tm.end()
        i = end
    while tokens and tokens[-1].lower() in _PARTICLES:
        tokens.pop()
    if not tokens:
        return None
    end = start + len(" ".join(tokens)) if text[start:end].count(" ") == len(tokens) - 1 else end
    return start, end, tokens


def _person_entity(
    text: str, start: int, end: int, tokens: list[str], confidence: float, only: str | None = None
) -> Entity:
    cased = [
        t if any(c.isupper() for c in t) else (t if t in _PARTICLES else t[:1].upper() + t[1:])
        for t in tokens
    ]
    full = " ".join(cased)
    first: str | None = cased[0]
    last: str | None = cased[-1] if len(cased) > 1 else None
    if only == "first":
        last = None
    elif only == "last":
        first, last = None, full
    return Entity(
        "person",
        text[start:end],
        start,
        end,
        {"full": full, "first": first, "last": last},
        confidence=confidence,
        extractor=EXTRACTOR,
    )


def _take_company(text: str, pos: int, allow_lower: bool) -> tuple[int, int, list[str]] | None:
    tokens: list[str] = []
    start = end = -1
    i = pos
    while len(tokens) < 5:
        m = re.compile(r"[ \t]*").match(text, i)
        j = m.end() if m else i
        tm = _COMPANY_TOKEN.match(text, j)
        if tm is None:
            break
        tok = tm.group(0).rstrip(".,") if not _LEGAL_RE.match(tm.group(0)) else tm.group(0).rstrip(",")
        if not tok:
            break
        low = tok.lower()
        connector = tokens and tok in ("&", "of", "and", "de") and _next_is_cap(text, tm.end())
        capital = tok[:1].isupper() or tok[:1].isdigit() or bool(_LEGAL_RE.match(tok))
        if not connector:
            if allow_lower and len(tokens) < 3 and not capital:
                if low in _LOWER_COMPANY_STOP or not re.fullmatch(r"[a-z0-9][a-z0-9&.\-]*", low):
                    break
            elif not capital:
                break
            if low in _COMMON and not _LEGAL_RE.match(tok) and not (tokens and low in _COMPANY_WORDS):
                break
        if start < 0:
            start = tm.start()
        tokens.append(tok)
        end = tm.start() + len(tok)
        i = tm.end()
        if tm.group(0) != tok and not tok.endswith("."):
            break  # punctuation right after the token ends the name
    while tokens and tokens[-1] in ("&", "of", "and", "de"):
        tokens.pop()
    if not tokens:
        return None
    if tokens[-1].lower() == "here":
        tokens.pop()
    if not tokens or all(t.lower() in _PLACES or t.lower() in _LANGUAGES for t in tokens):
        return None
    end = _span_end(text, start, tokens)
    return start, end, tokens


def _span_end(text: str, start: int, tokens: list[str]) -> int:
    pos = start
    for tok in tokens:
        pos = text.index(tok, pos) + len(tok)
    return pos


def _next_is_cap(text: str, pos: int) -> bool:
    m = re.compile(r"\s*([^\W_])").match(text, pos)
    return bool(m and (m.group(1).isupper() or m.group(1).isdigit()))


def _company_entity(text: str, start: int, end: int, tokens: list[str], confidence: float) -> Entity:
    name = " ".join(tokens)
    if name.islower():
        name = " ".join(t[:1].upper() + t[1:] for t in tokens)
    suffix = tokens[-1] if len(tokens) > 1 and _LEGAL_RE.match(tokens[-1]) else None
    return Entity(
        "company",
        text[start:end],
        start,
        end,
        {"name": name, "legal_suffix": suffix},
        confidence=confidence,
        extractor=EXTRACTOR,
    )


def extract_names(
    text: str,
    roles: Sequence[Entity] = (),
    emails: Sequence[Entity] = (),
    expecting: str | None = None,
) -> list[Entity]:
    """Find person and company names.

    Args:
        text: the message.
        roles: ``role`` entities already found in ``text`` (a company may follow a title: ``CTO at X``).
        emails: ``email`` entities already found (their local parts confirm lowercase first names and
            their domains confirm company names).
        expecting: the entity type the pending question asks for. ``"company"``: the answer's leading
            phrase (after lead-ins such as ``we're``, ``it's called``, ``I'm at``) is a company, in any case,
            and only an explicit cue (``my name is``) makes a person. ``"person"``: the leading one to four
            words (after ``hi``, ``it's``, ``I'm``...) are a name, in any case, including words that are
            also months or common words (``April Chen``, ``Grace``).

    Returns:
        ``person`` and ``company`` entities in text order, non-overlapping with each other.

    """
    from leadgate.chat.nlu.answers import expected_company, expected_person  # they reuse this module's tables

    people = _people(text, roles, emails)
    if expecting == "company":
        people = [p for p in people if p.confidence >= 1.0]
    elif expecting == "person" and (answer := expected_person(text, roles)) is not None:
        people.append(answer)
    companies = _companies(text, roles, people, emails)
    if expecting == "company" and (named := expected_company(text, roles)) is not None:
        companies.append(named)
    out: list[Entity] = []
    for e in sorted(people + companies, key=lambda e: (-e.confidence, e.start)):
        if all(not e.overlaps(o) for o in out) and all(not e.overlaps(r) for r in list(roles) + list(emails)):
            out.append(e)
    out.sort(key=lambda e: e.start)
    return out


def _email_parts(emails: Sequence[Entity]) -> set[str]:
    parts: set[str] = set()
    for e in emails:
        local = str(e.value).split("@", 1)[0].lower()
        parts.update(p for p in re.split(r"[._+\-]", local) if len(p) > 1)
    return parts


def _people(text: str, roles: Sequence[Entity], emails: Sequence[Entity]) -> list[Entity]:
    found: list[Entity] = []
    for m in _PERSON_STRONG.finditer(text):
        cue = m.group("cue").lower()
        if _NOT_A_PERSON_NAME.search(text[: m.start()]):
            continue  # "company name is X", "product name: X"
        got = _take_name(text, m.end(), allow_lower=True)
        if got:
            only = (
                "first"
                if "first" in cue
                else "last"
                if ("sur" in cue or "last" in cue or "family" in cue)
                else None
            )
            found.append(_person_entity(text, *got, confidence=1.0, only=only))
    local_parts = _email_parts(emails)
    for m in _PERSON_IM.finditer(text):
        cue = m.group(0).strip().lower()
        got = _take_name(text, m.end(), allow_lower=False)
        if got is None:
            lower = _take_name(text, m.end(), allow_lower=True, max_tokens=1)
            if lower and lower[2][0].lower() in local_parts:
                found.append(_person_entity(text, *lower, confidence=0.9))
            continue
        if cue.startswith("it") and len(got[2]) < 2:
            continue
        if re.search(r"['’]s$", got[2][-1]):
            continue  # "I'm Northwind's marketing director": a company's possessive, not a name
        if any(t.lower() in _COMPANY_WORDS for t in got[2]) or _LEGAL_RE.match(got[2][-1]):
            continue
        found.append(_person_entity(text, *got, confidence=0.9))
    start_m = _PERSON_START.match(text)
    pos = start_m.end() if start_m else 0
    got = _take_name(text, pos, allow_lower=False)
    if got and not any(t.lower() in _COMPANY_WORDS for t in got[2]) and not _LEGAL_RE.match(got[2][-1]):
        after = text[got[1] :]
        rest_has_info = any(r.start >= got[1] for r in roles) or any(e.start >= got[1] for e in emails)
        if re.match(r"\s+here\b", after, re.I) or re.match(r"\s+(?:from|at|with)\s+[A-Z0-9]", after):
            found.append(_person_entity(text, *got, confidence=0.9))
        elif re.match(r"\s*[,–—-]\s", after) and rest_has_info and len(got[2]) >= 1:
            found.append(_person_entity(text, *got, confidence=0.8))
        elif (
            not after.strip(" .!")
            and 2 <= len(got[2]) <= 4
            and not text[:pos].strip()
            and all(_is_cap(t) or t in _PARTICLES for t in got[2])
        ):
            found.append(_person_entity(text, *got, confidence=0.6))
    return found


def _companies(
    text: str, roles: Sequence[Entity], people: Sequence[Entity], emails: Sequence[Entity]
) -> list[Entity]:
    found: list[Entity] = []
    for m in _COMPANY_STRONG.finditer(text):
        got = _take_company(text, m.end(), allow_lower=True)
        if got:
            found.append(_company_entity(text, *got, confidence=1.0))
    for anchor in list(roles) + list(people):
        rx = _COMPANY_AFTER_ROLE if anchor.entity == "role" else _COMPANY_AFTER_PERSON
        follow = rx.match(text[anchor.end :])
        if follow:
            got = _take_company(text, anchor.end + follow.end(), allow_lower=False)
            if got is None and text == text.lower() and follow.group(0).strip().lower() in ("at", "@"):
                # an all-lowercase typist: "i run sales at pinecrest" (one word, then the end or a comma)
                got = _take_company(text, anchor.end + follow.end(), allow_lower=True)
                if got and (len(got[2]) > 1 or not re.match(r"\s*(?:$|[,.;!])", text[got[1] :])):
                    got = None
            if got:
                found.append(_company_entity(text, *got, confidence=0.8))
    for anchor in roles:
        possessive = re.search(
            r"(?<![\w'’])((?:[A-Z0-9][\w&.\-]*\s+){0,3}[A-Z0-9][\w&.\-]*)['’]s\s+$", text[: anchor.start]
        )
        if possessive:
            words = possessive.group(1).split()
            if words[0].lower() not in _STOP:
                found.append(
                    _company_entity(text, possessive.start(1), possessive.end(1), words, confidence=0.95)
                )
    for m in _COMPANY_IM_WITH.finditer(text):
        got = _take_company(text, m.end(), allow_lower=False)
        if got:
            found.append(_company_entity(text, *got, confidence=0.8))
    for m in _WE_ARE.finditer(text):
        got = _take_company(text, m.end(), allow_lower=False)
        if got and (got[2][-1].lower() in _COMPANY_WORDS or _LEGAL_RE.match(got[2][-1])) and len(got[2]) > 1:
            found.append(_company_entity(text, *got, confidence=0.9))
    for m in _LEGAL_ANYWHERE.finditer(text):
        got = _take_company(text, m.start(1), allow_lower=False)
        if got and _LEGAL_RE.match(got[2][-1]) and len(got[2]) > 1:
            found.append(_company_entity(text, *got, confidence=0.9))
    domains = {
        re.sub(r"[^a-z0-9]", "", d.group("domain").lower())
        for d in _DOMAIN.finditer(text)
        if not any(e.start <= d.start() < e.end and e.normalized.get("free_provider") for e in emails)
    }
    if domains:
        for tm in re.finditer(r"(?:[A-Z][\w&'’\-]*)(?:\s+[A-Z][\w&'’\-]*){0,3}", text):
            words = tm.group(0).split()
            for n in range(len(words), 0, -1):
                key = re.sub(r"[^a-z0-9]", "", "".join(words[:n]).lower())
                if key in domains:
                    end = tm.start() + len(" ".join(words[:n]))
                    found.append(_company_entity(text, tm.start(), end, words[:n], confidence=0.9))
                    break
    if not found and (whole := re.fullmatch(r"\s*(.+?)[\s.!]*", text)):
        got = _take_company(text, whole.start(1), allow_lower=False)
        if (
            got
            and len(got[2]) > 1
            and got[1] >= whole.end(1) - 1
            and (got[2][-1].lower() in _COMPANY_WORDS or _LEGAL_RE.match(got[2][-1]))
        ):
            found.append(_company_entity(text, *got, confidence=0.7))
    return found
