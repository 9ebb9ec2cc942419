"""How many leads each rep was assigned today (in the rep's zone) and in the rolling 30 days (a DB read).

``leadgate reps list`` shows these next to the caps; the counts read ``assignments (rep_id, assigned_at)``,
every assignment made to the rep whatever its status now (a lead re-assigned away still used capacity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import Connection, Table, func, select

from leadgate.db.acting_models import AssignmentRow
from leadgate.reps.hours import zone
from leadgate.reps.model import RepDirectory

ASSIGNMENTS: Final[Table] = AssignmentRow.__table__  # type: ignore[assignment]
WINDOW: Final = timedelta(days=30)
"""The rolling window of ``monthly_cap``: 30 x 24 hours before ``now``."""


@dataclass(frozen=True)
class RepLoad:
    """One rep's load at an instant.

    Attributes:
        rep_id: the rep.
        today: assignments since midnight of ``now``'s day in the rep's zone (up to ``now``).
        last_30_days: assignments in ``(now - 30 days, now]``.
    """

    rep_id: str
    today: int
    last_30_days: int


def _count(conn: Connection, rep_id: str, since: datetime, until: datetime) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(ASSIGNMENTS)
            .where(
                ASSIGNMENTS.c.rep_id == rep_id,
                ASSIGNMENTS.c.assigned_at > since,
                ASSIGNMENTS.c.assigned_at <= until,
            )
        ).scalar_one()
    )


def rep_loads(conn: Connection, directory: RepDirectory, now: datetime) -> list[RepLoad]:
    """The load of every rep of ``directory`` at ``now``, in file order.

    Args:
        conn: a connection (read only).
        directory: the reps.
        now: the instant (timezone-aware).

    Returns:
        One ``RepLoad`` per rep.

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
    now = now.astimezone(UTC)
    out = []
    for rep in directory.reps:
        local = now.astimezone(zone(rep.timezone))
        midnight = datetime(local.year, local.month, local.day, tzinfo=local.tzinfo).astimezone(UTC)
        today = _count(conn, rep.id, midnight - timedelta(microseconds=1), now)
        out.append(RepLoad(rep.id, today, _count(conn, rep.id, now - WINDOW, now)))
    return out
