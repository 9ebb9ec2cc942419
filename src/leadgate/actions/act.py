"""The hook of the decision transaction: plan the decided leads' actions and write them to the outbox.

Called inside the transaction that stores the decisions (and their assignments), so a decision and its
actions commit together or not at all::

    with write_lock(engine), engine.begin() as conn:
        store.lock_chain(conn)
        store.write_leads(conn, lead_rows)
        appended = store_decisions(conn, rows, explanations)
        ...store_assignment(conn, a) for each assignment...
        enqueue_decided(conn, decisions, assignments, routes, now=now, reps=reps)

``routes`` comes from ``leadgate.actions.destinations.load_routes(destinations_path(settings))``, loaded
once per process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from leadgate.actions.outbox import enqueue
from leadgate.actions.planning import Routes, plan_actions
from leadgate.contracts.action import Action, Assignment
from leadgate.contracts.decision import Decision
from leadgate.db.store import new_id as _new_id
from leadgate.reps.model import RepDirectory


def enqueue_decided(
    conn: Connection,
    decisions: Sequence[Decision],
    assignments: Sequence[Assignment | None],
    routes: Routes,
    *,
    now: datetime,
    reps: RepDirectory | None = None,
    new_id: Callable[[], str] = _new_id,
) -> list[Action]:
    """Plan the actions of ``decisions`` (``plan_actions``) and enqueue them in the caller's transaction.

    Args:
        conn: the decision transaction (SQLite: under ``write_lock``).
        decisions: the stored decisions.
        assignments: one per decision, aligned (None: not routed).
        routes: action kind -> destination names.
        now: the decision time (``Action.created_at``, due at once).
        reps: the rep directory (``notify_rep`` only for reps with notify channels).
        new_id: makes action ids (default: time-ordered UUID7).

    Returns:
        The planned actions; those already in the outbox (same destination and key) are not stored twice.

    Raises:
        ValueError: ``decisions`` and ``assignments`` do not align.
    """
    actions = plan_actions(decisions, assignments, routes, now=now, new_id=new_id, reps=reps)
    enqueue(conn, actions)
    return actions
