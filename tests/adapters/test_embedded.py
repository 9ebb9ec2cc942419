"""The embedded CRM on SQLite and PostgreSQL: tasks for the rep inbox, contacts, no personal data, outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from tests.adapters.contract import LEADS, sample_delivery
from tests.api.servers import free_port

from leadgate.actions.ports import Delivery, DestinationContext, RetryableDeliveryError
from leadgate.adapters import DestinationConfigError, build_destination
from leadgate.adapters.embedded import (
    CONTACTS,
    TASKS,
    CrmTaskNotFoundError,
    EmbeddedCrm,
    complete_task,
    open_tasks,
)
from leadgate.db import make_engine
from leadgate.db.engine import write_lock


def embedded(engine: Engine) -> EmbeddedCrm:
    dest = build_destination("embedded", {}, DestinationContext(engine=engine, settings=None))
    assert isinstance(dest, EmbeddedCrm)
    return dest


def test_tasks_carry_the_sla_and_show_in_the_reps_inbox_by_due_time(engine: Engine) -> None:
    crm = embedded(engine)
    warm = crm.deliver(sample_delivery("crm_task", 0, "embedded"))  # rep anna, warm: due 60 min after 09:14
    hot = crm.deliver(sample_delivery("crm_task", 2, "embedded"))  # rep anna, hot: due 5 min after 09:16
    crm.deliver(sample_delivery("crm_task", 1, "embedded"))  # rep marcus
    with engine.connect() as conn:
        inbox = open_tasks(conn, "anna")
    assert [t["task_id"] for t in inbox] == [hot.external_id, warm.external_id]
    assert inbox[0]["due_at"] == datetime(2026, 12, 2, 9, 21, 5, 120000, tzinfo=UTC)
    assert inbox[0]["tier"] == "hot" and inbox[0]["title"] == "First touch: hot lead"
    assert inbox[1]["due_at"] == datetime(2026, 12, 2, 10, 14, 5, 120000, tzinfo=UTC)
    assert {t["lead_id"] for t in inbox} == {"web:2026-12-02:000000", "web:2026-12-02:000002"}


def test_complete_task_once_and_only_the_reps_own(engine: Engine) -> None:
    crm = embedded(engine)
    task_id = str(crm.deliver(sample_delivery("crm_task", 2, "embedded")).external_id)
    at = datetime(2026, 12, 2, 9, 19, 0, tzinfo=UTC)
    with write_lock(engine), engine.begin() as conn:
        with pytest.raises(CrmTaskNotFoundError):
            complete_task(conn, task_id, at, rep_id="marcus")
        assert complete_task(conn, task_id, at, rep_id="anna") is True
        assert complete_task(conn, task_id, at + timedelta(minutes=1), rep_id="anna") is False
    with engine.connect() as conn:
        assert open_tasks(conn, "anna") == []
        row = conn.execute(select(TASKS.c.status, TASKS.c.done_at).where(TASKS.c.task_id == task_id)).one()
    assert row.status == "done" and row.done_at.replace(tzinfo=row.done_at.tzinfo or UTC) == at
    with engine.begin() as conn, pytest.raises(CrmTaskNotFoundError):
        complete_task(conn, "no-such-task", at)


def test_contact_follows_a_new_decision_but_not_a_retry(engine: Engine) -> None:
    crm = embedded(engine)
    first = sample_delivery("crm_upsert", 2, "embedded")  # rep anna, hot
    contact_id = crm.deliver(first).external_id
    # A later decision on the same lead re-routes it to marcus as warm: a new action, same contact.
    later_action = first.action.model_copy(
        update={
            "idempotency_key": "b" * 64,
            "decision_id": "0193a1c2-7d4e-7000-8000-999999999999",
            "payload": {**first.action.payload, "tier": "warm", "rep_id": "marcus"},
            "created_at": first.action.created_at + timedelta(minutes=30),
        }
    )
    assert crm.deliver(Delivery(action=later_action, lead=first.lead)).external_id == contact_id
    crm.deliver(first)  # a late retry of the first action changes nothing back
    with engine.connect() as conn:
        rows = conn.execute(select(CONTACTS)).mappings().all()
    assert len(rows) == 1
    assert (rows[0]["rep_id"], rows[0]["tier"], rows[0]["decision_id"]) == (
        "marcus",
        "warm",
        "0193a1c2-7d4e-7000-8000-999999999999",
    )


def test_no_personal_data_is_written(engine: Engine) -> None:
    crm = embedded(engine)
    for n in range(4):
        crm.deliver(sample_delivery("crm_upsert", n, "embedded"))
        crm.deliver(sample_delivery("crm_task", n, "embedded"))
    with engine.connect() as conn:
        stored = repr(conn.execute(select(CONTACTS)).all()) + repr(conn.execute(select(TASKS)).all())
    assert "web:2026-12-02:000003" in stored
    for lead in LEADS:
        for field in ("email", "first_name", "last_name", "company", "phone"):
            if lead.get(field):
                assert str(lead[field]) not in stored, field


def test_database_outage_is_retryable() -> None:
    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    try:
        with pytest.raises(RetryableDeliveryError, match="database unavailable"):
            embedded(down).deliver(sample_delivery("crm_task", 2, "embedded"))
    finally:
        down.dispose()


def test_needs_the_database_engine() -> None:
    with pytest.raises(DestinationConfigError, match="engine"):
        EmbeddedCrm(EmbeddedCrm.Config(), DestinationContext(engine=None, settings=None))
