"""The access log: who signed in, created keys, read personal data, overrode, erased or exported, and when.

Every event is one row of ``access_log`` (``leadgate.db.access_models``) with the actor (``user:<id>``,
``key:<prefix>``, ``cli:<os user>``), role, action, route (path template or CLI command), the object type and
ids, and a small ``detail`` object that never holds personal data (an email is given as its sha256, see
``subject_digest``).

Rows are chained like the decisions (``leadgate.audit.chain``), but keyed: ``record_hash =
HMAC-SHA256(K, prev_hash || canonical_json(record))`` (RFC 2104) where ``K`` is derived from the audit key
(``LEADGATE_AUDIT_KEY`` / ``LEADGATE_AUDIT_KEY_FILE``) or, without one, from ``LEADGATE_SECRET_KEY``;
neither is in the database, so someone who can write the database cannot edit, re-hash or forge an event.
What a keyed chain cannot show alone is a truncation of its newest rows (or a reset to the empty log):
with an audit key, each ``log_access`` also appends a signed checkpoint line ``{"kind": "access", "count",
"head"}`` to the checkpoint file (``leadgate.audit.checkpoint``), and ``verify_access_log`` checks that
every such checkpoint is still a prefix of the chain (Haber & Stornetta, J. Cryptology 3(2), 1991; RFC 6962
section 3.5 for signed heads).

Two ways to append:

* ``record_access(conn, ...)`` inside the caller's write transaction, so the event commits (or not) with
  the change it records (an erasure, a key creation); no checkpoint line;
* ``log_access(engine, ...)`` in its own short transaction, then a checkpoint line (reads of personal
  data, sign-ins).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, Table, insert, select, update

from leadgate.audit.chain import GENESIS_HASH
from leadgate.db.access_models import AccessHeadRow, AccessLogRow
from leadgate.db.engine import write_lock

ACCESS: Final[Table] = AccessLogRow.__table__  # type: ignore[assignment]
ACCESS_HEAD: Final[Table] = AccessHeadRow.__table__  # type: ignore[assignment]

ACTIONS: Final[frozenset[str]] = frozenset(
    {
        "sign_in",
        "sign_in_failed",
        "sign_out",
        "user_create",
        "user_update",
        "user_disable",
        "key_create",
        "key_rotate",
        "key_revoke",
        "data_key_rotate",
        "read_pii",
        "read_masked",
        "override",
        "erase",
        "export",
        "purge",
        "consent_change",
    }
)
"""The actions the access log records; ``record_access`` refuses any other (a typo would hide an event)."""

RECORD_FIELDS: Final[tuple[str, ...]] = (
    "action",
    "actor",
    "at",
    "detail",
    "object_ids",
    "object_type",
    "role",
    "route",
)
"""Fields covered by ``record_hash`` (sorted), in their stored text forms."""

_KEY_LABEL = b"leadgate/access-log/v1"


class AccessLogError(ValueError):
    """An access event that cannot be recorded (unknown action, personal data in ``detail``)."""


def access_key() -> bytes:
    """The access log's HMAC key: HMAC-SHA256(audit key, label), else HMAC-SHA256(secret key, label).

    Derived (RFC 2104 as a PRF, as in HKDF-Expand, RFC 5869) so the same secret is never used for two
    purposes directly. Changing both the audit key and the secret key makes older rows unverifiable.
    """
    from leadgate.audit.checkpoint import audit_key
    from leadgate.config import get_settings

    settings = get_settings()
    base = audit_key(settings) or settings.secret_key.encode()
    return hmac.new(base, _KEY_LABEL, hashlib.sha256).digest()


def subject_digest(value: str) -> str:
    """sha256 hex of a normalised (trimmed, lower-cased) email or other identifier, for ``detail``.

    Lets an auditor match events about one person without the log holding the address itself.
    """
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def whoami() -> str:
    """``cli:<os user name>`` (``cli:cli`` when the process has no user name, as in some containers)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:cli"


def _canonical(row: Mapping[str, Any]) -> bytes:
    return orjson.dumps({k: row[k] for k in RECORD_FIELDS})


def _hash(key: bytes, prev: str, row: Mapping[str, Any]) -> str:
    return hmac.new(key, prev.encode("ascii") + _canonical(row), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AccessAppend:
    """Where one event landed: its position (1-based count of the chain after it) and its hash."""

    count: int
    head: str


def record_access(
    conn: Connection,
    *,
    actor: str,
    role: str | None,
    action: str,
    route: str | None = None,
    object_type: str | None = None,
    object_ids: Sequence[str] = (),
    detail: Mapping[str, Any] | None = None,
    key: bytes | None = None,
) -> AccessAppend:
    """Append one access event inside the caller's transaction (locks the chain head first).

    Args:
        conn: a connection inside a write transaction (on SQLite, hold ``write_lock(engine)``).
        actor: ``Principal.subject`` (``user:<id>``, ``key:<prefix>``), or ``whoami()`` for the CLI.
        role: the actor's role, or None.
        action: one of ``ACTIONS``.
        route: the route's path template (``/v1/leads/{lead_id}``) or the CLI command (``privacy erase``).
        object_type: what kind of object was accessed (``lead``, ``conversation``, ``user``, ``api_key``...).
        object_ids: the ids of the objects accessed.
        detail: small JSON-able facts (counts, reasons); never an email, name or phone: use
            ``subject_digest``.
        key: the HMAC key (default ``access_key()``).

    Returns:
        The chain position and hash of the event.

    Raises:
        AccessLogError: ``action`` is not one of ``ACTIONS``.
    """
    if action not in ACTIONS:
        raise AccessLogError(f"unknown access-log action {action!r}: use one of {', '.join(sorted(ACTIONS))}")
    from leadgate.db.store import iso, utcnow

    row = {
        "at": iso(utcnow()),
        "actor": actor,
        "role": role,
        "action": action,
        "route": route,
        "object_type": object_type,
        "object_ids": orjson.dumps(list(object_ids)).decode(),
        "detail": orjson.dumps(dict(detail or {}), option=orjson.OPT_SORT_KEYS).decode(),
    }
    # the UPDATE takes the row lock on PostgreSQL (the write lock on SQLite) before reading the head
    conn.execute(update(ACCESS_HEAD).where(ACCESS_HEAD.c.id == 1).values(count=ACCESS_HEAD.c.count))
    prev, count = conn.execute(
        select(ACCESS_HEAD.c.last_hash, ACCESS_HEAD.c.count).where(ACCESS_HEAD.c.id == 1)
    ).one()
    record_hash = _hash(key or access_key(), prev, row)
    conn.execute(insert(ACCESS), {**row, "prev_hash": prev, "record_hash": record_hash})
    conn.execute(
        update(ACCESS_HEAD).where(ACCESS_HEAD.c.id == 1).values(last_hash=record_hash, count=count + 1)
    )
    return AccessAppend(count + 1, record_hash)


def log_access(engine: Engine, **event: Any) -> AccessAppend:
    """``record_access`` in its own transaction, then a signed checkpoint line when an audit key is set.

    Args:
        engine: the database.
        **event: the keyword arguments of ``record_access``.
    """
    from leadgate.audit.checkpoint import record_access_head

    with write_lock(engine), engine.begin() as conn:
        appended = record_access(conn, **event)
    record_access_head(engine, appended.count, appended.head)
    return appended


def iter_access(
    conn: Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_id: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> Iterator[dict[str, Any]]:
    """Stored access events (column -> value, ``object_ids`` and ``detail`` parsed), filtered.

    Args:
        conn: open connection.
        actor: only this actor's events, when given.
        action: only this action's events, when given.
        object_id: events whose ``object_ids`` hold this id.
        limit: at most this many events.
        newest_first: newest event first (default: chain order).
    """
    query = select(ACCESS)
    if actor is not None:
        query = query.where(ACCESS.c.actor == actor)
    if action is not None:
        query = query.where(ACCESS.c.action == action)
    if object_id is not None:
        # a cheap text pre-filter; the exact membership test follows
        query = query.where(ACCESS.c.object_ids.contains(orjson.dumps(object_id).decode()))
    query = query.order_by(ACCESS.c.id.desc() if newest_first else ACCESS.c.id)
    n = 0
    for r in conn.execute(query).mappings():
        out = dict(r)
        out["object_ids"] = orjson.loads(out["object_ids"])
        out["detail"] = orjson.loads(out["detail"])
        if object_id is not None and object_id not in out["object_ids"]:
            continue
        yield out
        n += 1
        if limit is not None and n >= limit:
            return


def verify_access_log(
    conn: Connection, key: bytes | None = None, checkpoints: Sequence[Mapping[str, Any]] = ()
) -> tuple[int, str | None]:
    """Recompute the keyed access-log chain and check it against the head and the access checkpoints.

    Args:
        conn: open connection.
        key: the HMAC key (default ``access_key()``).
        checkpoints: authenticated checkpoint lines (``fields`` of ``checkpoint.read_checkpoints``); only
            those with ``kind == "access"`` are used.

    Returns:
        ``(events checked, problem)``; ``problem`` is one line, or None when intact.
    """
    key = key or access_key()
    head, count = conn.execute(
        select(ACCESS_HEAD.c.last_hash, ACCESS_HEAD.c.count).where(ACCESS_HEAD.c.id == 1)
    ).one()
    wanted = {int(c["count"]): str(c["head"]) for c in checkpoints if c.get("kind") == "access"}
    prev, n, last_id = GENESIS_HASH, 0, 0
    while n < count:
        rows = conn.execute(
            select(ACCESS).where(ACCESS.c.id > last_id).order_by(ACCESS.c.id).limit(min(10_000, count - n))
        ).mappings()
        chunk = [dict(r) for r in rows]
        if not chunk:
            break
        for row in chunk:
            n += 1
            if row["prev_hash"] != prev:
                return (
                    n,
                    f"access log broken at event #{n} (id {row['id']}): it does not link to the event before",
                )
            if not hmac.compare_digest(row["record_hash"], _hash(key, prev, row)):
                return n, (
                    f"access log broken at event #{n} (id {row['id']}): changed after it was written, "
                    "or written without the key"
                )
            prev = row["record_hash"]
            if n in wanted and wanted[n] != prev:
                return n, f"access log event #{n} does not hash to its signed checkpoint (rewritten)"
        last_id = chunk[-1]["id"]
    if n != count:
        return n, f"access log head counts {count} events but only {n} are stored (deleted)"
    if prev != head:
        return n, "access log head does not match its last event (edited or moved back)"
    beyond = sorted(c for c in wanted if c > count)
    if beyond:
        return n, (
            f"access log: a signed checkpoint records {beyond[-1]} events but the log holds {count} "
            "(truncated or reset)"
        )
    # Events appended after the head was read are checked by the next run (a running server appends).
    return n, None
