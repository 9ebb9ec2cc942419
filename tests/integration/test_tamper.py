"""Tampering with the audit log, on SQLite and PostgreSQL: every kind is detected.

A few hundred X Education leads are qualified with the shipped pipeline, with signed checkpoints of the
chain head written to a file outside the database (``leadgate.audit.checkpoint``). Then one kind of
tampering an attacker with write access to the database could do is applied, and both
``verify_audit_log(engine, checkpoints, key)`` and ``leadgate audit verify --checkpoints FILE`` must
report it (exit 1, one line). Legitimate changes (a lead re-imported with new content, a lead decided
again, an explanation computed on request) must not raise an alarm.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, delete, select, update
from tests.api.conftest import Trained, register, shipped_qualifier, trained_model
from tests.conftest import LEADS_CSV, MAPPING
from typer.testing import CliRunner

from leadgate.audit.chain import GENESIS_HASH, chain_hash, decision_record
from leadgate.audit.log import explain_stored, verify_audit_log
from leadgate.cli import app
from leadgate.config import get_settings
from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.db.store import DECISIONS, EXPLANATIONS, HEAD, LEADS
from leadgate.ingest import input_hash, load_mapping
from leadgate.pipeline import import_file, qualify_file, qualify_leads

N_FILE = 300
KEY = "test-audit-key-0123456789abcdef"


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The shared trained model (trained once per session, see tests/api/conftest.py)."""
    return trained_model()


@dataclass
class Log:
    """A qualified database, its URL and the checkpoint file its writers appended to."""

    engine: Engine
    url: str
    checkpoints: Path
    rows: list[dict[str, Any]]
    explained: list[str]  # decision ids with an inline explanation
    on_request: str  # decision id whose explanation was computed on request


@pytest.fixture
def audit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings with an audit key and a checkpoint file in tmp_path."""
    path = tmp_path / "checkpoints" / "audit-checkpoints.jsonl"
    monkeypatch.setenv("LEADGATE_AUDIT_KEY", KEY)
    monkeypatch.setenv("LEADGATE_AUDIT_CHECKPOINTS", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _csv(lines: list[str], path: Path) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def log(engine: Engine, db_url: str, trained: Trained, tmp_path: Path, audit_env: Path) -> Log:
    """N_FILE leads from a file in chunks, API leads with inline explanations, one on-request explanation,
    a lead decided twice and a decided lead re-imported (without a decision) with new content."""
    register(engine, trained)
    qualifier = shipped_qualifier(engine)
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()
    mapping = load_mapping(MAPPING)
    qualify_file(
        engine,
        _csv(lines[: N_FILE + 1], tmp_path / "leads.csv"),
        mapping,
        qualifier,
        explain="none",
        chunk_size=50,
    )
    attrs = {"lead_origin": "API", "total_visits": 3, "total_time_on_site": 300}
    api = [Lead(lead_id=f"api-{i}", attributes={**attrs, "total_visits": i}) for i in range(1, 6)]
    qualify_leads(engine, qualifier, api, explain="all")
    # decided again with new content: the older decision no longer matches the lead, legitimately
    qualify_leads(
        engine, qualifier, [Lead(lead_id="api-1", attributes={**attrs, "total_visits": 9})], explain="all"
    )
    qualify_leads(engine, qualifier, [Lead(lead_id="api-late", attributes=attrs)], explain="none")
    rows = _rows(engine)
    late = rows[-1]
    assert late["lead_id"] == "api-late"
    explain_stored(engine, qualifier, late)
    # a decided lead re-imported without a decision: its data changes, its latest decision stays
    record = next(csv.reader(io.StringIO(lines[3])))
    header = next(csv.reader(io.StringIO(lines[0])))
    record[header.index("TotalVisits")] = "97"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(record)
    import_file(engine, _csv([lines[0], out.getvalue()], tmp_path / "update.csv"), mapping)
    with engine.connect() as conn:
        explained = list(
            conn.execute(
                select(EXPLANATIONS.c.decision_id).where(EXPLANATIONS.c.computed == "inline")
            ).scalars()
        )
    assert len(explained) == 6
    return Log(engine, db_url, audit_env, _rows(engine), explained, late["decision_id"])


def _rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return list(store.iter_decisions(conn))


def _cli(log: Log) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["audit", "verify", "--database-url", log.url, "--checkpoints", str(log.checkpoints)]
    )
    return result.exit_code, result.output


def _set(log: Log, position: int, **values: Any) -> None:
    with log.engine.begin() as conn:
        conn.execute(update(DECISIONS).where(DECISIONS.c.id == log.rows[position - 1]["id"]).values(**values))


def _rehash_all(log: Log) -> None:
    """What an attacker with database access does after an edit: recompute every hash and the head."""
    prev = GENESIS_HASH
    rows = _rows(log.engine)
    with log.engine.begin() as conn:
        for row in rows:
            new = chain_hash(prev, decision_record(row))
            conn.execute(
                update(DECISIONS).where(DECISIONS.c.id == row["id"]).values(prev_hash=prev, record_hash=new)
            )
            prev = new
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=prev, count=len(rows)))


def _file_row(log: Log, position: int) -> dict[str, Any]:
    row = log.rows[position - 1]
    assert row["lead_id"].isdigit() or not row["lead_id"].startswith("api"), row["lead_id"]
    return row


# --------------------------------------------------------------------------- the kinds of tampering


def edit_tier(log: Log) -> None:
    row = _file_row(log, 100)
    _set(log, 100, tier="hot" if row["tier"] != "hot" else "cold")


def edit_probability(log: Log) -> None:
    _set(log, 42, probability=1.0 - log.rows[41]["probability"])


def edit_features(log: Log) -> None:
    features = orjson.loads(log.rows[9]["features"])
    features["total_visits"] = 99
    _set(log, 10, features=orjson.dumps(features, option=orjson.OPT_SORT_KEYS).decode())


def edit_model_version(log: Log) -> None:
    _set(log, 77, model_version="999")


def edit_policy_version(log: Log) -> None:
    _set(log, 150, policy_version="tampered@1")


def edit_reasons(log: Log) -> None:
    _set(log, 200, reasons='["approved by the CEO"]')


def edit_actor(log: Log) -> None:
    _set(log, 12, actor="human:mallory")


def edit_decided_at(log: Log) -> None:
    _set(log, 13, decided_at="2020-01-01T00:00:00.000000Z")


def edit_input_hash(log: Log) -> None:
    _set(log, 14, input_hash="f" * 64)


def edit_prev_hash(log: Log) -> None:
    _set(log, 15, prev_hash="e" * 64)


def delete_middle(log: Log) -> None:
    with log.engine.begin() as conn:
        conn.execute(delete(DECISIONS).where(DECISIONS.c.id == _file_row(log, 120)["id"]))


def reorder_two(log: Log) -> None:
    a, b = _file_row(log, 60), _file_row(log, 61)
    keep = {"id"}
    with log.engine.begin() as conn:
        conn.execute(update(DECISIONS).where(DECISIONS.c.id == a["id"]).values(decision_id="swap-a"))
        conn.execute(update(DECISIONS).where(DECISIONS.c.id == b["id"]).values(decision_id="swap-b"))
        for target, source in ((a, b), (b, a)):
            values = {k: v for k, v in source.items() if k not in keep}
            conn.execute(update(DECISIONS).where(DECISIONS.c.id == target["id"]).values(**values))


def delete_last(log: Log) -> None:
    last = log.rows[-1]
    with log.engine.begin() as conn:
        conn.execute(delete(EXPLANATIONS).where(EXPLANATIONS.c.decision_id == last["decision_id"]))
        conn.execute(delete(DECISIONS).where(DECISIONS.c.id == last["id"]))


def truncate_and_move_head(log: Log) -> None:
    keep = len(log.rows) - 60
    gone = log.rows[keep:]
    with log.engine.begin() as conn:
        ids = [r["decision_id"] for r in gone]
        conn.execute(delete(EXPLANATIONS).where(EXPLANATIONS.c.decision_id.in_(ids)))
        conn.execute(delete(DECISIONS).where(DECISIONS.c.decision_id.in_(ids)))
        conn.execute(
            update(HEAD).where(HEAD.c.id == 1).values(last_hash=log.rows[keep - 1]["record_hash"], count=keep)
        )


def reset_to_genesis(log: Log) -> None:
    with log.engine.begin() as conn:
        conn.execute(update(LEADS).values(latest_decision_id=None))
        conn.execute(delete(EXPLANATIONS))
        conn.execute(delete(DECISIONS))
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=GENESIS_HASH, count=0))


def recompute_after_tier_edit(log: Log) -> None:
    edit_tier(log)
    _rehash_all(log)


def rehash_last_and_head(log: Log) -> None:
    last = log.rows[-1]
    with log.engine.begin() as conn:
        conn.execute(update(DECISIONS).where(DECISIONS.c.id == last["id"]).values(tier="hot"))
    _rehash_all(log)


def forged_append(log: Log) -> None:
    last = dict(log.rows[-1])
    forged = {k: v for k, v in last.items() if k != "id"}
    forged.update(
        decision_id=store.new_id(), tier="hot", actor="human:mallory", prev_hash=last["record_hash"]
    )
    forged["record_hash"] = chain_hash(last["record_hash"], decision_record(forged))
    with log.engine.begin() as conn:
        conn.execute(DECISIONS.insert().values(**forged))
        conn.execute(
            update(HEAD)
            .where(HEAD.c.id == 1)
            .values(last_hash=forged["record_hash"], count=len(log.rows) + 1)
        )


def edit_explanation(log: Log) -> None:
    with log.engine.begin() as conn:
        conn.execute(
            update(EXPLANATIONS)
            .where(EXPLANATIONS.c.decision_id == log.explained[0])
            .values(explanation=EXPLANATIONS.c.explanation + " ")
        )


def _rewrite_explanation(log: Log, decision_id: str) -> None:
    import hashlib

    with log.engine.begin() as conn:
        text = conn.execute(
            select(EXPLANATIONS.c.explanation).where(EXPLANATIONS.c.decision_id == decision_id)
        ).scalar_one()
        doc = orjson.loads(text)
        doc["summary"] = "tampered"
        new = orjson.dumps(doc).decode()
        conn.execute(
            update(EXPLANATIONS)
            .where(EXPLANATIONS.c.decision_id == decision_id)
            .values(explanation=new, explanation_hash=hashlib.sha256(new.encode()).hexdigest())
        )


def edit_explanation_and_hash(log: Log) -> None:
    _rewrite_explanation(log, log.explained[2])


def edit_on_request_explanation_and_hash(log: Log) -> None:
    _rewrite_explanation(log, log.on_request)


def delete_inline_explanation(log: Log) -> None:
    with log.engine.begin() as conn:
        conn.execute(delete(EXPLANATIONS).where(EXPLANATIONS.c.decision_id == log.explained[1]))


def delete_on_request_explanation(log: Log) -> None:
    with log.engine.begin() as conn:
        conn.execute(delete(EXPLANATIONS).where(EXPLANATIONS.c.decision_id == log.on_request))


def _lead(log: Log, lead_id: str) -> dict[str, Any]:
    with log.engine.connect() as conn:
        return orjson.loads(conn.execute(select(LEADS.c.data).where(LEADS.c.lead_id == lead_id)).scalar_one())


def edit_stored_lead(log: Log) -> None:
    lead_id = log.rows[30]["lead_id"]
    data = _lead(log, lead_id)
    data["attributes"]["total_visits"] = 250
    with log.engine.begin() as conn:
        conn.execute(update(LEADS).where(LEADS.c.lead_id == lead_id).values(data=orjson.dumps(data).decode()))


def edit_stored_lead_and_its_hash(log: Log) -> None:
    lead_id = "api-3"
    data = _lead(log, lead_id)
    data["attributes"]["total_visits"] = 250
    with log.engine.begin() as conn:
        conn.execute(
            update(LEADS)
            .where(LEADS.c.lead_id == lead_id)
            .values(data=orjson.dumps(data).decode(), input_hash=input_hash(data))
        )


def edit_checkpoint_file(log: Log) -> None:
    lines = log.checkpoints.read_bytes().splitlines()
    doc = orjson.loads(lines[1])
    doc["count"] -= 1
    lines[1] = orjson.dumps(doc)
    log.checkpoints.write_bytes(b"\n".join(lines) + b"\n")


TAMPERING: dict[str, Callable[[Log], None]] = {
    f.__name__: f
    for f in (
        edit_tier,
        edit_probability,
        edit_features,
        edit_model_version,
        edit_policy_version,
        edit_reasons,
        edit_actor,
        edit_decided_at,
        edit_input_hash,
        edit_prev_hash,
        delete_middle,
        reorder_two,
        delete_last,
        truncate_and_move_head,
        reset_to_genesis,
        recompute_after_tier_edit,
        rehash_last_and_head,
        forged_append,
        edit_explanation,
        edit_explanation_and_hash,
        edit_on_request_explanation_and_hash,
        delete_inline_explanation,
        delete_on_request_explanation,
        edit_stored_lead,
        edit_stored_lead_and_its_hash,
        edit_checkpoint_file,
    )
}


def test_an_untouched_log_verifies_with_its_checkpoints(log: Log) -> None:
    lines = log.checkpoints.read_text().splitlines()
    # one line per commit: 6 file chunks, 3 API calls, 1 on-request explanation (the import decides nothing)
    assert len(lines) == 10
    assert verify_audit_log(log.engine, log.checkpoints, KEY.encode())[2] is None
    code, output = _cli(log)
    assert code == 0, output
    assert f"audit chain intact: {len(log.rows)} decisions" in output


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_detected(log: Log, kind: str) -> None:
    TAMPERING[kind](log)
    problem = verify_audit_log(log.engine, log.checkpoints, KEY.encode())[2]
    assert problem is not None, kind
    assert "\n" not in problem
    code, output = _cli(log)
    assert code == 1, output
    assert output.strip().startswith("error:")
    assert len(output.strip().splitlines()) == 1, output


def test_a_wrong_key_is_refused(log: Log) -> None:
    problem = verify_audit_log(log.engine, log.checkpoints, b"another key")[2]
    assert problem is not None and "invalid signature" in problem


def test_verify_without_checkpoints_still_passes_old_chains(log: Log) -> None:
    # no checkpoint file (a chain written before checkpoints existed): the database checks still apply
    assert verify_audit_log(log.engine)[2] is None
    result = CliRunner().invoke(app, ["audit", "verify", "--database-url", log.url])
    assert result.exit_code == 0, result.output
