"""The decision hash chain on SQLite and PostgreSQL: intact after qualification, and any change, deletion
or re-hashed edit of a stored decision is found at the right position, by the library and by
``leadgate audit verify``."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update
from tests.api.conftest import Trained, register, shipped_qualifier, trained_model
from tests.conftest import LEADS_CSV, MAPPING
from typer.testing import CliRunner

from leadgate.audit import verify_chain
from leadgate.audit.chain import chain_hash, decision_record
from leadgate.cli import app
from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.db.store import DECISIONS, EXPLANATIONS
from leadgate.ingest import load_mapping
from leadgate.pipeline import qualify_file, qualify_leads

N_FILE = 120


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The shared trained model (trained once per session, see tests/api/conftest.py)."""
    return trained_model()


@pytest.fixture
def qualified(engine: Engine, trained: Trained, tmp_path: Path) -> list[dict[str, Any]]:
    """A database holding N_FILE decisions from a file and two from the API path; returns the rows."""
    register(engine, trained)
    qualifier = shipped_qualifier(engine)
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(lines[: N_FILE + 1]) + "\n", encoding="utf-8")
    qualify_file(engine, path, load_mapping(MAPPING), qualifier, explain="none", chunk_size=50)
    attrs = {"lead_origin": "API", "total_visits": 3, "total_time_on_site": 300}
    qualify_leads(engine, qualifier, [Lead(lead_id="api-1", attributes=attrs)], explain="all")
    qualify_leads(engine, qualifier, [Lead(lead_id="api-2", attributes=attrs)], explain="none")
    rows = all_rows(engine)
    assert len(rows) == N_FILE + 2
    return rows


def all_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return list(store.iter_decisions(conn))


def verify(engine: Engine) -> tuple[int, Any]:
    with engine.connect() as conn:
        return verify_chain(store.iter_decisions(conn))


def cli_verify(db_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--database-url", db_url])
    return result.exit_code, " ".join(result.output.split())


def set_column(engine: Engine, row_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(DECISIONS).where(DECISIONS.c.id == row_id).values(**values))


def test_chain_is_intact_after_qualification(
    engine: Engine, db_url: str, qualified: list[dict[str, Any]]
) -> None:
    assert verify(engine) == (len(qualified), None)
    assert qualified[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["record_hash"] for a, b in itertools.pairwise(qualified))
    with engine.connect() as conn:
        head, n = store.chain_head(conn)
    assert (head, n) == (qualified[-1]["record_hash"], len(qualified))
    code, output = cli_verify(db_url)
    assert code == 0, output
    assert f"audit chain intact: {len(qualified)} decisions" in output


@pytest.mark.parametrize(
    ("position", "change"),
    [
        (7, lambda row: {"probability": min(1.0, row["probability"] + 0.05)}),
        (N_FILE, lambda row: {"tier": "hot" if row["tier"] != "hot" else "warm"}),
        (N_FILE + 2, lambda row: {"review_required": not row["review_required"]}),  # the last decision
        (1, lambda row: {"features": row["features"].replace("}", ', "tags": "Will revert after reading"}')}),
    ],
    ids=["probability", "tier", "last-review", "first-features"],
)
def test_a_changed_decision_is_found_at_its_position(
    engine: Engine, db_url: str, qualified: list[dict[str, Any]], position: int, change: Any
) -> None:
    row = qualified[position - 1]
    original = {k: row[k] for k in change(row)}
    set_column(engine, row["id"], **change(row))
    checked, broken = verify(engine)
    assert broken is not None
    assert (checked, broken.position, broken.decision_id) == (position, position, row["decision_id"])
    assert broken.reason == "record changed after it was written"
    code, output = cli_verify(db_url)
    assert code == 1
    assert f"chain broken at decision #{position} ({row['decision_id']})" in output

    set_column(engine, row["id"], **original)  # put it back: the chain verifies again
    assert verify(engine) == (len(qualified), None)
    assert cli_verify(db_url)[0] == 0


def test_a_changed_decision_with_a_recomputed_hash_breaks_the_next_link(
    engine: Engine, db_url: str, qualified: list[dict[str, Any]]
) -> None:
    position = 30
    row = dict(qualified[position - 1])
    row["action"] = "route_to_sales" if row["action"] != "route_to_sales" else "discard"
    forged = chain_hash(row["prev_hash"], decision_record(row))
    set_column(engine, row["id"], action=row["action"], record_hash=forged)
    _checked, broken = verify(engine)
    assert broken is not None
    assert (broken.position, broken.decision_id) == (position + 1, qualified[position]["decision_id"])
    assert broken.reason == "prev_hash does not match the previous record"
    assert cli_verify(db_url)[0] == 1


def test_the_last_decision_changed_with_a_recomputed_hash_is_caught_by_the_head(
    engine: Engine, db_url: str, qualified: list[dict[str, Any]]
) -> None:
    # Nothing follows the last decision, so only the chain head (last hash, count) anchors it.
    row = dict(qualified[-1])
    row["probability"] = 1.0 - row["probability"]
    set_column(
        engine,
        row["id"],
        probability=row["probability"],
        record_hash=chain_hash(row["prev_hash"], decision_record(row)),
    )
    assert verify(engine) == (len(qualified), None)  # the links alone still agree
    code, output = cli_verify(db_url)
    assert code == 1, output
    assert "head" in output


def test_a_deleted_decision_is_found(engine: Engine, db_url: str, qualified: list[dict[str, Any]]) -> None:
    position = 50
    victim = qualified[position - 1]
    with engine.begin() as conn:
        conn.execute(delete(EXPLANATIONS).where(EXPLANATIONS.c.decision_id == victim["decision_id"]))
        conn.execute(delete(DECISIONS).where(DECISIONS.c.id == victim["id"]))
    _checked, broken = verify(engine)
    assert broken is not None
    # The row after the deleted one now sits at its position and no longer links to its predecessor.
    assert (broken.position, broken.decision_id) == (position, qualified[position]["decision_id"])
    assert broken.reason == "prev_hash does not match the previous record"
    code, output = cli_verify(db_url)
    assert code == 1 and f"chain broken at decision #{position}" in output


def test_a_deleted_last_decision_is_found_by_the_count(
    engine: Engine, db_url: str, qualified: list[dict[str, Any]]
) -> None:
    last = qualified[-1]
    with engine.begin() as conn:
        conn.execute(delete(EXPLANATIONS).where(EXPLANATIONS.c.decision_id == last["decision_id"]))
        conn.execute(delete(DECISIONS).where(DECISIONS.c.id == last["id"]))
        assert conn.execute(select(DECISIONS.c.id).where(DECISIONS.c.id == last["id"])).first() is None
    assert verify(engine) == (len(qualified) - 1, None)  # what is left still links up
    code, output = cli_verify(db_url)
    assert code == 1
    assert f"chain head counts {len(qualified)} decisions but only {len(qualified) - 1} are stored" in output
