"""Stored-row builders: the ``leads``, ``dead_letters``, ``decision_explanations`` rows, and back.

Functions between the contracts and the rows ``leadgate.db.store`` writes and reads; none touches the
store (``outcome_dead_letter_rows`` reads its file once, to hash it)::

    Lead | record  --lead_row-->          leads row (JSON document, personal fields, input and content hash)
    Rejected       --dead_letter_row-->   dead_letters row (deduplicated key, reason, field errors)
    Explanation    --explanation_row-->   decision_explanations row
    decisions row  --decision_from_row--> Decision
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from leadgate.contracts.decision import Decision, Explanation, Score
from leadgate.contracts.lead import Lead, lead_document
from leadgate.db import store
from leadgate.ingest import Rejected, file_sha256, input_hash
from leadgate.privacy.fields import split_lead

LeadLike = Lead | dict[str, Any]
"""A ``Lead`` or its validated record (``lead_document`` form, as ``read_csv_chunks`` yields)."""


def as_record(lead: LeadLike) -> dict[str, Any]:
    """The record form of a lead (a ``Lead`` is turned into its ``lead_document``)."""
    return lead_document(lead) if isinstance(lead, Lead) else lead


def lead_row(lead: LeadLike, run_id: int | None, personal_attributes: Collection[str] = ()) -> dict[str, Any]:
    """The ``leads`` table row of a lead: its JSON document, personal fields, input hash and content hash.

    ``content_hash`` covers the whole document except ``received_at``, so re-importing an identical
    record is recognised as unchanged; both hashes are of the plaintext document (personal fields
    included), so they do not change with encryption. The personal fields (``privacy.fields.split_lead``)
    are left out of ``data`` and returned in plaintext under ``pii``: ``store.write_leads`` encrypts
    them and adds the email's blind index. ``owner`` is not part of the document: it goes to its own
    column (an assignment, not content), so neither hash nor ``data`` changes with it and a lead that
    does not set it hashes exactly as before the field existed.

    Args:
        lead: the lead or its record.
        run_id: the import run storing it, or None outside a file run (API, chat).
        personal_attributes: attribute names that are personal (``ColumnMapping.personal_attributes``).

    Returns:
        The row: ``lead_id``, ``source``, ``received_at``, ``input_hash`` and ``content_hash`` (sha256
        hex), ``data`` (the JSON document without personal fields), ``pii`` (dict or None),
        ``email_index`` (None until written), ``import_run_id`` and ``owner`` (None when the lead does
        not set one; ``store.write_leads`` then keeps a stored owner).
    """
    doc = dict(as_record(lead))
    owner = doc.pop("owner", None)
    received = doc.pop("received_at")
    content = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    doc["received_at"] = received
    public, personal = split_lead(doc, personal_attributes)
    return {
        "lead_id": doc["lead_id"],
        "source": doc["source"],
        "received_at": received,
        "input_hash": input_hash(doc),
        "content_hash": hashlib.sha256(content).hexdigest(),
        "data": orjson.dumps(public).decode(),
        "pii": personal,
        "email_index": None,
        "import_run_id": run_id,
        "owner": owner,
    }


def dead_letter_row(source: str, file_hash: str, run_id: int | None, rejected: Rejected) -> dict[str, Any]:
    """The ``dead_letters`` row of a rejected record (deduplicated on source, file, row and content).

    Args:
        source: the mapping's source name.
        file_hash: sha256 hex of the file the record came from.
        run_id: the import run, or None outside one.
        rejected: the record, its 1-based data row number and why it was rejected.

    Returns:
        The row; ``dedupe_key`` is the sha256 hex of source, file hash, row number and sorted-key record.
    """
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
    """``dead_letters`` rows of rejected outcome rows ``(row number, record, reason)`` of file ``path``.

    Raises:
        OSError: ``path`` cannot be read (it is hashed for the dead-letter keys).
    """
    from leadgate.contracts.errors import FieldError

    file_hash = file_sha256(path)
    return [
        dead_letter_row(
            source, file_hash, None, Rejected(number, dict(record), [FieldError("<row>", reason)])
        )
        for number, record, reason in rejected
    ]


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
