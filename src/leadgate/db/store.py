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

import orjson
from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from leadgate.audit.chain import chain_hash, decision_record
from leadgate.db.models import (
    AuditHeadRow,
    DeadLetterRow,
    DecisionExplanationRow,
    DecisionRow,
    ImportRunRow,
    LeadRow,
)

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
    """
    ms = time.time_ns() // 1_000_000
    high = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | 0b10 << 62
    noise = os.urandom(10 * n)
    out = []
    for k in range(0, 10 * n, 10):
        rand = int.from_bytes(noise[k : k + 10], "big")
        h = f"{high | (rand >> 62 & 0xFFF) << 64 | (rand & (1 << 62) - 1):032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


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
    # The column types' own bind processors (e.g. DateTime as text on SQLite), as SQLAlchemy would apply.
    procs: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(columns):
        bind = table.c[c].type.bind_processor(conn.dialect)
        if bind is not None:
            procs.append((i, bind))
    pick = operator.itemgetter(*columns)
    params = [pick(r) for r in rows] if len(columns) > 1 else [(pick(r),) for r in rows]
    if procs:
        converted = []
        for values in params:
            row = list(values)
            for i, convert in procs:
                row[i] = convert(row[i])
            converted.append(tuple(row))
        params = converted
    conn.exec_driver_sql(sql, params)


def existing_lead_hashes(conn: Connection, lead_ids: Sequence[str]) -> dict[str, str]:
    """lead_id -> stored content hash, for the ids that are already stored."""
    found: dict[str, str] = {}
    for start in range(0, len(lead_ids), _IN_CHUNK):
        part = lead_ids[start : start + _IN_CHUNK]
        rows = conn.execute(select(LEADS.c.lead_id, LEADS.c.content_hash).where(LEADS.c.lead_id.in_(part)))
        found.update({r[0]: r[1] for r in rows})
    return found


def write_leads(conn: Connection, rows: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
    """Insert new leads and update changed ones; identical ones are left alone (idempotent).

    Args:
        conn: open connection inside the caller's transaction.
        rows: dicts with ``lead_id, source, received_at, input_hash, content_hash, data, import_run_id``.

    Returns:
        ``(inserted, updated, unchanged)`` counts.
    """
    if not rows:
        return 0, 0, 0
    existing = existing_lead_hashes(conn, [r["lead_id"] for r in rows])
    new: dict[str, dict[str, Any]] = {}
    changed: list[dict[str, Any]] = []
    unchanged = 0
    for r in rows:
        stored = existing.get(r["lead_id"])
        if stored is None:
            if r["lead_id"] in new:  # the same id twice in one batch: the later row wins
                unchanged += new[r["lead_id"]]["content_hash"] == r["content_hash"]
            new[r["lead_id"]] = r
        elif stored != r["content_hash"]:
            changed.append(r)
        else:
            unchanged += 1
    if new:
        bulk_insert(conn, LEADS, list(new.values()), on_conflict="lead_id")
    for r in changed:
        conn.execute(
            update(LEADS)
            .where(LEADS.c.lead_id == r["lead_id"])
            .values(
                source=r["source"],
                input_hash=r["input_hash"],
                content_hash=r["content_hash"],
                data=r["data"],
                import_run_id=r["import_run_id"],
            )
        )
    return len(new), len(changed), unchanged


def write_dead_letters(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store rejected records; a record already stored (same ``dedupe_key``) is not stored twice."""
    if rows:
        conn.execute(insert_ignore(conn, DEAD, ["dedupe_key"]), list(rows))


def append_decisions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append decisions to the hash chain.

    Locks the chain head first (an UPDATE, which takes the write lock on SQLite and the row lock on
    PostgreSQL), links each row to the previous hash, inserts them and moves the head.

    Args:
        conn: open connection inside the caller's transaction.
        rows: dicts with the ``RECORD_FIELDS`` of ``leadgate.audit.chain`` (stored text forms);
            ``prev_hash`` and ``record_hash`` are filled in here.
    """
    if not rows:
        return
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(count=HEAD.c.count))
    head = conn.execute(select(HEAD.c.last_hash, HEAD.c.count).where(HEAD.c.id == 1)).one()
    prev = head[0]
    for row in rows:
        row["prev_hash"] = prev
        prev = row["record_hash"] = chain_hash(prev, decision_record(row))
    bulk_insert(conn, DECISIONS, rows)
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=prev, count=head[1] + len(rows)))


def write_explanations(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store explanations (``decision_id, explanation, explanation_hash, computed, created_at``).

    An explanation already stored for a decision is kept (the first one wins; they are deterministic).
    """
    if rows:
        conn.execute(insert_ignore(conn, EXPLANATIONS, ["decision_id"]), list(rows))


def get_lead(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """The stored lead as its ``lead/v1`` dict, or None."""
    row = conn.execute(select(LEADS.c.data).where(LEADS.c.lead_id == lead_id)).first()
    return None if row is None else orjson.loads(row[0])


def latest_decision(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """The most recent stored decision row of a lead (column -> value), or None."""
    row = (
        conn.execute(
            select(DECISIONS).where(DECISIONS.c.lead_id == lead_id).order_by(DECISIONS.c.id.desc()).limit(1)
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


def start_import_run(conn: Connection, source: str, path: str, file_hash: str, mapping_hash: str) -> int:
    """Create an import run in status ``running``; returns its id."""
    result = conn.execute(
        insert(RUNS)
        .values(
            source=source,
            file_path=path,
            file_sha256=file_hash,
            mapping_hash=mapping_hash,
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


def find_resumable_run(conn: Connection, file_hash: str, mapping_hash: str) -> dict[str, Any] | None:
    """The latest unfinished run of the same file bytes and mapping, or None."""
    row = (
        conn.execute(
            select(RUNS)
            .where(
                RUNS.c.file_sha256 == file_hash,
                RUNS.c.mapping_hash == mapping_hash,
                RUNS.c.status == "running",
            )
            .order_by(RUNS.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


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
    """Mark a run finished and return it."""
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(status=status, finished_at=utcnow()))
    return dict(conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().one())
