"""Benchmark: outbox delivery throughput and enqueue-to-delivered latency with real ``leadgate worker``s.

Uses the test CRM (``tests/actions/crm_server.py``, a threaded HTTP server keyed by idempotency key) and the
test destination (``tests.actions.http_crm:HttpCrm``), so run it from the repository root. Prints, per
database (a fresh SQLite file; PostgreSQL at ``--pg`` when given):

* throughput: W worker processes started and idle, then N actions committed at once; deliveries per
  second from that commit until all are delivered;
* latency: one worker polling every 50 ms; rounds of 20 decisions committed at once from 20 threads (as 20
  concurrent form submissions would), each with its ``crm_upsert`` action; p50/p99 of ``delivered_at -
  created_at`` (the decision transaction's time to the CRM's answer being recorded).

    python bench/outbox.py                                  # SQLite only
    python bench/outbox.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test --workers 4
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.actions.crm_server import crm_server  # noqa: E402
from tests.actions.seed import destinations_file, enqueue_for, store_decided  # noqa: E402

from leadgate.actions.outbox import OUTBOX  # noqa: E402
from leadgate.db import make_engine, upgrade  # noqa: E402


def start_workers(url: str, dest: Path, count: int, tmp: Path) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` workers and return once each has run its first pass (its metrics file exists)."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "LEADGATE_DATABASE_URL": url,
        "LEADGATE_DESTINATIONS_FILE": str(dest),
        "LEADGATE_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "leadgate.cli", "worker", "--batch", "50", "--poll-interval", "0.05"]
    metrics = [tmp / f"bench-{uuid.uuid4().hex[:6]}.prom" for _ in range(count)]
    procs = [
        subprocess.Popen(
            [*cmd, "--worker-id", f"bench-{n}", "--metrics-file", str(m)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
        )
        for n, m in enumerate(metrics)
    ]
    while not all(m.exists() for m in metrics):
        time.sleep(0.05)
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(30)


def delivered(engine, ids=None) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == "delivered")
            ).scalar_one()
        )


def throughput(url: str, n: int, workers: int, tmp: Path) -> float:
    engine = make_engine(url)
    decisions = store_decided(engine, range(n))
    with crm_server() as (crm, state):
        procs = start_workers(url, destinations_file(tmp, crm), workers, tmp)
        started = time.perf_counter()  # workers idle and polling; the actions arrive at once
        enqueue_for(engine, decisions, {"crm_upsert": ["crm"]})
        while delivered(engine) < n:
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        stop_workers(procs)
        assert len(state.records) == n
    engine.dispose()
    return n / elapsed


def latency(url: str, rounds: int, tmp: Path) -> list[float]:
    from leadgate.actions.outbox import enqueue
    from leadgate.actions.planning import plan_actions
    from leadgate.db import store, write_lock

    engine = make_engine(url)
    decisions = store_decided(engine, range(100_000, 100_000 + 20 * rounds))
    out: list[float] = []
    with crm_server() as (crm, _state):
        procs = start_workers(url, destinations_file(tmp, crm), 1, tmp)
        for r in range(rounds):
            batch = decisions[r * 20 : (r + 1) * 20]

            def submit(d) -> None:  # type: ignore[no-untyped-def]
                actions = plan_actions(
                    [d], [None], {"crm_upsert": ["crm"]}, now=store.utcnow(), new_id=store.new_id
                )
                with write_lock(engine), engine.begin() as conn:
                    enqueue(conn, actions)

            threads = [threading.Thread(target=submit, args=(d,)) for d in batch]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            while delivered(engine) < 20 * (r + 1):
                time.sleep(0.01)
        stop_workers(procs)
    with engine.connect() as conn:
        for created, done in conn.execute(select(OUTBOX.c.created_at, OUTBOX.c.delivered_at)):
            out.append((done - created).total_seconds() * 1000)
    engine.dispose()
    return out


def fresh_pg(admin_url: str) -> tuple[str, str]:
    name = f"lg_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_pg(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4, help="worker processes for PostgreSQL")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (a fresh database is made on it)")
    args = parser.parse_args()
    os.environ.setdefault("LEADGATE_DATA_KEYS", "bench:" + "A" * 43 + "=")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        runs = [("sqlite", 1)] + ([("postgresql", 1), ("postgresql", args.workers)] if args.pg else [])
        for backend, workers in runs:
            for phase in ("throughput", "latency") if workers == 1 else ("throughput",):
                name = None
                if backend == "sqlite":
                    url = f"sqlite:///{tmp / f'{phase}-{uuid.uuid4().hex[:6]}.db'}"
                else:
                    url, name = fresh_pg(args.pg)
                upgrade(url)
                try:
                    if phase == "throughput":
                        rate = throughput(url, args.actions, workers, tmp)
                        print(
                            f"{backend:10s} {workers} worker(s): {rate:7.0f} deliveries/s ({args.actions} actions)"
                        )
                    else:
                        ms = sorted(latency(url, args.rounds, tmp))
                        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
                        print(
                            f"{backend:10s} enqueue->delivered, 20 at once x {args.rounds}: p50 {p50:.0f} ms, p99 {p99:.0f} ms"
                        )
                finally:
                    if name:
                        drop_pg(args.pg, name)


if __name__ == "__main__":
    main()
