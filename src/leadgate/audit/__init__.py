"""Append-only, hash-chained decision log.

Public interface: ``decision_record`` (the canonical record of a decision), ``canonical_record`` (its
canonical JSON bytes), ``chain_hash``, ``chain_hashes``, ``verify_chain`` and ``GENESIS_HASH``.
"""

from leadgate.audit.chain import (
    GENESIS_HASH,
    ChainBreak,
    canonical_record,
    chain_hash,
    chain_hashes,
    decision_record,
    verify_chain,
)

__all__ = [
    "GENESIS_HASH",
    "ChainBreak",
    "canonical_record",
    "chain_hash",
    "chain_hashes",
    "decision_record",
    "verify_chain",
]
