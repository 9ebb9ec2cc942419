"""Retention periods applied by ``leadgate privacy purge`` (issue 8, item 7), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from tests.cli_support import run
from tests.privacy.support import populate

from leadgate.config import Settings, get_settings
from leadgate.db import store
from leadgate.db.models import Base
from leadgate.pipeline import verify_audit_log
from leadgate.privacy.retention import KINDS, purge


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())


def test_purge_applies_each_period_once_and_verify_still_passes(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    populate(db_url, engine, tmp_path)
    leads = store.LEADS
    with engine.begin() as conn:  # an undecided lead, received on 2026-05-14 (the others: today)
        conn.execute(update(leads).where(leads.c.lead_id == "api-lead-1").values(latest_decision_id=None))
    now = store.utcnow()
    settings = Settings(
        retention_dead_letters_days=30,
        retention_conversations_days=30,
        retention_bookings_days=30,
        retention_undecided_leads_days=30,
        retention_decided_leads_days=30,
    )
    # today only the undecided lead received in May is past 30 days
    assert purge(engine, settings, now=now) == {**dict.fromkeys(KINDS, 0), "undecided_leads": 1}
    later = now + timedelta(days=400)  # the booked demo is at most weeks ahead
    dry = purge(engine, settings, now=later, dry_run=True)
    assert dry == {
        "dead_letters": 1,
        "conversations": 1,
        "bookings": 1,
        "undecided_leads": 0,
        "decided_leads": 21,  # 20 imported (all with names) and the chat lead
    }
    assert _count(engine, "dead_letters") == 1  # a dry run changes nothing
    assert purge(engine, settings, now=later, batch=7) == dry
    assert purge(engine, settings, now=later) == dict.fromkeys(KINDS, 0)  # idempotent: the second run 0
    assert [
        _count(engine, t) for t in ("dead_letters", "conversations", "conversation_events", "bookings")
    ] == [0] * 4
    assert _count(engine, "leads") == 21  # decided leads stay, without their personal fields
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(leads).where(leads.c.pii.is_not(None))).scalar_one()
            == 0
        )
        tombstones = Base.metadata.tables["privacy_tombstones"]
        kinds = conn.execute(select(tombstones.c.kind, tombstones.c.requested_by)).all()
    assert len(kinds) == 3 and {k for k, _ in kinds} == {"retention"}  # one per batch of 7
    assert verify_audit_log(engine)[2] is None


def test_purge_command_keeps_what_has_no_period(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(db_url, engine, tmp_path)
    monkeypatch.setenv("LEADGATE_RETENTION_DEAD_LETTERS_DAYS", "1")
    get_settings.cache_clear()
    try:
        with engine.begin() as conn:
            dead = store.DEAD
            conn.execute(update(dead).values(created_at=store.utcnow() - timedelta(days=2)))
        out = run("privacy", "purge", "--dry-run", "--database-url", db_url)
        assert "dead_letters: would purge 1" in out and "leads: kept (no retention period)" in out
        out = run("privacy", "purge", "--database-url", db_url)
        assert "dead_letters: purged 1" in out
        assert "dead_letters: purged 0" in run("privacy", "purge", "--database-url", db_url)
    finally:
        get_settings.cache_clear()
    assert _count(engine, "dead_letters") == 0 and _count(engine, "conversations") == 1
