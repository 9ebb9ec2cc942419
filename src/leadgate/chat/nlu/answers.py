"""Short answers read as the type the pending question asks for (``expecting`` in ``extract_names``).

Asked "what's your name?", a visitor types "April Chen", "mike ross" or "ok - Ravi"; asked "which company are
you with?", "Morgan Stanley", "acme" or "we're Northwind". The rules of ``names`` need cue words or a company
word for these; here the answer's leading phrase (after lead-ins such as ``hi``, ``it's``, ``I'm``, ``we're``,
``it's called``) is taken as the expected type, unless it is a question, a refusal, a keyboard mash or a
common word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.names import (
    _COMMON,
    _LANGUAGES,
    _PARTICLES,
    _PLACES,
    NOT_AN_ANSWER,
    _company_entity,
    _person_entity,
    _span_end,
    _take_company,
)

_LEAD_IN = (
    r"^\s*(?:(?:hi|hello|hey|ok|okay|sure|yes|yeah|yep|oh|sorry|oops|well|so|um|uh|right|of course)\b"
    r"[\s,!.:;\-–—]*)*"
)
_PERSON_LEAD = re.compile(
    _LEAD_IN + r"(?:(?:it'?s|it is|this is|i'?m|i am|im|name'?s|my name is|you can call me|call me)\s+)?",
    re.IGNORECASE,
)
_COMPANY_LEAD = re.compile(
    _LEAD_IN + r"(?:(?:it'?s called|it is called|we'?re called|we are called|it'?s|it is|we'?re|we are|"
    r"i'?m (?:with|at|from)|i am (?:with|at|from)|i work (?:at|for|with)|the company is|our company is|"
    r"company is|called)\s+)?",
    re.IGNORECASE,
)
_ANSWER_END = re.compile(r"\s*(?:$|[,.;!?(]|\s+here\b|\s+-\s|\s+–|\s+—)", re.IGNORECASE)
_NAME_THEN_COMPANY = re.compile(r"\s+(?:from|at|with)\s+[A-Z0-9]")
_MONTH_NAMES = frozenset({"april", "may", "june", "july", "august", "summer", "autumn", "winter"})
_NAME_STOP = (_COMMON - _MONTH_NAMES) | _PLACES | _LANGUAGES | NOT_AN_ANSWER
_NOT_A_COMPANY_ANSWER = _COMMON | _LANGUAGES | NOT_AN_ANSWER


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_mash(token: str) -> bool:
    """Whether a word is a run of neighbouring keys ("asdf", "qwerty"): typed to get past a question."""
    low = token.lower()
    return len(low) >= 4 and any(low in row or low in row[::-1] for row in _KEYBOARD_ROWS)


def expected_person(text: str, roles: Sequence[Entity]) -> Entity | None:
    """The name that answers "what's your name?": the message's leading one to four words, any case.

    Args:
        text: the message.
        roles: ``role`` entities in it (a title is never part of the name).

    Returns:
        A ``person`` entity (confidence 0.95), or None when the message does not open with a name: a question,
        a keyboard mash, a lowercase word after "this is", a word of :data:`NOT_AN_ANSWER`.
    """
    if text.rstrip().endswith("?"):
        return None
    lead = _PERSON_LEAD.match(text)
    pos = lead.end() if lead else 0
    lead_words = (lead.group(0) if lead else "").lower()
    tokens: list[str] = []
    start = end = -1
    for tm in re.finditer(r"[ \t]*([^\W\d_]+(?:['’.\-][^\W\d_]+)*)", text[pos:]):
        if tm.start() != (end - pos if end >= 0 else 0):
            break
        tok = tm.group(1)
        low = tok.lower()
        if low in _NAME_STOP and not (tokens and low in _PARTICLES):
            break
        if len(tokens) == 4:
            return None
        if start < 0:
            start = pos + tm.start(1)
        tokens.append(tok)
        end = pos + tm.end(1)
    while tokens and tokens[-1].lower() in _PARTICLES:
        tokens.pop()
    if not tokens or not (
        _ANSWER_END.match(text, start + len(" ".join(tokens)))
        or _NAME_THEN_COMPANY.match(text, start + len(" ".join(tokens)))
    ):
        return None
    if any(_keyboard_mash(t) for t in tokens):
        return None
    if all(t.islower() for t in tokens) and re.search(r"\b(?:this is|it'?s|it is)\s*$", lead_words):
        return None  # "this is useless": a lowercase word after "this is" is not a name
    end = _span_end(text, start, tokens)
    if any(r.start < end and start < r.end for r in roles):
        return None
    return _person_entity(text, start, end, tokens, confidence=0.95)


def expected_company(text: str, roles: Sequence[Entity]) -> Entity | None:
    """The company that answers "which company are you with?": the message's leading phrase, any case.

    Args:
        text: the message.
        roles: ``role`` entities in it (a title is never part of the company).

    Returns:
        A ``company`` entity (confidence 0.95), or None for a question, a refusal or a common word.
    """
    if text.rstrip().endswith("?"):
        return None
    lead = _COMPANY_LEAD.match(text)
    pos = lead.end() if lead else 0
    got = _take_company(text, pos, allow_lower=True)
    if got is None:
        return None
    start, end, tokens = got
    if tokens[0].lower() in _NOT_A_COMPANY_ANSWER or not _ANSWER_END.match(text, end):
        return None
    if any(r.start < end and start < r.end for r in roles):
        return None
    return _company_entity(text, start, end, tokens, confidence=0.95)
