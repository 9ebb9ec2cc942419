"""Qualification against the store: files chunk by chunk, and batches of leads in one transaction.

    file --read_raw_chunks--> raw chunk --map_chunk--> CsvChunk --process_chunk--> ChunkOutput --writer--> DB

``import_file`` stores leads (and dead letters) from a file, chunk by chunk, each chunk in one
transaction together with the import checkpoint, so an import killed at any point resumes with
``resume=True`` losing and doubling nothing. ``qualify_file`` does the same and also decides every lead
(``leadgate.qualifier``) and appends the decisions to the log (``leadgate.audit.log``) in the chunk's
transaction. A batch of leads (API, forms, email, chat) goes through ``leadgate.batches`` instead.
"""

from __future__ import annotations

import csv
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadgate.audit.checkpoint import record_append
from leadgate.audit.log import store_decisions
from leadgate.contracts.action import Assignment
from leadgate.contracts.decision import Explanation
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.db.rows import as_record, dead_letter_row, lead_row
from leadgate.errors import LeadgateError
from leadgate.export import DECISION_CSV_COLUMNS, decision_csv_row, export_run, run_counts
from leadgate.ingest import ColumnMapping, CsvChunk, file_sha256, map_chunk, read_raw_chunks
from leadgate.ingest.csv_source import read_header
from leadgate.qualifier import ExplainMode, Qualifier, check_policy_fields
from leadgate.routing import Router, route_decisions


class ImportInProgressError(LeadgateError, RuntimeError):
    """An unfinished import of the same file and mapping exists; resume it instead of starting over."""


@dataclass
class ImportSummary:
    """Counts of one import or qualify run (rows are data rows of the file).

    ``status`` is ``completed``, or ``already_completed`` when ``--resume`` found the run finished (nothing
    was done; ``finished_at`` says when it finished).
    """

    run_id: int
    resumed_from: int
    rows_committed: int
    imported: int
    updated: int
    unchanged: int
    rejected: int
    status: str
    finished_at: datetime | None = None
    out_of_range: int = 0
    """Leads of this run scored by the model with a feature outside the training range."""


def _stopped(run: dict[str, Any]) -> str:
    return "failed" if run["status"] == "failed" else "stopped (killed or still running)"


@dataclass
class QualifySummary:
    """Counts of a file qualification: the import counts plus decisions per tier and action."""

    imported: ImportSummary
    decisions: int
    tiers: dict[str, int]
    actions: dict[str, int]
    explained: int
    seconds: float
    out_of_range: int = 0
    """Leads scored by the model with a feature outside its training range (in this process's part of
    the run)."""

    @property
    def out_of_range_share(self) -> float:
        """``out_of_range`` as a share of the decisions (0..1)."""
        return self.out_of_range / self.decisions if self.decisions else 0.0


@dataclass
class ChunkTask:
    """What processing a chunk needs besides the chunk itself.

    Attributes:
        source: the mapping's source name (for dead letters).
        file_hash: sha256 of the file (dead-letter keys).
        run_id: the import run.
        qualifier: scores and decides the leads, or None to only import them.
        explain: which decisions get their explanation inline (see ``qualify_file``).
        personal_attributes: attributes stored encrypted (``ColumnMapping.personal_attributes``).
        router: routes the chunk's decisions in its transaction (``leadgate.routing``), or None.
    """

    source: str
    file_hash: str
    run_id: int
    qualifier: Qualifier | None = None
    explain: ExplainMode = "routed"
    personal_attributes: frozenset[str] = frozenset()
    router: Router | None = None


@dataclass
class ChunkOutput:
    """Everything one chunk produced, ready to be written in one transaction."""

    first_row: int
    last_row: int
    lead_rows: list[dict[str, Any]]
    dead_rows: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    explanations: dict[int, Explanation]
    out_of_range: int = 0
    records: list[dict[str, Any]] | None = None
    """The lead records, aligned with ``decisions``, kept only when the chunk is routed."""
    assignments: list[Assignment | None] | None = None
    """Set by the writer when the chunk is routed: one per decision (None: not routed or kept)."""


def process_chunk(task: ChunkTask, chunk: CsvChunk) -> ChunkOutput:
    """Rows for the store from one mapped chunk: leads, dead letters, and decisions when qualifying.

    Pure computation (no I/O).
    """
    personal = task.personal_attributes
    lead_rows = [lead_row(record, task.run_id, personal) for _, record in chunk.records]
    dead = [dead_letter_row(task.source, task.file_hash, task.run_id, r) for r in chunk.rejected]
    decisions: list[dict[str, Any]] = []
    explanations: dict[int, Explanation] = {}
    out_of_range = 0
    if task.qualifier is not None and lead_rows:
        hashes = [r["input_hash"] for r in lead_rows]
        records = [record for _, record in chunk.records]
        decided = task.qualifier.decide_batch(records, task.explain, input_hashes=hashes)
        decisions, explanations = decided.rows, decided.explanations
        out_of_range = int(decided.out_of_range.sum())
        # A new lead is inserted already pointing at its decision (see store.write_leads); each decision
        # records its run (outside the hash chain) so the run's decisions can be exported from the store.
        for lead, decision in zip(lead_rows, decisions, strict=True):
            lead["latest_decision_id"] = decision["decision_id"]
            decision["run_id"] = task.run_id
    routed = task.router is not None and bool(decisions)
    return ChunkOutput(
        chunk.first_row,
        chunk.last_row,
        lead_rows,
        dead,
        decisions,
        explanations,
        out_of_range,
        records=[dict(as_record(record)) for _, record in chunk.records] if routed else None,
    )


_QUEUE_CHUNKS = 2
"""Chunks computed ahead of the writer: bounds memory to a few chunks whatever the file size."""

AfterCommit = Callable[[ChunkOutput], None]


def _run_file(
    engine: Engine,
    path: str | Path,
    mapping: ColumnMapping,
    *,
    resume: bool,
    restart: bool = False,
    chunk_size: int,
    qualifier: Qualifier | None,
    explain: ExplainMode,
    after_commit: AfterCommit | None,
    progress: Callable[[int], None] | None,
    router: Router | None = None,
) -> ImportSummary:
    """Stream ``path`` into the store chunk by chunk, qualifying the leads when a qualifier is given.

    This thread maps, scores and decides chunk k+1 while one writer thread commits chunk k (SQLite and
    LightGBM release the GIL; DESIGN rule 6: one writer), each chunk in one transaction with its
    checkpoint, in file order.
    """
    path = Path(path)
    file_hash = file_sha256(path)
    mapping_hash = mapping.content_hash()
    lock = write_lock(engine)
    read_header(path, mapping)  # a file that does not fit the mapping must not open a run
    kind = "import" if qualifier is None else "qualify"
    run_key = "" if qualifier is None else qualifier.run_key(explain)
    with lock, engine.begin() as conn:
        previous = store.find_resumable_run(conn, file_hash, mapping_hash, kind, run_key)
        if previous is not None and int(previous["rows_committed"]) == 0:
            store.finish_run(conn, int(previous["id"]), "abandoned")  # nothing committed: nothing to resume
            previous = None
        if previous is not None and restart:
            store.finish_run(conn, int(previous["id"]), "abandoned")
            previous = None
        if previous is not None and not resume:
            raise ImportInProgressError(
                f"{kind} run {previous['id']} of {path.name} {_stopped(previous)} after "
                f"{previous['rows_committed']} rows; run the same command with --resume to finish it "
                "(or --restart to start over)"
            )
        if previous is not None:
            run_id, start_row = int(previous["id"]), int(previous["rows_committed"])
        else:
            finished = (
                store.find_run(conn, file_hash, mapping_hash, kind, run_key, ("completed",))
                if resume
                else None
            )
            if finished is not None:
                # --resume of a run that already finished: nothing to do (re-running would decide every lead
                # of the file a second time).
                return ImportSummary(
                    run_id=int(finished["id"]),
                    resumed_from=int(finished["rows_committed"]),
                    rows_committed=int(finished["rows_committed"]),
                    imported=0,
                    updated=0,
                    unchanged=0,
                    rejected=0,
                    status="already_completed",
                    finished_at=finished["finished_at"],
                )
            run_id = store.start_import_run(
                conn, mapping.source, str(path), file_hash, mapping_hash, kind=kind, run_key=run_key
            )
            start_row = 0
    task = ChunkTask(
        mapping.source, file_hash, run_id, qualifier, explain, mapping.personal_attributes(), router
    )
    totals = {
        "imported": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "committed": start_row,
        "out_of_range": 0,
    }
    pending: queue.Queue[ChunkOutput | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    failure: list[BaseException] = []

    def write_chunks() -> None:
        while (out := pending.get()) is not None:
            if failure:
                continue  # drain after a failure so the producer never blocks
            try:
                appended = None
                with lock, engine.begin() as conn:
                    if out.decisions:
                        store.lock_chain(conn)  # before the leads: see store.lock_chain
                    inserted, updated, unchanged = store.write_leads(conn, out.lead_rows)
                    store.write_dead_letters(conn, out.dead_rows)
                    if out.decisions:
                        appended = store_decisions(conn, out.decisions, out.explanations)
                    if router is not None and out.records is not None:
                        out.assignments = route_decisions(
                            conn, router, out.records, out.decisions, store.utcnow()
                        )
                    store.checkpoint_run(
                        conn,
                        run_id,
                        rows_committed=out.last_row,
                        imported=inserted + updated,
                        unchanged=unchanged,
                        rejected=len(out.dead_rows),
                    )
                record_append(engine, appended)  # one signed checkpoint line per commit
                if after_commit is not None:
                    after_commit(out)
                totals["imported"] += inserted
                totals["updated"] += updated
                totals["unchanged"] += unchanged
                totals["rejected"] += len(out.dead_rows)
                totals["out_of_range"] += out.out_of_range
                totals["committed"] = out.last_row
                if progress is not None:
                    progress(out.last_row - out.first_row + 1)
            except BaseException as exc:
                failure.append(exc)

    try:
        header, raw_chunks = read_raw_chunks(path, mapping, chunk_size=chunk_size, start_row=start_row)
        mapper = mapping.compile(header)
        writer = threading.Thread(target=write_chunks, name="leadgate-writer", daemon=True)
        writer.start()
        try:
            for raw in raw_chunks:
                if failure:
                    break
                pending.put(process_chunk(task, map_chunk(mapper, raw)))
        finally:
            raw_chunks.close()
            pending.put(None)
            writer.join()
        if failure:
            raise failure[0]
    except BaseException:
        # An error (or Ctrl-C) ends the run as failed, never stuck "running"; its committed chunks stay
        # and --resume continues after them. Only a killed process leaves a run "running".
        with lock, engine.begin() as conn:
            store.finish_run(conn, run_id, "failed")
        raise
    with lock, engine.begin() as conn:
        run = store.finish_run(conn, run_id)
    return ImportSummary(
        run_id=run_id,
        resumed_from=start_row,
        rows_committed=totals["committed"],
        imported=totals["imported"],
        updated=totals["updated"],
        unchanged=totals["unchanged"],
        rejected=totals["rejected"],
        status=str(run["status"]),
        out_of_range=totals["out_of_range"],
    )


def import_file(
    engine: Engine,
    path: str | Path,
    mapping: ColumnMapping,
    *,
    resume: bool = False,
    restart: bool = False,
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
        resume: continue the unfinished run of the same file bytes and mapping after its last committed row;
            when that run already finished, do nothing (status ``already_completed``).
        restart: abandon an unfinished run of the same file and mapping and start over.
        chunk_size: rows per transaction.
        progress: called with the number of rows of each committed chunk.

    Raises:
        ImportInProgressError: an unfinished run exists and neither ``resume`` nor ``restart`` is given.
        FileFormatError: the header does not match the mapping.
    """
    return _run_file(
        engine,
        path,
        mapping,
        resume=resume,
        restart=restart,
        chunk_size=chunk_size,
        qualifier=None,
        explain="none",
        after_commit=None,
        progress=progress,
    )


def qualify_file(
    engine: Engine,
    path: str | Path,
    mapping: ColumnMapping,
    qualifier: Qualifier,
    *,
    out: str | Path | None = None,
    explain: ExplainMode = "routed",
    resume: bool = False,
    restart: bool = False,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    router: Router | None = None,
) -> QualifySummary:
    """Import ``path`` and qualify every valid lead, chunk by chunk.

    Each chunk's leads, dead letters, decisions, explanations and import checkpoint commit in one
    transaction; with ``resume`` an interrupted run continues after its last committed row, and a run that
    already finished is not repeated (nothing is decided twice).

    The decisions CSV is crash-consistent: it is written to ``<out>.partial`` and renamed over ``out`` only
    when the run has finished, so a killed run never leaves ``out`` short or headerless. A resumed (or
    already finished) run exports all of its decisions from the store instead.

    Args:
        engine: the store.
        path: CSV file.
        mapping: its column mapping.
        qualifier: the loaded model and policy.
        out: decisions CSV to write (columns ``DECISION_CSV_COLUMNS``), or None.
        explain: which decisions get their explanation computed inline: ``all``, ``routed`` (those routed
            to sales) or ``none``; the others are computed on first request.
        resume: continue the interrupted run of this file after its last committed row.
        restart: abandon an interrupted run of this file and start over.
        chunk_size: rows per transaction.
        progress: called with the number of rows of each committed chunk.
        router: when given, each chunk's routed decisions are assigned to reps in the chunk's
            transaction (``leadgate.routing``); None (the default) qualifies without routing: a file is
            usually a backlog or a history, and routing thousands of old leads at once would fill every
            rep's daily cap in the first chunk and leave the rest unassigned.

    Raises:
        ImportInProgressError, FileFormatError: as ``import_file``.
        QualifierConfigError: the policy reads fields the mapping does not provide.
    """
    check_policy_fields(qualifier.policy, mapping)
    started = time.perf_counter()
    tiers: dict[str, int] = {}
    actions: dict[str, int] = {}
    counts = {"decisions": 0, "explained": 0, "first_row": -1}
    partial = None if out is None else Path(out).with_name(Path(out).name + ".partial")
    fh = None
    writer = None
    if partial is not None:
        fh = open(partial, "w", newline="", encoding="utf-8")  # noqa: SIM115
        writer = csv.writer(fh)
        writer.writerow(DECISION_CSV_COLUMNS)

    def after_commit(chunk: ChunkOutput) -> None:
        # Counted and written only once committed, so the CSV never holds uncommitted decisions.
        if counts["first_row"] < 0:
            counts["first_row"] = chunk.first_row
        counts["decisions"] += len(chunk.decisions)
        counts["explained"] += len(chunk.explanations)
        for i, r in enumerate(chunk.decisions):
            tiers[r["tier"]] = tiers.get(r["tier"], 0) + 1
            actions[r["action"]] = actions.get(r["action"], 0) + 1
            if writer is not None:
                writer.writerow(decision_csv_row(r, chunk.explanations.get(i)))

    try:
        summary = _run_file(
            engine,
            path,
            mapping,
            resume=resume,
            restart=restart,
            chunk_size=chunk_size,
            qualifier=qualifier,
            explain=explain,
            after_commit=after_commit,
            progress=progress,
            router=router,
        )
        if fh is not None:
            fh.close()
            fh = None
        whole_run = summary.resumed_from == 0 and summary.status == "completed"
        if partial is not None and out is not None:
            if whole_run:
                os.replace(partial, out)
            else:
                partial.unlink(missing_ok=True)
                export_run(engine, summary.run_id, Path(out))
        if not whole_run:
            # The summary covers the whole run, also the part committed before a resume.
            tiers, actions, decided, explained = run_counts(engine, summary.run_id)
            counts["decisions"], counts["explained"] = decided, explained
    finally:
        if fh is not None:
            fh.close()
    return QualifySummary(
        imported=summary,
        decisions=counts["decisions"],
        tiers=tiers,
        actions=actions,
        explained=counts["explained"],
        seconds=time.perf_counter() - started,
        out_of_range=summary.out_of_range,
    )
