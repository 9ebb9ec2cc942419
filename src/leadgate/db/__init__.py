"""Storage: engine and sessions, ORM tables, Alembic migrations.

Public interface: ``make_engine``, ``upgrade``, ``session_scope``, ``write_lock``, and the tables in
``leadgate.db.models``.
"""

from leadgate.db.engine import make_engine, session_scope, upgrade, write_lock

__all__ = ["make_engine", "session_scope", "upgrade", "write_lock"]
