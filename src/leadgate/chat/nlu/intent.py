"""Intent classification: TF-IDF word and character n-grams into a linear SVM, with calibrated probabilities.

A component in the Rasa style: :meth:`IntentClassifier.train` on labelled examples,
:meth:`IntentClassifier.predict` one message, :meth:`IntentClassifier.persist` /
:meth:`IntentClassifier.load` to keep a trained model. Training on leadgate's shipped data (~6,000
examples) takes one to three seconds on a 2-core machine, so :func:`default_intent_classifier` trains at
first use and keeps the model for the life of the process; nothing is downloaded.

Features (scikit-learn ``FeatureUnion``), on text preprocessed by :func:`preprocess`:

- word 1-2 grams, sublinear TF, tokens include single characters and punctuation (``"?"``, ``"$"``,
  emoji), so terse replies such as ``"k"`` or ``"👍"`` carry signal. Start and end markers
  (:func:`mark_words`) turn the first and last word into bigrams of their own (``"xbosx what"``);
  ``max_df=0.99`` drops the markers themselves, which occur in every message;
- character 2-5 grams within word boundaries (``char_wb``), which absorb typos and inflections
  (``"helo"``, ``"pricing"`` / ``"prices"``).

The classifier is scikit-learn's ``LinearSVC`` (one-vs-rest, squared hinge, no class weights), which
fits in a fraction of a second where a multinomial ``LogisticRegression`` on the same features took
twenty times longer for the same cross-validated accuracy. Its decision scores become probabilities by
temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): a softmax over
``scores / T`` whose single parameter ``T`` minimizes the log-loss of out-of-fold scores from a
stratified 5-fold cross-validation on the training data. ``C``, the class weights, the n-gram ranges and
the markers were chosen by the same kind of cross-validation on the shipped training data only (see
docs/nlu.md, "Tuning").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from leadgate.chat.nlu.data import TrainingExample, load_nlu_data

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[a-z]{2,}", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|io|ai|co|net|org|biz|xyz|de|uk)\b\S*", re.I)
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")

PERSIST_FORMAT = 1
"""Version of the file layout written by :meth:`IntentClassifier.persist`."""


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
    ``max_df`` (see :class:`IntentClassifier`), so they do not act as a length feature that would pull
    short unknown messages toward the intents with many one-word examples.

    Args:
        text: a message already normalized by :func:`preprocess`.

    Returns:
        ``"xbosx TEXT xeosx"``.

    """
    return f"xbosx {text} xeosx"


def _as_matrix(scores: Any) -> np.ndarray:
    """Decision scores as shape ``(n, k)``; a binary SVM returns one column, for the second class."""
    arr = np.asarray(scores, dtype=float)
    if arr.ndim == 1:
        arr = np.column_stack([-arr, arr])
    return arr


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """Find the softmax temperature that minimizes the log-loss of held-out decision scores.

    Args:
        scores: decision scores, shape ``(n, k)``.
        labels: column index of each row's true class, shape ``(n,)``.

    Returns:
        ``T`` in [0.01, 100] (bounded search over ``log T``).

    """
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        p = _softmax(scores, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[rows, labels], 1e-12, None)).mean())

    result = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded")
    return float(np.exp(result.x))


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

    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        class_weight: str | None = None,
        calibration_folds: int = 5,
    ) -> None:
        self.C = C
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.pipeline_: Any = None
        self.intents_: tuple[str, ...] = ()
        self.temperature_: float = 1.0

    def _params(self) -> dict[str, Any]:
        return {
            "C": self.C,
            "word_ngram_range": self.word_ngram_range,
            "char_ngram_range": self.char_ngram_range,
            "class_weight": self.class_weight,
            "calibration_folds": self.calibration_folds,
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
                        token_pattern=r"(?u)\b\w+\b|[^\w\s]",
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

    def train(self, examples: Iterable[TrainingExample]) -> IntentClassifier:
        """Fit on labelled examples, then fit the probability temperature by cross-validation.

        Deterministic: the same examples in the same order give the same model.

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
        features = pipeline.named_steps["features"].fit_transform(texts)
        temperature = 1.0
        if folds >= 2:
            # The TF-IDF vocabulary and IDF weights are fitted once on all texts (they use no labels);
            # only the classifier is refitted per fold. This saves four fifths of the featurization
            # time, at the price of a slightly optimistic (lower) temperature.
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
            model = clone(pipeline.named_steps["model"])
            scores = cross_val_predict(model, features, labels, cv=cv, method="decision_function")
            index = {c: i for i, c in enumerate(classes)}
            temperature = fit_temperature(_as_matrix(scores), np.array([index[y] for y in labels]))
        pipeline.named_steps["model"].fit(features, labels)
        self.pipeline_ = pipeline
        self.intents_ = tuple(str(c) for c in pipeline.classes_)
        self.temperature_ = temperature
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
        self._require_trained()
        scores = self.pipeline_.decision_function([preprocess(t) for t in texts])
        return _softmax(_as_matrix(scores), self.temperature_)

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
        """Write the trained model to a file (joblib).

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
            "pipeline": self.pipeline_,
        }
        joblib.dump(payload, Path(path))

    @classmethod
    def load(cls, path: Path | str) -> IntentClassifier:
        """Read a model written by :meth:`persist`.

        Only load files you wrote yourself: joblib files are pickles and run code when read.

        Args:
            path: the file.

        Returns:
            The trained classifier.

        Raises:
            ValueError: if the file is not a leadgate intent model, or was written by another
                scikit-learn version (retrain instead: it takes a few seconds).
            OSError: if the file cannot be read.

        """
        import joblib
        import sklearn

        payload = joblib.load(Path(path))
        if not isinstance(payload, dict) or payload.get("format") != PERSIST_FORMAT:
            raise ValueError(f"{path}: not a leadgate intent model (format {PERSIST_FORMAT})")
        if payload.get("sklearn") != sklearn.__version__:
            raise ValueError(
                f"{path}: written with scikit-learn {payload.get('sklearn')}, "
                f"this is {sklearn.__version__}; retrain the model"
            )
        params = payload["params"]
        clf = cls(
            C=float(params["C"]),
            word_ngram_range=tuple(params["word_ngram_range"]),
            char_ngram_range=tuple(params["char_ngram_range"]),
            class_weight=params["class_weight"],
            calibration_folds=int(params["calibration_folds"]),
        )
        clf.pipeline_ = payload["pipeline"]
        clf.intents_ = tuple(payload["intents"])
        clf.temperature_ = float(payload["temperature"])
        return clf


@lru_cache(maxsize=1)
def default_intent_classifier() -> IntentClassifier:
    """Return the classifier trained on leadgate's shipped data, training it at first call.

    Thread-safe enough for its purpose: concurrent first calls may both train, and get equal models.

    Returns:
        The trained classifier (shared; do not retrain it in place).

    """
    return IntentClassifier().train(load_nlu_data().examples)
