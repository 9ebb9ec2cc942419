"""Reads and writes of the decision log: append decisions, explain them later, read them back, verify.

The log is the append-only, hash-chained ``decisions`` table (``leadgate.audit.chain`` hashes it,
``leadgate.db.store`` writes it) with its ``decision_explanations``: computed inline when deciding, or on
first request from the stored feature values with the model version that decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, select

from leadgate.audit.access import verify_access_log
from leadgate.audit.chain import GENESIS_HASH, verify_chain
from leadgate.audit.checkpoint import (
    ChainAppend,
    explained_digest,
    positions,
    read_checkpoints,
    record_explanation,
    verify_checkpoints,
)
from leadgate.contracts.decision import Decision, Explanation
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.db.rows import decision_from_row, explanation_row
from leadgate.db.store import DECISIONS, EXPLANATIONS, LEADS, RUNS
from leadgate.ingest import input_hash

if TYPE_CHECKING:
    from leadgate.qualifier import Qualifier


def store_decisions(
    conn: Connection, rows: list[dict[str, Any]], explanations: dict[int, Explanation]
) -> ChainAppend | None:
    """Append decision rows to the audit chain and store their inline explanations (caller's transaction).

    Returns:
        What was appended, for ``checkpoint.record_append`` once the transaction has committed (None
        when ``rows`` is empty).
    """
    if not rows:
        return None
    first, count, head = store.append_decisions(conn, rows)
    explained = [
        explanation_row(rows[i]["decision_id"], e, "inline") for i, e in sorted(explanations.items())
    ]
    store.write_explanations(conn, explained)
    return ChainAppend(first, count, head, explained_digest([e["explanation_hash"] for e in explained]))


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
    new = explanation_row(row["decision_id"], explanation, "on_request")
    with write_lock(engine), engine.begin() as conn:
        store.write_explanations(conn, [new])
        stored = store.get_explanation(conn, row["decision_id"])
    assert stored is not None
    if stored[1] == "on_request":
        record_explanation(engine, row["decision_id"], new["explanation_hash"])
    return Explanation.model_validate(stored[0]), stored[1]


def verify_audit_log(
    engine: Engine, checkpoints: Path | None = None, key: bytes | None = None, access: bool = True
) -> tuple[int, str, str | None]:
    """Verify the decision log: the hash chain up to the head, stored leads, explanations, checkpoints.

    Reads the head (count and last hash) first, then checks exactly that many decisions: decisions
    appended meanwhile by another writer come after them, so a running server does not cause a false
    alarm. The last hash must equal the head's: nothing links to the newest decision, so only the head
    shows it was changed and re-hashed (hash chain: Haber & Stornetta, 1991). Then:

    * every stored lead must hash (``ingest.input_hash``) to its stored ``input_hash``; a lead whose
      latest decision was made from that same ``input_hash`` (not re-imported since without a new
      decision) must give that decision's ``input_hash``, so an edit of a decided lead's data shows;
    * every stored explanation must hash (sha256) to its ``explanation_hash``;
    * with ``checkpoints`` (and the HMAC ``key``, RFC 2104), every signed checkpoint must be a prefix of
      the chain and the chain must not extend past the newest one (``checkpoint.verify_checkpoints``):
      truncation, reset to genesis, a re-hashed chain and a forged append show here;
    * with ``access`` (default), the keyed access log too (``audit.access.verify_access_log``, against the
      access checkpoints of the same file).

    Args:
        engine: the database.
        checkpoints: the checkpoint file, or None to skip that check.
        key: the audit key; required with ``checkpoints``.
        access: also verify the access log (``leadgate audit verify`` does it itself, to count its events).

    Returns:
        ``(decisions checked, head hash, problem)``; ``problem`` (one line) is None when all is intact.
    """
    marks: set[int] = set()
    cps: list[Any] = []
    if checkpoints is not None:
        if key is None:
            raise ValueError("checking checkpoints needs the audit key")
        cps, problem = read_checkpoints(checkpoints, key)
        if problem is not None:
            return 0, "", problem
        marks = positions(cps)
    hash_at: dict[int, str] = {0: GENESIS_HASH}
    id_at: dict[int, int] = {0: 0}
    with engine.connect() as conn:
        head, count = store.chain_head(conn)
        last = GENESIS_HASH

        def rows() -> Iterator[dict[str, Any]]:
            nonlocal last
            for position, row in enumerate(store.iter_decisions(conn, limit=count), start=1):
                last = row["record_hash"]
                if position in marks:
                    hash_at[position] = last
                    id_at[position] = row["id"]
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
            return (
                checked,
                head,
                f"chain head {head[:16]}… does not match the last decision's hash {last[:16]}…",
            )
        problem = _verify_leads(conn) or _verify_explanations(conn)
        if problem is None and checkpoints is not None:
            problem = verify_checkpoints(conn, cps, count, hash_at, id_at)
        if problem is None and access:
            problem = verify_access_log(conn, checkpoints=[cp.fields for cp in cps])[1]
    return checked, head, problem


def _verify_leads(conn: Connection) -> str | None:
    """The first stored lead whose data does not give its own or its latest decision's ``input_hash``.

    A decided lead may legitimately differ from its latest decision only after an import without
    qualification (``import_runs.kind == "import"``) stored new content for it.
    """
    query = (
        select(
            LEADS.c.id,
            LEADS.c.lead_id,
            LEADS.c.data,
            LEADS.c.input_hash,
            DECISIONS.c.input_hash,
            RUNS.c.kind,
        )
        .select_from(
            LEADS.outerjoin(DECISIONS, DECISIONS.c.decision_id == LEADS.c.latest_decision_id).outerjoin(
                RUNS, RUNS.c.id == LEADS.c.import_run_id
            )
        )
        .order_by(LEADS.c.id)
    )
    last = 0
    while True:
        chunk = conn.execute(query.where(LEADS.c.id > last).limit(_LEAD_BATCH)).all()
        if not chunk:
            return None
        for _id, lead_id, data, stored_hash, decided_hash, run_kind in chunk:
            actual = input_hash(orjson.loads(data))
            if actual != stored_hash:
                return f"lead {lead_id}: stored data does not hash to its input_hash (changed after storing)"
            # Only an import without qualification (run kind "import") updates a decided lead without
            # deciding it again; every other writer stores a lead together with its decision.
            if decided_hash is not None and actual != decided_hash and run_kind != "import":
                return f"lead {lead_id}: stored data no longer gives its latest decision's input_hash"
        last = chunk[-1][0]


def _verify_explanations(conn: Connection) -> str | None:
    """The first stored explanation whose text does not hash (sha256) to its ``explanation_hash``."""
    rows = conn.execute(
        select(EXPLANATIONS.c.decision_id, EXPLANATIONS.c.explanation, EXPLANATIONS.c.explanation_hash)
    )
    for decision_id, text, digest in rows:
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            return f"explanation of decision {decision_id} changed after it was written"
    return None


_LEAD_BATCH = 10_000


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
