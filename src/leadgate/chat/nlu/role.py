"""Job titles -> seniority, department and authority; and statements of buying authority.

The lexicon (``roles`` in ``data/nlu.yml``) lists title patterns per seniority and word patterns per
department. A title phrase is a seniority match extended over neighbouring modifiers and department
words (``senior data analyst``, ``VP of Sales``, ``IT director``, ``co-founder and CEO``); its head is
the rightmost seniority match, or the one before ``of`` (``Director of Marketing``). The department is
the longest department word in the phrase, else the department listing the head word itself (``cto``
-> engineering).

Precision over recall: a title counts only when it is about the visitor:

- after a self-reference (``I'm a``, ``I am the``, ``I work as``, ``my title is``, ``as``),
- after a name and a comma (``Jane Doe, CTO at Acme``; ``Jane here, head of marketing``),
- before ``here`` (``VP Sales here``),
- or when the message starts with it and nothing but ``at``/``of``/``for``/``,``/end follows (``CTO``,
  ``Head of Growth at Acme``: the answer to "what's your role?").

So "can I talk to your CEO?" and "our VP will decide" give no ``role`` (the second gives an
``authority`` entity: the visitor is an influencer). Short department words that are common English
words (``IT``, ``PR``, ``AE``, ``BI``, ``CX``, ``QA``) count only in upper case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadgate.chat.nlu.data import SENIORITIES, RoleLexicon
from leadgate.chat.nlu.entity import Entity

EXTRACTOR = "leadgate.role"
_CASE_SENSITIVE = {"it", "ae", "pr", "bi", "cx", "qa", "ui"}
_MODIFIERS = (
    r"senior|sr\.?|junior|jr\.?|lead|principal|staff|associate|assistant|deputy|interim|acting|global|"
    r"regional|group|executive|technical|digital|national|international|general"
)
_SELF = re.compile(
    r"(?:\b(?:i'?m|i am|im|i work as|i'?m working as|working as|i serve as|i act as|here as|as|"
    r"my (?:job |current |official )?(?:title|role|position|job)(?: is|:)|i'?m currently)\s+"
    r"(?:(?:currently|also|now|just|the|a|an|one of the|one of|your|their|our)\s+)*"
    r"(?:[A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*){0,2}['’]s\s+)?)$",
    re.IGNORECASE,
)
_NAME_COMMA = re.compile(
    r"(?:^|[.!?]\s*)(?:(?i:i'?m|i am|this is|it'?s|hi|hello|hey)[\s,]+)?"
    r"(?:[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}(?:\s+here)?\s*[,–—-]\s*){1,3}(?:(?:the|a|an|and)\s+)?$"
)
_START = re.compile(r"^\s*(?:(?:hi|hello|hey)\b[\s,!]*)?(?:(?:the|a|an)\s+)?$", re.IGNORECASE)
_AFTER_OK = re.compile(
    r"^\s*(?:$|here\b|at\b|of\b|for\b|with\b|from\b|in\b|@|,|;|&|and\b|\.|!|-|–|—|\()", re.I
)
_HERE = re.compile(r"^\s+here\b", re.IGNORECASE)
_DEPT_ONLY = re.compile(
    r"\bi(?:'m| am| work)\s+in\s+(?:the\s+)?(?P<dept>[a-z&/ -]{2,40}?)(?:\s+(?:team|department|dept|function))?"
    r"\s*(?=$|[,.;!?]|\s+(?:at|for|and|but|so)\b)",
    re.IGNORECASE,
)
_LEAD_TEAM = re.compile(
    r"\bi\s+(?P<verb>lead|run|manage|head|oversee)\s+(?:the|our|a|an|my)\s+(?:small\s+|whole\s+|entire\s+)?"
    r"(?P<dept>[a-z&/ -]{2,40}?)\s+(?:team|department|dept|group|function|org|organization)\b"
    r"|\bi'?m\s+in\s+charge\s+of\s+(?:the\s+|our\s+)?(?P<dept2>[a-z&/ -]{2,40}?)\s*(?=$|[,.;!?]|\s+(?:team|at|for)\b)",
    re.IGNORECASE,
)
_DECIDING_HEAD = re.compile(r"head(?:\s+of\b.*)?|department head", re.IGNORECASE)
"""Director-level titles that keep decision authority: a "Head of X" owns the function's budget (LinkedIn files
it under Director; in BANT practice the head of the buying function signs)."""

_VERB_SENIORITY: dict[str, tuple[str | None, str | None]] = {
    "run": ("director", "influencer"),
    "head": ("director", "decision_maker"),
    "head up": ("director", "decision_maker"),
    "oversee": ("director", "influencer"),
    "lead": ("manager", "influencer"),
    "manage": ("manager", "influencer"),
    "own": ("manager", "influencer"),
    "look after": ("manager", "influencer"),
    "handle": ("manager", "influencer"),
    "am responsible for": ("manager", "influencer"),
    "'m responsible for": ("manager", "influencer"),
    "m responsible for": ("manager", "influencer"),
    "'m in charge of": ("manager", "influencer"),
    "am in charge of": ("manager", "influencer"),
    "m in charge of": ("manager", "influencer"),
    "'m on": ("individual_contributor", "user"),
    "am on": ("individual_contributor", "user"),
    "m on": ("individual_contributor", "user"),
    "'m part of": ("individual_contributor", "user"),
    "am part of": ("individual_contributor", "user"),
    "m part of": ("individual_contributor", "user"),
    "work in": (None, None),
    "'m in": (None, None),
    "am in": (None, None),
    "m in": (None, None),
}
"""Role phrases without a title word -> (seniority, authority). Running, heading or overseeing a function is
director level (LinkedIn seniority "Director": leads a function); leading, managing or owning a team or a
platform is manager level; being on or part of a team is an individual contributor (a user in BANT terms);
working "in" a department says nothing about seniority or authority. Heading a function keeps decision authority
(see :data:`_DECIDING_HEAD`)."""
for _verb, _ing in (("run", "running"), ("head", "heading"), ("oversee", "overseeing"), ("lead", "leading"),
                   ("manage", "managing"), ("own", "owning"), ("handle", "handling")):  # fmt: skip
    for _be in ("'m ", "am ", "m "):
        _VERB_SENIORITY[_be + _ing] = _VERB_SENIORITY[_verb]

_AUTHORITY: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(?:i'?m|i am)\s+(?:the\s+)?(?:final\s+|main\s+|key\s+|ultimate\s+|primary\s+)?decision[- ]?maker\b"
            r"|\bi\s+(?:make|will make|'ll make)\s+the\s+(?:final\s+)?(?:decision|call)\b"
            r"|\b(?:it'?s|it is)\s+(?:me\s+who\s+decides|my\s+(?:call|decision))\b"
            r"|\bi\s+(?:sign|approve)\s+(?:off\s+)?(?:on\s+)?(?:the\s+)?(?:budget|contract|purchase|deal)s?\b"
            r"|\bi(?:'m| am)\s+the\s+one\s+(?:who\s+)?sign(?:s|ing)?\s+off\b"
            r"|\bi\s+(?:own|control|hold)\s+the\s+budget\b"
            r"|\bi\s+have\s+(?:the\s+)?(?:final\s+say|budget authority|sign[- ]off authority)\b",
            re.IGNORECASE,
        ),
        "decision_maker",
    ),
    (
        re.compile(
            r"\bmy\s+(?:boss|manager|ceo|cfo|cto|coo|vp|director|head of \w+|team lead|supervisor)\s+"
            r"(?:makes|will make|has|decides|will decide|signs|approves|gets)\b"
            r"|\b(?:our|the)\s+(?:ceo|cfo|cto|coo|cmo|vp(?: of \w+)?|director|founder|owner|board|management|leadership)\s+"
            r"(?:will\s+)?(?:decide|decides|make|makes|sign|signs|approve|approves)\b"
            r"|\bi\s+need\s+(?:approval|sign[- ]?off|buy[- ]in)\b"
            r"|\b(?:i'?m|i am)\s+(?:doing\s+(?:some\s+)?research|researching|evaluating|looking into (?:this|it|options))"
            r"\s+for\s+(?:my|our)\b"
            r"|\bi(?:'ll| will)\s+(?:recommend|present|pitch)\b"
            r"|\bi\s+report\s+to\b"
            r"|\bthe\s+(?:final\s+)?decision\s+will\s+be\s+made\s+by\b"
            r"|\bmy\s+(?:boss|manager)\s+asked\s+me\b",
            re.IGNORECASE,
        ),
        "influencer",
    ),
    (
        re.compile(
            r"\bi(?:'d| would| will|'ll)\s+be\s+(?:the\s+|a\s+)?(?:main\s+|primary\s+|daily\s+|end\s+)?user\b"
            r"|\bi(?:'ll| will)\s+be\s+(?:the\s+one\s+)?using\s+it\b"
            r"|\bi(?:'m| am)\s+(?:just\s+)?(?:an?\s+)?end[- ]user\b",
            re.IGNORECASE,
        ),
        "user",
    ),
]


def _body(patterns: list[str]) -> str:
    """One non-capturing group of alternatives, longest first (so the longest title wins at a position)."""
    return r"(?:" + "|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True)) + r")"


def _alternation(patterns: list[str]) -> str:
    return r"\b" + _body(patterns) + r"(?![\w-])"


@dataclass(frozen=True)
class _Title:
    start: int
    end: int
    seniority: str | None
    department: str | None
    head: str = ""


class RoleExtractor:
    """Extract ``role`` and ``authority`` entities with a :class:`~leadgate.chat.nlu.data.RoleLexicon`.

    Args:
        lexicon: the title and department tables.

    """

    def __init__(self, lexicon: RoleLexicon) -> None:
        self.lexicon = lexicon
        self._seniority_patterns = [
            (re.compile(p, re.I), level)
            for level in SENIORITIES
            for p in sorted(lexicon.seniority.get(level, ()), key=len, reverse=True)
        ]
        self._seniority_patterns.sort(key=lambda x: len(x[0].pattern), reverse=True)
        self._sen_re = re.compile(
            _alternation([p for level in SENIORITIES for p in lexicon.seniority.get(level, ())]), re.I
        )
        self._dept_patterns = [
            (re.compile(p, re.I), dept) for dept, patterns in lexicon.departments.items() for p in patterns
        ]
        self._dept_patterns.sort(key=lambda x: len(x[0].pattern), reverse=True)
        dept_body = _body([p for patterns in lexicon.departments.values() for p in patterns])
        self._dept_re = re.compile(r"\b" + dept_body + r"(?![\w-])", re.I)
        word = r"(?:(?:" + _MODIFIERS + r")|" + dept_body + r")"
        self._left = re.compile(r"(?:\b" + word + r"\s+)+$", re.I)
        self._right_of = re.compile(
            r"^\s+(?:of|for|in)\s+(?:the\s+)?(?:(?:"
            + _MODIFIERS
            + r")\s+)?"
            + dept_body
            + r"(?:\s+(?:and|&)\s+"
            + dept_body
            + r")?(?![\w-])",
            re.I,
        )
        self._right_bare = re.compile(r"^\s+" + dept_body + r"(?![\w-])", re.I)
        self._right_comma = re.compile(
            r"^\s*[,–—-]\s*(?:the\s+)?" + dept_body + r"(?:\s+(?:and|&)\s+" + dept_body + r")?(?![\w-])"
            r"(?=\s*(?:$|[,.;!?]|at\b|@|for\b|with\b))",
            re.I,
        )
        verbs = "|".join(re.escape(v) for v in sorted(_VERB_SENIORITY, key=len, reverse=True))
        self._phrase = re.compile(
            r"\bi\s*(?P<verb>" + verbs + r")\s+(?:the\s+|our\s+|a\s+|an\s+|my\s+|their\s+)?"
            r"(?:(?:small|whole|entire|global|local|new)\s+)?(?:team\s+of\s+(?:\d+|[a-z]+)\s+)?"
            r"(?P<dept>" + dept_body + r")s?(?![\w-])"
            r"(?:\s+(?:team|department|dept|group|function|org|organization|platform|side|stack|there))?",
            re.I,
        )
        self._dept_answer = re.compile(
            r"^\s*(?:(?:in|on)\s+)?(?:the\s+)?(?P<dept>"
            + dept_body
            + r")(?:\s+(?:team|department|dept))?[\s.!]*$",
            re.I,
        )
        self._gap = re.compile(
            r"^\s*(?:,|&|and|/|\+)?\s*(?:(?:" + _MODIFIERS + r"|" + dept_body + r")\s+)*$", re.I
        )

    # -- lexicon lookups -------------------------------------------------------------------------

    def _case_ok(self, matched: str) -> bool:
        return matched.lower() not in _CASE_SENSITIVE or matched.isupper()

    def seniority_of(self, title_word: str) -> str | None:
        """Return the seniority whose pattern matches the whole word or phrase, if any."""
        for pattern, level in self._seniority_patterns:
            if pattern.fullmatch(title_word):
                return level
        return None

    def department_of(self, phrase: str) -> str | None:
        """Return the department named by the longest department word in ``phrase``, if any."""
        best: tuple[int, str] | None = None
        for m in self._dept_re.finditer(phrase):
            if not self._case_ok(m.group(0)):
                continue
            for pattern, dept in self._dept_patterns:
                if pattern.fullmatch(m.group(0)):
                    if best is None or len(m.group(0)) > best[0]:
                        best = (len(m.group(0)), dept)
                    break
        return best[1] if best else None

    # -- extraction ------------------------------------------------------------------------------

    def _titles(self, text: str) -> list[_Title]:
        matches = [m for m in self._sen_re.finditer(text) if self._case_ok(m.group(0))]
        groups: list[list[re.Match[str]]] = []
        for m in matches:
            if groups and self._gap.match(text[groups[-1][-1].end() : m.start()]):
                groups[-1].append(m)
            else:
                groups.append([m])
        titles = []
        for group in groups:
            start, end = group[0].start(), group[-1].end()
            left = self._left.search(text[:start])
            if left and all(self._case_ok(w) for w in left.group(0).split()):
                start = left.start()
            right = self._right_of.match(text[end:])
            head = group[-1]
            if right and self._case_ok(right.group(0).split()[-1]):
                end += right.end()
            elif (comma := self._right_comma.match(text[end:])) and self._case_ok(comma.group(0).split()[-1]):
                end += comma.end()
            elif (
                (bare := self._right_bare.match(text[end:]))
                and self.seniority_of(head.group(0)) in ("c_level", "vp", "director")
                and self._case_ok(bare.group(0).strip())
            ):
                end += bare.end()
            if head.group(0).lower().startswith("head of") and (
                wider := self._right_of.match(text[head.start() + 4 :])
            ):  # "head of customer success": the lexicon's "head of [a-z]+" stops after one word
                end = max(end, head.start() + 4 + wider.end())
            phrase = text[start:end]
            of = re.search(r"\s(?:of|for|in)\s|,", phrase, re.I)
            if of:
                before_of = [m for m in group if m.end() <= start + of.start()]
                head = before_of[-1] if before_of else head
            seniority = self.seniority_of(head.group(0))
            department = self.department_of(phrase) or self.department_of(head.group(0))
            head_text = text[head.start() : end] if _DECIDING_HEAD.match(head.group(0)) else head.group(0)
            titles.append(_Title(start, end, seniority, department, head_text))
        return titles

    def _about_visitor(self, text: str, title: _Title) -> bool:
        before = text[: title.start]
        after = text[title.end :]
        if _SELF.search(before) or _NAME_COMMA.search(before) or _HERE.match(after):
            return True
        return bool(_START.match(before) and _AFTER_OK.match(after))

    def extract(self, text: str, expecting: str | None = None) -> list[Entity]:
        """Find the visitor's role and statements of buying authority.

        Args:
            text: the message.
            expecting: the entity type the pending question asks for; with ``"role"`` a bare department
                (``"marketing"``) answers "what's your role?".

        Returns:
            ``role`` entities (``normalized``: ``title``, ``seniority``, ``department``, ``authority``;
            any may be None) and ``authority`` entities (``normalized``: ``authority``), in text order.

        """
        out: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for m in self._phrase.finditer(text):
            dept = self.department_of(m.group("dept"))
            if (
                dept is None
                or not self._case_ok(m.group("dept"))
                or any(s < m.end() and m.start() < e for s, e in taken)
            ):
                continue
            seniority, authority = _VERB_SENIORITY[m.group("verb").lower()]
            out.append(
                self._role(
                    m.group(0), m.start(), m.end(), seniority, dept, 0.8, title=False, authority=authority
                )
            )
            taken.append((m.start(), m.end()))
        short_answer = expecting == "role" and len(text.split()) <= 6
        for title in self._titles(text):
            if any(s < title.end and title.start < e for s, e in taken):
                continue
            if not self._about_visitor(text, title) and not (short_answer and not out):
                continue
            value = text[title.start : title.end]
            taken.append((title.start, title.end))
            authority = "decision_maker" if _DECIDING_HEAD.fullmatch(title.head) else None
            out.append(
                self._role(
                    value, title.start, title.end, title.seniority, title.department, 1.0, authority=authority
                )
            )
        if expecting == "role" and not out and (bare := self._dept_answer.match(text)):
            dept = self.department_of(bare.group("dept"))
            if dept is not None and self._case_ok(bare.group("dept")):
                out.append(
                    self._role(
                        bare.group(0).strip(" .!"), 0, len(text.rstrip(" .!")), None, dept, 0.7, title=False
                    )
                )
                taken.append((0, len(text)))
        for m in _LEAD_TEAM.finditer(text):
            dept_text = m.group("dept") or m.group("dept2") or ""
            dept = self.department_of(dept_text)
            if dept is None or any(s < m.end() and m.start() < e for s, e in taken):
                continue
            verb = (m.group("verb") or "").lower()
            seniority = "director" if verb in ("head", "run", "oversee") else "manager"
            out.append(self._role(m.group(0), m.start(), m.end(), seniority, dept, 0.8, title=False))
            taken.append((m.start(), m.end()))
        for m in _DEPT_ONLY.finditer(text):
            dept = self.department_of(m.group("dept"))
            full = self._dept_re.fullmatch(m.group("dept").strip())
            if dept is None or full is None or any(s < m.end() and m.start() < e for s, e in taken):
                continue
            out.append(self._role(m.group(0), m.start(), m.end(), None, dept, 0.8, title=False))
            taken.append((m.start(), m.end()))
        for pattern, authority in _AUTHORITY:
            for m in pattern.finditer(text):
                out.append(
                    Entity(
                        "authority",
                        m.group(0),
                        m.start(),
                        m.end(),
                        {"authority": authority},
                        confidence=0.8,
                        extractor=EXTRACTOR,
                    )
                )
        out.sort(key=lambda e: e.start)
        return out

    def _role(
        self,
        value: str,
        start: int,
        end: int,
        seniority: str | None,
        department: str | None,
        confidence: float,
        title: bool = True,
        authority: str | None = None,
    ) -> Entity:
        if authority is None:
            authority = self.lexicon.authority.get(seniority) if seniority else None
        return Entity(
            "role",
            value,
            start,
            end,
            {
                "title": " ".join(value.split()) if title else None,
                "seniority": seniority,
                "department": department,
                "authority": authority,
            },
            confidence=confidence,
            extractor=EXTRACTOR,
        )
