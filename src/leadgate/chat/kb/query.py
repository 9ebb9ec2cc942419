"""What a visitor's message asks: the question without its chit-chat, its type and its focus.

Three steps, all pure functions of the text:

1. :func:`strip_lead_in` removes conversational lead-ins ("so, quick question:", "hey there! I was wondering",
   "sorry if this is dumb but", "one more thing -", "ok thanks. and", "btw") from the start of the message,
   repeatedly, quoted or not (:data:`LEAD_INS`).
2. :func:`normalise` rewrites a few chat spellings into the words a knowledge base uses ("on prem" ->
   "on-premises", "anytime" -> "any time", "u" -> "you"; :data:`CHAT_SPELLINGS`).
3. :func:`question_type` says whether the question asks for a price, about data protection, or for a yes or
   no (:class:`QuestionType`); the answerer chooses its sentences by it (``docs/kb.md``, "Answer selection").

Words that survive these steps but carry no topic ("quick", "guys", "wondering") are in the tokenizer's stop list
(:data:`leadgate.chat.kb.text.QUESTION_FILLER`), so a lead-in that no pattern catches still weighs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

_GREETING = (
    r"(?:hi|hello|hey|hiya|howdy|yo|good (?:morning|afternoon|evening))(?: there| all| team| guys| folks)?"
)
_THANKS = r"(?:ok(?:ay)?|cool|great|perfect|got it|nice|thanks|thank you|thx|ty)(?: (?:so|very) much| a lot| a bunch)?"

LEAD_INS: tuple[str, ...] = (
    _GREETING + r"\b",
    _THANKS + r"(?:[\s,.!]+(?:thanks|thank you|that helps|that's helpful))?\b",
    r"(?:and|also|oh|ah|um+|uh+|so|well|alright|anyway|anyways|besides)\b",
    r"(?:btw|by the way|fyi|quick q|quick one|real quick|one more(?: thing| question| q)?|another (?:thing|question)"
    r"|last (?:thing|question)|one last (?:thing|question)|(?:a )?quick question|question(?: for you)?)\b",
    r"(?:sorry|apologies)(?: if this is (?:a )?(?:dumb|stupid|silly|basic|obvious)(?: question)?)?(?: but)?\b",
    r"(?:this (?:might|may) be (?:a )?(?:dumb|stupid|silly|basic) (?:question|one)(?: but)?)\b",
    r"(?:i was|i am|i'm|im|we were|we are|we're)(?: just)? (?:wondering|curious)(?: about)?\b",
    r"(?:i (?:have|had|got)|we have|got) (?:a )?(?:quick )?question(?: for you)?\b",
    r"(?:can|could|may) i ask(?: you)?(?: something| a question)?\b",
    r"(?:just )?(?:wanted to|want to|wanna|trying to) (?:ask|know|check|find out|confirm)\b",
    r"(?:do you|does anyone|can you|could you) (?:know|tell me|let me know)\b",
)
"""Patterns (regular expressions, case-insensitive) for what a visitor says before the question itself.

Each is matched at the start of the message, followed by punctuation or spaces, and removed; the list is applied
again until nothing more matches, so "ok thanks. and btw, quick question: ..." loses all four. Written from how
chat visitors open a question (greetings, thanks, "btw", apologies, "I was wondering"), not from the question
sets. A pattern never removes the last words of a message: when stripping leaves nothing, the message is kept."""

_LEAD_IN = re.compile(
    r"^\s*[\"'“‘(\[]*\s*(?:" + "|".join(LEAD_INS) + r")\s*[\s,.:;!?\-–—…)\]\"'”’]*",
    re.IGNORECASE,
)

CHAT_SPELLINGS: tuple[tuple[str, str], ...] = (
    (r"\bon[\s-]?prem(?:ise|ises)?\b", "on-premises"),
    (r"\bself[\s-]?hosted\b", "self-hosted on-premises"),
    (r"\banytime\b", "any time"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"\bpls\b|\bplz\b", "please"),
    (r"\bpen[\s-]?tests?\b|\bpentests?\b", "penetration test"),
    (r"\bwhats\b", "what is"),
    (r"\bhows\b", "how is"),
    (r"\bwheres\b", "where is"),
    (r"\b(\d)[\s-]?way\b", r"\1-way"),
    (r"\bsso\b", "single sign-on (SSO)"),
)
"""Chat spellings rewritten into the words documents use, as (pattern, replacement), case-insensitive.

Only spellings that are common in chat and rare in documents: abbreviations ("on prem", "pen test", "SSO" ->
"single sign-on"), dropped apostrophes ("whats") and text-speak ("u", "pls")."""

_SPELLINGS = [(re.compile(p, re.IGNORECASE), r) for p, r in CHAT_SPELLINGS]


def strip_lead_in(message: str) -> str:
    """The message without its conversational lead-ins (:data:`LEAD_INS`).

    Args:
        message: what the visitor typed.

    Returns:
        The message from its first word that is not a lead-in; the message itself when everything would be
        removed ("hello!" stays "hello!").
    """
    text = message.strip()
    while True:
        match = _LEAD_IN.match(text)
        if match is None or match.end() == 0:
            return text
        rest = text[match.end() :].strip()
        if not rest or not re.search(r"\w", rest):
            return text
        if rest == text:
            return text
        text = rest


def normalise(question: str) -> str:
    """Rewrite chat spellings (:data:`CHAT_SPELLINGS`) into documentation words."""
    for pattern, replacement in _SPELLINGS:
        question = pattern.sub(replacement, question)
    return question


_QUESTION_END = re.compile(r"(?<=\?)\s+(?=\S)")


def split_questions(message: str) -> list[str]:
    """The questions of a message that asks several, split after each "?".

    "Where is it hosted? Can we keep it in the EU?" gives two; a part without a letter is dropped; one
    question gives a list of one.
    """
    return [part for part in _QUESTION_END.split(message.strip()) if re.search(r"[A-Za-z]", part)]


class QuestionType(Enum):
    """What kind of answer a question asks for.

    * ``PRICE``: an amount of money ("how much", "cost", "price", "pricing", "expensive", "per seat", "fee").
    * ``DATA_PROTECTION``: what happens to the visitor's data ("sell my data", "share my data", "GDPR",
      "privacy", "who can see").
    * ``QUANTITY``: a number ("how many", "how long", "how often", "how fast", "how soon").
    * ``YES_NO``: a closed question ("do you ...", "is there ...", "can I ...").
    * ``OTHER``: anything else (what, how, when, where, ...).
    """

    PRICE = "price"
    DATA_PROTECTION = "data_protection"
    QUANTITY = "quantity"
    YES_NO = "yes_no"
    OTHER = "other"


PRICE_WORDS = re.compile(
    r"\b(?:how much|costs?|costing|prices?|pricing|priced|expensive|fees?|per (?:seat|user|month|"
    r"editor|invoice)|charge|charges|charged|pay for)\b",
    re.IGNORECASE,
)
"""A price question: one of these words or phrases."""

PRICE_TYPE_TERMS = frozenset({"much", "cost", "price", "pricing", "expens", "fee", "charg", "pay", "paid"})
"""Snowball stems of the words that only say "a price is asked" (dropped from the focus of a price question:
any currency amount answers them)."""

DATA_PROTECTION_WORDS = re.compile(
    r"\b(?:(?:sell|sells|selling|sold|share|shares|sharing|shared|rent|do with|access|see)"
    r"\s+(?:my|our|the|your customers'?|customer|user|personal)?\s*(?:data|information|info|invoices|details)"
    r"|gdpr|ccpa|privacy|private|personal data|data protection|data processing|dpa|who can (?:see|access|read)"
    r"|who has access|advertis\w*|third part(?:y|ies))\b",
    re.IGNORECASE,
)
"""A data-protection question: one of these words or phrases."""

DATA_PROTECTION_TERMS = frozenset(
    {
        "gdpr",
        "ccpa",
        "privaci",
        "privat",
        "processor",
        "controller",
        "dpa",
        "subprocessor",
        "encrypt",
        "access",
        "confidenti",
    }
)
"""Snowball stems that mark a passage as being about data protection (a data-protection question is answered
only from a sentence containing one, or not at all)."""

QUANTITY_WORDS = re.compile(
    r"\bhow (?:many|long|often|fast|quickly|soon|big|large|old|frequently)\b|\bwhat percentage\b",
    re.IGNORECASE,
)
"""A quantity question: it is answered only by a sentence with a number in it."""

QUANTITY_TYPE_TERMS = frozenset(
    {"often", "long", "mani", "fast", "quick", "soon", "big", "larg", "old", "frequent"}
)
"""Snowball stems of the words that only say "a number is asked" ("how often", "how long"): a sentence with a
number covers them."""

NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|dozen|once|twice|daily|weekly|monthly|hourly|unlimited)\b(?!-\w)",
    re.IGNORECASE,
)
"""A number in a sentence: a digit, or a number word ("two to three weeks", "twice a year", "unlimited"); a number
word in a compound is none ("two-way integration", "one-time fee")."""

_HOW_MANY = re.compile(r"\bhow many\s+(?P<noun>[a-z][\w-]*)", re.IGNORECASE)
_WORD = re.compile(r"[\w$€£][\w,.$€£%-]*\w|\w")


def counted_noun(question: str) -> str | None:
    """The word a "how many" question counts ("How many seats can I have?" -> "seats"), or None."""
    match = _HOW_MANY.search(question)
    return match["noun"] if match else None


_APPROXIMATELY = frozenset(
    {
        "up",
        "to",
        "from",
        "about",
        "over",
        "more",
        "than",
        "at",
        "least",
        "most",
        "around",
        "approximately",
        "roughly",
    }
)


def _is_then_number(between: list[str]) -> bool:
    """The words between a noun and a number are "... is/are [up to|about|...]" ("is up to")."""
    for i, word in enumerate(between):
        if word in ("is", "are"):
            return all(w in _APPROXIMATELY for w in between[i + 1 :])
    return False


def counts(sentence: str, noun_stem: str, stem: Callable[[list[str]], list[str]]) -> bool:
    """True when ``sentence`` gives a number of the thing whose stem is ``noun_stem``.

    Either a number at most two words before the noun ("25 editor seats", "140 employees") or the noun, at
    most eight words ending in "is" / "are" and at most an "up to" / "about" / "more than", and the number
    ("the invoices included per month is up to 1,000", the way :func:`~leadgate.chat.kb.loader.render_row`
    writes a table cell). A number elsewhere in the sentence does
    not count ("Customers choose ... us-east-1" does not say how many customers there are), nor does a price
    ("$39 per editor seat" is not a number of seats).

    Args:
        sentence: a sentence of the knowledge base.
        noun_stem: the stem of the counted noun.
        stem: the stemmer (lower-case words to stems).
    """
    words = [w.lower() for w in _WORD.findall(sentence)]
    if not words:
        return False
    stems = stem(words)
    numbers = [i for i, w in enumerate(words) if NUMBER.search(w) and not w.startswith(("$", "€", "£"))]
    nouns = [i for i, s in enumerate(stems) if s == noun_stem]
    for n in nouns:
        for k in numbers:
            if 1 <= n - k <= 3:
                return True
            if 0 < k - n <= 8 and _is_then_number(words[n + 1 : k]):
                return True
    return False


_MAIN_VERB = re.compile(
    r"^(?:if|whether)?\s*(?:do|does|did|can|could|will|would|should|may|must)\s+(?:not\s+)?"
    r"(?:you|we|i|it|they|lumenly|your \w+|the \w+|\w+)\s+(?:also\s+|still\s+|actually\s+)?(?P<verb>[a-z]+)\b",
    re.IGNORECASE,
)


def main_verb(question: str) -> str | None:
    """The verb of a closed question, which the answerer does not take for the thing asked about.

    "can we keep our data ..." -> "keep"; "do you integrate ..." -> "integrate"; None for a question without
    an auxiliary followed by a subject and a verb ("are you SOC 2 compliant?").
    """
    match = _MAIN_VERB.match(question.strip())
    return match["verb"] if match else None


_DEFINITION = re.compile(
    r"^(?:what|who)\s+(?:is|are|'s)\s+(?:a\s+|an\s+|the\s+)?(?P<term>[\w .&-]+?)\s*\??$", re.IGNORECASE
)


def defined_term(question: str) -> str | None:
    """The term a definition question asks about ("What is Lumenly?" -> "Lumenly"), or None."""
    match = _DEFINITION.match(question.strip())
    return match["term"] if match else None


_QUESTION_NUMBER = re.compile(r"(?<![\w.,/-])\d+(?:[.,]\d+)*(?![\w/-])")


def question_numbers(question: str) -> tuple[str, ...]:
    """The standalone numbers of a question, which a quoted sentence must contain.

    "SOC 1" gives "1", "ISO 27001" "27001", "99.9" itself; digits inside words ("1099s", "3-way", "24/7") are
    left to the tokens.
    """
    return tuple(dict.fromkeys(m.group(0) for m in _QUESTION_NUMBER.finditer(question)))


_YES_NO = re.compile(
    r"^(?:if|whether|do|does|did|is|are|was|were|can|could|will|would|should|have|has|may|must|am)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Query:
    """A visitor's message, read.

    Attributes:
        original: the message as typed.
        text: the question without lead-ins, with chat spellings normalised (what is retrieved with).
        kind: the :class:`QuestionType`.
    """

    original: str
    text: str
    kind: QuestionType


def question_type(question: str) -> QuestionType:
    """The type of ``question`` (already stripped of lead-ins): price, then data protection, quantity, yes/no."""
    if PRICE_WORDS.search(question):
        return QuestionType.PRICE
    if DATA_PROTECTION_WORDS.search(question):
        return QuestionType.DATA_PROTECTION
    if QUANTITY_WORDS.search(question):
        return QuestionType.QUANTITY
    if _YES_NO.match(question.strip()):
        return QuestionType.YES_NO
    return QuestionType.OTHER


def read_query(message: str) -> Query:
    """Strip lead-ins, normalise chat spellings and classify ``message``.

    Args:
        message: what the visitor typed.

    Returns:
        The :class:`Query`.
    """
    text = normalise(strip_lead_in(message))
    return Query(original=message, text=text, kind=question_type(text))
