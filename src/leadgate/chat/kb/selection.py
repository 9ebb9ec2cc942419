"""Answer selection by question type: prices, data protection, quantities, yes/no, definitions.

Functions over a :class:`~leadgate.chat.kb.base.KnowledgeBase` (split out of it to keep ``base.py`` short); the rules
are documented on :meth:`KnowledgeBase.answer <leadgate.chat.kb.base.KnowledgeBase.answer>` and in ``docs/kb.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from leadgate.chat.kb.query import (
    DATA_PROTECTION_TERMS,
    NUMBER,
    PRICE_TYPE_TERMS,
    QUANTITY_TYPE_TERMS,
    Query,
    QuestionType,
    counted_noun,
    counts,
    defined_term,
    main_verb,
    question_numbers,
)
from leadgate.chat.kb.support import CURRENCY_AMOUNT, SentenceFilter, Support
from leadgate.chat.kb.text import split_sentences, tokenize
from leadgate.chat.ports import Citation, KbAnswer

if TYPE_CHECKING:
    from leadgate.chat.kb.base import KnowledgeBase


def definition(
    kb: KnowledgeBase, term: str, tokens: list[str], similarities: dict[int, float] | None
) -> tuple[int, list[str], Support] | None:
    """For "What is <term>?": a sentence "<term> is ..." from the opening section of a document.

    The opening section (before the first sub-heading) is where a document defines what it is about; the
    first document in file order that defines the term answers. None when none does.
    """
    pattern = re.compile(rf"^(?:the\s+)?{re.escape(term)}\s+(?:is|are)\b", re.IGNORECASE)
    for index, passage in enumerate(kb.passages):
        if passage.heading != passage.title:
            continue
        similarity = similarities[index] if similarities is not None else None
        sentences, support = kb._extract(
            tokens, index, similarity, allowed=lambda sentence, _t: bool(pattern.match(sentence))
        )
        if sentences and kb.thresholds.supports(support):
            return index, sentences, support
    return None


def names(kb: KnowledgeBase, token: str | None, sentences: list[str]) -> bool:
    """True when one of ``sentences`` contains ``token`` (stemmed like the index)."""
    if token is None:
        return False
    return any(token in toks for toks in tokenize(sentences, kb._bm25.stemmer))


def price_overview(kb: KnowledgeBase) -> KbAnswer | None:
    """The answer to a price question without a focus ("how much does it cost?").

    The file with the most sentences that state a currency amount and say "cost", "price" or "fee" is the
    price list; its first :attr:`KnowledgeBase.max_sentences` such sentences, preferring those with more amounts, are
    quoted in document order, each passage used cited. None when no sentence states a price.
    """
    found: dict[str, list[tuple[int, int, str]]] = {}
    order = 0
    for index, passage in enumerate(kb.passages):
        for block in passage.blocks:
            for sentence in split_sentences(block):
                order += 1
                amounts = len(CURRENCY_AMOUNT.findall(sentence))
                stems = set(tokenize([sentence], kb._bm25.stemmer)[0])
                if amounts and stems & PRICE_TYPE_TERMS:
                    found.setdefault(passage.source, []).append((order, index, sentence))
    if not found:
        return None
    source = max(found, key=lambda src: (len(found[src]), -found[src][0][0]))
    ranked = sorted(found[source], key=lambda item: -len(CURRENCY_AMOUNT.findall(item[2])))
    picked = sorted(ranked[: kb.max_sentences])
    text = " ".join(sentence for _order, _index, sentence in picked)
    citations: list[Citation] = []
    for _order, index, _sentence in picked:
        passage = kb.passages[index]
        quote = " ".join(s for _o, i, s in picked if i == index)
        if all(c.title != passage.label for c in citations):
            citations.append(Citation(source=passage.source, title=passage.label, quote=quote))
    return KbAnswer(grounded=True, text=text, citations=citations, score=1.0)


def price_ranking(kb: KnowledgeBase, focus_tokens: list[str]) -> list[tuple[int, float]]:
    """Passages that state a currency amount, ranked by BM25 over the focus of a price question alone.

    The price words are left out of the ranking because documents use them interchangeably: "what does the
    Scale plan cost?" must find the table that says "monthly price".
    """
    scores = kb._bm25.scores(focus_tokens)
    priced = [
        i
        for i, passage in enumerate(kb.passages)
        if scores[i] > 0 and any(CURRENCY_AMOUNT.search(block) for block in passage.blocks)
    ]
    return sorted(((i, float(scores[i])) for i in priced), key=lambda item: (-item[1], item[0]))


def focus(tokens: list[str]) -> list[str]:
    """The question's tokens without the words that only say a price is asked (``PRICE_TYPE_TERMS``)."""
    return [t for t in tokens if t not in PRICE_TYPE_TERMS]


def by_type(
    kb: KnowledgeBase,
    query: Query,
    ranking: Sequence[tuple[int, float]],
    similarities: dict[int, float] | None,
    tokens: list[str],
) -> tuple[tuple[int, list[str], Support] | None, float]:
    """The best passage and sentences for ``query`` by its type, and the best coverage seen.

    See :meth:`KnowledgeBase.answer` for the rules per type; ``ranking`` and ``similarities`` are the
    question's retrieval results and ``tokens`` its content tokens.
    """
    numbers = question_numbers(query.text)
    if query.kind is QuestionType.PRICE:
        if not focus(tokens):
            return None, 0.0
        best, coverage = kb._best(
            price_ranking(kb, focus(tokens)),
            similarities,
            tokens,
            allowed=lambda sentence, _t: bool(CURRENCY_AMOUNT.search(sentence)),
            credited=PRICE_TYPE_TERMS,
            numbers=numbers,
            # equally good sentences: the one stating more prices (the plan's price-list row over a one-off fee)
            tie=lambda sentences: sum(len(CURRENCY_AMOUNT.findall(s)) for s in sentences),
        )
        if best is not None:
            return best, coverage
        # no price answers the focus: a sentence about prices may ("Do your prices include VAT?"), an
        # unrelated one about the focus may not ("how much does onboarding cost?" is not "Every new
        # customer gets a guided onboarding")
        return kb._best(
            ranking,
            similarities,
            tokens,
            allowed=lambda _s, stems: bool(stems & PRICE_TYPE_TERMS),
            credited=PRICE_TYPE_TERMS,
            numbers=numbers,
        )
    if query.kind is QuestionType.DATA_PROTECTION:
        return kb._best(
            ranking,
            similarities,
            tokens,
            allowed=lambda _s, stems: bool(stems & DATA_PROTECTION_TERMS),
            numbers=numbers,
        )
    if query.kind is QuestionType.QUANTITY:
        noun = counted_noun(query.text)
        allowed: SentenceFilter = lambda sentence, _t: bool(NUMBER.search(sentence))  # noqa: E731
        if noun is not None:
            stem = kb._bm25.stemmer or (lambda words: words)
            noun_stem = stem([noun.lower()])[0]
            allowed = lambda sentence, _t: counts(sentence, noun_stem, stem)  # noqa: E731
        return kb._best(
            ranking, similarities, tokens, allowed=allowed, credited=QUANTITY_TYPE_TERMS, numbers=numbers
        )
    if query.kind is QuestionType.YES_NO:
        verb = main_verb(query.text)
        skip = set(kb._bm25.query_tokens(verb)) if verb else set()
        unseen = kb._bm25.idf("\x00")
        known = [t for t in tokens if kb._bm25.idf(t) < unseen and t not in skip]
        # the closed question's verb, when no document uses it, only frames the question ("do you *support*
        # SSO?", "can we *pay* yearly?"): it is left out of the coverage rather than counted as unknown
        tokens = [t for t in tokens if not (t in skip and kb._bm25.idf(t) >= unseen)] or tokens
        if known:
            # the asked-about thing: the rarest known word; on a tie the later one, as English puts the object
            # of a closed question last ("does the mobile app run on windows phone?" -> "phone")
            thing = max(reversed(known), key=kb._bm25.idf)
            # ... and it must be in the quoted sentence or its heading (issue 10, item 4): a closed question
            # about something the documents do not pair with the rest ("Windows phone" next to "iOS and
            # Android") gets "I don't know", not a sentence that merely shares the other words
            return kb._best(
                ranking,
                similarities,
                tokens,
                prefer=thing,
                numbers=numbers,
                allowed=lambda _sentence, stems: thing in stems,
            )
    term = defined_term(query.text)
    if term is not None:
        best = definition(kb, term, tokens, similarities)
        if best is not None:
            return best, best[2].coverage
    return kb._best(ranking, similarities, tokens, numbers=numbers)
