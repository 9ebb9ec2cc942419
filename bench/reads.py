"""Benchmark: latency of a staff read of a lead (``GET /v1/leads/{id}``) before and after issue 8, item 4.

Since item 4 every read of personal data through the API appends one event to the hash-chained access log
(its own short write transaction) and checks the lead's owner; this prints what that costs.

The source tree of ``--baseline REV`` (default 644070a, main before the roles and objects work) is
extracted with ``git archive``; each round runs a subprocess with ``PYTHONPATH`` at the old tree and one at
the working tree's ``src`` (alternated, ABBA), each on a fresh SQLite file (WAL) with ``--leads`` stored
leads and an ``admin`` API key, and times ``--reads`` sequential GETs in process (FastAPI ``TestClient``)
after 50 warm-up reads. Printed: p50 and p99 in milliseconds per run, then the new/old ratio of the
median p50 (machines differ; the ratio is what carries over).

    python bench/reads.py                       # 4 rounds, 500 reads each
    python bench/reads.py --rounds 2 --reads 200 --baseline 31f9c3e
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time, warnings
url, n_leads, n_reads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from leadgate.api import create_app
from leadgate.config import Settings
from leadgate.contracts.lead import Lead
from leadgate.db import make_engine, store, upgrade
from leadgate.db.rows import lead_row
from leadgate.governance.api_keys import create_key
upgrade(url)
engine = make_engine(url)
with engine.begin() as conn:
    key, _ = create_key(conn, name="bench", role="admin", created_by="bench")
    leads = [
        Lead(lead_id=f"r-{i}", email=f"p{i}@example.com", first_name="Anna", company="Acme",
             attributes={"lead_origin": "API", "total_visits": i % 20})
        for i in range(n_leads)
    ]
    store.write_leads(conn, [lead_row(lead, None) for lead in leads])
engine.dispose()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
client = TestClient(create_app(Settings(database_url=url)), headers={"Authorization": f"Bearer {key}"})
times = []
with client:
    for i in range(50 + n_reads):
        t = time.perf_counter()
        r = client.get(f"/v1/leads/r-{i % n_leads}")
        elapsed = time.perf_counter() - t
        assert r.status_code == 200, r.text
        if i >= 50:
            times.append(elapsed * 1000)
times.sort()
print(json.dumps({"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99) - 1]}))
"""


def extract(rev: str, into: Path) -> Path:
    """``git archive REV src`` unpacked under ``into``; returns its ``src``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def run_tree(src: Path, db: Path, leads: int, reads: int) -> dict[str, float]:
    """One timed run of the child with ``PYTHONPATH=src`` on a fresh SQLite file ``db``."""
    env = {**os.environ, "PYTHONPATH": str(src), "LEADGATE_ENV": "dev"}
    env.pop("LEADGATE_AUDIT_KEY", None)
    env.pop("LEADGATE_AUDIT_KEY_FILE", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, f"sqlite:///{db}", str(leads), str(reads)],
        env=env,
        cwd=db.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"run with {src} failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="644070a", help="git revision of the old tree")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each tree (alternated)")
    parser.add_argument("--reads", type=int, default=500, help="timed GETs per run")
    parser.add_argument("--leads", type=int, default=1000, help="stored leads per database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {"old": extract(args.baseline, tmp / "old"), "new": ROOT / "src"}
        results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
        print(f"GET /v1/leads/{{id}}, admin key, SQLite (WAL), {args.reads} reads a run after 50 warm-up")
        print(
            f"old: {args.baseline}; new: working tree; {os.cpu_count()} cores; python {sys.version.split()[0]}"
        )
        for i in range(args.rounds):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for name in order:
                db = tmp / f"{name}-{i}" / "bench.db"
                db.parent.mkdir()
                r = run_tree(trees[name], db, args.leads, args.reads)
                results[name].append(r)
                print(f"  round {i + 1} {name}: p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms", flush=True)
        p50 = {name: statistics.median(r["p50"] for r in runs) for name, runs in results.items()}
        p99 = {name: statistics.median(r["p99"] for r in runs) for name, runs in results.items()}
        print(
            f"median p50: old {p50['old']:.2f} ms, new {p50['new']:.2f} ms, new/old {p50['new'] / p50['old']:.2f}"
        )
        print(
            f"median p99: old {p99['old']:.2f} ms, new {p99['new']:.2f} ms, new/old {p99['new'] / p99['old']:.2f}"
        )


if __name__ == "__main__":
    main()
