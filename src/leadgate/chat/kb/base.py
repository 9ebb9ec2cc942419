"""``KnowledgeBase``: hybrid retrieval and extractive, cited answers over a knowledge-base folder.

How an answer is made (``KnowledgeBase.answer``):

1. The question is screened by :func:`leadgate.chat.guard.screen`; an injection or data-exfiltration attempt
   gets the refusal :data:`REFUSAL_TEXT` and nothing is retrieved.
2. Passages are ranked by BM25 and, when an :class:`~leadgate.chat.kb.retrieval.Embedder` is given, by cosine
   similarity of embeddings; the two rankings are fused by reciprocal rank fusion (k = 60).
3. The support of the best passage is measured (:class:`Support`): how much of the question's content the
   passage covers (idf-weighted) and its BM25 score as a fraction of the most a passage could score. Below
   either threshold the answer is ``grounded=False`` with :data:`UNKNOWN_TEXT` (it does not know and offers
   a person).
4. Otherwise the answer is extractive: up to :data:`MAX_SENTENCES` sentences copied verbatim from that
   passage, chosen greedily for the question's content words they cover and kept in document order, with
   the passage's file cited. No word is added, changed or reordered inside a sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from leadgate.chat.guard import screen
from leadgate.chat.kb.loader import Passage, load_passages
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
    read_query,
    split_questions,
    strip_lead_in,
)
from leadgate.chat.kb.retrieval import Bm25Index, DenseIndex, Embedder, Ranking, reciprocal_rank_fusion
from leadgate.chat.kb.support import (
    _YES_NO_OPENER,
    CANDIDATES,
    CURRENCY_AMOUNT,
    MAX_SENTENCES,
    MIN_COVERAGE,
    MIN_DENSE_COVERAGE,
    MIN_SCORE,
    MIN_SIMILARITY,
    REFUSAL_TEXT,
    UNKNOWN_TEXT,
    SentenceFilter,
    Support,
    Thresholds,
)
from leadgate.chat.kb.text import Stemmer, snowball_stem_words, split_sentences, tokenize
from leadgate.chat.ports import Citation, KbAnswer
from leadgate.config import Settings

__all__ = [
    "CANDIDATES",
    "CURRENCY_AMOUNT",
    "MAX_SENTENCES",
    "MIN_COVERAGE",
    "MIN_DENSE_COVERAGE",
    "MIN_SCORE",
    "MIN_SIMILARITY",
    "REFUSAL_TEXT",
    "UNKNOWN_TEXT",
    "KnowledgeBase",
    "SentenceFilter",
    "Support",
    "Thresholds",
    "default_kb_dir",
]


def _joined(answers: Sequence[KbAnswer]) -> KbAnswer:
    """Grounded answers to the parts of one message as one answer.

    Texts are joined (a text given for an earlier part is not repeated), citations kept in order without
    repeats, and the score is the lowest.
    """
    texts: list[str] = []
    citations: list[Citation] = []
    for answer in answers:
        if answer.text not in texts:
            texts.append(answer.text)
        citations.extend(c for c in answer.citations if c not in citations)
    return KbAnswer(
        grounded=True, text=" ".join(texts), citations=citations, score=min(a.score for a in answers)
    )


def default_kb_dir() -> Path:
    """The example knowledge base shipped with leadgate (fictional company Lumenly)."""
    return Path(str(resources.files("leadgate.chat").joinpath("data", "kb")))


def _unique(tokens: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tokens))


class KnowledgeBase:
    """Answers questions from a folder of Markdown, HTML and text files (implements ``KnowledgeAnswerer``).

    Args:
        passages: the knowledge base's passages (see :func:`~leadgate.chat.kb.loader.load_passages`).
        embedder: optional dense embedder; when given, BM25 and dense rankings are fused (RRF, k = 60) and
            the dense rule of :class:`Thresholds` applies.
        stemmer: token stemmer for BM25 and the support measure (default: the Snowball English stemmer,
            :func:`~leadgate.chat.kb.text.snowball_stem_words`; None: exact tokens).
        thresholds: when support suffices (default: the measured module constants).
        candidates: see :data:`CANDIDATES`.
        max_sentences: see :data:`MAX_SENTENCES`.

    Raises:
        ValueError: ``passages`` is empty, or the embedder returns vectors of the wrong shape.
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        *,
        embedder: Embedder | None = None,
        stemmer: Stemmer | None = snowball_stem_words,
        thresholds: Thresholds | None = None,
        candidates: int = CANDIDATES,
        max_sentences: int = MAX_SENTENCES,
    ) -> None:
        if not passages:
            raise ValueError("a knowledge base needs at least one passage")
        self.passages: tuple[Passage, ...] = tuple(passages)
        self.thresholds = thresholds if thresholds is not None else Thresholds()
        self.candidates = candidates
        self.max_sentences = max_sentences
        documents = [self._index_text(p) for p in self.passages]
        self._bm25 = Bm25Index(documents, stemmer=stemmer)
        self._doc_token_sets = [frozenset(t) for t in self._bm25.doc_tokens]
        self._dense = DenseIndex(documents, embedder) if embedder is not None else None

    @staticmethod
    def _index_text(passage: Passage) -> str:
        head = passage.title if passage.heading == passage.title else f"{passage.title}\n{passage.heading}"
        return f"{head}\n{passage.text}"

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        embedder: Embedder | None = None,
        stemmer: Stemmer | None = snowball_stem_words,
        thresholds: Thresholds | None = None,
    ) -> KnowledgeBase:
        """Read a knowledge-base folder and index it.

        Args:
            path: the folder; None means the example knowledge base shipped with leadgate.
            embedder: optional dense embedder (e.g. :func:`~leadgate.chat.kb.embed.load_default_embedder`).
            stemmer: token stemmer (default: the Snowball English stemmer; None: exact tokens).
            thresholds: when support suffices (default: the measured module constants).

        Returns:
            The indexed knowledge base.

        Raises:
            KnowledgeBaseError: the folder is missing or empty, or a file cannot be read or decoded.
        """
        passages = load_passages(path if path is not None else default_kb_dir())
        return cls(passages, embedder=embedder, stemmer=stemmer, thresholds=thresholds)

    @classmethod
    def from_settings(cls, settings: Settings, *, embedder: Embedder | None = None) -> KnowledgeBase:
        """The knowledge base at ``settings.kb_dir`` (None: the shipped example). Only ``kb_dir`` is read.

        Raises:
            KnowledgeBaseError: as :meth:`load`.
        """
        return cls.load(settings.kb_dir, embedder=embedder)

    def _rankings(self, question: str) -> tuple[Ranking, dict[int, float] | None]:
        lexical = self._bm25.rank(question)
        if self._dense is None:
            return lexical, None
        dense = self._dense.rank(question)
        return reciprocal_rank_fusion([lexical, dense]), dict(dense)

    def search(self, question: str, k: int = 5) -> list[tuple[Passage, float]]:
        """The ``k`` best passages for ``question``.

        Args:
            question: the visitor's question.
            k: most passages returned.

        Returns:
            ``(passage, score)`` pairs, best first: the BM25 score without an embedder, the reciprocal rank
            fusion score with one. Without an embedder, passages sharing no content token with the question
            are left out.
        """
        ranking, _ = self._rankings(question)
        return [(self.passages[i], score) for i, score in ranking[:k]]

    def support(self, question: str, passage: int) -> Support:
        """Measure how well ``self.passages[passage]`` supports an answer to ``question``.

        Args:
            question: the visitor's question.
            passage: index into :attr:`passages`.

        Returns:
            The passage's :class:`Support` (``similarity`` set when there is an embedder).
        """
        similarity = None
        if self._dense is not None:
            similarity = dict(self._dense.rank(question))[passage]
        return self._extract(_unique(self._bm25.query_tokens(question)), passage, similarity)[1]

    def _extract(
        self,
        tokens: list[str],
        index: int,
        similarity: float | None,
        *,
        allowed: SentenceFilter | None = None,
        prefer: str | None = None,
        credited: frozenset[str] = frozenset(),
    ) -> tuple[list[str], Support]:
        """The sentences to quote from passage ``index`` and the support they give.

        The first sentence is the one covering the most idf weight of the question's tokens, the section's
        first sentence counting its heading's tokens too (a topic sentence: under "Payment methods",
        "Quillstack pays vendors by ACH, ..." rather than a later sentence that repeats "payments"). Ties go
        to the sentence repeating the tokens more often ("For the Business plan, ... 4 business hours" over
        "For the Team plan, ... 1 business day"), then to the earlier. Only sentences that ``allowed`` admits
        are considered and, when ``prefer`` is given and some admissible sentence contains that token, only
        those. ``credited`` tokens count as covered by every admissible sentence (a price sentence covers
        "cost" and "price" whatever its words). Further sentences come only from the same paragraph and only
        for question tokens still missing (so "HIPAA" next to "SOC 2" is not quoted for a shared word), at most ``max_sentences``,
        and must be allowed too. A bare "Yes." or "No." right before the first sentence is quoted with it.
        Coverage counts the tokens of the first sentence and of the section heading (the document title
        for a document's opening section): the heading says what a sentence is about ("Is there a mobile
        app?" above "Lumenly has an iOS app ..."). No admissible sentence: no sentences and coverage 0.
        """
        passage = self.passages[index]
        if not tokens:
            return [], Support(coverage=0.0, score=0.0, similarity=similarity)
        weights = {t: self._bm25.idf(t) for t in tokens}
        total = math.fsum(weights.values())
        bm25 = float(self._bm25.scores(tokens)[index]) / total
        blocks = [split_sentences(block) for block in passage.blocks]
        sentences = [s for block in blocks for s in block]
        block_of = [b for b, block in enumerate(blocks) for _ in block]
        token_lists = tokenize([passage.heading, *sentences], self._bm25.stemmer)
        heading_all = frozenset(token_lists[0])
        heading = set(heading_all) & weights.keys()
        full = [frozenset(t) for t in token_lists[1:]]
        sentence_tokens = [set(t) & weights.keys() for t in full]
        admissible = [
            i
            for i in range(len(sentences))
            if allowed is None or allowed(sentences[i], full[i] | heading_all)
        ]
        if not admissible:
            return [], Support(coverage=0.0, score=bm25, similarity=similarity)
        # math.fsum: exact sums, so that set iteration order (hash seed) can never flip a tie
        literal = [math.fsum(weights[t] for t in toks) for toks in sentence_tokens]
        gains = list(literal)
        if sentences:  # the section's first sentence is its topic sentence: it carries the heading's words
            gains[0] = math.fsum([gains[0], *(weights[t] for t in heading - sentence_tokens[0])])
        with_thing = [i for i in admissible if prefer in full[i]] if prefer is not None else []
        repeats = [sum(1 for t in token_lists[i + 1] if t in weights) for i in range(len(sentences))]
        first = max(with_thing or admissible, key=lambda i: (gains[i], repeats[i], -i))
        chosen = [first]
        covered = sentence_tokens[first] | heading | (credited & weights.keys())
        coverage = math.fsum(weights[t] for t in covered) / total
        while gains[first] > 0 and len(chosen) < self.max_sentences:
            best, best_gain = -1, 0.0
            for i in admissible:
                if i in chosen or block_of[i] != block_of[first]:
                    continue
                gain = math.fsum(weights[t] for t in sentence_tokens[i] - covered)
                if gain > best_gain:
                    best, best_gain = i, gain
            if best < 0:
                break
            chosen.append(best)
            covered |= sentence_tokens[best]
        opener = min(chosen) - 1
        if opener >= 0 and block_of[opener] == block_of[first] and _YES_NO_OPENER.match(sentences[opener]):
            chosen.append(opener)
        return [sentences[i] for i in sorted(chosen)], Support(coverage, bm25, similarity, literal[first])

    def _best(
        self,
        ranking: Sequence[tuple[int, float]],
        similarities: dict[int, float] | None,
        tokens: list[str],
        *,
        allowed: SentenceFilter | None = None,
        prefer: str | None = None,
        credited: frozenset[str] = frozenset(),
    ) -> tuple[tuple[int, list[str], Support] | None, float]:
        """Of the :data:`CANDIDATES` best-ranked passages that pass the thresholds, the best.

        Best: quoting a sentence, or being under a heading, that contains ``prefer`` (when given), then the
        highest coverage, then the most weight in the first sentence itself, then the better ranked.

        Returns:
            ``(passage index, sentences, support)`` or None, and the best coverage seen.
        """
        best: tuple[int, list[str], Support] | None = None
        best_key: tuple[bool, float, float] = (False, 0.0, 0.0)
        best_coverage = 0.0
        for index, _score in ranking[: self.candidates]:
            similarity = similarities[index] if similarities is not None else None
            sentences, support = self._extract(
                tokens, index, similarity, allowed=allowed, prefer=prefer, credited=credited
            )
            if not sentences:
                continue
            best_coverage = max(best_coverage, support.coverage)
            heading = self.passages[index].heading
            key = (self._names(prefer, [heading, *sentences]), support.coverage, support.weight)
            better = best is None or key > best_key
            if self.thresholds.supports(support) and better:
                best, best_key = (index, sentences, support), key
        return best, best_coverage

    def _definition(
        self, term: str, tokens: list[str], similarities: dict[int, float] | None
    ) -> tuple[int, list[str], Support] | None:
        """For "What is <term>?": a sentence "<term> is ..." from the opening section of a document.

        The opening section (before the first sub-heading) is where a document defines what it is about; the
        first document in file order that defines the term answers. None when none does.
        """
        pattern = re.compile(rf"^(?:the\s+)?{re.escape(term)}\s+(?:is|are)\b", re.IGNORECASE)
        for index, passage in enumerate(self.passages):
            if passage.heading != passage.title:
                continue
            similarity = similarities[index] if similarities is not None else None
            sentences, support = self._extract(
                tokens, index, similarity, allowed=lambda sentence, _t: bool(pattern.match(sentence))
            )
            if sentences and self.thresholds.supports(support):
                return index, sentences, support
        return None

    def _names(self, token: str | None, sentences: list[str]) -> bool:
        """True when one of ``sentences`` contains ``token`` (stemmed like the index)."""
        if token is None:
            return False
        return any(token in toks for toks in tokenize(sentences, self._bm25.stemmer))

    def _price_overview(self) -> KbAnswer | None:
        """The answer to a price question without a focus ("how much does it cost?").

        The file with the most sentences that state a currency amount and say "cost", "price" or "fee" is the
        price list; its first :attr:`max_sentences` such sentences, preferring those with more amounts, are
        quoted in document order, each passage used cited. None when no sentence states a price.
        """
        found: dict[str, list[tuple[int, int, str]]] = {}
        order = 0
        for index, passage in enumerate(self.passages):
            for block in passage.blocks:
                for sentence in split_sentences(block):
                    order += 1
                    amounts = len(CURRENCY_AMOUNT.findall(sentence))
                    stems = set(tokenize([sentence], self._bm25.stemmer)[0])
                    if amounts and stems & PRICE_TYPE_TERMS:
                        found.setdefault(passage.source, []).append((order, index, sentence))
        if not found:
            return None
        source = max(found, key=lambda src: (len(found[src]), -found[src][0][0]))
        ranked = sorted(found[source], key=lambda item: -len(CURRENCY_AMOUNT.findall(item[2])))
        picked = sorted(ranked[: self.max_sentences])
        text = " ".join(sentence for _order, _index, sentence in picked)
        citations: list[Citation] = []
        for _order, index, _sentence in picked:
            passage = self.passages[index]
            quote = " ".join(s for _o, i, s in picked if i == index)
            if all(c.title != passage.label for c in citations):
                citations.append(Citation(source=passage.source, title=passage.label, quote=quote))
        return KbAnswer(grounded=True, text=text, citations=citations, score=1.0)

    def answer(self, question: str) -> KbAnswer:
        """Answer ``question`` from the knowledge base only.

        A message of several questions ("Where is our data hosted? Can we keep it in the EU?",
        :func:`~leadgate.chat.kb.query.split_questions`) is answered part by part when every part is
        grounded (texts joined, every passage cited); otherwise as one question. Each question is read
        first (:func:`~leadgate.chat.kb.query.read_query`): lead-ins are stripped, chat spellings normalised
        and the question typed. Sentences are then chosen by type:

        * price: only sentences stating a currency amount (:data:`CURRENCY_AMOUNT`), for the question's
          focus without the price words ("how much is the Business plan" -> "business plan"); a price
          question without a focus gets the price list (:meth:`_price_overview`). When no price sentence
          supports the focus, the question is answered as an ordinary one ("Do prices include VAT?").
        * data protection: only sentences that, with their heading, speak of data protection
          (:data:`~leadgate.chat.kb.query.DATA_PROTECTION_TERMS`); otherwise "I don't know", never another
          topic's sentence.
        * yes/no: the first sentence must contain the asked-about thing, the question's rarest token that
          the knowledge base knows.

        Args:
            question: the visitor's message.

        Returns:
            A grounded answer made of verbatim sentences of one passage (or of the price list), citing it: of
            the :data:`CANDIDATES` best-ranked passages whose support passes :attr:`thresholds`, the one
            with the highest coverage (ties: the one whose sentence holds more of the question's weight,
            then the better ranked). Otherwise ``grounded=False`` with
            :data:`UNKNOWN_TEXT`, or with :data:`REFUSAL_TEXT` when the guard flags the message. ``score``
            is the coverage of the passage answered from, or the best coverage seen (0 when refused).
        """
        if screen(question).flagged:
            return KbAnswer(grounded=False, text=REFUSAL_TEXT)
        parts = split_questions(strip_lead_in(question))
        if len(parts) > 1:
            answers = [self._answer_one(part) for part in parts]
            if all(a.grounded for a in answers):
                return _joined(answers)
        return self._answer_one(question)

    def _answer_one(self, question: str) -> KbAnswer:
        query = read_query(question)
        ranking, similarities = self._rankings(query.text)
        tokens = _unique(self._bm25.query_tokens(query.text))
        best, best_coverage = self._answer_by_type(query, ranking, similarities, tokens)
        if best is None and query.kind is QuestionType.PRICE and not self._focus(tokens):
            overview = self._price_overview()
            if overview is not None:
                return overview
        if best is None:
            return KbAnswer(grounded=False, text=UNKNOWN_TEXT, score=best_coverage)
        index, sentences, support = best
        passage = self.passages[index]
        quote = " ".join(sentences)
        return KbAnswer(
            grounded=True,
            text=quote,
            citations=[Citation(source=passage.source, title=passage.label, quote=quote)],
            score=support.coverage,
        )

    @staticmethod
    def _focus(tokens: list[str]) -> list[str]:
        return [t for t in tokens if t not in PRICE_TYPE_TERMS]

    def _answer_by_type(
        self,
        query: Query,
        ranking: Sequence[tuple[int, float]],
        similarities: dict[int, float] | None,
        tokens: list[str],
    ) -> tuple[tuple[int, list[str], Support] | None, float]:
        if query.kind is QuestionType.PRICE:
            focus = self._focus(tokens)
            if not focus:
                return None, 0.0
            best, coverage = self._best(
                ranking,
                similarities,
                tokens,
                allowed=lambda sentence, _t: bool(CURRENCY_AMOUNT.search(sentence)),
                credited=PRICE_TYPE_TERMS,
            )
            if best is not None:
                return best, coverage
            return self._best(ranking, similarities, tokens)
        if query.kind is QuestionType.DATA_PROTECTION:
            return self._best(
                ranking, similarities, tokens, allowed=lambda _s, stems: bool(stems & DATA_PROTECTION_TERMS)
            )
        if query.kind is QuestionType.QUANTITY:
            noun = counted_noun(query.text)
            allowed: SentenceFilter = lambda sentence, _t: bool(NUMBER.search(sentence))  # noqa: E731
            if noun is not None:
                stem = self._bm25.stemmer or (lambda words: words)
                noun_stem = stem([noun.lower()])[0]
                allowed = lambda sentence, _t: counts(sentence, noun_stem, stem)  # noqa: E731
            return self._best(ranking, similarities, tokens, allowed=allowed, credited=QUANTITY_TYPE_TERMS)
        if query.kind is QuestionType.YES_NO:
            verb = main_verb(query.text)
            skip = set(self._bm25.query_tokens(verb)) if verb else set()
            known = [t for t in tokens if self._bm25.idf(t) < self._bm25.idf("\x00") and t not in skip]
            if known:
                thing = max(known, key=self._bm25.idf)
                return self._best(ranking, similarities, tokens, prefer=thing)
        term = defined_term(query.text)
        if term is not None:
            best = self._definition(term, tokens, similarities)
            if best is not None:
                return best, best[2].coverage
        return self._best(ranking, similarities, tokens)
