"""The intent model compiled for prediction: numpy arrays and two vocabularies, no scikit-learn.

Loading a pickled scikit-learn pipeline costs about 1.5 s of imports on the 2-core machine, more than
half of the 2 s that ``leadgate nlu parse`` may take from a cold start (issue 10, item 6). A trained
:class:`~leadgate.chat.nlu.model.IntentClassifier` is therefore compiled into the few arrays its
prediction needs: for each TF-IDF block its vocabulary and IDF weights, then the SVM's coefficients and
intercepts, the class names and the softmax temperature. :meth:`CompiledIntentModel.save` writes them
as one ``.npz`` file without pickles (``allow_pickle=False`` on reading, so a file cannot run code), and
:meth:`CompiledIntentModel.load` reads it in tens of milliseconds.

Prediction reproduces scikit-learn's ``TfidfVectorizer.transform`` (counts of in-vocabulary n-grams,
``1 + log(tf)``, times IDF, L2-normalized per block) and ``LinearSVC.decision_function``; the same
temperature-scaled softmax turns scores into probabilities.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from leadgate.chat.nlu.features import (
    as_matrix,
    char_wb_ngrams,
    embedding_views,
    neighbour_blocks,
    preprocess,
    softmax,
    word_ngrams,
)
from leadgate.chat.nlu.model import IntentClassifier, IntentPrediction, IntentScore

if TYPE_CHECKING:
    from leadgate.chat.kb.retrieval import Embedder

COMPILED_FORMAT = 2
"""Version of the ``.npz`` layout written by :meth:`CompiledIntentModel.save` (2 adds the neighbour memory;
a file of format 1 is refused, and the artifact store retrains)."""


class CompiledModelError(ValueError):
    """A file is not a compiled leadgate intent model of a format this code reads."""


class _Block:
    """One TF-IDF block: n-gram function, vocabulary (term -> column) and IDF weights."""

    def __init__(
        self, kind: str, ngram_range: tuple[int, int], terms: Sequence[str], idf: np.ndarray
    ) -> None:
        self.kind = kind
        self.ngram_range = ngram_range
        self.terms = list(terms)
        self.vocabulary = {term: i for i, term in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=np.float64)

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and L2-normalized TF-IDF values of one preprocessed text."""
        grams = (
            word_ngrams(text, self.ngram_range)
            if self.kind == "word"
            else char_wb_ngrams(text, self.ngram_range)
        )
        counts = Counter(g for g in grams if g in self.vocabulary)
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        index = np.fromiter((self.vocabulary[g] for g in counts), dtype=np.intp, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts))
        values = tf * self.idf[index]
        norm = float(np.sqrt(np.dot(values, values)))
        return index, values / norm if norm > 0 else values


class CompiledIntentModel:
    """A trained intent classifier reduced to numpy arrays (predict only; no scikit-learn import).

    Build one with :meth:`from_classifier`, keep it with :meth:`save` / :meth:`load`. It answers like
    the :class:`~leadgate.chat.nlu.model.IntentClassifier` it was compiled from: the same intents, and
    probabilities equal up to floating-point summation order (about 1e-15).

    Attributes:
        intents_: the classes, in the column order of :meth:`predict_proba`.
        temperature_: the softmax temperature.
        embedding_dim_: width of the embedding block (None without one).
        embedder: the sentence embedder for the embedding block (not saved; pass it to :meth:`load`).
        embedding_weight: scale of the embedding block.
        layers: the embedder's intermediate layers that are embedding blocks after the sentence block.
        neighbours: ``k`` of the neighbour block (0: no such block).
        neighbour_weight: scale of the neighbour block.
        metadata: free-form facts saved with the model (the artifact store keeps its cache key there).

    """

    def __init__(
        self,
        *,
        blocks: Sequence[_Block],
        coef: np.ndarray,
        intercept: np.ndarray,
        intents: Sequence[str],
        temperature: float,
        embedding_dim: int | None = None,
        embedding_weight: float = 1.0,
        embedder: Embedder | None = None,
        layers: Sequence[int] = (),
        neighbours: int = 0,
        neighbour_weight: float = 1.0,
        memory: np.ndarray | None = None,
        memory_labels: np.ndarray | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._blocks = list(blocks)
        self._coef = np.asarray(coef, dtype=np.float64)
        self._intercept = np.asarray(intercept, dtype=np.float64)
        self.intents_ = tuple(intents)
        self.temperature_ = float(temperature)
        self.embedding_dim_ = embedding_dim
        self.embedding_weight = embedding_weight
        self.embedder = embedder
        self.layers = tuple(int(layer) for layer in layers)
        self.neighbours = int(neighbours)
        self.neighbour_weight = float(neighbour_weight)
        self._memory = None if memory is None else np.asarray(memory, dtype=np.float32)
        self._memory_labels = None if memory_labels is None else np.asarray(memory_labels, dtype=np.int32)
        self.metadata: dict[str, Any] = dict(metadata or {})
        offsets = [0]
        for block in self._blocks:
            offsets.append(offsets[-1] + len(block.terms))
        self._offsets = offsets
        if self.neighbours and (embedding_dim is None or self._memory is None or self._memory_labels is None):
            raise CompiledModelError("a neighbour block needs an embedding block and the training memory")
        views = 1 + len(self.layers)
        if (
            self._memory is not None
            and self._memory_labels is not None
            and (self._memory.shape != (views, len(self._memory_labels), embedding_dim))
        ):
            raise CompiledModelError(
                f"neighbour memory of shape {self._memory.shape}; expected ({views}, "
                f"{len(self._memory_labels)}, {embedding_dim})"
            )
        if self.layers and embedding_dim is None:
            raise CompiledModelError("layer blocks need an embedding block")
        per_view = (embedding_dim or 0) + (len(self.intents_) if self.neighbours else 0)
        width = offsets[-1] + (per_view * views if embedding_dim else 0)
        if self._coef.ndim != 2 or self._coef.shape[1] != width:
            raise CompiledModelError(f"coefficients of shape {self._coef.shape}; expected (k, {width})")
        if embedding_dim is not None and embedder is None:
            raise CompiledModelError(
                f"trained with {embedding_dim}-d sentence embeddings; pass the same embedder"
            )
        if embedding_dim is None and embedder is not None:
            raise CompiledModelError("trained without sentence embeddings; load it without an embedder")

    @classmethod
    def from_classifier(
        cls, classifier: IntentClassifier, metadata: Mapping[str, Any] | None = None
    ) -> CompiledIntentModel:
        """Compile a trained classifier.

        Args:
            classifier: a trained :class:`~leadgate.chat.nlu.model.IntentClassifier`.
            metadata: facts to save with the model (JSON-serializable).

        Returns:
            The compiled model (it shares the classifier's embedder).

        Raises:
            RuntimeError: if the classifier is not trained.

        """
        if not classifier.is_trained:
            raise RuntimeError("IntentClassifier is not trained: call train() or load() first")
        features = classifier.pipeline_.named_steps["features"]
        model = classifier.pipeline_.named_steps["model"]
        blocks = []
        for name, vectorizer in features.transformer_list:
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            kind = "word" if name == "word" else "char_wb"
            blocks.append(_Block(kind, tuple(vectorizer.ngram_range), terms, vectorizer.idf_))
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
        return cls(
            blocks=blocks,
            coef=coef,
            intercept=intercept,
            intents=classifier.intents_,
            temperature=classifier.temperature_,
            embedding_dim=classifier.embedding_dim_,
            embedding_weight=classifier.embedding_weight,
            embedder=classifier.embedder,
            layers=classifier.layers_,
            neighbours=classifier.neighbours if classifier.memory_ is not None else 0,
            neighbour_weight=classifier.neighbour_weight,
            memory=classifier.memory_,
            memory_labels=classifier.memory_labels_,
            metadata=metadata,
        )

    @property
    def is_trained(self) -> bool:
        """Always True: a compiled model is made from a trained one."""
        return True

    @property
    def vocabularies(self) -> dict[str, dict[str, int]]:
        """Each TF-IDF block's vocabulary (term -> column within the block), by kind (``word``, ``char_wb``)."""
        return {block.kind: block.vocabulary for block in self._blocks}

    def decision_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Return the linear model's decision scores (before temperature scaling).

        Args:
            texts: raw messages.

        Returns:
            Array of shape ``(len(texts), len(self.intents_))``; columns follow ``self.intents_``.

        Raises:
            ValueError: if the embedder's vectors do not have the width the model was trained on.

        """
        out = np.empty((len(texts), self._coef.shape[0]))
        for row, text in enumerate(texts):
            clean = preprocess(text)
            score = self._intercept.copy()
            for block, offset in zip(self._blocks, self._offsets, strict=False):
                index, values = block.vector(clean)
                if len(index):
                    score += self._coef[:, offset + index] @ values
            out[row] = score
        if self.embedder is not None and self.embedding_dim_ is not None and len(texts):
            views = embedding_views(self.embedder, texts, self.layers)
            unit = views[0]
            if unit.shape[1] != self.embedding_dim_ or len(views) != 1 + len(self.layers):
                raise ValueError(
                    f"the embedder gives {len(views)} views of {unit.shape[1]}-d vectors; this model was "
                    f"trained on {1 + len(self.layers)} of {self.embedding_dim_}-d"
                )
            end = self._offsets[-1]
            for view in views:
                start, end = end, end + self.embedding_dim_
                out += self.embedding_weight * view @ self._coef[:, start:end].T
            if self.neighbours and self._memory is not None and self._memory_labels is not None:
                near = neighbour_blocks(
                    views,
                    self._memory,
                    self._memory_labels,
                    len(self.intents_),
                    self.neighbours,
                    self.neighbour_weight,
                )
                for near_block in near:
                    start, end = end, end + len(self.intents_)
                    out += near_block @ self._coef[:, start:end].T
        return as_matrix(out[:, 0]) if self._coef.shape[0] == 1 else out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return class probabilities, shape ``(len(texts), len(self.intents_))``, rows summing to 1."""
        return softmax(self.decision_scores(texts), self.temperature_)

    def _prediction(self, row: np.ndarray) -> IntentPrediction:
        order = np.argsort(-row, kind="stable")
        ranking = tuple(IntentScore(self.intents_[i], float(row[i])) for i in order)
        return IntentPrediction(ranking[0].name, ranking[0].confidence, ranking)

    def predict(self, text: str) -> IntentPrediction:
        """Classify one message: ``(intent, confidence, ranking)``; see :class:`IntentPrediction`."""
        return self._prediction(self.predict_proba([text])[0])

    def predict_many(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """Classify many messages; one :class:`IntentPrediction` per message, in order."""
        if not texts:
            return []
        return [self._prediction(row) for row in self.predict_proba(texts)]

    def save(self, file: IO[bytes] | Path | str) -> None:
        """Write the model as an uncompressed ``.npz`` (no pickled objects).

        Args:
            file: an open binary file, or a path (written as given, no ``.npz`` suffix is added).

        """
        header = {
            "format": COMPILED_FORMAT,
            "intents": list(self.intents_),
            "temperature": self.temperature_,
            "embedding_dim": self.embedding_dim_,
            "embedding_weight": self.embedding_weight,
            "layers": list(self.layers),
            "neighbours": self.neighbours,
            "neighbour_weight": self.neighbour_weight,
            "blocks": [{"kind": b.kind, "ngram_range": list(b.ngram_range)} for b in self._blocks],
            "metadata": self.metadata,
        }
        arrays: dict[str, np.ndarray] = {
            "header": np.array(json.dumps(header, sort_keys=True)),
            "coef": self._coef,
            "intercept": self._intercept,
        }
        for i, block in enumerate(self._blocks):
            arrays[f"terms_{i}"] = np.array(block.terms, dtype=str)
            arrays[f"idf_{i}"] = block.idf
        if self._memory is not None and self._memory_labels is not None:
            arrays["memory"] = self._memory
            arrays["memory_labels"] = self._memory_labels
        if isinstance(file, str | Path):
            with open(file, "wb") as fh:
                np.savez(fh, allow_pickle=False, **arrays)
        else:
            np.savez(file, allow_pickle=False, **arrays)

    @classmethod
    def load(cls, path: Path | str, embedder: Embedder | None = None) -> CompiledIntentModel:
        """Read a model written by :meth:`save`.

        Args:
            path: the file.
            embedder: the embedder the model was trained with; required exactly when it had one.

        Returns:
            The model.

        Raises:
            CompiledModelError: if the file is not a compiled intent model of :data:`COMPILED_FORMAT`,
                is truncated or inconsistent, or the embedder does not fit.
            OSError: if the file cannot be read.

        """
        try:
            with open(Path(path), "rb") as fh, np.load(fh, allow_pickle=False) as npz:
                header = json.loads(str(npz["header"]))
                if not isinstance(header, dict) or header.get("format") != COMPILED_FORMAT:
                    raise CompiledModelError(
                        f"{path}: not a compiled leadgate intent model (format {COMPILED_FORMAT})"
                    )
                blocks = [
                    _Block(
                        spec["kind"], tuple(spec["ngram_range"]), npz[f"terms_{i}"].tolist(), npz[f"idf_{i}"]
                    )
                    for i, spec in enumerate(header["blocks"])
                ]
                coef = npz["coef"]
                intercept = npz["intercept"]
                memory = npz["memory"] if "memory" in npz.files else None
                memory_labels = npz["memory_labels"] if "memory_labels" in npz.files else None
        except CompiledModelError:
            raise
        except OSError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, KeyError, ValueError, EOFError...: a damaged file
            raise CompiledModelError(
                f"{path}: unreadable compiled intent model ({type(exc).__name__}: {exc})"
            ) from exc
        dim = header.get("embedding_dim")
        return cls(
            blocks=blocks,
            coef=coef,
            intercept=intercept,
            intents=header["intents"],
            temperature=header["temperature"],
            embedding_dim=None if dim is None else int(dim),
            embedding_weight=float(header.get("embedding_weight", 1.0)),
            embedder=embedder,
            layers=tuple(header.get("layers", ())),
            neighbours=int(header.get("neighbours", 0)),
            neighbour_weight=float(header.get("neighbour_weight", 1.0)),
            memory=memory,
            memory_labels=memory_labels,
            metadata=header.get("metadata") or {},
        )
