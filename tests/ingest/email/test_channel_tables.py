"""Migration 0019 creates exactly the channel tables of ``db/channel_models.py`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from leadgate.db import make_engine, upgrade
from leadgate.db.models import Base

CHANNEL_TABLES = {"email_messages", "email_mailboxes", "form_submissions"}


def _only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in CHANNEL_TABLES


def test_migration_0019_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _only})
        assert compare_metadata(context, Base.metadata) == []


def test_migration_0019_downgrades_and_upgrades(db_url: str) -> None:
    from leadgate.db.engine import alembic_config

    command.downgrade(alembic_config(db_url), "0013")
    engine = make_engine(db_url)
    try:
        assert not CHANNEL_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= CHANNEL_TABLES
    finally:
        engine.dispose()
