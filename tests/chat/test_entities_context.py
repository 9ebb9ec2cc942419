"""Entities read in context (issue 10, item 2): the pending question, title-less roles, negated and competing
timelines, and the company a work-email domain suggests."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.chat.conftest import NOW

from leadgate.chat.flows.validators import RoleValidator, ValidationContext
from leadgate.chat.nlu import NLU
from leadgate.chat.nlu.company import company_from_email
from leadgate.chat.nlu.timeline import extract_spans, extract_timeline
from leadgate.contracts import vocabulary


def _kinds(nlu: NLU, text: str, expecting: str | None = None) -> dict[str, dict]:
    parsed = nlu.parse(text, now=NOW, expecting=expecting)
    return {e.entity: dict(e.normalized) for e in parsed.entities}


def test_dana_whitfield_gives_name_role_and_company(nlu: NLU) -> None:
    found = _kinds(nlu, "I am Dana Whitfield, VP of Product at Corvex Logistics")
    assert found["person"]["full"] == "Dana Whitfield"
    assert found["role"] == {
        "title": "VP of Product",
        "seniority": "vp",
        "department": "product",
        "authority": "decision_maker",
    }
    assert found["company"]["name"] == "Corvex Logistics"


@pytest.mark.parametrize("text", ["Morgan Stanley", "Jackson Hewitt", "we're Northwind", "acme", "Tesla"])
def test_an_answer_to_which_company_is_a_company_not_a_person(nlu: NLU, text: str) -> None:
    as_company = _kinds(nlu, text, expecting="company")
    assert "person" not in as_company
    assert as_company["company"]["name"].lower() in text.lower()


@pytest.mark.parametrize(
    ("text", "name"),
    [("April Chen", "April Chen"), ("mike ross", "Mike Ross"), ("ok - Ravi", "Ravi"), ("Grace", "Grace")],
)
def test_an_answer_to_whats_your_name_is_a_person(nlu: NLU, text: str, name: str) -> None:
    assert _kinds(nlu, text, expecting="person")["person"]["full"] == name
    assert "company" not in _kinds(nlu, text, expecting="person")


@pytest.mark.parametrize(
    "text", ["asdf qwerty", "this is useless, I hate this", "no idea", "why?", "later", "Hello"]
)
def test_non_names_are_not_read_as_names_even_when_a_name_is_asked(nlu: NLU, text: str) -> None:
    assert "person" not in _kinds(nlu, text, expecting="person")


@pytest.mark.parametrize("text", ["Pricing", "why do you need that?", "I'd rather not say", "n/a"])
def test_refusals_and_questions_are_not_companies(nlu: NLU, text: str) -> None:
    assert "company" not in _kinds(nlu, text, expecting="company")


def test_a_name_then_from_company(nlu: NLU) -> None:
    found = _kinds(nlu, "It's Joanna from Rivet Labs", expecting="person")
    assert found["person"]["full"] == "Joanna"
    assert found["company"]["name"] == "Rivet Labs"


def test_the_expected_type_wins_an_overlap(nlu: NLU) -> None:
    assert "money" in _kinds(nlu, "around 3k")
    sized = _kinds(nlu, "around 3k", expecting="company_size")
    assert sized["company_size"]["min"] == 3000
    assert "money" not in sized


@pytest.mark.parametrize(
    ("text", "seniority", "department", "authority"),
    [
        ("I run RevOps there", "director", "revenue_operations", "influencer"),
        ("I lead the growth team", "manager", "marketing", "influencer"),
        ("i manage our sales ops", "manager", "revenue_operations", "influencer"),
        ("I own the data platform", "manager", "data", "influencer"),
        ("I'm on the marketing team", "individual_contributor", "marketing", "user"),
        ("I head up IT", "director", "it", "decision_maker"),
        ("Head of Customer Success", "director", "customer_success", "decision_maker"),
        ("SVP, Operations", "vp", "operations", "decision_maker"),
        ("ops coordinator", "individual_contributor", "operations", "user"),
        ("procurement manager", "manager", "procurement", "influencer"),
        ("founder", "c_level", "executive", "decision_maker"),
    ],
)
def test_roles_with_and_without_title_words(
    nlu: NLU, text: str, seniority: str, department: str, authority: str
) -> None:
    role = _kinds(nlu, text, expecting="role")["role"]
    assert (role["seniority"], role["department"], role["authority"]) == (seniority, department, authority)


def test_a_bare_department_answers_the_role_question_only_when_asked(nlu: NLU) -> None:
    assert _kinds(nlu, "marketing", expecting="role")["role"]["department"] == "marketing"
    assert "role" not in _kinds(nlu, "marketing")


def test_possessive_company_before_a_title(nlu: NLU) -> None:
    found = _kinds(nlu, "I'm Northwind's marketing director")
    assert found["company"]["name"] == "Northwind"
    assert found["role"]["department"] == "marketing"
    assert "person" not in found


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("not before March", "2027-03-01"),
        ("no rush, not this quarter", "2026-07-01"),
        ("not until next year", "2027-01-01"),
        ("not in the next 6 months", "2026-11-14"),
        ("we won't be ready until September", "2026-09-01"),
        ("after the summer", "2026-09-01"),
        ("after the holidays", "2027-01-01"),
    ],
)
def test_negated_timelines_start_at_the_bound(text: str, start: str) -> None:
    (timeline,) = extract_timeline(text, NOW)
    assert timeline.normalized["start"] == start
    assert timeline.normalized["grain"] == "after"
    assert timeline.normalized["end"] > start


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("not before August, ideally by end of Q3", "2026-08-01", "2026-09-30"),
        ("we can't start until july but we must be live by september", "2026-07-01", "2026-09-30"),
    ],
)
def test_a_lower_bound_next_to_the_committed_expression_still_applies(
    text: str, start: str, end: str
) -> None:
    (timeline,) = extract_timeline(text, NOW)
    assert (timeline.normalized["start"], timeline.normalized["end"]) == (start, end)


def test_before_without_negation_still_ends_before() -> None:
    (timeline,) = extract_timeline("before March", NOW)
    assert timeline.normalized["end"] == "2027-02-28"


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("sometime this year, ideally by end of Q2", "2026-06-30"),
        ("maybe Q3, but realistically Q4", "2026-12-31"),
        ("Q3 or Q4, hard deadline end of October", "2026-10-31"),
    ],
)
def test_the_committed_expression_wins(text: str, end: str) -> None:
    assert len(extract_spans(text, NOW)) >= 2
    (timeline,) = extract_timeline(text, NOW)
    assert timeline.normalized["end"] == end


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("ASAP", "2026-06-13"),
        ("we needed it yesterday", "2026-06-13"),
        ("in a couple of weeks", "2026-05-28"),
    ],
)
def test_urgency(text: str, end: str) -> None:
    (timeline,) = extract_timeline(text, NOW)
    assert (timeline.normalized["start"], timeline.normalized["end"]) == ("2026-05-14", end)


def test_yesterday_as_a_past_event_is_no_timeline() -> None:
    assert extract_timeline("I called you yesterday", datetime(2026, 5, 14, 10)) == []


@pytest.mark.parametrize(
    ("address", "company"),
    [
        ("dana@corvexlogistics.com", "Corvex Logistics"),
        ("j.smith@northwind-traders.co.uk", "Northwind Traders"),
        ("ops@mail.brightwavelabs.com", "Brightwave Labs"),
        ("tom@getstackyard.com", "Stackyard"),
        ("priya@finlytics.io", "Finlytics"),
        ("sam@hellofresh.com", "Hellofresh"),
    ],
)
def test_company_from_email(address: str, company: str) -> None:
    assert company_from_email(address) == company


@pytest.mark.parametrize("address", ["jen@gmail.com", "mary@yahoo.co.uk", "x@proton.me", "nobody@localhost"])
def test_no_company_from_free_mail_or_bare_hosts(address: str) -> None:
    assert company_from_email(address) is None


def test_one_vocabulary_for_nlu_validators_and_lead_builder() -> None:
    from leadgate.chat.flows import validators
    from leadgate.chat.nlu import contact, data
    from leadgate.ingest import chat

    assert data.SENIORITIES is vocabulary.SENIORITIES
    assert data.AUTHORITIES is vocabulary.AUTHORITIES
    assert contact.FREE_EMAIL_DOMAINS is vocabulary.FREE_EMAIL_DOMAINS
    assert chat.PERIOD_FACTORS is vocabulary.BUDGET_PERIODS
    assert {k for k in validators.PERIODS_PER_YEAR if k} == set(vocabulary.BUDGET_PERIODS)
    lexicon = data.load_nlu_data().roles
    assert set(lexicon.departments) <= set(vocabulary.DEPARTMENTS)
    assert set(lexicon.seniority) <= set(vocabulary.SENIORITIES)


def test_role_validator_drops_values_outside_the_vocabulary() -> None:
    ctx = ValidationContext(today=NOW.date())
    verdict = RoleValidator().check({"title": "Boss", "seniority": "overlord", "authority": "supreme"}, ctx)
    assert verdict.ok
    assert verdict.value == {"title": "Boss", "seniority": None, "department": None, "authority": None}


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("10 000 €", 10000, "EUR"),
        ("€10 000", 10000, "EUR"),
        ("CHF 30'000", 30000, "CHF"),
        ("₹5,00,000", 500000, "INR"),
        ("INR 12,34,567", 1234567, "INR"),
        ("$1,500.50", 1500.5, "USD"),
    ],
)
def test_thousands_grouped_with_spaces_apostrophes_or_the_indian_way(
    nlu: NLU, text: str, amount: float, currency: str
) -> None:
    money = _kinds(nlu, text)["money"]
    assert (money["amount"], money["currency"]) == (amount, currency)


def test_an_annual_budget_has_a_yearly_period(nlu: NLU) -> None:
    assert _kinds(nlu, "$150k annual budget")["money"]["period"] == "year"


@pytest.mark.parametrize(
    ("text", "size"), [("two hundred people", 200), ("about five thousand employees", 5000)]
)
def test_head_counts_in_words(nlu: NLU, text: str, size: int) -> None:
    assert _kinds(nlu, text)["company_size"]["min"] == size


@pytest.mark.parametrize(
    ("text", "low", "high"), [("20ish", 20, 20), ("8,000 globally", 8000, 8000), ("1-10", 1, 10)]
)
def test_bare_numbers_answer_the_size_question_only_when_asked(
    nlu: NLU, text: str, low: int, high: int
) -> None:
    size = _kinds(nlu, text, expecting="company_size")["company_size"]
    assert (size["min"], size["max"]) == (low, high)
    assert "company_size" not in _kinds(nlu, text)


@pytest.mark.parametrize(
    ("text", "seniority", "department"),
    [
        ("I'm leading RevOps", "manager", "revenue_operations"),
        ("I'm heading the data team", "director", "data"),
        ("I lead a team of eight engineers", "manager", "engineering"),
        ("Account Manager", "individual_contributor", "sales"),
    ],
)
def test_more_role_phrasings(nlu: NLU, text: str, seniority: str, department: str) -> None:
    role = _kinds(nlu, text, expecting="role")["role"]
    assert (role["seniority"], role["department"]) == (seniority, department)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("no earlier than October", "2026-10-01"),
        ("in the new year", "2027-01-01"),
        ("not sooner than Q3", "2026-07-01"),
    ],
)
def test_more_lower_bounds(text: str, start: str) -> None:
    (timeline,) = extract_timeline(text, NOW)
    assert (timeline.normalized["start"], timeline.normalized["grain"]) == (start, "after")
