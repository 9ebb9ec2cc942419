"""Reads and writes of leads, dead letters, import runs and decisions (SQLAlchemy Core, both backends).

Every function takes an open ``Connection`` inside a transaction owned by the caller, so a chunk of
leads, its dead letters, its decisions and the import checkpoint commit together or not at all.
"""

from __future__ import annotations

import operator
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, DateTime, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from leadgate.audit.chain import chain_hashes
from leadgate.db.models import (
    AuditHeadRow,
    DeadLetterRow,
    DecisionExplanationRow,
    DecisionRow,
    ImportRunRow,
    LeadRow,
)
from leadgate.errors import LeadgateError
from leadgate.privacy.crypto import aad, is_token, keyring
from leadgate.privacy.fields import first_email, merge_lead

LEADS: Table = LeadRow.__table__  # type: ignore[assignment]
DEAD: Table = DeadLetterRow.__table__  # type: ignore[assignment]
RUNS: Table = ImportRunRow.__table__  # type: ignore[assignment]
DECISIONS: Table = DecisionRow.__table__  # type: ignore[assignment]
EXPLANATIONS: Table = DecisionExplanationRow.__table__  # type: ignore[assignment]
HEAD: Table = AuditHeadRow.__table__  # type: ignore[assignment]

# Parameters per statement stay under SQLite's limit (32,766) for IN lists.
_IN_CHUNK = 5000


def new_ids(n: int) -> list[str]:
    """``n`` time-ordered UUID version 7 strings (RFC 9562, section 5.7), one timestamp for the batch.

    Ids that grow with time keep B-tree index inserts local, unlike random UUID4s. 74 random bits each.
    Built as one (n, 36) array of ASCII codes (hex digits and dashes), so the cost per id is a slice.
    """
    ms = time.time_ns() // 1_000_000
    noise = np.frombuffer(os.urandom(10 * n), dtype=np.uint8).reshape(n, 10)
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :6] = np.frombuffer((ms & 0xFFFF_FFFF_FFFF).to_bytes(6, "big"), dtype=np.uint8)
    raw[:, 6] = 0x70 | (noise[:, 0] & 0x0F)  # version 7, then 12 random bits
    raw[:, 7] = noise[:, 1]
    raw[:, 8] = 0x80 | (noise[:, 2] & 0x3F)  # variant 0b10, then 62 random bits
    raw[:, 9:] = noise[:, 3:]
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, at in _UUID_GROUPS:
        text[:, at : at + stop - start] = digits[:, start:stop]
    flat = text.tobytes().decode("ascii")
    return [flat[k : k + 36] for k in range(0, 36 * n, 36)]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_GROUPS = ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24))
"""(first hex digit, end, position in the text) of the five dash-separated groups of a UUID."""


def new_id() -> str:
    """One time-ordered UUID version 7 string (see ``new_ids``)."""
    return new_ids(1)[0]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """ISO-8601 UTC text with microseconds and a ``Z`` suffix (the stored and hashed form)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def insert_ignore(conn: Connection, table: Table, index: list[str]) -> Any:
    """An INSERT that skips rows conflicting on ``index`` (ON CONFLICT DO NOTHING on both backends)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=index)
    raise NotImplementedError(f"unsupported database {conn.dialect.name}")


def bulk_insert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], on_conflict: str | None = None
) -> None:
    """Insert many rows through the driver's ``executemany`` with positional parameters.

    The hot path of batch qualification: it skips SQLAlchemy's per-row parameter processing (about 4
    microseconds a row). Values must already be in their stored form (str, int, float, bool, bytes,
    datetime). ``on_conflict`` names the unique column(s) to skip conflicts on (``ON CONFLICT DO NOTHING``).
    """
    if not rows:
        return
    columns = list(rows[0])
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    if on_conflict:
        sql += f" ON CONFLICT ({on_conflict}) DO NOTHING"
    # The column types' own bind processors, as SQLAlchemy would apply; on SQLite, datetimes become the
    # text the sqlite3 module's default adapter writes (``isoformat(" ")``). Applied a column at a time
    # (``map`` in C) rather than row by row.
    procs: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(columns):
        col_type = table.c[c].type
        bind: Callable[[Any], Any] | None = col_type.bind_processor(conn.dialect)
        if bind is None and conn.dialect.name == "sqlite" and isinstance(col_type, DateTime):
            bind = _last_value_memo(_sqlite_datetime)
        if bind is not None:
            procs.append((i, bind))
    pick = operator.itemgetter(*columns)
    params: list[Any] = list(map(pick, rows)) if len(columns) > 1 else [(pick(r),) for r in rows]
    if procs:
        cols: list[Any] = list(zip(*params, strict=True))
        for i, convert in procs:
            cols[i] = map(convert, cols[i])
        params = list(zip(*cols, strict=True))
    conn.exec_driver_sql(sql, params)


def _sqlite_datetime(value: Any) -> Any:
    """A datetime as the sqlite3 module's default adapter stores it; other values unchanged."""
    return value.isoformat(" ") if isinstance(value, datetime) else value


def _last_value_memo(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` that reuses its last result when given the very same object again.

    A chunk's rows share one ``received_at`` object, so it is converted once instead of once a row.
    Identity (not equality) keeps it exact: equal datetimes in different time zones convert differently.
    """
    last: list[Any] = [_NOTHING, None]

    def memo(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return memo


_NOTHING = object()


def existing_lead_hashes(conn: Connection, lead_ids: Sequence[str]) -> dict[str, str]:
    """lead_id -> stored content hash, for the ids that are already stored.

    Plain driver SQL with one placeholder per id (SQLAlchemy's expanding IN costs about a microsecond
    per id in Python).
    """
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    found: dict[str, str] = {}
    for start in range(0, len(lead_ids), _IN_CHUNK):
        part = tuple(lead_ids[start : start + _IN_CHUNK])
        rows = conn.exec_driver_sql(
            f"SELECT lead_id, content_hash FROM {LEADS.name} WHERE lead_id IN ({', '.join([mark] * len(part))})",
            part,
        )
        found.update({r[0]: r[1] for r in rows})
    return found


class LeadConflictError(LeadgateError, ValueError):
    """Leads already stored with different content that the caller may not replace (the API's 409).

    Attributes:
        lead_ids: the refused ids, sorted.
    """

    def __init__(self, lead_ids: Sequence[str]):
        self.lead_ids = sorted(lead_ids)
        super().__init__(f"leads stored with different content: {', '.join(map(repr, self.lead_ids))}")


def lock_chain(conn: Connection) -> None:
    """Take the decision chain's lock for the rest of the caller's transaction (a no-op UPDATE of the head).

    A transaction that writes leads and then appends their decisions calls this *first*: on PostgreSQL
    the head row lock then orders such transactions whole, so a lead written by one and decided by
    another cannot interleave (two servers posting the same new ``lead_id`` with different content would
    otherwise leave the lead of one with the decision of the other), and no two of them can deadlock
    (lead rows before head in one, head before lead rows in the other). On SQLite the UPDATE takes the
    database write lock at once, before any read, so the reads of the transaction are not stale.
    """
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(count=HEAD.c.count))


def write_leads(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    *,
    may_replace: Callable[[str, str], bool] | None = None,
) -> tuple[int, int, int]:
    """Insert new leads and update changed ones; identical ones are left alone (idempotent).

    A row may carry ``latest_decision_id`` (the decision about to be appended for it): a new lead is
    then inserted already pointing at it, which saves rewriting the row in ``append_decisions``.
    Rows are written in ``lead_id`` order, so two transactions writing the same leads lock them in the
    same order. Call ``lock_chain`` first when the transaction also appends decisions.

    Personal fields are encrypted here (``encrypt_lead_rows``): each row's plaintext ``pii`` dict is
    replaced, in place, by its token and ``email_index`` set. ``owner`` (the rep a lead is assigned to) is
    not content: a row whose ``owner`` is None never clears a stored owner, and a row that sets one
    assigns the lead to it, also when the content is unchanged (such a lead still counts as unchanged).

    Args:
        conn: open connection inside the caller's transaction.
        rows: dicts with ``lead_id, source, received_at, input_hash, content_hash, data, pii,
            email_index, import_run_id`` (``rows.lead_row``), optionally ``owner`` and
            ``latest_decision_id`` (each in all rows or in none).
        may_replace: ``(lead_id, stored content hash) -> bool``: whether a lead stored with different
            content may be replaced; None replaces every one (imports).

    Returns:
        ``(inserted, updated, unchanged)`` counts.

    Raises:
        leadgate.privacy.crypto.DataKeyError: no data key (``leadgate db upgrade`` creates it).
        LeadConflictError: ``may_replace`` refused some leads; nothing was written (the caller's
            transaction should roll back).
    """
    if not rows:
        return 0, 0, 0
    encrypt_lead_rows(conn, rows)
    existing = existing_lead_hashes(conn, [r["lead_id"] for r in rows])
    if may_replace is not None:
        refused = {
            r["lead_id"]
            for r in rows
            if (old := existing.get(r["lead_id"])) is not None
            and old != r["content_hash"]
            and not may_replace(r["lead_id"], old)
        }
        if refused:
            raise LeadConflictError(sorted(refused))
    new: dict[str, dict[str, Any]] = {}
    changed: list[dict[str, Any]] = []
    assigned: list[tuple[str, str]] = []
    unchanged = 0
    for r in rows:
        stored = existing.get(r["lead_id"])
        if stored is None:
            earlier = new.get(r["lead_id"])
            if earlier is not None:  # the same id twice in one batch: the later row wins
                unchanged += earlier["content_hash"] == r["content_hash"]
                if r.get("owner") is None and earlier.get("owner") is not None:
                    r = {**r, "owner": earlier["owner"]}
            new[r["lead_id"]] = r
        elif stored != r["content_hash"]:
            changed.append(r)
        else:
            unchanged += 1
            if r.get("owner") is not None:
                assigned.append((r["lead_id"], r["owner"]))
    if new:
        bulk_insert(conn, LEADS, sorted(new.values(), key=_by_lead_id), on_conflict="lead_id")
    for r in sorted(changed, key=_by_lead_id):
        values = {
            "source": r["source"],
            "input_hash": r["input_hash"],
            "content_hash": r["content_hash"],
            "data": r["data"],
            "pii": r.get("pii"),
            "email_index": r.get("email_index"),
            "import_run_id": r["import_run_id"],
        }
        if r.get("owner") is not None:
            values["owner"] = r["owner"]
        conn.execute(update(LEADS).where(LEADS.c.lead_id == r["lead_id"]).values(**values))
    assign_owners(conn, assigned)
    return len(new), len(changed), unchanged


def assign_owners(conn: Connection, pairs: Sequence[tuple[str, str]]) -> None:
    """Assign leads to reps: ``(lead_id, owner)`` pairs, applied in order (the last one wins).

    A lead that already has that owner is only looked up, not rewritten; unknown lead ids are ignored.
    """
    if pairs:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        op = "IS NOT" if conn.dialect.name == "sqlite" else "IS DISTINCT FROM"
        conn.exec_driver_sql(
            f"UPDATE {LEADS.name} SET owner = {mark} WHERE lead_id = {mark} AND owner {op} {mark}",
            [(owner, lead_id, owner) for lead_id, owner in pairs],
        )


def lead_owner(conn: Connection, lead_id: str) -> tuple[bool, str | None]:
    """``(found, owner)`` of a stored lead: ``(False, None)`` when no lead has this id."""
    row = conn.execute(select(LEADS.c.owner).where(LEADS.c.lead_id == lead_id)).first()
    return (False, None) if row is None else (True, row[0])


def encrypt_lead_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Encrypt the ``pii`` dict of each lead row in place (AES-GCM token bound to ``leads.pii|lead_id``).

    One key lookup per call; rows whose ``pii`` is None (no personal fields) or already a token are left
    as they are. Sets ``email_index`` (HMAC blind index, ``privacy.crypto``) from the plaintext email.
    """
    ring = None
    kid = ""
    for r in rows:
        personal = r.get("pii")
        if personal is None or isinstance(personal, str):
            continue
        if ring is None:
            ring = keyring(conn)
            kid = ring.active_id()
        email = personal.get("email")
        r["email_index"] = None if email is None else ring.blind_index(email)
        r["pii"] = ring.encrypt(orjson.dumps(personal), b"leads.pii|" + r["lead_id"].encode(), kid)


def decrypt_lead(conn: Connection, lead_id: str, data: str, pii: str | None) -> dict[str, Any]:
    """The whole ``lead/v1`` dict of a stored lead: ``data`` with its decrypted personal fields merged.

    Raises:
        leadgate.privacy.crypto.DecryptionError: the ``pii`` token was tampered with or moved.
    """
    doc = orjson.loads(data)
    if pii is None:
        return doc
    personal = keyring(conn).decrypt_json(pii, b"leads.pii|" + lead_id.encode())
    return merge_lead(doc, personal)


def _by_lead_id(row: dict[str, Any]) -> str:
    return str(row["lead_id"])


def set_latest_decisions(conn: Connection, pairs: Sequence[tuple[str, str]]) -> None:
    """Point leads at decisions: ``(lead_id, decision_id)`` pairs, applied in order (the last one wins).

    A lead already pointing at its decision (inserted so by ``write_leads``) is only looked up, not
    rewritten.
    """
    if pairs:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        op = "IS NOT" if conn.dialect.name == "sqlite" else "IS DISTINCT FROM"
        conn.exec_driver_sql(
            f"UPDATE {LEADS.name} SET latest_decision_id = {mark} "
            f"WHERE lead_id = {mark} AND latest_decision_id {op} {mark}",
            [(decision_id, lead_id, decision_id) for lead_id, decision_id in pairs],
        )


def write_dead_letters(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store rejected records; a record already stored (same ``dedupe_key``) is not stored twice.

    The raw ``record`` (JSON text) is encrypted whole (bound to ``dead_letters.record|dedupe_key``) and
    the first email address found in it gets its blind index in ``email_index``.
    """
    if rows:
        ring = keyring(conn)
        kid = ring.active_id()
        stored = []
        for r in rows:
            record = r["record"]
            row = dict(r)
            if not is_token(record):
                email = first_email(_record_value(record))
                row["email_index"] = None if email is None else ring.blind_index(email)
                row["record"] = ring.encrypt_text(record, aad("dead_letters", "record", r["dedupe_key"]), kid)
            stored.append(row)
        conn.execute(insert_ignore(conn, DEAD, ["dedupe_key"]), stored)


def _record_value(text: str) -> Any:
    """A dead letter's record parsed as JSON, or its text when it is not JSON (a truncated copy)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def decrypt_dead_letter(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """A ``dead_letters`` row (column -> value) with its ``record`` decrypted and parsed.

    A record cut to ``LEADGATE_DEAD_LETTER_MAX_BYTES`` (``truncated``) is not whole JSON: it is returned as
    its text.
    """
    out = dict(row)
    out["record"] = _record_value(
        keyring(conn).decrypt_text(row["record"], aad("dead_letters", "record", row["dedupe_key"]))
    )
    return out


def append_decisions(conn: Connection, rows: Sequence[dict[str, Any]]) -> tuple[int, int, str]:
    """Append decisions to the hash chain and point each decided lead at its newest decision.

    Locks the chain head first (an UPDATE, which takes the write lock on SQLite and the row lock on
    PostgreSQL), links each row to the previous hash, inserts them and moves the head. Then sets
    ``leads.latest_decision_id`` of each decided lead (in row order, so the last decision of a lead
    wins), which ``latest_decision`` follows.

    Args:
        conn: open connection inside the caller's transaction.
        rows: dicts with the ``RECORD_FIELDS`` of ``leadgate.audit.chain`` (stored text forms);
            ``prev_hash`` and ``record_hash`` are filled in here.

    Returns:
        ``(count before, count after, head hash after)`` of the chain.
    """
    if not rows:
        head_hash, count = chain_head(conn)
        return count, count, head_hash
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(count=HEAD.c.count))
    head = conn.execute(select(HEAD.c.last_hash, HEAD.c.count).where(HEAD.c.id == 1)).one()
    prev = head[0]
    for row, record_hash in zip(rows, chain_hashes(prev, rows), strict=True):
        row["prev_hash"] = prev
        prev = row["record_hash"] = record_hash
    bulk_insert(conn, DECISIONS, rows)
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=prev, count=head[1] + len(rows)))
    set_latest_decisions(conn, [(r["lead_id"], r["decision_id"]) for r in rows])
    return head[1], head[1] + len(rows), prev


def write_explanations(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store explanations (``decision_id, explanation, explanation_hash, computed, created_at``).

    An explanation already stored for a decision is kept (the first one wins; they are deterministic).
    """
    if rows:
        conn.execute(insert_ignore(conn, EXPLANATIONS, ["decision_id"]), list(rows))


def get_lead(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """The stored lead as its ``lead/v1`` dict (personal fields decrypted; ``owner`` from its column, when set), or None."""
    row = conn.execute(
        select(LEADS.c.data, LEADS.c.pii, LEADS.c.owner).where(LEADS.c.lead_id == lead_id)
    ).first()
    if row is None:
        return None
    data = decrypt_lead(conn, lead_id, row[0], row[1])
    if row[2] is not None:
        data["owner"] = row[2]
    return data


def latest_decision(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """The most recent stored decision row of a lead (column -> value), or None.

    Found through the lead row's ``latest_decision_id`` (kept by ``append_decisions``): two unique-index
    lookups, whatever the number of decisions.
    """
    row = (
        conn.execute(
            select(DECISIONS)
            .select_from(LEADS.join(DECISIONS, DECISIONS.c.decision_id == LEADS.c.latest_decision_id))
            .where(LEADS.c.lead_id == lead_id)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def get_explanation(conn: Connection, decision_id: str) -> tuple[dict[str, Any], str] | None:
    """``(explanation dict, computed)`` for a decision, or None when not stored yet."""
    row = conn.execute(
        select(EXPLANATIONS.c.explanation, EXPLANATIONS.c.computed).where(
            EXPLANATIONS.c.decision_id == decision_id
        )
    ).first()
    return None if row is None else (orjson.loads(row[0]), row[1])


def iter_decisions(
    conn: Connection, batch: int = 10_000, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Stored decisions in chain (id) order, streamed ``batch`` rows at a time; the first ``limit`` only."""
    last = 0
    left = limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        rows = conn.execute(
            select(DECISIONS).where(DECISIONS.c.id > last).order_by(DECISIONS.c.id).limit(size)
        )
        chunk = [dict(r) for r in rows.mappings()]
        if not chunk:
            return
        yield from chunk
        last = chunk[-1]["id"]
        if left is not None:
            left -= len(chunk)


def chain_head(conn: Connection) -> tuple[str, int]:
    """``(last_hash, count)`` of the decision chain."""
    row = conn.execute(select(HEAD.c.last_hash, HEAD.c.count).where(HEAD.c.id == 1)).one()
    return row[0], row[1]


def start_import_run(
    conn: Connection,
    source: str,
    path: str,
    file_hash: str,
    mapping_hash: str,
    kind: str = "import",
    run_key: str = "",
) -> int:
    """Create a run in status ``running``; returns its id.

    Args:
        conn: open connection inside the caller's transaction.
        source: the mapping's source name.
        path: the file's path as given.
        file_hash: sha256 of the file's bytes.
        mapping_hash: ``ColumnMapping.content_hash()``.
        kind: ``import`` (store leads) or ``qualify`` (store and decide them).
        run_key: what else must match for a later run to resume this one (model, policy, explain mode).
    """
    result = conn.execute(
        insert(RUNS)
        .values(
            source=source,
            file_path=path,
            file_sha256=file_hash,
            mapping_hash=mapping_hash,
            kind=kind,
            run_key=run_key,
            status="running",
            rows_committed=0,
            rows_imported=0,
            rows_unchanged=0,
            rows_rejected=0,
            started_at=utcnow(),
        )
        .returning(RUNS.c.id)
    )
    return int(result.scalar_one())


def find_run(
    conn: Connection,
    file_hash: str,
    mapping_hash: str,
    kind: str = "import",
    run_key: str = "",
    statuses: tuple[str, ...] = ("running", "failed"),
) -> dict[str, Any] | None:
    """The latest run of the same file bytes, mapping, kind and key in one of ``statuses``, or None.

    ``running`` and ``failed`` runs are the resumable ones (a killed process leaves ``running``, an error
    ``failed``); ``completed`` finds the run a ``--resume`` would repeat.
    """
    row = (
        conn.execute(
            select(RUNS)
            .where(
                RUNS.c.file_sha256 == file_hash,
                RUNS.c.mapping_hash == mapping_hash,
                RUNS.c.kind == kind,
                RUNS.c.run_key == run_key,
                RUNS.c.status.in_(statuses),
            )
            .order_by(RUNS.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def find_resumable_run(
    conn: Connection, file_hash: str, mapping_hash: str, kind: str = "import", run_key: str = ""
) -> dict[str, Any] | None:
    """The latest unfinished (``running`` or ``failed``) run of the same file, mapping, kind and key."""
    return find_run(conn, file_hash, mapping_hash, kind, run_key)


def run_decisions(conn: Connection, run_id: int) -> Iterator[tuple[dict[str, Any], str | None]]:
    """The decisions a run made, in chain order, each with its inline explanation JSON (or None)."""
    query = (
        select(DECISIONS, EXPLANATIONS.c.explanation)
        .outerjoin(EXPLANATIONS, EXPLANATIONS.c.decision_id == DECISIONS.c.decision_id)
        .where(DECISIONS.c.run_id == run_id)
        .order_by(DECISIONS.c.id)
    )
    for row in conn.execute(query).mappings():
        record = dict(row)
        explanation = record.pop("explanation")
        yield record, explanation


def checkpoint_run(
    conn: Connection, run_id: int, *, rows_committed: int, imported: int, unchanged: int, rejected: int
) -> None:
    """Advance a run's committed offset and add to its counters (same transaction as the chunk)."""
    conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(
            rows_committed=rows_committed,
            rows_imported=RUNS.c.rows_imported + imported,
            rows_unchanged=RUNS.c.rows_unchanged + unchanged,
            rows_rejected=RUNS.c.rows_rejected + rejected,
        )
    )


def finish_run(conn: Connection, run_id: int, status: str = "completed") -> dict[str, Any]:
    """Mark a run ``completed``, ``failed`` or ``abandoned`` and return it."""
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(status=status, finished_at=utcnow()))
    return dict(conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().one())
