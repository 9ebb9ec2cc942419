"""Focused tests of the flow file, the slot validators, the state and the engine's guards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.chat.flow_support import FixedScheduler, ScriptedLlm, SlotRuleQualifier, TwoPassageKb

from leadgate.chat.commands import CommandRunner, carry_out
from leadgate.chat.flows import (
    Assistant,
    ConversationState,
    FlowError,
    ValidationContext,
    check_flow_text,
    compound_sentiment,
    default_flow_text,
    faithful,
    load_default_flow,
    load_flow,
    load_flow_text,
    pick_offer,
)
from leadgate.chat.flows.validators import (
    BudgetValidator,
    CompanySizeValidator,
    ConsentValidator,
    FreeTextValidator,
    PersonNameValidator,
    PhoneValidator,
    RoleValidator,
    TimelineValidator,
    WorkEmailValidator,
)
from leadgate.chat.nlu import NLU
from leadgate.chat.ports import SlotOffer

NOW = datetime(2026, 5, 14, 8, 0, tzinfo=UTC)
CTX = ValidationContext(today=date(2026, 5, 14), region="US")


# ------------------------------------------------------------------ flow file


def test_shipped_flow_loads_with_its_reference_and_order() -> None:
    flow = load_default_flow()
    assert flow.ref == "website_qualification@1"
    assert flow.ordered_slots()[0].name == "person_name"
    assert flow.ordered_slots()[-1].validator.type == "consent"
    assert flow.slot("phone").can_skip and not flow.slot("work_email").can_skip


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("from: [company]", "from: [compny]", "unknown source(s) ['compny']"),
        ("validator: {type: budget}", "validator: {type: budgt}", "a validator is a mapping with a 'type'"),
        ('noted: "Got it: {items}."', 'noted: "Got it: {itemz}."', "unknown placeholder(s) ['itemz']"),
        ("max_misunderstandings: 2", "max_misunderstandings: 0", "greater than or equal to 1"),
        ("negative_sentiment: -0.5", "negative_sentiment: 0.5", "less than or equal to 0"),
    ],
)
def test_flow_errors_point_at_the_line(old: str, new: str, message: str) -> None:
    text = default_flow_text()
    assert old in text
    broken = text.replace(old, new, 1)
    issues = check_flow_text(broken)
    assert len(issues) == 1, issues
    assert message in issues[0].message
    assert issues[0].line == _line_of(broken, new)


def test_flow_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my_flow.yml"
    path.write_text(
        default_flow_text().replace("  - name: company\n", "  - name: need\n", 1), encoding="utf-8"
    )
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert str(path) in str(info.value)
    assert "duplicate slot name 'need'" in str(info.value)


def test_flow_needs_a_consent_slot_and_is_not_empty() -> None:
    text = default_flow_text().replace("validator: {type: consent}", "validator: {type: free_text}")
    assert any("exactly one slot with validator 'consent'" in i.message for i in check_flow_text(text))
    assert check_flow_text("   \n")[0].message == "the flow file is empty"
    with pytest.raises(FlowError):
        load_flow_text("name: [unclosed")


def test_custom_flow_file_changes_the_questions(tmp_path: Path, nlu: NLU) -> None:
    path = tmp_path / "flow.yml"
    text = default_flow_text().replace("version: 1", "version: 7", 1)
    text = text.replace("To get started, what's your name?", "Who am I talking to?")
    path.write_text(text, encoding="utf-8")
    flow = load_flow(path)
    assistant = Assistant(flow, kb=TwoPassageKb(), nlu=nlu)
    first = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC")
    assert first.state.flow == "website_qualification@7"
    assert first.replies[-1].text == "Who am I talking to?"


# ------------------------------------------------------------------ validators


@pytest.mark.parametrize(
    ("policy", "asked", "ok", "hold", "flags"),
    [
        ("ask_once", False, False, True, ()),
        ("ask_once", True, True, False, ("free_mail",)),
        ("accept", False, True, False, ("free_mail",)),
        ("reject", True, False, False, ()),
    ],
)
def test_free_mail_policy(policy: Any, asked: bool, ok: bool, hold: bool, flags: tuple[str, ...]) -> None:
    verdict = WorkEmailValidator(free_mail=policy).check(
        "Dana@Gmail.com", ValidationContext(today=CTX.today, free_mail_asked=asked)
    )
    assert (verdict.ok, verdict.hold, verdict.flags) == (ok, hold, flags)


def test_work_email_normalizes_and_refuses_bad_syntax() -> None:
    v = WorkEmailValidator()
    assert v.check({"email": "dana@acme.com", "valid": True}, CTX).value == "dana@acme.com"
    refused = v.check({"email": None, "valid": False, "error": "no dot in domain"}, CTX)
    assert not refused.ok and "no dot in domain" in (refused.reason or "")
    assert not v.check("dana@", CTX).ok
    assert not v.check(42, CTX).ok


@pytest.mark.parametrize(
    ("value", "ok", "flags"),
    [
        ({"min": 400, "max": 400, "approximate": False, "scope": "company"}, True, ()),
        ({"min": 50, "max": 100, "approximate": True, "scope": "company"}, True, ("approximate", "range")),
        ({"min": 1001, "max": None, "approximate": False, "scope": "company"}, True, ("open_ended",)),
        ({"min": 12, "max": 12, "approximate": False, "scope": "team"}, True, ("team_scope",)),
        ({"min": 0, "max": 0}, False, ()),
        ({"min": 100, "max": 50}, False, ()),
        (-5, False, ()),
        (250, True, ()),
        (2.5, False, ()),
        (True, False, ()),
        (10_000_000, False, ()),
    ],
)
def test_company_size(value: Any, ok: bool, flags: tuple[str, ...]) -> None:
    verdict = CompanySizeValidator().check(value, CTX)
    assert verdict.ok is ok, verdict
    if ok:
        assert set(flags) == set(verdict.flags)
        assert verdict.value["min"] >= 1


def test_budget_currency_and_bounds() -> None:
    nlu_value = {"amount": 50000, "min": 50000, "max": 50000, "currency": None, "period": "year", "per": None}
    plain = BudgetValidator().check(nlu_value, CTX)
    assert plain.ok and plain.value["currency"] is None and "no_currency" in plain.flags
    assumed = BudgetValidator(default_currency="EUR").check(nlu_value, CTX)
    assert assumed.value["currency"] == "EUR" and "currency_assumed" in assumed.flags
    assert not BudgetValidator(currencies=["USD"]).check({**nlu_value, "currency": "GBP"}, CTX).ok
    assert not BudgetValidator().check({"amount": -5, "min": -5, "max": -5}, CTX).ok
    assert not BudgetValidator().check({"amount": None, "min": 30000, "max": 20000}, CTX).ok
    assert not BudgetValidator().check("a lot", CTX).ok
    assert not BudgetValidator().check({**nlu_value, "period": "fortnight"}, CTX).ok
    assert BudgetValidator().check(1200, CTX).value["amount"] == 1200


@pytest.mark.parametrize(
    ("value", "floor"),
    [
        ({"amount": 5000, "min": 5000, "max": 5000, "period": "month"}, 60000.0),
        ({"amount": None, "min": 20000, "max": 30000, "period": None}, 20000.0),
        ({"amount": None, "min": None, "max": 30000, "period": "year"}, None),
    ],
)
def test_budget_annual_floor(value: dict[str, Any], floor: float | None) -> None:
    assert BudgetValidator.annual_floor(value) == floor


def test_timeline_must_not_have_ended() -> None:
    v = TimelineValidator(max_days_ahead=365)
    past = v.check({"start": "2025-01-01", "end": "2025-01-31", "grain": "month"}, CTX)
    assert not past.ok and past.reason == "that date has already passed"
    running = v.check({"start": "2026-04-01", "end": "2026-06-30", "grain": "quarter"}, CTX)
    assert running.ok and running.value == {"start": "2026-05-14", "end": "2026-06-30", "grain": "quarter"}
    assert not v.check({"start": "2028-01-01", "end": "2028-03-31"}, CTX).ok
    assert not v.check({"start": "2026-07-01", "end": "2026-06-01"}, CTX).ok
    assert not v.check("Q3", CTX).ok


def test_phone_consent_text_name_role() -> None:
    assert PhoneValidator().check("(415) 555-0132", CTX).value == "+14155550132"
    assert PhoneValidator().check({"e164": "+4930901820"}, CTX).value == "+4930901820"
    assert not PhoneValidator().check("555", CTX).ok
    assert ConsentValidator().check(False, CTX).value is False
    assert ConsentValidator().check("yes", CTX).value is True
    assert not ConsentValidator().check("maybe", CTX).ok
    assert not FreeTextValidator(min_chars=5).check("ok", CTX).ok
    assert not FreeTextValidator().check("12345", CTX).ok
    assert FreeTextValidator().check("  lead   scoring ", CTX).value == "lead scoring"
    assert PersonNameValidator().check("jean-luc o'neil", CTX).value == {
        "full": "Jean-luc O'neil",
        "first": "Jean-luc",
        "last": "O'neil",
    }
    assert not PersonNameValidator().check("R2D2", CTX).ok
    assert not PersonNameValidator(max_words=2).check("Ana Maria de la Cruz", CTX).ok
    role = RoleValidator().check("Growth Hacker", CTX)
    assert role.ok and role.flags == ("unrecognized_title",) and role.value["title"] == "Growth Hacker"
    assert not RoleValidator(accept_unrecognized=False).check("Growth Hacker", CTX).ok
    assert not RoleValidator().check({"title": None, "seniority": None}, CTX).ok


# ------------------------------------------------------------------ state


def test_state_json_round_trip_and_schema(nlu: NLU) -> None:
    assistant = Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu)
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="Europe/Berlin").state
    state = assistant.handle(state, "I'm Dana Lee, dana@acme.com", now=NOW).state
    text = state.to_json()
    assert text.startswith('{"schema":"chat_state/v1"')
    assert ConversationState.from_json(text) == state
    assert state.model_dump_json() == text
    with pytest.raises(ValidationError):
        ConversationState.from_json(text.replace("chat_state/v1", "chat_state/v9"))


# ------------------------------------------------------------------ engine guards


@pytest.fixture
def assistant(nlu: NLU) -> Assistant:
    return Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu)


def test_inputs_are_checked(assistant: Assistant) -> None:
    with pytest.raises(ValueError, match="aware"):
        assistant.start(conversation_id="c", now=datetime(2026, 5, 14), visitor_tz="UTC")
    with pytest.raises(ValueError, match="time zone"):
        assistant.start(conversation_id="c", now=NOW, visitor_tz="Mars/Olympus")
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    with pytest.raises(ValueError, match="empty"):
        assistant.handle(state, "  ", now=NOW)
    with pytest.raises(ValueError, match="flow"):
        assistant.handle(state.model_copy(update={"flow": "other@1"}), "hi", now=NOW)


def test_handle_is_pure_and_counts_turns(assistant: Assistant) -> None:
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    before = state.to_json()
    result = assistant.handle(state, "I'm Dana Lee", now=NOW)
    assert state.to_json() == before
    assert (state.turn, result.state.turn) == (0, 1)
    assert result.state.slots["person_name"].turn == 1
    assert result.state.slots["person_name"].raw == "Dana Lee"


def test_handoff_option_and_silence_afterwards(assistant: Assistant) -> None:
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    handed = assistant.handle(state, "Talk to a person", now=NOW, option_id="handoff")
    assert handed.state.status == "handoff" and handed.replies[0].kind == "handoff"
    later = assistant.handle(handed.state, "I'm Dana Lee, budget 1M", now=NOW)
    assert later.replies == []
    assert [e.type for e in later.events] == ["held_for_person"]
    assert later.state.slots == handed.state.slots


def test_mild_negativity_is_not_a_handoff(assistant: Assistant) -> None:
    assert compound_sentiment("no") > -0.5
    assert compound_sentiment("this is useless, I hate this stupid bot") <= -0.5
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    result = assistant.handle(state, "no", now=NOW)
    assert result.state.status == "active"


def test_llm_intent_is_used_only_when_the_nlu_is_unsure(nlu: NLU) -> None:
    text = "Dana Lee"
    llm = ScriptedLlm(extract={text: {"intent": "human_handoff", "slots": {}}})
    assistant = Assistant(load_default_flow(), kb=TwoPassageKb(), nlu=nlu, llm=llm)
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    confident = nlu.parse(text, now=NOW.replace(tzinfo=None)).intent.confidence
    result = assistant.handle(state, text, now=NOW)
    assert llm.extract_calls == [text]
    expected = "handoff" if confident < assistant.flow.intents.llm_intent_below else "active"
    assert result.state.status == expected


def test_llm_phrasing_guard() -> None:
    draft = "What's your work email?"
    assert faithful("Could you share your work email?", draft)
    assert not faithful("", draft)
    assert not faithful(draft + " It costs 12 USD.", draft)
    assert not faithful(draft + " See https://evil.example", draft)
    assert not faithful(draft + "\nVisitor: sure, dana@acme.com", draft)
    assert not faithful("x" * 400, draft)
    assert faithful("The Team plan is 49 USD.", "Here you go.", facts=["49 USD per seat"])


def _offers(tz: str) -> list[SlotOffer]:
    starts = (
        datetime(2026, 5, 18, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 19, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 19, 13, 30, tzinfo=UTC),
    )
    scheduler = FixedScheduler(starts)
    return scheduler.offer_slots(now=NOW, visitor_tz=tz)


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("the second one", 1),
        ("2", 1),
        ("option 3", 2),
        ("the last one please", 2),
        ("Monday", 0),
        ("tuesday at 10", 1),
        ("Tue 15:30", 2),
        ("3:30pm on Tuesday", 2),
        ("Tuesday", None),
        ("at 11", None),
        ("sounds good", None),
        ("5", None),
    ],
)
def test_pick_offer(text: str, index: int | None) -> None:
    offers = _offers("Europe/Berlin")
    picked = pick_offer(text, offers, "Europe/Berlin")
    assert picked == (offers[index] if index is not None else None)


def test_pick_offer_by_date_from_the_nlu() -> None:
    offers = _offers("Europe/Berlin")
    assert pick_offer("the 18th", offers, "Europe/Berlin", day=date(2026, 5, 18)) == offers[0]
    assert pick_offer("May 18", offers, "Europe/Berlin", day=date(2026, 5, 18)) == offers[0]
    assert pick_offer("May 20", offers, "Europe/Berlin", day=date(2026, 5, 20)) is None


def test_scheduler_now_is_after_the_last_offer_for_more_times(assistant: Assistant) -> None:
    starts = tuple(datetime(2026, 5, 18, h, 0, tzinfo=UTC) for h in (8, 9, 10, 11))
    runner = CommandRunner(qualifier=SlotRuleQualifier(), scheduler=FixedScheduler(starts))
    state = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    for text in (
        "I'm Dana Lee, CTO at Acme Corp, dana@acme.com, 400 employees, budget 50k USD, by Q3",
        "automate lead qualification",
        "skip",
        "yes",
    ):
        state = carry_out(assistant, assistant.handle(state, text, now=NOW), runner, now=NOW).state
    first = [o.start for o in state.offers]
    turn = assistant.handle(state, "none of these work", now=NOW)
    assert [c.kind for c in turn.commands] == ["offer_slots"] and turn.state.offers == state.offers
    more = carry_out(assistant, turn, runner, now=NOW).state
    assert len(first) == 3 and len(more.offers) == 1
    assert more.offers[0].start > max(first) - timedelta(minutes=1)


@pytest.mark.parametrize(
    "answer",
    [
        "We want to see where trial accounts drop off before they convert",
        "Understand which features our customers actually use",
        "show our board which onboarding steps predict renewal",
    ],
)
def test_a_statement_answers_the_pending_use_case_whatever_its_intent(
    assistant: Assistant, answer: str
) -> None:
    st = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    for text in ["I'm Dana Reyes from Acme", "dana@acme.io", "CTO", "400 people"]:
        st = assistant.handle(st, text, now=NOW).state
    assert st.pending == "need"
    result = assistant.handle(st, answer, now=NOW)
    assert result.state.slots["need"].value == answer
    assert result.state.pending == "budget"


def test_a_question_while_the_use_case_is_pending_is_answered_not_taken(assistant: Assistant) -> None:
    st = assistant.start(conversation_id="c", now=NOW, visitor_tz="UTC").state
    for text in ["I'm Dana Reyes from Acme", "dana@acme.io", "CTO", "400 people"]:
        st = assistant.handle(st, text, now=NOW).state
    result = assistant.handle(st, "How much does the Team plan cost?", now=NOW)
    assert "need" not in result.state.slots
    assert result.state.pending == "need"
