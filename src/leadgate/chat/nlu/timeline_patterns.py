"""The regular expressions of the timeline extractor (``chat.nlu.timeline``): building blocks and patterns.

Each pattern in :data:`_PATTERNS` is paired with the kind of expression it finds (``asap``, ``duration``,
``quarter``, ``half``, ``relative``, ``month``, ``season``, ``year``, ``day``...); ``chat.nlu.timeline``
resolves a match of each kind to a date range.
"""

from __future__ import annotations

import calendar
import re

from leadgate.chat.nlu.numbers import COMPOUND_WORD, NUMBER_WORD

_MONTHS: dict[str, int] = {}
for _i, _name in enumerate(calendar.month_name):
    if _name:
        _MONTHS[_name.lower()] = _i
        _MONTHS[_name[:3].lower()] = _i
_MONTHS["sept"] = 9
_MONTH_RE = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"

_BY = r"(?:(?P<by>by|before|until|till|no later than|not later than|latest by|prior to|within)\s+)?"
_PART = (
    r"(?:(?P<part>early|mid|late|the end of|end of|the beginning of|beginning of|the start of|start of|"
    r"the middle of|middle of|towards the end of|toward the end of)[\s-]+)?"
)
_IN = r"(?P<inp>(?:sometime |some time )?(?:in|during|around|for)\s+)?"
_THE = r"(?:the\s+)?"


def _year_ref(name: str = "y") -> str:
    return rf"(?P<{name}>(?:19|20)\d\d|'\d\d|next year|this year|the next year|the following year)"


_YEAR_REF = _year_ref()
_PREFIX = _BY + _IN + _PART + _THE

_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}


_TIME = r"(?:\s+(?:at\s+)?(?P<tod>\d{1,2}(?::\d\d)?\s?(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d\d|morning|afternoon|evening))?"
_YEAR_NUM = r"(?P<year>(?:19|20)\d\d)"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(?:asap|a\.s\.a\.p\.?|as soon as (?:possible|we can|we could)|immediately|right away|"
            r"straight away|urgently|(?:need(?:ed)?|want(?:ed)?)\s+(?:it|this|that|one|something)\s+yesterday"
            r"|^\s*yesterday(?=[\s!.]*$))(?![\w])",
            re.I,
        ),
        "asap",
    ),
    (
        re.compile(
            r"\b(?:(?P<prep>within|in|over|during|inside(?: of)?)\s+(?:the\s+)?(?P<next>next|coming|following)?\s*"
            r"|(?:the\s+)?(?P<bare>next)\s+)"
            r"(?:(?:about|around|roughly|approximately|approx\.?|~)\s*)?"
            r"(?P<n>\d+(?:\.\d+)?|" + COMPOUND_WORD + "|" + NUMBER_WORD + r")?\s*"
            r"(?P<unit>days?|weeks?|months?|quarters?|years?)\b(?!\s+ago)",
            re.I,
        ),
        "duration",
    ),
    (
        re.compile(
            r"\b" + _PREFIX + r"(?:"
            r"q(?P<qn>[1-4])(?:\s*(?:of\s+)?" + _YEAR_REF + r")?"
            r"|(?P<qord>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter(?:\s+of\s+"
            + _year_ref("y2")
            + r")?"
            r")(?![\w])",
            re.I,
        ),
        "quarter",
    ),
    (
        re.compile(
            r"\b" + _PREFIX + r"(?:h(?P<hn>[12])(?:\s*" + _YEAR_REF + r")?"
            r"|(?P<hord>first|second|1st|2nd)\s+half(?:\s+of\s+(?:the\s+year|" + _year_ref("y2") + r"))?"
            r")(?![\w])",
            re.I,
        ),
        "half",
    ),
    (
        re.compile(
            r"\b"
            + _PREFIX
            + r"(?P<rel>this|next|the current|current|the coming|coming|the following|following)\s+"
            r"(?P<unit>week|month|quarter|year)(?![\w])",
            re.I,
        ),
        "relative",
    ),
    (re.compile(r"\b(?:by\s+)?(?:later|sometime later) this year(?![\w])", re.I), "later_this_year"),
    (
        re.compile(
            r"\b" + _BY + r"(?:the\s+)?(?P<part>end of|the end of)\s+(?:the\s+)?(?P<rel>this|current)?\s*"
            r"(?P<unit>week|month|quarter|year)(?![\w])",
            re.I,
        ),
        "end_of_current",
    ),
    (
        re.compile(r"\bwithin\s+(?:the|this)\s+(?P<unit>week|month|quarter|year)(?![\w])", re.I),
        "end_of_current",
    ),
    (re.compile(r"\b(?P<by>by\s+)?(?P<part>)(?:year[- ]end|eoy)(?![\w])", re.I), "year_end"),
    (
        re.compile(
            r"\b" + _PREFIX + r"(?:(?P<mrel>next|this)\s+)?(?P<month>" + _MONTH_RE + r")\.?"
            r"(?:,?\s+(?:of\s+)?" + _YEAR_REF + r")?(?![\w])(?!\s*\d)",
            re.I,
        ),
        "month",
    ),
    (
        re.compile(
            r"\b"
            + _PREFIX
            + r"(?:(?P<srel>this|next|the coming|coming)\s+)?(?P<season>spring|summer|autumn|fall|winter)"
            r"(?![\w])",
            re.I,
        ),
        "season",
    ),
    (re.compile(r"\b" + _PREFIX + _YEAR_NUM + r"(?![\w])", re.I), "year"),
    (
        re.compile(
            r"\b" + _BY + r"(?:on\s+)?(?P<day>"
            r"(?:" + _MONTH_RE + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?"
            r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:" + _MONTH_RE + r")\.?(?:,?\s+(?:19|20)\d\d)?"
            r"|(?:19|20)\d\d-\d{1,2}-\d{1,2}"
            r"|\d{1,2}/\d{1,2}/(?:19|20)?\d\d"
            r"|(?:the day after )?tomorrow"
            r"|(?:(?:next|this|coming)\s+)?(?:" + _WEEKDAYS + r")"
            r")" + _TIME + r"(?![\w])",
            re.I,
        ),
        "day",
    ),
]

_GATED = {"month", "season", "year"}
_GATE_GROUPS = ("by", "inp", "part", "mrel", "srel", "y")
_GATE_BEFORE = re.compile(
    r"(?:\b(?:in|during|around|for|since|from|after|of|sometime|until|till|by|than)\s+)$", re.I
)
