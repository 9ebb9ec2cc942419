"""Signed checkpoints of the decision chain head, written outside the database.

A hash chain shows that stored decisions were not changed relative to each other, but someone with write
access to the database can truncate it and move the head back, reset it to genesis, re-hash every record
after an edit, or append a record with a correct hash. What anchors it is a copy of the head kept
elsewhere: the linked-timestamping idea of publishing the chain's hashes outside the system that holds
it (Haber & Stornetta, "How to time-stamp a digital document", J. Cryptology 3(2), 1991; the signed tree
heads of Certificate Transparency, RFC 6962 section 3.5, do the same for Merkle trees).

Every writer of decisions appends one line per commit to a checkpoint file (JSON Lines)::

    {"v": 1, "from": 120, "count": 170, "head": "<hash of decision #170>", "explained": "<sha256>",
     "at": "2025-01-01T00:00:00.000000Z", "sig": "<HMAC-SHA256 hex>"}

``sig`` is HMAC-SHA256 (RFC 2104; FIPS 198-1) over the canonical JSON of the other fields, with a key
from ``LEADGATE_AUDIT_KEY`` or the file ``LEADGATE_AUDIT_KEY_FILE``, never stored in the database.
``explained`` is the sha256 of the concatenated ``explanation_hash`` values of the explanations stored
inline with decisions ``from+1 .. count`` (in chain order), or None when there were none. An explanation
computed on request is checkpointed by a line ``{"v": 1, "kind": "explanation", "decision": id, "hash":
explanation_hash, "at", "sig"}``, and the head of the access log (``leadgate.audit.access``) by
``{"v": 1, "kind": "access", "count": n, "head": hash, "at", "sig"}``.

``verify_checkpoints`` checks that every line is signed with the key, that each is a prefix of the
current chain (``count <= chain count`` and decision #count hashes to ``head``), that the explanations of
each range are still the ones checkpointed, and that no decision lies beyond the newest checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, select

from leadgate.errors import LeadgateError

if TYPE_CHECKING:
    from leadgate.config import Settings

CHECKPOINTS_FILE = "audit-checkpoints.jsonl"
"""Default checkpoint file name: next to a SQLite database, else in the working directory."""


class AuditKeyError(LeadgateError):
    """The audit key is missing or unreadable where signed checkpoints are required."""


@dataclass(frozen=True)
class ChainAppend:
    """What one transaction appended to the chain: positions ``first+1 .. count`` ending in ``head``.

    ``explained`` is the sha256 of the concatenated hashes of the inline explanations of those decisions
    (chain order), or None when none was stored inline.
    """

    first: int
    count: int
    head: str
    explained: str | None


def explained_digest(explanation_hashes: Sequence[str]) -> str | None:
    """sha256 hex of the concatenated explanation hashes (chain order); None for none."""
    if not explanation_hashes:
        return None
    return hashlib.sha256("".join(explanation_hashes).encode("ascii")).hexdigest()


def audit_key(settings: Settings) -> bytes | None:
    """The HMAC key: ``audit_key`` (text), else the bytes of ``audit_key_file`` (stripped), else None.

    Raises:
        AuditKeyError: the key file cannot be read or is empty.
    """
    if settings.audit_key:
        return settings.audit_key.encode()
    if settings.audit_key_file is not None:
        try:
            key = Path(settings.audit_key_file).read_bytes().strip()
        except OSError as exc:
            raise AuditKeyError(f"cannot read the audit key file {settings.audit_key_file}: {exc}") from exc
        if not key:
            raise AuditKeyError(f"the audit key file {settings.audit_key_file} is empty")
        return key
    return None


def checkpoints_path(settings: Settings, database_url: str) -> Path:
    """``audit_checkpoints``, else ``audit-checkpoints.jsonl`` next to a SQLite file or in the working dir."""
    if settings.audit_checkpoints is not None:
        return Path(settings.audit_checkpoints)
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent / CHECKPOINTS_FILE
    return Path.cwd() / CHECKPOINTS_FILE


def sign(key: bytes, fields: dict[str, Any]) -> str:
    """HMAC-SHA256 hex (RFC 2104) of the canonical JSON (sorted keys) of ``fields``."""
    return hmac.new(key, orjson.dumps(fields, option=orjson.OPT_SORT_KEYS), hashlib.sha256).hexdigest()


def _append_line(path: Path, key: bytes, fields: dict[str, Any]) -> None:
    from leadgate.db.store import iso, utcnow

    fields = {"v": 1, **fields, "at": iso(utcnow())}
    line = orjson.dumps({**fields, "sig": sign(key, fields)}) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write on an O_APPEND descriptor: lines of concurrent writers do not interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _target(engine: Engine) -> tuple[Path, bytes] | None:
    from leadgate.config import get_settings

    settings = get_settings()
    key = audit_key(settings)
    if key is None:
        return None
    return checkpoints_path(settings, engine.url.render_as_string(hide_password=True)), key


def record_append(engine: Engine, appended: ChainAppend | None) -> None:
    """Append the signed checkpoint of a committed append (call after the commit; no-op without a key)."""
    if appended is None:
        return
    target = _target(engine)
    if target is not None:
        fields = {
            "from": appended.first,
            "count": appended.count,
            "head": appended.head,
            "explained": appended.explained,
        }
        _append_line(*target, fields)


def record_head(engine: Engine, count: int, head: str) -> Path:
    """Checkpoint the current head (``leadgate audit checkpoint``, e.g. when starting to checkpoint).

    Raises:
        AuditKeyError: no audit key is configured.
    """
    target = _target(engine)
    if target is None:
        raise AuditKeyError("no audit key: set LEADGATE_AUDIT_KEY or LEADGATE_AUDIT_KEY_FILE")
    _append_line(*target, {"from": count, "count": count, "head": head, "explained": None})
    return target[0]


def record_explanation(engine: Engine, decision_id: str, explanation_hash: str) -> None:
    """Checkpoint an explanation computed on request (after its commit; no-op without a key)."""
    target = _target(engine)
    if target is not None:
        _append_line(*target, {"kind": "explanation", "decision": decision_id, "hash": explanation_hash})


def record_access_head(engine: Engine, count: int, head: str) -> None:
    """Checkpoint the access log's head after a committed append (no-op without an audit key).

    The line is ``{"v": 1, "kind": "access", "count": n, "head": hash, "at", "sig"}``; see
    ``leadgate.audit.access``.
    """
    target = _target(engine)
    if target is not None:
        _append_line(*target, {"kind": "access", "count": count, "head": head})


@dataclass(frozen=True)
class Checkpoint:
    """One parsed line of the checkpoint file (``line`` is 1-based)."""

    line: int
    fields: dict[str, Any]


def read_checkpoints(path: Path, key: bytes) -> tuple[list[Checkpoint], str | None]:
    """Parse and authenticate the checkpoint file.

    Returns:
        ``(checkpoints, problem)``: problem names the first line that is not valid JSON or whose
        signature does not verify (``hmac.compare_digest``, constant time).
    """
    out: list[Checkpoint] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return out, f"cannot read checkpoints {path}: {exc}"
    for n, text in enumerate(raw.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            fields = orjson.loads(text)
            sig = fields.pop("sig")
            ok = isinstance(sig, str) and hmac.compare_digest(sig, sign(key, fields))
        except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError):
            return out, f"checkpoint line {n} of {path.name} is not a checkpoint"
        if not ok:
            return out, f"checkpoint line {n} of {path.name} has an invalid signature"
        out.append(Checkpoint(n, fields))
    return out, None


def verify_checkpoints(
    conn: Connection,
    checkpoints: Iterable[Checkpoint],
    count: int,
    hash_at: dict[int, str],
    id_at: dict[int, int],
) -> str | None:
    """Check authenticated checkpoints against the verified chain.

    Args:
        conn: open connection.
        checkpoints: from ``read_checkpoints``.
        count: number of decisions in the (already verified) chain.
        hash_at: ``record_hash`` of each checkpointed position (0 -> genesis).
        id_at: ``decisions.id`` of each checkpointed position and of each range start (0 -> 0).

    Returns:
        None, or the first mismatch in one line.
    """
    from leadgate.db.store import DECISIONS, EXPLANATIONS

    newest = None
    for cp in checkpoints:
        f = cp.fields
        where = f"checkpoint line {cp.line}"
        if f.get("kind") == "access":  # checked by audit.access.verify_access_log
            continue
        if f.get("kind") == "explanation":
            row = conn.execute(
                select(EXPLANATIONS.c.explanation).where(EXPLANATIONS.c.decision_id == f["decision"])
            ).first()
            if row is None:
                return f"{where}: the explanation of decision {f['decision']} was deleted"
            if hashlib.sha256(row[0].encode()).hexdigest() != f["hash"]:
                return f"{where}: the explanation of decision {f['decision']} was changed"
            continue
        n = int(f["count"])
        newest = n if newest is None else max(newest, n)
        if n > count:
            return f"{where} records {n} decisions but the chain holds {count} (truncated or reset)"
        if hash_at[n] != f["head"]:
            return (
                f"{where}: decision #{n} does not hash to the checkpointed head {f['head'][:16]}… (rewritten)"
            )
        first = int(f["from"])
        hashes = conn.execute(
            select(EXPLANATIONS.c.explanation)
            .select_from(EXPLANATIONS.join(DECISIONS, DECISIONS.c.decision_id == EXPLANATIONS.c.decision_id))
            .where(
                DECISIONS.c.id > id_at[first],
                DECISIONS.c.id <= id_at[n],
                EXPLANATIONS.c.computed == "inline",
            )
            .order_by(DECISIONS.c.id)
        ).scalars()
        digest = explained_digest([hashlib.sha256(t.encode()).hexdigest() for t in hashes])
        if digest != f.get("explained"):
            return f"{where}: the inline explanations of decisions #{first + 1}..#{n} were changed or deleted"
    if newest is None:
        return None if count == 0 else f"no checkpoint covers the {count} decisions of the chain"
    if count > newest:
        return (
            f"decisions #{newest + 1}..#{count} are not covered by a signed checkpoint "
            "(appended outside leadgate?)"
        )
    return None


def positions(checkpoints: Iterable[Checkpoint]) -> set[int]:
    """Chain positions whose hash and row id ``verify_checkpoints`` needs."""
    out: set[int] = set()
    for cp in checkpoints:
        if cp.fields.get("kind") not in ("explanation", "access"):
            out.update((int(cp.fields["count"]), int(cp.fields["from"])))
    return out
