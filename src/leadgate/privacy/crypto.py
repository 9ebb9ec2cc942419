"""Envelope encryption of personal data: the key ring, AES-GCM field tokens and the email blind index.

Keys, top down:

* **Key-encryption keys (KEKs)** come from settings only (``LEADGATE_DATA_KEYS`` or the file
  ``LEADGATE_DATA_KEY_FILE``): ``id:base64`` entries of 32 random bytes, the first one active. They never
  enter the database.
* **Data-encryption keys (DEKs)** are random 256-bit AES keys stored in ``data_keys`` wrapped by a KEK
  (AES key wrap, RFC 3394, ``cryptography``'s ``aes_key_wrap``). One is ``active``; rows are encrypted
  with it.
* **The index key** (one per database, also wrapped in ``data_keys``, purpose ``index``) gives, through
  HKDF-SHA256 (RFC 5869), the HMAC-SHA256 key (RFC 2104) of the email blind index.

A field is stored as the token ``enc:v1:<dek id>:<base64(nonce || ciphertext || tag)>``: AES-256-GCM
with a 96-bit random nonce (NIST SP 800-38D, section 8.2.2: random nonces, at most 2^32 encryptions
per key, which ``leadgate keys rotate-data-key`` keeps far away) and associated data
``<table>.<column>|<row key>``, so a token moved to another field or row fails authentication.

Each process keeps one ``KeyRing`` per database (``keyring``), with the DEKs unwrapped once and one
``AESGCM`` object per DEK. The active DEK id is re-read at most every ``ACTIVE_REFRESH_S`` seconds, so a
rotation by another process is picked up while the service runs.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlalchemy.engine import make_url

from leadgate.config import Settings
from leadgate.errors import LeadgateError

log = logging.getLogger(__name__)

TOKEN_PREFIX = "enc:v1:"
"""Every encrypted value starts with this (``enc:v1:<dek id>:<base64>``)."""

KEY_BYTES = 32
"""AES-256 keys: 32 bytes (KEKs, DEKs and the index key)."""

NONCE_BYTES = 12
"""AES-GCM nonce: 96 bits, the length NIST SP 800-38D recommends (section 5.2.1.1)."""

ACTIVE_REFRESH_S = 10.0
"""How often (seconds) a running process re-reads which DEK is active (rotation by another process)."""

KEY_FILE_NAME = "leadgate-data.key"
"""The key file ``dev`` creates when no key is configured (next to a SQLite database, else the cwd)."""

_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_INDEX_INFO = b"leadgate blind index v1: email"


class DataKeyError(LeadgateError, RuntimeError):
    """A key is missing or malformed: no KEK configured outside ``dev``, an unknown key id, a bad entry."""


class DecryptionError(LeadgateError, ValueError):
    """A stored token failed authentication: tampered, moved to another field or row, or a wrong key."""


@dataclass(frozen=True)
class KekSet:
    """The key-encryption keys from settings: id -> 32 bytes, and the active id (the first entry)."""

    keys: dict[str, bytes]
    active: str
    source: str
    """Where they came from (``LEADGATE_DATA_KEYS``, or the key file's path), for messages."""


def parse_keks(text: str, source: str) -> KekSet:
    """Parse ``id:base64`` entries separated by commas, spaces or lines (``#`` starts a comment).

    The first entry is the active KEK; the others are older ones still able to unwrap DEKs.

    Raises:
        DataKeyError: no entry, a malformed or duplicate id, or a key that is not 32 bytes of base64.
    """
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for entry in re.split(r"[,\s]+", line.strip()):
            if not entry:
                continue
            kid, sep, b64 = entry.partition(":")
            if not sep or not _ID.match(kid):
                raise DataKeyError(
                    f"{source}: entry {kid[:32]!r} is not id:base64 (id: letters, digits, _ -)"
                )
            try:
                raw = base64.b64decode(b64, validate=True)
            except ValueError:
                raise DataKeyError(f"{source}: key {kid!r} is not valid base64") from None
            if len(raw) != KEY_BYTES:
                raise DataKeyError(f"{source}: key {kid!r} has {len(raw)} bytes, needs {KEY_BYTES}")
            if kid in keys:
                raise DataKeyError(f"{source}: key id {kid!r} appears twice")
            keys[kid] = raw
            order.append(kid)
    if not order:
        raise DataKeyError(f"{source}: no key (expected id:base64 entries, the first one active)")
    return KekSet(keys, order[0], source)


def new_kek_entry(kid: str) -> str:
    """A new ``id:base64`` KEK entry of 32 random bytes (``secrets``), for a key file or the setting."""
    if not _ID.match(kid):
        raise DataKeyError(f"key id {kid!r}: use letters, digits, _ and - (at most 32)")
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def default_key_file(database_url: str) -> Path:
    """Where ``dev`` keeps its generated key file: beside a SQLite database file, else in the cwd."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent / KEY_FILE_NAME
    return Path.cwd() / KEY_FILE_NAME


def load_keks(settings: Settings, database_url: str | None = None) -> KekSet:
    """The KEKs from ``settings.data_keys``, else ``settings.data_key_file``.

    With neither: in ``dev`` a key file is generated (``default_key_file``, mode 0600, never inside the
    database) and its path logged; outside ``dev`` leadgate refuses to run.

    Raises:
        DataKeyError: no key outside ``dev``; an unreadable or malformed key file or setting.
    """
    if settings.data_keys:
        return parse_keks(settings.data_keys, "LEADGATE_DATA_KEYS")
    path = settings.data_key_file
    if path is None:
        if settings.env != "dev":
            raise DataKeyError(
                f"LEADGATE_ENV={settings.env} needs a data key: set LEADGATE_DATA_KEYS or "
                "LEADGATE_DATA_KEY_FILE (make one with `leadgate keys new-kek`)"
            )
        path = default_key_file(database_url or settings.database_url)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("# leadgate data key-encryption keys (dev); first line active\n")
                fh.write(new_kek_entry("dev1") + "\n")
            log.warning("generated a data key file for dev", extra={"key_file": str(path)})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataKeyError(f"cannot read the data key file {path}: {exc.strerror}") from None
    return parse_keks(text, str(path))


def normalize_email(email: str) -> str:
    """The form the blind index hashes: trimmed and lowercased (whole address)."""
    return email.strip().lower()


def _data_keys_table() -> Table:
    from leadgate.db.privacy_models import DataKeyRow

    return DataKeyRow.__table__  # type: ignore[return-value]


class KeyRing:
    """The keys of one database in this process: KEKs, unwrapped DEKs, the index key.

    Thread-safe. Build with ``keyring(engine)`` (cached per database) or directly for tests.

    Args:
        keks: the key-encryption keys.
        engine: the database whose ``data_keys`` it reads.
    """

    def __init__(self, keks: KekSet, engine: Engine) -> None:
        self.keks = keks
        self.engine = engine
        self._lock = threading.Lock()
        self._aead: dict[str, AESGCM] = {}
        self._active: str | None = None
        self._checked = 0.0
        self._index_hmac: bytes | None = None

    # -- keys -------------------------------------------------------------------------------------

    def unwrap(self, row: Mapping[str, Any]) -> bytes:
        """The raw key of a ``data_keys`` row, unwrapped with its KEK (RFC 3394).

        Raises:
            DataKeyError: its KEK is not configured, or does not unwrap it.
        """
        kek = self.keks.keys.get(row["kek_id"])
        if kek is None:
            raise DataKeyError(
                f"data key {row['key_id']} is wrapped by key-encryption key {row['kek_id']!r}, which is not "
                f"in {self.keks.source}: add it back (after the active one)"
            )
        try:
            return aes_key_unwrap(kek, base64.b64decode(row["wrapped"]))
        except InvalidUnwrap:
            raise DataKeyError(
                f"data key {row['key_id']} does not unwrap with key-encryption key {row['kek_id']!r} "
                f"of {self.keks.source} (a different key under the same id?)"
            ) from None

    def reload(self, conn: Connection | None = None) -> None:
        """Read ``data_keys`` again (new DEKs, the active one, the index key)."""
        table = _data_keys_table()
        if conn is None:
            with self.engine.connect() as own:
                rows = [dict(r) for r in own.execute(select(table)).mappings()]
        else:
            rows = [dict(r) for r in conn.execute(select(table)).mappings()]
        with self._lock:
            for row in rows:
                if row["purpose"] == "index":
                    self._index_hmac = HKDF(
                        algorithm=hashes.SHA256(), length=32, salt=None, info=_INDEX_INFO
                    ).derive(self.unwrap(row))
                elif row["key_id"] not in self._aead:
                    self._aead[row["key_id"]] = AESGCM(self.unwrap(row))
            active = [r["key_id"] for r in rows if r["purpose"] == "data" and r["status"] == "active"]
            self._active = active[0] if active else None
            self._checked = time.monotonic()

    def active_id(self) -> str:
        """The id of the DEK new values are encrypted with.

        Raises:
            DataKeyError: the database has no data key (run ``leadgate db upgrade``).
        """
        if self._active is None or time.monotonic() - self._checked > ACTIVE_REFRESH_S:
            self.reload()
        if self._active is None:
            raise DataKeyError(
                f"database {self.engine.url.render_as_string(hide_password=True)} has no data key: "
                "run `leadgate db upgrade`"
            )
        return self._active

    def set_active(self, key_id: str) -> None:
        """Use ``key_id`` for new values from now on (after a rotation in this process)."""
        self.reload()
        with self._lock:
            self._active = key_id

    def _aead_for(self, key_id: str) -> AESGCM:
        aead = self._aead.get(key_id)
        if aead is None:
            self.reload()
            aead = self._aead.get(key_id)
            if aead is None:
                raise DecryptionError(f"unknown data key {key_id!r} (not in data_keys)")
        return aead

    # -- values -----------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, aad: bytes, key_id: str | None = None) -> str:
        """The token of ``plaintext`` bound to ``aad`` (``b"<table>.<column>|<row key>"``)."""
        kid = key_id or self.active_id()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead_for(kid).encrypt(nonce, plaintext, aad)
        return f"{TOKEN_PREFIX}{kid}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, aad: bytes) -> bytes:
        """The plaintext of a token made by ``encrypt`` with the same ``aad``.

        Raises:
            DecryptionError: not a token, an unknown key, or authentication failed (tampered or moved).
        """
        if not token.startswith(TOKEN_PREFIX):
            raise DecryptionError(f"{_where(aad)}: stored value is not encrypted (expected {TOKEN_PREFIX}…)")
        kid, sep, b64 = token[len(TOKEN_PREFIX) :].partition(":")
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError:
            raw = b""
        if not sep or len(raw) < NONCE_BYTES + 16:
            raise DecryptionError(f"{_where(aad)}: malformed encrypted value")
        try:
            return self._aead_for(kid).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError(
                f"{_where(aad)}: encrypted value failed authentication (tampered, moved from another "
                "row or field, or encrypted under another key)"
            ) from None

    def encrypt_text(self, text: str, aad: bytes, key_id: str | None = None) -> str:
        """``encrypt`` of UTF-8 text."""
        return self.encrypt(text.encode("utf-8"), aad, key_id)

    def decrypt_text(self, token: str, aad: bytes) -> str:
        """``decrypt`` to text."""
        return self.decrypt(token, aad).decode("utf-8")

    def encrypt_json(self, value: Any, aad: bytes, key_id: str | None = None) -> str:
        """``encrypt`` of the orjson form of ``value``."""
        return self.encrypt(orjson.dumps(value), aad, key_id)

    def decrypt_json(self, token: str, aad: bytes) -> Any:
        """``decrypt`` of a JSON value."""
        return orjson.loads(self.decrypt(token, aad))

    def blind_index(self, email: str) -> str:
        """HMAC-SHA256 hex (64 chars) of the normalized email under the index key (RFC 2104, 5869)."""
        key = self._index_hmac
        if key is None:
            self.reload()
            key = self._index_hmac
            if key is None:
                raise DataKeyError("the database has no index key: run `leadgate db upgrade`")
        return hmac.digest(key, normalize_email(email).encode("utf-8"), "sha256").hex()


def aad(table: str, column: str, row_key: str) -> bytes:
    """The associated data binding a token to its field and row: ``b"<table>.<column>|<row key>"``."""
    return f"{table}.{column}|{row_key}".encode()


def _where(aad_bytes: bytes) -> str:
    field, _, key = aad_bytes.decode("utf-8", "replace").partition("|")
    return f"{field} of row {key}"


def is_token(value: Any) -> bool:
    """True when ``value`` is an encrypted token (a str starting ``enc:v1:``)."""
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


_RINGS: dict[str, KeyRing] = {}
_RINGS_GUARD = threading.Lock()


def keyring(bind: Engine | Connection, settings: Settings | None = None) -> KeyRing:
    """The process-wide ``KeyRing`` of ``bind``'s database (built on first use from ``settings``).

    Args:
        bind: an engine or a connection of the database.
        settings: where the KEKs come from; default ``get_settings()``.

    Raises:
        DataKeyError: as ``load_keks``.
    """
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = engine.url.render_as_string(hide_password=False)
    ring = _RINGS.get(key)
    if ring is not None:
        return ring
    with _RINGS_GUARD:
        ring = _RINGS.get(key)
        if ring is None:
            if settings is None:
                from leadgate.config import get_settings

                settings = get_settings()
            ring = _RINGS[key] = KeyRing(load_keks(settings, key), engine)
    return ring


def forget_keyring(engine: Engine) -> None:
    """Drop the cached ring of ``engine``'s database (after its KEKs changed, e.g. in a test)."""
    with _RINGS_GUARD:
        _RINGS.pop(engine.url.render_as_string(hide_password=False), None)


def new_key_id() -> str:
    """A new DEK id: ``d`` and 8 random hex digits."""
    return "d" + secrets.token_hex(4)


def store_new_key(conn: Connection, keks: KekSet, purpose: str, status: str) -> str:
    """Insert a new random key wrapped by the active KEK; returns its id."""
    from leadgate.db.store import utcnow

    key_id = "index" if purpose == "index" else new_key_id()
    wrapped = aes_key_wrap(keks.keys[keks.active], secrets.token_bytes(KEY_BYTES))
    conn.execute(
        insert(_data_keys_table()).values(
            key_id=key_id,
            purpose=purpose,
            kek_id=keks.active,
            wrapped=base64.b64encode(wrapped).decode(),
            status=status,
            created_at=utcnow(),
        )
    )
    return key_id


def ensure_keys(engine: Engine, settings: Settings | None = None) -> bool:
    """Create the first DEK and the index key of a database that has none (``leadgate db upgrade``).

    Returns:
        True when keys were created.

    Raises:
        DataKeyError: as ``load_keks``.
    """
    from leadgate.db.engine import write_lock

    ring = keyring(engine, settings)
    table = _data_keys_table()
    created = False
    with write_lock(engine), engine.begin() as conn:
        conn.execute(update(table).where(table.c.key_id == "").values(status="none"))  # write lock first
        purposes = {(r[0], r[1]) for r in conn.execute(select(table.c.purpose, table.c.status)).all()}
        if not any(p == "index" for p, _ in purposes):
            store_new_key(conn, ring.keks, "index", "active")
            created = True
        if ("data", "active") not in purposes:
            store_new_key(conn, ring.keks, "data", "active")
            created = True
    ring.reload()
    return created
