"""Entity extraction: exact spans and normalized values for each entity type, at a fixed ``now``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.chat.conftest import NOW

from leadgate.chat.nlu import NLU, Entity, load_nlu_data
from leadgate.chat.nlu.contact import extract_emails, extract_phones, is_free_provider
from leadgate.chat.nlu.money import extract_money
from leadgate.chat.nlu.role import RoleExtractor
from leadgate.chat.nlu.size import extract_company_size
from leadgate.chat.nlu.timeline import extract_timeline


def _only(entities: list[Entity], kind: str) -> list[Entity]:
    return [e for e in entities if e.entity == kind]


def _money(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "amount": None,
        "min": None,
        "max": None,
        "currency": None,
        "period": None,
        "per": None,
        "approximate": False,
    }
    base.update(kw)
    return base


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "normalized"),
    [
        ("budget is around 50k", "around 50k", _money(amount=50000, min=50000, max=50000, approximate=True)),
        ("our budget is $20,000", "$20,000", _money(amount=20000, min=20000, max=20000, currency="USD")),
        ("we have 20-30k set aside", "20-30k", _money(min=20000, max=30000)),
        ("between $10k and $15k", "between $10k and $15k", _money(min=10000, max=15000, currency="USD")),
        (
            "about €30k per year",
            "about €30k per year",
            _money(amount=30000, min=30000, max=30000, currency="EUR", period="year", approximate=True),
        ),
        (
            "£500 a month",
            "£500 a month",
            _money(amount=500, min=500, max=500, currency="GBP", period="month"),
        ),
        (
            "roughly 2k/mo",
            "roughly 2k/mo",
            _money(amount=2000, min=2000, max=2000, period="month", approximate=True),
        ),
        (
            "we can spend up to 100k annually",
            "up to 100k annually",
            _money(amount=100000, max=100000, period="year"),
        ),
        ("budget: 25k USD", "25k USD", _money(amount=25000, min=25000, max=25000, currency="USD")),
        ("no more than $5k", "no more than $5k", _money(amount=5000, max=5000, currency="USD")),
        ("at least 10k", "at least 10k", _money(amount=10000, min=10000)),
        ("$2M", "$2M", _money(amount=2_000_000, min=2_000_000, max=2_000_000, currency="USD")),
        (
            "1.5 million EUR",
            "1.5 million EUR",
            _money(amount=1_500_000, min=1_500_000, max=1_500_000, currency="EUR"),
        ),
        (
            "40 thousand dollars",
            "40 thousand dollars",
            _money(amount=40000, min=40000, max=40000, currency="USD"),
        ),
        ("$500-1k per month", "$500-1k per month", _money(min=500, max=1000, currency="USD", period="month")),
        (
            "$49 per seat per month",
            "$49 per seat per month",
            _money(amount=49, min=49, max=49, currency="USD", period="month", per="seat"),
        ),
        (
            "USD 10,000 per year",
            "USD 10,000 per year",
            _money(amount=10000, min=10000, max=10000, currency="USD", period="year"),
        ),
        ("€20.000", "€20.000", _money(amount=20000, min=20000, max=20000, currency="EUR")),
        ("10 grand tops", "10 grand tops", _money(amount=10000, max=10000)),
        ("budget is 5000", "5000", _money(amount=5000, min=5000, max=5000)),
    ],
)
def test_money(text: str, value: str, normalized: dict[str, Any]) -> None:
    (entity,) = extract_money(text)
    assert entity.value == value
    assert text[entity.start : entity.end] == value
    assert dict(entity.normalized) == normalized


@pytest.mark.parametrize(
    "text",
    [
        "10k employees worldwide",
        "we get 50k visitors a month",
        "we're about 200 people",
        "timeline is Q3 2026",
        "call me at 415-555-0199",
        "we want to launch in 2027",
        "the 5m mark",
        "we have 3 offices",
    ],
)
def test_no_money_without_a_marker(text: str) -> None:
    assert extract_money(text) == []


# --- timeline ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "start", "end", "grain"),
    [
        ("we want to start next quarter", "next quarter", "2026-07-01", "2026-09-30", "quarter"),
        ("timeline is Q3", "Q3", "2026-07-01", "2026-09-30", "quarter"),
        ("Q1", "Q1", "2027-01-01", "2027-03-31", "quarter"),
        ("sometime in Q1 next year", "sometime in Q1 next year", "2027-01-01", "2027-03-31", "quarter"),
        ("q4 2026", "q4 2026", "2026-10-01", "2026-12-31", "quarter"),
        ("this quarter", "this quarter", "2026-05-14", "2026-06-30", "quarter"),
        ("ASAP", "ASAP", "2026-05-14", "2026-06-13", "asap"),
        ("as soon as possible please", "as soon as possible", "2026-05-14", "2026-06-13", "asap"),
        ("within 6 weeks", "within 6 weeks", "2026-05-14", "2026-06-25", "duration"),
        ("in the next 2 months", "in the next 2 months", "2026-05-14", "2026-07-14", "duration"),
        ("next 90 days", "next 90 days", "2026-05-14", "2026-08-12", "duration"),
        ("in a couple of weeks", "in a couple of weeks", "2026-05-14", "2026-05-28", "duration"),
        ("by end of year", "by end of year", "2026-05-14", "2026-12-31", "year"),
        ("by the end of the quarter", "by the end of the quarter", "2026-05-14", "2026-06-30", "quarter"),
        ("we'd like to go live by March", "by March", "2026-05-14", "2027-03-31", "month"),
        ("hoping to launch in September", "in September", "2026-09-01", "2026-09-30", "month"),
        ("go-live target is January 2027", "January 2027", "2027-01-01", "2027-01-31", "month"),
        ("we need it before June 1st", "before June 1st", "2026-05-14", "2026-05-31", "day"),
        ("target date is November 15", "November 15", "2026-11-15", "2026-11-15", "day"),
        ("2026-09-01", "2026-09-01", "2026-09-01", "2026-09-01", "day"),
        ("no rush, maybe next year", "next year", "2027-01-01", "2027-12-31", "year"),
        ("early next year", "early next year", "2027-01-01", "2027-04-30", "year"),
        ("mid 2027", "mid 2027", "2027-05-01", "2027-08-31", "year"),
        ("end of Q2", "end of Q2", "2026-06-01", "2026-06-30", "quarter"),
        ("the second half of next year", "the second half of next year", "2027-07-01", "2027-12-31", "half"),
        ("next week", "next week", "2026-05-18", "2026-05-24", "week"),
        ("this month if possible", "this month", "2026-05-14", "2026-05-31", "month"),
        ("sometime next spring", "next spring", "2027-03-01", "2027-05-31", "season"),
        ("in 2027", "in 2027", "2027-01-01", "2027-12-31", "year"),
    ],
)
def test_timeline(text: str, value: str, start: str, end: str, grain: str) -> None:
    (entity,) = extract_timeline(text, NOW)
    assert entity.value == value
    assert text[entity.start : entity.end] == value
    assert entity.normalized["start"] == start
    assert entity.normalized["end"] == end
    assert entity.normalized["grain"] == grain


def test_timeline_day_with_time_of_day_uses_dateparser() -> None:
    (entity,) = extract_timeline("tomorrow at 3pm works", NOW)
    assert entity.value == "tomorrow at 3pm"
    assert dict(entity.normalized) == {
        "start": "2026-05-15",
        "end": "2026-05-15",
        "grain": "day",
        "time": "15:00",
    }


def test_numeric_dates_follow_the_region_order() -> None:
    (us,) = extract_timeline("by 3/4/2027", NOW, date_order="MDY")
    (eu,) = extract_timeline("by 3/4/2027", NOW, date_order="DMY")
    assert us.normalized["end"] == "2027-03-04"
    assert eu.normalized["end"] == "2027-04-03"


def test_relative_periods_follow_now() -> None:
    (entity,) = extract_timeline("next quarter", datetime(2026, 11, 20, 9, 0))
    assert (entity.normalized["start"], entity.normalized["end"]) == ("2027-01-01", "2027-03-31")


@pytest.mark.parametrize(
    "text",
    ["May I ask something?", "we may need it", "I have used it for 3 months", "6 weeks ago", "the 2pm slot"],
)
def test_no_timeline_in_ordinary_words(text: str) -> None:
    assert extract_timeline(text, NOW) == []


# --- company size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "lo", "hi", "approximate", "scope"),
    [
        ("we're about 200 people", "about 200 people", 200, 200, True, "company"),
        ("we have 50-100 employees", "50-100 employees", 50, 100, False, "company"),
        ("between 50 and 100 employees", "between 50 and 100 employees", 50, 100, False, "company"),
        ("a team of 12", "a team of 12", 12, 12, False, "team"),
        ("around 1,500 staff", "around 1,500 staff", 1500, 1500, True, "company"),
        ("10k employees worldwide", "10k employees", 10000, 10000, False, "company"),
        ("less than 20 people", "less than 20 people", 1, 19, False, "company"),
        ("we're over 500 people", "over 500 people", 501, None, False, "company"),
        ("1000+ employees", "1000+ employees", 1000, None, False, "company"),
        ("we're a 300-person logistics company", "300-person", 300, 300, False, "company"),
        ("headcount is about 350", "headcount is about 350", 350, 350, True, "company"),
        ("company size is 11-50", "company size is 11-50", 11, 50, False, "company"),
        ("we have a few hundred employees", "a few hundred employees", 200, 500, True, "company"),
        ("our sales team is 15 reps", "15 reps", 15, 15, False, "team"),
        ("just me and my cofounder", "just me and my cofounder", 2, 2, False, "company"),
        ("we're twenty people", "twenty people", 20, 20, False, "company"),
    ],
)
def test_company_size(text: str, value: str, lo: int, hi: int | None, approximate: bool, scope: str) -> None:
    (entity,) = extract_company_size(text)
    assert entity.value == value
    assert text[entity.start : entity.end] == value
    assert dict(entity.normalized) == {"min": lo, "max": hi, "approximate": approximate, "scope": scope}


@pytest.mark.parametrize(
    "text", ["budget is 50k", "in 3 months", "we get 3000 inbound leads a month", "Q3 2026"]
)
def test_no_company_size_without_a_head_noun(text: str) -> None:
    assert extract_company_size(text) == []


# --- role and authority --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roles() -> RoleExtractor:
    return RoleExtractor(load_nlu_data().roles)


@pytest.mark.parametrize(
    ("text", "title", "seniority", "department", "authority"),
    [
        ("I'm the CTO at Acme", "CTO", "c_level", "engineering", "decision_maker"),
        ("VP of Sales", "VP of Sales", "vp", "sales", "decision_maker"),
        (
            "Jane here, head of marketing at Northwind",
            "head of marketing",
            "director",
            "marketing",
            "decision_maker",
        ),
        ("I'm the IT director at a hospital", "IT director", "director", "it", "influencer"),
        (
            "my title is Director of Demand Generation",
            "Director of Demand Generation",
            "director",
            "marketing",
            "influencer",
        ),
        ("i'm a product manager", "product manager", "manager", "product", "influencer"),
        ("senior data analyst", "senior data analyst", "individual_contributor", "data", "user"),
        (
            "I'm a software engineer at Zentrix",
            "software engineer",
            "individual_contributor",
            "engineering",
            "user",
        ),
        ("co-founder and CEO", "co-founder and CEO", "c_level", "executive", "decision_maker"),
        ("im a student at TU Munich", "student", "student", "education", "none"),
        ("VP Sales here", "VP Sales", "vp", "sales", "decision_maker"),
        ("I'm Priya Natarajan, CTO at Lumen Labs", "CTO", "c_level", "engineering", "decision_maker"),
        ("I'm a principal engineer", "principal engineer", "individual_contributor", "engineering", "user"),
    ],
)
def test_role(
    roles: RoleExtractor, text: str, title: str, seniority: str, department: str, authority: str
) -> None:
    (entity,) = _only(roles.extract(text), "role")
    assert entity.value == title
    assert dict(entity.normalized) == {
        "title": title,
        "seniority": seniority,
        "department": department,
        "authority": authority,
    }


def test_role_from_team_and_department_statements(roles: RoleExtractor) -> None:
    (lead,) = roles.extract("i lead the customer success team")
    assert lead.normalized["seniority"] == "manager"
    assert lead.normalized["department"] == "customer_success"
    assert lead.normalized["title"] is None
    (dept,) = roles.extract("i work in marketing")
    assert dict(dept.normalized) == {
        "title": None,
        "seniority": None,
        "department": "marketing",
        "authority": None,
    }


@pytest.mark.parametrize(
    "text",
    ["can I talk to your CEO?", "do you have developer docs", "manager approval needed", "Developer docs?"],
)
def test_no_role_when_the_title_is_not_the_visitors(roles: RoleExtractor, text: str) -> None:
    assert _only(roles.extract(text), "role") == []


@pytest.mark.parametrize(
    ("text", "authority"),
    [
        ("I'm the decision maker", "decision_maker"),
        ("it's me who decides", "decision_maker"),
        ("my boss makes the final call", "influencer"),
        ("our VP will decide", "influencer"),
        ("I report to the CFO", "influencer"),
        ("i'd be the main user", "user"),
    ],
)
def test_authority_statements(roles: RoleExtractor, text: str, authority: str) -> None:
    (entity,) = _only(roles.extract(text), "authority")
    assert entity.normalized == {"authority": authority}


# --- email and phone ------------------------------------------------------------------------------


def test_email_is_normalized_and_flagged() -> None:
    (work,) = extract_emails("my email is Tom.Becker@Northwind.IO.")
    assert work.value == "Tom.Becker@Northwind.IO"
    assert dict(work.normalized) == {
        "email": "Tom.Becker@northwind.io",
        "local_part": "Tom.Becker",
        "domain": "northwind.io",
        "valid": True,
        "free_provider": False,
        "error": None,
        "company_proposal": "Northwind",
    }
    (free,) = extract_emails("sam.ortiz@gmail.com")
    assert free.normalized["free_provider"] is True
    assert free.normalized["company_proposal"] is None
    (uk,) = extract_emails("mary@yahoo.co.uk")
    assert uk.normalized["free_provider"] is True


def test_invalid_email_is_reported_with_a_reason() -> None:
    (bad,) = extract_emails("reach me at jane@acme please")
    assert bad.normalized["valid"] is False
    assert bad.normalized["email"] is None
    assert "period" in bad.normalized["error"]


@pytest.mark.parametrize(
    "domain", ["gmail.com", "outlook.com", "hotmail.fr", "icloud.com", "proton.me", "yahoo.com"]
)
def test_free_providers(domain: str) -> None:
    assert is_free_provider(domain)
    assert not is_free_provider("acme.com")


@pytest.mark.parametrize(
    ("text", "region", "value", "e164"),
    [
        ("reach me at +1 415 555 0132", "US", "+1 415 555 0132", "+14155550132"),
        ("phone: (212) 555-0188", "US", "(212) 555-0188", "+12125550188"),
        ("call me at 646.555.0145", "US", "646.555.0145", "+16465550145"),
        ("my phone number is 020 7946 0958", "GB", "020 7946 0958", "+442079460958"),
        ("mobile is +49 151 23456789", "US", "+49 151 23456789", "+4915123456789"),
    ],
)
def test_phone_to_e164(text: str, region: str, value: str, e164: str) -> None:
    (entity,) = extract_phones(text, region)
    assert entity.value == value
    assert entity.normalized["e164"] == e164


def test_phone_region_matters_and_is_checked() -> None:
    assert extract_phones("my phone number is 020 7946 0958", "US") == []
    with pytest.raises(ValueError, match="unknown phone region"):
        extract_phones("+1 415 555 0132", "XX")


# --- person and company (through the full extractor) ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "person", "company"),
    [
        ("My name is Jane Doe", "Jane Doe", None),
        ("my name is jane doe", "Jane Doe", None),
        ("I'm Priya Natarajan, CTO at Lumen Labs", "Priya Natarajan", "Lumen Labs"),
        ("this is Carlos from Brightpath", "Carlos", "Brightpath"),
        ("I'm Tom from Globex, we're about 80 people", "Tom", "Globex"),
        ("Hi, Anna Schmidt from Brandt Logistik GmbH here", "Anna Schmidt", "Brandt Logistik GmbH"),
        ("Sam Ortiz, Paylane, sam@paylane.com", "Sam Ortiz", "Paylane"),
        ("i'm jane, jane@acme.com", "Jane", None),
        ("I work for Globex Corporation", None, "Globex Corporation"),
        ("our company is Initech", None, "Initech"),
        ("company name is Hooli", None, "Hooli"),
        ("we're a fintech called Paylane", None, "Paylane"),
        ("we're Stark Industries", None, "Stark Industries"),
        ("i work at acme as a pm", None, "Acme"),
        ("I'm interested in a demo", None, None),
        ("I'm German", None, None),
        ("I'm from Germany", None, None),
        ("I work for a bank", None, None),
        ("Can I talk to your CEO?", None, None),
    ],
)
def test_person_and_company(nlu: NLU, text: str, person: str | None, company: str | None) -> None:
    result = nlu.parse(text, now=NOW)
    people = [e.normalized["full"] for e in result.entities_of("person")]
    companies = [e.normalized["name"] for e in result.entities_of("company")]
    assert people == ([person] if person else [])
    assert companies == ([company] if company else [])


def test_person_name_parts(nlu: NLU) -> None:
    (p,) = nlu.parse("my name is Fatima Al-Sayed", now=NOW).entities_of("person")
    assert dict(p.normalized) == {"full": "Fatima Al-Sayed", "first": "Fatima", "last": "Al-Sayed"}
    (last,) = nlu.parse("last name is Rossi", now=NOW).entities_of("person")
    assert dict(last.normalized) == {"full": "Rossi", "first": None, "last": "Rossi"}


# --- everything in one message --------------------------------------------------------------------


def test_several_entities_in_one_message(nlu: NLU) -> None:
    text = "I'm Jane Doe, CTO at Acme Corp, jane@acme.com, +1 415 555 0132; we're 200 people, budget 20-30k, live by Q3"
    result = nlu.parse(text, now=NOW, region="US")
    kinds = [e.entity for e in result.entities]
    assert kinds == ["person", "role", "company", "email", "phone", "company_size", "money", "timeline"]
    for e in result.entities:
        assert text[e.start : e.end] == e.value
    starts = [e.start for e in result.entities]
    assert starts == sorted(starts)
    assert all(not a.overlaps(b) for i, a in enumerate(result.entities) for b in result.entities[i + 1 :])
    assert result.entities_of("timeline")[0].normalized["end"] == "2026-09-30"
    assert result.entities_of("money")[0].normalized["min"] == 20000
    assert result.entities_of("company")[0].normalized == {"name": "Acme Corp", "legal_suffix": "Corp"}
