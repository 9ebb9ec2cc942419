"""The consent gate every outgoing action passes: may this action contact this lead now?

An action kind is mapped to the consent purpose it serves (``ACTION_PURPOSES``); actions that do not
contact the lead (a notification to a rep, a CRM record) have none and always pass. The rule itself
(opt-in for marketing e-mail, opt-out for a rep's follow-up; newest statement wins) is
``leadgate.governance.consent.decide``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Connection

from leadgate.errors import LeadgateError
from leadgate.governance.consent import Permit, may_contact

ACTION_PURPOSES: Final[dict[str, str | None]] = {
    "nurture": "email_marketing",
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


def check(conn: Connection, lead_id: str, kind: str, at: datetime | None = None) -> Permit:
    """Whether an action of ``kind`` may contact ``lead_id`` at ``at`` (default: now).

    Raises:
        KeyError: ``kind`` is not in ``ACTION_PURPOSES`` (a new action must name its purpose).
        ConsentError: the lead is not stored.
    """
    purpose = ACTION_PURPOSES[kind]
    if purpose is None:
        return Permit(True, "none", f"{kind} does not contact the lead")
    return may_contact(conn, lead_id, purpose, at)
