"""Grounded answers from the company's knowledge base (a folder of Markdown, HTML and text files).

``KnowledgeBase.load(path)`` reads and indexes the folder; ``answer(question)`` returns a cited, extractive
``KbAnswer`` or says it does not know. The question is read first (``read_query``: lead-ins stripped, type
and focus found) and the quoted sentences are chosen by its type. ``leadgate.chat.kb.evaluate`` measures a
knowledge base on a question set. See ``docs/kb.md``.
"""

from leadgate.chat.kb.base import (
    MAX_SENTENCES,
    MIN_COVERAGE,
    MIN_SCORE,
    REFUSAL_TEXT,
    UNKNOWN_TEXT,
    KnowledgeBase,
    Support,
    default_kb_dir,
)
from leadgate.chat.kb.embed import (
    EmbeddingsUnavailableError,
    MiniLMEmbedder,
    embeddings_available,
    load_default_embedder,
)
from leadgate.chat.kb.loader import KnowledgeBaseError, Passage, load_file, load_passages, render_row
from leadgate.chat.kb.query import LEAD_INS, Query, QuestionType, read_query, strip_lead_in
from leadgate.chat.kb.retrieval import RRF_K, Bm25Index, DenseIndex, Embedder, reciprocal_rank_fusion

__all__ = [
    "LEAD_INS",
    "MAX_SENTENCES",
    "MIN_COVERAGE",
    "MIN_SCORE",
    "REFUSAL_TEXT",
    "RRF_K",
    "UNKNOWN_TEXT",
    "Bm25Index",
    "DenseIndex",
    "Embedder",
    "EmbeddingsUnavailableError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "MiniLMEmbedder",
    "Passage",
    "Query",
    "QuestionType",
    "Support",
    "default_kb_dir",
    "embeddings_available",
    "load_default_embedder",
    "load_file",
    "load_passages",
    "read_query",
    "reciprocal_rank_fusion",
    "render_row",
    "strip_lead_in",
]
