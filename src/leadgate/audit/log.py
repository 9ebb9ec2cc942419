"""Reads and writes of the decision log: append decisions, explain them later, read them back, verify.

The log is the append-only, hash-chained ``decisions`` table (``leadgate.audit.chain`` hashes it,
``leadgate.db.store`` writes it) with its ``decision_explanations``: computed inline when deciding, or on
first request from the stored feature values with the model version that decided.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine

from leadgate.audit.chain import GENESIS_HASH, verify_chain
from leadgate.contracts.decision import Decision, Explanation
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.db.rows import decision_from_row, explanation_row

if TYPE_CHECKING:
    from leadgate.qualifier import Qualifier


def store_decisions(
    conn: Connection, rows: list[dict[str, Any]], explanations: dict[int, Explanation]
) -> None:
    """Append decision rows to the audit chain and store their inline explanations (caller's transaction)."""
    store.append_decisions(conn, rows)
    store.write_explanations(
        conn, [explanation_row(rows[i]["decision_id"], e, "inline") for i, e in sorted(explanations.items())]
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
