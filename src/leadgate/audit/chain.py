"""The decision hash chain.

Each decision's ``record_hash = sha256(prev_hash || canonical_json(record))`` where ``record`` holds every
stored field of the decision (see ``decision_record``) and canonical JSON is orjson with sorted keys.
Changing, removing or reordering any stored decision breaks every later hash, which ``verify_chain``
reports (the construction of a hash chain / linked timestamping: Haber & Stornetta, 1991).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first decision."""

RECORD_FIELDS = (
    "decision_id",
    "lead_id",
    "decided_at",
    "input_hash",
    "feature_set",
    "features",
    "model_name",
    "model_version",
    "model_hash",
    "scorer",
    "fallback_reason",
    "probability",
    "confidence",
    "fit_score",
    "policy_version",
    "tier",
    "action",
    "reasons",
    "review_required",
    "actor",
)
"""Fields covered by the hash, in the stored (text) form of the decision row."""


_SORTED_FIELDS = tuple(sorted(RECORD_FIELDS))
_pick_sorted = operator.itemgetter(*_SORTED_FIELDS)


def decision_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed part of a stored decision row (mapping with at least ``RECORD_FIELDS``).

    ``decided_at`` must be given as the ISO-8601 string that is stored; ``features`` and ``reasons``
    as their stored JSON text. The keys come in sorted order, so ``orjson.dumps`` of the result is
    already the canonical (sorted-keys) JSON.
    """
    return dict(zip(_SORTED_FIELDS, _pick_sorted(row), strict=True))


def canonical_record(row: Mapping[str, Any]) -> bytes:
    """Canonical JSON (orjson, keys sorted) of a row's ``RECORD_FIELDS``: the bytes the chain hashes.

    Byte for byte ``orjson.dumps(decision_record(row), option=orjson.OPT_SORT_KEYS)``, without the sort.
    """
    return orjson.dumps(dict(zip(_SORTED_FIELDS, _pick_sorted(row), strict=True)))


def chain_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """sha256 hex of ``prev_hash`` followed by the canonical JSON of ``record``."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def chain_hashes(prev_hash: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """``record_hash`` of each row in turn, the first linked to ``prev_hash`` (same as ``chain_hash``).

    Args:
        prev_hash: hash the first row links to (hex, 64 characters).
        rows: decision rows with ``RECORD_FIELDS`` in their stored forms.

    Returns:
        One sha256 hex digest per row.
    """
    out = []
    sha256 = hashlib.sha256
    for row in rows:
        prev_hash = sha256(prev_hash.encode("ascii") + canonical_record(row)).hexdigest()
        out.append(prev_hash)
    return out


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain does not verify: the row's position, its decision id and why."""

    position: int
    decision_id: str
    reason: str


def verify_chain(
    rows: Iterable[Mapping[str, Any]], start_hash: str = GENESIS_HASH
) -> tuple[int, ChainBreak | None]:
    """Recompute the chain over stored rows in insertion order.

    Args:
        rows: stored decisions in id order, each with ``RECORD_FIELDS``, ``prev_hash`` and ``record_hash``.
        start_hash: the hash the first row must link to.

    Returns:
        ``(rows_checked, None)`` when intact, else ``(rows_checked, ChainBreak)`` at the first bad row.
    """
    prev = start_hash
    count = 0
    for count, row in enumerate(rows, start=1):
        if row["prev_hash"] != prev:
            return count, ChainBreak(
                count, row["decision_id"], "prev_hash does not match the previous record"
            )
        expected = hashlib.sha256(prev.encode("ascii") + canonical_record(row)).hexdigest()
        if row["record_hash"] != expected:
            return count, ChainBreak(count, row["decision_id"], "record changed after it was written")
        prev = row["record_hash"]
    return count, None
