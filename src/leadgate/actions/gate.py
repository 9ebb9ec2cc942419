"""The consent gate every outgoing action passes: may this action contact this lead now?

An action kind is mapped to the consent purpose it serves (``ACTION_PURPOSES``); actions that do not
contact the lead (a notification to a rep, a CRM record or task) have none and always pass. The rule itself
(opt-in for marketing e-mail, opt-out for a rep's follow-up; newest statement wins) is
``leadgate.governance.consent.decide``.

Two ways to ask:

* ``check(conn, action, now=...)`` with an outbox ``Action`` (``contracts.action``): the dispatcher asks
  this at send time, right before ``Destination.deliver``, so consent withdrawn between planning and
  sending stops the send. It returns a ``GateResult`` and never raises for a lead that is gone (an
  erased lead is simply not contacted).
* ``check(conn, lead_id, kind, at)`` with a lead id and an action kind name (the older form, used by the
  chat and consent code): it returns the consent ``Permit``.

Per action kind (``contracts.action.ActionKind``):

* ``nurture``: marketing e-mail, needs ``email_marketing`` consent in force (opt-in); a lead with
  ``do_not_email`` or a withdrawal gets none.
* ``invite``: the ICS of a demo the visitor booked. It contacts the visitor about their own request
  (``email_sales``, opt-out: a ``do_not_email`` objection or a withdrawal in force stops it), and only
  when the action names a booking (``payload.booking_id``) that is still booked: an invite goes only to a
  visitor who asked for the demo, and never after they cancelled.
* ``notify_rep``, ``notify_manager``, ``crm_upsert``, ``crm_task``: they contact no lead and always pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, overload

from sqlalchemy import Connection, select

from leadgate.contracts.action import Action
from leadgate.errors import LeadgateError
from leadgate.governance.consent import ConsentError, Permit, may_contact

ACTION_PURPOSES: Final[dict[str, str | None]] = {
    # outbox action kinds (contracts.action.ActionKind)
    "nurture": "email_marketing",
    "invite": "email_sales",
    "notify_rep": None,
    "notify_manager": None,
    "crm_upsert": None,
    "crm_task": None,
    # older names, kept for their callers
    "sales_email": "email_sales",
    "meeting_invite": "email_sales",
    "call_task": "phone_sales",
    "rep_notification": None,
    "crm_sync": None,
}
"""Outgoing action kind -> the consent purpose it needs (None: it does not contact the lead)."""


class ActionBlockedError(LeadgateError):
    """An outgoing action the lead's consent does not allow; ``permit.reason`` says why."""

    def __init__(self, permit: Permit):
        super().__init__(permit.reason)
        self.permit = permit


@dataclass(frozen=True)
class GateResult:
    """The gate's answer for one outbox action.

    Attributes:
        allowed: whether the action may be delivered now.
        reason: one line saying why (kept as the outbox row's reason when it is not sent).
        purpose: the consent purpose that was checked, or None when the action contacts no lead.
    """

    allowed: bool
    reason: str
    purpose: str | None = None


def _booking_in_force(conn: Connection, booking_id: object) -> str | None:
    """None when ``booking_id`` is a booked (not cancelled) demo, else why not."""
    from leadgate.db.booking_models import BookingRow

    if not isinstance(booking_id, str) or not booking_id:
        return "an invite needs the booking it is for (payload.booking_id)"
    status = conn.execute(select(BookingRow.status).where(BookingRow.booking_id == booking_id)).scalar()
    if status is None:
        return f"booking {booking_id} does not exist"
    if status != "booked":
        return f"booking {booking_id} is {status}"
    return None


def check_action(conn: Connection, action: Action, *, now: datetime) -> GateResult:
    """Whether the outbox ``action`` may be delivered at ``now`` (see the module docstring, per kind).

    Args:
        conn: a connection to the leadgate database (read only).
        action: the action about to be delivered.
        now: aware time of the send (consent is judged as of then).

    Returns:
        ``GateResult``; not allowed when consent is missing or withdrawn, the lead objected, the lead is
        no longer stored (erased), or an invite's booking is absent or cancelled.

    Raises:
        KeyError: ``action.kind`` is not in ``ACTION_PURPOSES`` (a new kind must name its purpose).
    """
    purpose = ACTION_PURPOSES[action.kind]
    if purpose is None:
        return GateResult(True, f"{action.kind} does not contact the lead")
    if action.kind == "invite":
        problem = _booking_in_force(conn, action.payload.get("booking_id"))
        if problem is not None:
            return GateResult(False, problem, purpose)
    try:
        permit = may_contact(conn, action.lead_id, purpose, now)
    except ConsentError as exc:  # the lead is not stored (erased, or never was)
        return GateResult(False, str(exc), purpose)
    return GateResult(permit.allowed, permit.reason, purpose)


@overload
def check(conn: Connection, subject: Action, *, now: datetime) -> GateResult: ...


@overload
def check(conn: Connection, subject: str, kind: str, at: datetime | None = None) -> Permit: ...


def check(
    conn: Connection,
    subject: Action | str,
    kind: str | None = None,
    at: datetime | None = None,
    *,
    now: datetime | None = None,
) -> GateResult | Permit:
    """Whether an action may contact its lead: ``check(conn, action, now=...)`` or ``check(conn, lead_id, kind, at)``.

    With an ``Action`` this is ``check_action`` (returns a ``GateResult``). With a lead id and a kind name
    it returns the consent ``Permit`` as of ``at`` (default: now).

    Raises:
        KeyError: the kind is not in ``ACTION_PURPOSES`` (a new action must name its purpose).
        ConsentError: (lead-id form only) the lead is not stored.
        TypeError: an ``Action`` without ``now``, or a lead id without ``kind``.
    """
    if isinstance(subject, Action):
        if now is None:
            raise TypeError("check(conn, action, now=...) needs the time of the send")
        return check_action(conn, subject, now=now)
    if kind is None:
        raise TypeError("check(conn, lead_id, kind) needs the action kind")
    purpose = ACTION_PURPOSES[kind]
    if purpose is None:
        return Permit(True, "none", f"{kind} does not contact the lead")
    return may_contact(conn, subject, purpose, at or now)
