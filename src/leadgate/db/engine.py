"""Engine creation (SQLite in WAL mode or PostgreSQL), sessions and migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``.

    SQLite gets WAL journaling, ``synchronous=NORMAL``, a 128 MiB page cache, foreign keys and a 30 s
    busy timeout (WAL: https://www.sqlite.org/wal.html). PostgreSQL uses psycopg 3.

    Raises:
        sqlalchemy.exc.ArgumentError: for a malformed URL.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if engine.url.database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # 128 MiB page cache (default 2 MiB): keeps the lead-id indexes of a million-lead store in
            # memory, where random-key inserts otherwise go to disk (https://www.sqlite.org/pragma.html#pragma_cache_size).
            cur.execute("PRAGMA cache_size=-131072")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def write_lock(engine: Engine) -> threading.Lock:
    """The process-wide writer lock for ``engine``'s database (one SQLite writer, see DESIGN rule 6)."""
    key = str(engine.url)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations and ``url``."""
    script_location = str(resources.files("leadgate.db") / "migrations")
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (default: the latest).

    Up to the latest revision, also creates the first data-encryption key and the blind-index key when
    the database has none (``leadgate.privacy.crypto.ensure_keys``; the key-encryption keys come from
    settings).

    Raises:
        leadgate.privacy.crypto.DataKeyError: no key-encryption key outside ``dev``.
    """
    command.upgrade(alembic_config(url), revision)
    if revision == "head":
        from leadgate.privacy.crypto import ensure_keys

        engine = make_engine(url)
        try:
            ensure_keys(engine)
        finally:
            engine.dispose()


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
