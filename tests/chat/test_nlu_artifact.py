"""The intent model as an artifact: cache key, stale and corrupt files, concurrent builders, the compiled
model's fidelity, and ``leadgate nlu build``.

Every test trains on a small slice of the shipped data (the first examples of each intent) in its own
temporary directory, so nothing touches the user's cache or the session's shared model.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from leadgate import cli_nlu
from leadgate.chat.nlu import artifact as artifact_module
from leadgate.chat.nlu.artifact import ArtifactStore, TrainingSource, artifact_key
from leadgate.chat.nlu.compiled import CompiledIntentModel, CompiledModelError
from leadgate.chat.nlu.data import DEFAULT_DATA_RESOURCE, TrainingExample
from leadgate.chat.nlu.features import char_wb_ngrams, word_ngrams
from leadgate.chat.nlu.model import IntentClassifier

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "src" / "leadgate" / "chat" / DEFAULT_DATA_RESOURCE

PROBES = [
    "hey, anyone around?",
    "how much would 40 seats cost us per year",
    "Can sombody show me a demo next tuesday??",
    "we're ~250 ppl, budget maybe 30k",
    "my login keeps failing since the update",
    "nope",
    "yes that's right",
    "thanks, gotta go",
    "are you guys hiring backend engineers?",
    "BUY CHEAP FOLLOWERS www.cheap-followers.biz",
    "put me through to a real person please",
    "what's the capital of Peru",
    "does it integrate with Salesforce and HubSpot?",
    "jane.doe@corvex.io",
    "👍",
    "  spaced   out    text  ",
    "",
]


def _small_yaml(per_intent: int = 25) -> str:
    """The shipped nlu.yml cut to its first ``per_intent`` examples per intent (roles kept)."""
    doc = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for block in doc["nlu"]:
        lines = [ln for ln in block["examples"].splitlines() if ln.strip()]
        block["examples"] = "\n".join(lines[:per_intent]) + "\n"
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def small_text() -> str:
    return _small_yaml()


@pytest.fixture
def small_data(tmp_path: Path, small_text: str) -> Path:
    path = tmp_path / "data" / "nlu.yml"
    path.parent.mkdir()
    path.write_text(small_text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_classifier(small_text: str, tmp_path_factory: pytest.TempPathFactory) -> IntentClassifier:
    path = tmp_path_factory.mktemp("small") / "nlu.yml"
    path.write_text(small_text, encoding="utf-8")
    return IntentClassifier().train(TrainingSource.from_files(path).examples())


# --- the key ---------------------------------------------------------------------------------------------


def test_key_changes_when_the_training_data_changes(small_data: Path, tmp_path: Path) -> None:
    params = IntentClassifier()._params()
    key = artifact_key(TrainingSource.from_files(small_data), params, None)
    assert key == artifact_key(TrainingSource.from_files(small_data), params, None)
    assert len(key) == 64
    changed = tmp_path / "changed.yml"
    changed.write_text(small_data.read_text(encoding="utf-8").replace("- ", "- well, ", 1), encoding="utf-8")
    assert artifact_key(TrainingSource.from_files(changed), params, None) != key
    extra = tmp_path / "extra.yml"
    extra.write_text("nlu:\n- intent: greet\n  examples: |\n    - howdy partner\n", encoding="utf-8")
    assert artifact_key(TrainingSource.from_files(small_data, [extra]), params, None) != key
    assert artifact_key(TrainingSource.from_files(small_data), {**params, "C": 0.5}, None) != key
    assert artifact_key(TrainingSource.from_files(small_data), params, "some-embedder==1.0") != key


def test_key_changes_with_library_versions(small_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = TrainingSource.from_files(small_data)
    params = IntentClassifier()._params()
    key = artifact_key(source, params, None)
    monkeypatch.setattr(
        artifact_module, "library_versions", lambda: {"scikit-learn": "0.0", "numpy": "0.0", "scipy": "0.0"}
    )
    assert artifact_key(source, params, None) != key


# --- build, load, stale, corrupt -------------------------------------------------------------------------


def test_built_once_then_loaded(small_data: Path, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    source = TrainingSource.from_files(small_data)
    built, first = store.load_or_build(source)
    assert first.built and first.reason == "missing" and first.stored
    assert first.path == tmp_path / "cache" / "intent-tfidf.npz" and first.path.is_file()
    loaded, second = store.load_or_build(source)
    assert not second.built and second.reason == "loaded" and second.key == first.key
    np.testing.assert_array_equal(loaded.predict_proba(PROBES[:-1]), built.predict_proba(PROBES[:-1]))
    assert [p for p in first.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_stale_file_is_rebuilt_with_a_warning(
    small_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ArtifactStore(tmp_path / "cache")
    _, old = store.load_or_build(TrainingSource.from_files(small_data))
    small_data.write_text(_small_yaml(per_intent=26), encoding="utf-8")  # one more example per intent
    with caplog.at_level(logging.WARNING, logger=artifact_module.__name__):
        model, new = store.load_or_build(TrainingSource.from_files(small_data))
    assert new.built and new.reason == "stale" and new.key != old.key
    assert any("stale" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert CompiledIntentModel.load(new.path).metadata["key"] == new.key
    assert model.metadata["key"] == new.key


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # half-written
        lambda p: p.write_bytes(b""),
        lambda p: p.write_text("not a model at all", encoding="utf-8"),
        lambda p: _write_npz(p, header=np.array('{"format": 99}')),  # another format
    ],
    ids=["truncated", "empty", "text", "other-format"],
)
def test_a_corrupt_file_is_rebuilt_with_a_warning(
    damage: object, small_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ArtifactStore(tmp_path / "cache")
    source = TrainingSource.from_files(small_data)
    good, info = store.load_or_build(source)
    damage(info.path)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger=artifact_module.__name__):
        model, again = store.load_or_build(source)
    assert again.built and again.reason == "corrupt" and again.stored
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(model.predict_proba(PROBES[:-1]), good.predict_proba(PROBES[:-1]))
    assert CompiledIntentModel.load(info.path).metadata["key"] == info.key


def test_an_unwritable_cache_still_gives_a_model(
    small_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    store = ArtifactStore(blocker / "cache")  # a directory under a file cannot be created
    with caplog.at_level(logging.WARNING, logger=artifact_module.__name__):
        model, info = store.load_or_build(TrainingSource.from_files(small_data))
    assert info.built and not info.stored
    assert model.predict("hello there, good morning").name == "greet"
    assert any("in memory" in r.getMessage() for r in caplog.records)


def test_force_rebuilds_a_current_model(small_data: Path, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    source = TrainingSource.from_files(small_data)
    store.load_or_build(source)
    _, info = store.load_or_build(source, force=True)
    assert info.built and info.reason == "forced"


_BUILDER = """
import sys, time
from leadgate.chat.nlu.artifact import ArtifactStore, TrainingSource
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
model, info = ArtifactStore(sys.argv[1]).load_or_build(TrainingSource.from_files(sys.argv[2]))
print(info.built, info.key, model.predict("can I book a demo for next week?").name)
"""


def test_two_processes_building_at_once_leave_one_valid_file(small_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    start = time.time() + 2.0  # both start training at the same moment, after their imports
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILDER, str(cache), str(small_data), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    results = [out.split() for out, _ in outputs]
    assert sorted(r[0] for r in results) == ["False", "True"]  # one trained, the other waited and loaded
    assert results[0][1] == results[1][1]
    assert {r[2] for r in results} == {"demo_request"}
    files = sorted(p.name for p in cache.iterdir())
    assert files == ["intent-tfidf.lock", "intent-tfidf.npz"]
    assert CompiledIntentModel.load(cache / "intent-tfidf.npz").metadata["key"] == results[0][1]


# --- the compiled model ----------------------------------------------------------------------------------


def test_compiled_model_predicts_exactly_as_the_trained_one(
    small_classifier: IntentClassifier, tmp_path: Path
) -> None:
    compiled = CompiledIntentModel.from_classifier(small_classifier)
    path = tmp_path / "m.npz"
    compiled.save(path)
    loaded = CompiledIntentModel.load(path)
    texts = [*PROBES, *(e for e in (p.upper() for p in PROBES) if e)]
    expected = small_classifier.predict_proba(texts)
    for model in (compiled, loaded):
        got = model.predict_proba(texts)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            model.decision_scores(texts), small_classifier.decision_scores(texts), rtol=0, atol=1e-12
        )
        assert [p.name for p in model.predict_many(texts)] == [
            p.name for p in small_classifier.predict_many(texts)
        ]
    assert loaded.intents_ == small_classifier.intents_
    assert loaded.temperature_ == small_classifier.temperature_


def test_compiled_two_class_model_matches(tmp_path: Path) -> None:
    examples = [TrainingExample(t, "greet") for t in ("hi", "hello", "hey there", "good morning")] + [
        TrainingExample(t, "goodbye") for t in ("bye", "goodbye", "see you", "farewell, friends")
    ]
    clf = IntentClassifier().train(examples)
    compiled = CompiledIntentModel.from_classifier(clf)
    texts = ["hello friends", "bye now", "zzz"]
    np.testing.assert_allclose(compiled.predict_proba(texts), clf.predict_proba(texts), rtol=0, atol=1e-12)


def test_analyzers_match_scikit_learn(small_classifier: IntentClassifier) -> None:
    from leadgate.chat.nlu.features import preprocess

    word, char = (t for _, t in small_classifier.pipeline_.named_steps["features"].transformer_list)
    word_analyzer, char_analyzer = word.build_analyzer(), char.build_analyzer()
    for text in [*PROBES, "a", "ab", "x y", "tabs\tand\nnewlines", "naïve café ünïcödé"]:
        clean = preprocess(text)
        assert word_ngrams(clean, word.ngram_range) == word_analyzer(clean)
        assert char_wb_ngrams(clean, char.ngram_range) == char_analyzer(clean)


def test_compiled_load_refuses_a_file_of_another_kind(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    _write_npz(path, coef=np.zeros((2, 2)))
    with pytest.raises(CompiledModelError, match="unreadable"):
        CompiledIntentModel.load(path)
    with pytest.raises(FileNotFoundError):
        CompiledIntentModel.load(tmp_path / "missing.npz")


def test_compiled_file_holds_no_pickles(small_classifier: IntentClassifier, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    CompiledIntentModel.from_classifier(small_classifier).save(path)
    with np.load(path, allow_pickle=False) as npz:  # raises if any array needed pickle
        assert {"header", "coef", "intercept", "terms_0", "idf_0", "terms_1", "idf_1"} <= set(npz.files)
        assert all(npz[name].dtype != object for name in npz.files)


# --- the CLI ---------------------------------------------------------------------------------------------


def test_leadgate_nlu_build(small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TrainingSource, "shipped", classmethod(lambda cls: cls.from_files(small_data)))
    runner = CliRunner()
    cache = tmp_path / "cli-cache"
    first = runner.invoke(cli_nlu.nlu_app, ["build", "--cache-dir", str(cache)])
    assert first.exit_code == 0, first.output
    lines = dict(line.split(": ", 1) for line in first.output.strip().splitlines())
    # the default install has the all-MiniLM-L6-v2 weights (scripts/setup.sh), so `auto` takes them
    assert lines["path"] == str(cache / "intent-embeddings.npz")
    assert len(lines["key"]) == 64 and lines["status"] == "built (missing)"
    assert float(lines["seconds"]) > 0 and lines["intents"] == "13"
    second = runner.invoke(cli_nlu.nlu_app, ["build", "--cache-dir", str(cache)])
    assert second.exit_code == 0 and "status: current (loaded)" in second.output
    assert f"key: {lines['key']}" in second.output
    forced = runner.invoke(cli_nlu.nlu_app, ["build", "--cache-dir", str(cache), "--force"])
    assert forced.exit_code == 0 and "status: built (forced)" in forced.output


def test_cache_dir_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from leadgate.config import Settings, default_nlu_cache_dir

    # The test session's own cache (tests/conftest.py) is never the user's home cache.
    assert not str(Settings().nlu_cache_dir).startswith(str(Path.home() / ".cache"))
    monkeypatch.setenv("LEADGATE_NLU_CACHE_DIR", str(tmp_path / "x"))
    assert Settings().nlu_cache_dir == tmp_path / "x"
    monkeypatch.delenv("LEADGATE_NLU_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings().nlu_cache_dir == default_nlu_cache_dir()
    if importlib.util.find_spec("platformdirs") is None:
        assert default_nlu_cache_dir() == tmp_path / "xdg" / "leadgate" / "nlu"
    assert default_nlu_cache_dir().parts[-2:] == ("leadgate", "nlu")
