"""Natural-language understanding for the chat front door: intents and entities (pure; no database).

Typical use::

    from leadgate.chat.nlu import default_nlu

    result = default_nlu().parse("I'm the CTO at Acme, budget 20-30k, live by Q3", now=now, region="US")
    result.intent.name            # "inform"
    result.entities_of("money")   # [Entity(entity="money", value="20-30k", normalized={"min": 20000, ...})]

Components (Rasa style: train / predict / persist / load):

- :class:`IntentClassifier`: TF-IDF word and character n-grams, linear SVM, temperature-scaled
  probabilities; trained from ``leadgate/chat/data/nlu.yml`` (:func:`load_nlu_data`).
- :class:`EntityExtractor`: money, timeline, company size, role/authority, email, phone, person, company.
- :class:`NLU`: both together; :func:`default_nlu` builds it once per process, loading the intent model
  from the artifact cache (:mod:`leadgate.chat.nlu.artifact`; ``leadgate nlu build`` fills it).
"""

from leadgate.chat.nlu.data import (
    INTENTS,
    NLUData,
    NLUDataError,
    RoleLexicon,
    TrainingExample,
    dedupe_key,
    load_nlu_data,
    load_training_examples,
    split_examples,
)
from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.extract import EntityExtractor
from leadgate.chat.nlu.intent import (
    CompiledIntentModel,
    IntentClassifier,
    IntentPrediction,
    IntentScore,
    default_intent_classifier,
)
from leadgate.chat.nlu.interpreter import MAX_TEXT_CHARS, NLU, ParseResult, TextTooLongError, default_nlu

__all__ = [
    "INTENTS",
    "MAX_TEXT_CHARS",
    "NLU",
    "CompiledIntentModel",
    "Entity",
    "EntityExtractor",
    "IntentClassifier",
    "IntentPrediction",
    "IntentScore",
    "NLUData",
    "NLUDataError",
    "ParseResult",
    "RoleLexicon",
    "TextTooLongError",
    "TrainingExample",
    "dedupe_key",
    "default_intent_classifier",
    "default_nlu",
    "load_nlu_data",
    "load_training_examples",
    "split_examples",
]
