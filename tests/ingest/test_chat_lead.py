"""The chat channel builds its leads through ``ingest`` (``ingest.chat.lead_from_chat_slots``), from the values the
chat validators store, with the shared vocabulary (issue 10, acceptance item 1)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from leadgate.chat.flows.validators import (
    BudgetValidator,
    RoleValidator,
    TimelineValidator,
    ValidationContext,
    WorkEmailValidator,
)
from leadgate.chat.nlu import default_nlu
from leadgate.contracts.vocabulary import BUDGET_PERIODS, is_free_provider
from leadgate.errors import LeadgateError
from leadgate.ingest.chat import LEAD_ID_PREFIX, SOURCE, SlotError, lead_from_chat_slots

NOW = datetime(2026, 5, 14, 10, 0, tzinfo=UTC)
CTX = ValidationContext(today=date(2026, 5, 14), free_mail_asked=True)


def _entity(text: str, kind: str) -> dict:
    parsed = default_nlu().parse(text, now=NOW.replace(tzinfo=None))
    (found,) = parsed.entities_of(kind)
    return dict(found.normalized)


def test_validated_slots_become_a_lead_with_the_same_vocabulary() -> None:
    role = RoleValidator().check(_entity("I'm Head of RevOps at Corvex Logistics", "role"), CTX)
    budget = BudgetValidator().check(_entity("about 2k a month", "money"), CTX)
    timeline = TimelineValidator().check(_entity("not before September", "timeline"), CTX)
    email = WorkEmailValidator().check(_entity("dana@gmail.com", "email"), CTX)
    assert role.ok and budget.ok and timeline.ok and email.ok
    lead = lead_from_chat_slots(
        "conv-42",
        {
            "person_name": {"full": "Dana Whitfield", "first": "Dana", "last": "Whitfield"},
            "work_email": {"email": email.value, "free_mail": "free_mail" in email.flags},
            "company": "Corvex Logistics",
            "role": role.value,
            "budget": budget.value,
            "timeline": timeline.value,
            "consent": True,
        },
        NOW,
    )
    assert (lead.lead_id, lead.source) == (LEAD_ID_PREFIX + "conv-42", SOURCE)
    assert lead.title == "Head of RevOps"
    attrs = lead.attributes
    assert (attrs["seniority"], attrs["department"], attrs["authority"]) == (
        "director",
        "revenue_operations",
        "decision_maker",
    )
    assert attrs["budget_period"] == "month"
    assert attrs["budget_annual"] == 2000 * BUDGET_PERIODS["month"]
    assert attrs["timeline_start"] == "2026-09-01"
    assert attrs["free_email"] is True and is_free_provider(attrs["email_domain"])


@pytest.mark.parametrize("period", ["monthly", "annual", "quarter", "Yearly"])
def test_budget_periods_and_their_spellings(period: str) -> None:
    lead = lead_from_chat_slots("c1", {"budget": {"amount": 1000, "currency": "USD", "period": period}}, NOW)
    assert lead.attributes["budget_period"] in BUDGET_PERIODS


def test_values_outside_the_vocabulary_are_refused_naming_the_slot() -> None:
    with pytest.raises(SlotError) as err:
        lead_from_chat_slots("c1", {"role": {"title": "Boss", "seniority": "overlord"}}, NOW)
    assert err.value.slot == "role"
    assert isinstance(err.value, LeadgateError)
    with pytest.raises(SlotError, match="period"):
        lead_from_chat_slots("c1", {"budget": {"amount": 5, "period": "fortnight"}}, NOW)


def test_the_chat_qualifier_uses_the_ingest_builder() -> None:
    from leadgate.chat import qualify

    assert qualify.build_chat_lead is lead_from_chat_slots


def test_statements_that_answered_no_slot_are_kept_with_the_lead_as_visitor_notes() -> None:
    slots = {
        "person_name": {"full": "Dana Whitfield", "first": "Dana"},
        "work_email": "dana@corvexlogistics.com",
    }
    notes = [
        "we need to understand feature adoption across our enterprise accounts",
        "  ",
        "our current tool can't segment by account",
    ]
    lead = lead_from_chat_slots("conv-notes", slots, NOW, notes=notes)
    assert lead.attributes["visitor_notes"] == (
        "we need to understand feature adoption across our enterprise accounts | "
        "our current tool can't segment by account"
    )
    assert "visitor_notes" not in lead_from_chat_slots("conv-plain", slots, NOW).attributes
