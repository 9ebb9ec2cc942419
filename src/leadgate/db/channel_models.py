"""ORM tables of the inbound channels (email, web forms): what was already taken in, so nothing is taken twice.

Tables:
    email_messages: one row per message taken from a mailbox (``mailbox`` is ``imap://user@host:port/INBOX``
        or ``import`` for ``leadgate email import``); ``message_key`` is the sha256 of the Message-ID (of
        the raw bytes when the message has none), unique per mailbox; ``uidvalidity``/``uid`` where it was
        found; ``status`` ``lead`` or ``dead_letter``; the ``lead_id`` made, or the dead letter's ``reason``.
    email_mailboxes: per polled mailbox its ``UIDVALIDITY`` (RFC 3501 section 2.3.1.1) and the highest UID
        taken; a changed UIDVALIDITY restarts the scan from UID 1 (the Message-ID keys stop doubles).
    form_submissions: one row per accepted web-form submission: ``form_id`` and ``submission_key`` (the
        sha256 of the submission id) are unique, with the ``lead_id`` it made.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class EmailMessageRow(Base):
    """A message already taken from a mailbox (a lead or a dead letter)."""

    __tablename__ = "email_messages"
    __table_args__ = (UniqueConstraint("mailbox", "message_key", name="uq_email_messages_mailbox_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mailbox: Mapped[str] = mapped_column(String(255), nullable=False)
    message_key: Mapped[str] = mapped_column(String(64), nullable=False)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    uid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    lead_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class EmailMailboxRow(Base):
    """The UIDVALIDITY and highest UID taken of one polled IMAP mailbox."""

    __tablename__ = "email_mailboxes"
    mailbox: Mapped[str] = mapped_column(String(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_uid: Mapped[int] = mapped_column(BigInteger, nullable=False)
    polled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class FormSubmissionRow(Base):
    """An accepted web-form submission and the lead it made."""

    __tablename__ = "form_submissions"
    __table_args__ = (UniqueConstraint("form_id", "submission_key", name="uq_form_submissions_form_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    form_id: Mapped[str] = mapped_column(String(64), nullable=False)
    submission_key: Mapped[str] = mapped_column(String(64), nullable=False)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


EMAIL_MESSAGES: Table = EmailMessageRow.__table__  # type: ignore[assignment]
EMAIL_MAILBOXES: Table = EmailMailboxRow.__table__  # type: ignore[assignment]
FORM_SUBMISSIONS: Table = FormSubmissionRow.__table__  # type: ignore[assignment]
