"""NLU.parse: result shape and input checks (latency: bench/nlu.py)."""

from __future__ import annotations

import json

import pytest
from tests.chat.conftest import NOW

from leadgate.chat.nlu import MAX_TEXT_CHARS, NLU, TextTooLongError


def test_to_dict_is_json_with_the_documented_keys(nlu: NLU) -> None:
    result = nlu.parse("how much is it for 50 seats per month?", now=NOW)
    out = json.loads(json.dumps(result.to_dict()))
    assert set(out) == {"text", "intent", "intent_ranking", "entities"}
    assert out["intent"] == {"name": "pricing", "confidence": out["intent"]["confidence"]}
    assert all(set(r) == {"name", "confidence"} for r in out["intent_ranking"])
    assert out["entities"] == []  # "50 seats" is a count, not money or a company size


def test_empty_and_too_long_messages_are_rejected(nlu: NLU) -> None:
    with pytest.raises(ValueError, match="empty"):
        nlu.parse("  \n ", now=NOW)
    with pytest.raises(TextTooLongError):
        nlu.parse("a" * (MAX_TEXT_CHARS + 1), now=NOW)


def test_parse_without_now_uses_the_current_time(nlu: NLU) -> None:
    (timeline,) = nlu.parse("we want to start ASAP").entities_of("timeline")
    assert timeline.normalized["start"] >= "2026-01-01"


def test_long_message_at_the_limit_is_parsed(nlu: NLU) -> None:
    text = ("we are about 200 people, budget 20-30k, live by Q3, call +1 415 555 0132. " * 80)[
        :MAX_TEXT_CHARS
    ]
    result = nlu.parse(text, now=NOW)
    assert len(result.entities_of("money")) > 10
