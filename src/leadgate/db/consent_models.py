"""ORM table of consent: what each lead agreed to or withdrew, for which purpose, where and when.

Tables:
    consents: append-only, one row per statement of consent or withdrawal (the latest statement per lead
        and purpose, by ``given_at``, is in force; see ``leadgate.governance.consent``): ``lead_id``,
        ``purpose``, ``granted`` (True: consent given; False: withdrawn or objected), ``source`` (chat,
        form, import, api, crm, cli), ``wording_version`` (the version of the text the person saw),
        ``given_at`` (when the person said it), ``recorded_at``, ``recorded_by`` (the actor) and
        ``evidence`` (JSON: conversation and message, form submission id, import file and row).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class ConsentRow(Base):
    """One statement of consent or its withdrawal."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_lead_purpose", "lead_id", "purpose"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    wording_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(160), nullable=False)
    evidence: Mapped[str] = mapped_column(Text, nullable=False)
