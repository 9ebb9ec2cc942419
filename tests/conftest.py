"""Shared fixtures. ``db_url`` runs a storage test on SQLite and on PostgreSQL.

PostgreSQL is the server at ``LEADGATE_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
each test gets a fresh database created from it and dropped afterwards. If the server cannot be
reached the PostgreSQL cases fail (they are never skipped).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from leadgate.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "xeducation"
LEADS_CSV = EXAMPLES / "Leads.csv"
MAPPING = EXAMPLES / "mapping.yaml"
FEATURES = EXAMPLES / "features.yaml"
PG_ADMIN_URL = os.environ.get("LEADGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The key-encryption key of personal data in every test database (tests/privacy use their own too):
# 32 fixed bytes, never a real key. Set before any Settings is read.
TEST_DATA_KEYS = "test1:" + base64.b64encode(hashlib.sha256(b"leadgate test kek").digest()).decode()
os.environ.setdefault("LEADGATE_DATA_KEYS", TEST_DATA_KEYS)
# The trained intent model's cache (leadgate.chat.nlu.artifact): never the user's ~/.cache. One directory
# per test session, so the model is trained once per session; LEADGATE_TEST_NLU_CACHE_DIR lets CI keep it
# between runs (the cache key retrains it whenever the data or code changes).
_NLU_CACHE = os.environ.get("LEADGATE_TEST_NLU_CACHE_DIR") or tempfile.mkdtemp(prefix="leadgate-test-nlu-")
os.environ["LEADGATE_NLU_CACHE_DIR"] = _NLU_CACHE
if "LEADGATE_TEST_NLU_CACHE_DIR" not in os.environ:
    atexit.register(shutil.rmtree, _NLU_CACHE, True)


def _pg_database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database URL: SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'leadgate.db'}"
        upgrade(url)
        yield url
    else:
        for url in _pg_database():
            upgrade(url)
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``, disposed after the test."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
