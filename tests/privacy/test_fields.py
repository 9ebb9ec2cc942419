"""Which fields are personal: the mapping's ``pii`` flag, and splitting a lead into its two parts."""

from __future__ import annotations

import pytest
from tests.conftest import MAPPING

from leadgate.ingest import load_mapping
from leadgate.ingest.mapping import MappingError, load_mapping_text
from leadgate.privacy.fields import first_email, merge_lead, split_lead

MAPPING_TEXT = """
mapping_version: 1
name: m
source: csv:m
columns:
  Email: {field: email, stage: pre_decision, type: string, lead_field: email}
  Company: {field: company, stage: pre_decision, type: string, lead_field: company}
  Notes: {field: notes, stage: post_decision, type: string, pii: true}
  Visits: {field: visits, stage: pre_decision, type: integer}
"""
XEDUCATION_HASH_BEFORE_PII = "cb4de1a788644eda04119bd6eaf25496b9abc6ba650305f5e031ec2cbde9aa42"


def test_personal_attributes_of_a_mapping() -> None:
    mapping = load_mapping_text(MAPPING_TEXT)
    assert mapping.personal_attributes() == {"email", "notes"}
    assert load_mapping(MAPPING).personal_attributes() == frozenset()
    with pytest.raises(MappingError, match="pii"):
        load_mapping_text(MAPPING_TEXT.replace("pii: true", "pii: maybe"))


def test_the_pii_flag_keeps_the_hash_of_a_mapping_without_it() -> None:
    # an import's resume key contains the mapping's hash: adding the option must not change old mappings'
    without = load_mapping_text(MAPPING_TEXT.replace(", pii: true", ""))
    explicit = load_mapping_text(MAPPING_TEXT.replace("pii: true", "pii: false"))
    flagged = load_mapping_text(MAPPING_TEXT)
    assert without.content_hash() != flagged.content_hash() != explicit.content_hash()
    # the X Education mapping hashes as before the option existed (computed with the tree of 644070a)
    assert load_mapping(MAPPING).content_hash() == XEDUCATION_HASH_BEFORE_PII


def test_split_and_merge_a_lead() -> None:
    doc = {
        "lead_id": "l1",
        "email": "a@b.example",
        "first_name": "Ada",
        "last_name": None,
        "company": "Acme",
        "attributes": {"email": "a@b.example", "visits": 3},
        "post_decision": {"notes": "call Ada"},
    }
    public, personal = split_lead(doc, {"email", "notes"})
    assert personal == {
        "email": "a@b.example",
        "first_name": "Ada",
        "attributes": {"email": "a@b.example"},
        "post_decision": {"notes": "call Ada"},
    }
    assert public == {
        "lead_id": "l1",
        "email": None,
        "first_name": None,
        "last_name": None,
        "company": "Acme",
        "attributes": {"visits": 3},
        "post_decision": {},
    }
    assert doc["attributes"] == {"email": "a@b.example", "visits": 3}  # the input is not changed
    assert merge_lead(public, personal) == doc
    plain = {"lead_id": "l2", "company": "Acme", "attributes": {"visits": 1}}
    assert split_lead(plain, {"email"}) == (plain, None)


def test_first_email_searches_nested_values() -> None:
    assert first_email({"a": 1, "b": ["x", {"c": "mail me: Ada.L@Example.org!"}]}) == "Ada.L@Example.org"
    assert first_email({"a": "no address", "b": 3}) is None
