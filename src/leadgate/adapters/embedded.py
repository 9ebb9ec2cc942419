"""The embedded CRM (destination ``embedded``, the default): contacts and rep tasks in leadgate's own database.

``crm_upsert`` upserts one ``crm_contacts`` row per lead (owner rep, tier, decision; the newest action by
``created_at`` wins, so a late retry of an older action changes nothing back); ``crm_task`` inserts
one ``crm_tasks`` row per action idempotency key (``INSERT ... ON CONFLICT DO NOTHING`` on the unique key,
so a retry, a replay or a second worker creating the same task inserts nothing) and makes sure the lead
has a contact. No personal data is written (see ``leadgate.db.crm_models``). The rep inbox lists a rep's
tasks with ``open_tasks`` and marks one done with ``complete_task``.

Errors: a database that cannot be reached (``OperationalError``, a dropped connection) is retryable; any
other database error is permanent (a retry would hit the same constraint or type error).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from leadgate.actions.ports import (
    Delivered,
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.adapters import DestinationConfigError
from leadgate.adapters.facts import task_facts
from leadgate.contracts.action import ActionKind
from leadgate.db.crm_models import CrmContactRow, CrmTaskRow
from leadgate.db.engine import write_lock
from leadgate.db.store import insert_ignore, new_id, utcnow
from leadgate.errors import LeadgateError

CONTACTS: Table = CrmContactRow.__table__  # type: ignore[assignment]
TASKS: Table = CrmTaskRow.__table__  # type: ignore[assignment]


class CrmTaskNotFoundError(LeadgateError, LookupError):
    """No embedded-CRM task has that id (or it belongs to another rep)."""


class EmbeddedCrm:
    """Destination ``embedded``: the CRM tables in the leadgate database (``context.engine``).

    Delivered.external_id is the ``contact_id`` (``crm_upsert``) or the ``task_id`` (``crm_task``); the same
    action delivered again returns the same id and changes nothing.
    """

    name: ClassVar[str] = "embedded"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"crm_upsert", "crm_task"})

    class Config(BaseModel):
        """The embedded CRM takes no settings; ``task_title_prefix`` is prepended to task titles."""

        model_config = ConfigDict(extra="forbid")
        task_title_prefix: str = Field(default="", max_length=40)

    def __init__(self, config: Config, context: DestinationContext) -> None:
        if not isinstance(context.engine, Engine):
            raise DestinationConfigError("embedded: the destination context has no database engine")
        self.config = config
        self.engine: Engine = context.engine

    def deliver(self, delivery: Delivery) -> Delivered:
        """Write the contact or the task of ``delivery.action`` once.

        Raises:
            PermanentDeliveryError: an action kind this destination does not take, a bad payload, or a
                database error a retry cannot fix.
            RetryableDeliveryError: the database cannot be reached.
        """
        kind = delivery.action.kind
        if kind not in self.kinds:
            raise PermanentDeliveryError(f"embedded: action kind {kind!r} is not one of {sorted(self.kinds)}")
        facts = task_facts(delivery)
        try:
            with write_lock(self.engine), self.engine.begin() as conn:
                now = utcnow()
                contact_id = _upsert_contact(
                    conn, delivery, facts.rep_id, facts.tier, now, touch=kind == "crm_upsert"
                )
                if kind == "crm_upsert":
                    return Delivered(external_id=contact_id, detail={"table": "crm_contacts"})
                conn.execute(
                    insert_ignore(conn, TASKS, ["idempotency_key"]).values(
                        task_id=new_id(),
                        idempotency_key=delivery.action.idempotency_key,
                        lead_id=delivery.action.lead_id,
                        decision_id=facts.decision_id,
                        rep_id=facts.rep_id,
                        title=(self.config.task_title_prefix + facts.title)[:500],
                        tier=facts.tier,
                        due_at=facts.due_at,
                        status="open",
                        created_at=now,
                    )
                )
                task_id = conn.execute(
                    select(TASKS.c.task_id).where(TASKS.c.idempotency_key == delivery.action.idempotency_key)
                ).scalar_one()
                return Delivered(external_id=task_id, detail={"table": "crm_tasks", "contact_id": contact_id})
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise RetryableDeliveryError(
                    f"embedded: database unavailable: {type(exc.orig).__name__}"
                ) from exc
            raise PermanentDeliveryError(f"embedded: database refused the write: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise PermanentDeliveryError(f"embedded: database error: {exc}") from exc

    def close(self) -> None:
        """Nothing to release (the engine belongs to the worker)."""


def _upsert_contact(
    conn: Connection, delivery: Delivery, rep_id: str | None, tier: str | None, now: datetime, *, touch: bool
) -> str:
    """Insert the lead's contact if missing; with ``touch``, update its owner, tier and decision. Returns its id."""
    action = delivery.action
    lead_id = action.lead_id
    conn.execute(
        insert_ignore(conn, CONTACTS, ["lead_id"]).values(
            contact_id=new_id(),
            lead_id=lead_id,
            decision_id=action.decision_id,
            tier=tier,
            rep_id=rep_id,
            last_action_key=action.idempotency_key,
            last_action_at=action.created_at,
            created_at=now,
            updated_at=now,
        )
    )
    if touch:
        # Conditional in SQL (not read-then-write): with two workers on PostgreSQL, the row lock taken by
        # the UPDATE re-checks the condition, so the newest action wins whatever the commit order.
        values: dict[str, Any] = {
            "last_action_key": action.idempotency_key,
            "last_action_at": action.created_at,
            "updated_at": now,
            "tier": tier,
            "decision_id": action.decision_id,
        }
        if rep_id is not None:
            values["rep_id"] = rep_id
        conn.execute(
            update(CONTACTS)
            .where(CONTACTS.c.lead_id == lead_id, CONTACTS.c.last_action_at < action.created_at)
            .values(**values)
        )
    contact_id = conn.execute(select(CONTACTS.c.contact_id).where(CONTACTS.c.lead_id == lead_id)).scalar_one()
    return str(contact_id)


def open_tasks(conn: Connection, rep_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The rep's open embedded-CRM tasks, the soonest due first (tasks without a due time last).

    Args:
        conn: an open connection.
        rep_id: the rep (``reps.yaml`` id).
        limit: at most this many rows.

    Returns:
        Dicts with ``task_id``, ``lead_id``, ``decision_id``, ``rep_id``, ``title``, ``tier``, ``due_at``
        (aware datetime or None), ``status``, ``created_at``.
    """
    rows = conn.execute(
        select(
            TASKS.c.task_id,
            TASKS.c.lead_id,
            TASKS.c.decision_id,
            TASKS.c.rep_id,
            TASKS.c.title,
            TASKS.c.tier,
            TASKS.c.due_at,
            TASKS.c.status,
            TASKS.c.created_at,
        )
        .where(TASKS.c.rep_id == rep_id, TASKS.c.status == "open")
        .order_by(TASKS.c.due_at.is_(None), TASKS.c.due_at, TASKS.c.created_at, TASKS.c.id)
        .limit(limit)
    ).mappings()
    return [_aware(dict(r)) for r in rows]


def complete_task(conn: Connection, task_id: str, at: datetime, rep_id: str | None = None) -> bool:
    """Mark a task done at ``at`` (UTC).

    Args:
        conn: a connection inside the caller's write transaction.
        task_id: the task.
        at: when it was done.
        rep_id: when given, the task must belong to this rep (a rep completes only their own tasks).

    Returns:
        True if the task was open and is now done; False if it was already done (idempotent).

    Raises:
        CrmTaskNotFoundError: no such task (for that rep).
    """
    cond = [TASKS.c.task_id == task_id]
    if rep_id is not None:
        cond.append(TASKS.c.rep_id == rep_id)
    status = conn.execute(select(TASKS.c.status).where(*cond)).scalar_one_or_none()
    if status is None:
        raise CrmTaskNotFoundError(f"no task {task_id!r}" + (f" for rep {rep_id!r}" if rep_id else ""))
    changed = conn.execute(
        update(TASKS).where(*cond, TASKS.c.status == "open").values(status="done", done_at=at)
    ).rowcount
    return bool(changed)


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("due_at", "created_at", "done_at"):
        value = row.get(key)
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
    return row
