"""The trainable intent classifier: TF-IDF word and character n-grams into a linear SVM, temperature-scaled.

A component in the Rasa style: :meth:`IntentClassifier.train` on labelled examples,
:meth:`IntentClassifier.predict` one message, :meth:`IntentClassifier.persist` /
:meth:`IntentClassifier.load` to keep a trained model (a joblib pickle). Production code does not keep
this object: :mod:`leadgate.chat.nlu.artifact` compiles it into a numpy-only
:class:`~leadgate.chat.nlu.compiled.CompiledIntentModel` stored in a cache directory.

Features (scikit-learn ``FeatureUnion``), on text preprocessed by
:func:`~leadgate.chat.nlu.features.preprocess`:

- word 1-2 grams, sublinear TF, tokens include single characters and punctuation (``"?"``, ``"$"``,
  emoji), so terse replies such as ``"k"`` or ``"👍"`` carry signal. Start and end markers
  (:func:`~leadgate.chat.nlu.features.mark_words`) turn the first and last word into bigrams of their
  own (``"xbosx what"``); ``max_df=0.99`` drops the markers themselves, which occur in every message;
- character 2-5 grams within word boundaries (``char_wb``), which absorb typos and inflections
  (``"helo"``, ``"pricing"`` / ``"prices"``).

The classifier is scikit-learn's ``LinearSVC`` (one-vs-rest, squared hinge), which fits in a fraction
of a second where a multinomial ``LogisticRegression`` on the same features took twenty times longer
for the same cross-validated accuracy. Its decision scores become probabilities by temperature
scaling (Guo et al., ICML 2017): a softmax over ``scores / T`` whose single parameter ``T`` minimizes
the log-loss of out-of-fold scores from a stratified 5-fold cross-validation on the training data.
``C``, the class weights, the n-gram ranges and the markers were chosen by the same kind of
cross-validation on the shipped training data only (see docs/nlu.md, "Tuning").

Sentence embeddings: given an ``embedder`` (any :class:`~leadgate.chat.kb.retrieval.Embedder`; the
default model uses all-MiniLM-L6-v2, :mod:`leadgate.chat.nlu.minilm`), the L2-normalized embedding of the
raw message is appended to the TF-IDF features as a third block, scaled by ``embedding_weight``; the
MiniLM encoder adds the mean-pooled vector of its third layer as one more block (``layers``); and for
each of these embedding views a neighbour block follows: per intent, the mean cosine similarity of the
``neighbours`` closest training examples in that view
(:func:`~leadgate.chat.nlu.features.neighbour_block`). The training embeddings are kept with the model
for those blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from leadgate.chat.nlu.data import TrainingExample
from leadgate.chat.nlu.features import (
    TOKEN_PATTERN,
    as_matrix,
    embedding_views,
    fit_temperature,
    mark_words,
    neighbour_blocks,
    preprocess,
    softmax,
)

if TYPE_CHECKING:
    from leadgate.chat.kb.retrieval import Embedder

PERSIST_FORMAT = 3
"""Version of the file layout written by :meth:`IntentClassifier.persist` (2 adds the embedding block, 3 the
neighbour memory; files of formats 1 and 2 are still read)."""


class IntentScore(NamedTuple):
    """One intent and its probability.

    Attributes:
        name: the intent.
        confidence: the classifier's probability for it, in [0, 1].

    """

    name: str
    confidence: float


class IntentPrediction(NamedTuple):
    """The classifier's answer for one message; unpacks as ``(intent, confidence, ranking)``.

    Attributes:
        name: the most probable intent.
        confidence: its probability, in [0, 1].
        ranking: every intent with its probability, most probable first (probabilities sum to 1).

    """

    name: str
    confidence: float
    ranking: tuple[IntentScore, ...]


class IntentClassifier:
    """Intent classifier over TF-IDF n-grams (scikit-learn), with temperature-scaled probabilities.

    Hyperparameters are stored by ``__init__``; learned state ends in ``_`` (scikit-learn convention).

    Args:
        C: regularization parameter of the linear SVM (larger fits the training data more closely).
        word_ngram_range: ``(min_n, max_n)`` of word n-grams.
        char_ngram_range: ``(min_n, max_n)`` of character n-grams (``char_wb``).
        class_weight: ``"balanced"`` weighs classes inversely to their example counts; None (the default)
            weighs every example equally, which cross-validated slightly better on the shipped data.
        calibration_folds: folds of the cross-validation that fits the temperature (capped by the
            smallest class size; below 2 the temperature stays 1).
        embedder: optional sentence embedder; its normalized vectors of the raw messages are appended to
            the TF-IDF features (see :func:`embedding_block`). None (the default) gives the plain TF-IDF
            model. It is not saved by :meth:`persist`; pass it again to :meth:`load`.
        embedding_weight: scale of the embedding block (1.0 was best in cross-validation on the shipped
            data, against 0.5, 1.5, 2 and 3; see docs/nlu.md).
        neighbours: ``k`` of the neighbour blocks, one per embedding view (only with an embedder; 0
            leaves them out). 5 was best in own-data cross-validation against 1, 3 and 10 (docs/nlu.md).
        neighbour_weight: scale of the neighbour blocks (1.0, against 0.5 and 1.5).
        layers: intermediate encoder layers whose mean-pooled vectors are further embedding blocks (same
            weight as the sentence block), for an embedder with ``embed_layers``. ``(3,)`` was chosen
            by own-data cross-validation against layers 1, 2, 4, CLS and max pooling (docs/nlu.md).

    Raises:
        ValueError: ``neighbours`` is negative.

    Attributes:
        pipeline_: scikit-learn ``Pipeline`` of the TF-IDF ``features`` and the SVM ``model``. With an
            embedder the model's input is the TF-IDF features followed by the embedding block, so call
            :meth:`decision_scores`, not the pipeline's own ``decision_function``.
        intents_: the classes, in the column order of :meth:`predict_proba`.
        temperature_: the softmax temperature.
        embedding_dim_: width of the embedding block (None without an embedder).
        memory_: ``(1 + len(layers_), n_examples, embedding_dim_)`` float32 unit embeddings of the
            training examples, one slice per embedding view (the sentence vector, then each layer): the
            neighbour blocks' memory (None without an embedder or with ``neighbours=0``).
        memory_labels_: ``(n_examples,)`` int32 index into ``intents_`` of each memory row.
        layers_: the layers actually used (empty for an embedder without ``embed_layers``).

    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        class_weight: str | None = None,
        calibration_folds: int = 5,
        embedder: Embedder | None = None,
        embedding_weight: float = 1.0,
        neighbours: int = 5,
        neighbour_weight: float = 1.0,
        layers: tuple[int, ...] = (3,),
    ) -> None:
        self.C = C
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.embedder = embedder
        self.embedding_weight = embedding_weight
        if neighbours < 0:
            raise ValueError(f"neighbours must be 0 (no neighbour block) or more, got {neighbours}")
        self.neighbours = neighbours
        self.neighbour_weight = neighbour_weight
        self.layers = tuple(layers)
        self.layers_: tuple[int, ...] = ()
        self.memory_: np.ndarray | None = None
        self.memory_labels_: np.ndarray | None = None
        self.pipeline_: Any = None
        self.intents_: tuple[str, ...] = ()
        self.temperature_: float = 1.0
        self.embedding_dim_: int | None = None

    def _params(self) -> dict[str, Any]:
        return {
            "C": self.C,
            "word_ngram_range": self.word_ngram_range,
            "char_ngram_range": self.char_ngram_range,
            "class_weight": self.class_weight,
            "calibration_folds": self.calibration_folds,
            "embedding_weight": self.embedding_weight,
            "neighbours": self.neighbours,
            "neighbour_weight": self.neighbour_weight,
            "layers": list(self.layers),
        }

    def _build(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.svm import LinearSVC

        features = FeatureUnion(
            [
                (
                    "word",
                    TfidfVectorizer(
                        analyzer="word",
                        ngram_range=self.word_ngram_range,
                        token_pattern=TOKEN_PATTERN,
                        preprocessor=mark_words,
                        max_df=0.99,
                        sublinear_tf=True,
                        lowercase=False,
                    ),
                ),
                (
                    "char",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=self.char_ngram_range,
                        sublinear_tf=True,
                        lowercase=False,
                    ),
                ),
            ]
        )
        model = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=0)
        return Pipeline([("features", features), ("model", model)])

    def _features(self, raw: Sequence[str], tfidf: Any, *, training: bool = False) -> Any:
        """The model's input: TF-IDF block(s), then the embedding and neighbour blocks when there is an embedder.

        With ``training`` the texts are the training examples: their embeddings become the neighbour
        memory, and each example's similarity to itself is left out of its neighbour features.
        """
        if self.embedder is None:
            return tfidf
        import scipy.sparse as sp

        if training:
            self.layers_ = self.layers if hasattr(self.embedder, "embed_layers") else ()
        unit, *lower = embedding_views(self.embedder, raw, self.layers_)
        if self.embedding_dim_ is not None and unit.shape[1] != self.embedding_dim_:
            raise ValueError(
                f"the embedder gives {unit.shape[1]}-d vectors; this model was trained on {self.embedding_dim_}-d"
            )
        views = (unit, *lower)
        blocks = [tfidf, *(sp.csr_matrix(self.embedding_weight * view) for view in views)]
        if self.neighbours:
            if training:
                self.memory_ = np.stack(views).astype(np.float32)
            if self.memory_ is None or self.memory_labels_ is None:
                raise RuntimeError("the neighbour block needs the training memory: train() first")
            near = neighbour_blocks(
                views,
                self.memory_,
                self.memory_labels_,
                len(self.intents_),
                self.neighbours,
                self.neighbour_weight,
                exclude_self=training,
            )
            blocks.extend(sp.csr_matrix(block) for block in near)
        return sp.hstack(blocks, format="csr")

    def train(self, examples: Iterable[TrainingExample]) -> IntentClassifier:
        """Fit on labelled examples, then fit the probability temperature by cross-validation.

        Deterministic: the same examples in the same order give the same model (with an embedder, as
        long as the embedder is deterministic). With an embedder, every example is embedded once
        (all-MiniLM-L6-v2 on a 2-core CPU: tens of seconds for the shipped data; see docs/nlu.md).

        Args:
            examples: utterances with their intents; at least two distinct intents.

        Returns:
            self, trained.

        Raises:
            ValueError: if there are fewer than two intents.

        """
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        items = list(examples)
        texts = [preprocess(e.text) for e in items]
        labels = [e.intent for e in items]
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError(f"need examples of at least two intents, got {classes}")
        folds = min(self.calibration_folds, *(labels.count(c) for c in classes))
        pipeline = self._build()
        self.embedding_dim_ = None
        self.intents_ = tuple(classes)
        self.memory_labels_ = np.array([classes.index(y) for y in labels], dtype=np.int32)
        tfidf = pipeline.named_steps["features"].fit_transform(texts)
        features = self._features([e.text for e in items], tfidf, training=True)
        temperature = 1.0
        if folds >= 2:
            # The TF-IDF vocabulary and IDF weights are fitted once on all texts (they use no labels; nor
            # do the embeddings); only the classifier is refitted per fold. This saves four fifths of the
            # featurization time, at the price of a slightly optimistic (lower) temperature.
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
            model = clone(pipeline.named_steps["model"])
            scores = cross_val_predict(model, features, labels, cv=cv, method="decision_function")
            index = {c: i for i, c in enumerate(classes)}
            temperature = fit_temperature(as_matrix(scores), np.array([index[y] for y in labels]))
        pipeline.named_steps["model"].fit(features, labels)
        self.pipeline_ = pipeline
        self.intents_ = tuple(str(c) for c in pipeline.classes_)
        self.temperature_ = temperature
        self.embedding_dim_ = (
            None
            if self.embedder is None
            else (features.shape[1] - tfidf.shape[1]) // (1 + len(self.layers_))
            - (len(classes) if self.neighbours else 0)
        )
        if self.embedder is None:
            self.memory_ = self.memory_labels_ = None
        return self

    @property
    def is_trained(self) -> bool:
        """Whether :meth:`train` or :meth:`load` has run."""
        return self.pipeline_ is not None

    def _require_trained(self) -> None:
        if self.pipeline_ is None:
            raise RuntimeError("IntentClassifier is not trained: call train() or load() first")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return class probabilities.

        Args:
            texts: raw messages.

        Returns:
            Array of shape ``(len(texts), len(self.intents_))``; columns follow ``self.intents_``,
            rows sum to 1.

        Raises:
            RuntimeError: if the classifier is not trained.

        """
        return softmax(self.decision_scores(texts), self.temperature_)

    def decision_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Return the SVM's decision scores (before temperature scaling).

        Args:
            texts: raw messages.

        Returns:
            Array of shape ``(len(texts), len(self.intents_))``; columns follow ``self.intents_``.

        Raises:
            RuntimeError: if the classifier is not trained.
            ValueError: if the embedder's vectors do not have the width the model was trained on.

        """
        self._require_trained()
        if self.embedder is None:
            scores = self.pipeline_.decision_function([preprocess(t) for t in texts])
        else:
            tfidf = self.pipeline_.named_steps["features"].transform([preprocess(t) for t in texts])
            scores = self.pipeline_.named_steps["model"].decision_function(self._features(texts, tfidf))
        return as_matrix(scores)

    def _prediction(self, row: np.ndarray) -> IntentPrediction:
        order = np.argsort(-row, kind="stable")
        ranking = tuple(IntentScore(self.intents_[i], float(row[i])) for i in order)
        return IntentPrediction(ranking[0].name, ranking[0].confidence, ranking)

    def predict(self, text: str) -> IntentPrediction:
        """Classify one message.

        Args:
            text: the raw message.

        Returns:
            ``(intent, confidence, ranking)``; see :class:`IntentPrediction`.

        Raises:
            RuntimeError: if the classifier is not trained.

        """
        return self._prediction(self.predict_proba([text])[0])

    def predict_many(self, texts: Sequence[str]) -> list[IntentPrediction]:
        """Classify many messages in one vectorized call (for evaluation).

        Args:
            texts: raw messages.

        Returns:
            One :class:`IntentPrediction` per message, in order.

        """
        if not texts:
            return []
        return [self._prediction(row) for row in self.predict_proba(texts)]

    def persist(self, path: Path | str) -> None:
        """Write the trained model to a file (joblib). The embedder is not written, only its vector width.

        Args:
            path: destination file.

        Raises:
            RuntimeError: if the classifier is not trained.

        """
        self._require_trained()
        import joblib
        import sklearn

        payload = {
            "format": PERSIST_FORMAT,
            "sklearn": sklearn.__version__,
            "params": self._params(),
            "intents": self.intents_,
            "temperature": self.temperature_,
            "embedding_dim": self.embedding_dim_,
            "memory": self.memory_,
            "memory_labels": self.memory_labels_,
            "layers_used": list(self.layers_),
            "pipeline": self.pipeline_,
        }
        joblib.dump(payload, Path(path))

    @classmethod
    def load(cls, path: Path | str, embedder: Embedder | None = None) -> IntentClassifier:
        """Read a model written by :meth:`persist`.

        Only load files you wrote yourself: joblib files are pickles and run code when read.

        Args:
            path: the file.
            embedder: the embedder the model was trained with; required exactly when it was trained
                with one (a different model of the same width is not detected: pass the same one).

        Returns:
            The trained classifier.

        Raises:
            ValueError: if the file is not a leadgate intent model, was written by another
                scikit-learn version (retrain instead: it takes a few seconds), or was trained with an
                embedder and none is given (or the other way round).
            OSError: if the file cannot be read.

        """
        import joblib
        import sklearn

        payload = joblib.load(Path(path))
        if not isinstance(payload, dict) or payload.get("format") not in (1, 2, PERSIST_FORMAT):
            raise ValueError(f"{path}: not a leadgate intent model (format {PERSIST_FORMAT})")
        if payload.get("sklearn") != sklearn.__version__:
            raise ValueError(
                f"{path}: written with scikit-learn {payload.get('sklearn')}, "
                f"this is {sklearn.__version__}; retrain the model"
            )
        dim = payload.get("embedding_dim")
        if dim is not None and embedder is None:
            raise ValueError(f"{path}: trained with {dim}-d sentence embeddings; pass the same embedder")
        if dim is None and embedder is not None:
            raise ValueError(f"{path}: trained without sentence embeddings; load it without an embedder")
        params = payload["params"]
        clf = cls(
            C=float(params["C"]),
            word_ngram_range=tuple(params["word_ngram_range"]),
            char_ngram_range=tuple(params["char_ngram_range"]),
            class_weight=params["class_weight"],
            calibration_folds=int(params["calibration_folds"]),
            embedder=embedder,
            embedding_weight=float(params.get("embedding_weight", 1.0)),
            # files of format 1 and 2 have no neighbour block
            neighbours=int(params.get("neighbours", 0)),
            neighbour_weight=float(params.get("neighbour_weight", 1.0)),
            layers=tuple(params.get("layers", ())),
        )
        clf.pipeline_ = payload["pipeline"]
        clf.intents_ = tuple(payload["intents"])
        clf.temperature_ = float(payload["temperature"])
        clf.embedding_dim_ = None if dim is None else int(dim)
        clf.memory_ = payload.get("memory")
        clf.memory_labels_ = payload.get("memory_labels")
        clf.layers_ = tuple(payload.get("layers_used", ()))
        return clf
