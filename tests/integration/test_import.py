"""CSV import on SQLite and PostgreSQL: idempotency, dead letters, and resume after ``kill -9``."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.db import store
from leadgate.db.store import DEAD, LEADS, RUNS
from leadgate.ingest import load_mapping
from leadgate.pipeline import ImportInProgressError, import_file


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _make_file(path: Path, n_rows: int, bad_every: int) -> tuple[set[str], int]:
    """Resample the real leads with fresh ids; every ``bad_every``-th row gets a non-numeric TotalVisits."""
    with open(LEADS_CSV, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    good_ids: set[str] = set()
    bad = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(n_rows):
            row = list(rows[i % len(rows)])
            row[0] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lead-{i}"))
            if bad_every and i % bad_every == bad_every - 1:
                row[7] = "many"
                bad += 1
            else:
                good_ids.add(row[0])
            writer.writerow(row)
    return good_ids, bad


def test_import_twice_creates_no_duplicates(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    good, bad = _make_file(path, 3000, bad_every=500)
    mapping = load_mapping(MAPPING)
    first = import_file(engine, path, mapping, chunk_size=700)
    assert (first.imported, first.rejected, first.unchanged) == (len(good), bad, 0)
    second = import_file(engine, path, mapping, chunk_size=700)
    assert (second.imported, second.rejected, second.unchanged) == (0, bad, len(good))
    assert _count(engine, LEADS) == len(good)
    assert _count(engine, DEAD) == bad
    with engine.connect() as conn:
        reasons = [store.decrypt_dead_letter(conn, dict(r)) for r in conn.execute(select(DEAD)).mappings()]
    assert all("columns.TotalVisits: expected a number, got 'many'" in r["reason"] for r in reasons)
    assert sorted(r["row_number"] for r in reasons) == list(range(500, 3001, 500))
    assert all(r["record"]["TotalVisits"] == "many" for r in reasons)  # the raw record, decrypted


def test_changed_record_is_updated_not_duplicated(engine: Engine, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPING)
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "a.csv"
    path.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
    import_file(engine, path, mapping)
    row = lines[1].split(",")
    row[7] = "99"
    path.write_text("\n".join([lines[0], ",".join(row)]) + "\n", encoding="utf-8")
    summary = import_file(engine, path, mapping)
    assert (summary.imported, summary.updated, summary.unchanged) == (0, 1, 0)
    assert _count(engine, LEADS) == 10
    with engine.connect() as conn:
        data = conn.execute(select(LEADS.c.data).where(LEADS.c.lead_id == row[0])).scalar_one()
    assert '"total_visits":99.0' in data


def test_unfinished_run_must_be_resumed(engine: Engine, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPING)
    path = tmp_path / "leads.csv"
    _make_file(path, 50, bad_every=0)
    with engine.begin() as conn:
        from leadgate.db import store
        from leadgate.ingest import file_sha256

        run_id = store.start_import_run(
            conn, mapping.source, str(path), file_sha256(path), mapping.content_hash()
        )
        store.checkpoint_run(conn, run_id, rows_committed=10, imported=0, unchanged=0, rejected=0)
    try:
        import_file(engine, path, mapping)
    except ImportInProgressError as exc:
        assert "--resume" in str(exc)
    else:
        raise AssertionError("an unfinished run must block a fresh import")
    summary = import_file(engine, path, mapping, resume=True)
    assert (summary.resumed_from, summary.imported) == (10, 40)


def test_a_run_that_committed_nothing_does_not_block(engine: Engine, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPING)
    path = tmp_path / "leads.csv"
    _make_file(path, 50, bad_every=0)
    with engine.begin() as conn:
        from leadgate.db import store
        from leadgate.ingest import file_sha256

        store.start_import_run(conn, mapping.source, str(path), file_sha256(path), mapping.content_hash())
    summary = import_file(engine, path, mapping)
    assert (summary.resumed_from, summary.imported) == (0, 50)
    with engine.connect() as conn:
        statuses = sorted(conn.execute(select(RUNS.c.status)).scalars())
    assert statuses == ["abandoned", "completed"]


def test_resume_of_a_finished_import_is_a_no_op(engine: Engine, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPING)
    path = tmp_path / "leads.csv"
    _make_file(path, 120, bad_every=0)
    first = import_file(engine, path, mapping)
    again = import_file(engine, path, mapping, resume=True)
    assert again.status == "already_completed"
    assert again.run_id == first.run_id and again.imported == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RUNS)).scalar_one() == 1


def test_import_killed_midway_resumes_with_nothing_lost_or_doubled(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    n_rows = 40_000
    good, bad = _make_file(path, n_rows, bad_every=997)
    env = {**os.environ, "LEADGATE_DATABASE_URL": db_url}
    cmd = [
        sys.executable,
        "-m",
        "leadgate.cli",
        "import",
        str(path),
        "--mapping",
        str(MAPPING),
        "--chunk-size",
        "250",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    committed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with engine.connect() as conn:
            committed = conn.execute(select(func.coalesce(func.max(RUNS.c.rows_committed), 0))).scalar_one()
        if committed >= 3000:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"import was not killed midway: {stderr!r}"
    with engine.connect() as conn:
        run = conn.execute(select(RUNS)).mappings().one()
        stored = _count(engine, LEADS)
    assert run["status"] == "running"
    assert 3000 <= run["rows_committed"] < n_rows
    # Everything up to the checkpoint is stored, nothing after it (chunk and checkpoint share a transaction).
    assert stored + _count(engine, DEAD) == run["rows_committed"]

    done = subprocess.run(
        [*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"{run['rows_committed']}" in done.stdout  # "resumed from row" column
    with engine.connect() as conn:
        ids = set(conn.execute(select(LEADS.c.lead_id)).scalars())
        runs = conn.execute(select(RUNS)).mappings().all()
        dupes = conn.execute(
            text("SELECT count(*) FROM (SELECT lead_id FROM leads GROUP BY lead_id HAVING count(*) > 1) d")
        ).scalar_one()
    assert ids == good
    assert dupes == 0
    assert _count(engine, DEAD) == bad
    assert len(runs) == 1 and runs[0]["status"] == "completed"
    assert runs[0]["rows_committed"] == n_rows
    assert runs[0]["rows_imported"] + runs[0]["rows_rejected"] == n_rows
