"""Chat lead qualification: slots -> Lead -> the pipeline's audited decision, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from leadgate.chat.nlu import NLU
from leadgate.chat.ports import ChatDecision
from leadgate.chat.qualify import ChatLeadQualifier, load_chat_qualifier
from leadgate.config import Settings
from leadgate.db.models import DecisionRow, LeadRow
from leadgate.defaults import default_path
from leadgate.ingest.chat import SlotError
from leadgate.ingest.chat import lead_from_chat_slots as build_chat_lead
from leadgate.pipeline import latest_decision, verify_audit_log
from leadgate.policy import load_policy_text

NOW = datetime(2026, 5, 14, 10, 0, tzinfo=UTC)

STRONG: dict[str, Any] = {
    "person_name": "Dana Reyes",
    "work_email": {"email": "dana@acme.io", "free_mail": False},
    "company": "Acme",
    "role": {
        "title": "CTO",
        "seniority": "c_level",
        "department": "engineering",
        "authority": "decision_maker",
    },
    "company_size": {"min": 400, "max": 400},
    "need": "product analytics for our mobile app",
    "budget": {"amount": 50000, "currency": "USD", "period": "year", "min": 50000, "max": 50000},
    "timeline": {"start": "2026-06-01", "end": "2026-07-31"},
    "phone": "+4930123456",
    "consent": True,
}
STUDENT: dict[str, Any] = {
    "person_name": "Sam",
    "work_email": {"email": "sam@gmail.com", "free_provider": True, "valid": True},
    "role": {"title": "student", "seniority": "student", "department": "education", "authority": "none"},
    "need": "data for my thesis",
    "consent": True,
}
MID: dict[str, Any] = {
    "person_name": "Lee Park",
    "work_email": "lee@smallco.com",
    "company": "SmallCo",
    "role": {"title": "data analyst", "seniority": "individual_contributor", "authority": "user"},
    "company_size": {"min": 30, "max": 30},
    "need": "dashboards for the ops team",
    "consent": True,
}


def counts(engine: Engine, lead_id: str) -> tuple[int, int]:
    """(lead rows, decision rows) of ``lead_id``."""
    with engine.connect() as conn:
        leads = conn.execute(select(func.count()).where(LeadRow.lead_id == lead_id)).scalar_one()
        decisions = conn.execute(select(func.count()).where(DecisionRow.lead_id == lead_id)).scalar_one()
    return leads, decisions


@pytest.fixture
def chat(engine: Engine) -> ChatLeadQualifier:
    return ChatLeadQualifier.from_settings(engine, Settings())


# --------------------------------------------------------------------------- storage (both databases)


def test_bant_tiers_are_stored_audited_and_explained(chat: ChatLeadQualifier, engine: Engine) -> None:
    strong = chat.qualify(conversation_id="conv-strong", slots=STRONG, now=NOW)
    student = chat.qualify(conversation_id="conv-student", slots=STUDENT, now=NOW)
    mid = chat.qualify(conversation_id="conv-mid", slots=MID, now=NOW)

    assert isinstance(strong, ChatDecision)
    assert (strong.tier, strong.action, strong.review_required) == ("hot", "route_to_sales", False)
    assert strong.lead_id == "chat-conv-strong"
    assert (student.tier, student.action) == ("disqualified", "discard")
    assert any("not_a_buyer" in r for r in student.reasons)
    assert (mid.tier, mid.action, mid.review_required) == ("nurture", "nurture", False)

    checked, _, problem = verify_audit_log(engine)
    assert (checked, problem) == (3, None)

    stored = latest_decision(engine, chat.qualifier, "chat-conv-strong")
    assert stored is not None
    assert stored.decision_id == strong.decision_id
    assert stored.policy_version == "chat@1"
    assert stored.score.scorer == "rule_fallback"
    assert stored.score.fallback_reason  # the reason the rule fallback scored it is recorded
    assert stored.score.feature_set == "chat_leads@1"
    assert stored.features["authority"] == "decision_maker"
    assert stored.features["budget_annual"] == 50000
    explanation = stored.score.explanation
    assert explanation is not None and explanation.method == "rules"
    texts = [f.text for f in explanation.positive]
    assert "Makes the buying decision (+25 points)" in texts
    negative = latest_decision(engine, chat.qualifier, "chat-conv-student")
    assert negative is not None and negative.score.explanation is not None
    assert "Is a student (-15 points)" in [f.text for f in negative.score.explanation.negative]

    with engine.connect() as conn:
        lead = conn.execute(
            select(LeadRow.source, LeadRow.data).where(LeadRow.lead_id == "chat-conv-mid")
        ).one()
    assert lead.source == "chat"
    assert '"free_email":false' in lead.data.replace(" ", "")


def test_same_slots_twice_is_idempotent_and_changed_slots_append(
    chat: ChatLeadQualifier, engine: Engine
) -> None:
    first = chat.qualify(conversation_id="c-1", slots=MID, now=NOW)
    again = chat.qualify(conversation_id="c-1", slots=copy.deepcopy(MID), now=NOW)
    assert again == first
    assert counts(engine, "chat-c-1") == (1, 1)

    richer = {
        **MID,
        "role": {"title": "VP Data", "seniority": "vp", "authority": "decision_maker"},
        "budget": {"amount": 2000, "currency": "USD", "period": "month"},
        "timeline": {"start": "2026-05-14", "end": "2026-06-13"},
    }
    second = chat.qualify(conversation_id="c-1", slots=richer, now=NOW)
    assert second.decision_id != first.decision_id
    assert second.lead_id == first.lead_id
    assert (second.tier, second.action) == ("hot", "route_to_sales")
    assert counts(engine, "chat-c-1") == (1, 2)
    latest = latest_decision(engine, chat.qualifier, "chat-c-1", explain=False)
    assert latest is not None and latest.decision_id == second.decision_id
    assert latest.features["budget_annual"] == 24000  # 2000 a month, annualized
    assert verify_audit_log(engine)[2] is None

    # A changed contact detail updates the one lead row and is decided again (a policy may read lead fields).
    third = chat.qualify(conversation_id="c-1", slots={**richer, "phone": "+14155550100"}, now=NOW)
    assert counts(engine, "chat-c-1") == (1, 3)
    assert third.tier == "hot"


def test_high_impact_accounts_get_a_person(chat: ChatLeadQualifier, engine: Engine) -> None:
    big = {"company_size": {"min": 5000, "max": None, "approximate": False, "scope": "company"}}
    hot = chat.qualify(conversation_id="big-hot", slots={**STRONG, **big}, now=NOW)
    assert (hot.tier, hot.action, hot.review_required) == ("hot", "route_to_sales", True)
    assert any("1000 or more people" in r for r in hot.reasons)

    # The not_a_buyer rule spares large companies; the score alone would discard it, a person decides.
    student_at_big = chat.qualify(conversation_id="big-student", slots={**STUDENT, **big}, now=NOW)
    assert not any("not_a_buyer" in r for r in student_at_big.reasons)
    assert (student_at_big.action, student_at_big.review_required) == ("human_review", True)
    assert any("large_account_review" in r for r in student_at_big.reasons)

    warm = chat.qualify(
        conversation_id="warm",
        slots={
            **MID,
            "role": {"title": "Head of Data", "seniority": "director", "authority": "influencer"},
            "budget": {"amount": 5000, "currency": "EUR"},
        },
        now=NOW,
    )
    assert (warm.tier, warm.action, warm.review_required) == ("warm", "human_review", True)
    checked, _, problem = verify_audit_log(engine)
    assert (checked, problem) == (3, None)


def test_optional_slots_may_be_missing_and_consent_no_disqualifies(
    chat: ChatLeadQualifier, engine: Engine
) -> None:
    no_phone = {k: v for k, v in STRONG.items() if k not in ("phone", "company")}
    decision = chat.qualify(conversation_id="no-phone", slots=no_phone, now=NOW)
    assert decision.tier == "hot"
    refused = chat.qualify(conversation_id="no-consent", slots={**STRONG, "consent": False}, now=NOW)
    assert (refused.tier, refused.action) == ("disqualified", "discard")
    assert any("did not agree to be contacted" in r for r in refused.reasons)


def test_a_malformed_slot_names_the_slot_and_stores_nothing(chat: ChatLeadQualifier, engine: Engine) -> None:
    with pytest.raises(SlotError, match="'budget'") as info:
        chat.qualify(conversation_id="bad", slots={**STRONG, "budget": {"amount": "lots"}}, now=NOW)
    assert info.value.slot == "budget"
    assert counts(engine, "chat-bad") == (0, 0)
    assert verify_audit_log(engine)[0] == 0


def test_from_settings_reads_the_chat_policy_file(engine: Engine, tmp_path: Path) -> None:
    text = (
        default_path("chat_policy.yaml").read_text(encoding="utf-8").replace("\nversion: 1 ", "\nversion: 7 ")
    )
    # Version 7 sends nurture leads to review instead.
    text = text.replace("  nurture: nurture ", "  nurture: human_review ")
    policy_file = tmp_path / "chat_policy.yaml"
    policy_file.write_text(text, encoding="utf-8")
    chat = ChatLeadQualifier.from_settings(engine, Settings(chat_policy_file=policy_file))
    decision = chat.qualify(conversation_id="custom", slots=MID, now=NOW)
    assert (decision.tier, decision.action) == ("nurture", "human_review")
    stored = latest_decision(engine, chat.qualifier, "chat-custom", explain=False)
    assert stored is not None and stored.policy_version == "chat@7"


# --------------------------------------------------------------------------- slots -> lead (no storage)


def test_slot_mapping() -> None:
    lead = build_chat_lead("abc", STRONG, NOW)
    assert (lead.lead_id, lead.source, lead.received_at) == ("chat-abc", "chat", NOW)
    assert (lead.first_name, lead.last_name, lead.email, lead.company, lead.title, lead.phone) == (
        "Dana",
        "Reyes",
        "dana@acme.io",
        "Acme",
        "CTO",
        "+4930123456",
    )
    a = lead.attributes
    assert a["company_size"] == 400 and a["authority"] == "decision_maker" and a["seniority"] == "c_level"
    assert (a["budget_status"], a["budget_annual"], a["budget_currency"]) == ("stated", 50000, "USD")
    assert a["timeline_days"] == 78  # 14 May -> 31 Jul 2026
    assert a["free_email"] is False and a["need_stated"] is True and a["consent"] is True


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ({"amount": 2000, "period": "month", "currency": None}, {"budget_annual": 24000}),
        ({"amount": None, "min": 20000, "max": 30000}, {"budget_annual": 25000}),
        ({"amount": 10000, "min": None, "max": 10000}, {"budget_annual": 10000}),
        ({"amount": 40, "period": "month", "per": "seat"}, {"budget_per": "seat"}),
        ({"amount": 5_000_000, "currency": "JPY", "period": "year"}, {"budget_currency": "JPY"}),
        (0, {"budget_status": "none"}),
        ("no budget", {"budget_status": "none"}),
        (15000, {"budget_annual": 15000}),
    ],
)
def test_budget_is_annualized_only_when_comparable(budget: Any, expected: dict[str, Any]) -> None:
    attrs = build_chat_lead("b", {"budget": budget}, NOW).attributes
    for key, value in expected.items():
        assert attrs[key] == value
    if "budget_per" in expected or "budget_currency" in expected:
        assert "budget_annual" not in attrs and attrs["budget_status"] == "stated"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ({"min": 1000, "max": None}, 1000),
        ({"min": 50, "max": 100}, 75),
        (12, 12),
        ({"min": None, "max": 19}, 19),
    ],
)
def test_company_size_number(size: Any, expected: int) -> None:
    assert build_chat_lead("s", {"company_size": size}, NOW).attributes["company_size"] == expected


def test_separate_authority_statement_wins_over_the_role() -> None:
    slots = {**STRONG, "authority": {"authority": "influencer"}}
    assert build_chat_lead("a", slots, NOW).attributes["authority"] == "influencer"


@pytest.mark.parametrize(
    ("slot", "value"),
    [
        ("budget", {"amount": "lots"}),
        ("budget", {"amount": 100, "period": "fortnight"}),
        ("company_size", "many"),
        ("company_size", {"min": 100, "max": 10}),
        ("work_email", "not-an-email"),
        ("work_email", {"email": "x@y", "valid": False, "error": "The domain name y is not valid."}),
        ("timeline", "next-ish"),
        ("timeline", {"start": "2026-09-01", "end": "2026-08-01"}),
        ("role", {"title": "Overlord", "seniority": "overlord"}),
        ("authority", "boss"),
        ("consent", "maybe"),
        ("phone", 4930123456),
    ],
)
def test_malformed_slot_error_names_the_slot(slot: str, value: Any) -> None:
    with pytest.raises(SlotError) as info:
        build_chat_lead("m", {**STRONG, slot: value}, NOW)
    assert info.value.slot == slot
    assert f"slot {slot!r}" in str(info.value)


def test_nlu_entities_are_accepted_as_slots(nlu: NLU) -> None:
    text = (
        "I'm Dana Reyes, CTO at Acme, dana@acme.io, we're about 400 people, budget 50k per year, "
        "need it by Q1 next year, call me at +49 30 123456"
    )
    parsed = nlu.parse(text, now=NOW.replace(tzinfo=None), region="DE")
    entity = {e.entity: e.normalized for e in parsed.entities}
    slots = {
        "person_name": entity["person"],
        "work_email": entity["email"],
        "company": entity["company"],
        "role": entity["role"],
        "company_size": entity["company_size"],
        "budget": entity["money"],
        "timeline": entity["timeline"],
        "phone": entity["phone"],
        "need": "product analytics",
        "consent": True,
    }
    lead = build_chat_lead("nlu", slots, NOW)
    assert (lead.first_name, lead.email, lead.company, lead.phone) == (
        "Dana",
        "dana@acme.io",
        "Acme",
        "+4930123456",
    )
    a = lead.attributes
    assert (a["company_size"], a["budget_annual"], a["authority"], a["free_email"]) == (
        400,
        50000,
        "decision_maker",
        False,
    )
    assert a["timeline_end"] == "2027-03-31"
    rows, _ = load_chat_qualifier().decide([lead], explain="none")
    assert rows[0]["tier"] == "hot"


def test_a_policy_reading_unknown_attributes_is_refused() -> None:
    text = default_path("chat_policy.yaml").read_text(encoding="utf-8")
    text = text.replace("attributes.consent", "attributes.consnet")
    with pytest.raises(ValueError, match="consnet"):
        load_chat_qualifier(load_policy_text(text, source="typo.yaml"))


def test_the_consent_answer_is_recorded_with_its_wording(chat: ChatLeadQualifier, engine: Engine) -> None:
    from leadgate.actions.gate import check
    from leadgate.governance.consent import statements

    chat.consent_wording = "lumenly-qualify@1#consent-abc123"
    chat.qualify(conversation_id="c-yes", slots=STRONG, now=NOW)
    chat.qualify(conversation_id="c-yes", slots=STRONG, now=NOW)  # idempotent: nothing recorded twice
    chat.qualify(conversation_id="c-no", slots={**STRONG, "consent": False}, now=NOW)
    with engine.connect() as conn:
        yes = [s for s in statements(conn, "chat-c-yes") if s.origin == "consents"]
        no = [s for s in statements(conn, "chat-c-no") if s.origin == "consents"]
        assert sorted((s.purpose, s.granted, s.source) for s in yes) == [
            ("email_sales", True, "chat"),
            ("phone_sales", True, "chat"),
        ]
        assert {s.wording_version for s in yes} == {"lumenly-qualify@1#consent-abc123"}
        assert yes[0].given_at == NOW and yes[0].evidence == {"conversation_id": "c-yes"}
        assert [(s.purpose, s.granted) for s in no] == [("email_sales", False), ("phone_sales", False)]
        assert not check(conn, "chat-c-no", "sales_email").allowed
        assert not check(conn, "chat-c-no", "call_task").allowed
        # consent to be contacted by sales is not consent to marketing e-mail
        assert not check(conn, "chat-c-yes", "nurture").allowed
        assert check(conn, "chat-c-yes", "sales_email").allowed


def test_the_assistant_versions_its_consent_question(engine: Engine) -> None:
    from leadgate.chat.runtime import build_chat_parts

    assistant, commands = build_chat_parts(Settings(database_url=str(engine.url)), engine)
    wording = commands.qualifier.consent_wording  # type: ignore[union-attr]
    assert wording.startswith(assistant.flow.ref + "#consent-") and len(wording.rsplit("-", 1)[1]) == 12
