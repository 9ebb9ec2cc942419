"""What a CRM adapter reads from a ``Delivery``: the task's rep, due time, tier, title and priority.

The action planner writes non-personal facts into ``Action.payload``; these helpers read them with one
set of fallbacks so every CRM adapter agrees. Payload keys read (all optional):

- ``rep_id``: the assigned rep (else ``delivery.rep["id"]``).
- ``sla_due_at`` (or ``due_at``): ISO-8601 time the first touch is due (the assignment's SLA).
- ``tier``: the decision's tier (else ``delivery.decision["tier"]``).
- ``title``: the task subject (else ``"First touch: <tier> lead"``).
- ``priority``: ``high`` | ``medium`` | ``low`` (else ``high`` for tier ``hot``, ``medium`` otherwise).
- ``reasons``: list of plain-words reasons of the decision (else ``delivery.decision["reasons"]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadgate.actions.ports import Delivery, PermanentDeliveryError

PRIORITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class TaskFacts:
    """The non-personal facts of a CRM task (see the module docstring for where each comes from)."""

    rep_id: str | None
    due_at: datetime | None
    tier: str | None
    title: str
    priority: str
    reasons: tuple[str, ...]
    decision_id: str | None


def _parse_time(value: Any, key: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise PermanentDeliveryError(f"payload.{key} is not an ISO-8601 time: {value!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _reasons(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(r.get("text", r)) if isinstance(r, Mapping) else str(r) for r in value)
    return ()


def task_facts(delivery: Delivery) -> TaskFacts:
    """Read the task facts of ``delivery`` (payload first, then the decision and rep it carries).

    Raises:
        PermanentDeliveryError: ``sla_due_at``/``due_at`` is not a time, or ``priority`` is not one of
            ``PRIORITIES`` (a retry would read the same payload).
    """
    payload = delivery.action.payload
    decision = delivery.decision or {}
    rep = delivery.rep or {}
    tier = payload.get("tier") or decision.get("tier")
    due_key = "sla_due_at" if payload.get("sla_due_at") else "due_at"
    priority = str(payload.get("priority") or ("high" if tier == "hot" else "medium")).lower()
    if priority not in PRIORITIES:
        raise PermanentDeliveryError(f"payload.priority must be one of {PRIORITIES}, got {priority!r}")
    return TaskFacts(
        rep_id=payload.get("rep_id") or rep.get("id"),
        due_at=_parse_time(payload.get(due_key), due_key),
        tier=str(tier) if tier else None,
        title=str(payload.get("title") or f"First touch: {tier or 'new'} lead"),
        priority=priority,
        reasons=_reasons(payload.get("reasons", decision.get("reasons"))),
        decision_id=delivery.action.decision_id,
    )


def lead_email(lead: Mapping[str, Any]) -> str | None:
    """The lead's first email address (``email`` may be a string or a list), lower-cased, or None."""
    value = lead.get("email")
    if isinstance(value, list | tuple):
        value = next((v for v in value if v), None)
    return str(value).strip().lower() if value else None


def email_domain(email: str | None) -> str | None:
    """The domain of an email address (``anna@acme.example`` -> ``acme.example``), or None."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower() or None
