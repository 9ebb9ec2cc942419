"""A lead's latest decision is found through ``leads.latest_decision_id`` (migration 0004), on SQLite and
PostgreSQL: the migration points existing leads at their newest decision and drops the lead-id index of
``decisions``; new decisions keep the pointer up to date, including a lead decided twice in one batch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, inspect, text

from leadgate.audit import GENESIS_HASH
from leadgate.db import make_engine, store, upgrade
from leadgate.db.engine import alembic_config

DECISION_COLUMNS = (
    "decision_id, lead_id, decided_at, input_hash, feature_set, features, model_name, model_version, "
    "model_hash, scorer, fallback_reason, probability, confidence, fit_score, policy_version, tier, action, "
    "reasons, review_required, actor"
)


def decision(decision_id: str, lead_id: str, tier: str = "warm") -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "lead_id": lead_id,
        "decided_at": "2026-11-22T00:00:00.000000Z",
        "input_hash": "a" * 64,
        "feature_set": "fs@1",
        "features": "{}",
        "model_name": "m",
        "model_version": "1",
        "model_hash": "b" * 64,
        "scorer": "model",
        "fallback_reason": None,
        "probability": 0.5,
        "confidence": 0.9,
        "fit_score": 50.0,
        "policy_version": "p@1",
        "tier": tier,
        "action": "nurture",
        "reasons": "[]",
        "review_required": False,
        "actor": "test",
    }


def lead(lead_id: str) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "source": "test",
        "received_at": store.utcnow(),
        "input_hash": "c" * 64,
        "content_hash": "d" * 64,
        "data": "{}",
        "import_run_id": None,
    }


def decision_indexes(engine: Engine) -> set[str]:
    return {ix["name"] or "" for ix in inspect(engine).get_indexes("decisions")}


def test_migration_points_leads_at_their_newest_decision(db_url: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(db_url), "0003")
    engine = make_engine(db_url)
    try:
        assert "ix_decisions_lead_id_id" in decision_indexes(engine)
        with engine.begin() as conn:
            for lead_id in ("old-1", "old-2", "never"):
                conn.execute(
                    text(
                        "INSERT INTO leads (lead_id, source, received_at, input_hash, content_hash, data) "
                        "VALUES (:lead_id, :source, :received_at, :input_hash, :content_hash, :data)"
                    ),
                    {k: v for k, v in lead(lead_id).items() if k != "import_run_id"},
                )
            for d in (decision("d1", "old-1"), decision("d2", "old-2"), decision("d3", "old-1", "hot")):
                names = DECISION_COLUMNS.split(", ")
                values = ", ".join(f":{n}" for n in names)
                conn.execute(
                    text(
                        f"INSERT INTO decisions ({DECISION_COLUMNS}, prev_hash, record_hash) "
                        f"VALUES ({values}, :prev, :rec)"
                    ),
                    {**d, "prev": GENESIS_HASH, "rec": GENESIS_HASH},
                )
        engine.dispose()
        upgrade(db_url)
        engine = make_engine(db_url)
        assert "ix_decisions_lead_id_id" not in decision_indexes(engine)
        with engine.connect() as conn:
            newest = store.latest_decision(conn, "old-1")
            assert newest is not None and (newest["decision_id"], newest["tier"]) == ("d3", "hot")
            other = store.latest_decision(conn, "old-2")
            assert other is not None and other["decision_id"] == "d2"
            assert store.latest_decision(conn, "never") is None
            assert store.latest_decision(conn, "unknown") is None
        engine.dispose()
        command.downgrade(alembic_config(db_url), "0003")
        engine = make_engine(db_url)
        assert "ix_decisions_lead_id_id" in decision_indexes(engine)
    finally:
        engine.dispose()
        upgrade(db_url)


def test_appended_decisions_move_the_pointer(engine: Engine) -> None:
    with engine.begin() as conn:
        # a new lead inserted already pointing at its decision, one without a pointer in its row
        store.write_leads(
            conn, [{**lead("a"), "latest_decision_id": "da1"}, {**lead("b"), "latest_decision_id": None}]
        )
        store.append_decisions(conn, [decision("da1", "a"), decision("db1", "b")])
    with engine.connect() as conn:
        assert store.latest_decision(conn, "a")["decision_id"] == "da1"  # type: ignore[index]
        assert store.latest_decision(conn, "b")["decision_id"] == "db1"  # type: ignore[index]
    with engine.begin() as conn:
        # decided twice in one batch: the later decision is the latest
        store.append_decisions(conn, [decision("da2", "a"), decision("da3", "a", "hot")])
    with engine.connect() as conn:
        latest = store.latest_decision(conn, "a")
        assert latest is not None and (latest["decision_id"], latest["tier"]) == ("da3", "hot")
        assert store.latest_decision(conn, "b")["decision_id"] == "db1"  # type: ignore[index]
