"""Benchmark: NLU parse latency (intent + entities) per message, and the first-use training time.

python bench/nlu.py            # prints the training time, then p50/p99 parse latency in ms
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime

MESSAGES = [
    "hi there",
    "I'm the CTO at Acme, jane@acme.com, budget 20-30k by Q3, we're about 200 people",
    "how much does it cost?",
    "can I talk to a human",
    "my phone is +1 415 555 0132",
    "can we do a demo next Friday at 3pm?",
    "We want to see where trial accounts drop off before they convert",
    ("we are about 200 people, budget 20-30k, live by Q3, call +1 415 555 0132. " * 27)[:2000],
]


def main() -> None:
    from leadgate.chat.nlu import default_nlu

    now = datetime(2026, 11, 22, 10, 0)
    t = time.perf_counter()
    nlu = default_nlu()
    nlu.parse("hello", now=now)
    print(
        f"first use (load the NLU artifact, training it only when its data changed): {time.perf_counter() - t:.2f} s"
    )
    for text in MESSAGES:  # warm-up
        nlu.parse(text, now=now)
    timings = []
    for _ in range(50):
        for text in MESSAGES:
            t = time.perf_counter()
            nlu.parse(text, now=now)
            timings.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(timings, n=100, method="inclusive")
    print(f"parse: p50 {statistics.median(timings):.2f} ms  p99 {q[98]:.2f} ms  ({len(timings)} messages)")


if __name__ == "__main__":
    main()
