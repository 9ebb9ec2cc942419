"""The NLU stage: one message in, intent with ranking and entities out (pure; no database)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from leadgate.chat.nlu.data import NLUData, load_nlu_data
from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.extract import EntityExtractor
from leadgate.chat.nlu.intent import IntentClassifier, IntentModel, IntentScore, default_intent_classifier

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 5000
"""Longest message parsed, in characters. The chat API's own size limit is lower; this bound keeps the
regular expressions and the phone matcher's cost linear and small."""


class TextTooLongError(ValueError):
    """The message is longer than :data:`MAX_TEXT_CHARS`."""


@dataclass(frozen=True)
class ParseResult:
    """What the NLU understood in one message.

    Attributes:
        text: the message.
        intent: the most probable intent and its probability.
        intent_ranking: every intent with its probability, most probable first.
        entities: entities ordered by position.

    """

    text: str
    intent: IntentScore
    intent_ranking: tuple[IntentScore, ...]
    entities: tuple[Entity, ...]

    def entities_of(self, entity: str) -> list[Entity]:
        """Return the entities of one type (``"money"``, ``"email"``...), in text order."""
        return [e for e in self.entities if e.entity == entity]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape printed by ``leadgate nlu parse`` (confidences rounded to 4 places)."""
        return {
            "text": self.text,
            "intent": {"name": self.intent.name, "confidence": round(self.intent.confidence, 4)},
            "intent_ranking": [
                {"name": s.name, "confidence": round(s.confidence, 4)} for s in self.intent_ranking
            ],
            "entities": [e.to_dict() for e in self.entities],
        }


class NLU:
    """Intent classifier plus entity extractors.

    Args:
        classifier: a trained intent classifier.
        extractor: the entity extractor.

    """

    def __init__(self, classifier: IntentModel, extractor: EntityExtractor) -> None:
        if not classifier.is_trained:
            raise ValueError("the intent classifier must be trained")
        self.classifier = classifier
        self.extractor = extractor

    @classmethod
    def from_data(cls, data: NLUData | None = None, classifier: IntentClassifier | None = None) -> NLU:
        """Build from training data, training the classifier (about a second for the shipped data).

        Args:
            data: training data; None loads the data shipped with leadgate.
            classifier: an untrained classifier with the hyperparameters to use; None for the defaults.

        Returns:
            A ready NLU.

        """
        data = data if data is not None else load_nlu_data()
        clf = (classifier or IntentClassifier()).train(data.examples)
        return cls(clf, EntityExtractor(data.roles))

    def parse(
        self, text: str, now: datetime | None = None, region: str = "US", expecting: str | None = None
    ) -> ParseResult:
        """Understand one message.

        Args:
            text: the visitor's message.
            now: reference time for relative dates; None means the current UTC time.
            region: ISO 3166-1 alpha-2 default region for phone numbers and numeric dates.
            expecting: the entity type the pending question asks for (``"company"``, ``"person"``,
                ``"role"``, ``"company_size"``, ``"timeline"``...), or None. It settles ambiguous spans
                (a bare capitalized phrase answering "which company?" is a company, not a person); see
                :meth:`EntityExtractor.extract`.

        Returns:
            The intent, its ranking and the entities.

        Raises:
            ValueError: if the message is empty or blank, or ``region`` is unknown.
            TextTooLongError: if the message is longer than :data:`MAX_TEXT_CHARS`.

        """
        if not text or not text.strip():
            raise ValueError("cannot parse an empty message")
        if len(text) > MAX_TEXT_CHARS:
            raise TextTooLongError(
                f"message has {len(text)} characters; the NLU parses at most {MAX_TEXT_CHARS}"
            )
        reference = now if now is not None else datetime.now(UTC)
        prediction = self.classifier.predict(text)
        entities = self.extractor.extract(text, reference, region=region, expecting=expecting)
        return ParseResult(
            text=text,
            intent=IntentScore(prediction.name, prediction.confidence),
            intent_ranking=prediction.ranking,
            entities=tuple(entities),
        )


def default_nlu(*, warm_up: bool | Literal["background"] = True) -> NLU:
    """Return the NLU of leadgate's shipped data, loaded at first call and shared by the process.

    The intent model comes from the artifact cache (``nlu_cache_dir``; see
    :func:`~leadgate.chat.nlu.intent.default_intent_classifier`): loading it takes tens of milliseconds,
    and only a missing, stale or corrupt cache file makes this call train it (seconds, once). Nothing is
    loaded before the first call.

    Args:
        warm_up: parse one message with a date, an e-mail and a phone number first (once per process),
            so that dateparser's and phonenumbers' lazy tables and the sentence encoder's weights are
            loaded before the first visitor's message (0.4-1 s of CPU). ``True`` does it now;
            ``"background"`` does it in a daemon thread and returns at once (a server's start-up does
            not wait; a message parsed meanwhile waits for dateparser's lock,
            ``leadgate.chat.nlu.timeline.DATEPARSER_LOCK``, or for the encoder's weights, at most the
            warm-up's length); ``False`` skips it (a one-shot command such as ``leadgate nlu parse``: its
            own message pays only for what it uses).

    Returns:
        The shared NLU instance.

    """
    nlu = _shared_nlu()
    if warm_up is False:
        return nlu
    with _WARM_GUARD:
        if _WARMED:
            return nlu
        _WARMED.append(True)
    if warm_up == "background":
        threading.Thread(target=_warm, args=(nlu,), name="leadgate-nlu-warm-up", daemon=True).start()
    else:
        _warm(nlu)
    return nlu


_WARMED: list[bool] = []
_WARM_GUARD = threading.Lock()


def _warm(nlu: NLU) -> None:
    """Parse one message that loads dateparser's and phonenumbers' lazy tables; log (never raise) a failure."""
    try:
        nlu.parse(
            "I'm the CTO at Acme, jane@acme.com, +1 415 555 0132, $20k by March 15", now=datetime(2026, 1, 1)
        )
    except Exception:  # pragma: no cover - the shipped message parses; a failure must not kill a server
        log.exception("NLU warm-up failed; the first message will load what it needs")


@lru_cache(maxsize=1)
def _shared_nlu() -> NLU:
    return NLU(default_intent_classifier(), EntityExtractor(load_nlu_data().roles))
