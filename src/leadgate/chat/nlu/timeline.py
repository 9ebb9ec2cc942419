"""Timelines: dates and periods resolved to a date range against a reference time ``now``.

What is understood (case-insensitive), each resolved to ``{"start": ISO date, "end": ISO date}``
(both inclusive) plus ``grain``:

- urgency: ``ASAP``, ``as soon as possible``, ``immediately``, ``right away``, ``urgently`` ->
  today .. today + 30 days (grain ``asap``; 30 days is leadgate's reading of "immediate need" in
  BANT-style qualification, see docs/nlu.md);
- durations: ``within 6 weeks``, ``in 3 months``, ``in the next 2 months``, ``next 90 days``,
  ``in a couple of weeks`` -> today .. today + duration (grain ``duration``);
- quarters and halves: ``Q3``, ``Q1 next year``, ``q4 2026``, ``this/next quarter``,
  ``second half of next year``, ``H2`` (calendar quarters and halves);
- months, seasons and years: ``in March``, ``September 2027``, ``next spring`` (northern
  meteorological seasons: spring = Mar-May, summer = Jun-Aug, autumn = Sep-Nov, winter = Dec-Feb),
  ``this month``, ``next week``, ``next year``, ``in 2027``;
- days: ``March 15``, ``15th of June 2027``, ``2026-09-01``, ``9/1/2026``, ``tomorrow``,
  ``next Friday``, ``Thursday 10am`` (parsed by dateparser with ``RELATIVE_BASE = now`` and
  ``PREFER_DATES_FROM = "future"``; a time of day goes to ``time``).

Modifiers: ``early``/``beginning of``/``start of`` take the first third of the period, ``mid``/
``middle of`` the middle third, ``late``/``end of`` the last third (by whole months when the period
spans three or more months, by days otherwise). ``by``/``before``/``until``/``within``/``no later
than`` make the range start today (``before X`` ends the day before X starts). A period without a
year is the next one that has not ended (``Q1`` in May is next year's Q1). A period that contains
today starts today (``this quarter`` = today .. end of quarter).
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.numbers import parse_quantity
from leadgate.chat.nlu.timeline_patterns import (
    _GATE_BEFORE,
    _GATE_GROUPS,
    _GATED,
    _MONTHS,
    _ORDINALS,
    _PATTERNS,
    _SEASONS,
)

EXTRACTOR = "leadgate.timeline"

DATEPARSER_LOCK = threading.Lock()
"""Serializes ``dateparser.parse``: it is not thread-safe (scrapinghub/dateparser#441), and the chat API's
sync routes run in a thread pool. Calls take about a millisecond, so the lock costs nothing visible."""
ASAP_DAYS = 30
"""Length of the range an urgency word (``ASAP``) resolves to, in days."""

Span = tuple[date, date]


def _month_span(year: int, month: int) -> Span:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _months_span(year: int, first_month: int, n_months: int) -> Span:
    start = date(year, first_month, 1)
    end = start + relativedelta(months=n_months) - timedelta(days=1)
    return start, end


def _quarter_of(d: date) -> int:
    return (d.month - 1) // 3 + 1


def _resolve_year(ref: str | None, today: date) -> int | None:
    if not ref:
        return None
    r = ref.lower()
    if r in ("next year", "the next year", "the following year"):
        return today.year + 1
    if r == "this year":
        return today.year
    if r.startswith("'"):
        return 2000 + int(r[1:])
    return int(r)


def _next_not_ended(make: Callable[[int], Span], today: date, skip_current: bool = False) -> Span:
    """The first period (trying this year, then next) that has not ended; with skip_current, that has not begun."""
    for year in (today.year - 1, today.year, today.year + 1, today.year + 2):
        start, end = make(year)
        if skip_current and start > today:
            return start, end
        if not skip_current and end >= today:
            return start, end
    return make(today.year + 1)


def _apply_part(span: Span, part: str | None) -> Span:
    if not part:
        return span
    p = part.lower().replace("the ", "").strip()
    third = 0 if p in ("early", "beginning of", "start of") else 1 if p in ("mid", "middle of") else 2
    start, end = span
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    month_aligned = start.day == 1 and end == _month_span(end.year, end.month)[1]
    if month_aligned and months >= 3:
        size = months // 3
        first = start + relativedelta(months=size * third)
        last_month = start + relativedelta(months=size * (third + 1) if third < 2 else months)
        return first, last_month - timedelta(days=1)
    days = (end - start).days + 1
    size = max(1, days // 3)
    first = start + timedelta(days=size * third)
    last = end if third == 2 else start + timedelta(days=size * (third + 1) - 1)
    return first, last


class _Candidate:
    __slots__ = ("end", "grain", "span", "start", "time")

    def __init__(self, start: int, end: int, span: Span, grain: str, time: str | None = None) -> None:
        self.start = start
        self.end = end
        self.span = span
        self.grain = grain
        self.time = time


def _finish(m: re.Match[str], span: Span, grain: str, today: date, time: str | None = None) -> _Candidate:
    g = m.groupdict()
    span = _apply_part(span, g.get("part"))
    start, end = span
    by = (g.get("by") or "").lower()
    if by:
        part = (g.get("part") or "").lower()
        if by in ("before", "prior to") and not part.endswith("end of"):  # "before the end of X" = by X's end
            end = start - timedelta(days=1)
        start = today if today <= end else start
    elif start < today <= end:
        start = today
    return _Candidate(m.start(), m.end(), (start, end), grain, time)


def _resolve_asap(m: re.Match[str], today: date) -> _Candidate:
    return _Candidate(m.start(), m.end(), (today, today + timedelta(days=ASAP_DAYS)), "asap")


def _resolve_duration(m: re.Match[str], today: date) -> _Candidate | None:
    g = m.groupdict()
    unit = g["unit"].lower()
    plural = unit.endswith("s")
    if g["n"]:
        n = parse_quantity(g["n"])
    elif g["bare"]:
        return None  # "next week" is the calendar week, left to the relative pattern
    elif plural:
        n = 4 if unit.startswith("week") else 3  # "in the coming weeks / months": a few
    elif g["next"]:
        n = 1  # "within the next quarter"
    else:
        return None
    unit = unit.rstrip("s")
    if unit == "day":
        end = today + timedelta(days=round(n))
    elif unit == "week":
        end = today + timedelta(days=round(7 * n))
    elif unit == "month":
        end = today + relativedelta(months=round(n))
    elif unit == "quarter":
        end = today + relativedelta(months=round(3 * n))
    else:
        end = today + relativedelta(years=round(n))
    return _Candidate(m.start(), m.end(), (today, end), "duration")


def _resolve_quarter(m: re.Match[str], today: date) -> _Candidate:
    g = m.groupdict()
    q = int(g["qn"]) if g.get("qn") else _ORDINALS[g["qord"].lower()]
    year = _resolve_year(g.get("y") or g.get("y2"), today)
    span = (
        _months_span(year, 3 * (q - 1) + 1, 3)
        if year is not None
        else _next_not_ended(lambda y: _months_span(y, 3 * (q - 1) + 1, 3), today)
    )
    return _finish(m, span, "quarter", today)


def _resolve_half(m: re.Match[str], today: date) -> _Candidate:
    g = m.groupdict()
    h = int(g["hn"]) if g.get("hn") else _ORDINALS[g["hord"].lower()]
    year = _resolve_year(g.get("y") or g.get("y2"), today)
    span = (
        _months_span(year, 6 * (h - 1) + 1, 6)
        if year is not None
        else _next_not_ended(lambda y: _months_span(y, 6 * (h - 1) + 1, 6), today)
    )
    return _finish(m, span, "half", today)


def _resolve_relative(m: re.Match[str], today: date) -> _Candidate:
    g = m.groupdict()
    rel = g["rel"].lower()
    unit = g["unit"].lower()
    nxt = rel not in ("this", "the current", "current")
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 if nxt else 0)
        return _finish(m, (monday, monday + timedelta(days=6)), "week", today)
    if unit == "month":
        first = today.replace(day=1) + relativedelta(months=1 if nxt else 0)
        return _finish(m, _month_span(first.year, first.month), "month", today)
    if unit == "quarter":
        first = date(today.year, 3 * (_quarter_of(today) - 1) + 1, 1) + relativedelta(months=3 if nxt else 0)
        return _finish(m, _months_span(first.year, first.month, 3), "quarter", today)
    year = today.year + (1 if nxt else 0)
    return _finish(m, (date(year, 1, 1), date(year, 12, 31)), "year", today)


def _resolve_later_this_year(m: re.Match[str], today: date) -> _Candidate:
    return _Candidate(m.start(), m.end(), (today, date(today.year, 12, 31)), "year")


def _resolve_month(m: re.Match[str], today: date) -> _Candidate:
    g = m.groupdict()
    month = _MONTHS[g["month"].lower().rstrip(".")]
    year = _resolve_year(g.get("y"), today)
    rel = (g.get("mrel") or "").lower()
    if year is not None:
        span = _month_span(year, month)
    else:
        span = _next_not_ended(lambda y: _month_span(y, month), today, skip_current=rel == "next")
    return _finish(m, span, "month", today)


def _resolve_season(m: re.Match[str], today: date) -> _Candidate:
    g = m.groupdict()
    first = _SEASONS[g["season"].lower()]
    rel = (g.get("srel") or "").lower()

    def make(y: int) -> Span:
        return _months_span(y, first, 3)

    if rel == "this":
        span = make(today.year if not (first == 12 and today.month <= 2) else today.year - 1)
    else:
        span = _next_not_ended(make, today, skip_current=rel in ("next", "the coming", "coming"))
    return _finish(m, span, "season", today)


def _resolve_year_number(m: re.Match[str], today: date) -> _Candidate:
    year = _resolve_year(m.group("year"), today) or today.year
    return _finish(m, (date(year, 1, 1), date(year, 12, 31)), "year", today)


def _resolve_day(m: re.Match[str], today: date, now: datetime, date_order: str) -> _Candidate | None:
    import dateparser

    text = m.group("day")
    tod = m.groupdict().get("tod")
    if tod and re.search(r"\d", tod):
        text = f"{text} {tod}"
    base = now.replace(tzinfo=None)
    settings: Any = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "DATE_ORDER": date_order,
        "PREFER_DAY_OF_MONTH": "first",
    }
    with DATEPARSER_LOCK:
        parsed = dateparser.parse(text, languages=["en"], settings=settings)
    if parsed is None:
        return None
    day = parsed.date()
    time = None
    if tod and re.search(r"\d", tod):
        time = parsed.strftime("%H:%M")
    return _finish(m, (day, day), "day", today, time)


def _gated_ok(m: re.Match[str], text: str, kind: str) -> bool:
    """Months, seasons and bare years need a cue, so "may" or "march" as words are not dates.

    A cue is a modifier or preposition in the match (``by``, ``in``, ``early``, ``next``, a year), a
    preposition just before it (``since``, ``from``, ``of``...), or, for months and seasons, the
    match being the whole message (the answer to "when?").
    """
    g = m.groupdict()
    if any(g.get(k) for k in _GATE_GROUPS):
        return True
    if _GATE_BEFORE.search(text[: m.start()]):
        return True
    whole = text.strip().strip(".!?").strip()
    return kind != "year" and m.group(0).strip().lower() == whole.lower()


def extract_timeline(text: str, now: datetime, date_order: str = "MDY") -> list[Entity]:
    """Find timelines and resolve each to a date range, with negations and commitment cues applied.

    The expressions found by :func:`extract_spans` go through
    :func:`leadgate.chat.nlu.timeline_cues.apply_cues`: a negated or ``after`` expression ("not before
    March", "not this quarter", "after the summer") becomes the range that starts when the visitor will buy,
    and of several expressions only the one the visitor commits to is kept ("sometime this year, ideally by
    end of Q2" -> by end of Q2).

    Args:
        text: the message.
        now: the reference time (naive or aware; its own calendar date is "today").
        date_order: order of numeric dates such as ``9/1/2026``: ``"MDY"`` (US) or ``"DMY"``.

    Returns:
        ``timeline`` entities in text order, non-overlapping (the longest match wins); ``normalized``
        holds ``start`` and ``end`` (ISO dates, inclusive), ``grain`` (``asap``, ``duration``,
        ``day``, ``week``, ``month``, ``quarter``, ``half``, ``season``, ``year``) and ``time``
        (``"HH:MM"`` or None); ``grain`` ``after`` marks a range that starts at a negated bound.

    """
    from leadgate.chat.nlu.timeline_cues import apply_cues  # the cues re-read expressions with this module

    return apply_cues(text, extract_spans(text, now, date_order), now, date_order)


def extract_spans(text: str, now: datetime, date_order: str = "MDY") -> list[Entity]:
    """Find time expressions and resolve each to a date range as written (no negation, no choice).

    Args:
        text: the message.
        now: the reference time (naive or aware; its own calendar date is "today").
        date_order: order of numeric dates: ``"MDY"`` or ``"DMY"``.

    Returns:
        ``timeline`` entities in text order, non-overlapping (the longest match wins); see
        :func:`extract_timeline` for ``normalized``.

    """
    today = now.date()
    candidates: list[_Candidate] = []
    for pattern, kind in _PATTERNS:
        for m in pattern.finditer(text):
            if not m.group(0).strip():
                continue
            if kind in _GATED and not _gated_ok(m, text, kind):
                continue
            cand = _resolve(kind, m, today, now, date_order)
            if cand is not None:
                candidates.append(cand)
    candidates.sort(key=lambda c: (-(c.end - c.start), c.start))
    chosen: list[_Candidate] = []
    for c in candidates:
        if all(c.end <= o.start or o.end <= c.start for o in chosen):
            chosen.append(c)
    chosen.sort(key=lambda c: c.start)
    out = []
    for c in chosen:
        value = text[c.start : c.end]
        stripped = value.strip()
        start = c.start + (len(value) - len(value.lstrip()))
        out.append(
            Entity(
                entity="timeline",
                value=stripped,
                start=start,
                end=start + len(stripped),
                normalized={
                    "start": c.span[0].isoformat(),
                    "end": c.span[1].isoformat(),
                    "grain": c.grain,
                    "time": c.time,
                },
                confidence=1.0,
                extractor=EXTRACTOR,
            )
        )
    return out


def _resolve(kind: str, m: re.Match[str], today: date, now: datetime, date_order: str) -> _Candidate | None:
    if kind == "asap":
        return _resolve_asap(m, today)
    if kind == "duration":
        return _resolve_duration(m, today)
    if kind == "quarter":
        return _resolve_quarter(m, today)
    if kind == "half":
        return _resolve_half(m, today)
    if kind == "relative":
        return _resolve_relative(m, today)
    if kind == "later_this_year":
        return _resolve_later_this_year(m, today)
    if kind == "end_of_current":
        return _resolve_end_of_current(m, today)
    if kind == "year_end":
        span = (date(today.year, 12, 1), date(today.year, 12, 31))
        return _finish(m, span, "year", today)
    if kind == "month":
        return _resolve_month(m, today)
    if kind == "season":
        return _resolve_season(m, today)
    if kind == "year":
        return _resolve_year_number(m, today)
    return _resolve_day(m, today, now, date_order)


def _resolve_end_of_current(m: re.Match[str], today: date) -> _Candidate:
    unit = m.group("unit").lower()
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        span = (monday, monday + timedelta(days=6))
    elif unit == "month":
        span = _month_span(today.year, today.month)
    elif unit == "quarter":
        span = _months_span(today.year, 3 * (_quarter_of(today) - 1) + 1, 3)
    else:
        span = (date(today.year, 1, 1), date(today.year, 12, 31))
    return _finish(m, span, unit, today)
