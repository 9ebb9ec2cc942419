"""ORM tables of personal-data protection (issue 8, items 5 and 7).

Tables:
    data_keys: data-encryption keys (purpose ``data``) and the blind-index key (purpose ``index``), each
        wrapped (AES key wrap, RFC 3394) by a key-encryption key from settings named by ``kek_id``;
        ``status`` ``active`` (new values), ``retiring`` (a rotation is moving rows off it) or
        ``retired`` (no row used it when the rotation ended). See ``leadgate.privacy.crypto``.
    privacy_tombstones: one row per erasure or retention purge: whose (blind index of the email, None for
        a purge), who asked, why, when, and how many rows of each table were erased or deleted.
        ``leads.tombstone_id`` points a lead whose personal data was removed at its tombstone, which is
        what lets ``leadgate audit verify`` accept that the lead no longer gives its ``input_hash``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class DataKeyRow(Base):
    """A wrapped data-encryption key or the wrapped index key."""

    __tablename__ = "data_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(8), nullable=False)  # data | index
    kek_id: Mapped[str] = mapped_column(String(32), nullable=False)
    wrapped: Mapped[str] = mapped_column(Text, nullable=False)  # base64 of the RFC 3394 wrapped key
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active | retiring | retired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TombstoneRow(Base):
    """What an erasure (or a retention purge) removed, for whom, at whose request, and when."""

    __tablename__ = "privacy_tombstones"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tombstone_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # erasure | retention
    email_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    requested_by: Mapped[str] = mapped_column(String(160), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    counts: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: table -> rows erased or deleted
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
