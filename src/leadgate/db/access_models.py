"""ORM tables of the access log: who signed in, created keys, read personal data, overrode, erased, exported.

Tables:
    access_log: append-only, one row per access event, hash-chained with a key kept outside the database
        (see ``leadgate.audit.access``): ``at`` (ISO-8601 UTC text, as hashed), ``actor`` (``user:<id>``,
        ``key:<prefix>``, ``cli:<os user>``), ``role``, ``action``, ``route`` (path template or CLI
        command), ``object_type`` and ``object_ids`` (JSON list), ``detail`` (JSON object, never personal
        data), ``prev_hash`` and ``record_hash``.
    access_head: the head of that chain (a single row, id 1: last hash and count), locked by each writer.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class AccessLogRow(Base):
    """One access event (immutable once written; ``record_hash`` chains to ``prev_hash``)."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(160), nullable=False)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    route: Mapped[str | None] = mapped_column(String(200), nullable=True)
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_ids: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AccessHeadRow(Base):
    """The head of the access-log chain (a single row, id 1)."""

    __tablename__ = "access_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
