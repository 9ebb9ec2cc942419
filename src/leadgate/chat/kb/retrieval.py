"""Retrievers over passages: BM25 (bm25s), an optional dense retriever, and reciprocal rank fusion.

Each retriever returns a ranking: ``(passage index, score)`` pairs, best first, of the passages it finds
at all (BM25: those sharing a content token with the question; dense: every passage).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import bm25s
import numpy as np
import numpy.typing as npt

from leadgate.chat.kb.text import Stemmer, tokenize

RRF_K = 60
"""The k of reciprocal rank fusion: Cormack, Clarke and Büttcher (2009), "Reciprocal Rank Fusion
outperforms Condorcet and individual rank learning methods", SIGIR '09, found k = 60 near-optimal and robust."""

Ranking = list[tuple[int, float]]
"""Passage indices with their retriever's score, best first."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors (e.g. a sentence-transformers model)."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``.

        Args:
            texts: n texts.

        Returns:
            Array of shape (n, d), float32; rows need not be normalised (the caller normalises them).
        """
        ...


class Bm25Index:
    """BM25 over token lists with bm25s (Lucene variant, k1 = 1.5, b = 0.75: bm25s's defaults).

    Args:
        documents: n texts to index.
        stemmer: optional stemmer, applied to documents and queries alike.

    Attributes:
        n_docs: number of documents.
        doc_tokens: the content tokens of each document.
    """

    def __init__(self, documents: Sequence[str], stemmer: Stemmer | None = None) -> None:
        if not documents:
            raise ValueError("Bm25Index needs at least one document")
        self.stemmer = stemmer
        self.doc_tokens = tokenize(documents, stemmer)
        self.n_docs = len(documents)
        self._bm25 = bm25s.BM25()
        # Every document gets at least the empty token so that bm25s accepts a document without content words.
        self._bm25.index([t or [""] for t in self.doc_tokens], show_progress=False)
        self._df: dict[str, int] = {}
        for tokens in self.doc_tokens:
            for token in set(tokens):
                self._df[token] = self._df.get(token, 0) + 1

    def idf(self, token: str) -> float:
        """Lucene's BM25 inverse document frequency of ``token``: ln(1 + (N - df + 0.5) / (df + 0.5)).

        Source: the Lucene ``BM25Similarity`` idf (also bm25s's ``lucene`` method); a token in no document
        gets the largest value, ln(1 + (N + 0.5) / 0.5).
        """
        df = self._df.get(token, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: Sequence[str]) -> npt.NDArray[np.float32]:
        """BM25 score of every document for already tokenized ``query_tokens``, shape (n_docs,)."""
        known = [t for t in query_tokens if t in self._df]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def query_tokens(self, query: str) -> list[str]:
        """The content tokens of ``query``, stemmed like the documents.

        Each out-of-vocabulary token is replaced by its indexed variant when it has one (:meth:`variant`).
        """
        return [self.variant(t) for t in tokenize([query], self.stemmer)[0]]

    def variant(self, token: str) -> str:
        """The indexed token that an out-of-vocabulary ``token`` is a spelling or word-form variant of.

        A visitor writes "1099s" for "1099", "nonprofits" for "non-profit". Rules, in order, for a token in no
        document (an indexed token is returned unchanged):

        1. a number with a plural "s" ("1099s") -> the number, when indexed;
        2. a compound of two indexed tokens of 3+ characters ("nonprofit" -> "non" + "profit") -> the rarer
           part, the longer one on a tie (the compound's topic is carried by its rarer half);
        Otherwise the token itself (it then counts with the largest idf, which is what makes the answerer
        abstain on "Zapier" or "Kubernetes").
        """
        if token in self._df:
            return token
        if token.endswith("s") and token[:-1].isdigit() and token[:-1] in self._df:
            return token[:-1]
        for cut in range(3, len(token) - 2):
            head, tail = token[:cut], token[cut:]
            if head in self._df and tail in self._df:
                return min((head, tail), key=lambda t: (self._df[t], -len(t)))
        # No prefix rule (issue 10, item 4): "compliant" / "complies" now meet through the synonym table
        # (leadgate.chat.kb.synonyms), and a shared prefix joined unrelated words on a new knowledge base
        # ("German" -> "Germany": "do you offer support in German?" was answered with the hosting sentence).
        return token

    def rank(self, query: str) -> Ranking:
        """Documents with a positive BM25 score for ``query``, best first (ties: lower index first)."""
        scores = self.scores(self.query_tokens(query))
        order = np.argsort(-scores, kind="stable")
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


class DenseIndex:
    """Cosine similarity between embedded documents and an embedded query.

    Args:
        documents: n texts to index.
        embedder: the embedder used for documents and queries.

    Raises:
        ValueError: the embedder returns an array whose shape is not (n, d).
    """

    def __init__(self, documents: Sequence[str], embedder: Embedder) -> None:
        self.embedder = embedder
        self._vectors = _normalise(embedder.embed(list(documents)), len(documents))

    def rank(self, query: str) -> Ranking:
        """Every document by cosine similarity to ``query``, best first (ties: lower index first)."""
        q = _normalise(self.embedder.embed([query]), 1)[0]
        sims = self._vectors @ q
        order = np.argsort(-sims, kind="stable")
        return [(int(i), float(sims[i])) for i in order]


def _normalise(vectors: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"embedder returned shape {arr.shape}, expected ({n}, d)")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.divide(arr, norms, out=np.zeros_like(arr), where=norms > 0)


def reciprocal_rank_fusion(rankings: Sequence[Ranking], k: int = RRF_K) -> Ranking:
    """Fuse rankings by reciprocal rank: score(d) = sum over rankings of 1 / (k + rank of d), rank from 1.

    Source: Cormack, Clarke and Büttcher (2009), SIGIR '09, with their k = 60. A document missing from a
    ranking gets nothing from it.

    Args:
        rankings: rankings of passage indices (best first); their scores are ignored.
        k: the RRF constant.

    Returns:
        Every document found by any ranking with its fused score, best first (ties: lower index first).
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (doc, _score) in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
