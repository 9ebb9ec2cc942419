"""Intent classification, the public API: the default model, built once and loaded from the artifact cache.

The pieces live in their own modules:

- :mod:`leadgate.chat.nlu.features`: text normalization, n-gram analyzers, softmax and temperature;
- :mod:`leadgate.chat.nlu.model`: :class:`IntentClassifier` (scikit-learn; train, persist, load);
- :mod:`leadgate.chat.nlu.compiled`: :class:`CompiledIntentModel`, the trained model as numpy arrays,
  which predicts without importing scikit-learn;
- :mod:`leadgate.chat.nlu.artifact`: the cache of compiled models, keyed by a hash of their training data,
  library versions and code.

:func:`default_intent_classifier` returns the model trained on leadgate's shipped data
(``chat/data/nlu.yml`` and ``chat/data/nlu_public/*.yml``). It is loaded from ``nlu_cache_dir``
(:class:`leadgate.config.Settings`) in well under a second; only when the cached file is missing, stale
or corrupt is it trained (seconds) and stored. ``leadgate nlu build`` builds it ahead of time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from leadgate.chat.nlu.compiled import CompiledIntentModel
from leadgate.chat.nlu.features import embedding_block, fit_temperature, mark_words, preprocess
from leadgate.chat.nlu.model import PERSIST_FORMAT, IntentClassifier, IntentPrediction, IntentScore

if TYPE_CHECKING:
    from leadgate.chat.kb.retrieval import Embedder
    from leadgate.chat.nlu.artifact import BuildInfo

__all__ = [
    "PERSIST_FORMAT",
    "CompiledIntentModel",
    "EmbeddingsMode",
    "IntentClassifier",
    "IntentModel",
    "IntentPrediction",
    "IntentScore",
    "build_default_model",
    "default_intent_classifier",
    "embedding_block",
    "fit_temperature",
    "mark_words",
    "preprocess",
    "use_embeddings",
]

EmbeddingsMode = Literal["auto", "off", "on"]
"""Values of the ``nlu_embeddings`` setting (:class:`leadgate.config.Settings`)."""

IntentModel = IntentClassifier | CompiledIntentModel
"""Anything :class:`~leadgate.chat.nlu.interpreter.NLU` can classify with: both have ``predict``,
``predict_many``, ``predict_proba``, ``intents_`` and ``is_trained``."""

_PURPOSE = "nlu_embeddings=on (LEADGATE_NLU_EMBEDDINGS)"


def _extra_installed() -> bool:
    """Whether the packaged model and its two libraries can be imported (nothing heavy is imported)."""
    from leadgate.chat.nlu.minilm import minilm_available

    return minilm_available()


def use_embeddings(mode: EmbeddingsMode) -> bool:
    """Decide whether the default classifier uses sentence embeddings (nothing heavy is imported).

    Args:
        mode: ``"off"`` never; ``"auto"`` when the packaged all-MiniLM-L6-v2 is installed (as
            ``scripts/setup.sh`` does); ``"on"`` always.

    Returns:
        True when the embedding block is to be used.

    Raises:
        EmbeddingsUnavailableError: ``mode`` is ``"on"`` and the model is not installed.
        ValueError: ``mode`` is none of the three.

    """
    if mode == "off":
        return False
    if mode == "auto":
        return _extra_installed()
    if mode == "on":
        if not _extra_installed():
            from leadgate.chat.nlu.minilm import missing_extra_error

            raise missing_extra_error(_PURPOSE)
        return True
    raise ValueError(f"nlu_embeddings must be 'auto', 'off' or 'on', got {mode!r}")


def _embedder_id() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from leadgate.chat.nlu.minilm import MODEL_PACKAGE

    try:
        return (
            f"{MODEL_PACKAGE}=={version(MODEL_PACKAGE.replace('_', '-'))} (numpy, leadgate.chat.nlu.minilm)"
        )
    except PackageNotFoundError:
        return MODEL_PACKAGE


def build_default_model(
    with_embeddings: bool,
    cache_dir: Path | str | None = None,
    *,
    force: bool = False,
    embedder: Embedder | None = None,
) -> tuple[CompiledIntentModel, BuildInfo]:
    """Load the default model from the cache, or train and store it (what ``leadgate nlu build`` runs).

    Args:
        with_embeddings: add the sentence-embedding block (see :func:`use_embeddings`).
        cache_dir: the cache directory; None reads ``nlu_cache_dir`` from :func:`leadgate.config.get_settings`.
        force: retrain even when a valid model is stored.
        embedder: the embedder to use with ``with_embeddings`` (None: the packaged all-MiniLM-L6-v2).

    Returns:
        The model and what was done (:class:`~leadgate.chat.nlu.artifact.BuildInfo`: path, key, time).

    Raises:
        EmbeddingsUnavailableError: embeddings asked for and the extra is not installed.
        NLUDataError: if the shipped training data is malformed.

    """
    from leadgate.chat.nlu.artifact import ArtifactStore, TrainingSource

    if cache_dir is None:
        from leadgate.config import get_settings

        cache_dir = get_settings().nlu_cache_dir
    embedder_id = None
    if with_embeddings:
        if embedder is None:
            from leadgate.chat.nlu.minilm import require_default_embedder

            embedder = require_default_embedder(_PURPOSE)
            embedder_id = _embedder_id()
        else:
            embedder_id = f"{type(embedder).__module__}.{type(embedder).__qualname__}"
    return ArtifactStore(cache_dir).load_or_build(
        TrainingSource.shipped(),
        variant="embeddings" if with_embeddings else "tfidf",
        embedder=embedder if with_embeddings else None,
        embedder_id=embedder_id,
        force=force,
    )


def default_intent_classifier(mode: EmbeddingsMode | None = None) -> CompiledIntentModel:
    """Return the model trained on leadgate's shipped data, from the artifact cache (built when needed).

    Args:
        mode: the ``nlu_embeddings`` choice (see :func:`use_embeddings`); None reads it from
            :func:`leadgate.config.get_settings`.

    Returns:
        The compiled model, shared per choice for the life of the process. Without embeddings it is the
        plain TF-IDF model; with them, the TF-IDF model plus the all-MiniLM-L6-v2 block.

    Raises:
        EmbeddingsUnavailableError: ``mode`` is ``"on"`` and the ``embeddings`` extra is not installed.

    """
    if mode is None:
        from leadgate.config import get_settings

        mode = get_settings().nlu_embeddings
    return _cached_default(use_embeddings(mode))


@lru_cache(maxsize=2)
def _cached_default(with_embeddings: bool) -> CompiledIntentModel:
    model, _ = build_default_model(with_embeddings)
    return model
