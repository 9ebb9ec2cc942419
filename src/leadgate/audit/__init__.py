"""Append-only, hash-chained decision log.

Public interface: ``decision_record`` (the canonical record of a decision), ``chain_hash``,
``verify_chain`` and ``GENESIS_HASH``.
"""

from leadgate.audit.chain import GENESIS_HASH, ChainBreak, chain_hash, decision_record, verify_chain

__all__ = ["GENESIS_HASH", "ChainBreak", "chain_hash", "decision_record", "verify_chain"]
