"""ORM table of service API keys.

Tables:
    api_keys: one row per service key: its name, role, the short lookup ``prefix`` (unique), the sha256 of
        the whole key (the key itself is never stored), who created it and when, expiry, last use,
        revocation, ``rotated_from`` (the id of the key it replaced, for ``leadgate keys rotate``) and
        ``rep_id`` (the sales rep the key acts as, or None).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class ApiKeyRow(Base):
    """A service API key: identity and lifecycle, never the key (only its sha256)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rotated_from: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    # the sales rep this key acts as (a rep's personal key; see ``leads.owner``), migration 0008
    rep_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
