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
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from leadgate.chat.guard import screen
from leadgate.chat.kb import selection
from leadgate.chat.kb.loader import Passage, load_passages
from leadgate.chat.kb.query import (
    QuestionType,
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


def _with_numbers(allowed: SentenceFilter | None, numbers: tuple[str, ...]) -> SentenceFilter | None:
    """``allowed``, further requiring every number of ``numbers`` in the sentence (as a whole number)."""
    if not numbers:
        return allowed
    patterns = [re.compile(rf"(?<![\d.,]){re.escape(n)}(?![\d]|[.,]\d)") for n in numbers]

    def check(sentence: str, stems: frozenset[str]) -> bool:
        if allowed is not None and not allowed(sentence, stems):
            return False
        return all(p.search(sentence) for p in patterns)

    return check


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
        with_opener: bool = False,
    ) -> tuple[list[str], Support]:
        """The sentences to quote from passage ``index`` and the support they give.

        The first sentence is the one covering the most idf weight of the question's tokens, the section's
        first sentence counting its heading's tokens too (a topic sentence: under "Payment methods",
        "Quillstack pays vendors by ACH, ..." rather than a later sentence that repeats "payments"). Ties go
        to the sentence repeating the tokens more often ("For the Business plan, ... 4 business hours" over
        "For the Team plan, ... 1 business day"), then to the earlier. Only sentences that ``allowed`` admits
        are considered and, when ``prefer`` is given and some admissible sentence contains that token, only
        those. ``credited`` tokens (the words that only name the question's type: "cost", "how long") are
        left out of the coverage, which measures the question's focus alone; every admissible sentence
        answers them by construction (it states a price, a number). Further sentences come only from the
        same paragraph and only for question tokens still missing (so "HIPAA" next to "SOC 2" is not quoted
        for a shared word), at most ``max_sentences``, and must be allowed too; when the first sentence
        holds none of the question's words itself (only its heading does), the sentences after it in its
        paragraph follow instead. With ``with_opener``, a bare "Yes." or "No." right before the first
        sentence is quoted with it.
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
        covered = sentence_tokens[first] | heading
        focus_total = math.fsum(w for t, w in weights.items() if t not in credited)
        focus_covered = math.fsum(weights[t] for t in covered if t not in credited)
        coverage = focus_covered / focus_total if focus_total > 0 else 0.0
        if literal[first] == 0:
            # only the heading matches ("GDPR and data processing", a FAQ's "Q:" line): the section is about
            # the question, so its opening paragraph, in order, is the answer
            for i in admissible:
                if i > first and block_of[i] == block_of[first] and len(chosen) < self.max_sentences:
                    chosen.append(i)
        while literal[first] > 0 and len(chosen) < self.max_sentences:
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
        if (
            with_opener
            and opener >= 0
            and block_of[opener] == block_of[first]
            and _YES_NO_OPENER.match(sentences[opener])
        ):
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
        numbers: tuple[str, ...] = (),
        tie: Callable[[list[str]], int] | None = None,
    ) -> tuple[tuple[int, list[str], Support] | None, float]:
        """Of the :data:`CANDIDATES` best-ranked passages that pass the thresholds, the best.

        Best: quoting a sentence, or being under a heading, that contains ``prefer`` (when given), then the
        highest coverage, then the most weight in the first sentence itself, then the highest ``tie`` of the
        quoted sentences (when given), then the better ranked. Every
        quoted sentence must contain each of ``numbers`` (the numbers of the question: "SOC 1" is not
        answered with a sentence about SOC 2).

        Returns:
            ``(passage index, sentences, support)`` or None, and the best coverage seen.
        """
        best: tuple[int, list[str], Support] | None = None
        best_key: tuple[bool, float, float, int] = (False, 0.0, 0.0, 0)
        best_coverage = 0.0
        for index, _score in ranking[: self.candidates]:
            similarity = similarities[index] if similarities is not None else None
            sentences, support = self._extract(
                tokens,
                index,
                similarity,
                allowed=_with_numbers(allowed, numbers),
                prefer=prefer,
                credited=credited,
                with_opener=prefer is not None,
            )
            if not sentences:
                continue
            best_coverage = max(best_coverage, support.coverage)
            heading = self.passages[index].heading
            names = selection.names(self, prefer, [heading, *sentences])
            key = (names, support.coverage, support.weight, tie(sentences) if tie is not None else 0)
            better = best is None or key > best_key
            if self.thresholds.supports(support) and better:
                best, best_key = (index, sentences, support), key
        return best, best_coverage

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
        best, best_coverage = selection.by_type(self, query, ranking, similarities, tokens)
        if best is None and query.kind is QuestionType.PRICE and not selection.focus(tokens):
            overview = selection.price_overview(self)
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
