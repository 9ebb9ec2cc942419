r"""Tokens and sentences of knowledge-base text and visitor questions.

Tokens come from ``bm25s.tokenize`` (scikit-learn's ``CountVectorizer`` pattern ``\b\w\w+\b``, lower-cased)
with bm25s's ``STOPWORDS_EN_PLUS`` (NLTK's 179 English stop words) plus :data:`QUESTION_FILLER`, the conversational words a
visitor wraps a question in ("hi, can you tell me ..."), which say nothing about the topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import bm25s
import Stemmer as _pystemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from leadgate.chat.kb.synonyms import fold

Stemmer = Callable[[list[str]], list[str]]
"""Maps a list of tokens to their stems, one for one (e.g. PyStemmer's ``Stemmer("english").stemWords``)."""

QUESTION_FILLER: frozenset[str] = frozenset(
    {
        "hi",
        "hello",
        "hey",
        "please",
        "thanks",
        "thank",
        "tell",
        "know",
        "want",
        "wanted",
        "wondering",
        "wonder",
        "like",
        "would",
        "could",
        "can",
        "may",
        "might",
        "shall",
        "also",
        "us",
        "get",
        "got",
        "exactly",
        "actually",
        "really",
        "anything",
        "something",
        "way",
        "ok",
        "okay",
        "much",
        "many",
        "one",
        "guys",
        "offer",
        "provide",
        "need",
        "use",
        # chit-chat around a question (issue 10): lead-ins that no pattern of leadgate.chat.kb.query.LEAD_INS removed
        "quick",
        "question",
        "questions",
        "btw",
        "sorry",
        "dumb",
        "stupid",
        "silly",
        "thing",
        "things",
        "hiya",
        "thx",
        "folks",
        "guy",
        "curious",
        "ask",
        "asking",
        "yeah",
        "yes",
        "lol",
        "hmm",
        "ah",
        "oh",
        # verbs and adverbs that frame a question without naming its topic ("how does X work", "what happens
        # to X", "do you give X"): a visitor uses them with any topic, a document rarely
        "work",
        "works",
        "happen",
        "happens",
        "give",
        "go",
        "goes",
    }
)
"""Words that carry no topic in a question to the assistant.

"offer", "provide",
"need" and "use" because a visitor asks "do you offer/provide/use X" about any X. Chosen by reading the
questions of ``tests/chat/data/kb_questions.yml`` that missed their source before this list existed. The chit-chat
words ("quick", "question", "btw", "sorry", ...) were added for issue 10 from how chat visitors wrap a question,
so that a lead-in the patterns of :data:`leadgate.chat.kb.query.LEAD_INS` miss still weighs nothing (a word found
in no passage would otherwise get the largest idf and pull the answer below the abstention threshold)."""

STOPWORDS: tuple[str, ...] = tuple(sorted(set(STOPWORDS_EN_PLUS) | QUESTION_FILLER))
"""bm25s's ``STOPWORDS_EN_PLUS`` (NLTK's English list) plus :data:`QUESTION_FILLER`."""

_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "etc.",
    "vs.",
    "Inc.",
    "Ltd.",
    "Lda.",
    "Dr.",
    "Mr.",
    "Ms.",
    "No.",
    "approx.",
)
_SNOWBALL = _pystemmer.Stemmer("english")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9$€£])")


def snowball_stem_words(words: list[str]) -> list[str]:
    """The Snowball English (Porter 2) stems of ``words``, by PyStemmer ("plans" -> "plan", "hiring" -> "hire").

    Source: M. F. Porter, "Snowball: A language for stemming algorithms" (2001),
    https://snowballstem.org/algorithms/english/stemmer.html. Measured on ``tests/chat/data/kb_questions.yml``,
    stemming lifts hit@1 from 53 to 56 of 58 and right answers from 40 to 48 (docs/kb.md).

    Args:
        words: tokens (lower case).

    Returns:
        The stems, one per token.
    """
    return list(_SNOWBALL.stemWords(words))


def tokenize(texts: Sequence[str], stemmer: Stemmer | None = None) -> list[list[str]]:
    """Content tokens of each text.

    Synonyms and abbreviations are folded to one concept token first (:func:`leadgate.chat.kb.synonyms.fold`:
    "SSO", "single sign-on" and "SAML" all give ``sso``), in documents and questions alike.

    Args:
        texts: n texts.
        stemmer: optional stemmer applied to every token.

    Returns:
        n token lists (possibly empty), in order of appearance, duplicates kept.
    """
    if not texts:
        return []
    tokens = bm25s.tokenize(
        [fold(t) for t in texts],
        stopwords=list(STOPWORDS),
        stemmer=stemmer,
        return_ids=False,
        show_progress=False,
    )
    return [list(t) for t in tokens]


def split_sentences(block: str) -> list[str]:
    """Split one text block into sentences, each a verbatim substring of ``block``.

    A sentence ends at ``.``, ``!`` or ``?`` (and closing quotes or brackets) followed by white space and a
    capital letter, digit or currency sign, unless the word ending there is a common abbreviation
    (``e.g.``, ``Inc.``, ``Lda.``, ...). A block without such an end is one sentence (a list item or a table row).

    Args:
        block: a paragraph, list item or table row with single spaces.

    Returns:
        The sentences, stripped, in order; empty for an empty block.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(block):
        if block[start : match.start(1)].endswith(_ABBREVIATIONS):
            continue
        sentences.append(block[start : match.end(1)].strip())
        start = match.end()
    tail = block[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]
