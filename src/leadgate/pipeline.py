"""The one place where the stages are composed, readable top to bottom.

    CSV / JSON  --ingest-->  Lead  --features-->  frame  --scoring-->  Score  --policy-->  Decision  --audit-->  DB

``import_file`` stores leads (and dead letters) from a file, chunk by chunk, each chunk in one
transaction together with the import checkpoint, so an import killed at any point resumes with
``resume=True`` losing and doubling nothing. ``Qualifier`` scores and decides leads in memory;
``qualify_file`` and ``qualify_leads`` add storage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.ingest import ColumnMapping, CsvChunk, Rejected, file_sha256, input_hash, read_csv_chunks


class ImportInProgressError(RuntimeError):
    """An unfinished import of the same file and mapping exists; resume it instead of starting over."""


@dataclass
class ImportSummary:
    """Counts of one import run (rows are data rows of the file)."""

    run_id: int
    resumed_from: int
    rows_committed: int
    imported: int
    updated: int
    unchanged: int
    rejected: int
    status: str


def lead_row(lead: Lead, run_id: int | None) -> dict[str, Any]:
    """The ``leads`` table row of a lead: its JSON document, input hash and content hash.

    ``content_hash`` covers the whole document except ``received_at``, so re-importing an identical
    record is recognised as unchanged.
    """
    doc = lead.model_dump()
    received = doc.pop("received_at")
    content = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    doc["received_at"] = received
    return {
        "lead_id": lead.lead_id,
        "source": lead.source,
        "received_at": received,
        "input_hash": input_hash(lead),
        "content_hash": hashlib.sha256(content).hexdigest(),
        "data": orjson.dumps(doc).decode(),
        "import_run_id": run_id,
    }


def dead_letter_row(source: str, file_hash: str, run_id: int | None, rejected: Rejected) -> dict[str, Any]:
    """The ``dead_letters`` row of a rejected record (deduplicated on source, file, row and content)."""
    record = orjson.dumps(rejected.record, option=orjson.OPT_SORT_KEYS)
    key = hashlib.sha256(f"{source}|{file_hash}|{rejected.row_number}|".encode() + record).hexdigest()
    return {
        "source": source,
        "dedupe_key": key,
        "import_run_id": run_id,
        "row_number": rejected.row_number,
        "record": record.decode(),
        "reason": rejected.reason,
        "errors": orjson.dumps([{"path": e.path, "reason": e.reason} for e in rejected.errors]).decode(),
        "created_at": store.utcnow(),
    }


ChunkHook = Callable[[Connection, CsvChunk, int], None]


def _run_file(
    engine: Engine,
    path: str | Path,
    mapping: ColumnMapping,
    *,
    resume: bool,
    chunk_size: int,
    on_chunk: ChunkHook | None,
    progress: Callable[[int], None] | None,
) -> ImportSummary:
    """Stream ``path`` into the store chunk by chunk; ``on_chunk`` adds work inside each chunk's transaction."""
    path = Path(path)
    file_hash = file_sha256(path)
    mapping_hash = mapping.content_hash()
    lock = write_lock(engine)
    with lock, engine.begin() as conn:
        previous = store.find_resumable_run(conn, file_hash, mapping_hash)
        if previous is not None and not resume:
            raise ImportInProgressError(
                f"import run {previous['id']} of {path.name} stopped after {previous['rows_committed']} rows; "
                "run the same command with --resume to finish it"
            )
        if previous is not None:
            run_id, start_row = int(previous["id"]), int(previous["rows_committed"])
        else:
            run_id, start_row = store.start_import_run(conn, mapping.source, str(path), file_hash, mapping_hash), 0
    totals = {"imported": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    committed = start_row
    for chunk in read_csv_chunks(path, mapping, start_row=start_row, chunk_size=chunk_size):
        rows = [lead_row(lead, run_id) for _, lead in chunk.leads]
        dead = [dead_letter_row(mapping.source, file_hash, run_id, r) for r in chunk.rejected]
        with lock, engine.begin() as conn:
            inserted, updated, unchanged = store.write_leads(conn, rows)
            store.write_dead_letters(conn, dead)
            if on_chunk is not None:
                on_chunk(conn, chunk, run_id)
            store.checkpoint_run(
                conn,
                run_id,
                rows_committed=chunk.last_row,
                imported=inserted + updated,
                unchanged=unchanged,
                rejected=len(dead),
            )
        totals["imported"] += inserted
        totals["updated"] += updated
        totals["unchanged"] += unchanged
        totals["rejected"] += len(dead)
        committed = chunk.last_row
        if progress is not None:
            progress(chunk.last_row - chunk.first_row + 1)
    with lock, engine.begin() as conn:
        run = store.finish_run(conn, run_id)
    return ImportSummary(
        run_id=run_id,
        resumed_from=start_row,
        rows_committed=committed,
        imported=totals["imported"],
        updated=totals["updated"],
        unchanged=totals["unchanged"],
        rejected=totals["rejected"],
        status=str(run["status"]),
    )


def import_file(
    engine: Engine,
    path: str | Path,
    mapping: ColumnMapping,
    *,
    resume: bool = False,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a CSV file: valid rows become stored leads, invalid rows dead letters.

    Idempotent: a lead already stored with the same content is counted ``unchanged``; a changed one is
    updated; a dead letter is stored once. Each chunk and its checkpoint commit in one transaction.

    Args:
        engine: the store.
        path: CSV file.
        mapping: its column mapping.
        resume: continue the unfinished run of the same file bytes and mapping after its last committed row.
        chunk_size: rows per transaction.
        progress: called with the number of rows of each committed chunk.

    Raises:
        ImportInProgressError: an unfinished run exists and ``resume`` is False.
        FileFormatError: the header does not match the mapping.
    """
    return _run_file(engine, path, mapping, resume=resume, chunk_size=chunk_size, on_chunk=None, progress=progress)
