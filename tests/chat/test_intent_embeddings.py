"""Intent classifier with the optional sentence-embedding block, and the ``nlu_embeddings`` setting.

These tests run without PyTorch: the embedding path is exercised with a real, deterministic embedder
(hashed character n-grams), and the packaged model's availability is switched by monkeypatching
``leadgate.chat.nlu.intent._extra_installed`` (the check that imports nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from leadgate.chat.kb import EmbeddingsUnavailableError
from leadgate.chat.kb import embed as embed_module
from leadgate.chat.nlu import IntentClassifier, TrainingExample, load_training_examples
from leadgate.chat.nlu import intent as intent_module
from leadgate.chat.nlu.intent import (
    default_intent_classifier,
    embedding_block,
    preprocess,
    use_embeddings,
)
from leadgate.config import Settings

DIM = 64


class HashingEmbedder:
    """A real, deterministic embedder: hashed character 2-4-grams (no fitting, no model files)."""

    def __init__(self, dim: int = DIM, scale: float = 1.0) -> None:
        self.vectorizer = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), n_features=dim, alternate_sign=False, norm=None
        )
        self.scale = scale
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.seen.extend(texts)
        return np.asarray(self.scale * self.vectorizer.transform(list(texts)).toarray(), dtype=np.float32)


GREET = ("hi", "hello", "hey there", "good morning", "hiya", "hello friends")
BYE = ("bye", "goodbye", "see you", "farewell", "bye bye", "see you later")
PRICE = (
    "how much is it",
    "what does it cost",
    "pricing please",
    "price per seat",
    "is it expensive",
    "cost?",
)
SMALL = (
    [TrainingExample(t, "greet") for t in GREET]
    + [TrainingExample(t, "goodbye") for t in BYE]
    + [TrainingExample(t, "pricing") for t in PRICE]
)
PROBES = ["hello there", "bye for now", "how much does it cost?", "Mail jane@acme.com, 200 people"]


@pytest.fixture(scope="module")
def small_with_embeddings() -> IntentClassifier:
    return IntentClassifier(embedder=HashingEmbedder()).train(SMALL)


# --- the embedding block ----------------------------------------------------------------------------------


def test_embedding_block_normalizes_rows_scales_and_keeps_zero_rows() -> None:
    block = embedding_block(HashingEmbedder(), ["hello there", "x", ""], 2.0)
    assert block.shape == (3, DIM)
    np.testing.assert_allclose(np.linalg.norm(block[:2], axis=1), [2.0, 2.0])
    # An empty text hashes to no n-gram at all: its row stays zero instead of becoming NaN.
    assert not np.isnan(block).any() and np.all(block[2] == 0)


def test_embedding_block_rejects_a_wrong_shape() -> None:
    class OneRow:
        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            return np.ones((1, 4), dtype=np.float32)

    with pytest.raises(ValueError, match="expected"):
        embedding_block(OneRow(), ["a", "b"], 1.0)


# --- training and prediction with an embedder --------------------------------------------------------------


def test_embedding_features_are_appended_to_the_tfidf_features(
    small_with_embeddings: IntentClassifier,
) -> None:
    clf = small_with_embeddings
    assert clf.embedding_dim_ == DIM
    tfidf_width = sum(len(t.vocabulary_) for _, t in clf.pipeline_.named_steps["features"].transformer_list)
    assert clf.pipeline_.named_steps["model"].coef_.shape == (3, tfidf_width + DIM)
    proba = clf.predict_proba(PROBES)
    assert proba.shape == (len(PROBES), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert [clf.predict(t).name for t in PROBES[:3]] == ["greet", "goodbye", "pricing"]


def test_the_embedder_reads_raw_messages_not_preprocessed_ones() -> None:
    embedder = HashingEmbedder()
    clf = IntentClassifier(embedder=embedder).train(SMALL)
    assert embedder.seen == [e.text for e in SMALL]
    embedder.seen.clear()
    clf.predict(PROBES[3])
    assert embedder.seen == [PROBES[3]]
    assert preprocess(PROBES[3]) != PROBES[3]


def test_the_embedding_block_changes_the_scores() -> None:
    plain = IntentClassifier().train(SMALL)
    with_block = IntentClassifier(embedder=HashingEmbedder()).train(SMALL)
    assert plain.embedding_dim_ is None
    assert not np.allclose(plain.decision_scores(PROBES), with_block.decision_scores(PROBES))


def test_embedding_scale_does_not_matter_because_rows_are_normalized(
    small_with_embeddings: IntentClassifier,
) -> None:
    scaled = IntentClassifier(embedder=HashingEmbedder(scale=37.0)).train(SMALL)
    np.testing.assert_allclose(
        scaled.predict_proba(PROBES), small_with_embeddings.predict_proba(PROBES), rtol=1e-6, atol=1e-9
    )


def test_embedding_weight_scales_the_block() -> None:
    clf = IntentClassifier(embedder=HashingEmbedder(), embedding_weight=3.0)
    tfidf = sp.csr_matrix((2, 5))
    features = clf._features(["hello", "bye"], tfidf)
    np.testing.assert_allclose(sp.linalg.norm(features, axis=1), [3.0, 3.0])


def test_training_with_an_embedder_is_deterministic() -> None:
    a = IntentClassifier(embedder=HashingEmbedder()).train(SMALL)
    b = IntentClassifier(embedder=HashingEmbedder()).train(SMALL)
    assert a.temperature_ == b.temperature_
    np.testing.assert_array_equal(a.predict_proba(PROBES), b.predict_proba(PROBES))


def test_an_embedder_of_another_width_is_refused(small_with_embeddings: IntentClassifier) -> None:
    other = IntentClassifier(embedder=HashingEmbedder(dim=32))
    other.pipeline_ = small_with_embeddings.pipeline_
    other.intents_ = small_with_embeddings.intents_
    other.embedding_dim_ = small_with_embeddings.embedding_dim_
    with pytest.raises(ValueError, match="32-d vectors; this model was trained on 64-d"):
        other.predict("hello")


# --- persistence -------------------------------------------------------------------------------------------


def test_persist_and_load_with_the_same_embedder(
    small_with_embeddings: IntentClassifier, tmp_path: Path
) -> None:
    path = tmp_path / "intent.joblib"
    small_with_embeddings.persist(path)
    loaded = IntentClassifier.load(path, embedder=HashingEmbedder())
    assert loaded.embedding_dim_ == DIM and loaded.embedding_weight == 1.0
    np.testing.assert_array_equal(loaded.predict_proba(PROBES), small_with_embeddings.predict_proba(PROBES))


def test_load_refuses_a_missing_or_an_unexpected_embedder(
    small_with_embeddings: IntentClassifier, tmp_path: Path
) -> None:
    with_block = tmp_path / "with.joblib"
    small_with_embeddings.persist(with_block)
    with pytest.raises(ValueError, match="trained with 64-d sentence embeddings"):
        IntentClassifier.load(with_block)
    plain = tmp_path / "plain.joblib"
    IntentClassifier().train(SMALL).persist(plain)
    with pytest.raises(ValueError, match="trained without sentence embeddings"):
        IntentClassifier.load(plain, embedder=HashingEmbedder())


def test_format_1_files_without_an_embedding_block_still_load(tmp_path: Path) -> None:
    import joblib

    clf = IntentClassifier().train(SMALL)
    path = tmp_path / "old.joblib"
    clf.persist(path)
    payload = joblib.load(path)
    payload["format"] = 1
    del payload["embedding_dim"]
    del payload["params"]["embedding_weight"]
    joblib.dump(payload, path)
    loaded = IntentClassifier.load(path)
    assert loaded.embedder is None and loaded.embedding_dim_ is None
    np.testing.assert_array_equal(loaded.predict_proba(PROBES), clf.predict_proba(PROBES))


# --- the nlu_embeddings setting ------------------------------------------------------------------------------


def test_setting_defaults_to_auto_and_accepts_only_three_values() -> None:
    assert Settings().nlu_embeddings == "auto"
    assert Settings(nlu_embeddings="off").nlu_embeddings == "off"
    with pytest.raises(ValueError, match="nlu_embeddings"):
        Settings(nlu_embeddings="yes")


def test_use_embeddings_follows_the_mode_and_the_installed_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intent_module, "_extra_installed", lambda: True)
    assert use_embeddings("auto") and use_embeddings("on") and not use_embeddings("off")
    monkeypatch.setattr(intent_module, "_extra_installed", lambda: False)
    assert not use_embeddings("auto") and not use_embeddings("off")
    with pytest.raises(EmbeddingsUnavailableError, match=r"LEADGATE_NLU_EMBEDDINGS.*leadgate\[embeddings\]"):
        use_embeddings("on")
    with pytest.raises(ValueError, match="must be 'auto', 'off' or 'on'"):
        use_embeddings("maybe")  # type: ignore[arg-type]


def test_on_without_the_extra_fails_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intent_module, "_extra_installed", lambda: False)

    def no_training() -> None:
        raise AssertionError("must not train")

    monkeypatch.setattr(intent_module, "build_default_model", no_training)
    with pytest.raises(EmbeddingsUnavailableError, match="CUDA"):
        default_intent_classifier("on")


def test_auto_without_the_extra_is_the_plain_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intent_module, "_extra_installed", lambda: False)
    auto = default_intent_classifier("auto")
    assert auto is default_intent_classifier("off")
    assert auto.embedder is None and auto.embedding_dim_ is None


def test_default_mode_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from leadgate import config

    monkeypatch.setattr(intent_module, "_extra_installed", lambda: True)
    monkeypatch.setattr(config, "get_settings", lambda: Settings(nlu_embeddings="off"))
    assert default_intent_classifier() is default_intent_classifier("off")


def test_with_the_extra_the_default_model_uses_the_packaged_embedder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    embedder = HashingEmbedder()
    asked: list[str] = []

    def fake_require(purpose: str, device: str = "cpu") -> HashingEmbedder:
        asked.append(purpose)
        return embedder

    monkeypatch.setattr(intent_module, "_extra_installed", lambda: True)
    monkeypatch.setattr(embed_module, "require_default_embedder", fake_require)
    # The uncached builder, into its own cache, so that the shared default model of the other tests is left alone.
    clf, info = intent_module.build_default_model(use_embeddings("auto"), tmp_path)
    assert len(asked) == 1 and "LEADGATE_NLU_EMBEDDINGS" in asked[0]
    assert clf.embedder is embedder and clf.embedding_dim_ == DIM
    assert len(embedder.seen) == len(load_training_examples())
    assert info.built and info.path == tmp_path / "intent-embeddings.npz"
    assert clf.predict("can I get a demo next week?").name == "demo_request"


def test_require_default_embedder_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed_module, "embeddings_available", lambda: False)
    with pytest.raises(EmbeddingsUnavailableError, match=r"torch==<version>.*CUDA.*leadgate\[embeddings\]"):
        embed_module.require_default_embedder("the test")
    assert str(embed_module.missing_extra_error("X")).startswith("X needs the embeddings extra")


def test_the_extra_check_names_the_same_package_as_the_loader() -> None:
    assert intent_module._MODEL_PACKAGE == embed_module.MODEL_PACKAGE
