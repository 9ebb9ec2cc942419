"""Staff accounts: create, list, find, disable, set a password, check a password, link an SSO identity.

A user is a person who signs in to the staff pages (``leadgate.web.staff``); machines use API keys
(``leadgate.governance.api_keys``), so a user's role is any of ``roles.STAFF_ROLES`` (not
``integration``).

* Email: checked and normalized by ``email-validator`` (no deliverability lookup); ``email_key``, its
  lowercase form, is unique, so ``Anna@Example.com`` and ``anna@example.com`` are one account.
* Password: hashed with argon2id by ``argon2-cffi``'s ``PasswordHasher`` with its defaults, the RFC 9106
  "second recommended option" (t=3 iterations, m=64 MiB, p=4 lanes; RFC 9106 section 4). A hash made
  with other parameters is replaced at the next successful sign-in (``check_needs_rehash``). At least
  ``MIN_PASSWORD_CHARS`` characters, no composition rules (NIST SP 800-63B-4, section 3.1.1.2: "at least
  15 characters" for a password used as the only factor; no rules such as "one digit"; accept at least
  64 characters). A password longer than ``MAX_PASSWORD_CHARS`` is refused (no hashing of megabytes).
* SSO-only users have no password hash; a password sign-in for them fails like a wrong password.
* Unknown emails cost one argon2 verification too (``check_password`` verifies a dummy hash), so the
  time of an answer does not tell whether an account exists (OWASP Authentication Cheat Sheet,
  "Authentication Responses").

Functions take a SQLAlchemy ``Connection``; writers hold ``leadgate.db.write_lock`` around their
transaction (one SQLite writer, DESIGN rule 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Table, func, select

from leadgate.db.store import utcnow
from leadgate.db.user_models import UserRow
from leadgate.errors import LeadgateError
from leadgate.governance.roles import STAFF_ROLES, check_role

USERS: Table = UserRow.__table__  # type: ignore[assignment]

MIN_PASSWORD_CHARS = 15
"""Shortest password accepted (NIST SP 800-63B-4 section 3.1.1.2, single-factor passwords)."""
MAX_PASSWORD_CHARS = 1024
"""Longest password accepted (NIST asks for at least 64; the cap keeps hashing cheap to refuse)."""


class UserError(LeadgateError, ValueError):
    """A user operation that cannot be done (a bad email, a short password, a taken email)."""


class UserNotFoundError(LeadgateError, LookupError):
    """No user has the given email (or id)."""


@dataclass(frozen=True)
class User:
    """A stored staff account (never its password hash).

    Attributes:
        id: row id; the audit subject is ``user:<id>``.
        email: as given (normalized by email-validator); ``email_key`` is its lowercase form.
        display_name: the name shown on the staff pages, or None (the email is shown).
        role: one of ``roles.STAFF_ROLES``.
        rep_id: the sales rep this person is (``leads.owner`` values), or None.
        has_password: False for an SSO-only account.
        oidc_issuer, oidc_subject: the linked OpenID Connect identity, or None.
        active: False once disabled (no sign-in; sessions ended).
        created_by, created_at, last_sign_in_at, disabled_at: lifecycle (UTC).
    """

    id: int
    email: str
    display_name: str | None
    role: str
    rep_id: str | None
    has_password: bool
    oidc_issuer: str | None
    oidc_subject: str | None
    active: bool
    created_by: str
    created_at: datetime
    last_sign_in_at: datetime | None
    disabled_at: datetime | None

    @property
    def subject(self) -> str:
        """The audit subject of this user, ``user:<id>``."""
        return f"user:{self.id}"

    @property
    def shown_name(self) -> str:
        """The display name, else the email."""
        return self.display_name or self.email


def _aware(ts: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=UTC)


def _from_row(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        rep_id=row.rep_id,
        has_password=row.password_hash is not None,
        oidc_issuer=row.oidc_issuer,
        oidc_subject=row.oidc_subject,
        active=bool(row.active),
        created_by=row.created_by,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        last_sign_in_at=_aware(row.last_sign_in_at),
        disabled_at=_aware(row.disabled_at),
    )


@cache
def hasher() -> PasswordHasher:
    """The one ``PasswordHasher`` (argon2id, RFC 9106 defaults of argon2-cffi)."""
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash of a random password, verified for unknown emails so they take as long as known ones."""
    import secrets

    return hasher().hash(secrets.token_urlsafe(24))


def normalize_email(email: str) -> str:
    """The email as email-validator normalizes it (domain lowercased, Unicode NFC), no DNS lookup.

    Raises:
        UserError: not a valid email address (the reason from email-validator).
    """
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UserError(f"not a valid email address {email!r}: {exc}") from exc


def email_key(email: str) -> str:
    """The unique lookup form of an email: normalized, then lowercased (``str.casefold``)."""
    return normalize_email(email).casefold()


def check_password_policy(password: str) -> str:
    """``password`` when it is long enough and not too long.

    Raises:
        UserError: fewer than ``MIN_PASSWORD_CHARS`` or more than ``MAX_PASSWORD_CHARS`` characters.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(
            f"password too short: use at least {MIN_PASSWORD_CHARS} characters "
            f"(a passphrase of a few words is easiest), got {len(password)}"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"password too long: at most {MAX_PASSWORD_CHARS} characters, got {len(password)}")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, ``$argon2id$v=19$m=65536,t=3,p=4$...``) of a policy-checked password.

    Raises:
        UserError: the password breaks ``check_password_policy``.
    """
    return hasher().hash(check_password_policy(password))


def _check_staff_role(role: str) -> str:
    check_role(role)
    if role not in STAFF_ROLES:
        raise UserError(f"role {role!r} is for API keys only: give a person one of {', '.join(STAFF_ROLES)}")
    return role


def _check_text(what: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > limit or "\x00" in value:
        raise UserError(f"{what} must be 1 to {limit} characters without NUL, got {value!r}")
    return value


def create_user(
    conn: Connection,
    *,
    email: str,
    role: str,
    created_by: str,
    password: str | None = None,
    display_name: str | None = None,
    rep_id: str | None = None,
    oidc_issuer: str | None = None,
    oidc_subject: str | None = None,
    now: datetime | None = None,
) -> User:
    """Store a new user.

    Args:
        conn: a connection in a transaction (hold ``write_lock``).
        email: the sign-in email; unique whatever its case.
        role: one of ``roles.STAFF_ROLES``.
        created_by: who creates the account (``cli:<os user>``, ``quickstart``, ``sso``).
        password: the password, or None for an SSO-only account.
        display_name: the name shown on the staff pages (optional; 1 to 128 characters).
        rep_id: the sales rep this person is (optional; 1 to 128 characters).
        oidc_issuer: the issuer of an OpenID Connect identity to link now (with ``oidc_subject``).
        oidc_subject: that identity's subject (both or neither).
        now: creation time (default: the current UTC time).

    Raises:
        UserError: bad email, role, name, rep id or password; the email is taken.
        UnknownRoleError: ``role`` is not a role at all.
    """
    normalized = normalize_email(email)
    _check_staff_role(role)
    display_name = _check_text("display name", display_name, 128)
    rep_id = _check_text("rep id", rep_id, 128)
    created_by = _check_text("created by", created_by, 128) or "unknown"
    if (oidc_issuer is None) != (oidc_subject is None):
        raise UserError("an OIDC identity needs both issuer and subject")
    password_hash = hash_password(password) if password is not None else None
    key = normalized.casefold()
    if conn.execute(select(USERS.c.id).where(USERS.c.email_key == key)).first() is not None:
        raise UserError(f"a user with email {normalized} exists already (`leadgate users list`)")
    result = conn.execute(
        USERS.insert().values(
            email=normalized,
            email_key=key,
            display_name=display_name,
            role=role,
            rep_id=rep_id,
            password_hash=password_hash,
            oidc_issuer=oidc_issuer,
            oidc_subject=oidc_subject,
            active=True,
            created_by=created_by,
            created_at=now or utcnow(),
        )
    )
    return get_user(conn, result.inserted_primary_key[0])  # type: ignore[index]


def get_user(conn: Connection, user_id: int) -> User:
    """The user with this id.

    Raises:
        UserNotFoundError: no such user.
    """
    row = conn.execute(select(USERS).where(USERS.c.id == user_id)).first()
    if row is None:
        raise UserNotFoundError(f"no user with id {user_id}")
    return _from_row(row)


def find_user(conn: Connection, email: str) -> User:
    """The user with this email (any case).

    Raises:
        UserError: not a valid email.
        UserNotFoundError: no user has it.
    """
    row = conn.execute(select(USERS).where(USERS.c.email_key == email_key(email))).first()
    if row is None:
        raise UserNotFoundError(f"no user with email {email.strip()!r}: `leadgate users list` shows them")
    return _from_row(row)


def find_by_oidc(conn: Connection, issuer: str, subject: str) -> User | None:
    """The user linked to this OpenID Connect identity, or None."""
    row = conn.execute(
        select(USERS).where(USERS.c.oidc_issuer == issuer, USERS.c.oidc_subject == subject)
    ).first()
    return _from_row(row) if row is not None else None


def list_users(conn: Connection) -> list[User]:
    """Every user, oldest first."""
    return [_from_row(r) for r in conn.execute(select(USERS).order_by(USERS.c.id))]


def count_users(conn: Connection) -> int:
    """How many users the database holds (active or not)."""
    return int(conn.execute(select(func.count()).select_from(USERS)).scalar_one())


def disable_user(conn: Connection, email: str, now: datetime | None = None) -> tuple[User, bool]:
    """Disable a user and end every session of theirs at once.

    Returns:
        ``(user, changed)``: ``changed`` is False when the user was disabled already.

    Raises:
        UserNotFoundError: no user has this email.
    """
    from leadgate.governance.staff_sessions import end_user_sessions

    user = find_user(conn, email)
    now = now or utcnow()
    end_user_sessions(conn, user.id, reason="user_disabled", now=now)
    if not user.active:
        return user, False
    conn.execute(USERS.update().where(USERS.c.id == user.id).values(active=False, disabled_at=now))
    return get_user(conn, user.id), True


def set_password(conn: Connection, email: str, password: str, now: datetime | None = None) -> User:
    """Give a user a new password and end their sessions (a changed password signs every browser out).

    Raises:
        UserNotFoundError: no user has this email.
        UserError: the password breaks the policy.
    """
    from leadgate.governance.staff_sessions import end_user_sessions

    user = find_user(conn, email)
    new_hash = hash_password(password)
    conn.execute(USERS.update().where(USERS.c.id == user.id).values(password_hash=new_hash))
    end_user_sessions(conn, user.id, reason="password_changed", now=now)
    return get_user(conn, user.id)


@dataclass(frozen=True)
class PasswordCheck:
    """The result of ``check_password``.

    Attributes:
        user: the user when the email and password match an active account, else None.
        new_hash: a fresh hash to store (``store_rehash``) when the stored one has old parameters.
    """

    user: User | None
    new_hash: str | None = None


def check_password(conn: Connection, email: str, password: str) -> PasswordCheck:
    """Check an email and password (read-only); always one argon2 verification, known email or not.

    Fails (``user`` None) for an unknown or invalid email, an SSO-only or disabled account, a wrong
    password or one outside the length bounds (an over-long one is not hashed at all).
    """
    if len(password) > MAX_PASSWORD_CHARS:
        return PasswordCheck(None)
    try:
        key = email_key(email)
    except UserError:
        key = None
    row = conn.execute(select(USERS).where(USERS.c.email_key == key)).first() if key else None
    stored = row.password_hash if row is not None and row.active else None
    try:
        hasher().verify(stored or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(None)
    if stored is None or row is None:  # the dummy hash cannot match; kept for clarity
        return PasswordCheck(None)
    new_hash = hasher().hash(password) if hasher().check_needs_rehash(stored) else None
    return PasswordCheck(_from_row(row), new_hash)


def store_rehash(conn: Connection, user_id: int, new_hash: str) -> None:
    """Replace a user's password hash by one with the current parameters (after a successful check)."""
    conn.execute(USERS.update().where(USERS.c.id == user_id).values(password_hash=new_hash))


def record_sign_in(conn: Connection, user_id: int, now: datetime | None = None) -> None:
    """Set ``last_sign_in_at``."""
    conn.execute(USERS.update().where(USERS.c.id == user_id).values(last_sign_in_at=now or utcnow()))


def link_oidc(conn: Connection, user_id: int, issuer: str, subject: str) -> User:
    """Link an OpenID Connect identity to a user (at their first SSO sign-in by verified email)."""
    conn.execute(USERS.update().where(USERS.c.id == user_id).values(oidc_issuer=issuer, oidc_subject=subject))
    return get_user(conn, user_id)
