"""Key rotation while the service runs: a new data key and every row re-encrypted; KEKs re-wrapped.

``rotate_data_key`` (``leadgate keys rotate-data-key``):

1. In one short transaction the active DEK becomes ``retiring`` and a new DEK ``active`` (a rotation
   that was interrupted is resumed instead: its ``active`` DEK is kept).
2. Every encrypted column (``fields.ENCRYPTED_COLUMNS``) is walked by primary key in batches of
   ``batch`` rows, each batch in its own transaction under the writer lock: a value not under the new
   DEK is decrypted and encrypted again with it. Plaintext left by a database from before encryption
   is encrypted too (leads: their personal fields are split out of ``data``). A row changed meanwhile
   by a writer is skipped by the update's ``WHERE value = old value`` and caught by the next pass.
3. Passes repeat until one changes nothing; then, after ``settle_s`` (other processes re-read the
   active DEK at least every ``crypto.ACTIVE_REFRESH_S`` seconds), a last pass, and every ``retiring``
   DEK no row uses any more becomes ``retired``. Retired DEKs stay wrapped in ``data_keys`` so that a
   value written by a process that had not yet seen the rotation still decrypts.

``rotate_kek`` (``leadgate keys rotate-kek``) re-wraps every DEK and the index key with the active KEK
(the first of ``LEADGATE_DATA_KEYS``); the old KEK must still be listed until it has run.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from sqlalchemy import Engine, Table, and_, func, not_, or_, select, update

from leadgate.db.engine import write_lock
from leadgate.db.models import Base
from leadgate.privacy.crypto import (
    ACTIVE_REFRESH_S,
    TOKEN_PREFIX,
    KeyRing,
    aad,
    keyring,
    store_new_key,
)
from leadgate.privacy.fields import ENCRYPTED_COLUMNS, EncryptedColumn, first_email, split_lead


@dataclass
class RotationSummary:
    """What a data-key rotation did.

    Attributes:
        key_id: the new active DEK.
        resumed: True when an interrupted rotation was continued.
        rewritten: ``table.column`` -> values re-encrypted (or encrypted for the first time).
        retired: DEK ids retired at the end.
        still_in_use: ``retiring`` DEK id -> rows still using it (a writer was still on it; run again).
    """

    key_id: str
    resumed: bool
    rewritten: dict[str, int] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    still_in_use: dict[str, int] = field(default_factory=dict)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _keys() -> Table:
    return _table("data_keys")


def start_rotation(engine: Engine) -> tuple[str, bool]:
    """Make a new DEK active (the old one ``retiring``), or resume an unfinished rotation.

    Returns:
        ``(active key id, resumed)``.
    """
    ring = keyring(engine)
    keys = _keys()
    with write_lock(engine), engine.begin() as conn:
        rows = conn.execute(
            select(keys.c.key_id, keys.c.status).where(keys.c.purpose == "data").with_for_update()
        ).all()
        retiring = [k for k, s in rows if s == "retiring"]
        active = [k for k, s in rows if s == "active"]
        if retiring and active:
            kid, resumed = active[0], True
        else:
            conn.execute(
                update(keys)
                .where(keys.c.purpose == "data", keys.c.status == "active")
                .values(status="retiring")
            )
            kid, resumed = store_new_key(conn, ring.keks, "data", "active"), False
    ring.set_active(kid)
    return kid, resumed


def _pending(col: EncryptedColumn, table: Table, kid: str) -> Any:
    """Rows of ``col`` whose value is not under DEK ``kid`` (plaintext included)."""
    value = table.c[col.column]
    cond = and_(value.is_not(None), not_(value.like(f"{TOKEN_PREFIX}{kid}:%")))
    if col.table == "leads":  # plaintext leads from before encryption: personal fields still in data
        legacy = or_(
            *(table.c.data.like(f'%"{name}":"%') for name in ("email", "first_name", "last_name", "phone"))
        )
        cond = or_(cond, and_(value.is_(None), table.c.tombstone_id.is_(None), legacy))
    return cond


def _reencrypt(ring: KeyRing, col: EncryptedColumn, row: dict[str, Any], kid: str) -> dict[str, Any]:
    """The new values of one row (the column re-encrypted under ``kid``; blind index for plaintext)."""
    bound = aad(col.table, col.column, col.row_key(row))
    old = row[col.column]
    if old is None:  # a plaintext lead: split its personal fields out of data
        public, personal = split_lead(orjson.loads(row["data"]))
        email = None if personal is None else personal.get("email")
        return {
            "data": orjson.dumps(public).decode(),
            "pii": None if personal is None else ring.encrypt_json(personal, bound, kid),
            "email_index": None if email is None else ring.blind_index(email),
        }
    if old.startswith(TOKEN_PREFIX):
        return {col.column: ring.encrypt(ring.decrypt(old, bound), bound, kid)}
    new: dict[str, Any] = {col.column: ring.encrypt_text(old, bound, kid)}
    if "email_index" in row and row["email_index"] is None:  # plaintext from before: index it too
        if col.table == "dead_letters":
            email = first_email(orjson.loads(old))
        elif col.table == "conversations":
            parsed = orjson.loads(old)
            email = first_email([parsed.get("slots") or {}, parsed.get("held_email")])
        elif col.column == "attendee_email":
            email = old
        else:
            email = None
        if email is not None:
            new["email_index"] = ring.blind_index(email)
    return new


def _pass(
    engine: Engine, kid: str, batch: int, progress: Callable[[str, int], None] | None
) -> dict[str, int]:
    ring = keyring(engine)
    done: dict[str, int] = {}
    for col in ENCRYPTED_COLUMNS:
        table = _table(col.table)
        name = f"{col.table}.{col.column}"
        wanted = [table.c.id, table.c[col.column], *(table.c[c] for c in col.key_columns)]
        for extra in ("data", "email_index"):
            if extra in table.c and extra != col.column:
                wanted.append(table.c[extra])
        last = 0
        while True:
            with write_lock(engine), engine.begin() as conn:
                rows = [
                    dict(r)
                    for r in conn.execute(
                        select(*wanted)
                        .where(table.c.id > last, _pending(col, table, kid))
                        .order_by(table.c.id)
                        .limit(batch)
                    ).mappings()
                ]
                changed = 0
                for row in rows:
                    values = _reencrypt(ring, col, row, kid)
                    guard = table.c[col.column] == row[col.column]
                    if row[col.column] is None:
                        guard = and_(table.c[col.column].is_(None), table.c.data == row["data"])
                    result = conn.execute(
                        update(table).where(table.c.id == row["id"], guard).values(**values)
                    )
                    changed += result.rowcount
            if not rows:
                break
            last = rows[-1]["id"]
            done[name] = done.get(name, 0) + changed
            if progress is not None:
                progress(name, changed)
    return done


def _usage(engine: Engine, kid: str) -> int:
    total = 0
    with engine.connect() as conn:
        for col in ENCRYPTED_COLUMNS:
            table = _table(col.table)
            total += int(
                conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c[col.column].like(f"{TOKEN_PREFIX}{kid}:%"))
                ).scalar_one()
            )
    return total


def rotate_data_key(
    engine: Engine,
    *,
    batch: int = 1000,
    settle_s: float = ACTIVE_REFRESH_S,
    max_passes: int = 5,
    progress: Callable[[str, int], None] | None = None,
) -> RotationSummary:
    """Rotate the data-encryption key and re-encrypt every value under the new one (see module doc).

    Args:
        engine: the database (the service may keep writing meanwhile).
        batch: rows per transaction.
        settle_s: seconds to wait before the last pass, so other processes have switched to the new DEK.
        max_passes: passes before giving up on a writer that keeps writing with an old DEK.
        progress: called with ``(table.column, rows re-encrypted)`` after each batch.

    Returns:
        The summary; ``still_in_use`` non-empty means some rows are still under a retiring DEK (run it
        again: it resumes).

    Raises:
        leadgate.privacy.crypto.DataKeyError: a DEK's KEK is missing from settings.
        leadgate.privacy.crypto.DecryptionError: a stored value failed authentication (tampered).
    """
    kid, resumed = start_rotation(engine)
    summary = RotationSummary(kid, resumed)

    def run_pass() -> int:
        done = _pass(engine, kid, batch, progress)
        for name, n in done.items():
            summary.rewritten[name] = summary.rewritten.get(name, 0) + n
        return sum(done.values())

    for _ in range(max_passes):
        if run_pass() == 0:
            break
    if settle_s > 0:
        time.sleep(settle_s)
        run_pass()
    keys = _keys()
    with engine.connect() as conn:
        retiring = list(
            conn.execute(
                select(keys.c.key_id).where(keys.c.purpose == "data", keys.c.status == "retiring")
            ).scalars()
        )
    from leadgate.db.store import utcnow

    for old in retiring:
        used = _usage(engine, old)
        if used:
            summary.still_in_use[old] = used
            continue
        with write_lock(engine), engine.begin() as conn:
            conn.execute(
                update(keys).where(keys.c.key_id == old).values(status="retired", retired_at=utcnow())
            )
        summary.retired.append(old)
    return summary


def rotate_kek(engine: Engine) -> dict[str, int]:
    """Re-wrap every data key and the index key with the active KEK.

    Returns:
        old KEK id -> keys re-wrapped (empty when all already use the active KEK).

    Raises:
        leadgate.privacy.crypto.DataKeyError: a key's KEK is not configured (it cannot be unwrapped).
    """
    ring = keyring(engine)
    keks = ring.keks
    keys = _keys()
    moved: dict[str, int] = {}
    with write_lock(engine), engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(keys).where(keys.c.kek_id != keks.active)).mappings()]
        for row in rows:
            raw = ring.unwrap(row)
            wrapped = base64.b64encode(aes_key_wrap(keks.keys[keks.active], raw)).decode()
            conn.execute(
                update(keys).where(keys.c.key_id == row["key_id"]).values(kek_id=keks.active, wrapped=wrapped)
            )
            moved[row["kek_id"]] = moved.get(row["kek_id"], 0) + 1
    return moved


def key_usage(engine: Engine) -> list[dict[str, Any]]:
    """Each key of ``data_keys`` with its purpose, KEK, status, creation time and rows using it."""
    keys = _keys()
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(keys).order_by(keys.c.created_at)).mappings()]
    for row in rows:
        row.pop("wrapped")
        row["rows"] = _usage(engine, row["key_id"]) if row["purpose"] == "data" else None
    return rows
