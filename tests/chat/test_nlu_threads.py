"""The shared NLU under threads: background warm-up and dateparser's lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from leadgate.chat.nlu import default_nlu, interpreter

NOW = datetime(2026, 5, 14, 9, 0)

MESSAGES = [
    "can we do March 3rd?",
    "we'd like to start on 12/05/2026",
    "by June 30 please",
    "Tuesday the 19th works",
    "not before August 1st",
    "live by 15 September 2026",
    "the 2nd of July",
    "next Friday",
]


def test_a_background_warm_up_returns_before_the_warm_up_has_run(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    threads: list[str] = []

    def slow_warm(nlu: object) -> None:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        finished.set()

    monkeypatch.setattr(interpreter, "_WARMED", [])
    monkeypatch.setattr(interpreter, "_warm", slow_warm)
    nlu = default_nlu(warm_up="background")
    assert started.wait(10)
    assert not finished.is_set()  # default_nlu returned while the warm-up was still running
    release.set()
    assert finished.wait(10)
    assert threads == ["leadgate-nlu-warm-up"]
    assert default_nlu(warm_up="background") is nlu  # once per process
    assert threads == ["leadgate-nlu-warm-up"]


def test_dates_parsed_from_many_threads_equal_the_serial_reading() -> None:
    nlu = default_nlu(warm_up=False)

    def read(text: str) -> list[dict[str, object]]:
        return [dict(e.normalized) for e in nlu.parse(text, now=NOW).entities if e.entity == "timeline"]

    serial = [read(m) for m in MESSAGES]
    assert all(serial), serial
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(read, MESSAGES)) == serial
