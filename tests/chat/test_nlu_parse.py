"""NLU.parse: result shape, input checks, and per-message latency."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from tests.chat.conftest import NOW

from leadgate.chat.nlu import MAX_TEXT_CHARS, NLU, TextTooLongError

MEDIAN_LATENCY_MS = 10.0
"""Issue 3 asks for parse latency well under 10 ms per message; measured about 2 ms on the 2-core box."""


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


def test_long_message_at_the_limit_is_parsed_quickly(nlu: NLU) -> None:
    text = ("we are about 200 people, budget 20-30k, live by Q3, call +1 415 555 0132. " * 80)[
        :MAX_TEXT_CHARS
    ]
    started = time.perf_counter()
    result = nlu.parse(text, now=NOW)
    assert time.perf_counter() - started < 2.0
    assert len(result.entities_of("money")) > 10


def test_median_parse_latency(nlu: NLU) -> None:
    messages = [
        "hi there",
        "I'm the CTO at Acme, jane@acme.com, budget 20-30k by Q3, we're about 200 people",
        "how much does it cost?",
        "can I talk to a human",
        "my phone is +1 415 555 0132",
        "can we do a demo next Friday at 3pm?",
    ] * 20
    timings = []
    for text in messages:
        started = time.perf_counter()
        nlu.parse(text, now=NOW)
        timings.append((time.perf_counter() - started) * 1000)
    assert statistics.median(timings) < MEDIAN_LATENCY_MS
