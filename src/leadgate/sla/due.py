"""Pure working-time arithmetic: when a rep's first touch on a lead is due.

    sla section + tier + rep + assigned_at --compute_sla_due--> due time (UTC) | None

Working time is the rep's weekly ``working_hours`` read as wall-clock time in the rep's IANA zone
(``zoneinfo``, so daylight-saving changes move the UTC instants but not the wall-clock ranges), minus
the rep's ``out_of_office`` days. A range is counted in real elapsed minutes: a range that spans a DST
change is one hour shorter or longer in real time, as it is for the rep. No clock is read here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadgate.contracts.action import Assignment
from leadgate.policy.sla_model import SlaSection
from leadgate.reps.hours import WEEKDAYS
from leadgate.reps.hours import zone as tz
from leadgate.reps.model import Rep, RepDirectory

SEARCH_DAYS = 400
"""How many calendar days ahead working time is searched for before giving up (more than a year of
absences, or a rep without working hours, gives no due time)."""


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {at.isoformat()}")
    return at.astimezone(UTC)


def working_intervals(rep: Rep, start: datetime, days: int = SEARCH_DAYS) -> list[tuple[datetime, datetime]]:
    """The rep's working intervals from the local day of ``start`` on, as UTC instants, in order.

    Args:
        rep: the rep (``working_hours`` in ``rep.timezone``; ``out_of_office`` days are left out).
        start: a timezone-aware instant; the walk begins on its calendar day in the rep's zone.
        days: how many calendar days to walk.

    Returns:
        ``[(begin, end), ...]`` aware UTC datetimes, ``begin < end``; intervals may end before ``start``
        (the caller clips them).

    Raises:
        ValueError: ``start`` is naive.
    """
    zone = tz(rep.timezone)
    first = _aware(start, "start").astimezone(zone).date()
    absences = [(a.start, a.end) for a in rep.out_of_office]
    out: list[tuple[datetime, datetime]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if any(begin <= day <= end for begin, end in absences):
            continue
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for span in rep.working_hours.day(WEEKDAYS[day.weekday()]):
            # aware + timedelta is wall-clock arithmetic in Python: 09:00 stays 09:00 across a DST change.
            begin = (midnight + timedelta(minutes=span.start)).astimezone(UTC)
            end = (midnight + timedelta(minutes=span.end)).astimezone(UTC)
            if end > begin:
                out.append((begin, end))
    return out


def add_working_minutes(rep: Rep, start: datetime, minutes: int) -> datetime | None:
    """The instant when ``minutes`` of the rep's working time have passed since ``start``.

    Args:
        rep: the rep whose working hours, zone and absences count.
        start: a timezone-aware instant (outside working hours the count starts at the next range).
        minutes: working minutes to add (>= 0; 0 gives the next working instant at or after ``start``).

    Returns:
        The aware UTC instant, or None when the rep has no working time within ``SEARCH_DAYS`` days.

    Raises:
        ValueError: ``start`` is naive or ``minutes`` is negative.
    """
    if minutes < 0:
        raise ValueError(f"minutes must be >= 0, got {minutes}")
    cursor = _aware(start, "start")
    remaining = timedelta(minutes=minutes)
    for begin, end in working_intervals(rep, cursor):
        if end <= cursor:
            continue
        begin = max(begin, cursor)
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    return None


def compute_sla_due(
    sla_section: SlaSection | None,
    tier: str,
    rep: Rep,
    assigned_at: datetime,
    *,
    action: str | None = None,
    segment: str | None = None,
) -> datetime | None:
    """The first-touch due time of a lead assigned to ``rep`` at ``assigned_at``.

    Example: a hot lead (``first_touch: 5m``) assigned at 22:00 Berlin time on a Tuesday to a rep working
    09:00-17:00 Europe/Berlin is due at 09:05 Berlin time on Wednesday (08:05 UTC in winter).

    Args:
        sla_section: the policy's ``sla`` section (None: no SLAs).
        tier: the decision's tier.
        rep: the assigned rep.
        assigned_at: when the lead was assigned (timezone-aware).
        action: the decision's action, for ``sla.rules`` with ``actions``.
        segment: the lead's segment, for ``sla.rules`` with ``segments``.

    Returns:
        The aware UTC due time, or None when no SLA applies to this tier (or the rep has no working time
        within ``SEARCH_DAYS`` days).

    Raises:
        ValueError: ``assigned_at`` is naive.
    """
    _aware(assigned_at, "assigned_at")
    if sla_section is None:
        return None
    found = sla_section.target(tier, action=action, segment=segment)
    if found is None:
        return None
    return add_working_minutes(rep, assigned_at, found[0].first_touch)


def compute_reassign_at(
    sla_section: SlaSection | None,
    tier: str,
    rep: Rep,
    due_at: datetime,
    *,
    action: str | None = None,
    segment: str | None = None,
) -> datetime | None:
    """When a missed lead is re-assigned: ``reassign_after`` working minutes of ``rep`` after ``due_at``.

    Returns:
        The aware UTC instant, or None when the target has no ``reassign_after`` (or no SLA applies).

    Raises:
        ValueError: ``due_at`` is naive.
    """
    _aware(due_at, "due_at")
    if sla_section is None:
        return None
    found = sla_section.target(tier, action=action, segment=segment)
    if found is None or found[0].reassign_after is None:
        return None
    return add_working_minutes(rep, due_at, found[0].reassign_after)


def with_sla_due(
    assignment: Assignment,
    sla_section: SlaSection | None,
    tier: str,
    directory: RepDirectory,
    *,
    action: str | None = None,
    segment: str | None = None,
) -> Assignment:
    """``assignment`` with its ``sla_due_at`` computed for its rep (for routing, before it is stored).

    Args:
        assignment: a new assignment (its ``assigned_at`` is the start of the clock).
        sla_section: the policy's ``sla`` section (None: no SLAs).
        tier: the decision's tier.
        directory: the reps (the assignment's rep is looked up there).
        action: the decision's action, for ``sla.rules`` with ``actions``.
        segment: the lead's segment, for ``sla.rules`` with ``segments``.

    Returns:
        A copy with ``sla_due_at`` set, or None when unassigned, the rep is unknown or no SLA applies.
    """
    rep = directory.get(assignment.rep_id) if assignment.rep_id is not None else None
    due = (
        compute_sla_due(sla_section, tier, rep, assignment.assigned_at, action=action, segment=segment)
        if rep is not None
        else None
    )
    return assignment.model_copy(update={"sla_due_at": due})
