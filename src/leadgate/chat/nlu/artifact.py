"""The intent model as a build artifact: trained once, stored under a key, loaded in milliseconds.

The key is the SHA-256 of everything the trained model depends on (:func:`artifact_key`): the bytes of
every training-data file, the versions of scikit-learn, numpy and scipy, the source of leadgate's model
code (:data:`MODEL_CODE_MODULES`), the classifier's hyperparameters, and the embedder when there is one.
The model lives in ``<cache_dir>/intent-<variant>.npz`` (:class:`~leadgate.chat.nlu.compiled.CompiledIntentModel`,
no pickles) with its key inside; :meth:`ArtifactStore.load_or_build` returns it when the key matches and
otherwise trains, compiles and writes a new one:

- a missing file is built (logged at INFO);
- a stale file (another key) or a corrupt one (truncated, not a model) is rebuilt with a WARNING log,
  never an exception;
- writes go to a temporary file in the same directory, then ``os.replace``, so a reader sees the old file
  or the new one, never half of one;
- builders take an exclusive ``flock`` on ``intent-<variant>.lock`` (POSIX; elsewhere they just race), and
  a process that waited for the lock loads what the first one wrote instead of training again;
- a cache directory that cannot be written (read-only image) still gives a model: it is trained in
  memory and a WARNING says why nothing was stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadgate.chat.nlu.compiled import CompiledIntentModel, CompiledModelError
from leadgate.chat.nlu.data import DEFAULT_DATA_RESOURCE, TrainingExample, parse_nlu_data, public_data_files

if TYPE_CHECKING:
    from leadgate.chat.kb.retrieval import Embedder

log = logging.getLogger(__name__)

MODEL_CODE_MODULES: tuple[str, ...] = (
    "leadgate.chat.nlu.data",
    "leadgate.chat.nlu.features",
    "leadgate.chat.nlu.model",
    "leadgate.chat.nlu.compiled",
    "leadgate.chat.nlu.artifact",
    "leadgate.chat.nlu.minilm",
)
"""Modules whose source is part of the key: a change to the parsing of the training files, the featurization, the embedding, the
training or the compiled format retrains the model (so does any other edit of these files, which costs
one retraining)."""


@dataclass(frozen=True)
class TrainingSource:
    """The files a model is trained from.

    Attributes:
        main: the labelled training data (``nlu.yml`` format) as ``(label, bytes)``.
        extra: further example files (``nlu_public/*.yml``) as ``(label, bytes)``, in a fixed order.

    """

    main: tuple[str, bytes]
    extra: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def shipped(cls) -> TrainingSource:
        """The training data shipped in the package: ``chat/data/nlu.yml`` and ``chat/data/nlu_public/*.yml``."""
        root = resources.files("leadgate.chat")
        main = (DEFAULT_DATA_RESOURCE, root.joinpath(DEFAULT_DATA_RESOURCE).read_bytes())
        extra = tuple((name, root.joinpath(name).read_bytes()) for name in public_data_files())
        return cls(main, extra)

    @classmethod
    def from_files(cls, main: Path | str, extra: Sequence[Path | str] = ()) -> TrainingSource:
        """Training data from files (for tests and custom deployments)."""
        return cls(
            (str(main), Path(main).read_bytes()),
            tuple((str(p), Path(p).read_bytes()) for p in extra),
        )

    def digests(self) -> list[list[str]]:
        """``[label, sha256 hex]`` of every file, main first."""
        return [[label, hashlib.sha256(data).hexdigest()] for label, data in (self.main, *self.extra)]

    def examples(self) -> list[TrainingExample]:
        """All labelled examples: the main file's, then each extra file's."""
        from leadgate.chat.nlu.data import parse_example_file

        label, data = self.main
        out = list(parse_nlu_data(data.decode("utf-8"), source=label).examples)
        for extra_label, extra_data in self.extra:
            out.extend(parse_example_file(extra_data.decode("utf-8"), source=extra_label))
        return out


def _code_digest() -> str:
    h = hashlib.sha256()
    for name in MODEL_CODE_MODULES:
        package, _, module = name.rpartition(".")
        h.update(resources.files(package).joinpath(f"{module}.py").read_bytes())
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a trained model depends on (read from package metadata, nothing imported)."""
    from importlib.metadata import version

    return {name: version(name) for name in ("scikit-learn", "numpy", "scipy")}


def artifact_key(source: TrainingSource, params: dict[str, Any], embedder_id: str | None) -> str:
    """The cache key of a model: SHA-256 (hex) over its data, libraries, code and hyperparameters.

    Args:
        source: the training files (their bytes are hashed, not their names' contents on disk later).
        params: the classifier's hyperparameters.
        embedder_id: a name of the sentence embedder, or None for the plain TF-IDF model.

    Returns:
        64 hex characters.

    """
    facts = {
        "data": [digest for _, digest in source.digests()],
        "libraries": library_versions(),
        "code": _code_digest(),
        "params": params,
        "embedder": embedder_id,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=list).encode()).hexdigest()


@dataclass(frozen=True)
class BuildInfo:
    """What :meth:`ArtifactStore.load_or_build` did.

    Attributes:
        path: the model file.
        key: its cache key.
        built: True when the model was trained in this call, False when it was loaded.
        seconds: wall-clock time of the call.
        stored: False when the model could not be written (it is still returned).
        reason: ``"loaded"``, ``"missing"``, ``"stale"``, ``"corrupt"`` or ``"forced"``.

    """

    path: Path
    key: str
    built: bool
    seconds: float
    stored: bool
    reason: str


class ArtifactStore:
    """Cache directory of compiled intent models.

    Args:
        cache_dir: where the models are kept (created when needed).

    """

    def __init__(self, cache_dir: Path | str) -> None:
        self.cache_dir = Path(cache_dir).expanduser()

    def path_for(self, variant: str) -> Path:
        """The model file of a variant (``tfidf`` or ``embeddings``)."""
        return self.cache_dir / f"intent-{variant}.npz"

    @contextlib.contextmanager
    def _lock(self, variant: str) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: builders may race, os.replace keeps files whole
            yield
            return
        with open(self.cache_dir / f"intent-{variant}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _try_load(
        self, path: Path, key: str, embedder: Embedder | None, *, quiet: bool = False
    ) -> tuple[CompiledIntentModel | None, str]:
        if not path.exists():
            return None, "missing"
        try:
            model = CompiledIntentModel.load(path, embedder=embedder)
        except (CompiledModelError, OSError) as exc:
            if not quiet:
                log.warning("intent model %s is corrupt (%s); rebuilding it", path, exc)
            return None, "corrupt"
        found = model.metadata.get("key")
        if found != key:
            if not quiet:
                log.warning(
                    "intent model %s is stale (key %s, expected %s: training data, libraries or code changed); rebuilding it",
                    path,
                    str(found)[:12],
                    key[:12],
                )
            return None, "stale"
        return model, "loaded"

    def _write(self, model: CompiledIntentModel, path: Path) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; a cache built at setup is read by the service's user
            with os.fdopen(fd, "wb") as fh:
                model.save(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load_or_build(
        self,
        source: TrainingSource,
        *,
        variant: str = "tfidf",
        embedder: Embedder | None = None,
        embedder_id: str | None = None,
        force: bool = False,
        classifier_params: dict[str, Any] | None = None,
    ) -> tuple[CompiledIntentModel, BuildInfo]:
        """Return the stored model for ``source``, training and storing it first when needed.

        Args:
            source: the training data.
            variant: file name part; one file per variant is kept.
            embedder: sentence embedder of the embedding block, or None.
            embedder_id: its name in the key (required with an embedder).
            force: rebuild even when a valid model is stored.
            classifier_params: hyperparameters for :class:`~leadgate.chat.nlu.model.IntentClassifier`
                (None: its defaults).

        Returns:
            The model and a :class:`BuildInfo`.

        Raises:
            NLUDataError: if the training data is malformed.

        """
        from leadgate.chat.nlu.model import IntentClassifier

        started = time.perf_counter()
        params = IntentClassifier(**(classifier_params or {}))._params()
        key = artifact_key(source, params, embedder_id)
        path = self.path_for(variant)
        if not force:
            model, reason = self._try_load(path, key, embedder)
            if model is not None:
                return model, BuildInfo(path, key, False, time.perf_counter() - started, True, reason)
        else:
            reason = "forced"
        with contextlib.ExitStack() as stack:
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                stack.enter_context(self._lock(variant))
            except OSError as exc:
                log.warning(
                    "cannot use the NLU cache directory %s (%s); training in memory", self.cache_dir, exc
                )
                model = self._train(source, params, embedder, key)
                return model, BuildInfo(path, key, True, time.perf_counter() - started, False, reason)
            if not force:
                again, _ = self._try_load(path, key, embedder, quiet=True)
                if again is not None:  # another process built it while this one waited for the lock
                    return again, BuildInfo(path, key, False, time.perf_counter() - started, True, "loaded")
            log.info("training the intent model (%s) into %s", reason, path)
            model = self._train(source, params, embedder, key)
            stored = True
            try:
                self._write(model, path)
            except OSError as exc:
                stored = False
                log.warning("could not store the intent model in %s (%s); it lives in memory only", path, exc)
            return model, BuildInfo(path, key, True, time.perf_counter() - started, stored, reason)

    @staticmethod
    def _train(
        source: TrainingSource, params: dict[str, Any], embedder: Embedder | None, key: str
    ) -> CompiledIntentModel:
        from leadgate.chat.nlu.model import IntentClassifier

        classifier = IntentClassifier(**params, embedder=embedder).train(source.examples())
        return CompiledIntentModel.from_classifier(
            classifier, metadata={"key": key, "data": source.digests(), "libraries": library_versions()}
        )
