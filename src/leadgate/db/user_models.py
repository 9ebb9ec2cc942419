"""ORM tables of staff accounts and their web sessions.

Tables:
    users: one row per person who signs in to the staff pages: email (``email_key``, its lowercase form,
        is unique, so addresses differing only in case are one account), display name, role, the sales
        rep they are (``rep_id``, optional), the argon2 hash of their password (None for an SSO-only
        account), the OpenID Connect issuer and subject they sign in with (the pair is unique), the
        active flag, who created them and when, and the time of their last sign-in.
    staff_sessions: one row per signed-in browser: the sha256 of the session token (the token is only in
        the signed cookie), the user, the CSRF token of its forms, creation, last use, absolute expiry
        and when and why it ended (sign-out, user disabled).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base, BigId


class UserRow(Base):
    """A staff account (a person); never an API key (those are ``api_keys``)."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("email_key", name="uq_users_email_key"),
        UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    email_key: Mapped[str] = mapped_column(String(320), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    rep_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    oidc_issuer: Mapped[str | None] = mapped_column(String(512), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StaffSessionRow(Base):
    """A signed-in browser session (server side, so sign-out and disabling a user end it at once)."""

    __tablename__ = "staff_sessions"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_staff_sessions_token_hash"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
