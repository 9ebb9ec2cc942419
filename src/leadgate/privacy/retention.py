"""Retention periods per kind of personal data, applied by ``leadgate privacy purge`` (cron-safe).

===================  ==========================================  ===============================  =======================
kind                 setting (days; unset = keep)                 older than                       what happens
===================  ==========================================  ===============================  =======================
``dead_letters``     ``LEADGATE_RETENTION_DEAD_LETTERS_DAYS``      ``created_at``                   deleted
``conversations``    ``LEADGATE_RETENTION_CONVERSATIONS_DAYS``     ``updated_at`` (last activity)   deleted with events
``bookings``         ``LEADGATE_RETENTION_BOOKINGS_DAYS``          ``end_at`` (meeting over)        deleted
``undecided_leads``  ``LEADGATE_RETENTION_UNDECIDED_LEADS_DAYS``   ``received_at``, no decision     deleted
``decided_leads``    ``LEADGATE_RETENTION_DECIDED_LEADS_DAYS``     ``received_at``, decided         personal fields erased
===================  ==========================================  ===============================  =======================

A decided lead keeps its row and decisions (the hash-chained log is never rewritten); its personal
fields are removed as by an erasure, under a ``retention`` tombstone per batch, so ``audit verify``
keeps passing. Idempotent: what is purged no longer matches, so a second run counts 0. Batched: each
batch of ``batch`` rows is one short transaction under the writer lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, delete, func, select, update

from leadgate.config import Settings
from leadgate.db.engine import write_lock
from leadgate.db.models import Base
from leadgate.privacy.erase import write_tombstone

KINDS: tuple[str, ...] = ("dead_letters", "conversations", "bookings", "undecided_leads", "decided_leads")
"""The kinds, in the order they are purged (conversations before the leads they point at)."""


@dataclass(frozen=True)
class _Kind:
    table: str
    column: str
    extra: Callable[[Table], Any] | None = None


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


_SPECS: dict[str, _Kind] = {
    "dead_letters": _Kind("dead_letters", "created_at"),
    "conversations": _Kind("conversations", "updated_at"),
    "bookings": _Kind("bookings", "end_at"),
    "undecided_leads": _Kind("leads", "received_at", lambda t: t.c.latest_decision_id.is_(None)),
    "decided_leads": _Kind(
        "leads",
        "received_at",
        lambda t: t.c.latest_decision_id.is_not(None) & t.c.pii.is_not(None) & t.c.tombstone_id.is_(None),
    ),
}


def retention_days(settings: Settings) -> dict[str, int | None]:
    """Kind -> retention period in days from settings (None: kept)."""
    return {kind: getattr(settings, f"retention_{kind}_days") for kind in KINDS}


def purge(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    dry_run: bool = False,
    batch: int = 1000,
    requested_by: str = "retention",
) -> dict[str, int | None]:
    """Apply the retention periods: delete (or, for decided leads, erase) what is older than its period.

    Args:
        engine: the database.
        settings: the periods (``retention_days``).
        now: aware "now" (the cut-off of a kind is ``now - days``).
        dry_run: only count what would be purged.
        batch: rows per transaction.
        requested_by: the actor on the tombstones (``cli:<user>``).

    Returns:
        Kind -> rows purged (or that would be); None for a kind without a period.
    """
    out: dict[str, int | None] = {}
    for kind, days in retention_days(settings).items():
        if days is None:
            out[kind] = None
            continue
        spec = _SPECS[kind]
        table = _t(spec.table)
        cond = table.c[spec.column] < now - timedelta(days=days)
        if spec.extra is not None:
            cond = cond & spec.extra(table)
        if dry_run:
            with engine.connect() as conn:
                out[kind] = int(
                    conn.execute(select(func.count()).select_from(table).where(cond)).scalar_one()
                )
            continue
        done = 0
        while True:
            with write_lock(engine), engine.begin() as conn:
                ids = list(
                    conn.execute(select(table.c.id).where(cond).order_by(table.c.id).limit(batch)).scalars()
                )
                if not ids:
                    break
                if kind == "conversations":
                    conv_ids = list(
                        conn.execute(select(table.c.conversation_id).where(table.c.id.in_(ids))).scalars()
                    )
                    events = _t("conversation_events")
                    conn.execute(delete(events).where(events.c.conversation_id.in_(conv_ids)))
                if kind == "decided_leads":
                    tombstone_id = str(uuid.uuid4())
                    conn.execute(
                        update(table)
                        .where(table.c.id.in_(ids))
                        .values(pii=None, email_index=None, tombstone_id=tombstone_id)
                    )
                    write_tombstone(
                        conn,
                        tombstone_id,
                        kind="retention",
                        email_index=None,
                        requested_by=requested_by,
                        reason=f"retention: decided leads older than {days} days",
                        counts={"leads": len(ids)},
                    )
                else:
                    conn.execute(delete(table).where(table.c.id.in_(ids)))
            done += len(ids)
        out[kind] = done
    return out
