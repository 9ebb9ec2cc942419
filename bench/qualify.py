"""Benchmark: batch qualification throughput, peak memory, and single-lead latency.

Prints:
  * leads/s of `qualify_file` (import + score + policy + audit-chained decisions, all written to a fresh
    SQLite file) for the 9,240 real X Education leads and for N resampled leads (default 1,000,000, fresh
    ids), with --explain none and --explain all side by side, and the peak RSS of each run;
  * p50/p99 latency of single-lead qualification with its explanation, in process (`qualify_leads`,
    stored) and over HTTP (`POST /v1/leads` to `leadgate serve` on 127.0.0.1).

Each batch run is a separate process (clean peak RSS, nothing cached between runs).

    python bench/qualify.py                       # full run (1M leads: several minutes)
    python bench/qualify.py --big 200000          # smaller resample
    python bench/qualify.py --big-explain-none-only   # skip the slow --explain all run on the large file
    python bench/qualify.py --skip-big --single 500
    python bench/qualify.py --skip-big --stages 200000   # adds thread CPU per lead per stage
    python bench/qualify.py --compare-only                # only the old-vs-new comparison below
    python bench/qualify.py --privacy-baseline 644070a --compare-rows 100000   # encryption at rest: cost

Old against new: unless ``--baseline none``, the source tree of ``--baseline REV`` (default 6270715, the
commit before the columnar ingest) is extracted with ``git archive`` and the batch qualification and the
ingest stage alone (CSV -> validated records) run in subprocesses alternately with ``PYTHONPATH`` at the
old and at the working tree's ``src``, each tree scoring with a model it trained itself. Printed: leads/s
of each run, and new/old ratios of the medians (machines differ 2x; the ratio is what carries over).
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEADS = ROOT / "examples" / "xeducation" / "Leads.csv"
MAPPING = ROOT / "examples" / "xeducation" / "mapping.yaml"

WORKER = r"""
import json, resource, sys, time
from leadgate.db import make_engine, upgrade
from leadgate.ingest import load_mapping
from leadgate.pipeline import Qualifier, qualify_file, train_and_register, load_training_data
from leadgate.features import load_feature_set
from leadgate.defaults import default_path
from leadgate.policy import load_default_policy
from leadgate.registry import register_model
import joblib

url, data, mapping, explain, model_path = sys.argv[1:6]
upgrade(url)
engine = make_engine(url)
model = joblib.load(model_path)
fs = load_feature_set(default_path("features.yaml"))
with engine.begin() as conn:
    register_model(conn, "propensity", model, fs, {})
try:  # the same X Education fit rules in both trees (before issue 7 they were always loaded)
    from leadgate.scoring import load_fit_rules
    q = Qualifier.load(engine, load_default_policy(), fit_rules=load_fit_rules())
except TypeError:
    q = Qualifier.load(engine, load_default_policy())
m = load_mapping(mapping)
t = time.perf_counter()
s = qualify_file(engine, data, m, q, explain=explain, chunk_size=5000)
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"decisions": s.decisions, "seconds": dt, "explained": s.explained, "peak_rss": rss}))
"""


STAGES = r"""
import json, sys, time
import joblib
from leadgate import pipeline as P
from leadgate.db import make_engine, store, upgrade
from leadgate.defaults import default_path
from leadgate.features import load_feature_set
from leadgate.ingest import file_sha256, load_mapping, map_chunk, read_raw_chunks
from leadgate.policy import load_default_policy
from leadgate.registry import register_model

url, data, mapping, model_path = sys.argv[1:5]
upgrade(url)
engine = make_engine(url)
with engine.begin() as conn:
    register_model(conn, "propensity", joblib.load(model_path), load_feature_set(default_path("features.yaml")), {})
try:  # the same X Education fit rules in both trees
    from leadgate.scoring import load_fit_rules
    q = P.Qualifier.load(engine, load_default_policy(), fit_rules=load_fit_rules())
except TypeError:
    q = P.Qualifier.load(engine, load_default_policy())
m = load_mapping(mapping)
with engine.begin() as conn:
    run_id = store.start_import_run(conn, m.source, data, file_sha256(data), m.content_hash())
task = P.ChunkTask(m.source, "bench", run_id, q, "none")
spent = {k: 0.0 for k in ("read CSV rows", "map + contract checks", "lead rows, score, policy, decision rows",
                          "write leads + decisions + chain + commit")}
names = list(spent)
header, raws = read_raw_chunks(data, m, chunk_size=5000)
mapper = m.compile(header)
n = 0
while True:
    t = time.thread_time()
    raw = next(raws, None)
    if raw is None:
        break
    t1 = time.thread_time()
    chunk = map_chunk(mapper, raw)
    t2 = time.thread_time()
    out = P.process_chunk(task, chunk)
    t3 = time.thread_time()
    with engine.begin() as conn:
        store.write_leads(conn, out.lead_rows)
        store.write_dead_letters(conn, out.dead_rows)
        P.store_decisions(conn, out.decisions, out.explanations)
        store.checkpoint_run(conn, run_id, rows_committed=out.last_row, imported=len(out.lead_rows),
                             unchanged=0, rejected=len(out.dead_rows))
    t4 = time.thread_time()
    for k, dt in zip(names, (t1 - t, t2 - t1, t3 - t2, t4 - t3)):
        spent[k] += dt
    n += len(out.lead_rows)
print(json.dumps({"n": n, **{k: v / n * 1e6 for k, v in spent.items()}}))
"""


INGEST = r"""
import json, sys, time
from leadgate.ingest import load_mapping, map_chunk, read_raw_chunks

data, mapping = sys.argv[1:3]
m = load_mapping(mapping)
spent = []
for _ in range(2):  # the first pass also pays one-off set-up (Arrow kernels, pydantic adapters)
    t = time.process_time()
    header, chunks = read_raw_chunks(data, m, chunk_size=5000)
    mapper = m.compile(header)
    n = sum(len(map_chunk(mapper, raw).records) for raw in chunks)
    spent.append(time.process_time() - t)
print(json.dumps({"n": n, "cpu_seconds": spent[1], "first_pass": spent[0]}))
"""

TRAIN = r"""
import sys, joblib
from leadgate.defaults import default_path
from leadgate.features import load_feature_set
from leadgate.ingest import load_mapping
from leadgate.pipeline import load_training_data
from leadgate.scoring import PropensityScorer

leads, mapping, out = sys.argv[1:4]
td = load_training_data(leads, load_mapping(mapping), load_feature_set(default_path("features.yaml")))
joblib.dump(PropensityScorer.from_feature_set(td.feature_set).fit(td.frame, td.labels), out)
"""


def tree_env(src: Path | None) -> dict[str, str]:
    """The environment of a subprocess importing ``leadgate`` from ``src`` (None: the working tree)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src if src is not None else ROOT / "src")
    return env


def extract_baseline(rev: str, into: Path) -> Path:
    """``git archive REV src examples/xeducation/mapping.yaml`` unpacked under ``into``; returns ``src``.

    The old tree reads its own mapping file: the mapping format gained keys its loader refuses.
    """
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src", "examples/xeducation/mapping.yaml"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def compare_baseline(tmp: Path, rev: str, rows: int, rounds: int) -> None:
    """Batch qualification and the ingest stage, old tree and new tree alternated (ABBA), as ratios."""
    old_src = extract_baseline(rev, tmp / "baseline")
    trees = {"old": old_src, "new": None}
    mappings = {"old": old_src.parent / "examples" / "xeducation" / "mapping.yaml", "new": MAPPING}
    models = {}
    for name, src in trees.items():
        models[name] = tmp / f"model-{name}.joblib"
        subprocess.run(
            [sys.executable, "-c", TRAIN, str(LEADS), str(mappings[name]), str(models[name])],
            env=tree_env(src),
            check=True,
            capture_output=True,
        )
    data = [("9,240 real", LEADS, 9240)]
    if rows:
        big = tmp / "compare.csv"
        resample(rows, big)
        data.append((f"{rows:,} resampled", big, rows))
    print(f"\nold ({rev}) against new (working tree), alternated, {rounds} rounds each, --explain none")
    print(
        f"{'':>20} {'':>8} | {'batch leads/s (each run)':<34} | {'ingest CPU us/lead, 2nd pass (each run)':<30}"
    )
    for label, path, n in data:
        batch: dict[str, list[float]] = {"old": [], "new": []}
        ingest: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for name in order:
                env = tree_env(trees[name])
                res = batch_run(tmp, path, "none", models[name], env=env, mapping=mappings[name])
                assert res["decisions"] == n, res
                batch[name].append(n / res["seconds"])
                out = subprocess.run(
                    [sys.executable, "-c", INGEST, str(path), str(mappings[name])],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got = json.loads(out.stdout.strip().splitlines()[-1])
                assert got["n"] == n, got
                ingest[name].append(got["cpu_seconds"] / n * 1e6)
        for name in ("old", "new"):
            runs = " ".join(f"{x:,.0f}" for x in batch[name])
            cpu = " ".join(f"{x:.2f}" for x in ingest[name])
            print(f"{label:>20} {name:>8} | {runs:<34} | {cpu:<30}")
        ratio = statistics.median(batch["new"]) / statistics.median(batch["old"])
        speed = statistics.median(ingest["old"]) / statistics.median(ingest["new"])
        print(
            f"{label:>20} {'new/old':>8} | {f'{ratio:.2f}x leads/s (medians)':<34} | {f'{speed:.2f}x faster (medians)':<30}"
        )


CONTACT_COLUMNS = (
    "  First Name: {field: first_name, stage: pre_decision, type: string, lead_field: first_name}\n"
    "  Last Name: {field: last_name, stage: pre_decision, type: string, lead_field: last_name}\n"
    "  Email: {field: email, stage: pre_decision, type: string, lead_field: email}\n"
    "  Phone: {field: phone, stage: pre_decision, type: string, lead_field: phone}\n"
)
"""Mapping lines of the contact columns ``with_contacts`` adds (lead fields: personal data, encrypted)."""


def with_contacts(src: Path, out: Path) -> None:
    """``src`` with first name, last name, email and phone columns in front (distinct per row)."""
    firsts = ("Anna", "Bert", "Chiara", "Dmitri", "Eun-ji", "Farid", "Greta", "Hugo")
    lasts = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Schulz", "Ibrahim", "Novak", "Costa")
    with open(src, newline="", encoding="utf-8") as fh, open(out, "w", newline="", encoding="utf-8") as fo:
        reader, writer = csv.reader(fh), csv.writer(fo)
        writer.writerow(["First Name", "Last Name", "Email", "Phone", *next(reader)])
        for i, row in enumerate(reader):
            first, last = firsts[i % 8], lasts[(i // 8) % 8]
            email = f"{first.lower()}.{last.lower()}{i}@example.org"
            writer.writerow([first, last, email, f"+49 30 {i:08d}", *row])


def compare_privacy(tmp: Path, rev: str, rows: int, rounds: int) -> None:
    """Batch qualification of leads WITH contact fields: ``rev`` (no encryption) against the working tree
    (personal fields encrypted, blind index), alternated (ABBA) in fresh processes; prints leads/s and the
    new/old ratio of the medians (issue 8, item 5 asks for at least 0.8)."""
    old_src = extract_baseline(rev, tmp / "privacy-baseline")
    trees = {"old": old_src, "new": None}
    own = {"old": old_src.parent / "examples" / "xeducation" / "mapping.yaml", "new": MAPPING}
    models, mappings = {}, {}
    for name, src in trees.items():
        models[name] = tmp / f"privacy-model-{name}.joblib"
        subprocess.run(
            [sys.executable, "-c", TRAIN, str(LEADS), str(own[name]), str(models[name])],
            env=tree_env(src),
            check=True,
            capture_output=True,
        )
        mappings[name] = tmp / f"privacy-mapping-{name}.yaml"
        mappings[name].write_text(own[name].read_text(encoding="utf-8") + CONTACT_COLUMNS, encoding="utf-8")
    data = [("9,240 real", LEADS, 9240)]
    if rows:
        big = tmp / "privacy-resampled.csv"
        resample(rows, big)
        data.append((f"{rows:,} resampled", big, rows))
    keys = "bench1:" + base64.b64encode(os.urandom(32)).decode()
    print(
        f"\nleads with name, email and phone: old ({rev}, plaintext) against new (encrypted), alternated, "
        f"{rounds} rounds each, --explain none"
    )
    for label, path, n in data:
        contacts = tmp / f"contacts-{path.name}"
        with_contacts(path, contacts)
        speed: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(rounds):
            for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                env = {**tree_env(trees[name]), "LEADGATE_DATA_KEYS": keys}
                res = batch_run(tmp, contacts, "none", models[name], env=env, mapping=mappings[name])
                assert res["decisions"] == n, res
                speed[name].append(n / res["seconds"])
        for name in ("old", "new"):
            print(f"{label:>20} {name:>8} | " + " ".join(f"{x:,.0f}" for x in speed[name]) + " leads/s")
        ratio = statistics.median(speed["new"]) / statistics.median(speed["old"])
        print(f"{label:>20} {'new/old':>8} | {ratio:.2f}x leads/s (medians)", flush=True)


def stage_breakdown(tmp: Path, data: Path, model_path: Path) -> None:
    """Thread CPU time per lead of each stage, run one after the other in one thread (no writer thread).

    Thread CPU time rather than wall time, so other processes on the machine inflate it less; LightGBM's
    own threads are not counted (its prediction releases the GIL).
    """
    db = tmp / f"stages-{uuid.uuid4().hex[:8]}.db"
    out = subprocess.run(
        [sys.executable, "-c", STAGES, f"sqlite:///{db}", str(data), str(MAPPING), str(model_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for p in tmp.glob(db.name + "*"):
        p.unlink()
    n = result.pop("n")
    print(f"\nstages, one thread, thread CPU microseconds per lead ({n:,} leads, --explain none)")
    for name, us in result.items():
        print(f"{name:>45} {us:8.1f}")
    print(f"{'total':>45} {sum(result.values()):8.1f}")


def resample(n: int, path: Path, seed: int = 7) -> None:
    """Write ``n`` leads drawn with replacement from the real file, each with a fresh Prospect ID."""
    import random

    rng = random.Random(seed)
    with open(LEADS, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for _ in range(n):
            row = list(rows[rng.randrange(len(rows))])
            row[0] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            writer.writerow(row)


def train_model(path: Path, kind: str = "lightgbm") -> None:
    """Train one candidate model once and pickle it, so every run scores with the same model.

    ``kind`` is a candidate of ``leadgate.scoring.selection`` (``lightgbm``, ``logistic`` or ``blend``, the
    champion ``leadgate train`` picks on X Education).
    """
    import joblib

    from leadgate.defaults import default_path
    from leadgate.features import load_feature_set
    from leadgate.ingest import load_mapping
    from leadgate.pipeline import load_training_data
    from leadgate.scoring.selection import candidate_factories

    td = load_training_data(LEADS, load_mapping(MAPPING), load_feature_set(default_path("features.yaml")))
    joblib.dump(candidate_factories(td.feature_set)[kind]().fit(td.frame, td.labels), path)


def batch_run(
    tmp: Path,
    data: Path,
    explain: str,
    model_path: Path,
    env: dict[str, str] | None = None,
    mapping: Path = MAPPING,
) -> dict:
    db = tmp / f"bench-{uuid.uuid4().hex[:8]}.db"
    out = subprocess.run(
        [sys.executable, "-c", WORKER, f"sqlite:///{db}", str(data), str(mapping), explain, str(model_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"batch run failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["db_mb"] = sum(p.stat().st_size for p in tmp.glob(db.name + "*")) / 1e6
    for p in tmp.glob(db.name + "*"):
        p.unlink()
    return result


def percentiles(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49], qs[98]


def fresh_database(url: str, model_path: Path) -> None:
    """Migrate ``url`` and register the pickled model as ``propensity@champion``."""
    import joblib

    from leadgate.db import make_engine, upgrade
    from leadgate.defaults import default_path
    from leadgate.features import load_feature_set
    from leadgate.registry import register_model

    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        fs = load_feature_set(default_path("features.yaml"))
        register_model(conn, "propensity", joblib.load(model_path), fs, {})
    engine.dispose()


def single_in_process(tmp: Path, n: int, model_path: Path) -> tuple[float, float]:
    from leadgate.db import make_engine
    from leadgate.ingest import load_mapping, read_csv_chunks
    from leadgate.pipeline import Qualifier, qualify_leads
    from leadgate.policy import load_default_policy

    url = f"sqlite:///{tmp / 'single.db'}"
    fresh_database(url, model_path)
    engine = make_engine(url)
    from leadgate.scoring import load_fit_rules

    q = Qualifier.load(engine, load_default_policy(), fit_rules=load_fit_rules())
    leads = [lead for c in read_csv_chunks(LEADS, load_mapping(MAPPING)) for _, lead in c.leads][: n + 50]
    times = []
    for i, lead in enumerate(leads):
        t = time.perf_counter()
        d = qualify_leads(engine, q, [lead], explain="all")[0]
        elapsed = time.perf_counter() - t
        assert d.score.explanation is not None
        if i >= 50:  # warm-up
            times.append(elapsed * 1000)
    engine.dispose()
    return percentiles(times)


def integration_key(url: str) -> str:
    """An ``integration`` API key in ``url``'s database (``POST /v1/leads`` needs one)."""
    from leadgate.db import make_engine
    from leadgate.governance.api_keys import create_key

    engine = make_engine(url)
    with engine.begin() as conn:
        key, _ = create_key(conn, name="bench", role="integration", created_by="bench")
    engine.dispose()
    return key


def single_http(tmp: Path, n: int, model_path: Path) -> tuple[float, float]:
    import httpx

    from leadgate.ingest import load_mapping, read_csv_chunks

    url = f"sqlite:///{tmp / 'http.db'}"
    fresh_database(url, model_path)
    key = integration_key(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LEADGATE_DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "leadgate.api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(200):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            leads = [lead for c in read_csv_chunks(LEADS, load_mapping(MAPPING)) for _, lead in c.leads][
                : n + 50
            ]
            times = []
            for i, lead in enumerate(leads):
                body = lead.model_dump_json(exclude={"received_at"})
                t = time.perf_counter()
                r = client.post(
                    "/v1/leads",
                    content=body,
                    headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
                )
                elapsed = time.perf_counter() - t
                r.raise_for_status()
                if i >= 50:
                    times.append(elapsed * 1000)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return percentiles(times)


def explanation_rates(model_path: Path, big: Path | None) -> None:
    """rows/s of plain prediction, plain ``pred_contrib`` and the exact deduplicated TreeSHAP."""
    import joblib
    import numpy as np

    from leadgate.defaults import default_path
    from leadgate.features import load_feature_set
    from leadgate.ingest import load_mapping, read_csv_chunks

    model = joblib.load(model_path)
    model.set_params(n_jobs=-1)
    fs = load_feature_set(default_path("features.yaml"))
    sets = [("9,240 real leads", LEADS)] + ([("resampled leads (copies of real rows)", big)] if big else [])
    params = model.get_params()
    print(
        f"\nexplanations (TreeSHAP, LightGBM pred_contrib), rows/s; "
        f"{params['n_estimators']} trees x {params['num_leaves']} leaves"
    )
    print(
        f"{'data':>40} {'rows':>9} {'predict':>10} {'pred_contrib':>13} {'deduplicated':>13} {'distinct cells':>15}"
    )
    for label, path in sets:
        records = [r for c in read_csv_chunks(path, load_mapping(MAPPING)) for _, r in c.records][:200_000]
        matrix = model.encode(fs.frame_from_records([r["attributes"] for r in records]))
        n = len(matrix)
        t = time.perf_counter()
        model.predict_proba(matrix)
        predict = n / (time.perf_counter() - t)
        t = time.perf_counter()
        plain = model.contributions(matrix, optimized=False)
        plain_rate = n / (time.perf_counter() - t)
        t = time.perf_counter()
        fast = model.contributions(matrix, optimized=True)
        fast_rate = n / (time.perf_counter() - t)
        assert np.array_equal(plain, fast), "deduplicated TreeSHAP must equal pred_contrib exactly"
        cells = len(np.unique(model.cells_.keys(matrix), axis=0))
        print(f"{label:>40} {n:>9,} {predict:>10,.0f} {plain_rate:>13,.0f} {fast_rate:>13,.0f} {cells:>15,}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big", type=int, default=1_000_000, help="resampled leads for the large run")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument(
        "--big-explain-none-only", action="store_true", help="skip --explain all on the large file"
    )
    parser.add_argument("--single", type=int, default=1000, help="single-lead requests to time")
    parser.add_argument(
        "--stages", type=int, default=0, help="also print CPU per lead per stage on this many resampled leads"
    )
    parser.add_argument(
        "--baseline", default="6270715", help="git revision to compare against ('none' to skip)"
    )
    parser.add_argument("--compare-rows", type=int, default=100_000, help="resampled leads in the comparison")
    parser.add_argument("--rounds", type=int, default=2, help="alternated runs of each tree")
    parser.add_argument("--compare-only", action="store_true", help="print only the old-vs-new comparison")
    parser.add_argument(
        "--privacy-baseline",
        default=None,
        help="git revision before encryption at rest: compare leads with contact fields against it, then stop",
    )
    parser.add_argument(
        "--model",
        default="lightgbm",
        choices=("lightgbm", "logistic", "blend"),
        help="model scoring the batch and single-lead runs (the comparison always uses LightGBM in both trees)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadgate-bench-") as d:
        tmp = Path(d)
        if args.privacy_baseline:
            print(
                f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; SQLite file database (WAL)"
            )
            compare_privacy(tmp, args.privacy_baseline, args.compare_rows, args.rounds)
            return
        if args.baseline != "none":
            print(
                f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; SQLite file database (WAL)"
            )
            compare_baseline(tmp, args.baseline, args.compare_rows, args.rounds)
            if args.compare_only:
                return
        model_path = tmp / "model.joblib"
        train_model(model_path, args.model)
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; SQLite file database (WAL)")
        print(f"model: {args.model}")
        print("\nbatch qualification (import + score + policy + audited decisions, written to SQLite)")
        print(f"{'':>10} | {'--explain none':^33} | {'--explain all':^33}")
        cols = f"{'seconds':>8} {'leads/s':>9} {'peak RSS':>14}"
        print(f"{'leads':>10} | {cols} | {cols}")
        datasets = [(LEADS, 9240, ("none", "all"))]
        if not args.skip_big:
            big = tmp / "big.csv"
            resample(args.big, big)
            datasets.append((big, args.big, ("none",) if args.big_explain_none_only else ("none", "all")))
        for data, n, modes in datasets:
            cells = []
            for explain in modes:
                r = batch_run(tmp, data, explain, model_path)
                assert r["decisions"] == n, r
                assert r["explained"] == (n if explain == "all" else 0), r
                rss = f"{r['peak_rss'] / 2**20:,.0f} MB"
                cells.append(f"{r['seconds']:>8.2f} {n / r['seconds']:>9,.0f} {rss:>14}")
            print(f"{n:>10,} | " + " | ".join(cells), flush=True)
        if args.stages:
            stages_csv = tmp / "stages.csv"
            resample(args.stages, stages_csv)
            stage_breakdown(tmp, stages_csv, model_path)
        if args.model == "lightgbm":  # TreeSHAP rates of the LightGBM booster
            explanation_rates(model_path, None if args.skip_big else tmp / "big.csv")
        p50, p99 = single_in_process(tmp, args.single, model_path)
        print(
            f"\nsingle lead, in process, stored, with explanation: p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({args.single} leads)"
        )
        p50, p99 = single_http(tmp, args.single, model_path)
        print(
            f"single lead, HTTP POST /v1/leads (uvicorn, 127.0.0.1): p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({args.single} requests)"
        )


if __name__ == "__main__":
    main()
