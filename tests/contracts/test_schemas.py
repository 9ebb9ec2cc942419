from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from tests.conftest import ROOT

from leadgate.contracts import ContractError, validate_lead
from leadgate.contracts.schemas import CONTRACTS, export_schemas, incompatibilities, schema_of

PUBLISHED = ROOT / "schemas"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_current_contract_is_compatible_with_published_schema(name: str) -> None:
    published = json.loads((PUBLISHED / f"{name}.json").read_text(encoding="utf-8"))
    problems = incompatibilities(published, schema_of(name))
    assert problems == [], f"{name} changed incompatibly; publish a new version instead: {problems}"


def test_published_schemas_are_up_to_date(tmp_path: Path) -> None:
    for path in export_schemas(tmp_path):
        published = PUBLISHED / path.name
        assert published.read_bytes() == path.read_bytes(), (
            f"run `leadgate schemas export` ({path.name} is stale)"
        )


def _lead_schema() -> dict:
    return copy.deepcopy(schema_of("lead.v1"))


def test_checker_flags_removed_property() -> None:
    new = _lead_schema()
    del new["properties"]["company"]
    assert incompatibilities(schema_of("lead.v1"), new) == ["$.company: property removed"]


def test_checker_flags_new_required_property() -> None:
    new = _lead_schema()
    new["required"] = [*new.get("required", []), "email"]
    assert "$.email: became required" in incompatibilities(schema_of("lead.v1"), new)


def test_checker_flags_narrowed_type_and_tightened_length_and_pattern() -> None:
    new = _lead_schema()
    new["properties"]["company"] = {"type": "string", "maxLength": 10}
    new["properties"]["lead_id"]["pattern"] = "^[0-9]+$"
    problems = incompatibilities(schema_of("lead.v1"), new)
    assert any(p.startswith("$.company: type narrowed") for p in problems)
    assert any(p.startswith("$.lead_id: pattern changed") for p in problems)


def test_checker_flags_removed_enum_value() -> None:
    old = schema_of("decision.v1")
    new = copy.deepcopy(old)
    new["properties"]["tier"]["enum"] = ["hot", "warm", "nurture"]
    assert incompatibilities(old, new) == ["$.tier: enum narrowed (removed ['disqualified'])"]


def test_checker_accepts_added_optional_property() -> None:
    new = _lead_schema()
    new["properties"]["website"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert incompatibilities(schema_of("lead.v1"), new) == []


def test_bad_lead_names_field_paths() -> None:
    with pytest.raises(ContractError) as info:
        validate_lead({"lead_id": "", "email": "not-an-email", "attributes": {"visits": float("inf")}})
    paths = {e.path for e in info.value.errors}
    assert paths == {"lead_id", "email", "attributes.visits"}
    assert "finite number" in str(info.value)


def test_lead_document_equals_model_dump_on_real_leads() -> None:
    import orjson
    from tests.conftest import LEADS_CSV, MAPPING

    from leadgate.contracts.lead import lead_document
    from leadgate.ingest import load_mapping, read_csv_chunks

    leads = [lead for c in read_csv_chunks(LEADS_CSV, load_mapping(MAPPING)) for _, lead in c.leads]
    assert len(leads) == 9240
    for lead in leads:
        assert orjson.dumps(lead_document(lead)) == orjson.dumps(lead.model_dump())
    api_lead = validate_lead(
        {"lead_id": "x1", "email": "A@Example.com", "attributes": {"n": 1, "f": 1.5, "b": True}}
    )
    assert orjson.dumps(lead_document(api_lead)) == orjson.dumps(api_lead.model_dump())


def test_attribute_types_are_kept_exactly() -> None:
    lead = validate_lead({"lead_id": "x", "attributes": {"s": "1", "i": 1, "f": 1.0, "b": True, "n": None}})
    assert [type(v).__name__ for v in lead.attributes.values()] == ["str", "int", "float", "bool", "NoneType"]
