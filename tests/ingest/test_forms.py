"""Form definitions (line-precise YAML checks) and submission -> ``lead/v1`` mapping (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadgate.contracts.errors import ContractError
from leadgate.defaults import default_path
from leadgate.ingest.forms import FormsError, check_forms_text, form_lead_id, load_forms, map_submission

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)

DEMO_FORMS = """\
forms_version: 1
forms:
  demo-request:
    description: B2B "Book a demo" form of a SaaS website
    signed: true
    fields:
      work_email: {to: email, required: true}
      full_name: {to: first_name}
      company: {to: company, required: true}
      job_title: {to: title}
      employees: {to: attributes.company_size, type: integer}
      budget_usd: {to: attributes.budget_annual, type: number}
      country: {to: country}
      message: {to: attributes.need, max_length: 2000}
    personal: [need]
    consents:
      newsletter: {purpose: email_marketing, wording_version: newsletter-2026-03}
      call_me: {purpose: phone_sales, wording_version: call-consent-v2}
"""


@pytest.fixture
def demo() -> object:
    forms, issues = check_forms_text(DEMO_FORMS)
    assert issues == [] and forms is not None
    return forms.forms["demo-request"]


def test_shipped_forms_file_is_valid() -> None:
    forms = load_forms(default_path("forms.yaml"))
    course = forms.forms["course-enquiry"]
    assert course.signed and course.browser and course.honeypot == "website"
    assert course.consents["course_updates"].purpose == "email_marketing"


def test_problems_are_reported_with_line_and_column(tmp_path: Path) -> None:
    text = """\
forms_version: 1
forms:
  Demo Request:
    fields:
      email: {to: email}
  contact:
    browser: sometimes
    fields:
      email: {to: mail_address}
      phone: {to: phone, type: text}
    consents:
      ok: {purpose: spam_everyone, wording_version: v1}
    colour: blue
"""
    path = tmp_path / "forms.yaml"
    path.write_text(text)
    with pytest.raises(FormsError) as caught:
        load_forms(path)
    found = {(i.line, i.path.split(".")[-1]) for i in caught.value.issues}
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{path}:") for line in lines)
    bad_id = [i for i in caught.value.issues if "Demo Request" in i.path]
    assert bad_id and bad_id[0].line in (3, 4)  # the form id (yamlcheck points into its mapping)
    assert (7, "browser") in found
    assert (9, "to") in found
    assert (10, "type") in found
    assert (12, "purpose") in found
    assert (13, "colour") in found


def test_form_without_a_way_in_is_refused() -> None:
    forms, issues = check_forms_text(
        "forms_version: 1\nforms:\n  x:\n    signed: false\n    fields:\n      e: {to: email}\n"
    )
    assert forms is None
    assert "signed or browser" in issues[0].message
    assert (issues[0].line, issues[0].path) == (4, "forms.x")  # the form's mapping


def test_submission_maps_to_lead_fields_attributes_and_consents(demo: object) -> None:
    fields = {
        "work_email": "  k.osei@lumen-analytics.io ",
        "full_name": "Kwame",
        "company": "Lumen Analytics",
        "job_title": "Head of Revenue Operations",
        "employees": "250",
        "budget_usd": "48,000",
        "country": "Ghana",
        "message": "We route ~3k inbound leads a month by hand in HubSpot.",
        "newsletter": "on",
        "call_me": False,
        "gclid": "EAIaIQobChMI",
    }
    mapped = map_submission("demo-request", demo, fields, "sub_7f3a", NOW)  # type: ignore[arg-type]
    lead = mapped.lead
    assert lead.lead_id == form_lead_id("demo-request", "sub_7f3a")
    assert lead.source == "form:demo-request"
    assert lead.email == "k.osei@lumen-analytics.io"
    assert (lead.company, lead.title, lead.country) == (
        "Lumen Analytics",
        "Head of Revenue Operations",
        "Ghana",
    )
    assert lead.attributes["company_size"] == 250
    assert lead.attributes["budget_annual"] == 48000
    assert lead.received_at == NOW
    assert [c.purpose for c in mapped.consents] == ["email_marketing"]
    assert mapped.ignored_fields == ["gclid"]


def test_every_bad_field_is_reported_at_once(demo: object) -> None:
    fields = {
        "work_email": "",
        "company": "",
        "employees": "two hundred",
        "budget_usd": True,
        "newsletter": "maybe",
    }
    with pytest.raises(ContractError) as caught:
        map_submission("demo-request", demo, fields, "s1", NOW)  # type: ignore[arg-type]
    paths = {e.path: e.reason for e in caught.value.errors}
    assert paths["fields.work_email"] == "required"
    assert paths["fields.company"] == "required"
    assert "whole number" in paths["fields.employees"] or "number" in paths["fields.employees"]
    assert "number" in paths["fields.budget_usd"]
    assert "true or false" in paths["fields.newsletter"]


def test_contract_errors_name_the_form_field(demo: object) -> None:
    with pytest.raises(ContractError) as caught:
        map_submission("demo-request", demo, {"work_email": "kwame@", "company": "Lumen"}, "s2", NOW)  # type: ignore[arg-type]
    assert caught.value.errors[0].path == "fields.work_email"
    assert caught.value.errors[0].reason.startswith("email:")


def test_fractional_employee_count_is_refused(demo: object) -> None:
    with pytest.raises(ContractError, match="whole number"):
        map_submission(
            "demo-request", demo, {"work_email": "a@lumen.io", "company": "L", "employees": 12.5}, "s3", NOW
        )  # type: ignore[arg-type]


def test_same_submission_same_lead_id_other_submission_other_id() -> None:
    assert form_lead_id("demo-request", "abc") == form_lead_id("demo-request", "abc")
    assert form_lead_id("demo-request", "abc") != form_lead_id("demo-request", "abd")
    assert len(form_lead_id("x" * 64, "y" * 200)) <= 128
