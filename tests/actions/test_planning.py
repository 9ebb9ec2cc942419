"""Action planning is pure: the same decision and assignment plan the same keys, no personal data leaves."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from leadgate.actions.planning import idempotency_key, plan_action, plan_actions
from leadgate.contracts.decision import Decision
from leadgate.reps import load_reps, load_reps_text

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
ROUTES = {
    "crm_upsert": ["hubspot"],
    "crm_task": ["hubspot"],
    "notify_rep": ["email", "slack"],
    "nurture": ["marketo"],
    "notify_manager": ["email"],
}


def ids(prefix: str = "a"):  # type: ignore[no-untyped-def]
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def decision(lead_id: str = "web-000017", action: str = "route_to_sales", **kw) -> Decision:  # type: ignore[no-untyped-def]
    from tests.actions.seed import decision_row

    from leadgate.db.rows import decision_from_row

    row = decision_row(lead_id, 17, action, kw.pop("tier", "hot"))
    row.update(kw)
    return decision_from_row(row, None)


def test_route_to_sales_plans_record_task_and_notification() -> None:
    from tests.actions.seed import assignment

    d = decision()
    a = assignment(d, rep_id="anna")
    actions = plan_actions([d], [a], ROUTES, now=NOW, new_id=ids(), reps=load_reps())
    assert [(x.kind, x.destination) for x in actions] == [
        ("crm_upsert", "hubspot"),
        ("crm_task", "hubspot"),
        ("notify_rep", "email"),  # anna's notify is [email] (the default); slack is not her channel
    ]
    task = actions[1]
    assert task.payload["rep_id"] == "anna"
    assert task.payload["sla_due_at"] == "2026-12-02T09:35:00.000000Z"
    assert task.payload["tier"] == "hot" and task.payload["probability"] == pytest.approx(0.82)
    assert task.idempotency_key == idempotency_key("crm_task", "hubspot", d.lead_id, a.assignment_id)
    assert actions[0].idempotency_key == idempotency_key("crm_upsert", "hubspot", d.lead_id, d.decision_id)
    assert all(x.created_at == NOW and x.decision_id == d.decision_id for x in actions)


def test_planning_twice_gives_the_same_keys_and_new_action_ids() -> None:
    from tests.actions.seed import assignment

    d = decision()
    first = plan_actions([d], [assignment(d)], ROUTES, now=NOW, new_id=ids("x"))
    again = plan_actions([d], [assignment(d)], ROUTES, now=NOW, new_id=ids("y"))
    assert [a.idempotency_key for a in first] == [a.idempotency_key for a in again]
    assert {a.action_id for a in first}.isdisjoint({a.action_id for a in again})
    assert len({a.idempotency_key for a in first}) == len(first)


def test_reassignment_makes_a_new_task_but_not_a_new_record() -> None:
    from tests.actions.seed import assignment

    d = decision()
    a1 = assignment(d, rep_id="anna")
    a2 = a1.model_copy(update={"assignment_id": "asg-2", "rep_id": "marcus", "rule": "manual"})
    one = {x.kind: x.idempotency_key for x in plan_actions([d], [a1], ROUTES, now=NOW, new_id=ids())}
    two = {x.kind: x.idempotency_key for x in plan_actions([d], [a2], ROUTES, now=NOW, new_id=ids())}
    assert one["crm_upsert"] == two["crm_upsert"]
    assert one["crm_task"] != two["crm_task"]


def test_payload_carries_no_personal_data() -> None:
    from tests.actions.seed import assignment, lead

    person = lead(17)
    d = decision(person.lead_id)
    actions = plan_actions([d], [assignment(d)], ROUTES, now=NOW, new_id=ids())
    text = " ".join(str(a.payload) for a in actions)
    for value in (person.email, person.first_name, person.last_name, person.company):
        assert value and value not in text


@pytest.mark.parametrize(
    ("action", "extra", "kinds"),
    [
        ("nurture", {}, ["nurture"]),
        ("discard", {}, []),
        ("human_review", {}, []),
        ("route_to_sales", {"review_required": True}, []),
    ],
)
def test_other_decisions(action: str, extra: dict, kinds: list[str]) -> None:  # type: ignore[type-arg]
    from tests.actions.seed import assignment

    d = decision(action=action, **extra)
    assert [a.kind for a in plan_actions([d], [assignment(d)], ROUTES, now=NOW, new_id=ids())] == kinds


def test_unassigned_lead_gets_a_record_only_and_silent_reps_no_notification() -> None:
    from tests.actions.seed import assignment

    d = decision()
    assert [a.kind for a in plan_actions([d], [None], ROUTES, now=NOW, new_id=ids())] == ["crm_upsert"]
    reps = load_reps_text(
        "name: r\nversion: 1\nreps:\n"
        "  - id: quiet\n    name: Quiet Rep\n    email: quiet@example.com\n    timezone: UTC\n"
        "    notify: []\n    working_hours: {mon: ['09:00-17:00']}\n"
        "  - id: loud\n    name: Loud Rep\n    email: loud@example.com\n    timezone: UTC\n"
        "    notify: [email, slack]\n    slack_webhook: https://hooks.slack.com/services/T0/B0/x\n"
        "    working_hours: {mon: ['09:00-17:00']}\n"
    )
    quiet = plan_actions([d], [assignment(d, "quiet")], ROUTES, now=NOW, new_id=ids(), reps=reps)
    assert [a.kind for a in quiet] == ["crm_upsert", "crm_task"]
    loud = plan_actions([d], [assignment(d, "loud")], ROUTES, now=NOW, new_id=ids(), reps=reps)
    assert [(a.kind, a.destination) for a in loud][2:] == [("notify_rep", "email"), ("notify_rep", "slack")]


def test_kinds_without_a_route_plan_nothing_and_misaligned_input_is_refused() -> None:
    d = decision()
    assert plan_actions([d], [None], {"crm_task": ["hubspot"]}, now=NOW, new_id=ids()) == []
    with pytest.raises(ValueError, match="align"):
        plan_actions([d, d], [None], ROUTES, now=NOW, new_id=ids())


def test_escalation_action_is_keyed_on_its_reference() -> None:
    one = plan_action(
        "notify_manager",
        lead_id="web-1",
        reference="asg-9",
        routes=ROUTES,
        now=NOW,
        new_id=ids(),
        payload={"rep_id": "anna"},
    )
    two = plan_action(
        "notify_manager", lead_id="web-1", reference="asg-9", routes=ROUTES, now=NOW, new_id=ids()
    )
    assert [a.destination for a in one] == ["email"]
    assert one[0].idempotency_key == two[0].idempotency_key
    assert plan_action("invite", lead_id="web-1", reference="b-1", routes=ROUTES, now=NOW, new_id=ids()) == []
