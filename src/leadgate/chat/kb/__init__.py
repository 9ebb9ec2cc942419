"""Grounded answers from the company's knowledge base (a folder of Markdown, HTML and text files).

``KnowledgeBase.load(path)`` reads and indexes the folder; ``answer(question)`` returns a cited, extractive
``KbAnswer`` or says it does not know. See ``docs/kb.md``.
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
    SentenceTransformerEmbedder,
    embeddings_available,
    load_default_embedder,
)
from leadgate.chat.kb.loader import KnowledgeBaseError, Passage, load_file, load_passages
from leadgate.chat.kb.retrieval import RRF_K, Bm25Index, DenseIndex, Embedder, reciprocal_rank_fusion

__all__ = [
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
    "Passage",
    "SentenceTransformerEmbedder",
    "Support",
    "default_kb_dir",
    "embeddings_available",
    "load_default_embedder",
    "load_file",
    "load_passages",
    "reciprocal_rank_fusion",
]
