"""The rep inbox side of review: a rep's open assignments with their leads, and the first touch.

The first touch itself is ``leadgate.sla.mark_first_touch`` (same
arguments) until that lands: it sets ``first_touch_at``, status ``touched`` and appends the
``first_touch`` work event, in the caller's write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select

from leadgate.db.store import get_lead
from leadgate.review.rules import ReviewCriteria
from leadgate.review.store import NotFound, QueueItem, _aware, review_item
from leadgate.routing.records import ASSIGNMENTS, OPEN_STATUSES

INBOX_LIMIT: Final[int] = 200
"""Most assignments one inbox page lists (the earliest deadlines)."""


def get_assignment(conn: Connection, assignment_id: str) -> dict[str, Any]:
    """One assignment row.

    Raises:
        NotFound: no such assignment.
    """
    row = (
        conn.execute(select(ASSIGNMENTS).where(ASSIGNMENTS.c.assignment_id == assignment_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no assignment {assignment_id}")
    return dict(row)


@dataclass(frozen=True)
class InboxItem:
    """One open assignment of a rep with its lead.

    Attributes:
        assignment: the assignment row (``assignment_id``, ``rule``, ``reason``, ``status``...).
        due: the first-touch deadline (aware UTC) or None.
        item: the lead's latest decision and what is in force (``QueueItem``).
        lead: the lead's fields, personal ones decrypted (``store.get_lead``), or None when missing.
    """

    assignment: dict[str, Any]
    due: datetime | None
    item: QueueItem
    lead: dict[str, Any] | None


def rep_inbox(conn: Connection, rep_id: str, criteria: ReviewCriteria | None = None) -> list[InboxItem]:
    """The rep's open assignments (status ``open`` or ``escalated``), earliest deadline first (none last).

    At most ``INBOX_LIMIT``. Reads personal data: the caller logs the read (``read_pii``).
    """
    rows = [
        dict(r)
        for r in conn.execute(
            select(ASSIGNMENTS)
            .where(ASSIGNMENTS.c.rep_id == rep_id, ASSIGNMENTS.c.status.in_(OPEN_STATUSES))
            .order_by(ASSIGNMENTS.c.sla_due_at.is_(None), ASSIGNMENTS.c.sla_due_at, ASSIGNMENTS.c.id)
            .limit(INBOX_LIMIT)
        ).mappings()
    ]
    out = []
    for row in rows:
        try:
            item = review_item(conn, row["lead_id"], criteria or ReviewCriteria())
        except NotFound:
            continue
        out.append(InboxItem(row, _aware(row["sla_due_at"]), item, get_lead(conn, row["lead_id"])))
    return out
