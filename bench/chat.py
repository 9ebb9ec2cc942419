"""Benchmark: per-turn latency of the chat assistant, in process and over HTTP with concurrent conversations.

Prints p50/p99 per-turn latency (ms) of:
  * in process: ``ChatService.post`` (lock, store the visitor message, NLU, flow, knowledge base,
    qualification, booking, store replies and state, commit), one conversation at a time;
  * over HTTP: ``POST /v1/conversations/{id}/messages`` to a ``uvicorn`` server in its own process
    (``leadgate.chat.runtime:create_chat_app``), with C concurrent conversations (default 50), each a
    separate client running the same scripted qualification conversation (greeting, several slots in one
    message, a knowledge-base question, email, need, budget and timeline, phone skipped, consent, picking
    a demo slot). Two runs:
      - paced: each visitor reads the reply and types before the next message (a think time drawn
        uniformly from --think seconds, default 1-4 s; the start of each conversation is spread over
        the first think interval), as 50 people chatting at once do;
      - back-to-back: no think time, every visitor sends the next message the moment the reply arrives
        (a stress test: 50 turns always queued on the 2 cores, so latency is queueing time).

Both use a fresh SQLite file and no LLM. The rate limits are raised for the run (one client IP sends
every conversation).

    python bench/chat.py                          # 200 conversations in process, 50 concurrent x 2 rounds over HTTP
    python bench/chat.py --inproc 50 --concurrency 50 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SCRIPT = [
    "Hi, I'm Dana Reyes, CTO at Acme Logistics, we're about 400 people",
    "How much does the Growth plan cost?",
    "dana.reyes@acmelogistics.com",
    "We need product analytics for our mobile app",
    "Budget is around 50k per year and we want to start next quarter",
    "skip",
    "yes, you can contact me",
    "the first one",
]


def percentiles(ms: list[float]) -> tuple[float, float]:
    """(p50, p99) of ``ms`` (the 'inclusive' method of ``statistics.quantiles``)."""
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return statistics.median(ms), q[98]


def in_process(tmp: Path, n: int) -> tuple[float, float, int]:
    from leadgate.chat.runtime import build_chat
    from leadgate.config import Settings
    from leadgate.db import make_engine, upgrade

    url = f"sqlite:///{tmp / 'inproc.db'}"
    upgrade(url)
    engine = make_engine(url)
    service = build_chat(Settings(database_url=url), engine)
    scheduler = service.commands.scheduler
    times: list[float] = []
    booked = 0
    for i in range(n + 5):
        opened = service.open("Europe/Berlin")
        for j, text in enumerate(SCRIPT):
            t = time.perf_counter()
            result = service.post(opened.conversation_id, opened.token, f"m{j}", text)
            if i >= 5:  # warm-up conversations
                times.append((time.perf_counter() - t) * 1000)
            for reply in result.replies:
                if reply.kind == "booked":
                    # untimed: free the slot again so every conversation takes the same path
                    scheduler.cancel(reply.data["booking_id"])
                    booked += 1
    engine.dispose()
    if booked != n + 5:
        raise SystemExit(
            f"only {booked} of {n + 5} conversations booked a demo: the script no longer fits the flow"
        )
    p50, p99 = percentiles(times)
    return p50, p99, len(times)


async def _conversation(client, times: list[float], think: tuple[float, float] | None, rng) -> None:
    if think is not None:
        await asyncio.sleep(rng.uniform(0, think[1]))
    r = await client.post("/v1/conversations", json={"timezone": "America/New_York"})
    r.raise_for_status()
    body = r.json()
    cid, token = body["conversation_id"], body["token"]
    headers = {"X-Conversation-Token": token}
    for text in SCRIPT:
        if think is not None:
            await asyncio.sleep(rng.uniform(*think))
        t = time.perf_counter()
        r = await client.post(
            f"/v1/conversations/{cid}/messages",
            json={"client_message_id": uuid.uuid4().hex, "text": text},
            headers=headers,
        )
        elapsed = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        times.append(elapsed)


async def _http_rounds(
    base: str, concurrency: int, rounds: int, think: tuple[float, float] | None
) -> list[float]:
    import random

    import httpx

    rng = random.Random(42)
    times: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        warm = min(concurrency, 5)
        await asyncio.gather(*(_conversation(client, [], None, rng) for _ in range(warm)))
        for _ in range(rounds):
            await asyncio.gather(*(_conversation(client, times, think, rng) for _ in range(concurrency)))
    return times


def over_http(
    tmp: Path, concurrency: int, rounds: int, think: tuple[float, float] | None, name: str
) -> tuple[float, float, int]:
    import httpx

    from leadgate.db import upgrade

    url = f"sqlite:///{tmp / (name + '.db')}"
    upgrade(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "LEADGATE_DATABASE_URL": url,
        "LEADGATE_RATE_LIMIT_IP": "1000000/minute",
        "LEADGATE_RATE_LIMIT_CONVERSATION": "1000000/minute",
    }
    cmd = [sys.executable, "-m", "uvicorn", "leadgate.chat.runtime:create_chat_app", "--factory"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        times = asyncio.run(_http_rounds(base, concurrency, rounds, think))
    finally:
        server.terminate()
        server.wait(timeout=10)
    p50, p99 = percentiles(times)
    return p50, p99, len(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inproc", type=int, default=200, help="conversations in process")
    ap.add_argument("--concurrency", type=int, default=50, help="concurrent conversations over HTTP")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of concurrent conversations over HTTP")
    ap.add_argument("--think", type=float, nargs=2, default=(1.0, 4.0), help="think time range, seconds")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; {len(SCRIPT)} visitor turns per conversation; no LLM")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        p50, p99, n = in_process(tmp, args.inproc)
        print(f"in process (ChatService.post, stored): p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({n} turns)")
        think = (args.think[0], args.think[1])
        p50, p99, n = over_http(tmp, args.concurrency, args.rounds, think, "paced")
        print(
            f"HTTP, {args.concurrency} concurrent conversations, paced (think {think[0]:g}-{think[1]:g} s): "
            f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({n} turns)"
        )
        p50, p99, n = over_http(tmp, args.concurrency, args.rounds, None, "stress")
        print(
            f"HTTP, {args.concurrency} concurrent conversations, back-to-back (no think time): "
            f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({n} turns)"
        )


if __name__ == "__main__":
    main()
