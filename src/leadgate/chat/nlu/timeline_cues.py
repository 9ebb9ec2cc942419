"""What the words around a time expression do to it: negation, ``after``, and which of several expressions wins.

Negation and ``after`` (the visitor names the time *before* which they will not buy):

- ``not before X``, ``not until X``, ``not till X``, ``no sooner than X``, ``won't be ready until X`` and
  ``don't need it before X`` -> the range starts when X starts;
- ``not X``, ``not in X``, ``not during X``, ``not in the next 6 months``, ``after X`` -> the range starts the
  day after X ends (``not this quarter`` in May -> from 1 July; ``not in the next 6 months`` -> from six months
  after today, the day the excluded duration ends);
- ``after the holidays``, ``in the new year`` -> from the next 1 January (the year-end holidays);
- ``no earlier than X``, ``not sooner than X`` -> from the start of X.

Such a range has ``grain`` ``after`` and lasts :data:`AFTER_MONTHS` months from its start: the visitor gave a
lower bound only, and a quarter is the planning horizon of a B2B purchase.

Several expressions in one message ("sometime this year, ideally by end of Q2"; "maybe Q3, but realistically
Q4"): the one the visitor commits to wins. An expression preceded by a commitment cue (``ideally``,
``realistically``, ``actually``, ``definitely``, ``at the latest``, ``but``...) beats one preceded by a hedge
(``maybe``, ``sometime``, ``possibly``...); between equals the narrower range wins (the more specific one).
Only the winner is returned, so every consumer reads the same timeline; a lower bound said next to it still
applies ("not before March, ideally by end of Q2" -> 1 March to 30 June).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.timeline import EXTRACTOR, extract_spans

AFTER_MONTHS = 3
"""Length of a range that has only a start ("not before March"), in months."""

_NEGATED_BOUND = re.compile(
    r"(?:\bnot|\bno sooner than|\b\w+n['’]t\b(?:\s+[\w'’]+){0,4})\s*$",
    re.IGNORECASE,
)
_SOONER = re.compile(r"\b(?:no|not) (?:sooner|earlier) than\s*$", re.IGNORECASE)
_NOT_IN = re.compile(r"\bnot\s+(?:(?:in|during|within|for|over)\s+)?$", re.IGNORECASE)
_AFTER = re.compile(r"\b(?:after|once|following)\s+$", re.IGNORECASE)
_BOUND_WORD = re.compile(r"^(?:before|until|till|prior to|by)\s+", re.IGNORECASE)
_HOLIDAYS = re.compile(
    r"\bafter\s+(?:the\s+)?(?:holidays|christmas|new year(?:'s)?)\b|\bin\s+the\s+new\s+year\b", re.IGNORECASE
)
_COMMITTED = re.compile(
    r"\b(?:ideally|realistically|actually|definitely|really|must|need(?:s|ed)? (?:it|to)|latest|hard deadline|"
    r"deadline|but|target(?:ing)?|aim(?:ing)? for|plan(?:ning)? for)\b[\w\s,'’]{0,20}$",
    re.IGNORECASE,
)
_HEDGED = re.compile(
    r"\b(?:maybe|perhaps|possibly|sometime|some time|probably|could be|might be)\b[\w\s'’]{0,12}$",
    re.IGNORECASE,
)


def _entity(start: int, end: int, value: str, span: tuple[date, date], grain: str) -> Entity:
    return Entity(
        "timeline",
        value,
        start,
        end,
        {"start": span[0].isoformat(), "end": span[1].isoformat(), "grain": grain, "time": None},
        confidence=0.9,
        extractor=EXTRACTOR,
    )


def _after(start: date) -> tuple[date, date]:
    return start, start + relativedelta(months=AFTER_MONTHS) - timedelta(days=1)


def _inner(e: Entity, now: datetime, date_order: str) -> tuple[date, date] | None:
    """The span of the expression without its bound word ("before March" -> March)."""
    bare = _BOUND_WORD.sub("", e.value)
    if bare == e.value:
        return date.fromisoformat(str(e.normalized["start"])), date.fromisoformat(str(e.normalized["end"]))
    found = extract_spans(bare, now, date_order)
    if len(found) != 1:
        return None
    return date.fromisoformat(str(found[0].normalized["start"])), date.fromisoformat(
        str(found[0].normalized["end"])
    )


def apply_cues(text: str, entities: list[Entity], now: datetime, date_order: str = "MDY") -> list[Entity]:
    """Apply negation, ``after`` and commitment cues to the time expressions of a message.

    Args:
        text: the message.
        entities: its ``timeline`` entities as written (:func:`~leadgate.chat.nlu.timeline.extract_spans`).
        now: the reference time.
        date_order: ``"MDY"`` or ``"DMY"`` for numeric dates.

    Returns:
        The ``timeline`` entities after the cues: none when there were none, else exactly one (see the
        module docstring for the rules).

    """
    today = now.date()
    out: list[Entity] = []
    for e in entities:
        before = text[: e.start]
        bounded = bool(_BOUND_WORD.match(e.value))
        cue = _NEGATED_BOUND.search(before) if bounded else _SOONER.search(before)
        if cue is not None:
            inner = _inner(e, now, date_order)
            if inner is not None:
                begin = max(inner[0], today)
                out.append(_entity(cue.start(), e.end, text[cue.start() : e.end], _after(begin), "after"))
                continue
        cue = None if bounded else (_NOT_IN.search(before) or _AFTER.search(before))
        if cue is not None:
            end = date.fromisoformat(str(e.normalized["end"]))
            begin = end + timedelta(days=1)
            if e.normalized.get("grain") == "duration" and cue.group(0).lower().startswith("not"):
                begin = end  # "not in the next 6 months": from the day the excluded six months end
            out.append(_entity(cue.start(), e.end, text[cue.start() : e.end], _after(begin), "after"))
            continue
        out.append(e)
    for m in _HOLIDAYS.finditer(text):
        if all(m.end() <= e.start or e.end <= m.start() for e in out):
            out.append(_entity(m.start(), m.end(), m.group(0), _after(date(today.year + 1, 1, 1)), "after"))
    if len(out) <= 1:
        return out

    def rank(e: Entity) -> tuple[int, int]:
        before = text[max(0, e.start - 40) : e.start]
        cue = 1 if _COMMITTED.search(before) else -1 if _HEDGED.search(before) else 0
        width = (
            date.fromisoformat(str(e.normalized["end"])) - date.fromisoformat(str(e.normalized["start"]))
        ).days
        return cue, -width

    winner = max(out, key=rank)
    return [_with_lower_bound(text, winner, out)]


def _with_lower_bound(text: str, winner: Entity, found: list[Entity]) -> Entity:
    """The winner, starting at the latest ``after`` bound of the message when that bound falls inside it.

    "not before March, ideally by end of Q2" -> from 1 March to 30 June: the commitment picks the end, and the
    negation still says when the visitor will not buy.
    """
    if winner.normalized.get("grain") == "after":
        return winner
    end = date.fromisoformat(str(winner.normalized["end"]))
    bounds = [
        date.fromisoformat(str(e.normalized["start"]))
        for e in found
        if e is not winner and e.normalized.get("grain") == "after"
    ]
    lower = max((b for b in bounds if b <= end), default=None)
    if lower is None or lower <= date.fromisoformat(str(winner.normalized["start"])):
        return winner
    first = min(e.start for e in found)
    last = max(e.end for e in found)
    grain = str(winner.normalized.get("grain") or "range")
    return _entity(first, last, text[first:last], (lower, end), grain)
