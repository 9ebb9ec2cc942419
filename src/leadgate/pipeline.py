"""The one place where the stages are composed, readable top to bottom.

    CSV / JSON  --ingest-->  Lead  --features-->  frame  --scoring-->  Score  --policy-->  Decision  --audit-->  DB

``import_file`` stores leads (and dead letters) from a file, chunk by chunk, each chunk in one
transaction together with the import checkpoint, so an import killed at any point resumes with
``resume=True`` losing and doubling nothing. ``Qualifier`` scores and decides leads in memory;
``qualify_file`` and ``qualify_leads`` add storage.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection, Engine

from leadgate.audit import GENESIS_HASH, verify_chain
from leadgate.contracts.decision import Decision, Explanation, Score
from leadgate.contracts.lead import Lead, lead_document
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.errors import LeadgateError
from leadgate.features import FeatureSet
from leadgate.ingest import (
    ColumnMapping,
    CsvChunk,
    Rejected,
    file_sha256,
    input_hash,
    map_chunk,
    read_raw_chunks,
)
from leadgate.ingest.csv_source import read_header
from leadgate.policy import Policy, decide_many
from leadgate.registry import ModelNotFoundError, RegisteredModel, load_model
from leadgate.scoring import FitScorer, RuleFallbackScorer
from leadgate.scoring.rules import GENERIC_FALLBACK, FitRuleSet, generic_fallback_rules


class QualifierConfigError(LeadgateError, ValueError):
    """The model, feature set, fit rules, policy and mapping of a qualification do not fit together."""


def check_fit_rules(rules: FitRuleSet, feature_set: FeatureSet) -> None:
    """Refuse fit rules that read a feature the feature set does not build.

    Raises:
        QualifierConfigError: naming the rule set, the missing features and the feature set.
    """
    missing = [f for f in rules.features if f not in feature_set.names]
    if missing:
        raise QualifierConfigError(
            f"fit rules {rules.ref} read {', '.join(missing)}, which feature set {feature_set.ref} does not "
            "have: fix the fit rules or leave them out of the project (the fallback then needs no column)"
        )


def check_policy_fields(policy: Policy, mapping: ColumnMapping) -> None:
    """Refuse a policy that reads lead attributes the mapping does not declare as ``pre_decision``.

    Such a rule would silently never fire (the attribute is always missing).

    Raises:
        QualifierConfigError: naming each attribute, the policy and the mapping.
    """
    stages = mapping.stages()
    problems = []
    for name in sorted(policy.attribute_names()):
        stage = stages.get(name)
        if stage is None:
            problems.append(f"attributes.{name} (not declared)")
        elif stage != "pre_decision":
            problems.append(f"attributes.{name} (declared {stage}: a decision only sees pre_decision values)")
    if problems:
        raise QualifierConfigError(
            f"policy {policy.ref} reads fields that mapping {mapping.name!r} does not provide: "
            + ", ".join(problems)
            + "; those rules would never fire: map the columns or remove the rules"
        )


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


LeadLike = Lead | dict[str, Any]
"""A ``Lead`` or its validated record (``lead_document`` form, as ``read_csv_chunks`` yields)."""


def as_record(lead: LeadLike) -> dict[str, Any]:
    """The record form of a lead (a ``Lead`` is turned into its ``lead_document``)."""
    return lead_document(lead) if isinstance(lead, Lead) else lead


def lead_row(lead: LeadLike, run_id: int | None) -> dict[str, Any]:
    """The ``leads`` table row of a lead: its JSON document, input hash and content hash.

    ``content_hash`` covers the whole document except ``received_at``, so re-importing an identical
    record is recognised as unchanged.
    """
    doc = dict(as_record(lead))
    received = doc.pop("received_at")
    content = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    doc["received_at"] = received
    return {
        "lead_id": doc["lead_id"],
        "source": doc["source"],
        "received_at": received,
        "input_hash": input_hash(doc),
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


def outcome_dead_letter_rows(
    source: str, path: str | Path, rejected: Sequence[tuple[int, dict[str, str], str]]
) -> list[dict[str, Any]]:
    """``dead_letters`` rows of rejected outcome rows ``(row number, record, reason)`` of file ``path``."""
    from leadgate.contracts.errors import FieldError

    file_hash = file_sha256(path)
    return [
        dead_letter_row(
            source, file_hash, None, Rejected(number, dict(record), [FieldError("<row>", reason)])
        )
        for number, record, reason in rejected
    ]


@dataclass
class ChunkTask:
    """What processing a chunk needs besides the chunk itself.

    Attributes:
        source: the mapping's source name (for dead letters).
        file_hash: sha256 of the file (dead-letter keys).
        run_id: the import run.
        qualifier: scores and decides the leads, or None to only import them.
        explain: which decisions get their explanation inline (see ``qualify_file``).
    """

    source: str
    file_hash: str
    run_id: int
    qualifier: Qualifier | None = None
    explain: ExplainMode = "routed"


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


def process_chunk(task: ChunkTask, chunk: CsvChunk) -> ChunkOutput:
    """Rows for the store from one mapped chunk: leads, dead letters, and decisions when qualifying.

    Pure computation (no I/O).
    """
    lead_rows = [lead_row(record, task.run_id) for _, record in chunk.records]
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
    return ChunkOutput(
        chunk.first_row, chunk.last_row, lead_rows, dead, decisions, explanations, out_of_range
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
    task = ChunkTask(mapping.source, file_hash, run_id, qualifier, explain)
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
                with lock, engine.begin() as conn:
                    inserted, updated, unchanged = store.write_leads(conn, out.lead_rows)
                    store.write_dead_letters(conn, out.dead_rows)
                    if out.decisions:
                        store_decisions(conn, out.decisions, out.explanations)
                    store.checkpoint_run(
                        conn,
                        run_id,
                        rows_committed=out.last_row,
                        imported=inserted + updated,
                        unchanged=unchanged,
                        rejected=len(out.dead_rows),
                    )
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


# --------------------------------------------------------------------------- qualification

ExplainMode = Literal["all", "routed", "none"]
ACTOR = "leadgate"


@dataclass
class ScoredBatch:
    """Scores of a batch of leads (arrays of shape (n,)) and the model input they came from."""

    frame: pd.DataFrame
    raw: list[list[Any]]
    probability: np.ndarray
    confidence: np.ndarray
    fit_score: np.ndarray
    scorer: list[str]
    fallback_reason: list[str | None]
    out_of_range: np.ndarray | None = None
    """True (n,) where a lead scored by the model has a feature value outside the training range (a
    category never seen, a number outside [min, max], a value missing where training never missed it);
    None when no model scored the batch."""


@dataclass
class Decided:
    """Decision rows of a batch, the explanations computed inline (by row) and out-of-range flags (n,)."""

    rows: list[dict[str, Any]]
    explanations: dict[int, Explanation]
    out_of_range: np.ndarray


class Qualifier:
    """Scores leads and applies the policy, in memory (no I/O): the compute half of qualification.

    Args:
        model: the registered propensity model, or None to score every lead with the rule fallback.
        policy: the qualification policy.
        fit_scorer: the rule-based ICP fit scorer (0-100 points).
        fallback: the rule-based scorer used without a model or when required features are missing.
        feature_set: the feature set to use when there is no model (else the model's own).
    """

    def __init__(
        self,
        model: RegisteredModel | None,
        policy: Policy,
        fit_scorer: FitScorer,
        fallback: RuleFallbackScorer,
        feature_set: FeatureSet,
    ):
        self.model = model
        if model is not None and "n_jobs" in model.estimator.get_params():
            # Trained single-threaded for reproducibility; scoring uses every core (LightGBM threads).
            model.estimator.set_params(n_jobs=-1)
        self.policy = policy
        self.fit_scorer = fit_scorer
        self.fallback = fallback
        self.feature_set = model.feature_set if model is not None else feature_set
        self.policy_ref = policy.ref
        if model is not None:
            self.model_name, self.model_version, self.model_hash = (
                model.name,
                str(model.version),
                model.content_hash,
            )
        else:
            self.model_name, self.model_version, self.model_hash = self._fallback_identity()
        self._cache: dict[str, RegisteredModel] = {}
        self._fallback_id = self._fallback_identity()

    @classmethod
    def load(
        cls,
        engine: Engine,
        policy: Policy,
        model_ref: str = "propensity@champion",
        feature_set: FeatureSet | None = None,
        fit_rules: FitRuleSet | None = None,
    ) -> Qualifier:
        """Load the model ``model_ref`` from the registry; without one, qualify with the rule fallback.

        Args:
            engine: the store holding the registry.
            policy: the qualification policy.
            model_ref: ``name``, ``name@alias`` or ``name@version``.
            feature_set: the features of the rule fallback when no model is registered (a registered
                model brings its own).
            fit_rules: the project's ICP fit rules (fit score, and the fallback's probability bands), or
                None for none: the fallback then uses ``generic_fallback_rules`` (one band, no column read)
                and says so on every decision it makes.

        Raises:
            QualifierConfigError: no model and no ``feature_set``; fit rules reading a feature the
                feature set lacks.
        """
        with engine.connect() as conn:
            try:
                model: RegisteredModel | None = load_model(conn, model_ref)
            except ModelNotFoundError:
                model = None
        fs = model.feature_set if model is not None else feature_set
        if fs is None:
            raise QualifierConfigError(
                f"no model registered as {model_ref} and no feature set given for the rule fallback: "
                "train one (`leadgate train`) or give the project's feature set"
            )
        if fit_rules is not None:
            check_fit_rules(fit_rules, fs)
            rules = fit_rules
        else:
            base_rate = model.metrics.get("base_rate") if model is not None else None
            rules = generic_fallback_rules(base_rate if base_rate is not None else policy.tiers.warm)
        return cls(model, policy, FitScorer(rules).fit(), RuleFallbackScorer(rules).fit(), fs)

    def run_key(self, explain: str) -> str:
        """sha256 of what a qualify run's decisions depend on besides the file and mapping.

        Model version and hash, feature set, fit rules, policy version and content, and the explain mode:
        a run resumes only with the same ones, so one run never mixes two models or policies.
        """
        parts = [
            self.model_name,
            self.model_version,
            self.model_hash,
            self.feature_set.ref,
            self._fallback_id[2],
            self.policy.ref,
            self.policy.content_hash(),
            explain,
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _fallback_identity(self) -> tuple[str, str, str]:
        """``(name, version, sha256)`` of the rule fallback: its rule set's name, version and content hash."""
        rules = self.fallback.rule_set_
        digest = hashlib.sha256(rules.model_dump_json().encode()).hexdigest()
        return "rule_fallback", f"{rules.name}@{rules.version}", digest

    # -- scoring

    def score(self, leads: Sequence[LeadLike]) -> ScoredBatch:
        """Probability, confidence, fit score and scorer kind of each lead.

        Leads missing a ``required`` feature, and every lead when no model is registered, are scored by
        the rule fallback; ``fallback_reason`` says why.
        """
        raw = self.feature_set.raw_columns([as_record(lead)["attributes"] for lead in leads])
        frame = self.feature_set.frame_from_columns(raw)
        n = len(leads)
        fit = np.asarray(self.fit_scorer.score(frame), dtype=np.float64)
        if self.model is None:
            proba = self.fallback.predict_proba(frame)[:, 1]
            conf = self.fallback.confidence(frame)
            why = "no model registered" + self._fallback_note
            return ScoredBatch(frame, raw, proba, conf, fit, ["rule_fallback"] * n, [why] * n)
        proba = np.empty(n)
        conf = np.empty(n)
        scorer = ["model"] * n
        reason: list[str | None] = [None] * n
        missing = self.feature_set.missing_required(frame)
        ok = ~missing
        if ok.any():
            assessed = self.model.estimator.assess(frame[ok] if missing.any() else frame, explain=False)
            proba[ok] = assessed.probability
            conf[ok] = assessed.confidence
        out_of_range = np.zeros(n, dtype=bool)
        if ok.any() and hasattr(self.model.estimator, "out_of_range"):
            out_of_range[ok] = self.model.estimator.out_of_range(frame[ok] if missing.any() else frame)
        if missing.any():
            sub = frame[missing]
            proba[missing] = self.fallback.predict_proba(sub)[:, 1]
            conf[missing] = self.fallback.confidence(sub)
            names = [f.name for f in self.feature_set.features if f.required]
            for i in np.flatnonzero(missing):
                absent = [nm for nm in names if _is_missing(frame.at[i, nm])]
                scorer[i] = "rule_fallback"
                reason[i] = "required features missing: " + ", ".join(absent) + self._fallback_note
        return ScoredBatch(frame, raw, proba, conf, fit, scorer, reason, out_of_range)

    @property
    def _fallback_note(self) -> str:
        rules = self.fallback.rule_set_
        if rules.name != GENERIC_FALLBACK:
            return ""
        p = rules.probability_bands[0].probability
        return f"; no fit rules in the project: one probability band ({p:.3f}) for every lead, no column read"

    def explain(self, batch: ScoredBatch, rows: Sequence[int]) -> dict[int, Explanation]:
        """Explanations of the leads at positions ``rows`` of ``batch``.

        TreeSHAP for model scores, the fit rules for fallback scores.
        """
        out: dict[int, Explanation] = {}
        model_rows = [i for i in rows if batch.scorer[i] == "model"]
        if model_rows and self.model is not None:
            explanations = self.model.estimator.explain(batch.frame.iloc[model_rows].reset_index(drop=True))
            out.update(zip(model_rows, explanations, strict=True))
        for i in rows:
            if batch.scorer[i] != "model":
                out[i] = self.fit_scorer.explain_one(batch.frame.iloc[i])
        return out

    def explain_features(
        self, features: dict[str, Any], scorer: str, model_name: str, model_version: str, engine: Engine
    ) -> Explanation:
        """Explain a stored decision from its stored feature values with the model version that made it.

        Raises:
            ModelNotFoundError: that model version is not in the registry any more.
        """
        frame = self.feature_set_for(model_name, model_version, engine).frame_from_records(
            [{name: features.get(name) for name in features}]
        )
        if scorer != "model":
            return self.fit_scorer.explain_one(frame.iloc[0])
        model = self._model_version(model_name, model_version, engine)
        return model.estimator.explain(frame)[0]

    def _model_version(self, name: str, version: str, engine: Engine) -> RegisteredModel:
        if self.model is not None and (self.model.name, str(self.model.version)) == (name, version):
            return self.model
        key = f"{name}@{version}"
        if key not in self._cache:
            with engine.connect() as conn:
                self._cache[key] = load_model(conn, key)
        return self._cache[key]

    def feature_set_for(self, name: str, version: str, engine: Engine) -> FeatureSet:
        """Feature set of the model ``name@version``, keyed by feature name (stored decisions use names)."""
        fs = (
            self.feature_set
            if name == "rule_fallback"
            else self._model_version(name, version, engine).feature_set
        )
        return fs.model_copy(
            update={"features": [f.model_copy(update={"source": None}) for f in fs.features]}
        )

    # -- deciding

    def decide(
        self,
        leads: Sequence[LeadLike],
        explain: ExplainMode = "all",
        now: datetime | None = None,
        input_hashes: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[int, Explanation]]:
        """Score and decide ``leads``.

        ``input_hashes`` (one per lead, from ``lead_row``) saves recomputing them.

        Returns:
            ``(rows, explanations)``: one stored-form decision row per lead (the ``decisions`` table
            columns without the chain hashes) and the explanations computed inline, by row position
            (all leads for ``all``, those routed to sales for ``routed``, none for ``none``).
        """
        decided = self.decide_batch(leads, explain, now, input_hashes)
        return decided.rows, decided.explanations

    def decide_batch(
        self,
        leads: Sequence[LeadLike],
        explain: ExplainMode = "all",
        now: datetime | None = None,
        input_hashes: Sequence[str] | None = None,
    ) -> Decided:
        """``decide`` with the out-of-range flags of the batch (see ``ScoredBatch.out_of_range``)."""
        records = [as_record(lead) for lead in leads]
        batch = self.score(records)
        verdicts = decide_many(
            [r["attributes"] for r in records],
            batch.probability,
            batch.confidence,
            batch.fit_score,
            batch.scorer,
            self.policy,
            lead_fields=[_lead_fields(r) for r in records]
            if self.policy.compiled().needs_lead_fields
            else None,
        )
        n = len(records)
        hashes = input_hashes if input_hashes is not None else [input_hash(r) for r in records]
        names = self.feature_set.names
        model_id = (self.model_name, self.model_version, self.model_hash)
        identity = [model_id if k == "model" else self._fallback_id for k in batch.scorer]
        reasons_json: dict[tuple[str, ...], str] = {}  # reasons repeat (two-decimal probabilities)
        reasons = []
        for v in verdicts:
            text = reasons_json.get(v.reasons)
            if text is None:
                text = reasons_json[v.reasons] = orjson.dumps(v.reasons).decode()
            reasons.append(text)
        # Built a column at a time; ``dict(zip(keys, row))`` runs in C. Same keys, order and values as
        # the ``decisions`` table row of each lead.
        columns: dict[str, Iterable[Any]] = {
            "decision_id": store.new_ids(n),
            "lead_id": [r["lead_id"] for r in records],
            "decided_at": itertools.repeat(store.iso(now or store.utcnow()), n),
            "input_hash": hashes,
            "feature_set": itertools.repeat(self.feature_set.ref, n),
            "features": [
                orjson.dumps(dict(zip(names, values, strict=True))).decode()
                for values in zip(*batch.raw, strict=True)
            ],
            "model_name": [m[0] for m in identity],
            "model_version": [m[1] for m in identity],
            "model_hash": [m[2] for m in identity],
            "scorer": batch.scorer,
            "fallback_reason": batch.fallback_reason,
            "probability": batch.probability.tolist(),
            "confidence": batch.confidence.tolist(),
            "fit_score": batch.fit_score.tolist(),
            "policy_version": itertools.repeat(self.policy_ref, n),
            "tier": [v.tier for v in verdicts],
            "action": [v.action for v in verdicts],
            "reasons": reasons,
            "review_required": [bool(v.review_required) for v in verdicts],
            "actor": itertools.repeat(ACTOR, n),
        }
        keys = tuple(columns)
        rows: list[dict[str, Any]] = list(
            map(dict, map(zip, itertools.repeat(keys), zip(*columns.values(), strict=True)))
        )
        if explain == "all":
            wanted = list(range(len(leads)))
        elif explain == "routed":
            wanted = [i for i, r in enumerate(rows) if r["action"] == "route_to_sales"]
        else:
            wanted = []
        oor = batch.out_of_range if batch.out_of_range is not None else np.zeros(n, dtype=bool)
        return Decided(rows, self.explain(batch, wanted) if wanted else {}, oor)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _lead_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record.get(name) for name in _LEAD_FIELDS}


_LEAD_FIELDS = (
    "lead_id",
    "source",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "country",
    "city",
    "phone",
)


def explanation_row(decision_id: str, explanation: Explanation, computed: str) -> dict[str, Any]:
    """The ``decision_explanations`` row of an explanation (``computed`` is ``inline`` or ``on_request``)."""
    text = explanation.model_dump_json()
    return {
        "decision_id": decision_id,
        "explanation": text,
        "explanation_hash": hashlib.sha256(text.encode()).hexdigest(),
        "computed": computed,
        "created_at": store.utcnow(),
    }


def store_decisions(
    conn: Connection, rows: list[dict[str, Any]], explanations: dict[int, Explanation]
) -> None:
    """Append decision rows to the audit chain and store their inline explanations (caller's transaction)."""
    store.append_decisions(conn, rows)
    store.write_explanations(
        conn, [explanation_row(rows[i]["decision_id"], e, "inline") for i, e in sorted(explanations.items())]
    )


def qualify_leads(
    engine: Engine, qualifier: Qualifier, leads: Sequence[LeadLike], explain: ExplainMode = "all"
) -> list[Decision]:
    """Store ``leads``, qualify them and store the decisions, all in one transaction.

    Returns:
        One ``Decision`` per lead, in order, with its explanation when computed inline.
    """
    return qualify_leads_flagged(engine, qualifier, leads, explain)[0]


def qualify_leads_flagged(
    engine: Engine, qualifier: Qualifier, leads: Sequence[LeadLike], explain: ExplainMode = "all"
) -> tuple[list[Decision], list[bool]]:
    """``qualify_leads`` with each lead's out-of-range flag (a feature outside the model's training range).

    Returns:
        ``(decisions, out_of_range)``, both one per lead, in order.
    """
    lead_rows = [lead_row(lead, None) for lead in leads]
    decided = qualifier.decide_batch(leads, explain, input_hashes=[r["input_hash"] for r in lead_rows])
    rows, explanations = decided.rows, decided.explanations
    for lead, decision in zip(lead_rows, rows, strict=True):
        lead["latest_decision_id"] = decision["decision_id"]
    with write_lock(engine), engine.begin() as conn:
        store.write_leads(conn, lead_rows)
        store_decisions(conn, rows, explanations)
    decisions = [decision_from_row(row, explanations.get(i)) for i, row in enumerate(rows)]
    return decisions, [bool(x) for x in decided.out_of_range]


def decision_from_row(row: dict[str, Any], explanation: Explanation | None) -> Decision:
    """The ``Decision`` contract of a stored decision row."""
    score = Score(
        probability=row["probability"],
        confidence=row["confidence"],
        fit_score=row["fit_score"],
        scorer=row["scorer"],
        fallback_reason=row["fallback_reason"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        model_hash=row["model_hash"],
        feature_set=row["feature_set"],
        explanation=explanation,
    )
    return Decision(
        decision_id=row["decision_id"],
        lead_id=row["lead_id"],
        decided_at=datetime.fromisoformat(row["decided_at"].replace("Z", "+00:00")),
        input_hash=row["input_hash"],
        features=orjson.loads(row["features"]),
        score=score,
        policy_version=row["policy_version"],
        tier=row["tier"],
        action=row["action"],
        reasons=orjson.loads(row["reasons"]),
        review_required=row["review_required"],
        actor=row["actor"],
    )


def explain_stored(engine: Engine, qualifier: Qualifier, row: dict[str, Any]) -> tuple[Explanation, str]:
    """The explanation of a stored decision: the stored one, or computed now and stored (first request).

    Recomputes with the exact model version that made the decision (loaded from the registry by
    ``name@version``) from the feature values stored on the decision.

    Returns:
        ``(explanation, computed)`` where ``computed`` is ``inline`` or ``on_request``.

    Raises:
        ModelNotFoundError: the decision's model version is no longer in the registry.
    """
    with engine.connect() as conn:
        stored = store.get_explanation(conn, row["decision_id"])
    if stored is not None:
        return Explanation.model_validate(stored[0]), stored[1]
    explanation = qualifier.explain_features(
        orjson.loads(row["features"]), row["scorer"], row["model_name"], row["model_version"], engine
    )
    with write_lock(engine), engine.begin() as conn:
        store.write_explanations(conn, [explanation_row(row["decision_id"], explanation, "on_request")])
        stored = store.get_explanation(conn, row["decision_id"])
    assert stored is not None
    return Explanation.model_validate(stored[0]), stored[1]


def verify_audit_log(engine: Engine) -> tuple[int, str, str | None]:
    """Recompute the decision hash chain up to the head as it is now.

    Reads the head (count and last hash) first, then checks exactly that many decisions: decisions
    appended meanwhile by another writer come after them, so a running server does not cause a false
    alarm. The last hash must equal the head's: nothing links to the newest decision, so only the head
    shows it was changed and re-hashed.

    Returns:
        ``(decisions checked, head hash, problem)``; ``problem`` is None when the chain is intact.
    """
    with engine.connect() as conn:
        head, count = store.chain_head(conn)
        last = GENESIS_HASH

        def rows() -> Iterator[dict[str, Any]]:
            nonlocal last
            for row in store.iter_decisions(conn, limit=count):
                last = row["record_hash"]
                yield row

        checked, broken = verify_chain(rows())
    if broken is not None:
        return (
            checked,
            head,
            f"chain broken at decision #{broken.position} ({broken.decision_id}): {broken.reason}",
        )
    if checked != count:
        return checked, head, f"chain head counts {count} decisions but only {checked} are stored"
    if last != head:
        return checked, head, f"chain head {head[:16]}… does not match the last decision's hash {last[:16]}…"
    return checked, head, None


def latest_decision(
    engine: Engine, qualifier: Qualifier, lead_id: str, explain: bool = True
) -> Decision | None:
    """The lead's most recent decision, with its explanation (computed and stored on first request)."""
    with engine.connect() as conn:
        row = store.latest_decision(conn, lead_id)
    if row is None:
        return None
    explanation = explain_stored(engine, qualifier, row)[0] if explain else None
    return decision_from_row(row, explanation)


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


DECISION_CSV_COLUMNS = [
    "lead_id",
    "decision_id",
    "probability",
    "confidence",
    "fit_score",
    "tier",
    "action",
    "review_required",
    "scorer",
    "model",
    "policy",
    "reasons",
    "top_positive",
    "top_negative",
]


def _csv_row(r: dict[str, Any], e: Explanation | None) -> list[Any]:
    return [
        r["lead_id"],
        r["decision_id"],
        f"{r['probability']:.6f}",
        f"{r['confidence']:.4f}",
        f"{r['fit_score']:.1f}",
        r["tier"],
        r["action"],
        r["review_required"],
        r["scorer"],
        f"{r['model_name']}@{r['model_version']}",
        r["policy_version"],
        "; ".join(orjson.loads(r["reasons"])),
        " | ".join(f.text for f in e.positive) if e else "",
        " | ".join(f.text for f in e.negative) if e else "",
    ]


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
                writer.writerow(_csv_row(r, chunk.explanations.get(i)))

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


def export_run(engine: Engine, run_id: int, out: Path) -> int:
    """Write every decision of run ``run_id`` to ``out`` (``DECISION_CSV_COLUMNS``), atomically.

    Written to ``<out>.partial`` then renamed, so ``out`` is either the previous file or the whole export.

    Returns:
        The number of decisions written.
    """
    partial = out.with_name(out.name + ".partial")
    n = 0
    with engine.connect() as conn, open(partial, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(DECISION_CSV_COLUMNS)
        for row, explanation in store.run_decisions(conn, run_id):
            e = Explanation.model_validate_json(explanation) if explanation is not None else None
            writer.writerow(_csv_row(row, e))
            n += 1
    os.replace(partial, out)
    return n


def run_counts(engine: Engine, run_id: int) -> tuple[dict[str, int], dict[str, int], int, int]:
    """``(tiers, actions, decisions, explained inline)`` of the decisions run ``run_id`` made."""
    tiers: dict[str, int] = {}
    actions: dict[str, int] = {}
    n = explained = 0
    with engine.connect() as conn:
        for row, explanation in store.run_decisions(conn, run_id):
            tiers[row["tier"]] = tiers.get(row["tier"], 0) + 1
            actions[row["action"]] = actions.get(row["action"], 0) + 1
            n += 1
            explained += explanation is not None
    return tiers, actions, n, explained


# Training moved to ``leadgate.training``; these names stay importable from here.
from leadgate.training import TrainingData, load_training_data, train_and_register  # noqa: E402

__all__ = [
    "ImportInProgressError",
    "Qualifier",
    "QualifierConfigError",
    "TrainingData",
    "check_fit_rules",
    "check_policy_fields",
    "import_file",
    "load_training_data",
    "qualify_file",
    "qualify_leads",
    "train_and_register",
]
