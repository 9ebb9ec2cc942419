"""Crash-safe runs, proved with ``kill -9`` on SQLite and PostgreSQL (issue 7, item 5).

* ``--resume`` of a run that already finished is a no-op that says so (it used to decide every lead again);
* ``qualify`` after a killed ``import`` decides every lead of the file (it used to resume the import's
  offset and leave the first part undecided);
* the ``--out`` CSV is crash-consistent: a killed run never leaves it short or headerless.

The commands run as a user runs them: ``python -m leadgate.cli`` in a subprocess, on the X Education
project (no model registered, so the project's rule fallback decides: no training needed).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from tests.conftest import EXAMPLES
from tests.integration.test_import import _make_file

from leadgate.db.store import DECISIONS, LEADS, RUNS
from leadgate.pipeline import DECISION_CSV_COLUMNS

N_ROWS = 30_000


def _cli(db_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "leadgate.cli", *args, "--database-url", db_url]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "300"}


def _scalar(engine: Engine, query: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]


def _kill_after(proc: subprocess.Popen[bytes], engine: Engine, kind: str, rows: int) -> int:
    """SIGKILL ``proc`` once its run of ``kind`` has committed at least ``rows`` rows; returns them."""
    deadline = time.monotonic() + 180
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        committed = _scalar(
            engine,
            select(func.coalesce(func.max(RUNS.c.rows_committed), 0)).where(RUNS.c.kind == kind),
        )
        if committed >= rows:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"not killed midway: {err!r}"
    return committed


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert next(reader) == DECISION_CSV_COLUMNS
        return [dict(zip(DECISION_CSV_COLUMNS, row, strict=True)) for row in reader]


def test_resume_of_a_finished_qualify_run_is_a_no_op(db_url: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    good, _ = _make_file(path, 400, bad_every=100)
    out = tmp_path / "decisions.csv"
    base = ["qualify", str(path), "--project", str(EXAMPLES), "--out", str(out)]
    first = subprocess.run(_cli(db_url, *base), env=_env(), capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert _scalar(engine, select(func.count()).select_from(DECISIONS)) == len(good)
    before = out.read_bytes()

    again = subprocess.run(
        _cli(db_url, *base, "--resume"), env=_env(), capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "already finished" in again.stdout and "nothing to do" in again.stdout
    assert _scalar(engine, select(func.count()).select_from(DECISIONS)) == len(good)  # not doubled
    assert {r["lead_id"] for r in _read_csv(out)} == good  # exported again from the stored decisions
    assert out.read_bytes() == before


def test_qualify_after_a_killed_import_decides_every_lead(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    good, bad = _make_file(path, N_ROWS, bad_every=997)
    imp = _cli(db_url, "import", str(path), "--project", str(EXAMPLES), "--chunk-size", "500")
    proc = subprocess.Popen(imp, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_at = _kill_after(proc, engine, "import", 3000)
    assert killed_at < N_ROWS

    done = subprocess.run(
        _cli(db_url, "qualify", str(path), "--project", str(EXAMPLES), "--explain", "none"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        decided = set(conn.execute(select(DECISIONS.c.lead_id)).scalars())
        n_decisions = conn.execute(select(func.count()).select_from(DECISIONS)).scalar_one()
        runs = {r["kind"]: r for r in conn.execute(select(RUNS)).mappings()}
        n_leads = conn.execute(select(func.count()).select_from(LEADS)).scalar_one()
    assert decided == good and n_decisions == len(good)  # every lead once, the first part included
    assert n_leads == len(good)
    assert runs["qualify"]["status"] == "completed" and runs["qualify"]["rows_committed"] == N_ROWS
    assert runs["import"]["status"] == "running"  # the killed import is still there for `import --resume`
    assert bad > 0


def test_a_killed_qualify_never_leaves_a_short_csv(db_url: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    good, _ = _make_file(path, N_ROWS, bad_every=0)
    out = tmp_path / "decisions.csv"
    out.write_text("previous export\n", encoding="utf-8")
    cmd = _cli(
        db_url,
        "qualify",
        str(path),
        "--project",
        str(EXAMPLES),
        "--out",
        str(out),
        "--explain",
        "none",
        "--chunk-size",
        "500",
    )
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_at = _kill_after(proc, engine, "qualify", 3000)
    assert 3000 <= killed_at < N_ROWS
    assert out.read_text(encoding="utf-8") == "previous export\n"  # untouched: never short, never headerless

    plain = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False)
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    errors = [line for line in plain.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--resume" in errors[0]  # one line, the whole message

    done = subprocess.run(
        [*cmd, "--resume"], env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    rows = _read_csv(out)
    assert len(rows) == len(good) and {r["lead_id"] for r in rows} == good
    assert _scalar(engine, select(func.count()).select_from(DECISIONS)) == len(good)
    assert not out.with_name(out.name + ".partial").exists()
    assert f"{N_ROWS} decisions" in done.stdout.replace(",", "")
