"""Server-side staff web sessions: start at sign-in, look up per request, end at sign-out or when disabled.

The browser holds ``lg_session``: a random token (32 bytes from ``secrets``, 256 bits) signed and
timestamped by ``itsdangerous`` with ``LEADGATE_SECRET_KEY`` (``SessionCookie``). The database keeps
only the token's sha256 (a leaked table gives no session), with

* ``last_seen_at``: refreshed at most once per ``TOUCH_EVERY`` (a write per request costs too much), so
  the idle limit holds to that precision;
* ``expires_at``: sign-in + ``LEADGATE_SESSION_ABSOLUTE_HOURS`` (default 12 h), whatever the use;
* the idle limit ``LEADGATE_SESSION_IDLE_MINUTES`` (default 30 min) since ``last_seen_at``;
* ``csrf_token``: the synchronizer token of the session's forms and cookie-authenticated API calls
  (OWASP CSRF Prevention Cheat Sheet, "Synchronizer Token Pattern").

Idle and absolute timeouts as in the OWASP Session Management Cheat Sheet ("Session Expiration": 15 to
30 minutes idle for most applications; an absolute timeout of a work day). A session also ends when its
user is disabled or gets a new password, at once, since every request looks its row up.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Connection, Table, select

from leadgate.db.store import utcnow
from leadgate.db.user_models import StaffSessionRow, UserRow
from leadgate.governance.users import User, _from_row

SESSIONS: Table = StaffSessionRow.__table__  # type: ignore[assignment]
USERS: Table = UserRow.__table__  # type: ignore[assignment]

COOKIE_NAME = "lg_session"
"""Name of the session cookie."""
TOKEN_BYTES = 32
"""Random bytes of a session token and of a CSRF token (256 bits)."""
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written at most once per this interval per session."""
_SALT = "leadgate.staff-session"


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives.

    Attributes:
        idle: ends after this long without a request.
        absolute: ends this long after sign-in.
    """

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class StaffSession:
    """A live session and its user.

    Attributes:
        id: row id.
        user: the signed-in user (active).
        csrf_token: the token every unsafe request of this session must carry.
        method: ``password`` or ``sso``.
        created_at, last_seen_at, expires_at: times (UTC).
    """

    id: int
    user: User
    csrf_token: str
    method: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class SessionCookie:
    """Sign and read the session cookie's value (``itsdangerous.URLSafeTimedSerializer``).

    Args:
        secret_key: ``LEADGATE_SECRET_KEY``.
        max_age: oldest accepted signature (the absolute session limit).
    """

    def __init__(self, secret_key: str, max_age: timedelta):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._max_age = int(max_age.total_seconds())

    def dump(self, token: str) -> str:
        """The cookie value for a session token."""
        return self._serializer.dumps(token)

    def load(self, value: str) -> str | None:
        """The session token of a cookie value, or None when the signature is wrong or too old."""
        try:
            token = self._serializer.loads(value, max_age=self._max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        return token if isinstance(token, str) else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def start_session(
    conn: Connection, user_id: int, limits: SessionLimits, *, method: str, now: datetime | None = None
) -> tuple[str, str]:
    """Store a new session for ``user_id``.

    Args:
        conn: a connection in a transaction (hold ``write_lock``).
        user_id: the signed-in user.
        limits: idle and absolute limits (the absolute one sets ``expires_at``).
        method: how the user signed in, ``password`` or ``sso``.
        now: sign-in time (default: the current UTC time).

    Returns:
        ``(token, csrf_token)``: the session token for the cookie (not stored) and its CSRF token.
    """
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    csrf = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        SESSIONS.insert().values(
            token_hash=_hash(token),
            user_id=user_id,
            csrf_token=csrf,
            method=method,
            created_at=now,
            last_seen_at=now,
            expires_at=now + limits.absolute,
        )
    )
    return token, csrf


def find_session(
    conn: Connection, token: str, limits: SessionLimits, now: datetime | None = None
) -> StaffSession | None:
    """The live session of ``token``, or None.

    None for an unknown or ended session, one idle too long or past its absolute end, or one whose user
    is disabled. Read-only: call ``touch_session`` when ``needs_touch`` says so.
    """
    now = now or utcnow()
    row = conn.execute(select(SESSIONS).where(SESSIONS.c.token_hash == _hash(token))).first()
    if row is None or row.ended_at is not None:
        return None
    last_seen, expires = _aware(row.last_seen_at), _aware(row.expires_at)
    if now >= expires or now - last_seen >= limits.idle:
        return None
    user_row = conn.execute(select(USERS).where(USERS.c.id == row.user_id)).first()
    if user_row is None or not user_row.active:
        return None
    return StaffSession(
        id=row.id,
        user=_from_row(user_row),
        csrf_token=row.csrf_token,
        method=row.method,
        created_at=_aware(row.created_at),
        last_seen_at=last_seen,
        expires_at=expires,
    )


def needs_touch(session: StaffSession, now: datetime | None = None) -> bool:
    """True when ``last_seen_at`` is older than ``TOUCH_EVERY``."""
    return (now or utcnow()) - session.last_seen_at >= TOUCH_EVERY


def touch_session(conn: Connection, session_id: int, now: datetime | None = None) -> None:
    """Set ``last_seen_at`` to ``now`` (the session was used)."""
    conn.execute(SESSIONS.update().where(SESSIONS.c.id == session_id).values(last_seen_at=now or utcnow()))


def end_session(
    conn: Connection, token: str, reason: str = "sign_out", now: datetime | None = None
) -> int | None:
    """End the session of ``token`` (sign-out).

    Returns:
        The user id of the ended session, or None when the token names no live session row.
    """
    row = conn.execute(
        select(SESSIONS.c.id, SESSIONS.c.user_id)
        .where(SESSIONS.c.token_hash == _hash(token))
        .where(SESSIONS.c.ended_at.is_(None))
    ).first()
    if row is None:
        return None
    conn.execute(
        SESSIONS.update().where(SESSIONS.c.id == row.id).values(ended_at=now or utcnow(), ended_reason=reason)
    )
    return int(row.user_id)


def end_user_sessions(conn: Connection, user_id: int, *, reason: str, now: datetime | None = None) -> int:
    """End every live session of a user (disabled, new password).

    Returns:
        How many sessions were ended.
    """
    result = conn.execute(
        SESSIONS.update()
        .where(SESSIONS.c.user_id == user_id)
        .where(SESSIONS.c.ended_at.is_(None))
        .values(ended_at=now or utcnow(), ended_reason=reason)
    )
    return int(result.rowcount)
