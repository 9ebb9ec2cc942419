"""Fault tests with real ``leadgate worker`` processes and a CRM on a real socket.

* kill -9 a worker in the middle of 1,000 deliveries, start another: exactly 1,000 distinct records
  downstream (SQLite and PostgreSQL); the re-sends the kill caused are counted and printed.
* 4 workers on PostgreSQL deliver 10,000 actions: 10,000 records, every key POSTed exactly once (and 2
  workers on one SQLite file, 1,000 actions, likewise).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.actions.crm_server import crm_server
from tests.actions.seed import destinations_file, enqueue_for, store_decided

from leadgate.actions.outbox import OUTBOX

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker(
    db_url: str, dest: Path, tmp_path: Path, name: str, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``leadgate worker`` as a real process (stopped by its own pid afterwards)."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "LEADGATE_DATABASE_URL": db_url,
        "LEADGATE_DESTINATIONS_FILE": str(dest),
        "LEADGATE_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable,
        "-m",
        "leadgate.cli",
        "worker",
        "--worker-id",
        name,
        "--poll-interval",
        "0.05",
        "--lease",
        "3",
        "--timeout",
        "1",
        *extra,
    ]
    with open(tmp_path / f"{name}.log", "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_for(
    what: Callable[[], bool], timeout: float, procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        for p in procs:
            if p.poll() is not None and p.returncode not in (0, -signal.SIGKILL):
                logs = "\n".join(f.read_text()[-2000:] for f in tmp_path.glob("*.log"))
                raise AssertionError(f"worker exited with {p.returncode}:\n{logs}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        time.sleep(0.05)


def delivered(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == "delivered")
            ).scalar_one()
        )


def stop(proc: subprocess.Popen[bytes], tmp_path: Path, name: str) -> dict[str, int]:
    """SIGTERM, wait for a clean exit, and read the totals line the worker prints."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
    text = (tmp_path / f"{name}.log").read_text()
    return {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", text.splitlines()[-1])}


@pytest.mark.slow
def test_kill_9_in_the_middle_of_1000_deliveries(engine: Engine, db_url: str, tmp_path: Path) -> None:
    with crm_server() as (url, state):
        state.latency = 0.002
        actions = enqueue_for(engine, store_decided(engine, range(1000)), {"crm_upsert": ["crm"]})
        dest = destinations_file(tmp_path, url)
        with worker(db_url, dest, tmp_path, "w-killed", "--batch", "25") as first:
            wait_for(lambda: state.total_posts >= 300, 120, [first], tmp_path)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        posts_at_kill = state.total_posts
        assert posts_at_kill < 1000  # killed in the middle
        with worker(db_url, dest, tmp_path, "w-restarted", "--batch", "25") as second:
            wait_for(lambda: delivered(engine) == 1000, 180, [second], tmp_path)
            stop(second, tmp_path, "w-restarted")
        assert len(state.records) == 1000
        assert set(state.records) == {a.idempotency_key for a in actions}
        resends = state.total_posts - 1000
        assert resends >= 0 and max(state.posts.values()) <= 2
        print(
            f"\n[{engine.dialect.name}] kill -9 after {posts_at_kill} POSTs: {resends} re-send(s), 1000 records"
        )


@pytest.mark.slow
def test_several_workers_deliver_without_a_duplicate(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL: 4 workers, 10,000 actions (SKIP LOCKED). SQLite: 2 workers, 1,000 actions (they take
    turns on the database write lock; still no row is sent twice)."""
    from leadgate.db import make_engine

    postgres = db_url.startswith("postgresql")
    workers, total = (4, 10_000) if postgres else (2, 1_000)
    engine = make_engine(db_url)
    try:
        with crm_server() as (url, state):
            actions = enqueue_for(engine, store_decided(engine, range(total)), {"crm_upsert": ["crm"]})
            dest = destinations_file(tmp_path, url)
            names = [f"w{n}" for n in range(workers)]
            started = time.monotonic()
            with ExitStack() as stack:
                procs = [
                    stack.enter_context(worker(db_url, dest, tmp_path, n, "--batch", "50")) for n in names
                ]
                wait_for(lambda: delivered(engine) == total, 600, procs, tmp_path)
                elapsed = time.monotonic() - started
                totals = [stop(p, tmp_path, n) for p, n in zip(procs, names, strict=True)]
            assert len(state.records) == total and state.total_posts == total
            assert set(state.posts.values()) == {1}
            assert set(state.records) == {a.idempotency_key for a in actions}
            per_worker = [t.get("delivered", 0) for t in totals]
            assert sum(per_worker) == total and all(n > 0 for n in per_worker)
            print(
                f"\n[{engine.dialect.name}] {workers} workers, {total} actions in {elapsed:.1f} s: {per_worker}"
            )
    finally:
        engine.dispose()


def test_sigterm_finishes_the_current_delivery_and_gives_the_batch_back(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with crm_server() as (url, state):
        state.latency = 0.15
        enqueue_for(engine, store_decided(engine, range(40)), {"crm_upsert": ["crm"]})
        dest = destinations_file(tmp_path, url)
        with worker(db_url, dest, tmp_path, "w-term", "--batch", "40", "--lease", "60") as proc:
            wait_for(lambda: state.total_posts >= 3, 60, [proc], tmp_path)
            totals = stop(proc, tmp_path, "w-term")
        with engine.connect() as conn:
            rows = conn.execute(select(OUTBOX.c.status, OUTBOX.c.attempts, OUTBOX.c.claimed_by)).all()
    done = [r for r in rows if r[0] == "delivered"]
    assert (
        len(done) == totals["delivered"] == len(state.records) == state.total_posts
    )  # the one in flight finished
    assert totals["released"] == 40 - len(done) > 0
    assert all(r[2] is None for r in rows)  # no lease left behind: another worker may start at once
    assert all(r[1] == 0 for r in rows if r[0] == "pending")  # released rows count no attempt
