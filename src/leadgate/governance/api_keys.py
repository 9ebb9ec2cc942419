"""Service API keys: create (the key is shown once), list, rotate with a grace period, revoke, verify.

A key is ``lg_`` followed by 52 lowercase base32 characters: 32 random bytes from ``secrets`` (256 bits).
The database keeps only

* ``prefix``: the first ``PREFIX_CHARS`` characters after ``lg_``, unique, to find the row and to name the
  key in ``leadgate keys list``, ``rotate`` and ``revoke`` (as GitHub's and Stripe's key prefixes do), and
* ``key_hash``: the sha256 (hex) of the whole key, compared in constant time.

A fast hash is right here: a slow password hash (argon2, bcrypt) exists to make guessing a *low-entropy*
secret expensive; a 256-bit random key cannot be guessed whatever the hash costs, and a fast hash keeps
every request cheap. Sources: GitHub, "Behind GitHub's new authentication token formats" (2021,
https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/) and
the OWASP Password Storage Cheat Sheet (slow hashes are for passwords,
https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html).

Functions take a SQLAlchemy ``Connection``; writers hold ``leadgate.db.write_lock`` around their
transaction (one SQLite writer, DESIGN rule 6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, or_, select

from leadgate.db.key_models import ApiKeyRow
from leadgate.db.store import utcnow
from leadgate.errors import LeadgateError
from leadgate.governance.roles import check_role

API_KEYS: Table = ApiKeyRow.__table__  # type: ignore[assignment]

KEY_MARKER = "lg_"
"""Every key starts with this marker (so secret scanners and people can tell a leadgate key)."""
KEY_BYTES = 32
"""Random bytes per key (256 bits, from ``secrets.token_bytes``)."""
PREFIX_CHARS = 8
"""Characters after ``lg_`` kept in clear as the lookup prefix (40 bits: collisions are retried)."""
LAST_USED_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most once per this interval per key (a write per request costs too much)."""

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ApiKeyError(LeadgateError, ValueError):
    """A key operation that cannot be done (a revoked key rotated, a bad duration)."""


class ApiKeyNotFoundError(LeadgateError, LookupError):
    """No key has the given prefix."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key's identity and lifecycle (never the key itself).

    Attributes:
        id, name, role, prefix: the row's identity; ``prefix`` is what ``keys list`` shows.
        created_by, created_at: who created it and when (UTC).
        expires_at: end of validity (UTC), None for no expiry; a rotated key's old half ends here.
        last_used_at: last authenticated request (UTC, at most ``LAST_USED_EVERY`` stale), or None.
        revoked_at: when it was revoked (UTC), or None.
        rotated_from: id of the key this one replaced, or None.
    """

    id: int
    name: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    rotated_from: int | None

    def status(self, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now`` (default: the current time)."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def valid(self, now: datetime | None = None) -> bool:
        """True while neither revoked nor expired."""
        return self.status(now) == "active"


def _aware(ts: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=UTC)


def _from_row(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_by=row.created_by,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        expires_at=_aware(row.expires_at),
        last_used_at=_aware(row.last_used_at),
        revoked_at=_aware(row.revoked_at),
        rotated_from=row.rotated_from,
    )


def parse_duration(text: str) -> timedelta:
    """``"90d"`` -> 90 days; units ``m`` (minutes), ``h``, ``d``, ``w``.

    Raises:
        ApiKeyError: not a positive whole number followed by one unit.
    """
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ApiKeyError(f"bad duration {text!r}: use a positive number and a unit, e.g. 90d, 12h, 2w, 30m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def generate_key() -> str:
    """A new key: ``lg_`` + 52 lowercase base32 characters of ``KEY_BYTES`` random bytes."""
    raw = base64.b32encode(secrets.token_bytes(KEY_BYTES)).decode("ascii").rstrip("=").lower()
    return KEY_MARKER + raw


def key_prefix(key: str) -> str:
    """The lookup prefix of a key (``PREFIX_CHARS`` characters after ``lg_``)."""
    return key[len(KEY_MARKER) : len(KEY_MARKER) + PREFIX_CHARS]


def hash_key(key: str) -> str:
    """sha256 of the whole key, hex (64 characters)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(token: str) -> bool:
    """True when ``token`` has the shape of a leadgate key (``lg_`` and enough characters)."""
    return token.startswith(KEY_MARKER) and len(token) > len(KEY_MARKER) + PREFIX_CHARS


def _normal_prefix(prefix: str) -> str:
    """Accept ``abcd2345``, ``lg_abcd2345`` or a whole key; return the lookup prefix."""
    prefix = prefix.strip()
    if prefix.startswith(KEY_MARKER):
        return key_prefix(prefix)
    return prefix[:PREFIX_CHARS]


def create_key(
    conn: Connection,
    *,
    name: str,
    role: str,
    created_by: str,
    expires_in: timedelta | None = None,
    rotated_from: int | None = None,
    now: datetime | None = None,
    actor: str | None = None,
) -> tuple[str, ApiKey]:
    """Store a new key and return it with its row; the key is not kept anywhere, so show it once.

    Records ``key_create`` in the access log (``leadgate.audit.access``) in the same transaction (a
    rotation records ``key_rotate`` instead, see ``rotate_key``).

    Args:
        conn: a connection in a transaction (hold ``write_lock``).
        name: what the key is for (``crm-sync``); 1 to 128 characters.
        role: one of ``leadgate.governance.roles.ROLES``.
        created_by: who asked for it (1 to 128 characters).
        expires_in: validity from ``now``; None for no expiry.
        rotated_from: id of the key this one replaces.
        now: creation time (default: the current UTC time).
        actor: the access-log actor (``user:<id>``, ``key:<prefix>``); default ``cli:<created_by>``.

    Returns:
        ``(key, row)``: the full key (``lg_...``) and its stored row.

    Raises:
        UnknownRoleError: ``role`` is not a known role.
        ApiKeyError: an empty or over-long name or creator.
    """
    check_role(role)
    for what, value in (("name", name), ("created by", created_by)):
        if not value.strip() or len(value) > 128:
            raise ApiKeyError(f"key {what} must be 1 to 128 characters, got {len(value.strip())}")
    now = now or utcnow()
    while True:
        key = generate_key()
        taken = conn.execute(select(API_KEYS.c.id).where(API_KEYS.c.prefix == key_prefix(key))).first()
        if taken is None:
            break
    result = conn.execute(
        API_KEYS.insert().values(
            name=name,
            role=role,
            prefix=key_prefix(key),
            key_hash=hash_key(key),
            created_by=created_by,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
            rotated_from=rotated_from,
        )
    )
    key_id = result.inserted_primary_key[0]  # type: ignore[index]
    if rotated_from is None:
        _record(conn, actor or f"cli:{created_by}", "key_create", key_prefix(key), role=role)
    return key, _get(conn, key_id)


def _record(conn: Connection, actor: str, action: str, prefix: str, **detail: Any) -> None:
    from leadgate.audit.access import record_access

    record_access(
        conn, actor=actor, role=None, action=action, object_type="api_key", object_ids=[prefix], detail=detail
    )


def _get(conn: Connection, key_id: int) -> ApiKey:
    row = conn.execute(select(API_KEYS).where(API_KEYS.c.id == key_id)).one()
    return _from_row(row)


def list_keys(conn: Connection) -> list[ApiKey]:
    """Every key, oldest first."""
    return [_from_row(r) for r in conn.execute(select(API_KEYS).order_by(API_KEYS.c.id))]


def count_keys(conn: Connection) -> int:
    """How many keys the database holds (in any state)."""
    return int(conn.execute(select(func.count()).select_from(API_KEYS)).scalar_one())


def find_key(conn: Connection, prefix: str) -> ApiKey:
    """The key with this prefix (``abcd2345``, ``lg_abcd2345`` or the whole key).

    Raises:
        ApiKeyNotFoundError: no key has it.
    """
    wanted = _normal_prefix(prefix)
    row = conn.execute(select(API_KEYS).where(API_KEYS.c.prefix == wanted)).first()
    if row is None or len(wanted) < PREFIX_CHARS:
        raise ApiKeyNotFoundError(f"no API key with prefix {prefix!r}: `leadgate keys list` shows them")
    return _from_row(row)


def rotate_key(
    conn: Connection,
    prefix: str,
    *,
    grace: timedelta,
    created_by: str,
    expires_in: timedelta | None = None,
    now: datetime | None = None,
    actor: str | None = None,
) -> tuple[str, ApiKey, ApiKey]:
    """Replace a key: a new key with the same name and role; the old one stays valid for ``grace`` only.

    Args:
        conn: a connection in a transaction (hold ``write_lock``).
        prefix: the old key's prefix.
        grace: how long the old key keeps working (it never gains time: an earlier expiry stays).
        created_by: who rotates.
        expires_in: the new key's validity; None keeps the old key's lifetime (none if it had none).
        now: rotation time (default: the current UTC time).
        actor: the access-log actor; default ``cli:<created_by>`` (records ``key_rotate``).

    Returns:
        ``(new_key, new_row, old_row)``.

    Raises:
        ApiKeyNotFoundError: unknown prefix.
        ApiKeyError: the old key is revoked or expired (create a new key instead).
    """
    now = now or utcnow()
    old = find_key(conn, prefix)
    if not old.valid(now):
        raise ApiKeyError(
            f"key {old.prefix} is {old.status(now)}: create a new key with `leadgate keys create`"
        )
    if expires_in is None and old.expires_at is not None:
        expires_in = old.expires_at - old.created_at
    key, new = create_key(
        conn,
        name=old.name,
        role=old.role,
        created_by=created_by,
        expires_in=expires_in,
        rotated_from=old.id,
        now=now,
    )
    ends = now + grace
    if old.expires_at is None or ends < old.expires_at:
        conn.execute(API_KEYS.update().where(API_KEYS.c.id == old.id).values(expires_at=ends))
    _record(conn, actor or f"cli:{created_by}", "key_rotate", new.prefix, replaces=old.prefix)
    return key, new, _get(conn, old.id)


def revoke_key(
    conn: Connection, prefix: str, now: datetime | None = None, actor: str | None = None
) -> tuple[ApiKey, bool]:
    """Revoke a key at once (every later request with it gets 401).

    Records ``key_revoke`` in the access log (actor default ``leadgate.audit.access.whoami()``).

    Returns:
        ``(row, changed)``: ``changed`` is False when it was revoked already (its time is kept).

    Raises:
        ApiKeyNotFoundError: unknown prefix.
    """
    key = find_key(conn, prefix)
    if key.revoked_at is not None:
        return key, False
    conn.execute(API_KEYS.update().where(API_KEYS.c.id == key.id).values(revoked_at=now or utcnow()))
    if actor is None:
        from leadgate.audit.access import whoami

        actor = whoami()
    _record(conn, actor, "key_revoke", key.prefix)
    return _get(conn, key.id), True


def verify_key(conn: Connection, key: str, now: datetime | None = None) -> ApiKey | None:
    """The key's row when ``key`` is a known, unrevoked, unexpired key; else None (read-only).

    The row is found by prefix and the sha256 compared in constant time (``hmac.compare_digest``).
    """
    if not looks_like_key(key):
        return None
    row = conn.execute(select(API_KEYS).where(API_KEYS.c.prefix == key_prefix(key))).first()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    found = _from_row(row)
    return found if found.valid(now) else None


def needs_touch(key: ApiKey, now: datetime | None = None) -> bool:
    """True when ``last_used_at`` is older than ``LAST_USED_EVERY`` (or never set)."""
    now = now or utcnow()
    return key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY


def touch_key(conn: Connection, key_id: int, now: datetime | None = None) -> None:
    """Set ``last_used_at`` to ``now`` unless another request did within ``LAST_USED_EVERY``."""
    now = now or utcnow()
    conn.execute(
        API_KEYS.update()
        .where(API_KEYS.c.id == key_id)
        .where(or_(API_KEYS.c.last_used_at.is_(None), API_KEYS.c.last_used_at <= now - LAST_USED_EVERY))
        .values(last_used_at=now)
    )
