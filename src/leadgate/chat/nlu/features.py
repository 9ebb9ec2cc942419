"""Text features of the intent classifier: normalization, n-gram analyzers, probability helpers.

Nothing here imports scikit-learn, so the compiled model (:mod:`leadgate.chat.nlu.compiled`) can predict
with numpy alone. The two analyzers reproduce scikit-learn's ``TfidfVectorizer`` analyzers for the
settings :class:`~leadgate.chat.nlu.model.IntentClassifier` uses (``analyzer="word"`` with
:data:`TOKEN_PATTERN` and :func:`mark_words`, and ``analyzer="char_wb"``, both with ``lowercase=False``);
``tests/chat/test_nlu_artifact.py`` checks that the compiled model scores exactly as the scikit-learn one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from leadgate.chat.kb.retrieval import Embedder

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[a-z]{2,}", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|io|ai|co|net|org|biz|xyz|de|uk)\b\S*", re.I)
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's _VectorizerMixin._white_spaces

TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]"
"""Word tokens of the word n-gram block: words of any length, and every other non-space character
(``"?"``, ``"$"``, emoji) as a token of its own."""

_TOKEN = re.compile(TOKEN_PATTERN)


def preprocess(text: str) -> str:
    """Normalize a message before featurization.

    Lowercases, replaces e-mail addresses by ``xemailx`` and URLs or bare domains by ``xurlx``, maps
    every digit to ``0`` (so ``"200 people"`` and ``"350 people"`` share n-grams), and collapses
    whitespace.

    Args:
        text: the raw message.

    Returns:
        The normalized text.

    """
    out = _EMAIL.sub(" xemailx ", text)
    out = _URL.sub(" xurlx ", out)
    out = _DIGIT.sub("0", out.lower())
    return _SPACE.sub(" ", out).strip()


def mark_words(text: str) -> str:
    """Add start and end marker tokens for the word n-gram vectorizer.

    With ``xbosx`` and ``xeosx`` around the message, the bigrams ``"xbosx what"`` (a message that
    opens with "what") and ``"no xeosx"`` (one that ends with "no") differ from the same words inside
    a sentence. The markers alone occur in every message; the word vectorizer drops them by its
    ``max_df`` (see :class:`~leadgate.chat.nlu.model.IntentClassifier`), so they do not act as a length
    feature that would pull short unknown messages toward the intents with many one-word examples.

    Args:
        text: a message already normalized by :func:`preprocess`.

    Returns:
        ``"xbosx TEXT xeosx"``.

    """
    return f"xbosx {text} xeosx"


def word_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """The word n-grams of a preprocessed message, as scikit-learn's word analyzer makes them.

    Args:
        text: a message normalized by :func:`preprocess` (the markers are added here).
        ngram_range: ``(min_n, max_n)``.

    Returns:
        Every n-gram occurrence (repeats included), tokens joined by single spaces.

    """
    tokens = _TOKEN.findall(mark_words(text))
    min_n, max_n = ngram_range
    grams: list[str] = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """The character n-grams inside word boundaries, as scikit-learn's ``char_wb`` analyzer makes them.

    Each whitespace-separated word is padded with one space on each side; a word shorter than ``n``
    gives its padded self once.

    Args:
        text: a message normalized by :func:`preprocess`.
        ngram_range: ``(min_n, max_n)``.

    Returns:
        Every n-gram occurrence (repeats included).

    """
    min_n, max_n = ngram_range
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        w = f" {word} "
        size = len(w)
        for n in range(min_n, max_n + 1):
            offset = 0
            grams.append(w[offset : offset + n])
            while offset + n < size:
                offset += 1
                grams.append(w[offset : offset + n])
            if offset == 0:
                break
    return grams


def as_matrix(scores: Any) -> np.ndarray:
    """Decision scores as shape ``(n, k)``; a binary linear model returns one column, for the second class."""
    arr = np.asarray(scores, dtype=float)
    if arr.ndim == 1:
        arr = np.column_stack([-arr, arr])
    return arr


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``.

    Args:
        scores: shape ``(n, k)``.
        temperature: ``T > 0``.

    Returns:
        Shape ``(n, k)``, rows summing to 1.

    """
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def embedding_block(embedder: Embedder, texts: Sequence[str], weight: float) -> np.ndarray:
    """Embed raw messages into the classifier's embedding feature block.

    Args:
        embedder: turns n texts into an array of shape ``(n, d)``.
        texts: the raw messages (not :func:`preprocess`-ed: the sentence model reads natural text).
        weight: factor applied after normalization; each TF-IDF block has unit norm, so 1.0 gives the
            embedding the same weight as each of them.

    Returns:
        Array of shape ``(n, d)``: each row L2-normalized (all-zero rows stay zero), times ``weight``.

    Raises:
        ValueError: if the embedder does not return one row per text.

    """
    vectors = np.asarray(embedder.embed(list(texts)), dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} texts; expected (n, d)")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(weight * vectors / np.where(norms > 0, norms, 1.0))


def embedding_views(
    embedder: Embedder, texts: Sequence[str], layers: Sequence[int]
) -> tuple[np.ndarray, ...]:
    """The sentence embedding and, when the embedder offers them, mean-pooled intermediate layers.

    Args:
        embedder: an embedder; one with an ``embed_layers(texts, layers)`` method (the MiniLM encoder,
            :meth:`leadgate.chat.nlu.minilm.MiniLMEmbedder.embed_layers`) also gives the layers.
        texts: the raw messages.
        layers: the intermediate layers wanted; ignored (no layer views) for an embedder without
            ``embed_layers``.

    Returns:
        ``(sentence, layer_1, ...)``: arrays of shape ``(n, d)`` with L2-normalized rows (zero rows stay
        zero); only ``(sentence,)`` when no layers are given or the embedder has no ``embed_layers``.

    Raises:
        ValueError: if the embedder does not return one row per text.

    """
    embed_layers = getattr(embedder, "embed_layers", None)
    if not layers or embed_layers is None:
        return (embedding_block(embedder, texts, 1.0),)
    stacked = np.asarray(embed_layers(list(texts), tuple(layers)), dtype=np.float64)
    if stacked.shape[:2] != (len(texts), 1 + len(layers)):
        raise ValueError(
            f"embedder returned shape {stacked.shape} for {len(texts)} texts and layers {layers}"
        )
    norms = np.linalg.norm(stacked, axis=2, keepdims=True)
    unit = stacked / np.where(norms > 0, norms, 1.0)
    return tuple(unit[:, j] for j in range(stacked.shape[1]))


def neighbour_blocks(
    views: Sequence[np.ndarray],
    memory: np.ndarray,
    memory_labels: np.ndarray,
    n_classes: int,
    k: int,
    weight: float,
    *,
    exclude_self: bool = False,
) -> list[np.ndarray]:
    """Nearest-neighbour similarity features: per view and intent, the mean cosine of the ``k`` closest examples.

    A k-nearest-neighbour vote (Cover and Hart, "Nearest neighbor pattern classification", IEEE Trans.
    Inf. Theory 13(1), 1967) made into one feature per class, so that the linear model can weigh it
    against the TF-IDF and embedding blocks. It lets a message that sits close to a few training
    examples of an intent count for that intent even where the intent's examples, taken together, lie
    on no hyperplane. ``k = 5`` and ``weight = 1`` were chosen by own-data cross-validation
    (docs/nlu.md, "Torch-free encoder"). Each view (the sentence vector, then each encoder layer) is
    compared with its own slice of the memory.

    Args:
        views: the messages' views, each ``(n, d)`` with L2-normalized rows.
        memory: ``(len(views), m, d)``: the training examples' views, L2-normalized, in the same order.
        memory_labels: ``(m,)`` integer class index of each training example, in ``[0, n_classes)``.
        n_classes: number of classes (columns of each result).
        k: neighbours averaged per class (a class with fewer examples averages all of them).
        weight: factor applied to the results.
        exclude_self: the views are the memory itself (the training matrix); each example's similarity
            to itself is left out, as it would be for an unseen message.

    Returns:
        One array of shape ``(n, n_classes)`` per view, values in ``[-weight, weight]``; a class without
        examples gets 0.

    Raises:
        ValueError: if the shapes do not agree or ``k < 1``.

    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(memory) != len(views):
        raise ValueError(f"shapes disagree: {len(views)} views but a memory of {len(memory)}")
    blocks = []
    for query, mem in zip(views, memory, strict=True):
        if mem.shape[0] != memory_labels.shape[0] or (len(query) and query.shape[1] != mem.shape[1]):
            raise ValueError(
                f"shapes disagree: query {query.shape}, memory {mem.shape}, labels {memory_labels.shape}"
            )
        if exclude_self and query.shape[0] != mem.shape[0]:
            raise ValueError("exclude_self needs the memory itself as the query")
        out = np.zeros((len(query), n_classes))
        if len(query):
            sims = np.asarray(query, dtype=np.float32) @ np.asarray(mem, dtype=np.float32).T
            if exclude_self:
                np.fill_diagonal(sims, -np.inf)
            for c in range(n_classes):
                cols = sims[:, memory_labels == c]
                top = min(k, cols.shape[1] - (1 if exclude_self else 0))
                if top < 1:
                    continue
                best = np.partition(cols, cols.shape[1] - top, axis=1)[:, -top:]
                out[:, c] = best.mean(axis=1)
        blocks.append(weight * out)
    return blocks


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """Find the softmax temperature that minimizes the log-loss of held-out decision scores.

    Temperature scaling after Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.

    Args:
        scores: decision scores, shape ``(n, k)``.
        labels: column index of each row's true class, shape ``(n,)``.

    Returns:
        ``T`` in [0.01, 100] (bounded search over ``log T``).

    """
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[rows, labels], 1e-12, None)).mean())

    result = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded")
    return float(np.exp(result.x))
